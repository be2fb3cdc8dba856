/**
 * The canonical value sets of the warehouse's enum-like columns, per source. Every source is
 * mapped into ONE vocabulary per column (Shopify's order enums for the orders' statuses,
 * Stocky's lifecycle for purchase orders), so grouping by a status never splits one state by
 * channel. docs/data-dictionary.md lists these sets; the mappers' tests check every value they
 * emit is in its set.
 */

const SHOPIFY_FINANCIAL = [
  "PENDING",
  "AUTHORIZED",
  "PARTIALLY_PAID",
  "PAID",
  "PARTIALLY_REFUNDED",
  "REFUNDED",
  "VOIDED",
  "EXPIRED"
] as const

const SHOPIFY_FULFILLMENT = [
  "UNFULFILLED",
  "PARTIALLY_FULFILLED",
  "FULFILLED",
  "RESTOCKED",
  "PENDING_FULFILLMENT",
  "OPEN",
  "IN_PROGRESS",
  "ON_HOLD",
  "SCHEDULED",
  "REQUEST_DECLINED"
] as const

const PURCHASE_ORDER = ["draft", "ordered", "partially_received", "received", "archived"] as const

/**
 * Allowed values of each enum-like canonical column (`table.column`), by source (`shopify`,
 * `lightspeed`, `stocky`). A source absent from a column does not write that table.
 */
export const StatusVocabulary: Readonly<
  Record<string, Readonly<Partial<Record<"shopify" | "lightspeed" | "stocky", ReadonlyArray<string>>>>>
> = {
  "orders.financial_status": { shopify: SHOPIFY_FINANCIAL, lightspeed: ["PAID", "REFUNDED", "VOIDED"] },
  "orders.fulfillment_status": { shopify: SHOPIFY_FULFILLMENT, lightspeed: ["FULFILLED"] },
  "orders.status": { shopify: ["open", "closed", "cancelled"], lightspeed: ["closed", "cancelled"] },
  "payments.kind": {
    shopify: [
      "sale",
      "capture",
      "authorization",
      "void",
      "refund",
      "change",
      "emv_authorization",
      "suggested_refund"
    ],
    lightspeed: ["sale", "refund"]
  },
  "payments.status": {
    shopify: ["success", "failure", "pending", "error", "awaiting_response", "unknown"],
    lightspeed: ["success"]
  },
  "products.status": {
    shopify: ["active", "archived", "draft", "unlisted"],
    lightspeed: ["active", "archived"]
  },
  "purchase_orders.status": { shopify: PURCHASE_ORDER, stocky: PURCHASE_ORDER },
  "inventory_movements.kind": {
    shopify: ["sale", "refund_restock", "receipt", "transfer_out", "transfer_in"],
    lightspeed: ["sale", "refund_restock"],
    stocky: ["receipt", "adjustment", "count_correction", "transfer_out", "transfer_in"]
  }
}
