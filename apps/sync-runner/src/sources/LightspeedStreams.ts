/**
 * Lightspeed K-Series streams of one account: business locations, sales day by day (honouring the
 * business-day cutover; a day is checkpointed only once the API says `dataComplete`) and the items
 * catalogue. The sales cursor is the next business date to read per location.
 */
import { type DeadLetter, HttpTransport, makeMemoryTokenStore, Telemetry, TokenStore } from "@kura/core"
import {
  addDays,
  type BusinessDay,
  Item,
  LightspeedClient,
  type LightspeedError,
  type LocationInfo,
  nextCursorDay,
  Sale,
  seedRefreshToken
} from "@kura/lightspeed-client"
import {
  type CanonicalRows,
  type CanonicalTableName,
  CanonicalTables,
  mapLightspeedBusinessDay,
  mapLightspeedItem,
  mapLightspeedLocation
} from "@kura/warehouse"
import { Clock, Effect, Layer, Option, Schema, Stream } from "effect"
import { withApiUsage } from "../ApiUsage.js"
import type { LightspeedAccountConfig } from "../AppConfig.js"
import { decodeWith, mapWith, type Replayer, type Replayers, ReplayFailed } from "../DeadLetterReplay.js"
import { type RunContext, type RunResult, SyncError, type SyncStream } from "../SyncStream.js"
import { type IngestPage, ingest, mapAll, mapContext, mapLetter, mergePages } from "./Ingest.js"
import { deadLetterLayer, registryFor, type SourceDeps, sharedFor } from "./SourceDeps.js"

/** Business locations whose days are read at once (one request in flight each). */
const LOCATIONS_IN_FLIGHT = 4

/** One business day's page, before its cursor is set (see the sales stream's `withCursor`). */
interface DayPage {
  readonly location: string
  readonly day: BusinessDay
  readonly page: Omit<IngestPage, "cursor">
}

/** The Lightspeed streams this app syncs. */
export const LIGHTSPEED_STREAMS = ["locations", "sales", "items"] as const

const SalesCursor = Schema.fromJsonString(Schema.Record(Schema.String, Schema.String))
const decodeSalesCursor = Schema.decodeUnknownOption(SalesCursor)

const toSyncError = (e: unknown): SyncError =>
  e instanceof SyncError
    ? e
    : new SyncError({
        reason: "Upstream",
        message: `lightspeed: ${typeof e === "object" && e !== null && "message" in e ? String(e.message) : String(e)}`,
        cause: e
      })

/** The client for one account; its refresh token rotates through `store` (seeded on first use). */
export const lightspeedClientLayer = (
  account: LightspeedAccountConfig,
  store: TokenStore["Service"],
  sandbox: boolean
) => {
  const tokenKey = `lightspeed:${account.clientId}:${account.name}`
  const seeded = Layer.effect(
    TokenStore,
    Effect.gen(function* () {
      yield* seedRefreshToken(store, tokenKey, account.refreshToken)
      return store
    })
  )
  return LightspeedClient.layer({
    clientId: account.clientId,
    clientSecret: account.clientSecret,
    tokenKey,
    // Dead letters keyed by the account's name, like its streams and `dead-letters list --account`.
    account: account.name,
    ...Option.match(account.apiBaseUrl, { onNone: () => ({}), onSome: (apiBaseUrl) => ({ apiBaseUrl }) }),
    ...Option.match(account.tokenUrl, { onNone: () => ({}), onSome: (tokenUrl) => ({ tokenUrl }) }),
    ...(sandbox
      ? {
          allowInsecureRequests: true,
          retryBaseDelay: "50 millis",
          maxAttempts: 12,
          initialRequestsPerSecond: 60
        }
      : {})
  }).pipe(Layer.provide(seeded), Layer.provide(HttpTransport.layer()))
}

/** Items asked per request; above the documented 100 (UNCONFIRMED) the client handles a refusal or a clamp. */
export const ITEMS_PAGE_SIZE = 1000
/** After the API refused `ITEMS_PAGE_SIZE`, the items stream asks again this often. */
const ITEMS_REPROBE_MS = 7 * 86_400_000

/** The items cursor: when the last whole read started and the page size the API took. */
const ItemsCursor = Schema.Struct({
  at: Schema.String,
  pageSize: Schema.Number,
  probedAt: Schema.optionalKey(Schema.String)
})
type ItemsCursor = typeof ItemsCursor.Type
const decodeItemsCursor = Schema.decodeUnknownOption(Schema.fromJsonString(ItemsCursor))

