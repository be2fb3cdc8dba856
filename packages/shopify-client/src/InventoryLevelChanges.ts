/**
 * Inventory levels changed in a time window, read per location through
 * `Location.inventoryLevels(query: "updated_at:…")`, so an incremental stock read costs what
 * changed instead of the whole catalogue times every location.
 *
 * Whether Shopify honours `updated_at` on this connection is UNCONFIRMED in our reference (the REST
 * endpoint documents `updated_at_min`; the GraphQL field takes a `query:` argument). Both cases are
 * handled: a backend that ignores the filter returns every level, which is a correct (full) read,
 * and each page reports how many levels fell outside the window so the caller can notice and say so.
 *
 * @since 0.2.0
 */
import { Effect, Option, Predicate, Schema, Stream } from "effect"
import type { InventoryItem } from "./InventoryItem.js"
import { QUANTITY_NAMES } from "./internal/documents/Inventory.js"
import { Resources } from "./Resources.js"
import { decodeRecords, ShopifyClient } from "./ShopifyClient.js"
import { DataLoss, ShopifyError } from "./ShopifyError.js"
import { formatSearchDate, type TimeWindow, updatedAtQuery } from "./UpdatedAtWindow.js"

const ITEM =
  "id legacyResourceId sku tracked requiresShipping createdAt updatedAt unitCost { amount currencyCode } variant { id }"
const LEVEL = `id createdAt updatedAt location { id } quantities(names: ${JSON.stringify(QUANTITY_NAMES)}) { name quantity updatedAt }`

/**
 * One changed level as read: the level with its item inline (the paged and the bulk read select
 * the same, so both land the same rows).
 *
 * @internal
 */
export const CHANGED_LEVEL_SELECTION = `${LEVEL} item { ${ITEM} }`

/**
 * The per-location document: levels of one location matching `$query`, each with its item.
 *
 * @since 0.2.0
 * @category constants
 */
export const CHANGED_LEVELS_QUERY = `query KuraChangedInventoryLevels($id: ID!, $first: Int!, $after: String, $query: String) { location(id: $id) { id inventoryLevels(first: $first, after: $after, query: $query) { pageInfo { hasNextPage endCursor } nodes { ${CHANGED_LEVEL_SELECTION} } } } }`

const Envelope = Schema.Struct({
  location: Schema.NullOr(
    Schema.Struct({
      id: Schema.String,
      inventoryLevels: Schema.Struct({
        pageInfo: Schema.Struct({ hasNextPage: Schema.Boolean, endCursor: Schema.NullOr(Schema.String) }),
        nodes: Schema.Array(Schema.Record(Schema.String, Schema.Unknown))
      })
    })
  )
})
const decodeEnvelope = Schema.decodeUnknownOption(Envelope)

/**
 * One page of changed levels at one location, as inventory items carrying only those levels (the
 * shape `Resources.inventoryItems` decodes, so the same mapper lands them).
 *
 * @since 0.2.0
 * @category models
 */
export interface ChangedLevelsPage {
  readonly locationId: string
  readonly items: ReadonlyArray<InventoryItem>
  /** Items that did not decode (sent to the DeadLetterSink when one is provided). */
  readonly rejected: number
  /** Levels on this page whose `updatedAt` lies before the window: the filter was not applied. */
  readonly outsideWindow: number
}

/**
 * Options of {@link changedInventoryLevels}.
 *
 * @since 0.2.0
 * @category models
 */
export interface ChangedLevelsOptions {
  /** Location gids to read (every location whose stock matters, active or not). */
  readonly locationIds: ReadonlyArray<string>
  /** `updated_at` window (start inclusive, end exclusive; rounded outward to whole seconds). */
  readonly window: TimeWindow
  /** Levels per request (default 100; each carries its item and eight quantities). */
  readonly pageSize?: number
}

const MAX_PAGES_PER_LOCATION = 100_000

/**
 * Levels (each carrying its `item`) regrouped as inventory items carrying just those levels, and
 * how many levels were updated before `floor` (the filter was not applied).
 *
 * @internal
 */
export const itemsOfLevels = (
  nodes: ReadonlyArray<Readonly<Record<string, unknown>>>,
  floor: number
): { readonly raw: ReadonlyArray<Record<string, unknown>>; readonly outsideWindow: number } => {
  let outsideWindow = 0
  const byItem = new Map<string, { item: Readonly<Record<string, unknown>>; levels: Array<unknown> }>()
  for (const node of nodes) {
    const { item, ...level } = node
    const updated = typeof level.updatedAt === "string" ? Date.parse(level.updatedAt) : Number.NaN
    if (updated < floor) outsideWindow++
    const itemRecord: Readonly<Record<string, unknown>> = Predicate.isObject(item) ? item : {}
    const itemId = typeof itemRecord.id === "string" ? itemRecord.id : `unknown:${String(level.id)}`
    const entry = byItem.get(itemId) ?? { item: itemRecord, levels: [] }
    entry.levels.push(level)
    byItem.set(itemId, entry)
  }
  return { raw: [...byItem.values()].map((e) => ({ ...e.item, inventoryLevels: e.levels })), outsideWindow }
}

/** The lowest `updatedAt` a level read for `window` may have (search dates are whole seconds). */
export const windowFloor = (window: TimeWindow): number =>
  Date.parse(formatSearchDate(Math.floor(window.start / 1000) * 1000))

/**
 * Levels whose `updatedAt` falls in `window`, location by location, paged.
 *
 * @since 0.2.0
 * @category constructors
 */
export const changedInventoryLevels = (
  options: ChangedLevelsOptions
): Stream.Stream<ChangedLevelsPage, ShopifyError, ShopifyClient> => {
  const query = updatedAtQuery(options.window)
  const first = Math.max(1, Math.min(250, options.pageSize ?? 100))
  // A level updated a second before the (rounded) start is still inside what we asked for.
  const floor = windowFloor(options.window)
  const operation = "KuraChangedInventoryLevels"
  const ofLocation = (locationId: string) =>
    Stream.paginate(
      { after: null as string | null, n: 0 },
      Effect.fnUntraced(function* (state) {
        const client = yield* ShopifyClient
        const answer = yield* client.query(CHANGED_LEVELS_QUERY, {
          id: locationId,
          first,
          after: state.after,
          query
        })
        const envelope = Option.getOrNull(decodeEnvelope(answer.data))
        if (envelope === null)
          return yield* new ShopifyError({
            operation,
            reason: new DataLoss({
              jobId: null,
              expected: null,
              actual: null,
              message: `unexpected answer shape for location ${locationId}'s inventory levels`
            })
          })
        const connection = envelope.location?.inventoryLevels
        if (connection === undefined) return [[], Option.none()] as const
        const { raw, outsideWindow } = itemsOfLevels(connection.nodes, floor)
        const decoded = yield* decodeRecords(
          Resources.inventoryItems,
          raw,
          operation,
          `location ${locationId}`
        )
        const next =
          connection.pageInfo.hasNextPage &&
          connection.pageInfo.endCursor !== null &&
          state.n < MAX_PAGES_PER_LOCATION
            ? Option.some({ after: connection.pageInfo.endCursor, n: state.n + 1 })
            : Option.none()
        return [
          [{ locationId, items: decoded.records, rejected: decoded.rejected, outsideWindow }],
          next
        ] as const
      })
    )
  return Stream.fromIterable(options.locationIds).pipe(Stream.flatMap(ofLocation))
}
