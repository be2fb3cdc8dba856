/** Small hand-built canonical rows for the warehouse tests. */
import type { CanonicalRow } from "../src/index.js"

const lineage = (id: string, updatedAt: string, batch = "b1") => ({
  source: "shopify",
  source_account: "kura-matcha.myshopify.com",
  source_id: id,
  updated_at: updatedAt,
  _synced_at: "2026-01-10T00:00:00Z",
  _batch_id: batch,
  _deleted_at: null
})

/** An online order; money as decimal strings. */
export const order = (
  id: string,
  updatedAt: string,
  over: Partial<CanonicalRow<"orders">> = {}
): CanonicalRow<"orders"> => ({
  ...lineage(id, updatedAt),
  channel: "online",
  location_id: "loc-1",
  order_number: `#${id}`,
  customer_id: null,
  currency: "JPY",
  subtotal: "1000",
  discounts: "0",
  shipping: "0",
  tax: "100",
  total: "1100",
  refunded: "0",
  presentment_currency: "USD",
  subtotal_presentment: "6.71",
  discounts_presentment: "0",
  shipping_presentment: "0",
  tax_presentment: "0.67",
  total_presentment: "7.38",
  refunded_presentment: "0",
  financial_status: "paid",
  fulfillment_status: null,
  status: null,
  created_at: "2026-01-05T01:00:00Z",
  processed_at: "2026-01-05T01:00:00Z",
  business_date: "2026-01-05",
  cancelled_at: null,
  ...over
})

/** A line of an order. */
export const line = (
  id: string,
  orderId: string,
  quantity: number,
  over: Partial<CanonicalRow<"order_lines">> = {}
): CanonicalRow<"order_lines"> => ({
  ...lineage(id, "2026-01-05T01:00:00Z"),
  order_id: orderId,
  product_id: "p1",
  variant_id: "v1",
  sku: "MATCHA-30G",
  title: "Matcha 30g",
  quantity,
  unit_price: "500",
  discount: "0",
  tax: "50",
  total: "1000",
  unit_price_presentment: null,
  total_presentment: null,
  ...over
})

/** A refund. */
export const refund = (
  id: string,
  orderId: string,
  amount: string,
  businessDate: string
): CanonicalRow<"refunds"> => ({
  ...lineage(id, "2026-01-06T01:00:00Z"),
  order_id: orderId,
  channel: "online",
  location_id: "loc-1",
  currency: "JPY",
  amount,
  amount_presentment: null,
  note: null,
  created_at: `${businessDate}T01:00:00Z`,
  processed_at: null,
  business_date: businessDate
})

/** An on_hand snapshot. */
export const level = (
  sku: string,
  location: string,
  observedAt: string,
  quantity: number
): CanonicalRow<"inventory_levels"> => ({
  ...lineage(`${sku}:${location}:on_hand`, observedAt),
  variant_id: `v-${sku}`,
  inventory_item_id: null,
  sku,
  location_id: location,
  quantity_name: "on_hand",
  quantity,
  observed_at: observedAt,
  snapshot_date: observedAt.slice(0, 10)
})

/** A signed inventory movement. */
export const movement = (
  id: string,
  sku: string,
  location: string,
  kind: string,
  quantity: number,
  occurredAt: string
): CanonicalRow<"inventory_movements"> => ({
  ...lineage(id, occurredAt),
  variant_id: `v-${sku}`,
  sku,
  inventory_item_id: null,
  location_id: location,
  kind,
  quantity,
  reason: null,
  reference_type: null,
  reference_id: null,
  occurred_at: occurredAt
})
