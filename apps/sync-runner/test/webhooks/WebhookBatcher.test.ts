import { mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Layer } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { WebhookBatchSink } from "../../src/webhooks/WebhookBatchSink.js"
import { deliver, eventually, withBatchedServer } from "./harness.js"

const dirs: Array<string> = []
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), "kura-batcher-"))
  dirs.push(d)
  return d
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

const order = (i: number) => JSON.stringify({ id: 1000 + i, updated_at: "2026-11-26T10:00:00Z" })
const eventIds = (m: ReturnType<typeof WebhookBatchSink.makeMemory>) =>
  m.batches.flatMap((b) => b.deliveries.map((d) => d.eventId))

describe.each([
  ["on the main thread", false],
  ["on the intake thread", true]
])("batching webhook intake %s", (_, threaded) => {
  it("answers 200 once on disk and lands many deliveries as a few batches", async () => {
    const memory = WebhookBatchSink.makeMemory()
    const dir = fresh()
    await withBatchedServer(
      {
        batcher: { dir, flushMs: 1000, maxBatch: 1000 },
        sink: Layer.succeed(WebhookBatchSink, memory.sink),
        threaded
      },
      async ({ url, stats }) => {
        const answers = await Promise.all(
          Array.from({ length: 300 }, (_, i) => deliver(url, order(i), `e-${i}`))
        )
        expect(answers.every((a) => a.status === 200 && a.body.message === "accepted")).toBe(true)
        await eventually(() => eventIds(memory).length === 300)
        // 300 concurrent deliveries landed in a handful of batches, not 300 landings.
        expect(memory.batches.length).toBeLessThanOrEqual(10)
        expect(new Set(eventIds(memory)).size).toBe(300)
        expect((await Effect.runPromise(stats)).pending).toBe(0)
        const metrics = await (await fetch(`${url}/metrics`)).text()
        expect(metrics).toMatch(/kura_webhooks_landed_total(\{\})? 300/)
        expect(metrics).toMatch(/kura_webhooks_pending(\{\})? 0/)
        // Landed segments are removed from the write-ahead log.
        await eventually(() => readdirSync(dir).length <= 1)
      }
    )
  })

  it("refuses with 503 + Retry-After when the buffer is full, and never drops an accepted delivery", async () => {
    let failing = true
    const memory = WebhookBatchSink.makeMemory({ fail: () => failing })
    const dir = fresh()
    await withBatchedServer(
      {
        batcher: { dir, flushMs: 20, capacity: 10 },
        sink: Layer.succeed(WebhookBatchSink, memory.sink),
        threaded
      },
      async ({ url, stats }) => {
        const answers = await Promise.all(
          Array.from({ length: 25 }, (_, i) => deliver(url, order(i), `b-${i}`))
        )
        const accepted = answers.flatMap((a, i) => (a.status === 200 ? [`b-${i}`] : []))
        const refused = answers.flatMap((a, i) => (a.status === 503 ? [i] : []))
        expect(accepted.length).toBe(10)
        expect(refused.length).toBe(15)
        expect(answers.filter((a) => a.status === 503).every((a) => a.retryAfter === "5")).toBe(true)
        // The warehouse is down: landings fail and are retried; nothing is lost meanwhile.
        await eventually(async () => (await Effect.runPromise(stats)).failures >= 2)
        expect(memory.batches).toHaveLength(0)
        failing = false
        // The next retry waits out its backoff (seconds once several attempts failed on a busy box).
        await eventually(() => eventIds(memory).length === 10, 30_000)
        expect(new Set(eventIds(memory))).toEqual(new Set(accepted))
        // A refused delivery was not remembered: Shopify's retry is accepted, not called a duplicate.
        const retry = await deliver(url, order(refused[0]!), `b-${refused[0]}`)
        expect(retry).toMatchObject({ status: 200, body: { message: "accepted" } })
        await eventually(() => eventIds(memory).length === 11)
      }
    )
  })

  it("a shutdown lands everything accepted; a restart replays the log and still knows the event ids", async () => {
    const dir = fresh()
    // First process: the warehouse is unreachable, so shutdown (after a short drain) leaves the log.
    const down = WebhookBatchSink.makeMemory({ fail: () => true })
    await withBatchedServer(
      {
        batcher: { dir, flushMs: 20, drainTimeoutMs: 300 },
        sink: Layer.succeed(WebhookBatchSink, down.sink),
        threaded
      },
      async ({ url }) => {
        const answers = await Promise.all(
          Array.from({ length: 40 }, (_, i) => deliver(url, order(i), `r-${i}`))
        )
        expect(answers.every((a) => a.status === 200)).toBe(true)
      }
    )
    expect(readdirSync(dir).filter((f) => f.endsWith(".ndjson")).length).toBeGreaterThan(0)
    // Second process: the log is replayed into the warehouse, and replays of the same events are duplicates.
    const up = WebhookBatchSink.makeMemory()
    await withBatchedServer(
      { batcher: { dir, flushMs: 20 }, sink: Layer.succeed(WebhookBatchSink, up.sink), threaded },
      async ({ url, stats }) => {
        const again = await deliver(url, order(3), "r-3")
        expect(again).toMatchObject({ status: 200, body: { message: "duplicate delivery ignored" } })
        await eventually(() => eventIds(up).length === 40)
        expect((await Effect.runPromise(stats)).replayed).toBe(40)
        const fresh = await deliver(url, order(99), "r-99")
        expect(fresh.body.message).toBe("accepted")
      }
    )
    // Everything landed, and only then was the log emptied.
    expect(new Set(eventIds(up)).size).toBe(41)
    expect(readdirSync(dir).filter((f) => f.endsWith(".ndjson"))).toEqual([])
  })

  it("after a restart, event ids already in the warehouse are still duplicates", async () => {
    const dir = fresh()
    const landed = WebhookBatchSink.makeMemory()
    const sink = WebhookBatchSink.of({
      ...landed.sink,
      recentEvents: () =>
        Effect.succeed([
          { key: "kura-matcha.myshopify.com/webhook.orders_create/old-1", at: Date.now() - 60_000 }
        ])
    })
    await withBatchedServer(
      { batcher: { dir, flushMs: 20 }, sink: Layer.succeed(WebhookBatchSink, sink), threaded },
      async ({ url }) => {
        expect((await deliver(url, order(1), "old-1")).body.message).toBe("duplicate delivery ignored")
        expect((await deliver(url, order(1), "old-1", "orders/updated")).body.message).toBe("accepted")
      }
    )
    expect(eventIds(landed)).toEqual(["old-1"])
  })
})
