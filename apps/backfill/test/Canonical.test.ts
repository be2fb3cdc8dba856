/**
 * The JS path's canonical step (BigQuery's, `KURA_SHOPIFY_FAST_PATH=0`) files what it cannot load
 * under the reason a replay looks for: `decode` for a line that is not JSON or does not match the
 * client's schema, `map` for a record that decoded but that the mapper threw on.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { DuckDbWarehouse, LocalObjectStore, RawLake, Warehouse } from "@kura/warehouse"
import { Effect, Layer, Stream } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { makeCanonicalLoader } from "../src/Canonical.js"
import type { PlannedWindow } from "../src/Plan.js"

const dir = mkdtempSync(join(tmpdir(), "kura-backfill-canonical-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const SHOP = "kura-test.myshopify.com"
const bag = (amount: string) => ({
  shopMoney: { amount, currencyCode: "JPY" },
  presentmentMoney: { amount, currencyCode: "JPY" }
})
const order = (n: number, createdAt: string) => ({
  id: `gid://shopify/Order/${n}`,
  legacyResourceId: String(n),
  name: `#${n}`,
  createdAt,
  updatedAt: "2026-03-04T10:00:00Z",
  processedAt: "2026-03-01T15:30:00Z",
  cancelledAt: null,
  cancelReason: null,
  closedAt: null,
  closed: false,
  test: false,
  currencyCode: "JPY",
  presentmentCurrencyCode: "JPY",
  displayFinancialStatus: "PAID",
  displayFulfillmentStatus: "FULFILLED",
  sourceName: "web",
  tags: [],
  discountCodes: [],
  customer: null,
  subtotalPriceSet: bag("1000"),
  totalPriceSet: bag("1000"),
  totalTaxSet: bag("0"),
  totalDiscountsSet: bag("0"),
  totalShippingPriceSet: bag("0"),
  totalRefundedSet: bag("0"),
  currentSubtotalPriceSet: bag("1000"),
  currentTotalPriceSet: bag("1000"),
  currentTotalTaxSet: bag("0"),
  currentTotalDiscountsSet: bag("0"),
  taxLines: [],
  transactions: [],
  refunds: [],
  lineItems: [],
  shippingLines: []
})

const window: PlannedWindow = {
  index: 0,
  source: "shopify",
  stream: "orders",
  mode: "bulk",
  id: "shopify:orders:test",
  estimatedCost: 0,
  start: Date.parse("2026-03-01T00:00:00Z"),
  end: Date.parse("2026-04-01T00:00:00Z")
}

describe("Canonical (the JS path) dead letters", () => {
  it("files a mapper failure as `map` and a schema or JSON failure as `decode`, and loads the rest", async () => {
    const key = { source: "shopify", account: SHOP, stream: "orders" } as const
    const lines = [
      JSON.stringify(order(1, "2026-03-01T15:30:00Z")),
      // Decodes (createdAt is a string) but is no timestamp: the mapper throws.
      JSON.stringify(order(2, "yesterday")),
      // The schema rejects it (legacyResourceId is a number).
      JSON.stringify({ ...order(3, "2026-03-01T15:30:00Z"), legacyResourceId: 3 }),
      '{"id": "gid://shopify/Order/4", truncated'
    ]
    const layer = Layer.mergeAll(
      DuckDbWarehouse.layer({ path: join(dir, "kura.duckdb") }),
      RawLake.layer.pipe(Layer.provide(LocalObjectStore.layer(join(dir, "lake"))))
    )
    const result = await Effect.runPromise(
      Effect.gen(function* () {
        const lake = yield* RawLake
        const batch = yield* lake.writeBatch({ key, batchId: "b1", lines: Stream.fromIterable(lines) })
        const load = yield* makeCanonicalLoader(SHOP, {
          zone: "Asia/Tokyo",
          currency: "JPY",
          onlineLocation: null
        })
        const loaded = yield* load(window, key, batch.path)
        const w = yield* Warehouse
        const letters = yield* w.query(
          "SELECT source_id, reason, detail FROM _kura_dead_letters WHERE stream = 'orders' ORDER BY source_id NULLS LAST"
        )
        const orders = yield* w.query("SELECT source_id FROM orders ORDER BY 1")
        return { loaded, letters, orders }
      }).pipe(Effect.provide(layer))
    )
    expect(result.loaded).toBe(1)
    expect(result.orders.map((r) => r.source_id)).toEqual(["1"])
    const letters = result.letters.map((l) => ({ id: l.source_id, reason: l.reason }))
    expect(letters).toEqual([
      { id: "gid://shopify/Order/2", reason: "map" },
      { id: "gid://shopify/Order/3", reason: "decode" },
      { id: null, reason: "decode" }
    ])
    expect(String(result.letters[0]?.detail)).toContain('"yesterday" is not an ISO-8601 timestamp')
    expect(String(result.letters[0]?.detail)).not.toMatch(/^map:/)
    expect(String(result.letters[2]?.detail)).toMatch(/^not JSON: /)
  })
})
