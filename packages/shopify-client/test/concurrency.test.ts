/**
 * Issue 4 (session 2): THROTTLED is never fatal for any query the client sends, one client shares
 * one cost bucket across every concurrent caller, and the client's telemetry counts what happened.
 */
import { BulkJobStore, MetricsRegistry, Telemetry } from "@kura/core"
import { Effect, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Resources } from "../src/Resources.js"
import { ShopifyBulk } from "../src/ShopifyBulk.js"
import { ShopifyClient } from "../src/ShopifyClient.js"
import type { ShopifyError } from "../src/ShopifyError.js"
import { ShopifyMetricNames } from "../src/ShopifyTelemetry.js"
import { startProxy, throttledAnswer } from "./proxy.js"
import { bulkLayer, clientLayer, expectedOrderIds, type Sandbox, startSandbox } from "./sandbox.js"

const DAY = 86_400_000
const PING = "query { shop { id } }"

describe("THROTTLED is never fatal", () => {
  let sb: Sandbox
  beforeAll(async () => {
    sb = await startSandbox({ timeScale: 50 })
  })
  afterAll(() => sb.close())

  it("waits out 40 THROTTLED answers in a row (twice the old attempt cap) and succeeds", async () => {
    const registry = new MetricsRegistry()
    const telemetry = await Effect.runPromise(
      Effect.gen(function* () {
        const client = yield* ShopifyClient
        yield* client.query(PING)
        sb.faults.arm("throttled", 40)
        yield* client.query(PING)
        return yield* client.telemetry
      }).pipe(Effect.provide(clientLayer(sb)), Effect.provideService(Telemetry, registry))
    )
    expect(sb.faults.report().shopify.throttled).toBe(40)
    expect(telemetry.throttled).toBe(40)
    expect(telemetry.calls).toBe(42)
    expect(telemetry.retries).toBe(40)
    expect(telemetry.throttleWaitMillis).toBeGreaterThan(0)
    expect(telemetry.costActual).toBeGreaterThan(0)
    const labels = { source: "shopify", shop: sb.handle.credentials.shopDomain }
    expect(registry.counter(ShopifyMetricNames.calls, labels)).toBe(42)
    expect(registry.counter(ShopifyMetricNames.throttled, labels)).toBe(40)
    expect(registry.counter(ShopifyMetricNames.retries, { ...labels, reason: "throttled" })).toBe(40)
    expect(registry.counter(ShopifyMetricNames.costPoints, { ...labels, kind: "actual" })).toBe(
      telemetry.costActual
    )
  })

  it("fails with Throttled only once throttleTimeoutMillis has elapsed", async () => {
    const proxy = await startProxy(sb.handle.baseUrl, () => throttledAnswer(1000))
    try {
      const started = Date.now()
      const exit = await Effect.runPromiseExit(
        Effect.gen(function* () {
          const client = yield* ShopifyClient
          return yield* client.query(PING)
        }).pipe(Effect.provide(clientLayer(sb, { baseUrl: proxy.baseUrl, throttleTimeoutMillis: 400 })))
      )
      expect(exit._tag).toBe("Failure")
      expect(JSON.stringify(exit)).toContain("Throttled")
      expect(Date.now() - started).toBeGreaterThanOrEqual(300)
    } finally {
      await proxy.close()
    }
  })

  it("bulk lookup, poll and start keep going through THROTTLED storms after a lost start answer", async () => {
    // The live bug: a lost start is followed by a `bulkOperations` lookup, which Shopify throttled
    // more often than the old cap allowed. Here every kind of bulk call is throttled 25 times.
    const left = new Map<string, number>([
      ["KuraBulkRecent", 25],
      ["KuraBulkOperation(", 25],
      ["KuraBulkRunQuery", 25]
    ])
    let lost = 0
    const proxy = await startProxy(sb.handle.baseUrl, (body) => {
      for (const [marker, n] of left) {
        if (n > 0 && body.includes(marker)) {
          left.set(marker, n - 1)
          return throttledAnswer(2000)
        }
      }
      if (body.includes("KuraBulkRunQuery") && lost === 0) {
        lost++
        return { _tag: "lose" }
      }
      return { _tag: "forward" }
    })
    try {
      const w = { start: Date.now() - 30 * DAY, end: Date.now() + DAY }
      const { orders, telemetry, jobs } = await Effect.runPromise(
        Effect.gen(function* () {
          const bulk = yield* ShopifyBulk
          const client = yield* ShopifyClient
          const orders = yield* Stream.runCollect(
            bulk.export(Resources.orders, { window: w, sliceMillis: 60 * DAY })
          )
          const store = yield* BulkJobStore
          const jobs = yield* store.list()
          return { orders, telemetry: yield* client.telemetry, jobs }
        }).pipe(
          Effect.provide(
            bulkLayer(sb, BulkJobStore.layerMemory, { baseUrl: proxy.baseUrl }, { startRetryMillis: 20 })
          )
        )
      )
      expect([...left.values()]).toEqual([0, 0, 0])
      expect(lost).toBe(1)
      expect(new Set(orders.map((o) => o.id))).toEqual(expectedOrderIds(sb.merchant, w.start, w.end))
      expect(telemetry.throttled).toBe(75)
      // The lost start was adopted, not started twice.
      expect(jobs.length).toBe(1)
      expect(telemetry.bulkJobs).toMatchObject({ started: 0, adopted: 1, completed: 1, failed: 0 })
    } finally {
      await proxy.close()
    }
  })
})

