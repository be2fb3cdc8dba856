/**
 * A lookup from inventory item ids to variants and SKUs. Stocky transfer lines and Shopify
 * transfer and purchase-order lines name only the inventory item; movements need the variant
 * and SKU to tie out per SKU × location.
 */
import type { CanonicalRow } from "../Tables.js"

/** What a movement needs to know about an inventory item. */
export interface CatalogEntry {
  readonly variantId: string
  readonly sku: string | null
}

/** Looks variants up by their inventory item id. */
export interface InventoryCatalog {
  readonly byInventoryItemId: (inventoryItemId: string) => CatalogEntry | undefined
}

/** Builds a catalog from canonical `variants` rows (those with an `inventory_item_id`). */
export const inventoryCatalogOf = (variants: Iterable<CanonicalRow<"variants">>): InventoryCatalog => {
  const byItem = new Map<string, CatalogEntry>()
  for (const v of variants) {
    if (v.inventory_item_id !== null) byItem.set(v.inventory_item_id, { variantId: v.source_id, sku: v.sku })
  }
  return { byInventoryItemId: (id) => byItem.get(id) }
}
