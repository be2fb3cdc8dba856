/**
 * Shopify streams of one shop: orders, customers, products (+variants), locations, inventory
 * levels, inventory transfers, purchase orders (2026-10+) and deletion events. Each reads an
 * `updated_at` window from its checkpoint (with the client's look-back overlap), so re-runs are
 * incremental; counted resources are committed against Shopify's own count for the same window.
 */
import {
  BulkJobStore,
  type DeadLetter,
  DeadLetterSink,
  type StreamKey,
  streamKeyToString,
  Telemetry
} from "@kura/core"
import {
  anyInventoryLevelChanged,
  changedInventoryLevels,
  changedInventoryLevelsBulk,
  changedLevelsProbePays,
  type IncrementalOptions,
  isClosedTransfer,
  LOCATION_SUMMARIES_FIELD,
  LocationSummary,
  LocationSummaryPage,
  legacyIdOf,
  locationSummaries,
  locationsFingerprint,
  type Page,
  type ResourceSpec,
  Resources,
  ShopifyBulk,
  ShopifyClient,
  type ShopifyError,
  transfersToRecheckQuery,
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
import { Clock, Effect, Layer, Option, Schema, Semaphore, Stream } from "effect"
import { withApiUsage } from "../ApiUsage.js"
import type { ShopifyShopConfig } from "../AppConfig.js"
import { decodeWith, mapWith, type Replayer, type Replayers, ReplayFailed } from "../DeadLetterReplay.js"
import { relinkVariants } from "../RelinkVariants.js"
import { shopifyShopClientLayer } from "../ShopifyShopClient.js"
import { ACCOUNT_STATE_PREFIX, SyncError, type SyncStream } from "../SyncStream.js"
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

/**
 * The cursor of a stream: the end of the last reconciled window (epoch ms). The inventory streams
 * add when their last whole read happened (`fullAt`), the highest transfer id seen (`lastId`, a
 * decimal string), and whether Shopify was seen ignoring the narrowing filter (`filterIgnored`).
 */
const Cursor = Schema.Struct({
  since: Schema.Number,
  fullAt: Schema.optional(Schema.Number),
  lastId: Schema.optional(Schema.String),
  /** Transfers (legacy ids) still open when last read: re-read by id until they close. */
  open: Schema.optional(Schema.Array(Schema.String)),
  /** The locations stream: the fingerprint of the location summaries it last landed. */
  seen: Schema.optional(Schema.String),
  filterIgnored: Schema.optional(Schema.Boolean)
})
type Cursor = typeof Cursor.Type
const decodeCursor = Schema.decodeUnknownOption(Schema.fromJsonString(Cursor))

/** More transfers open than this are re-read whole (one search cannot name them all). */
const MAX_OPEN_TRANSFERS = 100

/** Default cadence of the whole re-read of the stock snapshot and of the transfers: daily. */
export const INVENTORY_FULL_EVERY_MS = 86_400_000

/** Locations are read whole at least this often even when their summaries say nothing changed. */
export const LOCATIONS_FULL_EVERY_MS = 86_400_000

/**
 * Whether a stream whose last whole read was at `fullAt` reads everything again at `now`: on the
 * first run, and on the first run of each new period of `everyMs` (aligned to the epoch, so with
 * the daily default the first run of every UTC day takes the whole snapshot, which gives each
 * `snapshot_date` a complete picture). `everyMs <= 0` reads everything every run.
 */
export const wholeReadDue = (fullAt: number | undefined, now: number, everyMs: number): boolean =>
  fullAt === undefined || everyMs <= 0 || Math.floor(now / everyMs) !== Math.floor(fullAt / everyMs)

const CountAnswer = Schema.Struct({
  count: Schema.NullOr(Schema.Struct({ count: Schema.Number, precision: Schema.String }))
})
const ShopAnswer = Schema.Struct({
  shop: Schema.Struct({
    ianaTimezone: Schema.String,
    currencyCode: Schema.String,
    createdAt: Schema.optional(Schema.NullOr(Schema.String))
  }),
  locations: LocationSummaryPage
})

/**
 * The pass's one account-wide query: the shop's zone, currency and creation time, and a summary
 * of every location (1 point each: what orders and the stock read need, and what tells the
 * locations stream whether to read them again).
 */
const SHOP_QUERY = `query KuraShop { shop { ianaTimezone currencyCode createdAt } ${LOCATION_SUMMARIES_FIELD} }`

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
  const client = shopifyShopClientLayer(shop)
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
  /** Whether the count field takes `limit` (every count but `eventsCount`, capped at 10,000). */
  readonly countLimit?: false
  /** Search terms AND-ed to the window's. */
  readonly search?: string
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
    // The stock snapshot. The first run of each period (daily by default,
    // `shopifyInventoryFullEveryMs`) reads every item with its levels, so each `snapshot_date`
    // has the whole picture; other runs read only the levels whose `updatedAt` moved since the
    // cursor, location by location (`Location.inventoryLevels(query: "updated_at:…")`), and land
    // them as items carrying just those levels. A cell with no new row keeps its last observation
    // (the reconciliation compares each cell with its own previous snapshot). Whether Shopify
    // honours that filter is UNCONFIRMED: a read that returns levels older than the window means
    // it was ignored (the read was then whole, so still correct); the cursor remembers it and later
    // runs read whole until the next periodic read probes again.
    windowField: null,
    countField: null,
    map: () => mapShopifyInventoryItem
  }),
  spec({
    name: "inventory_transfers",
    resource: Resources.inventoryTransfers,
    // A transfer has no updatedAt and Shopify's transfer search has no updated_at filter (it is
    // ignored, with a search warning): a windowed read returned every transfer once per bulk slice
    // (4× the transfers) or, where unknown fields matched nothing, none. A transfer stops changing
    // once TRANSFERRED or CANCELED, and ids grow, so an incremental run re-reads only transfers
    // created since the last one seen plus, by id, those still open when last read (the cursor
    // keeps them; a status filter would miss one that closed since): `transfersToRecheckQuery`.
    // The first run of each period (daily by default, `shopifyTransfersFullEveryMs`), and any run
    // with more than MAX_OPEN_TRANSFERS open, re-reads them all, which bounds what an UNCONFIRMED
    // `id` filter could miss. A run that gets back closed transfers it did not ask for knows the
    // filter was ignored (that read was whole: still correct) and reads whole until the next
    // periodic read probes again. Upserts are idempotent either way.
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
    // Only deletions: Shopify's `events` lists every event of the shop (each order's creation,
    // payment, fulfilment…, 1 point each), while the mapper uses only `destroy`/`delete` ones.
    // `action` is a documented events filter; which verb deletions carry is UNCONFIRMED, so the
    // search keeps exactly the two the mapper accepts (it loses nothing the mapper would use), and
    // a backend that ignores the filter returns every event, sorted by the mapper as before. The
    // count (1 point) skips the read when there is none and sends a burst of deletions to a bulk
    // job (≈ 11 points) instead of 1 point each.
    search: "(action:destroy OR action:delete)",
    countField: "eventsCount",
    countLimit: false,
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

/**
 * A catalog read on first need: `catalog` answers from it once `ensure` has run (before the first
 * record is mapped), so a run with nothing to map spends no warehouse query on it.
 */
export const lazyCatalog = (
  deps: SourceDeps,
  account: string
): { readonly catalog: InventoryCatalog; readonly ensure: Effect.Effect<void> } => {
  let loaded: InventoryCatalog | undefined
  return {
    catalog: { byInventoryItemId: (id) => loaded?.byInventoryItemId(id) },
    ensure: Effect.suspend(() =>
      loaded !== undefined
        ? Effect.void
        : Effect.map(loadCatalog(deps, account), (c) => {
            loaded = c
          })
    )
  }
}

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

/**
 * How long one `shop` / `locations` answer serves the account's streams: within a process (a
 * service's passes) and across processes (a scheduled `kura-sync run`), through its stored copy.
 */
export const SHOP_INFO_TTL_MS = 10 * 60_000

interface ShopInfo {
  readonly shop: typeof ShopAnswer.Type.shop
  /** Every location, summarised (for the online location, the stock read and change detection). */
  readonly locations: ReadonlyArray<LocationSummary>
}

/** The stored form of {@link ShopInfo}: decoded again when read back, never trusted as is. */
const StoredShopInfo = Schema.Struct({
  shop: ShopAnswer.fields.shop,
  locations: Schema.Array(LocationSummary)
})

/**
 * Where a shop's last `shop` answer is kept (`_kura_sync_state`, a checkpoint beside the shop's
 * streams, erased with the shop by `shop/redact`), under the account-state prefix, so no pass,
 * status line or backfill takes it for a stream.
 */
export const shopInfoKey = (shop: string): StreamKey => ({
  source: "shopify",
  account: shop,
  stream: `${ACCOUNT_STATE_PREFIX}shop-info`
})

/** Account-wide answers the streams of one shop share instead of each asking Shopify. */
interface ShopShared {
  /** The shop's facts and its locations: one `shop` query per run pass, not per stream. */
  readonly shopInfo: Effect.Effect<ShopInfo, ShopifyError | SyncError, ShopifyClient>
}

/** A value kept for a while and shared by concurrent callers. */
interface Memo<A, E, R> {
  readonly get: Effect.Effect<A, E, R>
}

/**
 * Memoizes `effect` for `ttlMs` across concurrent callers (they wait for the one in flight);
 * failures are not kept, so the next caller asks again. `effect` says when its value was
 * observed (a stored answer is as old as its fetch, not as its read).
 */
const memo = <A, E, R>(
  effect: Effect.Effect<{ readonly at: number; readonly value: A }, E, R>,
  ttlMs: number
): Memo<A, E, R> => {
  const lock = Semaphore.makeUnsafe(1)
  let kept: { readonly at: number; readonly value: A } | undefined
  return {
    get: lock.withPermits(1)(
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        if (kept !== undefined && now - kept.at < ttlMs) return kept.value
        kept = yield* effect
        return kept.value
      })
    )
  }
}

