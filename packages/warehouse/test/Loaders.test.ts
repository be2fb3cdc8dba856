import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Schema, Stream } from "effect"
import {
  BulkLoader,
  buildSkuMap,
  businessDate,
  type CanonicalRows,
  DuckDbWarehouse,
  LocalObjectStore,
  lineage,
  type MapContext,
  mergeRows,
  normalizeSku,
  RawLake,
  RawLoader,
  Warehouse
} from "../src/index.js"

/** A tiny stand-in for a wave-2 mapper: Shopify bulk JSONL with orders and child line items. */
const BulkOrder = Schema.Struct({
  id: Schema.String,
  updatedAt: Schema.String,
  createdAt: Schema.String,
  currencyCode: Schema.String,
  total: Schema.String,
  locationId: Schema.NullOr(Schema.String)
})
const BulkLine = Schema.Struct({
  id: Schema.String,
  __parentId: Schema.String,
  sku: Schema.String,
  quantity: Schema.Number
})
const Line = Schema.Union([BulkLine, BulkOrder])

const mapper = (record: unknown, ctx: MapContext): CanonicalRows => {
  const r = Schema.decodeUnknownSync(Line)(record)
  if ("__parentId" in r) {
    return {
      order_lines: [
        {
          ...lineage(ctx, r.id, ctx.syncedAt),
          order_id: r.__parentId,
          product_id: null,
          variant_id: null,
          sku: r.sku,
          title: null,
          quantity: r.quantity,
          unit_price: null,
          discount: null,
          tax: null,
          total: null,
          unit_price_presentment: null,
          total_presentment: null
        }
      ]
    }
  }
  return {
    orders: [
      {
        ...lineage(ctx, r.id, r.updatedAt),
        channel: "online",
        location_id: r.locationId,
        order_number: null,
        customer_id: null,
        currency: r.currencyCode,
        subtotal: null,
        discounts: null,
        shipping: null,
        tax: null,
        total: r.total,
        refunded: null,
        presentment_currency: null,
        subtotal_presentment: null,
        discounts_presentment: null,
        shipping_presentment: null,
        tax_presentment: null,
        total_presentment: null,
        refunded_presentment: null,
        financial_status: null,
        fulfillment_status: null,
        status: null,
        created_at: r.createdAt,
        processed_at: null,
        business_date: businessDate(r.createdAt, ctx.timeZoneOf(r.locationId)),
        cancelled_at: null
      }
    ]
  }
}

const ctx: MapContext = {
  source: "shopify",
  sourceAccount: "kura-matcha.myshopify.com",
  syncedAt: "2026-01-10T00:00:00Z",
  batchId: "bulk-1",
  timeZoneOf: () => "Asia/Tokyo"
}
const key = { source: "shopify", account: "kura-matcha.myshopify.com", stream: "orders" }

const bulkLines = (orders: number) =>
  Array.from({ length: orders }, (_, i) => [
    JSON.stringify({
      id: `gid://shopify/Order/${i}`,
      updatedAt: "2026-01-05T00:00:00Z",
      createdAt: "2026-01-04T16:30:00Z",
      currencyCode: "JPY",
      total: `${1000 + i}.5`,
      locationId: null
    }),
    JSON.stringify({
      id: `gid://shopify/LineItem/${i}-1`,
      __parentId: `gid://shopify/Order/${i}`,
      sku: "A",
      quantity: 1
    }),
    JSON.stringify({
      id: `gid://shopify/LineItem/${i}-2`,
      __parentId: `gid://shopify/Order/${i}`,
      sku: "B",
      quantity: 2
    })
  ]).flat()

