/**
 * The canonical step of a window: the window's lake batch, decoded with the client's schema and
 * mapped by the warehouse mappers, upserted into the canonical tables. It runs from the lake (not
 * the API), so it can also be replayed. Orders, customers and products (with variants and the
 * SKU map) are mapped.
 */
import type { StreamKey } from "@kura/core"
import { Resources, ShopifyClient } from "@kura/shopify-client"
import {
  type CanonicalRows,
  type CanonicalTableName,
  type LoadRow,
  type MapContext,
  makeShopifyOrderMapper,
  makeShopifyProductMapper,
  mapShopifyCustomer,
  mergeRows,
  RawLake,
  Warehouse
} from "@kura/warehouse"
import { Effect, Result, Schema, Stream } from "effect"
import { BackfillError } from "./BackfillError.js"
import type { PlannedWindow } from "./Plan.js"

const ShopInfoData = Schema.Struct({
  shop: Schema.Struct({ ianaTimezone: Schema.String, currencyCode: Schema.String }),
  locations: Schema.Struct({
    nodes: Schema.Array(
      Schema.Struct({ legacyResourceId: Schema.String, fulfillsOnlineOrders: Schema.Boolean })
    )
  })
})

/** Why a lake line was set aside: the dead letter's reason and detail. */
interface Rejection {
  readonly reason: "decode" | "map"
  readonly detail: string
}

/** A stream's decode-and-map step, and the canonical table its records count in. */
interface StreamMapping {
  /**
   * Decodes a parsed line with the client's schema, then maps it. A record the schema rejects
   * is a `decode` failure; one the mapper throws on (it decoded, so its shape is right but a
   * value is not usable, e.g. a timestamp that is not ISO-8601) is a `map` failure, as the
   * warehouse's loaders file them, so a replay after a mapper fix can find it.
   */
  readonly decodeAndMap: (json: unknown, ctx: MapContext) => Result.Result<CanonicalRows, Rejection>
  readonly table: CanonicalTableName
}

const mapping = <A>(
  decode: (u: unknown) => Result.Result<A, { readonly message: string }>,
  map: (a: A, ctx: MapContext) => CanonicalRows,
  table: CanonicalTableName
): StreamMapping => ({
  decodeAndMap: (json, ctx) => {
    const decoded = decode(json)
    if (Result.isFailure(decoded)) return Result.fail({ reason: "decode", detail: decoded.failure.message })
    try {
      return Result.succeed(map(decoded.success, ctx))
    } catch (e) {
      return Result.fail({ reason: "map", detail: e instanceof Error ? e.message : String(e) })
    }
  },
  table
})

/** The record's `id`, when the line is a JSON object carrying a string one. */
const idOf = (json: unknown): string | null => {
  if (typeof json !== "object" || json === null || !("id" in json)) return null
  return typeof json.id === "string" ? json.id : null
}

/** What every window of a shop needs: its time zone, currency and online-fulfilment location. */
export interface ShopInfo {
  readonly zone: string
  readonly currency: string
  /** The location revenue books at (as the sync runner does), or null. */
  readonly onlineLocation: string | null
}

/** Reads the shop's time zone, currency and online-fulfilment location once. */
export const readShopInfo = Effect.fn("Canonical.readShopInfo")(function* () {
  const client = yield* ShopifyClient
  const { data } = yield* client.query(
    "query KuraShopInfo { shop { ianaTimezone currencyCode } locations(first: 50) { nodes { legacyResourceId fulfillsOnlineOrders } } }",
    {},
    { operation: "shop info" }
  )
  const info = yield* Schema.decodeUnknownEffect(ShopInfoData)(data).pipe(
    Effect.mapError((e) => new BackfillError({ reason: "Failed", message: `shop info: ${e.message}` }))
  )
  return {
    zone: info.shop.ianaTimezone,
    currency: info.shop.currencyCode,
    onlineLocation: info.locations.nodes.find((l) => l.fulfillsOnlineOrders)?.legacyResourceId ?? null
  } satisfies ShopInfo
})

/**
 * Builds the loader for a shop from its time zone and online-fulfilment location (`readShopInfo`,
 * read once per run: revenue books there, as the sync runner does).
 */
export const makeCanonicalLoader = Effect.fn("Canonical.make")(function* (shop: string, info: ShopInfo) {
  const warehouse = yield* Warehouse
  const lake = yield* RawLake
  const zone = info.zone
  const online = info.onlineLocation
  const mappings: Readonly<Record<string, StreamMapping>> = {
    orders: mapping(
      Schema.decodeUnknownResult(Resources.orders.schema),
      makeShopifyOrderMapper({ locationOf: () => online }),
      "orders"
    ),
    customers: mapping(
      Schema.decodeUnknownResult(Resources.customers.schema),
      mapShopifyCustomer,
      "customers"
    ),
    products: mapping(
      Schema.decodeUnknownResult(Resources.products.schema),
      makeShopifyProductMapper({ currency: info.currency }),
      "products"
    )
  }

  const load = (window: PlannedWindow, key: StreamKey, lakePath: string) => {
    const m = mappings[window.stream]
    if (m === undefined) return Effect.succeed(0)
    const ctx: MapContext = {
      source: "shopify",
      sourceAccount: shop,
      syncedAt: new Date().toISOString(),
      batchId: `bf-${window.stream}-${window.start}-${window.end}`,
      timeZoneOf: () => zone
    }
    return lake.readLines(lakePath).pipe(
      Stream.grouped(500),
      Stream.mapEffect((lines) =>
        Effect.gen(function* () {
          const mapped: Array<CanonicalRows> = []
          const letters = []
          for (const line of lines) {
            let json: unknown
            let r: Result.Result<CanonicalRows, Rejection>
            try {
              json = JSON.parse(line)
              r = m.decodeAndMap(json, ctx)
            } catch (e) {
              r = Result.fail({
                reason: "decode",
                detail: `not JSON: ${e instanceof Error ? e.message : String(e)}`
              })
            }
            if (Result.isSuccess(r)) mapped.push(r.success)
            else
              letters.push({
                key,
                sourceId: idOf(json),
                payload: line,
                reason: r.failure.reason,
                detail: r.failure.detail.slice(0, 2000),
                origin: lakePath,
                at: Date.now()
              })
          }
          if (letters.length > 0) yield* warehouse.deadLetters.write(letters)
          const rows = mergeRows(...mapped)
          let n = 0
          for (const [table, list] of Object.entries(rows) as Array<
            [CanonicalTableName, ReadonlyArray<LoadRow>]
          >) {
            const res = yield* warehouse.load(table, list, { origin: lakePath })
            if (table === m.table) n += res.received
          }
          return n
        })
      ),
      Stream.runFold(
        () => 0,
        (a, n) => a + n
      )
    )
  }
  return load
})

/** Loads a window's lake batch into the canonical tables; returns the stream's main-table rows written. */
export type CanonicalLoader = Effect.Success<ReturnType<typeof makeCanonicalLoader>>