/**
 * A stored answer younger than the TTL, or nothing. Unreadable state or a copy that no longer
 * decodes only costs the query: the answer is asked again.
 */
const storedShopInfo = (deps: SourceDeps, shop: string, now: number) =>
  deps.warehouse.checkpoints.get(shopInfoKey(shop)).pipe(
    Effect.map(
      Option.flatMap((c) =>
        c.updatedAt <= now && now - c.updatedAt < SHOP_INFO_TTL_MS
          ? Option.map(Schema.decodeUnknownOption(StoredShopInfo)(c.meta), (value) => ({
              at: c.updatedAt,
              value
            }))
          : Option.none()
      )
    ),
    Effect.catch((e) =>
      Effect.logWarning(`shopify ${shop}: stored shop answer unreadable, asking Shopify: ${e.message}`).pipe(
        Effect.as(Option.none())
      )
    )
  )

const makeShopShared = (shop: string, deps: SourceDeps): ShopShared => ({
  shopInfo: memo(
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const stored = yield* storedShopInfo(deps, shop, now)
      if (Option.isSome(stored)) return stored.value
      const client = yield* ShopifyClient
      const info = yield* client.query(SHOP_QUERY)
      const answer = yield* Schema.decodeUnknownEffect(ShopAnswer)(info.data).pipe(
        Effect.mapError(
          (e) => new SyncError({ reason: "Upstream", message: `shopify shop query: ${e.message}`, cause: e })
        )
      )
      const value: ShopInfo = { shop: answer.shop, locations: yield* locationSummaries(answer.locations) }
      // Kept for the next process; a failed write only means that one asks Shopify again.
      yield* deps.warehouse.checkpoints
        .put({
          key: shopInfoKey(shop),
          cursor: new Date(now).toISOString(),
          updatedAt: now,
          meta: { shop: value.shop, locations: value.locations }
        })
        .pipe(
          Effect.catch((e) =>
            Effect.logWarning(
              `shopify ${shop}: shop answer not stored (${streamKeyToString(shopInfoKey(shop))}): ${e.message}`
            )
          )
        )
      return { at: now, value }
    }),
    SHOP_INFO_TTL_MS
  ).get
})

