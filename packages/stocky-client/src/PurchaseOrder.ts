/**
 * Purchase orders, with their embedded line items (`purchase_items`). Field names are Stocky's own
 * so a record can be checked against the API docs or an archive by eye; values are typed.
 */
import { Effect, Schema } from "effect"
import * as S from "./internal/scalars.js"

/** One PO line. `updated_at` arrives as "DD/MM/YYYY HH:MM" and is read in the store's zone. */
export const PurchaseOrderItem = Schema.Struct({
  id: S.StockyId,
  sku: S.TextOrEmpty,
  /** Shopify InventoryItem id. */
  inventory_item_id: S.NullableShopifyId,
  product_title: S.NullableText,
  variant_title: S.NullableText,
  asin: S.NullableText,
  quantity: S.Int,
  /** e.g. "not delivered", "delivered" (the full set is undocumented, so kept as text). */
  status: S.NullableText,
  retail_price: S.NullableDecimal,
  cost_price: S.NullableDecimal,
  supplier_cost_price: S.NullableDecimal,
  account_code: S.NullableText,
  tax_type_id: S.NullableStockyId,
  accounting_tax_type: S.NullableText,
  received_at: S.NullableTimestamp,
  updated_at: S.NullableTimestamp
})
/** A decoded PO line. */
export type PurchaseOrderItem = typeof PurchaseOrderItem.Type

/** A Stocky purchase order. Amounts are exact decimals in the PO's `currency`. */
export const PurchaseOrder = Schema.Struct({
  id: S.StockyId,
  /** PO number as text: usually digits, but custom numbers like "1000A" occur. */
  number: S.NullableText,
  sequential_id: S.NullableInt,
  invoice_number: S.NullableText,
  created_at: S.Timestamp,
  updated_at: S.Timestamp,
  generated_at: S.NullableTimestamp,
  ordered_at: S.NullableTimestamp,
  expected_on: S.NullableLocalDate,
  ship_on: S.NullableLocalDate,
  payment_due_on: S.NullableLocalDate,
  invoice_date: S.NullableLocalDate,
  archived: S.Bool,
  paid: S.Bool,
  supplier_name: S.NullableText,
  /** Sent as a string ("1") by the API; decoded to the supplier's numeric id. */
  supplier_id: S.NullableStockyId,
  currency: S.NullableText,
  /** Shopify Location id receiving the goods. */
  shopify_receive_location_id: S.NullableShopifyId,
  adjustments: S.NullableDecimal,
  adjustments_local: S.NullableDecimal,
  shipping: S.NullableDecimal,
  shipping_local: S.NullableDecimal,
  shipping_tax_type: S.NullableStockyId,
  purchase_items: Schema.Array(PurchaseOrderItem).pipe(Schema.withDecodingDefaultKey(Effect.succeed([])))
})
/** A decoded purchase order. */
export type PurchaseOrder = typeof PurchaseOrder.Type
