/**
 * Shopify streams of one shop: orders, customers, products (+variants), locations, inventory
 * levels, inventory transfers, purchase orders (2026-10+) and deletion events. Each reads an
 * `updated_at` window from its checkpoint (with the client's look-back overlap), so re-runs are
 * incremental; counted resources are committed against Shopify's own count for the same window.
 */
import { BulkJobStore, type DeadLetter, DeadLetterSink, HttpTransport, Telemetry } from "@kura/core"
import {
  type IncrementalOptions,
  type Page,
  type ResourceSpec,
  Resources,
  ShopifyAuth,
  ShopifyBulk,
  ShopifyClient,
  ShopifyConfig,
  type ShopifyError,
  updatedAtQuery,
  versionAtLeast
} from "@kura/shopify-client"
import {
  type CanonicalRows,
  type InventoryCatalog,
  type MapContext,
  makeShopifyOrderMapper,
  makeShopifyProductMapper,
  makeShopifyPurchaseOrderMapper,
  makeShopifyTransferMapper,
  mapShopifyCustomer,
  mapShopifyInventoryItem,
  mapShopifyLocation,
  shopifyEventDeletion
} from "@kura/warehouse"
import { Clock, Effect, Layer, Option, Schema, Stream } from "effect"
import { withApiUsage } from "../ApiUsage.js"
import type { ShopifyShopConfig } from "../AppConfig.js"
import { SyncError, type SyncStream } from "../SyncStream.js"
import { type IngestPage, ingest, mapAll, mapContext, mapLetter } from "./Ingest.js"
import { registryFor, type SourceDeps, sharedFor } from "./SourceDeps.js"

/** The Shopify streams this app syncs, in dependency order (locations and products first). */
export const SHOPIFY_STREAMS = [
  "locations",
  "products",
  "customers",
  "orders",
  "inventory_levels",
  "inventory_transfers",
  "purchase_orders",
  "deletions"
] as const
/** A Shopify stream name. */
export type ShopifyStreamName = (typeof SHOPIFY_STREAMS)[number]

/** The cursor of a windowed stream: the end of the last reconciled window (epoch ms). */
const Cursor = Schema.Struct({ since: Schema.Number })
const decodeCursor = Schema.decodeUnknownOption(Schema.fromJsonString(Cursor))

const CountAnswer = Schema.Struct({
  count: Schema.NullOr(Schema.Struct({ count: Schema.Number, precision: Schema.String }))
})
const ShopAnswer = Schema.Struct({
  shop: Schema.Struct({
    ianaTimezone: Schema.String,
    currencyCode: Schema.String,
    createdAt: Schema.optional(Schema.NullOr(Schema.String))
  })
})

/** Margin below the shop's creation time for a first read (clock skew between Shopify's hosts). */
const SHOP_FLOOR_MARGIN_MS = 86_400_000

/**
 * Where a first read starts: nothing in a shop is updated before the shop existed, so its
 * `createdAt` (less a day) bounds the window. Without it a first bulk export walks every slice
 * from 1970 (over a hundred empty jobs per stream).
 */
export const shopFloor = (createdAt: string | null | undefined, configured: number): number => {
  const at = createdAt == null ? Number.NaN : Date.parse(createdAt)
  return Number.isNaN(at) ? configured : Math.max(configured, at - SHOP_FLOOR_MARGIN_MS)
}

const toSyncError = (e: ShopifyError) =>
  new SyncError({ reason: "Upstream", message: `shopify ${e.operation}: ${e.message}`, cause: e })

/** The client and bulk service (config, auth, a transport, bulk jobs in the warehouse) for one shop. */
export const shopifyClientLayer = (shop: ShopifyShopConfig, deps: SourceDeps) => {
  const config = ShopifyConfig.layer({
    shop: shop.shop,
    apiVersion: shop.apiVersion,
    ...Option.match(shop.apiBaseUrl, { onNone: () => ({}), onSome: (baseUrl) => ({ baseUrl }) })
  })
  const auth =
    shop.auth._tag === "AccessToken"
      ? ShopifyAuth.layerStatic(shop.auth.accessToken)
      : ShopifyAuth.layerClientCredentials({
          clientId: shop.auth.clientId,
          clientSecret: shop.auth.clientSecret
        })
  const client = ShopifyClient.layer.pipe(
    Layer.provide(auth),
    Layer.provideMerge(config),
    Layer.provideMerge(HttpTransport.layer())
  )
  return ShopifyBulk.layer(
    deps.sandbox === true ? { pollMinMillis: 50, pollMaxMillis: 250, busyRetryMillis: 100 } : {}
  ).pipe(Layer.provideMerge(client), Layer.provide(Layer.succeed(BulkJobStore, deps.warehouse.bulkJobs)))
}