/** The page size to ask for: the larger one unless the API refused it less than a week ago. */
export const itemsPageSizeFor = (previous: ItemsCursor | undefined, now: number): number => {
  if (previous === undefined || previous.pageSize >= ITEMS_PAGE_SIZE) return ITEMS_PAGE_SIZE
  const probed = previous.probedAt === undefined ? Number.NaN : Date.parse(previous.probedAt)
  return Number.isNaN(probed) || now - probed >= ITEMS_REPROBE_MS ? ITEMS_PAGE_SIZE : previous.pageSize
}

/** The tables an item writes (one product, its one variant, its SKU link): a deletion covers all. */
const ITEM_TABLES = ["products", "variants", "sku_map"] as const

/**
 * Items of `account` live in the warehouse that a whole read did not list, minus those whose
 * record is pending in the dead letters (not listed because it did not decode, not deleted).
 * An empty read deletes nothing: an empty catalogue answer is likelier a fault than the truth.
 * Live in any item table counts, so a SKU link left live by an older deletion is caught up.
 */
const vanishedItems = (deps: SourceDeps, account: LightspeedAccountConfig, seen: ReadonlySet<string>) =>
  Effect.gen(function* () {
    if (seen.size === 0) return []
    const d = deps.warehouse.dialect
    const live = yield* deps.warehouse.query(
      ITEM_TABLES.map(
        (t) =>
          `SELECT source_id FROM ${d.table(t)} WHERE source = 'lightspeed' AND source_account = ${d.param("account")} AND _deleted_at IS NULL`
      ).join(" UNION DISTINCT "),
      { account: account.name }
    )
    // Letters written before the client took the account's name carry the client id.
    const letters = yield* Effect.forEach([account.name, account.clientId], (a) =>
      deps.warehouse.listDeadLetters({ key: { source: "lightspeed", account: a, stream: "items" } })
    )
    const pending = new Set(letters.flat().flatMap((l) => (l.sourceId === null ? [] : [l.sourceId])))
    return live.map((r) => String(r.source_id)).filter((id) => !seen.has(id) && !pending.has(id))
  }).pipe(Effect.mapError((e) => new SyncError({ reason: "Warehouse", message: e.message, cause: e })))

/** Columns of a canonical row that say where and when it was written rather than what it holds. */
const LINEAGE: ReadonlySet<string> = new Set([
  "source",
  "source_account",
  "source_id",
  "updated_at",
  "_synced_at",
  "_batch_id",
  "_deleted_at"
])
const contentColumns = (table: CanonicalTableName): ReadonlyArray<string> =>
  CanonicalTables[table].columns.map((c) => c.name).filter((c) => !LINEAGE.has(c))

const DECIMAL = /^-?\d+(\.\d+)?$/
/** A decimal string without insignificant zeros ("3300.000000000" and "3300.00" are "3300"). */
const plainDecimal = (s: string): string => {
  const t = (s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s).replace(/^(-?)0+(?=\d)/, "$1")
  return t === "-0" ? "0" : t
}
/** A mapped value equals a stored one read as text (decimals by value, booleans as `true`/`false`). */
const sameValue = (mapped: unknown, stored: unknown): boolean => {
  if (mapped === null || mapped === undefined) return stored === null || stored === undefined
  if (stored === null || stored === undefined) return false
  const a = String(mapped)
  const b = String(stored)
  return a === b || (DECIMAL.test(a) && DECIMAL.test(b) && plainDecimal(a) === plainDecimal(b))
}

/**
 * What the warehouse holds live of an account's Lightspeed records in `tables`, to leave unchanged
 * ones alone. K-Series gives items and locations no `updated_at`, so a mapped row carries the
 * fetch time: upserting every row would rewrite the whole catalogue at every read. `changed` keeps
 * only the rows whose content (every column but the lineage ones) differs from the live stored
 * row, or that have none (new, or soft-deleted and listed again): an unchanged row keeps its
 * `updated_at`, `_synced_at` and batch. If the state cannot be read, every row is written.
 */
