import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Layer, Schema } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { formatStatusReport, StatusReport } from "../../src/StatusReport.js"
import { WebhookBatchSink } from "../../src/webhooks/WebhookBatchSink.js"
import { deliver, deliveryHeaders, eventually, SECRET, SHOP, withBatchedServer } from "./harness.js"

const dirs: Array<string> = []
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), "kura-intake-thread-"))
  dirs.push(d)
  return d
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

const body = JSON.stringify({ id: 77, updated_at: "2026-11-26T10:00:00Z" })
const post = (url: string, headers: Record<string, string>, payload: string | Uint8Array = body) =>
  fetch(`${url}/webhooks/shopify`, { method: "POST", headers, body: payload }).then(async (r) => ({
    status: r.status,
    message: ((await r.json()) as { message: string }).message
  }))

describe("the webhook intake thread", () => {
  it("refuses bad HMAC, unsigned, oversized, wrong type and non-JSON deliveries, stores none, and counts them", async () => {
    const memory = WebhookBatchSink.makeMemory()
    const dir = fresh()
    await withBatchedServer(
      { batcher: { dir, flushMs: 20 }, sink: Layer.succeed(WebhookBatchSink, memory.sink), threaded: true },
      async ({ url }) => {
        const good = deliveryHeaders(body, "t-1")
        expect(await post(url, { ...good, "x-shopify-hmac-sha256": "AAAA" })).toMatchObject({ status: 401 })
        const { "x-shopify-hmac-sha256": _, ...unsigned } = good
        expect(await post(url, unsigned)).toMatchObject({ status: 401 })
        expect(await post(url, { ...good, "content-type": "text/plain" })).toMatchObject({ status: 415 })
        const big = "x".repeat(1024 * 1024 + 10)
        expect(await post(url, deliveryHeaders(big, "t-2"), big)).toMatchObject({ status: 413 })
        const notJson = "{nope"
        expect(await post(url, deliveryHeaders(notJson, "t-3"), notJson)).toMatchObject({
          status: 400,
          message: "body is not valid JSON"
        })
        expect((await fetch(`${url}/webhooks/shopify`)).status).toBe(405)
        // Everything else is answered by the main thread through the intake thread.
        expect((await fetch(`${url}/healthz`)).status).toBe(200)
        expect((await fetch(`${url}/nowhere`)).status).toBe(404)
        const metrics = await (await fetch(`${url}/metrics`)).text()
        expect(metrics).toMatch(/kura_webhooks_rejected_total\{reason="hmac"\} 1/)
        expect(metrics).toMatch(/kura_webhooks_rejected_total\{reason="unsigned"\} 1/)
        expect(metrics).toMatch(/kura_webhook_intake_loop_delay_seconds\{quantile="0.99"\}/)
        // A genuine one is accepted once, then a duplicate; only it is stored.
        expect(await post(url, good)).toMatchObject({ status: 200, message: "accepted" })
        expect(await post(url, good)).toMatchObject({ status: 200, message: "duplicate delivery ignored" })
        await eventually(() => memory.batches.flatMap((b) => b.deliveries).length === 1)
      }
    )
    expect(memory.batches.flatMap((b) => b.deliveries.map((d) => [d.shop, d.eventId]))).toEqual([
      [SHOP, "t-1"]
    ])
    expect(readdirSync(dir).filter((f) => f.endsWith(".ndjson"))).toEqual([])
  })

  it("a thread killed mid-load restarts on its port; every delivery answered 200 lands exactly once; the restart is counted", async () => {
    const memory = WebhookBatchSink.makeMemory()
    // Landing is slow and segments are sealed every 50 records, so the kill finds sealed segments
    // waiting to land and an open one the dead thread was writing.
    const slow = WebhookBatchSink.of({
      landBatch: (b) => Effect.andThen(Effect.sleep("40 millis"), memory.sink.landBatch(b)),
      recentEvents: memory.sink.recentEvents
    })
    const dir = fresh()
    const total = 400
    const maxBatch = 50
    /**
     * Whether the thread's open segment holds records that no rotation has been asked for.
     * Segments are sealed by count (the 1 s timer is far longer than 50 deliveries take), and a
     * seal is asked for once `maxBatch` records are on disk; a segment's file is created by its
     * first write. So the newest file with 1 to maxBatch - 1 complete lines is that open segment.
     * Killing in the same turn as this check leaves no gap for the main thread to ask for a
     * rotation: a kill right after a seal, with nothing written since, would leave nothing to
     * adopt (a flaky run under load).
     */
    const openSegmentHasRecords = () => {
      const newest = readdirSync(dir)
        .filter((f) => f.endsWith(".ndjson"))
        .sort()
        .at(-1)
      if (newest === undefined) return false
      const lines = readFileSync(join(dir, newest), "utf8").split("\n").length - 1
      return lines > 0 && lines < maxBatch
    }
    await withBatchedServer(
      {
        batcher: { dir, flushMs: 1_000, maxBatch },
        sink: Layer.succeed(WebhookBatchSink, slow),
        threaded: true,
        thread: { restartDelayMs: 50 }
      },
      async ({ url, stats, kill }) => {
        const answered = new Set<string>()
        let retries = 0
        let next = 0
        let killed = false
        let pendingAtKill = -1
        // Shopify's behaviour: a delivery not answered 200 (connection lost, 503) is sent again.
        const send = async (i: number) => {
          const body = JSON.stringify({ id: 1000 + i, updated_at: "2026-11-26T10:00:00Z" })
          for (;;) {
            const r = await deliver(url, body, `k-${i}`).catch(() => undefined)
            if (r?.status === 200) return void answered.add(`k-${i}`)
            retries++
            await new Promise((resolve) => setTimeout(resolve, 20))
          }
        }
        await Promise.all(
          Array.from({ length: 16 }, async () => {
            while (next < total) {
              await send(next++)
              if (!killed && answered.size >= total / 3 && openSegmentHasRecords()) {
                killed = true
                // runPromise starts the kill synchronously: terminate() runs in this turn.
                pendingAtKill = await Effect.runPromise(
                  Effect.flatMap(stats, (s) => Effect.as(kill!, s.pending))
                )
              }
            }
          })
        )
        expect(pendingAtKill).toBeGreaterThan(0)
        expect(answered.size).toBe(total)
        expect(retries).toBeGreaterThan(0)
        await eventually(() => memory.batches.flatMap((b) => b.deliveries).length >= total, 30_000)
        const landed = memory.batches.flatMap((b) => b.deliveries.map((d) => d.eventId))
        expect(new Set(landed).size).toBe(total)
        expect(landed).toHaveLength(total)
        const after = await Effect.runPromise(stats)
        expect(after).toMatchObject({ restarts: 1, pending: 0 })
        // The open segment the dead thread wrote was found on disk and landed.
        expect(after.adopted).toBeGreaterThan(0)
        const metrics = await (await fetch(`${url}/metrics`)).text()
        expect(metrics).toMatch(/kura_webhook_intake_restarts_total 1\n/)
      }
    )
    expect(readdirSync(dir).filter((f) => f.endsWith(".ndjson"))).toEqual([])
  })

  it("status.json and the status page show the restarts, the last one's time and its error, secrets masked", async () => {
    const memory = WebhookBatchSink.makeMemory()
    const dir = fresh()
    await withBatchedServer(
      {
        batcher: { dir, flushMs: 20 },
        sink: Layer.succeed(WebhookBatchSink, memory.sink),
        threaded: true,
        thread: { restartDelayMs: 20 }
      },
      async ({ url, stats, crash }) => {
        const status = async () =>
          (await (await fetch(`${url}/status.json`)).json()) as {
            webhookIntake?: { restarts: number; lastRestartAt: string | null; lastError: string | null }
          }
        expect((await status()).webhookIntake).toMatchObject({
          restarts: 0,
          lastRestartAt: null,
          lastError: null
        })
        expect(await (await fetch(`${url}/`)).text()).toMatch(
          /id="webhook-intake"[^>]*>[^<]*<b class="restarts">0</
        )
        const before = Date.now()
        // A bug that puts the webhook secret and an access token into its message.
        await Effect.runPromise(crash!(`boom: hmac key ${SECRET} token shpat_0123456789abcdef`))
        await eventually(async () => (await Effect.runPromise(stats)).restarts === 1)
        // Serving again on the same port.
        const body = JSON.stringify({ id: 5, updated_at: "2026-11-26T10:00:00Z" })
        await eventually(
          async () => (await deliver(url, body, "after-crash").catch(() => undefined))?.status === 200
        )
        const w = (await status()).webhookIntake
        expect(w?.restarts).toBe(1)
        expect(Date.parse(w?.lastRestartAt ?? "")).toBeGreaterThanOrEqual(before - 5)
        expect(w?.lastError).toMatch(/^exited with code 1: boom: hmac key <redacted> token <redacted>$/)
        const page = await (await fetch(`${url}/`)).text()
        expect(page).toMatch(
          /<b class="restarts">1<\/b> restart\(s\), last at <span class="last-restart">\d{4}-/
        )
        expect(page).toContain("boom: hmac key &lt;redacted&gt;")
        expect(page).not.toContain(SECRET)
        expect(page).not.toContain("shpat_0123")
        expect(JSON.stringify(await status())).not.toContain(SECRET)
        // `kura-sync status --url` decodes the same report and prints the intake's line.
        const report = Schema.decodeUnknownSync(StatusReport)(await status())
        expect(formatStatusReport(report)).toMatch(
          /^webhook intake: 1 restart\(s\), last at \d{4}-.* \(exited with code 1: boom: hmac key <redacted> token <redacted>\) {2}pending=\d+ {2}adopted=\d+$/m
        )
      }
    )
  })
})
