import { ConfigProvider, Effect } from "effect"
import { describe, expect, it } from "vitest"
import {
  killIntakeOnSignal,
  webhookModeOf,
  webhookTuningConfig
} from "../../src/webhooks/layerServeWebhooks.js"

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

  it("kills the intake thread on SIGUSR2 only when KURA_FAULT_KILL_INTAKE_ON_SIGUSR2 is set, and only while serving", async () => {
    let kills = 0
    const thread = {
      killThread: Effect.sync(() => {
        kills++
      })
    }
    const serving = (env: Record<string, string>, during: () => void) =>
      Effect.runPromise(
        Effect.result(Effect.scoped(Effect.andThen(killIntakeOnSignal(thread), Effect.sync(during)))).pipe(
          Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env })))
        )
      )
    const before = process.listenerCount("SIGUSR2")
    // A listener of our own keeps Node's default (exit) away while the switch is off.
    const guard = () => {}
    process.on("SIGUSR2", guard)
    try {
      await serving({}, () => expect(process.listenerCount("SIGUSR2")).toBe(before + 1))
      const on = await serving({ KURA_FAULT_KILL_INTAKE_ON_SIGUSR2: "1" }, () => {
        expect(process.listenerCount("SIGUSR2")).toBe(before + 2)
        process.emit("SIGUSR2", "SIGUSR2")
      })
      expect(on._tag).toBe("Success")
      await new Promise((r) => setTimeout(r, 20))
      expect(kills).toBe(1)
      expect(process.listenerCount("SIGUSR2")).toBe(before + 1)
      const bad = await serving({ KURA_FAULT_KILL_INTAKE_ON_SIGUSR2: "maybe" }, () => {})
      expect(bad._tag).toBe("Failure")
      expect(bad._tag === "Failure" ? bad.failure.message : "").toContain(
        "KURA_FAULT_KILL_INTAKE_ON_SIGUSR2: not a boolean"
      )
    } finally {
      process.off("SIGUSR2", guard)
    }
  })
})
