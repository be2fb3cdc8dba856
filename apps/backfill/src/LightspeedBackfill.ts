/**
 * Lightspeed K-Series windows: sales of every business location through the V1 Financial API
 * (`financials/{from}/{to}`, at most 365 days per call, paged), landed in the lake and `_kura_raw`
 * and mapped by the warehouse's sale mapper into orders, order lines, payments, tax lines and
 * refunds. Business dates honour each location's cutover, read once from the API.
 */
import { type DeadLetter, DeadLetterSink, HttpTransport, type StreamKey, TokenStore } from "@kura/core"
import {
  addDays,
  cutoverOf,
  LightspeedClient,
  type LocationInfo,
  type Sale,
  seedRefreshToken
} from "@kura/lightspeed-client"
import {
  type CanonicalRows,
  type MapContext,
  makeLightspeedSaleMapper,
  mergeRows,
  type RawLake,
  Warehouse
} from "@kura/warehouse"
import { Clock, Effect, Layer, Option, Schema, Stream } from "effect"
import type { LightspeedSettings } from "./BackfillConfig.js"
import { BackfillError } from "./BackfillError.js"
import { landWindow } from "./Landing.js"
import type { PlannedWindow } from "./Plan.js"
import type { WindowSource } from "./WindowSource.js"

/** The TokenStore key of a Lightspeed credential (shared with the sync runner's format). */
export const lightspeedTokenKey = (s: LightspeedSettings): string => `lightspeed:${s.clientId}:${s.account}`

/**
 * The client over a durable TokenStore. The refresh token from the environment only seeds an
 * empty store: once rotated, the stored one is the only valid token.
 */
export const lightspeedClientLayer = (s: LightspeedSettings) => {
  const tokenKey = lightspeedTokenKey(s)
  const seeded = Layer.effect(
    TokenStore,
    Effect.gen(function* () {
      const store = yield* TokenStore
      if (s.refreshToken !== undefined) yield* seedRefreshToken(store, tokenKey, s.refreshToken)
      return store
    })
  )
  return LightspeedClient.layer({
    clientId: s.clientId,
    clientSecret: s.clientSecret,
    tokenKey,
    // Dead letters keyed by the account's name, as kura-sync keys them and its replay reads them.
    account: s.account,
    ...(s.environment === undefined ? {} : { environment: s.environment }),
    ...(s.authVersion === undefined ? {} : { authVersion: s.authVersion }),
    ...(s.apiBaseUrl === undefined ? {} : { apiBaseUrl: s.apiBaseUrl }),
    ...(s.tokenUrl === undefined ? {} : { tokenUrl: s.tokenUrl }),
    ...(s.insecure
      ? {
          allowInsecureRequests: true,
          retryBaseDelay: "50 millis",
          maxAttempts: 12,
          initialRequestsPerSecond: 60
        }
      : {})
  }).pipe(
    Layer.provide(seeded),
    Layer.provide(HttpTransport.layer()),
    // A sale the client cannot decode is set aside with its payload; the rest of the day loads.
    Layer.provide(
      Layer.effect(
        DeadLetterSink,
        Effect.map(Warehouse, (w) => w.deadLetters)
      )
    )
  )
}

const AccountRef = Schema.Struct({ accountReference: Schema.Union([Schema.String, Schema.Number]) })
const decodeRef = Schema.decodeUnknownOption(AccountRef)

const failed = (message: string) => new BackfillError({ reason: "Failed", message })

/** `HH:MM` of a location's cutover; read from the V1 daily endpoint unless configured. */
const dayStartOf = Effect.fnUntraced(function* (
  l: LocationInfo,
  configured: string | undefined,
  now: number
) {
  if (configured !== undefined) return configured
  const client = yield* LightspeedClient
  const yesterday = addDays(new Date(now).toISOString().slice(0, 10), -2)
  const day = yield* client.dailyFinancials(l.businessLocationId, yesterday).pipe(Effect.option)
  const cut =
    Option.isSome(day) && day.value.nextStartOfDay !== null ? cutoverOf(day.value.nextStartOfDay) : null
  return cut === null
    ? "00:00"
    : `${String(cut.hour).padStart(2, "0")}:${String(cut.minute).padStart(2, "0")}`
})

/** The raw-table key of the sales stream. */
export const lightspeedRawKey = (account: string, stream: string): StreamKey => ({
  source: "lightspeed",
  account,
  stream
})

