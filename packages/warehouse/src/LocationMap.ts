/**
 * The cross-source location link: which stock location (a Shopify location, whose inventory
 * levels are the snapshots) a POS business location or another source's location moves stock at.
 * `v_location_links` links by name when no manual link exists; manual links (these rows, in the
 * `location_map` table) always win, for stores whose names differ between systems.
 */
import type { MapContext } from "./Mapper.js"
import type { CanonicalRow, Source } from "./Tables.js"

/** A manual link: this source location moves stock at that stock location. */
export interface LocationOverride {
  /** The source of the location being linked, e.g. "lightspeed". */
  readonly source: Source
  /** Its account (Lightspeed business id, Stocky store). */
  readonly sourceAccount: string
  /** Its location id in that source (e.g. the K-Series blID). */
  readonly locationId: string
  /** The linked stock location's source (default "shopify"). */
  readonly stockSource?: Source
  /** The linked stock location's account (the shop domain). */
  readonly stockAccount: string
  /** The linked stock location's id (the Shopify location's legacy id). */
  readonly stockLocationId: string
  readonly note?: string
}

/**
 * Builds `location_map` rows from manual links (load them with `Warehouse.load("location_map",
 * rows)`; a later `syncedAt` replaces an earlier link, `markDeleted` removes one). Throws naming
 * the field when an id is blank, since a blank link silently matches nothing.
 */
export const buildLocationMap = (
  overrides: ReadonlyArray<LocationOverride>,
  ctx: Pick<MapContext, "syncedAt" | "batchId">
): ReadonlyArray<CanonicalRow<"location_map">> =>
  overrides.map((o, i) => {
    for (const field of ["sourceAccount", "locationId", "stockAccount", "stockLocationId"] as const) {
      if (o[field].trim() === "")
        throw new Error(
          `location override ${i}: ${field} is blank; give the id exactly as its source reports it`
        )
    }
    return {
      source: o.source,
      source_account: o.sourceAccount,
      source_id: o.locationId,
      updated_at: ctx.syncedAt,
      _synced_at: ctx.syncedAt,
      _batch_id: ctx.batchId,
      _deleted_at: null,
      location_id: o.locationId,
      stock_source: o.stockSource ?? "shopify",
      stock_account: o.stockAccount,
      stock_location_id: o.stockLocationId,
      note: o.note ?? null
    }
  })
