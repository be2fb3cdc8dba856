/**
 * Shopify windows: the scope check before any work, the API-reported count of a window, and the
 * bulk export of a window into the raw lake and the warehouse.
 */
import type { HttpTransport } from "@kura/core"
import { type ResourceSpec, ShopifyBulk, ShopifyClient } from "@kura/shopify-client"
import { type ObjectStore, RawLake, RawLoader, Warehouse } from "@kura/warehouse"
import { Effect, Schema, Stream } from "effect"
import { BackfillError } from "./BackfillError.js"
import { type CanonicalLoader, makeCanonicalLoader, readShopInfo } from "./Canonical.js"
import { accountBatch } from "./Landing.js"
import type { PlannedWindow } from "./Plan.js"
import { type FastPathOptions, makeFastOrdersWindow } from "./ShopifyFastPath.js"
import { batchIdOf, countWindow, rawKey, resourceOf } from "./ShopifyWindow.js"
import type { WindowOutcome } from "./WindowOutcome.js"
import type { WindowSource } from "./WindowSource.js"

export { batchIdOf, countWindow, rawKey } from "./ShopifyWindow.js"

const DAY = 86_400_000
/** Without `read_all_orders`, Shopify shows only the last 60 days of orders. */
const ORDER_HISTORY_WITHOUT_SCOPE = 60 * DAY

/**
 * The resource with a pass-through schema: the lake keeps each reassembled record exactly as
 * Shopify sent it; typed decoding belongs to the canonical step.
 */
const rawSpec = (spec: ResourceSpec<unknown>): ResourceSpec<unknown> => ({ ...spec, schema: Schema.Unknown })

const ScopesData = Schema.Struct({
  currentAppInstallation: Schema.Struct({
    accessScopes: Schema.Array(Schema.Struct({ handle: Schema.String }))
  })
})

const missingScope = (from: number) =>
  new BackfillError({
    reason: "MissingScope",
    message: `The app lacks the read_all_orders scope, so Shopify would show only the last 60 days of orders, but --from is ${new Date(from).toISOString().slice(0, 10)}. Nothing was loaded. Fix: add read_all_orders to the app's scopes (request access in the Partner/Dev Dashboard), reinstall, then re-run.`
  })

/**
 * Fails with `MissingScope` before any work when orders older than 60 days are asked for without
 * `read_all_orders`. Reads the granted scopes; where that query is unavailable it probes with an
 * explicit old-order count, which Shopify denies naming the scope.
 */
export const checkOrderScope = Effect.fn("ShopifyBackfill.checkOrderScope")(function* (
  from: number,
  now: number
) {
  if (from >= now - ORDER_HISTORY_WITHOUT_SCOPE) return
  const client = yield* ShopifyClient
  const granted = yield* client
    .query(
      "query KuraScopes { currentAppInstallation { accessScopes { handle } } }",
      {},
      { operation: "accessScopes" }
    )
    .pipe(
      Effect.flatMap(({ data }) => Schema.decodeUnknownEffect(ScopesData)(data)),
      Effect.map((d) => d.currentAppInstallation.accessScopes.map((s) => s.handle)),
      Effect.option
    )
  if (granted._tag === "Some") {
    if (!granted.value.includes("read_all_orders")) return yield* missingScope(from)
    return
  }
  const probe = `created_at:<'${new Date(from + DAY).toISOString().slice(0, 19)}Z'`
  yield* client
    .query(
      "query KuraScopeProbe($q: String) { ordersCount(query: $q, limit: 1) { count precision } }",
      { q: probe },
      { operation: "read_all_orders probe" }
    )
    .pipe(
      Effect.catch((e) =>
        e.reason._tag === "AccessDenied"
          ? missingScope(from)
          : Effect.fail(new BackfillError({ reason: "Failed", message: e.message }))
      )
    )
})

