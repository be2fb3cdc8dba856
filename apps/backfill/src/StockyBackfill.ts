/**
 * Stocky windows: suppliers, purchase orders, stock adjustments (joined with their items) and
 * transfers, read from an archive (a directory or a gs:// URL, through the stocky-client's archive
 * reader) or from the live API while it still answers (it was retired on 2026-08-31). Records are
 * landed in the lake and `_kura_raw` and mapped into the canonical inventory tables.
 */
import { type DeadLetter, DeadLetterSink, HttpTransport, type StreamKey } from "@kura/core"
import {
  type ArchiveReader,
  isRetired,
  readArchive,
  readManifest,
  type StockAdjustmentItem,
  StockyClient,
  type StockyClientError,
  type StockyRecords,
  type StockyResourceName
} from "@kura/stocky-client"
import {
  type CanonicalRows,
  type InventoryCatalog,
  joinStockyAdjustments,
  type MapContext,
  makeStockyPurchaseOrderMapper,
  makeStockyTransferMapper,
  mapStockyAdjustment,
  mapStockySupplier,
  mergeRows,
  type RawLake,
  Warehouse
} from "@kura/warehouse"
import { Effect, Layer, Option, Schema, Stream } from "effect"
import { archiveReaderOf } from "./ArchiveLocation.js"
import type { StockySettings } from "./BackfillConfig.js"
import { BackfillError } from "./BackfillError.js"
import { landWindow } from "./Landing.js"
import type { PlannedWindow } from "./Plan.js"
import type { WindowSource } from "./WindowSource.js"

/** The Stocky streams a backfill loads. */
export const STOCKY_BACKFILL_STREAMS = [
  "suppliers",
  "purchase_orders",
  "stock_adjustments",
  "stock_transfers"
] as const

/** The client for the live API; undecodable records go to the warehouse's dead letters. */
export const stockyClientLayer = (s: StockySettings) =>
  StockyClient.layer({
    storeName: s.storeName,
    apiKey: s.apiKey,
    invalidRecords: "dead-letter",
    timeZone: s.timeZone,
    ...(s.baseUrl === undefined ? {} : { baseUrl: s.baseUrl }),
    ...(s.insecure
      ? {
          retry: { baseDelayMillis: 5, maxDelayMillis: 200, maxAttempts: 10, jitter: false },
          rateLimit: { maxRatePerSecond: 1000, initialRatePerSecond: 200 }
        }
      : {})
  }).pipe(
    Layer.provide(HttpTransport.layer()),
    Layer.provide(
      Layer.effect(
        DeadLetterSink,
        Effect.map(Warehouse, (w) => w.deadLetters)
      )
    )
  )

const CatalogRow = Schema.Struct({
  source_id: Schema.String,
  sku: Schema.NullOr(Schema.String),
  inventory_item_id: Schema.String
})

/** Stocky lines name inventory items only; the shop's variants (if loaded) give variant and SKU. */
const loadCatalog = (shop: string) =>
  Effect.gen(function* () {
    const warehouse = yield* Warehouse
    const rows = yield* warehouse
      .query(
        `SELECT source_id, sku, inventory_item_id FROM ${warehouse.dialect.table("variants")} WHERE source = 'shopify' AND source_account = ${warehouse.dialect.param("shop")} AND inventory_item_id IS NOT NULL AND _deleted_at IS NULL`,
        { shop }
      )
      .pipe(Effect.orElseSucceed(() => []))
    const byItem = new Map<string, { variantId: string; sku: string | null }>()
    for (const r of rows)
      for (const v of Option.toArray(Schema.decodeUnknownOption(CatalogRow)(r)))
        byItem.set(v.inventory_item_id, { variantId: v.source_id, sku: v.sku })
    return { byInventoryItemId: (id: string) => byItem.get(id) } satisfies InventoryCatalog
  })

const IdLine = Schema.Struct({ id: Schema.Union([Schema.Number, Schema.String]) })
const AdjustmentLine = Schema.Struct({ adjustment: IdLine })
const decodeId = Schema.decodeUnknownOption(IdLine)
const decodeAdjustment = Schema.decodeUnknownOption(AdjustmentLine)

const failed = (message: string) => new BackfillError({ reason: "Failed", message })