/** Windows longer than this are read with a bulk export instead of paging (default 2 days). */
const BULK_THRESHOLD_MS = 2 * 86_400_000
/** Windows with at least this many records are read by bulk export (see SourceDeps). */
const BULK_MIN_RECORDS = 25

/** Records one bulk job should carry when the count is known (a job of this size takes minutes). */
const RECORDS_PER_BULK_JOB = 250_000

/**
 * Bulk slices sized by what the window holds: with Shopify's count known, one job per
 * ~250k records (a small shop's whole history is one job); unknown counts keep the client's
 * adaptive default (30 days, growing while jobs are fast).
 */
export const bulkSlicing = (
  window: { readonly start: number; readonly end: number },
  count: number | null
): { readonly sliceMillis?: number; readonly maxSliceMillis?: number } => {
  if (count === null) return {}
  const length = Math.max(1, window.end - window.start)
  const jobs = Math.max(1, Math.ceil(count / RECORDS_PER_BULK_JOB))
  const slice = Math.max(3_600_000, Math.ceil(length / jobs))
  return { sliceMillis: slice, maxSliceMillis: Math.max(slice, 365 * 86_400_000) }
}

/** What the mappers need to know about the shop besides one record. */
interface ShopContext {
  readonly currency: string
  /** The location online orders sell from (their stock leaves there). */
  readonly onlineLocationId: string | null
  /** Variant and SKU by inventory item, from the variants already loaded. */
  readonly catalog: InventoryCatalog
}

interface StreamSpec<A> {
  readonly name: ShopifyStreamName
  readonly resource: ResourceSpec<A>
  /** Windowed by `updated_at` (or `created_at` for events); false re-reads everything each run. */
  readonly windowField: string | null
  /** The root field that counts the resource for a search, when Shopify has one. */
  readonly countField: string | null
  readonly map: (shop: ShopContext) => (record: A, ctx: MapContext) => CanonicalRows
  readonly deletions?: (record: A, account: string) => IngestPage["deletions"]
  /** Minimum API version (the stream is left out below it). */
  readonly minVersion?: string
}

/** Erases a spec's record type: each spec is only ever used with its own mapper. */
const spec = <A>(s: StreamSpec<A>): StreamSpec<unknown> => s as unknown as StreamSpec<unknown>

const specs: ReadonlyArray<StreamSpec<unknown>> = [
  spec({
    name: "locations",
    resource: Resources.locations,
    windowField: null,
    countField: null,
    map: () => mapShopifyLocation
  }),
  spec({
    name: "products",
    resource: Resources.products,
    windowField: "updated_at",
    countField: "productsCount",
    map: (shop) => makeShopifyProductMapper({ currency: shop.currency })
  }),
  spec({
    name: "customers",
    resource: Resources.customers,
    windowField: "updated_at",
    countField: "customersCount",
    map: () => mapShopifyCustomer
  }),
  spec({
    name: "orders",
    resource: Resources.orders,
    windowField: "updated_at",
    countField: "ordersCount",
    map: (shop) => makeShopifyOrderMapper({ locationOf: () => shop.onlineLocationId })
  }),
  spec({
    name: "inventory_levels",
    resource: Resources.inventoryItems,
    windowField: null,
    countField: null,
    map: () => mapShopifyInventoryItem
  }),
  spec({
    name: "inventory_transfers",
    resource: Resources.inventoryTransfers,
    // A transfer has no updatedAt and Shopify's transfer search has no updated_at filter (it is
    // ignored, with a search warning): a windowed read returned every transfer once per bulk slice
    // (4× the transfers) or, where unknown fields matched nothing, none. Transfers are few and
    // change status long after creation, so each run re-reads them all (idempotent upserts).
    windowField: null,
    countField: null,
    map: (shop) => makeShopifyTransferMapper(shop.catalog),
    minVersion: "2025-07"
  }),
  spec({
    name: "purchase_orders",
    resource: Resources.inventoryPurchaseOrders,
    windowField: "updated_at",
    countField: null,
    map: (shop) => makeShopifyPurchaseOrderMapper(shop.catalog),
    minVersion: "2026-10"
  }),
  spec({
    name: "deletions",
    resource: Resources.events,
    windowField: "created_at",
    countField: null,
    map: () => () => ({}),
    deletions: (event, account) => shopifyEventDeletion(event, { sourceAccount: account })
  })
]

