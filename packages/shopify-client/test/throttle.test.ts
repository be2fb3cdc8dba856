import { Effect, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Resources } from "../src/Resources.js"
import { ShopifyClient } from "../src/ShopifyClient.js"
import type { ShopifyError } from "../src/ShopifyError.js"
import { clientLayer, type Sandbox, startSandbox } from "./sandbox.js"

const run = <A>(sb: Sandbox, eff: Effect.Effect<A, ShopifyError, ShopifyClient>, over = {}) =>
  Effect.runPromise(Effect.provide(eff, clientLayer(sb, over)))

const PING = "query { shop { id } }"

describe("throttle and fault matrix (sandbox)", () => {
  for (const throttledStatus of [200, 429] as const) {
    describe(`THROTTLED answered with HTTP ${throttledStatus}`, () => {
      let sb: Sandbox
      beforeAll(async () => {
        sb = await startSandbox({ timeScale: 20, options: { throttledStatus } })
      })
      afterAll(() => sb.close())

      it("waits for the bucket and retries until the query succeeds", async () => {
        sb.faults.arm("throttled", 3)
        const stats = await run(
          sb,
          Effect.gen(function* () {
            const client = yield* ShopifyClient
            const r = yield* client.query(PING)
            expect(r.data).toMatchObject({ shop: { id: expect.stringContaining("gid://shopify/Shop/") } })
            return yield* client.costStats
          })
        )
        expect(stats.throttled).toBe(3)
        expect(sb.faults.report().shopify.throttled).toBe(3)
      })
    })
  }

  describe("HTTP faults", () => {
    let sb: Sandbox
    beforeAll(async () => {
      sb = await startSandbox({ timeScale: 20 })
    })
    afterAll(() => sb.close())

    it("429 with Retry-After (seconds) is waited out, not treated as milliseconds", async () => {
      sb.faults.arm("http_429", 2)
      const started = Date.now()
      await run(
        sb,
        Effect.gen(function* () {
          const client = yield* ShopifyClient
          yield* client.query(PING)
        })
      )
      // Retry-After is 2 s scaled by timeScale 20 = 0.1 s per 429.
      expect(Date.now() - started).toBeGreaterThanOrEqual(190)
      expect(sb.faults.report().shopify.http_429).toBe(2)
    })

    it("503, connection resets, truncated and malformed bodies are retried for reads", async () => {
      sb.faults.arm("http_5xx", 2)
      sb.faults.arm("connection_reset", 1)
      sb.faults.arm("malformed_json", 1)
      sb.faults.arm("truncated_body", 1)
      const customers = await run(
        sb,
        Effect.gen(function* () {
          const client = yield* ShopifyClient
          return yield* Stream.runCollect(client.incremental(Resources.customers, {}))
        })
      )
      expect(customers.length).toBe(sb.merchant.customerCount)
      const report = sb.faults.report().shopify
      expect(report.http_5xx).toBe(2)
      expect(report.malformed_json).toBe(1)
    })
  })

  describe("steady state", () => {
    it("never triggers THROTTLED while several fibers share a small bucket", async () => {
      const sb = await startSandbox({
        timeScale: 1,
        plan: { name: "custom", graphqlBucket: 300, graphqlRestoreRate: 600, restBucket: 40, restLeakRate: 2 }
      })
      try {
        const stats = await run(
          sb,
          Effect.gen(function* () {
            const client = yield* ShopifyClient
            // ~52 points per request against a 300-point bucket restoring 600/s: the bucket must pace.
            yield* Effect.forEach(
              Array.from({ length: 24 }, (_, i) => i),
              () => client.query("query($n: Int!) { customers(first: $n) { nodes { id } } }", { n: 50 }),
              { concurrency: 6 }
            )
            return yield* client.costStats
          })
        )
        expect(sb.handle.stats().throttled ?? 0).toBe(0)
        expect(stats.throttled).toBe(0)
        expect(stats.maximumAvailable).toBe(300)
      } finally {
        await sb.close()
      }
    })
  })
})
