/**
 * The canonical step of a window: the window's lake batch, decoded with the client's schema and
 * mapped by the warehouse mappers, upserted into the canonical tables. It runs from the lake (not
 * the API), so it can also be replayed. Orders are mapped today; other streams stay raw-only.
 */
import type { StreamKey } from "@kura/core"
import { type Order, Resources, ShopifyClient } from "@kura/shopify-client"
import {
  type CanonicalTableName,
  type LoadRow,
  type MapContext,
  makeShopifyOrderMapper,
  mergeRows,
  RawLake,
  Warehouse
} from "@kura/warehouse"
import { Effect, Result, Schema, Stream } from "effect"
import { BackfillError } from "./BackfillError.js"
import type { PlannedWindow } from "./Plan.js"

const ShopInfo = Schema.Struct({
  shop: Schema.Struct({ ianaTimezone: Schema.String }),
  locations: Schema.Struct({
    nodes: Schema.Array(
      Schema.Struct({ legacyResourceId: Schema.String, fulfillsOnlineOrders: Schema.Boolean })
    )
  })
})

const decodeOrder = Schema.decodeUnknownResult(Resources.orders.schema)

/**
 * Builds the loader for a shop: reads the shop's time zone and its online-fulfilment location
 * once (revenue books there, as the sync runner does).
 */
export const makeCanonicalLoader = Effect.fn("Canonical.make")(function* (shop: string) {
  const client = yield* ShopifyClient
  const warehouse = yield* Warehouse
  const lake = yield* RawLake
  const { data } = yield* client.query(
    "query KuraShopInfo { shop { ianaTimezone } locations(first: 50) { nodes { legacyResourceId fulfillsOnlineOrders } } }",
    {},
    { operation: "shop info" }
  )
  const info = yield* Schema.decodeUnknownEffect(ShopInfo)(data).pipe(
    Effect.mapError((e) => new BackfillError({ reason: "Failed", message: `shop info: ${e.message}` }))
  )
  const zone = info.shop.ianaTimezone
  const online = info.locations.nodes.find((l) => l.fulfillsOnlineOrders)?.legacyResourceId ?? null
  const mapOrder = makeShopifyOrderMapper({ locationOf: () => online })

  const load = (window: PlannedWindow, key: StreamKey, lakePath: string) => {
    if (window.stream !== "orders") return Effect.succeed(0)
    const ctx: MapContext = {
      source: "shopify",
      sourceAccount: shop,
      syncedAt: new Date().toISOString(),
      batchId: `bf-${window.stream}-${window.start}-${window.end}`,
      timeZoneOf: () => zone
    }
    return lake.readLines(lakePath).pipe(
      Stream.grouped(1000),
      Stream.mapEffect((lines) =>
        Effect.gen(function* () {
          const orders: Array<Order> = []
          const letters = []
          for (const line of lines) {
            const r = decodeOrder(JSON.parse(line))
            if (Result.isSuccess(r)) orders.push(r.success)
            else
              letters.push({
                key,
                sourceId: null,
                payload: line,
                reason: "decode",
                detail: r.failure.message.slice(0, 2000),
                origin: lakePath,
                at: Date.now()
              })
          }
          if (letters.length > 0) yield* warehouse.deadLetters.write(letters)
          const rows = mergeRows(...orders.map((o) => mapOrder(o, ctx)))
          let n = 0
          for (const [table, list] of Object.entries(rows) as Array<
            [CanonicalTableName, ReadonlyArray<LoadRow>]
          >) {
            const res = yield* warehouse.load(table, list, { origin: lakePath })
            if (table === "orders") n += res.received
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

/** Loads a window's lake batch into the canonical tables; returns the canonical order rows written. */
export type CanonicalLoader = Effect.Success<ReturnType<typeof makeCanonicalLoader>>
