/**
 * Location summaries: the few fields other reads need from every location (its ids, whether it
 * is active and sells online, when it last changed), at 1 cost point per location instead of 2
 * for the whole record with its address. One first page rides in another document (the run's
 * `shop` query) as {@link LOCATION_SUMMARIES_FIELD}; a fingerprint of them tells a locations
 * stream whether anything changed since its last read.
 *
 * @since 0.4.0
 */
import { createHash } from "node:crypto"
import { Effect, Option, Schema } from "effect"
import { ShopifyClient } from "./ShopifyClient.js"
import { DataLoss, ShopifyError } from "./ShopifyError.js"

/**
 * What the summaries select of a location.
 *
 * @since 0.4.0
 * @category schemas
 */
export const LocationSummary = Schema.Struct({
  id: Schema.String,
  legacyResourceId: Schema.String,
  isActive: Schema.Boolean,
  fulfillsOnlineOrders: Schema.Boolean,
  updatedAt: Schema.NullOr(Schema.String)
})

/**
 * The decoded type of {@link LocationSummary}.
 *
 * @since 0.4.0
 * @category models
 */
export type LocationSummary = typeof LocationSummary.Type

/**
 * One page of summaries, as the `locations` field of {@link LOCATION_SUMMARIES_FIELD} answers.
 *
 * @since 0.4.0
 * @category schemas
 */
export const LocationSummaryPage = Schema.Struct({
  pageInfo: Schema.Struct({ hasNextPage: Schema.Boolean, endCursor: Schema.NullOr(Schema.String) }),
  nodes: Schema.Array(LocationSummary)
})

const SELECTION = "id legacyResourceId isActive fulfillsOnlineOrders updatedAt"
/** Shopify's page maximum: a shop with up to 250 locations is one page. */
const PAGE = 250

/**
 * The `locations` field reading the first page of summaries (the same locations, in the same
 * order, as the full `locations` read: active, not legacy, by id), to embed in another query
 * document. Requested cost 2 + 250; actual 2 + one per location.
 *
 * @since 0.4.0
 * @category constants
 */
export const LOCATION_SUMMARIES_FIELD = `locations(first: ${PAGE}, sortKey: ID) { pageInfo { hasNextPage endCursor } nodes { ${SELECTION} } }`

/**
 * The paged document for the pages after the first.
 *
 * @since 0.4.0
 * @category constants
 */
export const LOCATION_SUMMARIES_QUERY = `query KuraLocationSummaries($first: Int!, $after: String) { locations(first: $first, after: $after, sortKey: ID) { pageInfo { hasNextPage endCursor } nodes { ${SELECTION} } } }`

const Answer = Schema.Struct({ locations: LocationSummaryPage })
const MAX_PAGES = 400

/**
 * Every location's summary, given the first page (read inside another document): the rest is read
 * page by page with {@link LOCATION_SUMMARIES_QUERY}.
 *
 * @since 0.4.0
 * @category constructors
 */
export const locationSummaries = (
  first: typeof LocationSummaryPage.Type
): Effect.Effect<ReadonlyArray<LocationSummary>, ShopifyError, ShopifyClient> =>
  Effect.gen(function* () {
    const out: Array<LocationSummary> = [...first.nodes]
    let info = first.pageInfo
    for (let n = 0; info.hasNextPage && info.endCursor !== null && n < MAX_PAGES; n++) {
      const client = yield* ShopifyClient
      const answer = yield* client.query(LOCATION_SUMMARIES_QUERY, { first: PAGE, after: info.endCursor })
      const page = Schema.decodeUnknownOption(Answer)(answer.data)
      if (Option.isNone(page))
        return yield* new ShopifyError({
          operation: "KuraLocationSummaries",
          reason: new DataLoss({
            jobId: null,
            expected: null,
            actual: null,
            message: "unexpected answer shape for the location summaries"
          })
        })
      out.push(...page.value.locations.nodes)
      info = page.value.locations.pageInfo
    }
    return out
  })

/**
 * A fingerprint of the locations as summarised: equal fingerprints mean no location was added,
 * removed (or deactivated out of the list) or updated between the two reads. Order-independent.
 *
 * @since 0.4.0
 * @category constructors
 */
export const locationsFingerprint = (locations: ReadonlyArray<LocationSummary>): string =>
  createHash("sha256")
    .update(
      locations
        .map((l) =>
          JSON.stringify([l.id, l.legacyResourceId, l.updatedAt, l.isActive, l.fulfillsOnlineOrders])
        )
        .sort()
        .join("\n")
    )
    .digest("base64url")
