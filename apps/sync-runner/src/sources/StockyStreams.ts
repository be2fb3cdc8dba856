/**
 * Stocky streams of one store: suppliers, purchase orders, stock adjustments (joined with their
 * items, which Stocky serves from a second endpoint), transfers (when the deployment still serves
 * them) and tax types. Windowed by `updated_since` from the previous run's start (with overlap).
 */
import { type DeadLetter, HttpTransport, Telemetry } from "@kura/core"
import {
  type ListOptions,
  StockyClient,
  type StockyClientError,
  type StockyPage,
  type StockyResourceName,
  StockyResources,
  StockyTimeZone
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
  mergeRows
} from "@kura/warehouse"
import { Clock, DateTime, Effect, Layer, Option, Stream } from "effect"
import { withApiUsage } from "../ApiUsage.js"
import type { StockyStoreConfig } from "../AppConfig.js"
import { decodeWith, mapWith, type Replayer, type Replayers, ReplayFailed } from "../DeadLetterReplay.js"
import { SyncError, type SyncStream } from "../SyncStream.js"
import { type IngestPage, ingest, mapAll, mapContext, mapLetter, toJsonLine } from "./Ingest.js"
import { lazyCatalog, loadCatalog } from "./ShopifyStreams.js"
import { deadLetterLayer, registryFor, type SourceDeps, sharedFor } from "./SourceDeps.js"

/** The Stocky streams this app syncs. */
export const STOCKY_STREAMS = [
  "suppliers",
  "purchase_orders",
  "stock_adjustments",
  "stock_transfers",
  "tax_types"
] as const
/** A Stocky stream name. */
export type StockyStreamName = (typeof STOCKY_STREAMS)[number]

/** Re-read this much before the previous run's start: Stocky's clocks and ours may differ. */
const OVERLAP_MS = 10 * 60_000

/** The mapper of each catalogue-joined stream (its dead letters replay through the same one). */
const CATALOG_MAPPERS = {
  purchase_orders: makeStockyPurchaseOrderMapper,
  stock_transfers: makeStockyTransferMapper
} as const

/** The reason of the letters that keep adjustment items whose adjustment a run did not read. */
export const ORPHAN_REASON = "orphan"

/**
 * Dead-letter replay for Stocky: each letter's payload goes through the client's Schema for its
 * resource (offset-less timestamps read in `timeZone`, as the client does) and the stream's mapper.
 * An adjustment carries its items: those dead-lettered as orphans of it (pending letters of the
 * same stream) are joined back and marked replayed with it. An orphan alone (its adjustment loaded
 * or not pending) cannot be mapped without its header and stays pending.
 */
export const stockyReplayers = (deps: SourceDeps): Replayers => {
  const timeZone = deps.stockyTimeZone ?? "UTC"
  const zone = DateTime.zoneMakeNamedUnsafe(timeZone)
  const decode = <R extends StockyResourceName>(resource: R, payload: unknown) =>
    decodeWith(StockyResources[resource].schema)(payload).pipe(Effect.provideService(StockyTimeZone, zone))
  const ctxFor = (account: string, stream: string, batchId: string, syncedAt: string) =>
    mapContext({ source: "stocky", account, stream }, batchId, syncedAt, () => timeZone)
  const catalogue = <R extends "purchase_orders" | "stock_transfers">(resource: R): Replayer => ({
    replay: (letter, payload, ctx) =>
      Effect.gen(function* () {
        const record = yield* decode(resource, payload)
        const catalog = yield* loadCatalog(deps, letter.key.account)
        const map = CATALOG_MAPPERS[resource](catalog) as (
          r: StockyPage<R>["records"][number],
          c: MapContext
        ) => CanonicalRows
        const mctx = ctxFor(letter.key.account, resource, ctx.batchId, ctx.syncedAt)
        return { rows: yield* mapWith(() => map(record, mctx)) }
      })
  })
  return {
    "stocky/suppliers": {
      replay: (letter, payload, ctx) =>
        Effect.gen(function* () {
          const supplier = yield* decode("suppliers", payload)
          const mctx = ctxFor(letter.key.account, "suppliers", ctx.batchId, ctx.syncedAt)
          return { rows: yield* mapWith(() => mapStockySupplier(supplier, mctx)) }
        })
    },
    // Tax types are read for the lake only: a letter replays once its record decodes.
    "stocky/tax_types": {
      replay: (_letter, payload) => Effect.as(decode("tax_types", payload), { rows: {} })
    },
    "stocky/purchase_orders": catalogue("purchase_orders"),
    "stocky/stock_transfers": catalogue("stock_transfers"),
    "stocky/stock_adjustments": {
      replay: (letter, payload, ctx) =>
        Effect.gen(function* () {
          if (letter.reason === ORPHAN_REASON)
            return yield* new ReplayFailed({
              reason: "Companion",
              message:
                "an orphan adjustment item replays with its adjustment's letter; its adjustment has none pending (re-read stock_adjustments over the item's time instead)"
            })
          const adjustment = yield* decode("stock_adjustments", payload)
          const companions: Array<{ id: string; payload: unknown }> = []
          for (const l of ctx.pending) {
            if (l.reason !== ORPHAN_REASON) continue
            const item: unknown = yield* Effect.try({
              try: () => JSON.parse(l.payload),
              catch: () =>
                new ReplayFailed({ reason: "Payload", message: `orphan item letter ${l.id} is not JSON` })
            })
            const owner =
              typeof item === "object" && item !== null ? Reflect.get(item, "stock_adjustment_id") : undefined
            if (String(owner) === String(adjustment.id)) companions.push({ id: l.id, payload: item })
          }
          const items = yield* Effect.forEach(companions, (c) => decode("stock_adjustment_items", c.payload))
          const { joined } = joinStockyAdjustments([adjustment], items)
          const mctx = ctxFor(letter.key.account, "stock_adjustments", ctx.batchId, ctx.syncedAt)
          const rows = yield* mapWith(() => mergeRows(...joined.map((j) => mapStockyAdjustment(j, mctx))))
          // The lake gets the adjustment joined with its items, as the stream lands it.
          return { rows, companions: companions.map((c) => c.id), raw: joined }
        })
    }
  }
}

