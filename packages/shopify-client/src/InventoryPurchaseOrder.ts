/**
 * Inventory purchase orders (Admin API 2026-10 and later): Shopify's native successor of Stocky
 * purchase orders. Older API versions fail with `UnsupportedVersion`.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { Ref, ShopifyMoney } from "./ShopifyMoney.js"

const Money = Schema.NullOr(ShopifyMoney)

/**
 * One line of a purchase order.
 *
 * @since 0.1.0
 * @category schemas
 */
export const InventoryPurchaseOrderLineItem = Schema.Struct({
  id: Schema.String,
  title: Schema.NullOr(Schema.String),
  variantTitle: Schema.NullOr(Schema.String),
  supplierSku: Schema.NullOr(Schema.String),
  totalQuantity: Schema.Number,
  receivedQuantity: Schema.Number,
  taxPercent: Schema.NullOr(Schema.Number),
  inventoryItem: Schema.NullOr(Schema.Struct({ id: Schema.String, sku: Schema.NullOr(Schema.String) })),
  unitCost: Money,
  subtotal: Money,
  totalCost: Money
})

/**
 * The decoded type of {@link InventoryPurchaseOrderLineItem}.
 *
 * @since 0.1.0
 * @category models
 */
export type InventoryPurchaseOrderLineItem = typeof InventoryPurchaseOrderLineItem.Type

/**
 * A purchase order from a supplier to a location.
 *
 * @since 0.1.0
 * @category schemas
 */
export const InventoryPurchaseOrder = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  status: Schema.String,
  currency: Schema.String,
  dateCreated: Schema.String,
  orderedAt: Schema.NullOr(Schema.String),
  archivedAt: Schema.NullOr(Schema.String),
  updatedAt: Schema.String,
  origin: Schema.NullOr(
    Schema.Struct({
      name: Schema.String,
      snapshottedAt: Schema.String,
      supplier: Schema.NullOr(Schema.Struct({ id: Schema.String, name: Schema.String }))
    })
  ),
  destination: Schema.NullOr(
    Schema.Struct({ name: Schema.String, snapshottedAt: Schema.String, location: Schema.NullOr(Ref) })
  ),
  lineItems: Schema.Array(InventoryPurchaseOrderLineItem)
})

/**
 * The decoded type of {@link InventoryPurchaseOrder}.
 *
 * @since 0.1.0
 * @category models
 */
export type InventoryPurchaseOrder = typeof InventoryPurchaseOrder.Type
