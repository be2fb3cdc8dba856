/**
 * Orders as Kura extracts them (paged or bulk, same type): line items, refunds with refund lines
 * and refund transactions, payment transactions, tax lines, discount applications, shipping lines
 * and the customer reference. Money is exact (core `Money`) in shop and presentment currency.
 *
 * @since 0.1.0
 */
import { DecimalFromString } from "@kura/core"
import { Schema } from "effect"
import { MoneyBag, Ref, TaxLine } from "./ShopifyMoney.js"

const NullableRef = Schema.NullOr(Ref)

/**
 * A discount applied to the order (code, manual, automatic or script), identified by `index`;
 * read through the allocations that spread it over lines and shipping.
 *
 * @since 0.1.0
 * @category schemas
 */
export const DiscountApplication = Schema.Struct({
  __typename: Schema.String,
  allocationMethod: Schema.String,
  targetSelection: Schema.String,
  targetType: Schema.String,
  index: Schema.Number,
  value: Schema.Union([
    Schema.Struct({ __typename: Schema.Literal("PricingPercentageValue"), percentage: Schema.Number }),
    Schema.Struct({
      __typename: Schema.Literal("MoneyV2"),
      amount: DecimalFromString,
      currencyCode: Schema.String
    })
  ]),
  code: Schema.optional(Schema.String),
  title: Schema.optional(Schema.String),
  description: Schema.optional(Schema.NullOr(Schema.String))
})

/**
 * The decoded type of {@link DiscountApplication}.
 *
 * @since 0.1.0
 * @category models
 */
export type DiscountApplication = typeof DiscountApplication.Type

const DiscountAllocation = Schema.Struct({
  allocatedAmountSet: MoneyBag,
  discountApplication: DiscountApplication
})

/**
 * A line of an order.
 *
 * @since 0.1.0
 * @category schemas
 */
export const LineItem = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  title: Schema.String,
  variantTitle: Schema.NullOr(Schema.String),
  sku: Schema.NullOr(Schema.String),
  vendor: Schema.NullOr(Schema.String),
  quantity: Schema.Number,
  currentQuantity: Schema.Number,
  refundableQuantity: Schema.Number,
  taxable: Schema.Boolean,
  requiresShipping: Schema.Boolean,
  isGiftCard: Schema.Boolean,
  variant: NullableRef,
  product: NullableRef,
  originalUnitPriceSet: MoneyBag,
  /** After line-level and order-level discounts. */
  discountedTotalSet: MoneyBag,
  totalDiscountSet: MoneyBag,
  taxLines: Schema.Array(TaxLine),
  discountAllocations: Schema.Array(DiscountAllocation)
})

/**
 * The decoded type of {@link LineItem}.
 *
 * @since 0.1.0
 * @category models
 */
export type LineItem = typeof LineItem.Type

/**
 * A payment movement (sale, capture, authorization, refund …).
 *
 * @since 0.1.0
 * @category schemas
 */
export const OrderTransaction = Schema.Struct({
  id: Schema.String,
  kind: Schema.String,
  status: Schema.String,
  gateway: Schema.NullOr(Schema.String),
  test: Schema.Boolean,
  createdAt: Schema.String,
  processedAt: Schema.NullOr(Schema.String),
  parentTransaction: NullableRef,
  amountSet: MoneyBag
})

/**
 * The decoded type of {@link OrderTransaction}.
 *
 * @since 0.1.0
 * @category models
 */
export type OrderTransaction = typeof OrderTransaction.Type

/**
 * One refunded line: quantity, restock type and the refunded money.
 *
 * @since 0.1.0
 * @category schemas
 */
export const RefundLineItem = Schema.Struct({
  id: Schema.NullOr(Schema.String),
  quantity: Schema.Number,
  restockType: Schema.String,
  restocked: Schema.Boolean,
  lineItem: Ref,
  location: NullableRef,
  subtotalSet: MoneyBag,
  totalTaxSet: MoneyBag
})

/**
 * The decoded type of {@link RefundLineItem}.
 *
 * @since 0.1.0
 * @category models
 */
export type RefundLineItem = typeof RefundLineItem.Type

/**
 * A refund of (part of) an order.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Refund = Schema.Struct({
  id: Schema.String,
  legacyResourceId: Schema.String,
  createdAt: Schema.NullOr(Schema.String),
  updatedAt: Schema.String,
  processedAt: Schema.String,
  note: Schema.NullOr(Schema.String),
  totalRefundedSet: MoneyBag,
  refundLineItems: Schema.Array(RefundLineItem),
  transactions: Schema.Array(OrderTransaction)
})

/**
 * The decoded type of {@link Refund}.
 *
 * @since 0.1.0
 * @category models
 */
export type Refund = typeof Refund.Type

/**
 * A shipping line with its price before and after discounts and its taxes.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ShippingLine = Schema.Struct({
  id: Schema.NullOr(Schema.String),
  title: Schema.String,
  code: Schema.NullOr(Schema.String),
  source: Schema.NullOr(Schema.String),
  carrierIdentifier: Schema.NullOr(Schema.String),
  originalPriceSet: MoneyBag,
  discountedPriceSet: MoneyBag,
  taxLines: Schema.Array(TaxLine),
  discountAllocations: Schema.Array(DiscountAllocation)
})

/**
 * The decoded type of {@link ShippingLine}.
 *
 * @since 0.1.0
 * @category models
 */
export type ShippingLine = typeof ShippingLine.Type

const NullableBag = Schema.NullOr(MoneyBag)

/**
 * An order.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Order = Schema.Struct({
  id: Schema.String,
  legacyResourceId: Schema.String,
  name: Schema.String,
  createdAt: Schema.String,
  updatedAt: Schema.String,
  processedAt: Schema.String,
  cancelledAt: Schema.NullOr(Schema.String),
  cancelReason: Schema.NullOr(Schema.String),
  closedAt: Schema.NullOr(Schema.String),
  closed: Schema.Boolean,
  test: Schema.Boolean,
  currencyCode: Schema.String,
  presentmentCurrencyCode: Schema.String,
  displayFinancialStatus: Schema.NullOr(Schema.String),
  displayFulfillmentStatus: Schema.String,
  sourceName: Schema.NullOr(Schema.String),
  tags: Schema.Array(Schema.String),
  discountCodes: Schema.Array(Schema.String),
  customer: Schema.NullOr(Schema.Struct({ id: Schema.String, legacyResourceId: Schema.String })),
  subtotalPriceSet: NullableBag,
  totalPriceSet: MoneyBag,
  totalTaxSet: NullableBag,
  totalDiscountsSet: NullableBag,
  totalShippingPriceSet: MoneyBag,
  totalRefundedSet: MoneyBag,
  currentSubtotalPriceSet: MoneyBag,
  currentTotalPriceSet: MoneyBag,
  currentTotalTaxSet: MoneyBag,
  currentTotalDiscountsSet: MoneyBag,
  taxLines: Schema.Array(TaxLine),
  transactions: Schema.Array(OrderTransaction),
  refunds: Schema.Array(Refund),
  lineItems: Schema.Array(LineItem),
  shippingLines: Schema.Array(ShippingLine)
})

/**
 * The decoded type of {@link Order}.
 *
 * @since 0.1.0
 * @category models
 */
export type Order = typeof Order.Type