/** Builds the Shopify streams of one shop. */
export const makeShopifyStreams = (
  shop: ShopifyShopConfig,
  deps: SourceDeps,
  intervalFor: (stream: string) => number
): ReadonlyArray<SyncStream> => {
  const registry = registryFor(deps, "shopify")
  const shared = sharedFor(deps, shopifyClientLayer(shop, deps))
  const account = makeShopShared(shop.shop, deps)
  return shopifyStreamSpecsFor(shop).map(
    (spec): SyncStream => ({
      key: { source: "shopify", account: shop.shop, stream: spec.name },
      intervalMs: intervalFor(spec.name),
      run: (ctx) =>
        withApiUsage(
          registry,
          (runRegistry) =>
            shared.provide(runShopifyStream(spec, shop, deps, account, ctx)).pipe(
              Effect.provideService(Telemetry, runRegistry),
              Effect.catchTag("ShopifyError", (e) => Effect.fail(toSyncError(e)))
            ),
          ctx.reportApiUsage
        ).pipe(
          Effect.map(([result, api]) => ({ ...result, api })),
          Effect.tap((result) =>
            spec.name === "products" && result.rows > 0
              ? // Logged, not raised: the products run itself succeeded, and the next products run
                // that loads rows, or `kura-sync dead-letters replay`, tries again.
                relinkVariants(deps.warehouse, shop.shop).pipe(
                  Effect.catch((e) =>
                    Effect.logWarning(`linking lines to late variants of ${shop.shop} failed: ${e.message}`)
                  )
                )
              : Effect.void
          )
        )
    })
  )
}

