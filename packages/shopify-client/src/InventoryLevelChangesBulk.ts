/**
 * Inventory levels changed in a window, read by one bulk operation over every location
 * (`locations { inventoryLevels(query: "updated_at:…") }`) instead of page by page: a bulk job
 * costs ≈ 10 cost points whatever it returns, a page ≈ 13 points per level (each level carries its
 * item and eight quantities). A one-request probe first asks whether any location has a changed
 * level at all, so a run with nothing changed pays a few points and never waits for a job.
 *
 * Whether Shopify honours `updated_at` on `Location.inventoryLevels` is UNCONFIRMED (see
 * `changedInventoryLevels`): levels outside the window are counted in `outsideWindow`, as there.
 *
 * @since 0.3.0
 */
import { Effect, Option, Schema, Stream } from "effect"
import type { ChangedLevelsPage } from "./InventoryLevelChanges.js"
import { CHANGED_LEVEL_SELECTION, itemsOfLevels, windowFloor } from "./InventoryLevelChanges.js"
import type { ResourceDocuments } from "./internal/documents/Selection.js"
import { type ResourceSpec, Resources } from "./Resources.js"
import { ShopifyBulk } from "./ShopifyBulk.js"
import { decodeRecords, ShopifyClient } from "./ShopifyClient.js"
import { DataLoss, ShopifyError } from "./ShopifyError.js"
import { type TimeWindow, updatedAtQuery } from "./UpdatedAtWindow.js"

const LocationLevels = Schema.Struct({
  id: Schema.String,
  inventoryLevels: Schema.Array(Schema.Record(Schema.String, Schema.Unknown))
})

const documents: ResourceDocuments = {
  name: "location_inventory_levels",
  root: "locations",
  // Only read by bulk; the paged form reads one location's changed levels.
  page: `query KuraLocationInventoryLevels($first: Int!, $after: String, $query: String) { locations(first: $first, after: $after) { pageInfo { hasNextPage endCursor } nodes { __typename id inventoryLevels(first: 100, query: $query) { pageInfo { hasNextPage endCursor } nodes { __typename ${CHANGED_LEVEL_SELECTION} } } } } }`,
  // The window's search narrows the levels, not the locations: every location is walked.
  bulk: (search) =>
    `{ locations { edges { node { __typename id inventoryLevels${search === null ? "" : `(query: ${JSON.stringify(search)})`} { edges { node { __typename ${CHANGED_LEVEL_SELECTION} } } } } } } }`,
  bulkChildFields: ["inventoryLevels"],
  minVersion: null,
  cursorField: "updated_at",
  sortKey: null,
  followUps: {},
  detached: {}
}

/**
 * Every location with its levels whose `updatedAt` falls in the job's window (bulk only).
 *
 * @since 0.3.0
 * @category constants
 */
export const LocationInventoryLevels: ResourceSpec<typeof LocationLevels.Type> = {
  name: documents.name,
  documents,
  schema: LocationLevels,
  childFieldByType: { InventoryLevel: "inventoryLevels" },
  scope: "read_inventory",
  inlineParents: {}
}

/**
 * The probe: per location, at most one level changed in the window.
 *
 * @since 0.3.0
 * @category constants
 */
export const CHANGED_LEVELS_PROBE_QUERY =
  "query KuraChangedLevelsProbe($first: Int!, $query: String) { locations(first: $first) { nodes { id inventoryLevels(first: 1, query: $query) { nodes { id updatedAt } } } } }"

const ProbeAnswer = Schema.Struct({
  locations: Schema.Struct({
    nodes: Schema.Array(
      Schema.Struct({
        id: Schema.String,
        inventoryLevels: Schema.Struct({
          nodes: Schema.Array(Schema.Struct({ id: Schema.String, updatedAt: Schema.NullOr(Schema.String) }))
        })
      })
    )
  })
})

/** Locations one probe request covers (Shopify's page maximum). */
const PROBE_LOCATIONS = 250

