/** Order documents: line items, refunds (with refund lines and transactions), transactions, tax lines, discounts (via allocations), shipping. */
import {
  connection,
  followUp,
  inlineConnection,
  MONEY_BAG,
  type Mode,
  nodesQuery,
  resource,
  TAX_LINE
} from "./Selection.js"

const money = (field: string) => `${field} { ${MONEY_BAG} }`

const DISCOUNT_APPLICATION = [
  "__typename allocationMethod targetSelection targetType index",
  "value { __typename ... on MoneyV2 { amount currencyCode } ... on PricingPercentageValue { percentage } }",
  "... on DiscountCodeApplication { code }",
  "... on ManualDiscountApplication { title description }",
  "... on AutomaticDiscountApplication { title }",
  "... on ScriptDiscountApplication { title }"
].join(" ")

const LINE_ITEM = [
  "id name title variantTitle sku vendor quantity currentQuantity refundableQuantity taxable requiresShipping isGiftCard",
  "variant { id } product { id }",
  money("originalUnitPriceSet"),
  money("discountedTotalSet"),
  money("totalDiscountSet"),
  `taxLines { ${TAX_LINE} }`,
  `discountAllocations { ${money("allocatedAmountSet")} discountApplication { ${DISCOUNT_APPLICATION} } }`
].join(" ")

const TRANSACTION = `id kind status gateway test createdAt processedAt parentTransaction { id } ${money("amountSet")}`

const REFUND_LINE_ITEM = `id quantity restockType restocked lineItem { id } location { id } ${money("subtotalSet")} ${money("totalTaxSet")}`

const REFUND = [
  "id legacyResourceId createdAt updatedAt processedAt note",
  money("totalRefundedSet"),
  inlineConnection("refundLineItems", 10, REFUND_LINE_ITEM),
  inlineConnection("transactions", 3, TRANSACTION)
].join(" ")

const SHIPPING_LINE = `id title code source carrierIdentifier ${money("originalPriceSet")} ${money("discountedPriceSet")} taxLines { ${TAX_LINE} } discountAllocations { ${money("allocatedAmountSet")} discountApplication { ${DISCOUNT_APPLICATION} } }`

const selection = (mode: Mode): string =>
  [
    "__typename id legacyResourceId name createdAt updatedAt processedAt cancelledAt cancelReason closedAt closed test",
    "currencyCode presentmentCurrencyCode displayFinancialStatus displayFulfillmentStatus sourceName tags discountCodes",
    "customer { id legacyResourceId }",
    money("subtotalPriceSet"),
    money("totalPriceSet"),
    money("totalTaxSet"),
    money("totalDiscountsSet"),
    money("totalShippingPriceSet"),
    money("totalRefundedSet"),
    money("currentSubtotalPriceSet"),
    money("currentTotalPriceSet"),
    money("currentTotalTaxSet"),
    money("currentTotalDiscountsSet"),
    `taxLines { ${TAX_LINE} }`,
    // Plain lists have no pageInfo, so a `first` could cut them silently: read them whole.
    `transactions { ${TRANSACTION} }`,
    // Paged: refund ids only, the refunds themselves are read by one `nodes(ids:)` query per page
    // (most orders have none, and inline they priced every order as if it had one).
    mode === "page" ? "refunds { id }" : `refunds { ${REFUND} }`,
    // Nested pages are priced at their full size against the 1000-point ceiling, so they are
    // sized for the common order (up to 4 line items, one shipping line): 6 orders fit a page
    // (3 when refunds were inline and lineItems 5). Longer orders are read by follow-up queries.
    // Refunds' inline connections stay larger: they sit in a plain list read by nodes(ids:).
    connection(mode, "lineItems", 4, LINE_ITEM),
    connection(mode, "shippingLines", 1, SHIPPING_LINE)
  ].join(" ")

/** Orders, paged and bulk. */
export const OrdersDocuments = resource({
  name: "orders",
  operation: "KuraOrders",
  root: "orders",
  sortKey: "UPDATED_AT",
  selection,
  // Bulk allows 5 connections: orders, lineItems, shippingLines, refunds' refundLineItems and
  // refunds' transactions. Discount applications are read inline through the allocations.
  bulkChildFields: ["lineItems", "shippingLines"],
  detached: { refunds: nodesQuery("Refund", REFUND) },
  followUps: {
    lineItems: followUp("Order", "lineItems", LINE_ITEM),
    shippingLines: followUp("Order", "shippingLines", SHIPPING_LINE),
    "refunds.refundLineItems": followUp("Refund", "refundLineItems", REFUND_LINE_ITEM),
    "refunds.transactions": followUp("Refund", "transactions", TRANSACTION)
  }
})