/** How one run of a stream reads: its records and the cursor to commit after them. */
interface ReadPlan<A> {
  /** Whole (periodic or first) read, for the inventory streams; the others are always windowed. */
  readonly whole: boolean
  readonly records: Stream.Stream<ReadonlyArray<A>, ShopifyError>
  readonly cursor: () => Cursor
}

const transferLegacyId = (record: unknown): bigint | null => {
  const id = idOf(record)
  return id === null ? null : legacyIdOf(id)
}

const statusOf = (record: unknown): string | null =>
  typeof record === "object" && record !== null && "status" in record && typeof record.status === "string"
    ? record.status
    : null

/**
 * The count a read is reconciled against, when it differs from the count asked before the read.
 * Shopify counts the window and reads it at two moments, and a record updated in between crosses
 * the window's end: it leaves (counted, then not read) or, inside the end's last second, enters
 * (read, not counted). A busy shop does this on every few runs, which must not fail them. So the
 * window is counted again after the read (`after`, 1 point, only on a difference):
 * - the read equals the second count: the window moved before the read, and the read is whole
 *   against the window as it is now, which is the count reported;
 * - the read lies between the two counts: records moved during the read itself, which no count
 *   can check: nothing is reported (not checked), and the log says why;
 * - otherwise (outside both, or no exact second count): the first count stands and the run is
 *   incomplete, as a real loss or duplication must be.
 * Records that left are read by the next run (their new `updated_at` is past this window's end).
 */
export const settleCount = (
  before: number,
  after: number | null,
  loaded: number
): { readonly reportedCount: number | null; readonly moved?: string } => {
  if (after === null) return { reportedCount: before }
  if (after === loaded)
    return {
      reportedCount: after,
      moved: `the window changed between its count and its read (${before} counted before the read, ${after} after); the read matches the count after it`
    }
  if (loaded >= Math.min(before, after) && loaded <= Math.max(before, after))
    return {
      reportedCount: null,
      moved: `records crossed the window's end during the read (${before} counted before it, ${loaded} read, ${after} counted after): this run's count is not checked; the next run reads them`
    }
  return { reportedCount: before }
}