const toSyncError = (e: StockyClientError | SyncError): SyncError =>
  e._tag === "SyncError"
    ? e
    : new SyncError({ reason: "Upstream", message: `stocky: ${e.message}`, cause: e })

const idOf = (record: unknown): string | null => {
  if (typeof record !== "object" || record === null) return null
  if ("adjustment" in record) return idOf(record.adjustment)
  if (!("id" in record)) return null
  const id = record.id
  return typeof id === "number" || typeof id === "bigint" || typeof id === "string" ? String(id) : null
}

/** The client for one store; undecodable records go to the warehouse's dead letters. */
export const stockyClientLayer = (store: StockyStoreConfig, deps: SourceDeps) =>
  StockyClient.layer({
    storeName: store.storeName,
    apiKey: store.apiKey,
    invalidRecords: "dead-letter",
    timeZone: deps.stockyTimeZone ?? "UTC",
    ...Option.match(store.apiBaseUrl, { onNone: () => ({}), onSome: (baseUrl) => ({ baseUrl }) }),
    ...(deps.sandbox === true
      ? {
          retry: { baseDelayMillis: 5, maxDelayMillis: 200, maxAttempts: 10, jitter: false },
          rateLimit: { maxRatePerSecond: 1000, initialRatePerSecond: 200 }
        }
      : {})
  }).pipe(Layer.provide(deadLetterLayer(deps)))