describe("one client, one bucket, many concurrent callers", () => {
  it("several streams and bulk jobs on a small bucket end with 0 failures and no THROTTLED of their own", async () => {
    // A 1000-point bucket restoring 500 points/s (5000/s at timeScale 10): pages, bulk starts, lookups and polls from
    // six fibers must all be paced by the one bucket of the one client.
    const sb = await startSandbox({
      orders: 300,
      historyDays: 60,
      timeScale: 10,
      fresh: true,
      plan: { name: "custom", graphqlBucket: 1000, graphqlRestoreRate: 500, restBucket: 40, restLeakRate: 2 }
    })
    try {
      const now = Date.now()
      const windows = [
        { start: now - 61 * DAY, end: now - 40 * DAY },
        { start: now - 40 * DAY, end: now - 20 * DAY },
        { start: now - 20 * DAY, end: now + DAY }
      ]
      const pagedWindow = { start: now - 15 * DAY, end: now + DAY }
      const result = await Effect.runPromise(
        Effect.gen(function* () {
          const bulk = yield* ShopifyBulk
          const client = yield* ShopifyClient
          // Extra THROTTLED answers land on whichever calls come next (pages, starts, polls, lookups).
          sb.faults.arm("throttled", 30)
          const [bulkOrders, paged, customers, products, locations] = yield* Effect.all(
            [
              Effect.forEach(
                windows,
                (window) =>
                  Stream.runCollect(
                    bulk.export(Resources.orders, { window, sliceMillis: 30 * DAY, resumeOpenJobs: false })
                  ),
                { concurrency: "unbounded" }
              ),
              Stream.runCollect(
                client.incremental(Resources.orders, {
                  since: pagedWindow.start,
                  until: pagedWindow.end,
                  overlapMillis: 0
                })
              ),
              Stream.runCollect(client.incremental(Resources.customers, {})),
              Stream.runCollect(bulk.export(Resources.products, { window: { start: 0, end: now + DAY } })),
              Stream.runCollect(client.incremental(Resources.locations, {}))
            ],
            { concurrency: "unbounded" }
          )
          return {
            bulkOrders: bulkOrders.flat(),
            paged,
            customers,
            products,
            locations,
            telemetry: yield* client.telemetry,
            stats: yield* client.costStats
          }
        }).pipe(
          Effect.provide(
            bulkLayer(sb, BulkJobStore.layerMemory, {}, { pollMinMillis: 20, pollMaxMillis: 100 })
          )
        ) as Effect.Effect<
          {
            bulkOrders: ReadonlyArray<{ id: string }>
            paged: ReadonlyArray<{ id: string }>
            customers: ReadonlyArray<unknown>
            products: ReadonlyArray<unknown>
            locations: ReadonlyArray<unknown>
            telemetry: Effect.Success<ShopifyClient["Service"]["telemetry"]>
            stats: Effect.Success<ShopifyClient["Service"]["costStats"]>
          },
          ShopifyError
        >
      )
      const all = expectedOrderIds(sb.merchant, now - 61 * DAY, now + DAY)
      expect(new Set(result.bulkOrders.map((o) => o.id))).toEqual(all)
      expect(result.bulkOrders.length).toBe(all.size)
      expect(new Set(result.paged.map((o) => o.id))).toEqual(
        expectedOrderIds(sb.merchant, pagedWindow.start, pagedWindow.end)
      )
      expect(result.customers.length).toBe(sb.merchant.customerCount)
      expect(result.products.length).toBeGreaterThan(0)
      expect(result.locations.length).toBeGreaterThan(0)
      // Only the 30 armed THROTTLED answers happened: the shared bucket itself never overdrew.
      expect(sb.faults.report().shopify.throttled).toBe(30)
      expect(sb.handle.stats().throttled).toBe(30)
      expect(result.telemetry.throttled).toBe(30)
      expect(result.stats.maximumAvailable).toBe(1000)
      expect(result.telemetry.bulkJobs.completed).toBeGreaterThanOrEqual(4)
      expect(result.telemetry.bulkJobs.failed).toBe(0)
    } finally {
      await sb.close()
    }
  })
})
