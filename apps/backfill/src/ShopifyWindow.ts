/**
 * What every Shopify window shares, whichever path loads it: the resource of a stream, the
 * count Shopify reports for a window, the raw key and the deterministic batch id.
 */
import type { StreamKey } from "@kura/core"
import { type ResourceSpec, Resources, ShopifyClient, updatedAtQuery } from "@kura/shopify-client"
import { Effect, Schema } from "effect"
import { BackfillError } from "./BackfillError.js"
import type { PlannedWindow } from "./Plan.js"

/**
 * The bulk resource and count field of each Shopify stream, and the id prefix of its records: a
 * window's batch may also hold the fast path's child lines (line items, refunds, transactions;
 * each a `_kura_raw` row of its own), which are not records of the stream.
 */
const RESOURCES: Readonly<
  Record<
    string,
    { readonly spec: ResourceSpec<unknown>; readonly countField: string; readonly idPrefix: string }
  >
> = {
  orders: { spec: Resources.orders, countField: "ordersCount", idPrefix: "gid://shopify/Order/" },
  customers: { spec: Resources.customers, countField: "customersCount", idPrefix: "gid://shopify/Customer/" },
  products: { spec: Resources.products, countField: "productsCount", idPrefix: "gid://shopify/Product/" }
}

/** The resource of a stream (a programming error for an unknown one). */
export const resourceOf = (stream: string) => {
  const r = RESOURCES[stream]
  if (r === undefined) throw new RangeError(`unknown Shopify stream ${stream}`)
  return r
}

const CountData = Schema.Struct({
  count: Schema.NullOr(Schema.Struct({ count: Schema.Number, precision: Schema.String }))
})
/** What Shopify says a window holds (exact: `limit: null`), and the points the count cost. */
export const countWindow = Effect.fn("ShopifyBackfill.countWindow")(function* (window: PlannedWindow) {
  const client = yield* ShopifyClient
  const { countField } = resourceOf(window.stream)
  const { data, cost } = yield* client.query(
    `query KuraCount($q: String) { count: ${countField}(query: $q, limit: null) { count precision } }`,
    { q: updatedAtQuery(window) },
    { operation: `${countField} for ${window.id}` }
  )
  const decoded = yield* Schema.decodeUnknownEffect(CountData)(data).pipe(
    Effect.mapError((e) => new BackfillError({ reason: "Failed", message: `${countField}: ${e.message}` }))
  )
  const exact = decoded.count !== null && decoded.count.precision === "EXACT"
  return {
    count: exact && decoded.count !== null ? decoded.count.count : null,
    points: cost.actual ?? cost.estimated
  }
})

/** The raw-table stream key of a Shopify stream. */
export const rawKey = (shop: string, stream: string): StreamKey => ({
  source: "shopify",
  account: shop,
  stream
})

/** The batch id of a window: deterministic, so a re-run window overwrites instead of duplicating. */
export const batchIdOf = (window: PlannedWindow): string =>
  `bf-${window.stream}-${window.start}-${window.end}`
