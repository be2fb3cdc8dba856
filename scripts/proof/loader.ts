/**
 * The proof harness's own small sync (used by the crash-and-resume check until `kura-sync run`
 * has real connectors): pulls Shopify orders and Stocky purchase orders page by page with our
 * clients, maps them with @kura/warehouse's mappers, loads every page into a DuckDB warehouse and
 * only then commits the page's cursor to `_kura_sync_state`. A restart resumes from the cursor.
 * Usage: `node loader.ts <warehouse.duckdb>` with KURA_PROOF_SANDBOX = the `kura-sandbox` JSON line.
 */
import { HttpTransport } from "@kura/core"
import { Resources, ShopifyClient } from "@kura/shopify-client"
import { StockyClient } from "@kura/stocky-client"
import {
  type CanonicalTableName,
  DuckDbWarehouse,
  type MapContext,
  mapShopifyOrder,
  mapStockyPurchaseOrder,
  Warehouse
} from "@kura/warehouse"
import { Effect, Layer, Option, Redacted, Stream } from "effect"

interface SandboxLine {
  readonly shopify: { baseUrl: string; shopDomain: string; accessToken: string; apiVersion: string }
  readonly stocky: { baseUrl: string; storeName: string; apiKey: string }
}

const creds = JSON.parse(process.env.KURA_PROOF_SANDBOX ?? "{}") as SandboxLine
const dbPath = process.argv[2] ?? "proof.duckdb"
const PAGE = Number(process.env.KURA_PROOF_PAGE_SIZE ?? "50")

const context = (source: "shopify" | "stocky", account: string, batchId: string): MapContext => ({
  source,
  sourceAccount: account,
  syncedAt: new Date().toISOString(),
  batchId,
  timeZoneOf: () => "Asia/Tokyo"
})

const loadRows = (rows: Partial<Record<CanonicalTableName, ReadonlyArray<Record<string, unknown>>>>) =>
  Effect.gen(function* () {
    const wh = yield* Warehouse
    for (const [table, list] of Object.entries(rows)) {
      if (list !== undefined && list.length > 0) yield* wh.load(table as CanonicalTableName, list)
    }
  })

const merge = (parts: ReadonlyArray<Partial<Record<string, ReadonlyArray<Record<string, unknown>>>>>) => {
  const out: Record<string, Array<Record<string, unknown>>> = {}
  for (const p of parts) {
    for (const [t, rows] of Object.entries(p)) {
      if (rows === undefined) continue
      const list = out[t] ?? []
      list.push(...rows)
      out[t] = list
    }
  }
  return out as Partial<Record<CanonicalTableName, ReadonlyArray<Record<string, unknown>>>>
}

const shopifyOrders = Effect.gen(function* () {
  const wh = yield* Warehouse
  const shopify = yield* ShopifyClient
  const key = { source: "shopify", account: creds.shopify.shopDomain, stream: "orders" }
  const cp = yield* wh.checkpoints.get(key)
  if (Option.isSome(cp) && cp.value.cursor === "done") return
  const after = Option.isSome(cp) ? cp.value.cursor : null
  let pageNo = 0
  yield* shopify.pages(Resources.orders, { after, pageSize: PAGE }).pipe(
    Stream.runForEach((page) =>
      Effect.gen(function* () {
        pageNo++
        const ctx = context("shopify", creds.shopify.shopDomain, `orders-${after ?? "start"}-${pageNo}`)
        yield* loadRows(merge(page.records.map((o) => mapShopifyOrder(o, ctx))))
        const cursor = page.hasNextPage && page.endCursor !== null ? page.endCursor : "done"
        yield* wh.checkpoints.put({ key, cursor, updatedAt: Date.now() })
        process.stdout.write(`shopify page ${pageNo} loaded (${page.records.length} orders)\n`)
      })
    )
  )
})

const stockyPurchaseOrders = Effect.gen(function* () {
  const wh = yield* Warehouse
  const stocky = yield* StockyClient
  const key = { source: "stocky", account: creds.stocky.storeName, stream: "purchase_orders" }
  const cp = yield* wh.checkpoints.get(key)
  if (Option.isSome(cp) && cp.value.cursor === "done") return
  const sinceId = Option.isSome(cp) ? Number(cp.value.cursor) : undefined
  let pageNo = 0
  yield* stocky.pages("purchase_orders", sinceId === undefined ? { limit: 10 } : { limit: 10, sinceId }).pipe(
    Stream.runForEach((page) =>
      Effect.gen(function* () {
        pageNo++
        const ctx = context("stocky", creds.stocky.storeName, `po-${sinceId ?? "start"}-${pageNo}`)
        yield* loadRows(merge(page.records.map((po) => mapStockyPurchaseOrder(po, ctx))))
        const resume = (page as { resumeSinceId?: number | null }).resumeSinceId
        if (resume !== undefined && resume !== null)
          yield* wh.checkpoints.put({ key, cursor: String(resume), updatedAt: Date.now() })
        process.stdout.write(`stocky page ${pageNo} loaded (${page.records.length} purchase orders)\n`)
      })
    )
  )
  yield* wh.checkpoints.put({ key, cursor: "done", updatedAt: Date.now() })
})

const transport = HttpTransport.layer({ responseTimeoutMillis: 15_000, connectionRetryDelayMillis: 5 })
const layer = Layer.mergeAll(
  DuckDbWarehouse.layer({ path: dbPath }),
  ShopifyClient.layerStatic({
    shop: creds.shopify.shopDomain,
    accessToken: creds.shopify.accessToken,
    apiVersion: creds.shopify.apiVersion,
    baseUrl: creds.shopify.baseUrl
  }),
  StockyClient.layer({
    storeName: creds.stocky.storeName,
    apiKey: Redacted.make(creds.stocky.apiKey),
    baseUrl: `${creds.stocky.baseUrl}/api/v2`,
    timeZone: "Asia/Tokyo",
    rateLimit: { maxRatePerSecond: 1000, initialRatePerSecond: 500 }
  }).pipe(Layer.provide(transport))
)

// Without a ref'd handle, Node exited mid-run while only a DuckDB call was pending ("unsettled
// top-level await"); this timer keeps the loop alive until the run settles.
const keepAlive = setInterval(() => undefined, 1000)
await Effect.runPromise(Effect.all([shopifyOrders, stockyPurchaseOrders]).pipe(Effect.provide(layer)))
clearInterval(keepAlive)
process.stdout.write("loader: done\n")
// Keep-alive sockets and the DuckDB instance would hold the process open; the work is committed.
process.exit(0)
