/** Order documents: line items, refunds (with refund lines and transactions), transactions, tax lines, discounts (via allocations), shipping. */
import {
  connection,
  followUp,
  inlineConnection,
  MONEY_BAG,
  type Mode,
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
    `refunds { ${REFUND} }`,
    // Nested pages are priced at their full size against the 1000-point query ceiling, so they are
    // sized for the common order (lineItems 10 fit 2 orders a page, 5 fit 3); longer ones are read
    // by the follow-up queries. Refunds' inline connections stay larger: they sit in a plain list.
    connection(mode, "lineItems", 5, LINE_ITEM),
    connection(mode, "shippingLines", 2, SHIPPING_LINE)
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
  followUps: {
    lineItems: followUp("Order", "lineItems", LINE_ITEM),
    shippingLines: followUp("Order", "shippingLines", SHIPPING_LINE),
    "refunds.refundLineItems": followUp("Refund", "refundLineItems", REFUND_LINE_ITEM),
    "refunds.transactions": followUp("Refund", "transactions", TRANSACTION)
  }
})
