import { assert, describe, expect, it } from "@effect/vitest"
import { AdaptiveLimiter, Decimal, HttpTransport } from "@kura/core"
import { ConfigProvider, DateTime, Effect, Layer, Redacted, Stream } from "effect"
import {
  STOCKY_RESOURCE_NAMES,
  StockyClient,
  type StockyError,
  type StockyResourceName
} from "../src/index.js"
import { startStockyServer, type TestStockyServer } from "./support/stockyServer.js"
import { withServer } from "./support/withServer.js"

const collect = <R extends StockyResourceName>(
  resource: R,
  options?: Parameters<StockyClient["Service"]["list"]>[1]
) => Effect.flatMap(StockyClient, (c) => Stream.runCollect(c.list(resource, options)))

const listRequests = (server: TestStockyServer, resource: string) =>
  server.requests.filter((r) => r.path === `/api/v2/${resource}.json`)

describe("StockyClient against a local Stocky server", () => {
  it.live("streams every resource completely, once per id, with Stocky's headers", () =>
    withServer({ count: 23 }, (server) =>
      Effect.gen(function* () {
        for (const resource of STOCKY_RESOURCE_NAMES) {
          const records = yield* collect(resource, { limit: 5 })
          const expected = server.data[resource].map((r) => r.id).sort((a, b) => Number(a) - Number(b))
          assert.deepStrictEqual(
            records.map((r) => r.id).sort((a, b) => a - b),
            expected,
            resource
          )
        }
        const first = server.requests[0]
        assert.strictEqual(first?.headers["store-name"], "kyoto-tea.myshopify.com")
        assert.strictEqual(first?.headers.authorization, `API KEY=${server.apiKey}`)
        // The key never travels in the URL.
        assert.isFalse(server.requests.some((r) => r.query.toString().includes(server.apiKey)))
      })
    )
  )

  it.live("pages purchase orders newest first with since_id = min id of the previous page", () =>
    withServer({ count: 12 }, (server) =>
      Effect.gen(function* () {
        const pos = yield* collect("purchase_orders", { limit: 5 })
        assert.deepStrictEqual(
          pos.map((p) => p.id),
          server.data.purchase_orders.map((p) => Number(p.id)).sort((a, b) => b - a)
        )
        const cursors = listRequests(server, "purchase_orders").map((r) => r.query.get("since_id"))
        assert.deepStrictEqual(cursors, [null, "1021", "1006"])
        // Ascending resources use max id.
        yield* collect("suppliers", { limit: 5 })
        assert.deepStrictEqual(
          listRequests(server, "suppliers").map((r) => r.query.get("since_id")),
          [null, "5", "10"]
        )
      })
    )
  )

  it.live("pages carry a resume cursor: restarting from a page's resumeSinceId yields exactly the rest", () =>
    withServer({ count: 12 }, () =>
      Effect.gen(function* () {
        const client = yield* StockyClient
        const all = yield* Stream.runCollect(client.pages("purchase_orders", { limit: 5 }))
        assert.deepStrictEqual(
          all.map((p) => p.resumeSinceId),
          [1021, 1006, null]
        )
        const first = all[0]
        assert.isDefined(first)
        const rest = yield* Stream.runCollect(
          client.purchaseOrders({ limit: 5, sinceId: first?.resumeSinceId ?? undefined })
        )
        assert.deepStrictEqual(
          rest.map((p) => p.id),
          all.slice(1).flatMap((p) => p.records.map((r) => r.id))
        )
      })
    )
  )

  it.live(
    "normalises quirks: string ids and prices, PO numbers, DD/MM/YYYY item times in the store zone",
    () =>
      withServer({ count: 3 }, () =>
        Effect.gen(function* () {
          const [po] = yield* collect("purchase_orders", { sinceId: 1001 })
          assert.isDefined(po)
          if (!po) return
          assert.strictEqual(po.id, 1000)
          assert.strictEqual(po.number, "1000A")
          assert.strictEqual(po.supplier_id, 1)
          assert.strictEqual(po.shopify_receive_location_id, 61_234_567_890n)
          assert.isTrue(po.shipping?.equals(Decimal.unsafeFrom("1200")))
          const item = po.purchase_items[0]
          assert.strictEqual(item?.retail_price?.toString(), "49.61")
          assert.strictEqual(item?.cost_price?.toString(), "12.345")
          assert.strictEqual(item?.inventory_item_id, 44_000_000_000n)
          // Created 2025-01-01T00:00Z; updated 49 h later, rendered as Tokyo local time without a zone.
          assert.strictEqual(
            item?.updated_at && DateTime.formatIso(item.updated_at),
            "2025-01-03T01:00:00.000Z"
          )
          assert.strictEqual(po.created_at && DateTime.formatIso(po.created_at), "2025-01-01T00:00:00.000Z")
          assert.strictEqual(po.expected_on, "2025-02-01")
        })
      )
  )

  it.live("sends updated_since and adjusted_since as ISO 8601 and filters server-side", () =>
    withServer({ count: 10 }, (server) =>
      Effect.gen(function* () {
        const since = new Date(Date.UTC(2025, 0, 1, 5))
        const items = yield* collect("stock_adjustment_items", { adjustedSince: since, status: "adjusted" })
        assert.deepStrictEqual(
          items.map((i) => i.id),
          [9005, 9006, 9007, 9008, 9009]
        )
        const req = listRequests(server, "stock_adjustment_items")[0]
        assert.strictEqual(req?.query.get("adjusted_since"), "2025-01-01T05:00:00.000Z")
        assert.strictEqual(req?.query.get("status"), "adjusted")
        yield* collect("suppliers", { updatedSince: "2025-01-01T03:00:00Z" })
        assert.strictEqual(
          listRequests(server, "suppliers")[0]?.query.get("updated_since"),
          "2025-01-01T03:00:00.000Z"
        )
        const bad = yield* Effect.flip(collect("tax_types", { updatedSince: since }))
        assert.strictEqual(bad._tag, "StockyError")
        if (bad._tag === "StockyError") assert.strictEqual(bad.reason._tag, "InvalidConfig")
        const badLimit = yield* Effect.flip(collect("suppliers", { limit: 251 }))
        expect(badLimit.message).toMatch(/limit.*1 to 250/)
      })
    )
  )

  it.live("treats a 404 on stock_transfers as 'not served' when the API still answers", () =>
    withServer({ transfers: false }, () =>
      Effect.gen(function* () {
        const transfers = yield* collect("stock_transfers")
        assert.strictEqual(transfers.length, 0)
        const client = yield* StockyClient
        const pages = yield* Stream.runCollect(client.pages("stock_transfers"))
        assert.strictEqual(pages[0]?.served, false)
      })
    )
  )

  it.live("survives 429 with Retry-After and a truncated body", () =>
    withServer({ count: 6, rateLimitFirst: 2, truncateFirst: 1 }, (server) =>
      Effect.gen(function* () {
        const suppliers = yield* collect("suppliers")
        assert.strictEqual(suppliers.length, 6)
        // 2 throttled + 1 truncated + 1 good.
        assert.strictEqual(listRequests(server, "suppliers").length, 4)
      })
    )
  )

  it.live("slows the shared adaptive limiter on 429 and honours Retry-After", () =>
    Effect.gen(function* () {
      const server = yield* Effect.acquireRelease(
        Effect.promise(() => startStockyServer({ count: 3, rateLimitFirst: 1 })),
        (s) => Effect.promise(() => s.close())
      )
      const limiter = yield* AdaptiveLimiter
      const started = Date.now()
      const suppliers = yield* collect("suppliers").pipe(
        Effect.provide(
          StockyClient.layerTest({
            baseUrl: server.baseUrl,
            storeName: server.storeName,
            apiKey: Redacted.make(server.apiKey)
          })
        )
      )
      assert.strictEqual(suppliers.length, 3)
      const state = yield* limiter.state(`stocky:${server.storeName}`)
      assert.strictEqual(state.throttles, 1)
      assert.isBelow(state.ratePerSecond, 60) // halved from 100, then crept up by the successes
      // Retry-After: 0.05 s was waited before the second try.
      assert.isAtLeast(Date.now() - started, 45)
    }).pipe(Effect.provide(AdaptiveLimiter.layer({ maxRatePerSecond: 100, initialRatePerSecond: 100 })))
  )

  it.live("falls back to offset paging when the server ignores since_id, without duplicates", () =>
    withServer({ count: 12, ignoreSinceId: true }, (server) =>
      Effect.gen(function* () {
        const suppliers = yield* collect("suppliers", { limit: 5 })
        assert.deepStrictEqual(
          suppliers.map((s) => s.id),
          Array.from({ length: 12 }, (_, i) => i + 1)
        )
        const offsets = listRequests(server, "suppliers").map((r) => r.query.get("offset"))
        assert.deepStrictEqual(offsets, [null, null, "5", "10"])
      })
    )
  )

  it.live("fails with PagingStalled instead of looping when nothing advances", () =>
    withServer({ count: 12, ignoreAllPaging: true }, (server) =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(collect("suppliers", { limit: 5 }))
        assert.strictEqual(error._tag, "StockyError")
        if (error._tag === "StockyError") assert.strictEqual(error.reason._tag, "PagingStalled")
        assert.isAtMost(listRequests(server, "suppliers").length, 3)
      })
    )
  )

  it.live("reads single records, bare or wrapped, and reports a missing id as NotFound", () =>
    Effect.gen(function* () {
      for (const singularWrapper of [false, true]) {
        yield* withServer({ count: 4, singularWrapper }, () =>
          Effect.gen(function* () {
            const client = yield* StockyClient
            const po = yield* client.get("purchase_orders", 1003)
            assert.strictEqual(po.purchase_items.length, 2)
            const supplier = yield* client.get("suppliers", 2)
            assert.strictEqual(supplier.name, "Supplier 2")
            const missing = yield* Effect.flip(client.get("suppliers", 999))
            assert.strictEqual(missing._tag, "StockyError")
            if (missing._tag === "StockyError") assert.strictEqual(missing.reason._tag, "NotFound")
          })
        )
      }
    })
  )

  it.live("rejects bad credentials with core's Unauthorized, not a retry loop", () =>
    withServer(
      {},
      (server) =>
        Effect.gen(function* () {
          const error = yield* Effect.flip(collect("suppliers"))
          assert.strictEqual(error._tag, "ApiError")
          if (error._tag === "ApiError") assert.strictEqual(error.reason._tag, "Unauthorized")
          assert.strictEqual(server.requests.length, 1)
          // The key never reaches the error text.
          assert.notInclude(error.message, "wrong-key")
        }),
      { apiKey: Redacted.make("wrong-key") }
    )
  )

  it.live("validates configuration with the field name and the fix", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Layer.build(
          StockyClient.layerTest({ storeName: "https://My Shop", apiKey: Redacted.make("k") })
        ).pipe(Effect.scoped)
      )
      expect(error.message).toMatch(/storeName.*myshopify\.com/)
      const zone = yield* Effect.flip(
        Layer.build(
          StockyClient.layerTest({
            storeName: "a.myshopify.com",
            apiKey: Redacted.make("k"),
            timeZone: "Mars/Base"
          })
        ).pipe(Effect.scoped)
      )
      expect(zone.message).toMatch(/timeZone.*IANA/)
    })
  )

  it.live("layerConfig reads STOCKY_* and reports every missing or bad variable at once", () =>
    Effect.gen(function* () {
      const env = { STOCKY_PAGE_SIZE: "many" }
      const error = yield* Effect.flip(
        Layer.build(StockyClient.layerConfig.pipe(Layer.provide(HttpTransport.layer()))).pipe(
          Effect.scoped,
          Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))
        )
      )
      expect(error.message).toMatch(/STOCKY_STORE_NAME/)
      expect(error.message).toMatch(/STOCKY_API_KEY/)
      expect(error.message).toMatch(/STOCKY_PAGE_SIZE/)
      const server = yield* Effect.acquireRelease(
        Effect.promise(() => startStockyServer({ count: 2 })),
        (s) => Effect.promise(() => s.close())
      )
      const ok = {
        STOCKY_STORE_NAME: server.storeName,
        STOCKY_API_KEY: server.apiKey,
        STOCKY_BASE_URL: server.baseUrl,
        STOCKY_TIME_ZONE: "Asia/Tokyo"
      }
      const taxTypes = yield* collect("tax_types").pipe(
        Effect.provide(StockyClient.layerConfig.pipe(Layer.provide(HttpTransport.layer()))),
        Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env: ok }))
      )
      assert.strictEqual(taxTypes.length, 3)
    })
  )
})

