/**
 * Inventory items and their levels per location, with every named quantity Shopify tracks
 * (available, on_hand, committed, incoming, reserved, damaged, quality_control, safety_stock).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { Ref, ShopifyMoney } from "./ShopifyMoney.js"

/**
 * One named quantity of a level.
 *
 * @since 0.1.0
 * @category schemas
 */
export const InventoryQuantity = Schema.Struct({
  name: Schema.String,
  quantity: Schema.Number,
  updatedAt: Schema.NullOr(Schema.String)
})

/**
 * The decoded type of {@link InventoryQuantity}.
 *
 * @since 0.1.0
 * @category models
 */
export type InventoryQuantity = typeof InventoryQuantity.Type

/**
 * Stock of one item at one location. The gid is `gid://shopify/InventoryLevel/<n>?inventory_item_id=<m>`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const InventoryLevel = Schema.Struct({
  id: Schema.String,
  createdAt: Schema.String,
  updatedAt: Schema.String,
  location: Ref,
  quantities: Schema.Array(InventoryQuantity)
})

/**
 * The decoded type of {@link InventoryLevel}.
 *
 * @since 0.1.0
 * @category models
 */
export type InventoryLevel = typeof InventoryLevel.Type

/**
 * An inventory item (one per variant) with its levels.
 *
 * @since 0.1.0
 * @category schemas
 */
export const InventoryItem = Schema.Struct({
  id: Schema.String,
  legacyResourceId: Schema.String,
  sku: Schema.NullOr(Schema.String),
  tracked: Schema.Boolean,
  requiresShipping: Schema.Boolean,
  createdAt: Schema.String,
  updatedAt: Schema.String,
  unitCost: Schema.NullOr(ShopifyMoney),
  variant: Schema.NullOr(Ref),
  inventoryLevels: Schema.Array(InventoryLevel)
})

/**
 * The decoded type of {@link InventoryItem}.
 *
 * @since 0.1.0
 * @category models
 */
export type InventoryItem = typeof InventoryItem.Type

/**
 * Reads a named quantity of a level (0 when Shopify did not report it).
 *
 * @since 0.1.0
 * @category accessors
 */
export const quantityOf = (level: InventoryLevel, name: string): number =>
  level.quantities.find((q) => q.name === name)?.quantity ?? 0