const storedCatalogue = (
  deps: SourceDeps,
  account: LightspeedAccountConfig,
  tables: ReadonlyArray<CanonicalTableName>
) =>
  Effect.gen(function* () {
    const d = deps.warehouse.dialect
    const state = new Map<string, ReadonlyMap<string, ReadonlyArray<unknown>>>()
    for (const table of tables) {
      const columns = contentColumns(table)
      const rows = yield* deps.warehouse
        .query(
          `SELECT ${d.ident("source_id")} AS k_id, ${columns.map((c, i) => `CAST(${d.ident(c)} AS ${d.type("string")}) AS k_${i}`).join(", ")} FROM ${d.table(table)} WHERE source = 'lightspeed' AND source_account = ${d.param("account")} AND _deleted_at IS NULL`,
          { account: account.name }
        )
        .pipe(
          Effect.tapError((e) =>
            Effect.logWarning(
              `lightspeed ${table}: cannot read the stored rows, writing every row: ${e.message}`
            )
          ),
          Effect.orElseSucceed(() => undefined)
        )
      if (rows !== undefined)
        state.set(table, new Map(rows.map((r) => [String(r.k_id), columns.map((_, i) => r[`k_${i}`])])))
    }
    return {
      changed: (rows: CanonicalRows): CanonicalRows => {
        const out: Record<string, ReadonlyArray<Readonly<Record<string, unknown>>>> = {}
        for (const [table, list] of Object.entries(rows) as Array<
          [CanonicalTableName, ReadonlyArray<Readonly<Record<string, unknown>>>]
        >) {
          const stored = state.get(table)
          const columns = contentColumns(table)
          out[table] =
            stored === undefined
              ? list
              : list.filter((row) => {
                  const s = stored.get(String(row.source_id))
                  return s === undefined || !columns.every((c, i) => sameValue(row[c], s[i]))
                })
        }
        return out as CanonicalRows
      }
    }
  })

/** The items stream's mapper (its dead letters replay through the same one). */
const mapItem = mapLightspeedItem

/**
 * Dead-letter replay for Lightspeed: an item letter (the client's `decode` letter holds the wire
 * record, a `map` letter the decoded one; `Item` reads both) goes through the client's `Item`
 * Schema and the items stream's mapper. Sales need the account (`makeLightspeedReplayers`).
 */
export const lightspeedReplayers: Replayers = {
  "lightspeed/items": {
    replay: (letter, payload, ctx) =>
      Effect.gen(function* () {
        const item = yield* decodeWith(Item)(payload)
        const key = { source: "lightspeed" as const, account: letter.key.account, stream: "items" }
        const rows = yield* mapWith(() =>
          mapItem(
            item,
            mapContext(key, ctx.batchId, ctx.syncedAt, () => "UTC")
          )
        )
        return { rows }
      })
  }
}

/**
 * Options of the sale mapper at one location: its currency, and the Shopify location of the same
 * name (where POS stock moves) when Shopify's locations are loaded.
 */
const saleOptionsFor = (deps: SourceDeps) =>
  Effect.gen(function* () {
    const shopifyLocations = yield* deps.warehouse
      .query(
        `SELECT source_id, name FROM ${deps.warehouse.dialect.table("locations")} WHERE source = 'shopify' AND _deleted_at IS NULL`
      )
      .pipe(Effect.orElseSucceed(() => []))
    const stockLocationOf = new Map<string, string>()
    for (const r of shopifyLocations)
      if (typeof r.name === "string" && typeof r.source_id === "string")
        stockLocationOf.set(r.name, r.source_id)
    return (l: LocationInfo) => {
      const stock = l.name === null ? undefined : stockLocationOf.get(l.name)
      return { currency: l.currencyCode, ...(stock === undefined ? {} : { stockLocationId: stock }) }
    }
  })

/** The origin of a sale's map letter: its business day (`lightspeed:<api>:<location>:<date>`). */
const dayOrigin = (day: Pick<BusinessDay, "api" | "businessLocationId" | "date">) =>
  `lightspeed:${day.api}:${day.businessLocationId}:${day.date}`

/**
 * The business day a sale letter came from: a map letter's `dayOrigin`, or the URL of the client's
 * day read (`/f/finance/<bl>/dailyFinancials?date=` for V1, `/f/v2/business-location/<bl>/sales-daily?date=`).
 */