const runShopifyStream = <A>(
  spec: StreamSpec<A>,
  shop: ShopifyShopConfig,
  deps: SourceDeps,
  account: ShopShared,
  ctx: Parameters<SyncStream["run"]>[0]
) =>
  Effect.gen(function* () {
    const client = yield* ShopifyClient
    const key = { source: "shopify" as const, account: shop.shop, stream: spec.name }
    const shopInfo = yield* account.shopInfo
    const zone = shopInfo.shop.ianaTimezone
    const online = shopInfo.locations.find((l) => l.fulfillsOnlineOrders && l.isActive)
    // Only the transfer and purchase-order mappers resolve inventory items to variants. They read
    // the catalogue before mapping their first record, not at start: a run with nothing new (most
    // incremental runs) spends no warehouse query on it.
    const { catalog, ensure } = lazyCatalog(deps, shop.shop)
    const ensureCatalog =
      spec.name === "inventory_transfers" || spec.name === "purchase_orders" ? ensure : Effect.void
    const map = spec.map({
      currency: shopInfo.shop.currencyCode,
      onlineLocationId: online?.legacyResourceId ?? null,
      catalog
    })
    const previous = Option.getOrUndefined(Option.flatMap(ctx.checkpoint, (c) => decodeCursor(c.cursor)))
    const since = previous?.since ?? null
    const opts: IncrementalOptions = {
      since,
      floor: shopFloor(shopInfo.shop.createdAt, deps.shopifyFloor ?? 0)
    }
    const window = yield* client.windowOf(opts)
    const startedAt = yield* Clock.currentTimeMillis
    const search = spec.windowField === null ? null : updatedAtQuery(window, spec.search, spec.windowField)
    // The count (1 point) is asked before reading: an exact 0 means the window holds nothing, so
    // the read (an empty page costs 2, a bulk job 11) is skipped. It reads the same search as the
    // page, so a backend that ignores the search counts everything and the page is read as before.
    const countNow =
      spec.countField === null
        ? Effect.succeed(null)
        : Effect.map(
            client.query(
              `query KuraCount($q: String) { count: ${spec.countField}(query: $q${spec.countLimit === false ? "" : ", limit: null"}) { count precision } }`,
              {
                q: search
              }
            ),
            (r) => Option.getOrNull(Schema.decodeUnknownOption(CountAnswer)(r.data))?.count ?? null
          )
    const counted = yield* countNow
    const nothingInWindow = counted !== null && counted.precision === "EXACT" && counted.count === 0
    // productsCount is trusted to reconcile full reads only: some backends ignore its search,
    // which would fail every incremental run against a whole-catalogue count. (Such a count is
    // never 0 for a shop with products, so it cannot skip a read that had something to return.)
    // Events are never reconciled by count: they may appear in Shopify minutes late.
    const reportedCount =
      (spec.countField === "productsCount" && since !== null) || spec.name === "deletions" ? null : counted
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
    // Deletion events size their bulk read by their count alone (a long first window with few
    // deletions is one page); the updated_at streams also by a window too long to page.
    const bulkCount = spec.windowField === "created_at" ? counted : reportedCount
    const useBulk =
      (spec.windowField === "updated_at" &&
        window.end - window.start > (deps.shopifyBulkThresholdMs ?? BULK_THRESHOLD_MS)) ||
      (spec.windowField !== null &&
        (bulkCount?.count ?? 0) >= (deps.shopifyBulkMinRecords ?? BULK_MIN_RECORDS))
    const paged = (options: { readonly search: string | null }) =>
      client.pages(spec.resource, options).pipe(Stream.map((p: Page<A>) => p.records))

    const plan: ReadPlan<A> = yield* Effect.gen(function* () {
      if (spec.name === "inventory_levels") {
        const periodic = wholeReadDue(
          previous?.fullAt,
          startedAt,
          deps.shopifyInventoryFullEveryMs ?? INVENTORY_FULL_EVERY_MS
        )
        // A backend seen ignoring the filter is read whole until the next periodic read probes again.
        const ignored = previous?.filterIgnored === true && !periodic
        const whole = periodic || ignored
        const fullAt = periodic ? startedAt : previous?.fullAt
        const keep = (c: Cursor): Cursor => ({
          ...c,
          ...(fullAt === undefined ? {} : { fullAt }),
          ...(ignored ? { filterIgnored: true } : {})
        })
        if (whole)
          return { whole, records: paged({ search: null }), cursor: () => keep({ since: window.end }) }
        const all = shopInfo.locations
        let outside = 0
        // Paging costs ≈ 13 points per changed level (its item and eight quantities), a bulk job
        // ≈ 11 points whatever it returns: with bulk allowed (not KURA_SHOPIFY_BULK=off) and up to
        // five concurrent bulk jobs (2026-01+, so the orders job does not wait), one job reads
        // them all (measured at 10k orders, 1% mutated: 31 levels, 412 → 25 points, BENCHMARKS.md
        // §3). A probe request asks first only where it costs less than the job (one or two
        // locations); from three locations on it costs more than the job it could spare.
        const byBulk =
          (deps.shopifyBulkMinRecords ?? BULK_MIN_RECORDS) < Number.MAX_SAFE_INTEGER &&
          versionAtLeast(shop.apiVersion, "2026-01")
        const changed =
          byBulk && changedLevelsProbePays(all.length)
            ? yield* anyInventoryLevelChanged({ window, locations: all.length })
            : Option.none<boolean>()
        const pages = !byBulk
          ? changedInventoryLevels({ locationIds: all.map((l) => l.id), window })
          : Option.getOrElse(changed, () => true)
            ? changedInventoryLevelsBulk({ window }).pipe(Stream.provideService(ShopifyBulk, bulk))
            : Stream.empty
        const records = pages.pipe(
          Stream.provideService(ShopifyClient, client),
          Stream.map((page) => {
            outside += page.outsideWindow
            // The spec's resource is `inventoryItems`: the helper yields that record type.
            return page.items as unknown as ReadonlyArray<A>
          })
        )
        return {
          whole,
          records,
          cursor: () => keep({ since: window.end, ...(outside > 0 ? { filterIgnored: true } : {}) })
        }
      }
      if (spec.name === "inventory_transfers") {
        const periodic = wholeReadDue(
          previous?.fullAt,
          startedAt,
          deps.shopifyTransfersFullEveryMs ?? INVENTORY_FULL_EVERY_MS
        )
        const ignored = previous?.filterIgnored === true && !periodic
        const before = previous?.lastId === undefined ? null : BigInt(previous.lastId)
        const wasOpen = new Set(previous?.open ?? [])
        const whole = periodic || ignored || before === null || wasOpen.size > MAX_OPEN_TRANSFERS
        const fullAt = periodic ? startedAt : previous?.fullAt
        let lastId = before ?? 0n
        let stale = 0
        const open: Array<string> = []
        const records = paged({
          search: whole || before === null ? null : transfersToRecheckQuery(before, [...wasOpen])
        }).pipe(
          Stream.map((page) => {
            for (const r of page) {
              const id = transferLegacyId(r)
              if (id === null) continue
              if (id > lastId) lastId = id
              const status = statusOf(r)
              if (status === null || !isClosedTransfer(status)) open.push(id.toString())
              if (!whole && before !== null && id <= before && !wasOpen.has(id.toString())) stale++
            }
            return page
          })
        )
        return {
          whole,
          records,
          cursor: () => ({
            since: window.end,
            lastId: lastId.toString(),
            open,
            ...(fullAt === undefined ? {} : { fullAt }),
            ...(stale > 0 || ignored ? { filterIgnored: true } : {})
          })
        }
      }
      if (spec.name === "locations") {
        // The pass's `shop` query summarised every location (1 point each); the whole records
        // (2 each, with the address) are read only when those summaries differ from the ones last
        // landed (a location added, removed, deactivated or updated), and at least daily. A
        // location changed between the summary and the read is read new and fingerprinted old,
        // so the next pass reads again: never the other way round.
        const periodic = wholeReadDue(previous?.fullAt, startedAt, LOCATIONS_FULL_EVERY_MS)
        const seen = locationsFingerprint(shopInfo.locations)
        const unchanged = !periodic && previous?.seen === seen
        const fullAt = periodic ? startedAt : previous?.fullAt
        return {
          whole: true,
          records: unchanged ? Stream.empty : paged({ search }),
          cursor: () => ({ since: window.end, seen, ...(fullAt === undefined ? {} : { fullAt }) })
        }
      }
      return {
        whole: spec.windowField === null,
        records: nothingInWindow
          ? Stream.empty
          : useBulk
            ? bulk
                .export(spec.resource, {
                  window,
                  ...bulkSlicing(window, bulkCount?.count ?? null),
                  ...(spec.search === undefined ? {} : { search: spec.search })
                })
                .pipe(Stream.grouped(1000))
            : paged({ search }),
        cursor: () => ({ since: window.end })
      }
    })

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
          Effect.andThen(
            records.length === 0 ? Effect.void : ensureCatalog,
            Effect.map(Clock.currentTimeMillis, (now) => {
              n++
              // Paged reads report their own rejects; bulk ones only through the sink.
              const rejected = letters - seen
              seen = letters
              return toPage(records, rejected, batchId(n), now)
            })
          )
        return plan.records.pipe(Stream.mapEffect(pageOf))
      },
      ...(progress === undefined
        ? {}
        : {
            onPage: (t) =>
              Effect.sync(() => {
                progress(`shopify ${spec.name}${plan.whole ? "" : " (changed)"}: ${t.fetched} records`)
              })
          }),
      finish: (t) =>
        Effect.gen(function* () {
          const cursor = plan.cursor()
          if (cursor.filterIgnored === true && previous?.filterIgnored !== true)
            progress?.(
              `shopify ${spec.name}: Shopify ignored the narrowing search (records outside it came back); reading whole until the next periodic read`
            )
          const before =
            reportedCount !== null && reportedCount.precision === "EXACT" ? reportedCount.count : null
          if (before === null || before === t.accounted)
            return { cursor: JSON.stringify(cursor), reportedCount: before }
          const after = yield* countNow
          const settled = settleCount(before, after?.precision === "EXACT" ? after.count : null, t.accounted)
          if (settled.moved !== undefined)
            yield* Effect.logInfo(`shopify ${spec.name}: ${settled.moved}`).pipe(
              Effect.annotateLogs({ stream: streamKeyToString(key) })
            )
          return { cursor: JSON.stringify(cursor), reportedCount: settled.reportedCount }
        })
    }).pipe(Effect.provideService(DeadLetterSink, sink))
  })