/**
 * The probe's requested cost for `locations` locations, by Shopify's rules: the `locations`
 * connection (2) plus, per location, its node (1) and a one-level `inventoryLevels` connection
 * (2 + 1). Its actual cost is at most this (1 less per location with nothing changed).
 *
 * @since 0.4.0
 * @category constructors
 */
export const changedLevelsProbeCost = (locations: number): number => 2 + 4 * Math.max(1, locations)

/**
 * The least a changed-levels bulk job costs: the `bulkOperationRunQuery` mutation (10) and one
 * status poll (1); the query the job runs is not charged.
 *
 * @since 0.4.0
 * @category constants
 */
export const CHANGED_LEVELS_BULK_MIN_COST = 11

/**
 * Whether probing first can save points: only when the probe costs less than the bulk job it
 * might spare. From 3 locations on (14 points) the job is cheaper than the probe even when nothing
 * changed, and a probe that finds a change is paid on top of the job.
 *
 * @since 0.4.0
 * @category constructors
 */
export const changedLevelsProbePays = (locations: number): boolean =>
  locations <= PROBE_LOCATIONS && changedLevelsProbeCost(locations) < CHANGED_LEVELS_BULK_MIN_COST

/**
 * Whether any of the shop's first `locations` locations has a level updated in `window` (one
 * request). `None` when the shop has more locations than one probe covers: ask the bulk read.
 *
 * @since 0.3.0
 * @category constructors
 */
export const anyInventoryLevelChanged = (options: {
  readonly window: TimeWindow
  readonly locations: number
}): Effect.Effect<Option.Option<boolean>, ShopifyError, ShopifyClient> =>
  Effect.gen(function* () {
    if (options.locations > PROBE_LOCATIONS) return Option.none()
    const client = yield* ShopifyClient
    const answer = yield* client.query(CHANGED_LEVELS_PROBE_QUERY, {
      first: Math.max(1, options.locations),
      query: updatedAtQuery(options.window)
    })
    const decoded = Schema.decodeUnknownOption(ProbeAnswer)(answer.data)
    if (Option.isNone(decoded))
      return yield* new ShopifyError({
        operation: "KuraChangedLevelsProbe",
        reason: new DataLoss({
          jobId: null,
          expected: null,
          actual: null,
          message: "unexpected answer shape for the changed inventory levels probe"
        })
      })
    return Option.some(decoded.value.locations.nodes.some((l) => l.inventoryLevels.nodes.length > 0))
  })

/**
 * Levels whose `updatedAt` falls in `window`, every location at once, by one bulk job; pages of
 * inventory items carrying just those levels, as `changedInventoryLevels` yields them.
 *
 * @since 0.3.0
 * @category constructors
 */
export const changedInventoryLevelsBulk = (options: {
  readonly window: TimeWindow
  /** Locations per emitted page (default 10). */
  readonly locationsPerPage?: number
}): Stream.Stream<ChangedLevelsPage, ShopifyError, ShopifyBulk | ShopifyClient> =>
  Stream.unwrap(
    Effect.gen(function* () {
      const bulk = yield* ShopifyBulk
      const client = yield* ShopifyClient
      const floor = windowFloor(options.window)
      const job = yield* bulk.run(LocationInventoryLevels, options.window)
      return bulk.results(LocationInventoryLevels, job).pipe(
        Stream.grouped(Math.max(1, options.locationsPerPage ?? 10)),
        Stream.mapEffect((locations) =>
          Effect.gen(function* () {
            const { raw, outsideWindow } = itemsOfLevels(
              locations.flatMap((l) => l.inventoryLevels),
              floor
            )
            const decoded = yield* decodeRecords(
              Resources.inventoryItems,
              raw,
              "KuraLocationInventoryLevels",
              `bulk job ${job.operation.id}`
            )
            return {
              locationId: locations.length === 1 ? (locations[0]?.id ?? "") : "*",
              items: decoded.records,
              rejected: decoded.rejected,
              outsideWindow
            } satisfies ChangedLevelsPage
          }).pipe(Effect.provideService(ShopifyClient, client))
        ),
        Stream.onEnd(Effect.ignore(bulk.markLoaded(job.record.jobId)))
      )
    })
  )