/** The Lightspeed source of a backfill. */
export const lightspeedSource = (
  s: LightspeedSettings
): WindowSource<LightspeedClient | Warehouse | RawLake> => {
  const locationsOf = Effect.gen(function* () {
    const client = yield* LightspeedClient
    const all = yield* Stream.runCollect(client.locations)
    const wanted = new Set(s.businessLocations)
    return wanted.size === 0 ? [...all] : [...all].filter((l) => wanted.has(l.businessLocationId))
  })
  return {
    account: s.account,
    preflight: () =>
      locationsOf.pipe(
        Effect.mapError((e) => failed(`Lightspeed: cannot list business locations: ${e.message}`)),
        Effect.flatMap((ls) =>
          ls.length > 0
            ? Effect.void
            : Effect.fail(
                failed(
                  s.businessLocations.length > 0
                    ? `Lightspeed: none of LIGHTSPEED_BUSINESS_LOCATIONS (${s.businessLocations.join(", ")}) is visible to this token`
                    : "Lightspeed: the token sees no business location; authorise a user who can see them"
                )
              )
        )
      ),
    prepare: Effect.gen(function* () {
      const client = yield* LightspeedClient
      const warehouse = yield* Warehouse
      const locations = yield* locationsOf
      const now = yield* Clock.currentTimeMillis
      // POS stock moves at the Shopify location of the same name, when Shopify's locations are loaded.
      const shopifyLocations = yield* warehouse
        .query(
          `SELECT source_id, name FROM ${warehouse.dialect.table("locations")} WHERE source = 'shopify' AND _deleted_at IS NULL`
        )
        .pipe(Effect.orElseSucceed(() => []))
      const stockAt = new Map<string, string>()
      for (const r of shopifyLocations)
        if (typeof r.name === "string" && typeof r.source_id === "string") stockAt.set(r.name, r.source_id)
      const perLocation = yield* Effect.forEach(locations, (l) =>
        Effect.map(dayStartOf(l, s.dayStartsAt, now), (dayStartsAt) => {
          const stock = l.name === null ? undefined : stockAt.get(l.name)
          return {
            location: l,
            mapper: makeLightspeedSaleMapper({
              businessLocationId: l.businessLocationId,
              currency: l.currencyCode,
              dayStartsAt,
              ...(stock === undefined ? {} : { stockLocationId: stock })
            })
          }
        })
      )
      const zoneOf = new Map(locations.map((l) => [l.businessLocationId, l.timezone]))
      return (window: PlannedWindow, onRecords: (n: number) => Effect.Effect<void>) => {
        const key = lightspeedRawKey(s.account, window.stream)
        const batchId = `bf-${window.stream}-${window.start}-${window.end}`
        const ctx: MapContext = {
          source: "lightspeed",
          sourceAccount: s.account,
          syncedAt: new Date().toISOString(),
          batchId,
          timeZoneOf: (id) => (id === null ? "UTC" : (zoneOf.get(id) ?? "UTC"))
        }
        type Tagged = { readonly at: number; readonly sale: Sale }
        const records = Stream.fromIterable(perLocation.map((p, at) => ({ p, at }))).pipe(
          Stream.flatMap(
            ({ p, at }) =>
              client.financials(p.location.businessLocationId, { from: window.start, to: window.end }).pipe(
                Stream.map((sale): Tagged => ({ at, sale })),
                // A sale the client cannot decode is set aside with its payload; the rest loads.
                Stream.provideService(DeadLetterSink, warehouse.deadLetters)
              ),
            { concurrency: 1 }
          )
        )
        return landWindow({
          window,
          key,
          batchId,
          records,
          idOf: (t: Tagged) => t.sale.accountReference,
          // A sale does not name its location; the lake line does.
          toLine: (t: Tagged) => ({
            businessLocationId: perLocation[t.at]?.location.businessLocationId ?? null,
            ...t.sale
          }),
          identify: (line) =>
            Option.match(decodeRef(line), {
              onNone: () => ({ id: null, updatedAt: null }),
              onSome: (r) => ({ id: String(r.accountReference), updatedAt: null })
            }),
          map: (chunk) => {
            const rows: Array<CanonicalRows> = []
            const deadLetters: Array<DeadLetter> = []
            for (const t of chunk) {
              const p = perLocation[t.at]
              if (p === undefined) continue
              try {
                rows.push(p.mapper(t.sale, ctx))
              } catch (e) {
                deadLetters.push({
                  key,
                  sourceId: t.sale.accountReference,
                  payload: JSON.stringify(t.sale),
                  reason: "map",
                  detail: (e instanceof Error ? e.message : String(e)).slice(0, 2000),
                  origin: `backfill:${window.id}`,
                  at: Date.now()
                })
              }
            }
            return { rows: mergeRows(...rows), deadLetters }
          },
          primaryTable: "orders",
          onRecords
        })
      }
    })
  }
}