/**
 * Dead-letter replay for one shop (`kura-sync dead-letters replay`): each stream's own resource
 * Schema and mapper, with the shop context its runs build (the `shop` query for currency and zone,
 * `locations` for the online location of orders, the warehouse catalogue for transfers and purchase
 * orders), asked once per replay. Keyed `shopify/<shop>/<stream>`. Deletion events carry no rows.
 */
export const makeShopifyReplayers = (shop: ShopifyShopConfig, deps: SourceDeps): Replayers => {
  const shared = sharedFor(deps, shopifyClientLayer(shop, deps))
  const account = makeShopShared(shop.shop, deps)
  const out: Record<string, Replayer> = {}
  for (const spec of shopifyStreamSpecsFor(shop)) {
    out[`shopify/${shop.shop}/${spec.name}`] = {
      replay: (letter, payload, ctx) =>
        Effect.gen(function* () {
          const record = yield* decodeWith(spec.resource.schema)(payload)
          const context = yield* shared
            .provide(
              Effect.gen(function* () {
                const info = yield* account.shopInfo
                const online = info.locations.find((l) => l.fulfillsOnlineOrders && l.isActive)
                const catalog: InventoryCatalog =
                  spec.name === "inventory_transfers" || spec.name === "purchase_orders"
                    ? yield* loadCatalog(deps, shop.shop)
                    : { byInventoryItemId: () => undefined }
                return {
                  zone: info.shop.ianaTimezone,
                  shop: {
                    currency: info.shop.currencyCode,
                    onlineLocationId: online?.legacyResourceId ?? null,
                    catalog
                  }
                }
              })
            )
            .pipe(
              Effect.mapError(
                (e) => new ReplayFailed({ reason: "Context", message: `the shop's facts: ${e.message}` })
              )
            )
          const key = { source: "shopify" as const, account: letter.key.account, stream: spec.name }
          const mctx = mapContext(key, ctx.batchId, ctx.syncedAt, () => context.zone)
          return { rows: yield* mapWith(() => spec.map(context.shop)(record, mctx)) }
        })
    }
  }
  return out
}