/**
 * Exports one window with bulk operations (adaptive slices, partial-data recovery inside the
 * window), streams it into the lake, loads the batch into `_kura_raw` and the canonical tables,
 * and returns the counts to reconcile. Memory is bounded by the stream chunks, not the window.
 */
export const exportWindow = Effect.fn("ShopifyBackfill.exportWindow")(function* (
  window: PlannedWindow,
  shop: string,
  onRecords: (n: number) => Effect.Effect<void>,
  loadCanonical: CanonicalLoader,
  loadChunkRows?: number
) {
  const bulk = yield* ShopifyBulk
  const lake = yield* RawLake
  const warehouse = yield* Warehouse
  const { spec, idPrefix } = resourceOf(window.stream)
  const reported = yield* countWindow(window)
  const key = rawKey(shop, window.stream)
  const batchId = batchIdOf(window)
  let fetched = 0
  const lines = bulk
    .export(rawSpec(spec), {
      window,
      sliceMillis: window.end - window.start,
      // Jobs a killed run left open belong to their own window, which is re-run whole.
      resumeOpenJobs: false
    })
    .pipe(
      Stream.map((record) => JSON.stringify(record)),
      Stream.mapArrayEffect((chunk) => {
        fetched += chunk.length
        return Effect.as(onRecords(chunk.length), chunk)
      })
    )
  const fetchedAt = new Date().toISOString()
  const object = yield* lake.writeBatch({
    key,
    batchId,
    lines,
    dt: new Date(window.start).toISOString().slice(0, 10)
  })
  // Raw payloads are a few KB each: bounded chunks keep memory flat with 5 windows in flight.
  // BigQuery gets bigger chunks (one load job each, and load jobs are a daily quota).
  yield* RawLoader.loadRawBatch({
    warehouse,
    key,
    batch: object,
    lines: lake.readLines(object.path),
    fetchedAt,
    chunkSize: loadChunkRows ?? (warehouse.dialect.name === "bigquery" ? 20_000 : 1_000)
  })
  // Versions a sync, a webhook or an earlier cut of the window landed first are not loaded again:
  // they count towards the tie, read back only for windows that fall short.
  const { loaded, alreadyHeld } = yield* accountBatch({
    key,
    batchId,
    lakePath: object.path,
    reportedCount: reported.count,
    idPrefix
  })
  const canonical = yield* loadCanonical(window, key, object.path)
  const outcome: WindowOutcome = {
    window,
    reportedCount: reported.count,
    fetched,
    loaded,
    alreadyHeld,
    canonicalRows: canonical,
    points: reported.points + (window.estimatedCost - 1),
    lakePath: object.path
  }
  return outcome
})

/** Options of the Shopify source. */
export interface ShopifySourceOptions {
  /**
   * Orders on DuckDB load through the SQL fast path (raw bulk file → DuckDB). Default true;
   * BigQuery and the other streams always take the JS path.
   */
  readonly fastPath?: boolean
  readonly fastPathOptions?: FastPathOptions
}

/** The Shopify source of a backfill: bulk windows, the `read_all_orders` check before any work. */
export const shopifySource = (
  shop: string,
  options: ShopifySourceOptions = {}
): WindowSource<ShopifyClient | ShopifyBulk | Warehouse | RawLake | ObjectStore | HttpTransport> => ({
  account: shop,
  preflight: (plan, now) => (plan.streams.includes("orders") ? checkOrderScope(plan.from, now) : Effect.void),
  prepare: Effect.gen(function* () {
    const info = yield* readShopInfo()
    const load = yield* makeCanonicalLoader(shop, info)
    const warehouse = yield* Warehouse
    const fast =
      options.fastPath !== false && warehouse.dialect.name === "duckdb"
        ? yield* makeFastOrdersWindow(shop, info, options.fastPathOptions)
        : null
    return (window: PlannedWindow, onRecords: (n: number) => Effect.Effect<void>) =>
      fast !== null && window.stream === "orders"
        ? fast(window, onRecords)
        : exportWindow(window, shop, onRecords, load)
  })
})