const CatalogRow = Schema.Struct({
  source_id: Schema.String,
  sku: Schema.NullOr(Schema.String),
  inventory_item_id: Schema.String
})

/** The inventory catalog from the shop's variants already in the warehouse (empty before the first products run). */
export const loadCatalog = (deps: SourceDeps, shop: string) =>
  Effect.gen(function* () {
    const rows = yield* deps.warehouse
      .query(
        `SELECT source_id, sku, inventory_item_id FROM ${deps.warehouse.dialect.table("variants")} WHERE source = 'shopify' AND source_account = ${deps.warehouse.dialect.param("shop")} AND inventory_item_id IS NOT NULL AND _deleted_at IS NULL`,
        { shop }
      )
      .pipe(Effect.orElseSucceed(() => []))
    const decoded = rows.flatMap((r) => Option.toArray(Schema.decodeUnknownOption(CatalogRow)(r)))
    const byItem = new Map(decoded.map((v) => [v.inventory_item_id, { variantId: v.source_id, sku: v.sku }]))
    return { byInventoryItemId: (id: string) => byItem.get(id) } satisfies InventoryCatalog
  })

const idOf = (record: unknown): string | null => {
  if (typeof record !== "object" || record === null || !("id" in record)) return null
  return typeof record.id === "string" ? record.id : null
}

/** The streams a shop gets on its API version (some resources need a newer version). */
const shopifyStreamSpecsFor = (shop: ShopifyShopConfig) =>
  specs.filter((s) => s.minVersion === undefined || versionAtLeast(shop.apiVersion, s.minVersion))

/** The stream names of one shop, without building clients (status needs only the keys). */
export const shopifyStreamNames = (shop: ShopifyShopConfig): ReadonlyArray<string> =>
  shopifyStreamSpecsFor(shop).map((s) => s.name)

/** Builds the Shopify streams of one shop. */
export const makeShopifyStreams = (
  shop: ShopifyShopConfig,
  deps: SourceDeps,
  intervalFor: (stream: string) => number
): ReadonlyArray<SyncStream> => {
  const registry = registryFor(deps, "shopify")
  const shared = sharedFor(deps, shopifyClientLayer(shop, deps))
  return shopifyStreamSpecsFor(shop).map(
    (spec): SyncStream => ({
      key: { source: "shopify", account: shop.shop, stream: spec.name },
      intervalMs: intervalFor(spec.name),
      run: (ctx) =>
        withApiUsage(registry, (runRegistry) =>
          shared.provide(runShopifyStream(spec, shop, { ...deps, warehouse: deps.warehouse }, ctx)).pipe(
            Effect.provideService(Telemetry, runRegistry),
            Effect.catchTag("ShopifyError", (e) => Effect.fail(toSyncError(e)))
          )
        ).pipe(Effect.map(([result, api]) => ({ ...result, api })))
    })
  )
}