const retiredMessage =
  "Stocky's API no longer answers (Shopify retired Stocky on 2026-08-31), and no archive was given. Nothing was loaded. Fix: pass --archive <dir|gs://bucket/prefix> (or set STOCKY_ARCHIVE) pointing at the archive exported before the shutdown."

const mapWith =
  <A>(
    key: StreamKey,
    ctx: MapContext,
    map: (record: A, ctx: MapContext) => CanonicalRows,
    idOf: (a: A) => string | null,
    origin: string
  ) =>
  (chunk: ReadonlyArray<A>) => {
    const rows: Array<CanonicalRows> = []
    const deadLetters: Array<DeadLetter> = []
    for (const r of chunk) {
      try {
        rows.push(map(r, ctx))
      } catch (e) {
        deadLetters.push({
          key,
          sourceId: idOf(r),
          payload: JSON.stringify(r, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)),
          reason: "map",
          detail: (e instanceof Error ? e.message : String(e)).slice(0, 2000),
          origin,
          at: Date.now()
        })
      }
    }
    return { rows: mergeRows(...rows), deadLetters }
  }

/** The live client is optional (archive mode runs without it), so it is looked up, not required. */
type Services = Warehouse | RawLake

/** The Stocky source of a backfill: archive mode when `settings.archive` is set, else the live API. */
export const stockySource = (s: StockySettings): WindowSource<Services> => {
  const reader: ArchiveReader | undefined = s.archive === undefined ? undefined : archiveReaderOf(s.archive)
  const liveClient = Effect.flatMap(Effect.serviceOption(StockyClient), (c) =>
    Option.isSome(c)
      ? Effect.succeed(c.value)
      : Effect.fail(failed("internal: no Stocky client for the live API"))
  )
  return {
    account: s.storeName,
    preflight: () =>
      reader !== undefined && s.archiveWithApi
        ? readManifest(reader).pipe(
            Effect.mapError((e) => failed(`Stocky archive ${s.archive}: ${e.message}`)),
            Effect.asVoid
          )
        : reader === undefined
          ? Effect.gen(function* () {
              const client = yield* liveClient
              yield* client.checkAvailable.pipe(
                Effect.mapError((e) =>
                  isRetired(e) ? failed(retiredMessage) : failed(`Stocky API: ${e.message}`)
                )
              )
            })
          : readManifest(reader).pipe(
              Effect.mapError((e) => failed(`Stocky archive ${s.archive}: ${e.message}`)),
              Effect.asVoid
            ),
    prepare: Effect.gen(function* () {
      const warehouse = yield* Warehouse
      const catalog = yield* loadCatalog(s.storeName)
      const manifest = reader === undefined ? Option.none() : yield* readManifest(reader)
      const sink = Layer.succeed(DeadLetterSink, warehouse.deadLetters)
      const client = reader === undefined || s.archiveWithApi ? yield* liveClient : undefined
      // Merged mode reads the live API only while it answers; once retired, the archive alone.
      const live =
        client === undefined
          ? undefined
          : reader === undefined
            ? client
            : (yield* client.checkAvailable.pipe(
                  Effect.as(true),
                  Effect.catch((e) => (isRetired(e) ? Effect.succeed(false) : Effect.fail(e)))
                ))
              ? client
              : undefined
      if (reader !== undefined && s.archiveWithApi && live === undefined)
        yield* Effect.logWarning("Stocky's API is retired: reading the archive alone")
      const fromApi = <R extends StockyResourceName>(c: StockyClient["Service"], resource: R) =>
        // Whole resources: a record updated before --from still belongs to the history (a PO
        // received years ago), and Stocky is small and final, so nothing is cut by date.
        c.list(resource, resource === "stock_adjustment_items" ? { status: "adjusted" } : {})
      const fromArchive = <R extends StockyResourceName>(r: ArchiveReader, resource: R) =>
        readArchive(r, resource, {
          invalidRecords: "dead-letter",
          account: s.storeName,
          ...(s.timeZoneExplicit ? { timeZone: s.timeZone } : {})
        }).pipe(Stream.provide(sink))
      const source = <R extends StockyResourceName>(
        resource: R
      ): Stream.Stream<StockyRecords[R], StockyClientError | BackfillError> => {
        if (live !== undefined && reader !== undefined) {
          // The API first, then the archive's records the API no longer has: one record per id,
          // the API's where both have it (it is the newer state). Ids only are remembered.
          const seen = new Set<string>()
          return fromApi(live, resource).pipe(
            Stream.tap((r) => Effect.sync(() => seen.add(String(r.id)))),
            Stream.concat(
              Stream.suspend(() => fromArchive(reader, resource)).pipe(
                Stream.filter((r) => !seen.has(String(r.id)))
              )
            )
          )
        }
        if (live !== undefined) return fromApi(live, resource)
        return reader === undefined
          ? Stream.fail(failed("internal: neither an archive nor a live client"))
          : fromArchive(reader, resource)
      }
      return (window: PlannedWindow, onRecords: (n: number) => Effect.Effect<void>) =>
        Effect.gen(function* () {
          const resource = window.stream
          const key: StreamKey = { source: "stocky", account: s.storeName, stream: resource }
          const batchId = `bf-${resource}-${window.start}-${window.end}`
          const ctx: MapContext = {
            source: "stocky",
            sourceAccount: s.storeName,
            syncedAt: new Date().toISOString(),
            batchId,
            timeZoneOf: () => s.timeZone
          }
          // Merged with the API, the manifest no longer counts the window: the distinct ids read do.
          const reported =
            Option.isSome(manifest) && live === undefined
              ? (manifest.value.resources?.[resource]?.records ?? null)
              : null
          const origin = `backfill:${window.id}`
          const idText = (r: { readonly id: number }) => String(r.id)
          const identify = (line: unknown) =>
            Option.match(decodeId(line), {
              onNone: () => ({ id: null, updatedAt: null }),
              onSome: (r) => ({ id: String(r.id), updatedAt: null })
            })
          const common = { window, key, batchId, onRecords, reportedCount: reported, identify }
          switch (resource) {
            case "suppliers":
              return yield* landWindow({
                ...common,
                records: source("suppliers"),
                idOf: idText,
                map: mapWith(key, ctx, mapStockySupplier, idText, origin),
                primaryTable: "suppliers"
              })
            case "purchase_orders":
              return yield* landWindow({
                ...common,
                records: source("purchase_orders"),
                idOf: idText,
                map: mapWith(key, ctx, makeStockyPurchaseOrderMapper(catalog), idText, origin),
                primaryTable: "purchase_orders"
              })
            case "stock_transfers":
              return yield* landWindow({
                ...common,
                records: source("stock_transfers"),
                idOf: idText,
                map: mapWith(key, ctx, makeStockyTransferMapper(catalog), idText, origin),
                primaryTable: "inventory_movements"
              })
            case "stock_adjustments": {
              // Items come from their own endpoint (or file): read them first, then join per chunk.
              const items: ReadonlyArray<StockAdjustmentItem> = [
                ...(yield* Stream.runCollect(source("stock_adjustment_items")))
              ]
              const used = new Set<number>()
              const joined = source("stock_adjustments").pipe(
                Stream.rechunk(500),
                Stream.chunks,
                Stream.map((chunk) => {
                  const { joined } = joinStockyAdjustments(chunk, items)
                  for (const j of joined) for (const i of j.items) used.add(i.id)
                  return joined
                }),
                Stream.flattenIterable
              )
              const outcome = yield* landWindow({
                ...common,
                records: joined,
                idOf: (j) => String(j.adjustment.id),
                identify: (line) =>
                  Option.match(decodeAdjustment(line), {
                    onNone: () => ({ id: null, updatedAt: null }),
                    onSome: (r) => ({ id: String(r.adjustment.id), updatedAt: null })
                  }),
                map: mapWith(key, ctx, mapStockyAdjustment, (j) => String(j.adjustment.id), origin),
                primaryTable: "inventory_movements"
              })
              // Items whose adjustment was not read are kept as dead letters, never dropped silently.
              const orphans = items.filter((i) => !used.has(i.id))
              if (orphans.length > 0)
                yield* warehouse.deadLetters.write(
                  orphans.map((i) => ({
                    key,
                    sourceId: String(i.id),
                    payload: JSON.stringify(i, (_k, v: unknown) =>
                      typeof v === "bigint" ? v.toString() : v
                    ),
                    reason: "orphan",
                    detail: `stock adjustment item of adjustment ${i.stock_adjustment_id}, which was not read`,
                    origin,
                    at: Date.now()
                  }))
                )
              return outcome
            }
            default:
              return yield* failed(`unknown Stocky stream ${resource}`)
          }
        })
    })
  }
}