describe("StockyClient when the API is gone", () => {
  const variants = ["404-html", "410", "200-html", "404-json-everywhere"] as const
  for (const retired of variants) {
    it.live(`reports Retired for ${retired} without retrying`, () =>
      withServer({ retired }, (server) =>
        Effect.gen(function* () {
          for (const resource of ["suppliers", "stock_transfers"] as const) {
            const error: StockyError | unknown = yield* Effect.flip(collect(resource))
            assert.instanceOf(error, Error)
            expect(String((error as Error).message)).toContain(
              "Stocky's API is no longer available; import an archive instead"
            )
          }
          const client = yield* StockyClient
          const check = yield* Effect.flip(client.checkAvailable)
          assert.strictEqual(check._tag, "StockyError")
          // suppliers: 1, transfers: 1 (+1 probe for the JSON 404 variant), check: 1.
          assert.isAtMost(server.requests.length, 4)
        })
      )
    )
  }

  it.live("reports Retired when the host no longer resolves", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Effect.flatMap(StockyClient, (c) => c.checkAvailable).pipe(
          Effect.provide(
            StockyClient.layerTest({
              baseUrl: "http://stocky.invalid/api/v2",
              storeName: "a.myshopify.com",
              apiKey: Redacted.make("k")
            })
          )
        )
      )
      expect(error.message).toContain("Stocky's API is no longer available; import an archive instead")
      expect(error.message).toContain("ENOTFOUND")
    })
  )
})