describe("BulkLoader.loadJsonl", () => {
  it.effect(
    "streams JSONL through a mapper into canonical tables in bounded chunks, dead-lettering bad lines",
    () =>
      Effect.gen(function* () {
        const w = yield* Warehouse
        const lines = [...bulkLines(2_500), "{not json", JSON.stringify({ id: "x", unexpected: true })]
        const result = yield* BulkLoader.loadJsonl({
          warehouse: w,
          lines: Stream.fromIterable(lines).pipe(Stream.rechunk(500)),
          mapper,
          context: ctx,
          key,
          origin: "lake/bulk-1.ndjson.gz",
          chunkSize: 1_000
        })
        assert.strictEqual(result.lines, 7_502)
        assert.strictEqual(result.rejectedLines, 2)
        assert.strictEqual(result.tables.orders?.inserted, 2_500)
        assert.strictEqual(result.tables.order_lines?.inserted, 5_000)
        const totals = yield* w.query(
          'SELECT COUNT(*)::INTEGER AS n, CAST(SUM(total) AS VARCHAR) AS s, MIN(business_date)::VARCHAR AS d FROM "orders"'
        )
        // Exact decimal sum: 2500 * 1000.5 + (0 + … + 2499).
        assert.deepStrictEqual(totals, [{ n: 2500, s: "5625000.000000000", d: "2026-01-05" }])
        const letters = yield* w.listDeadLetters()
        assert.deepStrictEqual(
          letters.map((l) => l.reason),
          ["decode", "map"]
        )
        assert.strictEqual(letters[0]?.payload, "{not json")
        const again = yield* BulkLoader.loadJsonl({
          warehouse: w,
          lines: Stream.fromIterable(bulkLines(2_500)),
          mapper,
          context: ctx,
          key,
          origin: "again"
        })
        assert.strictEqual(again.tables.orders?.unchanged, 2_500)
      }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
  )
})

describe("RawLoader", () => {
  it.effect(
    "loads a lake batch into _kura_raw verbatim; reloading is idempotent; the raw table re-models",
    () =>
      Effect.acquireUseRelease(
        Effect.sync(() => mkdtempSync(join(tmpdir(), "kura-raw-"))),
        (dir) =>
          Effect.gen(function* () {
            const w = yield* Warehouse
            const lake = yield* RawLake
            const lines = [...bulkLines(3), "oops"]
            const obj = yield* lake.writeBatch({
              key,
              batchId: "bulk-1",
              dt: "2026-01-10",
              lines: Stream.fromIterable(lines)
            })
            const load = () =>
              RawLoader.loadRawBatch({
                warehouse: w,
                key,
                batch: obj,
                lines: lake.readLines(obj.path),
                fetchedAt: "2026-01-10T00:00:00Z"
              })
            const first = yield* load()
            assert.deepStrictEqual([first.inserted, first.deadLettered], [9, 1])
            const second = yield* load()
            assert.deepStrictEqual([second.inserted, second.unchanged], [0, 9])
            const raw = yield* w.query(
              'SELECT source_id, CAST(updated_at AS VARCHAR) AS u, payload::VARCHAR AS p, lake_path FROM "_kura_raw" ORDER BY source_id LIMIT 1'
            )
            assert.deepStrictEqual(raw[0], {
              source_id: "gid://shopify/LineItem/0-1",
              u: null,
              p: lines[1],
              lake_path: obj.path
            })
            // Re-model from the raw table alone, without the lake or the API.
            const payloads = yield* w.query(
              `SELECT payload::VARCHAR AS p FROM "_kura_raw" ORDER BY source_id`
            )
            const remodel = yield* BulkLoader.loadJsonl({
              warehouse: w,
              lines: Stream.fromIterable(payloads.map((r) => String(r.p))),
              mapper,
              context: ctx,
              key,
              origin: "_kura_raw"
            })
            assert.deepStrictEqual(
              [remodel.tables.orders?.inserted, remodel.tables.order_lines?.inserted],
              [3, 6]
            )
          }).pipe(
            Effect.provide(
              Layer.mergeAll(
                DuckDbWarehouse.layerMemory,
                RawLake.layer.pipe(Layer.provide(LocalObjectStore.layer(dir)))
              )
            )
          ),
        (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
      )
  )
})

describe("pure helpers", () => {
  it.each([
    ["2026-01-04T16:30:00Z", "Asia/Tokyo", "00:00", "2026-01-05"],
    ["2026-01-05T03:00:00Z", "America/New_York", "00:00", "2026-01-04"],
    ["2026-01-05T07:59:00Z", "America/Los_Angeles", "00:00", "2026-01-04"],
    ["2026-01-04T17:30:00Z", "Asia/Tokyo", "04:00", "2026-01-04"],
    ["2026-03-08T07:30:00Z", "America/New_York", "00:00", "2026-03-08"]
  ])("businessDate(%s, %s, %s) = %s", (instant, tz, start, expected) => {
    assert.strictEqual(businessDate(instant, tz, start), expected)
  })

  it("businessDate rejects bad input with the fix", () => {
    assert.throws(
      () => businessDate("2026-01-01T00:00:00Z", "Mars/Olympus"),
      /unknown time zone "Mars\/Olympus": use an IANA name/
    )
    assert.throws(() => businessDate("yesterday", "UTC"), /not an ISO-8601 timestamp/)
    assert.throws(() => businessDate("2026-01-01T00:00:00Z", "UTC", "25:00"), /must be HH:MM/)
  })

  it("sku_map links variants by SKU, barcode, or a manual override", () => {
    const variant = (source: string, id: string, sku: string | null, barcode: string | null) => ({
      source,
      source_account: "acct",
      source_id: id,
      updated_at: "2026-01-01T00:00:00Z",
      _synced_at: "2026-01-01T00:00:00Z",
      _batch_id: "b",
      _deleted_at: null,
      product_id: null,
      sku,
      barcode,
      title: null,
      inventory_item_id: null,
      currency: null,
      price: null,
      cost: null
    })
    const rows = buildSkuMap(
      [
        variant("shopify", "1", " matcha-30g ", null),
        variant("lightspeed", "77", "MATCHA-30G", null),
        variant("lightspeed", "78", null, "4901234567890"),
        variant("lightspeed", "79", "old-code", null),
        variant("stocky", "5", null, null)
      ],
      [{ source: "lightspeed", sourceAccount: "acct", variantId: "79", sku: "matcha-100g" }],
      { syncedAt: "2026-01-02T00:00:00Z", batchId: "b2" }
    )
    assert.deepStrictEqual(
      rows.map((r) => [r.source, r.variant_id, r.sku, r.match_method]),
      [
        ["shopify", "1", "MATCHA-30G", "sku"],
        ["lightspeed", "77", "MATCHA-30G", "sku"],
        ["lightspeed", "78", "4901234567890", "barcode"],
        ["lightspeed", "79", "MATCHA-100G", "manual"]
      ]
    )
    assert.strictEqual(normalizeSku("  a  b "), "A B")
  })

  it("mergeRows concatenates per table", () => {
    const a = mapper(JSON.parse(bulkLines(1)[0]!), ctx)
    const b = mapper(JSON.parse(bulkLines(1)[1]!), ctx)
    const merged = mergeRows(a, b, a)
    assert.deepStrictEqual([merged.orders?.length, merged.order_lines?.length], [2, 1])
  })
})
