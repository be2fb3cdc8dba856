// Bulk JSONL → canonical DuckDB tables benchmark (wave 2 finishes it with the real Shopify mapper).
// Usage (after `npx nx run @kura/warehouse:build`): npx node bench/bulk-load.mjs [orders=1000000] [db=:memory:]
// Generates Shopify-bulk-like JSONL (an order line followed by two line-item lines) as a stream,
// maps it with a minimal mapper and loads it through BulkLoader.loadJsonl, sampling RSS as it goes.
import { Effect, Stream } from "effect"
import { BulkLoader, businessDate, DuckDbWarehouse, lineage, Warehouse } from "../dist/index.js"

const orders = Number(process.argv[2] ?? 1_000_000)
const dbPath = process.argv[3] ?? ":memory:"
const chunkSize = Number(process.argv[4] ?? 20_000)
const ctx = {
  source: "shopify",
  sourceAccount: "bench.myshopify.com",
  syncedAt: "2026-01-10T00:00:00Z",
  batchId: "bench",
  timeZoneOf: () => "Asia/Tokyo"
}

function* jsonl() {
  for (let i = 0; i < orders; i++) {
    yield JSON.stringify({
      id: `gid://shopify/Order/${i}`,
      updatedAt: "2026-01-05T00:00:00Z",
      createdAt: "2026-01-04T16:30:00Z",
      currencyCode: "JPY",
      total: `${1000 + (i % 997)}.50`
    })
    yield JSON.stringify({
      id: `gid://shopify/LineItem/${i}-1`,
      __parentId: `gid://shopify/Order/${i}`,
      sku: "A",
      quantity: 1
    })
    yield JSON.stringify({
      id: `gid://shopify/LineItem/${i}-2`,
      __parentId: `gid://shopify/Order/${i}`,
      sku: "B",
      quantity: 2
    })
  }
}

const nulls = (names) => Object.fromEntries(names.map((n) => [n, null]))
const orderNulls = nulls([
  "order_number",
  "customer_id",
  "subtotal",
  "discounts",
  "shipping",
  "tax",
  "refunded",
  "presentment_currency",
  "subtotal_presentment",
  "discounts_presentment",
  "shipping_presentment",
  "tax_presentment",
  "total_presentment",
  "refunded_presentment",
  "financial_status",
  "fulfillment_status",
  "status",
  "processed_at",
  "cancelled_at",
  "location_id"
])
const lineNulls = nulls([
  "product_id",
  "variant_id",
  "title",
  "unit_price",
  "discount",
  "tax",
  "total",
  "unit_price_presentment",
  "total_presentment"
])

const mapper = (r, c) =>
  r.__parentId
    ? {
        order_lines: [
          {
            ...lineage(c, r.id, c.syncedAt),
            ...lineNulls,
            order_id: r.__parentId,
            sku: r.sku,
            quantity: r.quantity
          }
        ]
      }
    : {
        orders: [
          {
            ...lineage(c, r.id, r.updatedAt),
            ...orderNulls,
            channel: "online",
            currency: r.currencyCode,
            total: r.total,
            created_at: r.createdAt,
            business_date: businessDate(r.createdAt, "Asia/Tokyo")
          }
        ]
      }

let peak = 0
const samples = []
const timer = setInterval(() => {
  const rss = process.memoryUsage().rss
  peak = Math.max(peak, rss)
}, 100)

const program = Effect.gen(function* () {
  const w = yield* Warehouse
  let seen = 0
  const started = performance.now()
  const lines = Stream.fromIterable(jsonl()).pipe(
    Stream.rechunk(4096),
    Stream.mapArray((chunk) => {
      const before = seen
      seen += chunk.length
      if (Math.floor(seen / 300_000) > Math.floor(before / 300_000)) {
        samples.push({
          lines: seen,
          rssMB: Math.round(process.memoryUsage().rss / 1e6),
          heapMB: Math.round(process.memoryUsage().heapUsed / 1e6)
        })
      }
      return chunk
    })
  )
  const result = yield* BulkLoader.loadJsonl({
    warehouse: w,
    lines,
    mapper,
    context: ctx,
    key: { source: "shopify", account: "bench", stream: "orders" },
    origin: "bench",
    chunkSize
  })
  const seconds = (performance.now() - started) / 1000
  return { result, seconds }
})

const { result, seconds } = await Effect.runPromise(
  Effect.provide(
    program,
    DuckDbWarehouse.layer({
      path: dbPath,
      config: {
        memory_limit: process.env.KURA_BENCH_DUCKDB_MEMORY ?? "256MB",
        threads: "2",
        preserve_insertion_order: "false"
      }
    })
  )
)
clearInterval(timer)
console.log(
  JSON.stringify(
    {
      orders,
      lines: result.lines,
      seconds: Number(seconds.toFixed(2)),
      linesPerSecond: Math.round(result.lines / seconds),
      peakRssMB: Math.round(peak / 1e6),
      rssSamples: samples,
      inserted: { orders: result.tables.orders?.inserted, order_lines: result.tables.order_lines?.inserted }
    },
    null,
    2
  )
)