/** Builds the Stocky streams of one store. */
export const makeStockyStreams = (
  store: StockyStoreConfig,
  deps: SourceDeps,
  intervalFor: (stream: string) => number
): ReadonlyArray<SyncStream> => {
  const registry = registryFor(deps, "stocky")
  const shared = sharedFor(
    deps,
    Layer.merge(
      stockyClientLayer(store, deps).pipe(Layer.provide(HttpTransport.layer())),
      deadLetterLayer(deps)
    )
  )

  const make = (
    stream: StockyStreamName,
    body: (
      client: StockyClient["Service"],
      options: ListOptions,
      key: { readonly source: "stocky"; readonly account: string; readonly stream: string },
      mctx: (n: number) => MapContext,
      now: number
    ) => Stream.Stream<IngestPage, StockyClientError | SyncError>
  ): SyncStream => ({
    key: { source: "stocky", account: store.storeName, stream },
    intervalMs: intervalFor(stream),
    run: (ctx) =>
      withApiUsage(
        registry,
        (runRegistry) =>
          shared
            .provide(
              Effect.gen(function* () {
                const client = yield* StockyClient
                const key = { source: "stocky" as const, account: store.storeName, stream }
                const now = yield* Clock.currentTimeMillis
                const since = Option.flatMap(ctx.checkpoint, (c) => {
                  const t = Date.parse(c.cursor)
                  return Number.isNaN(t) ? Option.none() : Option.some(new Date(t - OVERLAP_MS).toISOString())
                })
                const options: ListOptions = Option.isSome(since) ? { updatedSince: since.value } : {}
                return yield* ingest({
                  ctx,
                  key,
                  target: deps,
                  toError: toSyncError,
                  pages: (batchId) =>
                    body(
                      client,
                      options,
                      key,
                      (n) =>
                        mapContext(
                          key,
                          batchId(n),
                          new Date(now).toISOString(),
                          () => deps.stockyTimeZone ?? "UTC"
                        ),
                      now
                    ),
                  finish: () => Effect.succeed({ cursor: new Date(now).toISOString(), reportedCount: null })
                })
              })
            )
            .pipe(Effect.provideService(Telemetry, runRegistry), Effect.mapError(toSyncError)),
        ctx.reportApiUsage
      ).pipe(Effect.map(([result, api]) => ({ ...result, api })))
  })

  /** Pages of a resource, each mapped with `map`. */
  const paged =
    <R extends "suppliers" | "purchase_orders" | "stock_transfers" | "tax_types">(
      resource: R,
      map: ((record: StockyPage<R>["records"][number], ctx: MapContext) => CanonicalRows) | null,
      /** Runs before the first page that has records is mapped (what the mapper reads lazily). */
      beforeRecords: Effect.Effect<void> = Effect.void
    ) =>
    (
      client: StockyClient["Service"],
      options: ListOptions,
      key: { readonly source: "stocky"; readonly account: string; readonly stream: string },
      mctx: (n: number) => MapContext,
      now: number
    ) => {
      let n = 0
      return client.pages(resource, resource === "tax_types" ? {} : options).pipe(
        Stream.tap((page) => (page.records.length === 0 ? Effect.void : beforeRecords)),
        Stream.map((page): IngestPage => {
          n++
          const ctx = mctx(n)
          const records = page.records as ReadonlyArray<StockyPage<R>["records"][number]>
          const mapped =
            map === null
              ? { rows: {}, deadLetters: [] }
              : mapAll(records, (r) => map(r, ctx), mapLetter(key, idOf, now))
          return { raw: records, rows: mapped.rows, deadLetters: mapped.deadLetters, rejected: page.rejected }
        })
      )
    }

  /** Stocky lines name inventory items only; the shop's variants (already loaded) give variant and SKU. */
  const withCatalog =
    <R extends "purchase_orders" | "stock_transfers">(
      resource: R,
      mapper: (
        catalog: InventoryCatalog
      ) => (record: StockyPage<R>["records"][number], ctx: MapContext) => CanonicalRows
    ) =>
    (
      client: StockyClient["Service"],
      options: ListOptions,
      key: { readonly source: "stocky"; readonly account: string; readonly stream: string },
      mctx: (n: number) => MapContext,
      now: number
    ) =>
      Stream.suspend(() => {
        // Read before the first record is mapped, not at start: a run with nothing new (most
        // incremental runs) spends no warehouse query on it (two per pass, on the one connection).
        const { catalog, ensure } = lazyCatalog(deps, store.storeName)
        return paged(resource, mapper(catalog), ensure)(client, options, key, mctx, now)
      })

  const adjustments = (
    client: StockyClient["Service"],
    options: ListOptions,
    key: { readonly source: "stocky"; readonly account: string; readonly stream: string },
    mctx: (n: number) => MapContext,
    now: number
  ) =>
    Stream.unwrap(
      Effect.gen(function* () {
        // Items come from their own endpoint; read the window's items first, then join per page.
        const items = yield* Stream.runCollect(
          client.stockAdjustmentItems(
            options.updatedSince === undefined ? {} : { adjustedSince: options.updatedSince }
          )
        )
        const used = new Set<number>()
        let n = 0
        return client.pages("stock_adjustments", options).pipe(
          Stream.map((page): IngestPage => {
            n++
            const ctx = mctx(n)
            const { joined } = joinStockyAdjustments(page.records, items)
            for (const j of joined) for (const i of j.items) used.add(i.id)
            const mapped = mapAll(joined, (r) => mapStockyAdjustment(r, ctx), mapLetter(key, idOf, now))
            return {
              raw: joined,
              rows: mapped.rows,
              deadLetters: mapped.deadLetters,
              rejected: page.rejected
            }
          }),
          Stream.concat(
            Stream.suspend(() => {
              // Items whose adjustment is outside this window are kept, never dropped silently.
              const orphans = [...items].filter((i) => !used.has(i.id))
              if (orphans.length === 0) return Stream.empty
              const letters: Array<DeadLetter> = orphans.map((i) => ({
                key,
                sourceId: String(i.id),
                payload: toJsonLine(i),
                reason: ORPHAN_REASON,
                detail: `stock adjustment item of adjustment ${i.stock_adjustment_id}, which this run did not read`,
                origin: "stocky:stock_adjustment_items",
                at: now
              }))
              return Stream.succeed<IngestPage>({ raw: [], rows: {}, deadLetters: letters })
            })
          )
        )
      })
    )

  return [
    make("suppliers", paged("suppliers", mapStockySupplier)),
    make("purchase_orders", withCatalog("purchase_orders", CATALOG_MAPPERS.purchase_orders)),
    make("stock_adjustments", adjustments),
    make("stock_transfers", withCatalog("stock_transfers", CATALOG_MAPPERS.stock_transfers)),
    make("tax_types", paged("tax_types", null))
  ]
}