export const saleDayOf = (
  origin: string
): Pick<BusinessDay, "api" | "businessLocationId" | "date"> | undefined => {
  const own = /^lightspeed:(v1|v2):([^:]+):(\d{4}-\d{2}-\d{2})$/.exec(origin)
  if (own !== null) return { api: own[1] as "v1" | "v2", businessLocationId: own[2]!, date: own[3]! }
  let url: URL
  try {
    url = new URL(origin)
  } catch {
    return undefined
  }
  const date = url.searchParams.get("date")
  if (date === null || !/^\d{4}-\d{2}-\d{2}$/.test(date)) return undefined
  const v1 = /\/f\/finance\/([^/]+)\/dailyFinancials$/.exec(url.pathname)
  if (v1 !== null) return { api: "v1", businessLocationId: decodeURIComponent(v1[1]!), date }
  const v2 = /\/f\/v2\/business-location\/([^/]+)\/sales-daily$/.exec(url.pathname)
  if (v2 !== null) return { api: "v2", businessLocationId: decodeURIComponent(v2[1]!), date }
  return undefined
}

/**
 * Dead-letter replay of one account's sales (`kura-sync dead-letters replay`): the client's `Sale`
 * Schema and the sales stream's mapper, on the business day the letter names (its origin), with the
 * location's zone and currency asked of the account (one `businesses` read per replay, through the
 * account's client and token store) and the stock location as the stream finds it.
 */
export const makeLightspeedReplayers = (account: LightspeedAccountConfig, deps: SourceDeps): Replayers => {
  const store = deps.tokenStore ?? makeMemoryTokenStore(new Map())
  const shared = sharedFor(deps, lightspeedClientLayer(account, store, deps.sandbox === true))
  let located: ReadonlyArray<LocationInfo> | undefined
  const sales: Replayer = {
    replay: (letter, payload, ctx) =>
      Effect.gen(function* () {
        const where = saleDayOf(letter.origin)
        if (where === undefined)
          return yield* new ReplayFailed({
            reason: "Payload",
            message: `the letter's origin (${letter.origin}) does not name the sale's business day and location`
          })
        const sale = yield* decodeWith(Sale)(payload)
        const locations =
          located ??
          (yield* shared
            .provide(
              Effect.gen(function* () {
                const client = yield* LightspeedClient
                return yield* Stream.runCollect(client.locations)
              })
            )
            .pipe(
              Effect.map((all) => [...all]),
              Effect.mapError(
                (e) =>
                  new ReplayFailed({ reason: "Context", message: `the account's locations: ${e.message}` })
              )
            ))
        located = locations
        const l = locations.find((x) => x.businessLocationId === where.businessLocationId)
        if (l === undefined)
          return yield* new ReplayFailed({
            reason: "Context",
            message: `business location ${where.businessLocationId} is not in account ${account.name}`
          })
        const options = (yield* saleOptionsFor(deps))(l)
        const key = { source: "lightspeed" as const, account: account.name, stream: "sales" }
        const day: BusinessDay = {
          ...where,
          sales: [sale],
          dataComplete: true,
          nextStartOfDay: null,
          final: true
        }
        const mctx = mapContext(key, ctx.batchId, ctx.syncedAt, () => l.timezone)
        return { rows: yield* mapWith(() => mapLightspeedBusinessDay(day, mctx, options)) }
      })
  }
  // Letters written before the streams keyed them by account name carry the client id.
  return { [`lightspeed/${account.name}/sales`]: sales, [`lightspeed/${account.clientId}/sales`]: sales }
}

const idOf = (record: unknown): string | null => {
  if (typeof record !== "object" || record === null) return null
  const id = "accountReference" in record ? record.accountReference : "id" in record ? record.id : null
  return typeof id === "string" || typeof id === "number" ? String(id) : null
}