const runShopifyStream = <A>(
  spec: StreamSpec<A>,
  shop: ShopifyShopConfig,
  deps: SourceDeps,
  ctx: Parameters<SyncStream["run"]>[0]
) =>
  Effect.gen(function* () {
    const client = yield* ShopifyClient
    const key = { source: "shopify" as const, account: shop.shop, stream: spec.name }
    const info = yield* client.query("query KuraShop { shop { ianaTimezone currencyCode createdAt } }")
    const shopInfo = yield* Schema.decodeUnknownEffect(ShopAnswer)(info.data).pipe(
      Effect.mapError(
        (e) => new SyncError({ reason: "Upstream", message: `shopify shop query: ${e.message}`, cause: e })
      )
    )
    const zone = shopInfo.shop.ianaTimezone
    const locations =
      spec.name === "orders" ? yield* Stream.runCollect(client.pages(Resources.locations)) : []
    const online = [...locations].flatMap((p) => p.records).find((l) => l.fulfillsOnlineOrders && l.isActive)
    const catalog = yield* loadCatalog(deps, shop.shop)
    const map = spec.map({
      currency: shopInfo.shop.currencyCode,
      onlineLocationId: online?.legacyResourceId ?? null,
      catalog
    })
    const since = Option.flatMap(ctx.checkpoint, (c) => decodeCursor(c.cursor)).pipe(
      Option.map((c) => c.since),
      Option.getOrNull
    )
    const opts: IncrementalOptions = {
      since,
      floor: shopFloor(shopInfo.shop.createdAt, deps.shopifyFloor ?? 0)
    }
    const window = yield* client.windowOf(opts)
    const search = spec.windowField === null ? null : updatedAtQuery(window, undefined, spec.windowField)
    // productsCount is trusted for full reads only: some backends (the sandbox among them) ignore
    // its search, which would fail every incremental run against a whole-catalogue count.
    const countField = spec.countField === "productsCount" && since !== null ? null : spec.countField
    const reportedCount =
      countField === null
        ? null
        : yield* Effect.map(
            client.query(
              `query KuraCount($q: String) { count: ${countField}(query: $q, limit: null) { count precision } }`,
              {
                q: search
              }
            ),
            (r) => Option.getOrNull(Schema.decodeUnknownOption(CountAnswer)(r.data))?.count ?? null
          )
    const progress = deps.progress
    // Count what the client dead-letters while decoding: those records are accounted for, not lost.
    let letters = 0
    const sink = DeadLetterSink.of({
      write: (batch: ReadonlyArray<DeadLetter>) => {
        letters += batch.length
        return deps.warehouse.deadLetters.write(
          batch.map((l) => ({ ...l, key: { ...l.key, account: shop.shop, stream: spec.name } }))
        )
      }
    })
    const bulk = yield* ShopifyBulk
    const useBulk =
      spec.windowField === "updated_at" &&
      (window.end - window.start > (deps.shopifyBulkThresholdMs ?? BULK_THRESHOLD_MS) ||
        (reportedCount?.count ?? 0) >= (deps.shopifyBulkMinRecords ?? BULK_MIN_RECORDS))
    const toPage = (records: ReadonlyArray<A>, rejected: number, id: string, now: number): IngestPage => {
      const mctx = mapContext(key, id, new Date(now).toISOString(), () => zone)
      const mapped = mapAll(records, (r) => map(r, mctx), mapLetter(key, idOf, now))
      return {
        raw: records,
        rows: mapped.rows,
        deadLetters: mapped.deadLetters,
        rejected,
        ...(spec.deletions === undefined
          ? {}
          : { deletions: records.flatMap((r) => spec.deletions?.(r, shop.shop) ?? []) })
      }
    }
    return yield* ingest({
      ctx,
      key,
      target: deps,
      toError: (e: ShopifyError | SyncError) => (e._tag === "SyncError" ? e : toSyncError(e)),
      pages: (batchId) => {
        let n = 0
        let seen = 0
        const pageOf = (records: ReadonlyArray<A>) =>
          Effect.map(Clock.currentTimeMillis, (now) => {
            n++
            // Paged reads report their own rejects; bulk ones only through the sink.
            const rejected = letters - seen
            seen = letters
            return toPage(records, rejected, batchId(n), now)
          })
        return (
          useBulk
            ? bulk
                .export(spec.resource, {
                  window,
                  ...bulkSlicing(window, reportedCount?.count ?? null)
                })
                .pipe(Stream.grouped(1000))
            : client.pages(spec.resource, { search }).pipe(Stream.map((p: Page<A>) => p.records))
        ).pipe(Stream.mapEffect(pageOf))
      },
      ...(progress === undefined
        ? {}
        : {
            onPage: (t) =>
              Effect.sync(() => {
                progress(`shopify ${spec.name}: ${t.fetched} records`)
              })
          }),
      finish: (t) =>
        Effect.succeed({
          // Windowed streams resume at the window's end; full re-reads keep the time for the record.
          cursor: JSON.stringify({ since: window.end }),
          reportedCount:
            reportedCount !== null && reportedCount.precision === "EXACT" ? reportedCount.count : null,
          ...(t.fetched < 0 ? {} : {})
        })
    }).pipe(Effect.provideService(DeadLetterSink, sink))
  })
