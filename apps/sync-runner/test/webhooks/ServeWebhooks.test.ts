import { ConfigProvider, Effect } from "effect"
import { describe, expect, it } from "vitest"
import { webhookModeOf, webhookTuningConfig } from "../../src/webhooks/layerServeWebhooks.js"

const tuning = (env: Record<string, string>) =>
  Effect.runPromise(
    Effect.result(webhookTuningConfig).pipe(
      Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env })))
    )
  )

describe("serve webhook settings", () => {
  it("reads the batcher tuning from the environment", async () => {
    expect(await tuning({})).toMatchObject({ _tag: "Success", success: {} })
    expect(
      await tuning({
        KURA_WEBHOOK_FLUSH_MS: "100",
        KURA_WEBHOOK_MAX_BATCH: "2000",
        KURA_WEBHOOK_CAPACITY: "50000",
        KURA_WEBHOOK_FSYNC: "ack"
      })
    ).toMatchObject({
      _tag: "Success",
      success: { flushMs: 100, maxBatch: 2000, capacity: 50000, sync: "ack" }
    })
    expect(await tuning({ KURA_WEBHOOK_FSYNC: "off" })).toMatchObject({ success: { sync: "none" } })
  })

  it("lists every bad value in one error naming the variable and the fix", async () => {
    const r = await tuning({
      KURA_WEBHOOK_FLUSH_MS: "soon",
      KURA_WEBHOOK_CAPACITY: "0",
      KURA_WEBHOOK_FSYNC: "maybe",
      KURA_WEBHOOK_MODE: "threaded"
    })
    expect(r._tag).toBe("Failure")
    const message = r._tag === "Failure" ? r.failure.message : ""
    expect(message).toContain("Invalid configuration (4 problems)")
    expect(message).toContain('KURA_WEBHOOK_MODE: "threaded" is not a webhook mode')
    expect(message).toContain("KURA_WEBHOOK_FLUSH_MS: not a positive integer")
    expect(message).toContain("KURA_WEBHOOK_CAPACITY: not a positive integer")
    expect(message).toContain('KURA_WEBHOOK_FSYNC: "maybe" is not a sync mode')
  })

  it("runs the batching intake unless KURA_WEBHOOK_MODE=per-delivery", () => {
    expect(webhookModeOf(undefined)).toBe("batched")
    expect(webhookModeOf(" Per-Delivery ")).toBe("per-delivery")
    expect(webhookModeOf("batched")).toBe("batched")
    expect(webhookModeOf("In-Thread")).toBe("in-thread")
  })
})