/** Builds the Lightspeed streams of one account. */
export const makeLightspeedStreams = (
  account: LightspeedAccountConfig,
  deps: SourceDeps,
  intervalFor: (stream: string) => number
): ReadonlyArray<SyncStream> => {
  const registry = registryFor(deps, "lightspeed")
  const store = deps.tokenStore ?? makeMemoryTokenStore(new Map())
  // One client per account, built once: the refresh token is single-use, so every stream shares it.
  const shared = sharedFor(
    deps,
    Layer.merge(lightspeedClientLayer(account, store, deps.sandbox === true), deadLetterLayer(deps))
  )
  const make = (
    stream: (typeof LIGHTSPEED_STREAMS)[number],
    run: (ctx: RunContext) => Effect.Effect<RunResult, SyncError, LightspeedClient>
  ): SyncStream => ({
    key: { source: "lightspeed", account: account.name, stream },
    intervalMs: intervalFor(stream),
    run: (ctx) =>
      withApiUsage(
        registry,
        (runRegistry) =>
          shared
            .provide(run(ctx))
            .pipe(Effect.provideService(Telemetry, runRegistry), Effect.mapError(toSyncError)),
        ctx.reportApiUsage
      ).pipe(Effect.map(([result, api]) => ({ ...result, api })))
  })

  const locationsOf = Effect.gen(function* () {
    const client = yield* LightspeedClient
    const all = yield* Stream.runCollect(client.locations)
    const wanted = new Set(account.businessLocations.map(String))
    return wanted.size === 0 ? [...all] : [...all].filter((l) => wanted.has(l.businessLocationId))
  })

  const locations = make("locations", (ctx) =>
    Effect.gen(function* () {
      const key = { source: "lightspeed" as const, account: account.name, stream: "locations" }
      const found = yield* locationsOf.pipe(Effect.mapError(toSyncError))
      const now = yield* Clock.currentTimeMillis
      const stored = yield* storedCatalogue(deps, account, ["locations"])
      return yield* ingest({
        ctx,
        key,
        target: deps,
        toError: toSyncError,
        pages: (batchId) => {
          const mctx = mapContext(key, batchId(1), new Date(now).toISOString(), () => "UTC")
          const mapped = mapAll(found, (l) => mapLightspeedLocation(l, mctx), mapLetter(key, idOf, now))
          return Stream.succeed<IngestPage>({
            raw: found,
            rows: stored.changed(mapped.rows),
            deadLetters: mapped.deadLetters
          })
        },
        finish: () => Effect.succeed({ cursor: new Date(now).toISOString(), reportedCount: null })
      })
    })
  )

  const sales = make("sales", (ctx) =>
    Effect.gen(function* () {
      const client = yield* LightspeedClient
      const key = { source: "lightspeed" as const, account: account.name, stream: "sales" }
      const found = yield* locationsOf.pipe(Effect.mapError(toSyncError))
      const cursors: Record<string, string> = Option.getOrElse(
        Option.flatMap(ctx.checkpoint, (c) => decodeSalesCursor(c.cursor)),
        () => ({})
      )
      const now = yield* Clock.currentTimeMillis
      const start = deps.lightspeedFromDate ?? addDays(new Date(now).toISOString().slice(0, 10), -400)
      const next: Record<string, string> = { ...cursors }
      const saleOptions = yield* saleOptionsFor(deps)
      const dayPage =
        (l: LocationInfo, batchId: (n: number) => string, n: () => number) => (day: BusinessDay) =>
          Effect.map(Clock.currentTimeMillis, (t): DayPage => {
            const mctx = mapContext(key, batchId(n()), new Date(t).toISOString(), () => l.timezone)
            let rows: IngestPage["rows"] = {}
            const letters: Array<DeadLetter> = []
            try {
              rows = mapLightspeedBusinessDay(day, mctx, saleOptions(l))
            } catch (e) {
              // One bad sale must not hide the day: map sale by sale and dead-letter the failures.
              const mapped = mapAll(
                day.sales,
                (s) => mapLightspeedBusinessDay({ ...day, sales: [s] }, mctx, saleOptions(l)),
                // The origin names the business day: a sale's rows need it (and its location) on replay.
                (s, detail) => ({ ...mapLetter(key, idOf, t)(s, detail), origin: dayOrigin(day) })
              )
              rows = mapped.rows
              letters.push(...mapped.deadLetters)
              void e
            }
            return {
              location: l.businessLocationId,
              day,
              page: { raw: day.sales, rows, deadLetters: letters, dt: day.date }
            }
          })
      // A page's cursor moves its location's day on, in the order pages come out of the merge of
      // the locations' streams (not the order they were mapped in): a cursor never covers a day
      // of another location that a later page carries, so a checkpoint never skips a day.
      const withCursor = ({ location, day, page }: DayPage): IngestPage => {
        next[location] = nextCursorDay(next[location] ?? start, [day])
        return { ...page, cursor: JSON.stringify(next) }
      }
      return yield* ingest({
        ctx,
        key,
        target: deps,
        toError: toSyncError,
        pages: (batchId) => {
          let n = 0
          return Stream.fromIterable(found).pipe(
            Stream.flatMap(
              (l) =>
                client
                  .syncDays(l.businessLocationId, {
                    from: cursors[l.businessLocationId] ?? start,
                    timeZone: l.timezone
                  })
                  .pipe(
                    Stream.mapEffect(
                      dayPage(l, batchId, () => {
                        n++
                        return n
                      })
                    )
                  ),
              // One request in flight per business location, the locations side by side (the
              // reference's advice for K-Series): a location's days are one chain of requests (a
              // first sync: 93 days each), and chained one location after the other they were a
              // full sync's critical path whenever the event loop was busy with Shopify (BENCHMARKS
              // §3, session 13). Against the real API each request waits a network round trip.
              { concurrency: Math.min(Math.max(1, found.length), LOCATIONS_IN_FLIGHT) }
            ),
            Stream.map(withCursor),
            // A day is one small page; landing a few weeks at a time keeps the load count low.
            Stream.grouped(deps.lightspeedDaysPerBatch ?? 31),
            Stream.map(mergePages)
          )
        },
        ...(deps.progress === undefined
          ? {}
          : {
              onPage: (t) =>
                Effect.sync(() => {
                  deps.progress?.(`lightspeed sales: ${t.fetched} sales`)
                })
            }),
        finish: () => Effect.succeed({ cursor: JSON.stringify(next), reportedCount: null })
      })
    })
  )

  const items = make("items", (ctx) =>
    Effect.gen(function* () {
      const client = yield* LightspeedClient
      const key = { source: "lightspeed" as const, account: account.name, stream: "items" }
      const found = yield* locationsOf.pipe(Effect.mapError(toSyncError))
      const now = yield* Clock.currentTimeMillis
      const previous = Option.getOrUndefined(
        Option.flatMap(ctx.checkpoint, (c) => decodeItemsCursor(c.cursor))
      )
      const pageSize = itemsPageSizeFor(previous, now)
      const seen = new Set<string>()
      const stored = yield* storedCatalogue(deps, account, ITEM_TABLES)
      return yield* ingest({
        ctx,
        key,
        target: deps,
        toError: toSyncError,
        pages: (batchId) => {
          let n = 0
          return Stream.fromIterable(found).pipe(
            Stream.flatMap((l) =>
              client.items(l.businessLocationId, { pageSize }).pipe(Stream.rechunk(250), Stream.chunks)
            ),
            Stream.map((chunk): IngestPage => {
              n++
              const records = [...chunk]
              for (const r of records) seen.add(String(r.id))
              const mctx = mapContext(key, batchId(n), new Date(now).toISOString(), () => "UTC")
              const mapped = mapAll(records, (i) => mapItem(i, mctx), mapLetter(key, idOf, now))
              // The lake and _kura_raw take every record; the tables only what changed.
              return { raw: records, rows: stored.changed(mapped.rows), deadLetters: mapped.deadLetters }
            }),
            // K-Series has no modified-since filter and no item `updated_at`: every read is whole,
            // so an item it no longer lists was deleted upstream.
            Stream.concat(
              Stream.fromEffect(
                Effect.map(
                  vanishedItems(deps, account, seen),
                  (gone): IngestPage => ({
                    raw: [],
                    rows: {},
                    // Its SKU link goes with it: a deleted item must not keep claiming its SKU.
                    deletions: gone.flatMap((id) =>
                      ITEM_TABLES.map((table) => ({
                        table,
                        key: { source: "lightspeed", source_account: account.name, source_id: id },
                        deletedAt: new Date(now).toISOString()
                      }))
                    )
                  })
                )
              )
            )
          )
        },
        finish: () =>
          Effect.map(client.itemsMaxAmount, (max) => ({
            cursor: JSON.stringify({
              at: new Date(now).toISOString(),
              pageSize: Math.min(max, pageSize),
              // When the larger size was last tried (it is tried again a week after a refusal).
              ...(pageSize === ITEMS_PAGE_SIZE
                ? { probedAt: new Date(now).toISOString() }
                : previous?.probedAt === undefined
                  ? {}
                  : { probedAt: previous.probedAt })
            } satisfies ItemsCursor),
            reportedCount: null
          }))
      })
    })
  )

  return [locations, sales, items]
}

export type { LightspeedError }
