/**
 * GraphQL views: thin objects over the merchant's records whose properties and methods are the
 * Admin schema's field names, so graphql-js's default resolver (and the bulk executor) read them
 * directly. Methods receive `(args, ctx)`. Nothing is computed until a field is selected.
 */
import { GraphQLError } from "graphql"
import type {
  InventoryQuantities,
  Location,
  Order,
  OrderLine,
  PurchaseOrder,
  Refund,
  StockTransfer,
  TaxLine,
  Transaction,
  Variant
} from "../model.js"
import {
  type Connection,
  connectionOf,
  encodeCursor,
  type PageArgs,
  pageIndexed,
  pageSize
} from "./connection.js"
import { decimalAmount, gid, isoUtc, toPresentment } from "./format.js"
import type { ShopifyState } from "./ShopifyState.js"
import {
  compileSearch,
  type SearchFields,
  SearchSyntaxError,
  type SearchWarning,
  termValues
} from "./search.js"

/** Per-request context handed to every resolver. */
export interface RequestContext {
  readonly state: ShopifyState
  readonly version: string
  /** Bulk mode: connection sizes are free and nested connections return everything. */
  readonly bulk: boolean
  readonly now: number
  /** Search warnings collected while resolving (`extensions.search`); absent in bulk and REST. */
  readonly search?: Array<{
    readonly path: ReadonlyArray<string>
    readonly query: string
    readonly warnings: ReadonlyArray<SearchWarning>
  }>
}

/** Throws Shopify's ACCESS_DENIED error unless `scope` was granted. */
export const requireScope = (ctx: RequestContext, scope: string, field: string): void => {
  if (!ctx.state.scopes.has(scope)) throw accessDenied(field, scope)
}

/** Shopify's ACCESS_DENIED error naming the missing scope. */
export const accessDenied = (field: string, scope: string): GraphQLError =>
  new GraphQLError(`Access denied for ${field} field. Required access: \`${scope}\` access scope.`, {
    extensions: {
      code: "ACCESS_DENIED",
      documentation: "https://shopify.dev/api/usage/access-scopes",
      requiredAccess: `\`${scope}\` access scope.`
    }
  })

const money = (minor: number, currency: string) => ({
  __typename: "MoneyV2",
  amount: decimalAmount(minor, currency),
  currencyCode: currency
})

/** A MoneyBag for an order amount: shop money and presentment money. */
const bagFor = (o: Order) => (minor: number) => ({
  shopMoney: money(minor, o.currency),
  presentmentMoney: money(
    toPresentment(minor, o.currency, o.presentmentRate, o.presentmentCurrency),
    o.presentmentCurrency
  )
})

const taxLineView = (o: Order, t: TaxLine) => {
  const rate = Number(t.rate)
  return {
    title: t.title,
    rate,
    ratePercentage: Math.round(rate * 10000) / 100,
    priceSet: bagFor(o)(t.amount),
    price: decimalAmount(t.amount, o.currency),
    channelLiable: false,
    source: "Shopify"
  }
}

/** A list of plain items honouring `first` on list fields such as `refunds(first:)`. */
const firstOf = <T>(
  items: ReadonlyArray<T>,
  args: { first?: number | null } | undefined
): ReadonlyArray<T> => (args?.first === undefined || args.first === null ? items : items.slice(0, args.first))

/** Pages a small in-memory array (line items, variants of a product…). */
export const pageArray = <T, N>(
  items: ReadonlyArray<T>,
  view: (t: T) => N,
  args: PageArgs,
  ctx: RequestContext
): Connection<N> => {
  // Bulk output reads only `nodes` of nested connections: skip paging and cursors entirely.
  if (ctx.bulk && (args.reverse ?? false) === false && args.after == null) {
    return connectionOf(items.map(view), () => "", false, false)
  }
  return pageIndexed(
    items.length,
    (i) => items[i],
    () => true,
    (t) => view(t),
    args,
    ctx.bulk
  )
}

const restockType = (restock: boolean): string => (restock ? "RETURN" : "NO_RESTOCK")

/** Shopify's view of an order line. */
export class LineItemView {
  readonly __typename = "LineItem"
  constructor(
    readonly order: Order,
    readonly line: OrderLine,
    readonly state: ShopifyState
  ) {}
  get id() {
    return gid("LineItem", this.line.id)
  }
  get name() {
    return this.line.title
  }
  get title() {
    return this.line.title
  }
  get sku() {
    return this.line.sku
  }
  get quantity() {
    return this.line.quantity
  }
  get refundedQuantity() {
    let n = 0
    for (const r of this.order.refunds)
      for (const l of r.lines) if (l.orderLineId === this.line.id) n += l.quantity
    return n
  }
  get currentQuantity() {
    return this.line.quantity - this.refundedQuantity
  }
  get refundableQuantity() {
    return this.currentQuantity
  }
  get unfulfilledQuantity() {
    return 0
  }
  get fulfillableQuantity() {
    return 0
  }
  get vendor() {
    const v = this.state.lookups.variants.get(this.line.variantId)
    return v === undefined ? null : (this.state.lookups.products.get(v.productId)?.vendor ?? null)
  }
  get variantTitle() {
    return this.state.lookups.variants.get(this.line.variantId)?.title ?? null
  }
  get taxable() {
    return this.line.taxLines.length > 0
  }
  get requiresShipping() {
    return true
  }
  get isGiftCard() {
    return false
  }
  get restockable() {
    return this.currentQuantity > 0
  }
  get customAttributes() {
    return []
  }
  get discountAllocations() {
    const bag = bagFor(this.order)
    return this.line.discount === 0
      ? []
      : [
          {
            allocatedAmountSet: bag(this.line.discount),
            allocatedAmount: money(this.line.discount, this.order.currency),
            discountApplication: discountApplicationOf(this.order)
          }
        ]
  }
  get originalUnitPriceSet() {
    return bagFor(this.order)(this.line.unitPrice)
  }
  get discountedUnitPriceSet() {
    return bagFor(this.order)(
      Math.round(
        (this.line.unitPrice * this.line.quantity - this.line.discount) / Math.max(1, this.line.quantity)
      )
    )
  }
  get discountedUnitPriceAfterAllDiscountsSet() {
    return this.discountedUnitPriceSet
  }
  get originalTotalSet() {
    return bagFor(this.order)(this.line.unitPrice * this.line.quantity)
  }
  discountedTotalSet() {
    return bagFor(this.order)(this.line.unitPrice * this.line.quantity - this.line.discount)
  }
  get totalDiscountSet() {
    return bagFor(this.order)(this.line.discount)
  }
  taxLines(args?: { first?: number | null }) {
    return firstOf(this.line.taxLines, args).map((t) => taxLineView(this.order, t))
  }
  get variant() {
    const v = this.state.lookups.variants.get(this.line.variantId)
    return v === undefined ? null : new VariantView(v, this.state)
  }
  get product() {
    const v = this.state.lookups.variants.get(this.line.variantId)
    const p = v === undefined ? undefined : this.state.lookups.products.get(v.productId)
    return p === undefined ? null : new ProductView(p.id, this.state)
  }
}

const discountApplicationOf = (o: Order) => ({
  __typename: "DiscountCodeApplication",
  code: o.discountCode ?? "",
  index: 0,
  allocationMethod: "ACROSS",
  targetSelection: "ALL",
  targetType: "LINE_ITEM",
  value: money(o.totalDiscounts, o.currency)
})

/** Shopify's view of an order transaction. */
export const transactionView = (o: Order, t: Transaction, state: ShopifyState) => ({
  __typename: "OrderTransaction",
  id: gid("OrderTransaction", t.id),
  kind: t.kind.toUpperCase(),
  status: t.status.toUpperCase(),
  gateway: t.gateway,
  formattedGateway: t.gateway,
  amountSet: bagFor(o)(t.amount),
  amount: decimalAmount(t.amount, o.currency),
  createdAt: isoUtc(t.createdAt),
  processedAt: isoUtc(t.createdAt),
  test: false,
  manualPaymentGateway: t.gateway === "manual",
  manuallyCapturable: false,
  multiCapturable: false,
  fees: [],
  parentTransaction:
    t.parentId === null ? null : { __typename: "OrderTransaction", id: gid("OrderTransaction", t.parentId) },
  order: () => new OrderView(o, state)
})

/** Refund transactions are matched to refunds in order (the model keeps them on the order). */
const refundTransactions = (o: Order, r: Refund): ReadonlyArray<Transaction> => {
  const refunds = o.transactions.filter((t) => t.kind === "refund")
  const k = o.refunds.indexOf(r)
  const t = refunds[k]
  return t === undefined ? [] : [t]
}

/** Shopify's view of a refund. */
export class RefundView {
  readonly __typename = "Refund"
  constructor(
    readonly o: Order,
    readonly r: Refund,
    readonly state: ShopifyState
  ) {}
  get id() {
    return gid("Refund", this.r.id)
  }
  get legacyResourceId() {
    return String(this.r.id)
  }
  get createdAt() {
    return isoUtc(this.r.createdAt)
  }
  get processedAt() {
    return isoUtc(this.r.createdAt)
  }
  get updatedAt() {
    return isoUtc(this.r.createdAt)
  }
  get note() {
    return this.r.note
  }
  get totalRefundedSet() {
    return bagFor(this.o)(this.r.amount)
  }
  get totalRefunded() {
    return money(this.r.amount, this.o.currency)
  }
  get order() {
    return new OrderView(this.o, this.state)
  }
  refundLineItems(args: PageArgs, ctx: RequestContext) {
    const bag = bagFor(this.o)
    return pageArray(
      this.r.lines,
      (l) => {
        const line = this.o.lines.find((x) => x.id === l.orderLineId)
        return {
          __typename: "RefundLineItem",
          id: gid("RefundLineItem", l.id),
          quantity: l.quantity,
          restockType: restockType(l.restock),
          restocked: l.restock,
          priceSet: bag(line?.unitPrice ?? 0),
          subtotalSet: bag(l.subtotal),
          totalTaxSet: bag(l.tax),
          location: () => {
            const loc = this.state.lookups.locations.get(l.locationId)
            return loc === undefined ? null : new LocationView(loc, this.state)
          },
          lineItem: line === undefined ? null : new LineItemView(this.o, line, this.state)
        }
      },
      args,
      ctx
    )
  }
  transactions(args: PageArgs, ctx: RequestContext) {
    return pageArray(
      refundTransactions(this.o, this.r),
      (t) => transactionView(this.o, t, this.state),
      args,
      ctx
    )
  }
  refundShippingLines(args: PageArgs, ctx: RequestContext) {
    const bag = bagFor(this.o)
    const lines = this.r.shippingRefund > 0 ? [this.r.shippingRefund] : []
    return pageArray(lines, (amount) => ({ subtotalAmountSet: bag(amount), taxAmountSet: bag(0) }), args, ctx)
  }
  orderAdjustments(args: PageArgs, ctx: RequestContext) {
    return pageArray([], (x) => x, args, ctx)
  }
  get duties() {
    return []
  }
}

/** Shopify's view of an online order. */
export class OrderView {
  readonly __typename = "Order"
  constructor(
    readonly o: Order,
    readonly state: ShopifyState
  ) {}
  private get bag() {
    return bagFor(this.o)
  }
  get id() {
    return gid("Order", this.o.id)
  }
  get legacyResourceId() {
    return String(this.o.id)
  }
  get name() {
    return this.o.name
  }
  get number() {
    return Number(this.o.name.replace(/\D/g, "")) - 1000
  }
  get createdAt() {
    // Bad-record injection: a malformed order carries an unparseable timestamp and amount.
    return this.o.malformed ? "0000-00-00T00:00:00Z" : isoUtc(this.o.createdAt)
  }
  get updatedAt() {
    return isoUtc(this.o.updatedAt)
  }
  get processedAt() {
    return isoUtc(this.o.processedAt)
  }
  get cancelledAt() {
    return this.o.cancelledAt === null ? null : isoUtc(this.o.cancelledAt)
  }
  get cancelReason() {
    return this.o.cancelReason === null ? null : this.o.cancelReason.toUpperCase()
  }
  get closed() {
    return false
  }
  get closedAt() {
    return null
  }
  get confirmed() {
    return true
  }
  get test() {
    return false
  }
  get edited() {
    return false
  }
  get currencyCode() {
    return this.o.currency
  }
  get presentmentCurrencyCode() {
    return this.o.presentmentCurrency
  }
  get sourceName() {
    return "web"
  }
  get tags() {
    return []
  }
  get note() {
    return null
  }
  get discountCode() {
    return this.o.discountCode
  }
  get discountCodes() {
    return this.o.discountCode === null ? [] : [this.o.discountCode]
  }
  get paymentGatewayNames() {
    return [...new Set(this.o.transactions.map((t) => t.gateway))]
  }
  get refundedAmount() {
    return this.o.refunds.reduce((s, r) => s + r.amount, 0)
  }
  get taxesIncluded() {
    return this.o.taxesIncluded
  }
  get taxExempt() {
    return false
  }
  get displayFinancialStatus() {
    const refunded = this.refundedAmount
    if (refunded >= this.o.total && refunded > 0) return "REFUNDED"
    if (refunded > 0) return "PARTIALLY_REFUNDED"
    if (this.o.cancelledAt !== null) return "VOIDED"
    return "PAID"
  }
  get displayFulfillmentStatus() {
    return this.o.cancelledAt === null ? "FULFILLED" : "UNFULFILLED"
  }
  get fullyPaid() {
    return true
  }
  get unpaid() {
    return false
  }
  get subtotalLineItemsQuantity() {
    return this.o.lines.reduce((s, l) => s + l.quantity, 0)
  }
  get totalPriceSet() {
    const bag = this.bag(this.o.total)
    return this.o.malformed ? { ...bag, shopMoney: { ...bag.shopMoney, amount: "NaN" } } : bag
  }
  get originalTotalPriceSet() {
    return this.bag(this.o.total)
  }
  get subtotalPriceSet() {
    return this.bag(this.o.subtotal)
  }
  get totalTaxSet() {
    return this.bag(this.o.totalTax)
  }
  get totalDiscountsSet() {
    return this.bag(this.o.totalDiscounts)
  }
  get totalShippingPriceSet() {
    return this.bag(this.o.shipping)
  }
  get totalRefundedSet() {
    return this.bag(this.refundedAmount)
  }
  get totalRefundedShippingSet() {
    return this.bag(this.o.refunds.reduce((s, r) => s + r.shippingRefund, 0))
  }
  get totalReceivedSet() {
    return this.bag(this.o.total)
  }
  get netPaymentSet() {
    return this.bag(this.o.total - this.refundedAmount)
  }
  get totalOutstandingSet() {
    return this.bag(0)
  }
  get totalTipReceivedSet() {
    return this.bag(0)
  }
  get totalCapturableSet() {
    return this.bag(0)
  }
  get currentTotalPriceSet() {
    return this.bag(this.o.total - this.refundedAmount)
  }
  get currentSubtotalPriceSet() {
    const refundedSubtotal = this.o.refunds.reduce(
      (s, r) => s + r.lines.reduce((a, l) => a + l.subtotal, 0),
      0
    )
    return this.bag(this.o.subtotal - refundedSubtotal)
  }
  get currentTotalTaxSet() {
    const refundedTax = this.o.refunds.reduce((s, r) => s + r.lines.reduce((a, l) => a + l.tax, 0), 0)
    return this.bag(this.o.totalTax - refundedTax)
  }
  get currentTotalDiscountsSet() {
    return this.bag(this.o.totalDiscounts)
  }
  get currentShippingPriceSet() {
    return this.bag(this.o.shipping - this.o.refunds.reduce((s, r) => s + r.shippingRefund, 0))
  }
  get taxLines() {
    const merged = new Map<string, TaxLine>()
    for (const l of this.o.lines) {
      for (const t of l.taxLines) {
        const key = `${t.title}|${t.rate}`
        const prev = merged.get(key)
        merged.set(key, { title: t.title, rate: t.rate, amount: (prev?.amount ?? 0) + t.amount })
      }
    }
    for (const t of this.o.shippingTax) {
      const key = `${t.title}|${t.rate}`
      const prev = merged.get(key)
      merged.set(key, { title: t.title, rate: t.rate, amount: (prev?.amount ?? 0) + t.amount })
    }
    return [...merged.values()].map((t) => taxLineView(this.o, t))
  }
  get currentTaxLines() {
    return this.taxLines
  }
  lineItems(args: PageArgs, ctx: RequestContext) {
    return pageArray(this.o.lines, (l) => new LineItemView(this.o, l, this.state), args, ctx)
  }
  refunds(args?: { first?: number | null }) {
    return firstOf(this.o.refunds, args).map((r) => new RefundView(this.o, r, this.state))
  }
  transactions(args?: { first?: number | null }) {
    return firstOf(this.o.transactions, args).map((t) => transactionView(this.o, t, this.state))
  }
  discountApplications(args: PageArgs, ctx: RequestContext) {
    return pageArray(this.o.discountCode === null ? [] : [this.o], discountApplicationOf, args, ctx)
  }
  private shippingLineViews() {
    if (this.o.shipping === 0 && this.o.shippingTax.length === 0) return []
    const bag = this.bag
    return [
      {
        id: gid("ShippingLine", this.o.id),
        title: "Standard Shipping",
        code: "standard",
        source: "shopify",
        custom: false,
        isRemoved: false,
        originalPriceSet: bag(this.o.shipping),
        discountedPriceSet: bag(this.o.shipping),
        currentDiscountedPriceSet: bag(this.o.shipping),
        discountAllocations: [],
        taxLines: this.o.shippingTax.map((t) => taxLineView(this.o, t))
      }
    ]
  }
  shippingLines(args: PageArgs, ctx: RequestContext) {
    return pageArray(this.shippingLineViews(), (s) => s, args, ctx)
  }
  get shippingLine() {
    return this.shippingLineViews()[0] ?? null
  }
  get customer() {
    if (this.o.customerId === null) return null
    const c = this.state.lookups.customer(this.o.customerId)
    return c === undefined ? null : new CustomerView(c.id, this.state)
  }
  get email() {
    if (this.o.customerId === null) return null
    return this.state.lookups.customer(this.o.customerId)?.email ?? null
  }
  get physicalLocation() {
    const l = this.state.lookups.locations.get(this.o.locationId)
    return l === undefined ? null : new LocationView(l, this.state)
  }
  get customAttributes() {
    return []
  }
}

/** Shopify's view of a customer. */
export class CustomerView {
  readonly __typename = "Customer"
  constructor(
    readonly customerId: number,
    readonly st: ShopifyState
  ) {}
  private get c() {
    const c = this.st.lookups.customer(this.customerId)
    if (c === undefined) throw new GraphQLError(`Customer ${this.customerId} not found`)
    return c
  }
  get id() {
    return gid("Customer", this.customerId)
  }
  get legacyResourceId() {
    return String(this.customerId)
  }
  get firstName() {
    return this.c.firstName
  }
  get lastName() {
    return this.c.lastName
  }
  get displayName() {
    return `${this.c.firstName} ${this.c.lastName}`
  }
  get email() {
    return this.c.email
  }
  get defaultEmailAddress() {
    return { emailAddress: this.c.email, marketingState: "NOT_SUBSCRIBED", validFormat: true }
  }
  get createdAt() {
    // Bad-record injection (`malformedCustomers`): an impossible timestamp, as for malformed orders.
    return this.st.merchant.malformedCustomerIds.has(this.customerId)
      ? "0000-00-00T00:00:00Z"
      : isoUtc(this.c.createdAt)
  }
  get updatedAt() {
    return isoUtc(this.c.updatedAt)
  }
  get state() {
    return "DISABLED"
  }
  get verifiedEmail() {
    return true
  }
  get taxExempt() {
    return false
  }
  get tags() {
    return []
  }
  get locale() {
    return "en"
  }
  /** UnsignedInt64, so a string; the same figure `groundTruth().customerTotals` sums. */
  get numberOfOrders() {
    return String(this.st.merchant.customerStats(this.customerId).orders)
  }
  get amountSpent() {
    return money(this.st.merchant.customerStats(this.customerId).spent, this.st.shop.currency)
  }
}
/** Shopify's view of a product. */
export class ProductView {
  readonly __typename = "Product"
  constructor(
    readonly productId: number,
    readonly st: ShopifyState
  ) {}
  private get p() {
    const p = this.st.lookups.products.get(this.productId)
    if (p === undefined) throw new GraphQLError(`Product ${this.productId} not found`)
    return p
  }
  get id() {
    return gid("Product", this.productId)
  }
  get legacyResourceId() {
    return String(this.productId)
  }
  get title() {
    return this.p.title
  }
  get handle() {
    return this.p.title
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-|-$/g, "")
  }
  get productType() {
    return this.p.productType
  }
  get vendor() {
    return this.p.vendor
  }
  get status() {
    return "ACTIVE"
  }
  get createdAt() {
    // Bad-record injection (`malformedProducts`): an impossible timestamp on the product only (its
    // variants keep theirs), as for malformed customers.
    return this.st.merchant.malformedProductIds.has(this.productId)
      ? "0000-00-00T00:00:00Z"
      : isoUtc(this.p.createdAt)
  }
  get updatedAt() {
    return isoUtc(this.p.updatedAt)
  }
  get publishedAt() {
    return isoUtc(this.p.createdAt)
  }
  get tags() {
    return []
  }
  get descriptionHtml() {
    return ""
  }
  description() {
    return ""
  }
  get tracksInventory() {
    return true
  }
  get isGiftCard() {
    return false
  }
  get hasOnlyDefaultVariant() {
    return this.p.variantIds.length === 1
  }
  get totalInventory() {
    let total = 0
    for (const vid of this.p.variantIds) {
      for (const l of this.st.merchant.locations) total += this.st.merchant.inventory(vid, l.id).available
    }
    return total
  }
  variants(args: PageArgs, ctx: RequestContext) {
    const variants = this.p.variantIds.flatMap((id) => {
      const v = this.st.lookups.variants.get(id)
      return v === undefined ? [] : [v]
    })
    return pageArray(variants, (v) => new VariantView(v, this.st), args, ctx)
  }
}

/** Shopify's view of a product variant. */
export class VariantView {
  readonly __typename = "ProductVariant"
  constructor(
    readonly v: Variant,
    readonly st: ShopifyState
  ) {}
  get id() {
    return gid("ProductVariant", this.v.id)
  }
  get legacyResourceId() {
    return String(this.v.id)
  }
  get sku() {
    return this.v.sku
  }
  get title() {
    return this.v.title
  }
  get displayName() {
    const p = this.st.lookups.products.get(this.v.productId)
    return `${p?.title ?? ""} - ${this.v.title}`
  }
  get barcode() {
    return this.v.barcode
  }
  get price() {
    return decimalAmount(this.v.price, this.st.shop.currency)
  }
  get compareAtPrice() {
    return null
  }
  get position() {
    const p = this.st.lookups.products.get(this.v.productId)
    return (p?.variantIds.indexOf(this.v.id) ?? 0) + 1
  }
  get taxable() {
    return true
  }
  get availableForSale() {
    return true
  }
  get inventoryPolicy() {
    return "DENY"
  }
  get inventoryQuantity() {
    return this.st.merchant.locations.reduce(
      (s, l) => s + this.st.merchant.inventory(this.v.id, l.id).available,
      0
    )
  }
  get selectedOptions() {
    return [{ name: "Title", value: this.v.title }]
  }
  get createdAt() {
    return isoUtc(this.st.lookups.products.get(this.v.productId)?.createdAt ?? 0)
  }
  get updatedAt() {
    return isoUtc(this.st.lookups.products.get(this.v.productId)?.updatedAt ?? 0)
  }
  get product() {
    return new ProductView(this.v.productId, this.st)
  }
  get inventoryItem() {
    return new InventoryItemView(this.v, this.st)
  }
}

/** Shopify's view of an inventory item (one per variant). */
export class InventoryItemView {
  readonly __typename = "InventoryItem"
  constructor(
    readonly v: Variant,
    readonly st: ShopifyState
  ) {}
  get id() {
    return gid("InventoryItem", this.v.inventoryItemId)
  }
  get legacyResourceId() {
    return String(this.v.inventoryItemId)
  }
  get sku() {
    return this.v.sku
  }
  get tracked() {
    return true
  }
  get requiresShipping() {
    return true
  }
  get duplicateSkuCount() {
    return 0
  }
  get countryCodeOfOrigin() {
    return null
  }
  get harmonizedSystemCode() {
    return null
  }
  get unitCost() {
    return money(this.v.unitCost, this.st.shop.currency)
  }
  get createdAt() {
    return isoUtc(this.st.lookups.products.get(this.v.productId)?.createdAt ?? 0)
  }
  get updatedAt() {
    return isoUtc(this.st.lookups.products.get(this.v.productId)?.updatedAt ?? 0)
  }
  get variant() {
    return new VariantView(this.v, this.st)
  }
  inventoryLevels(args: PageArgs, ctx: RequestContext) {
    const where = levelMatcher(ctx, ["inventoryItem", "inventoryLevels"], args.query)
    return pageArray(
      this.st.merchant.locations.filter(
        (l) => this.st.merchant.stocked(this.v.id, l.id) && where({ v: this.v, l })
      ),
      (l) => new InventoryLevelView(this.v, l, this.st),
      args,
      ctx
    )
  }
  inventoryLevel(args: { locationId: string }) {
    const id = Number(args.locationId.split("/").pop())
    const l = this.st.lookups.locations.get(id)
    return l === undefined || !this.st.merchant.stocked(this.v.id, l.id)
      ? null
      : new InventoryLevelView(this.v, l, this.st)
  }
}

/** GraphQL quantity names → model fields. */
export const QUANTITY_NAMES: Readonly<Record<string, keyof InventoryQuantities>> = {
  available: "available",
  on_hand: "onHand",
  committed: "committed",
  incoming: "incoming",
  reserved: "reserved",
  damaged: "damaged",
  safety_stock: "safetyStock",
  quality_control: "qualityControl"
}

/** Shopify's view of a variant's stock at one location. */
/** One stock cell: what an inventory level search filters over. */
interface StockCell {
  readonly v: Variant
  readonly l: Location
}

/**
 * `inventoryLevels(query:)` search fields (the filters Shopify lists for this connection, less
 * `inventory_group_id`, which the emulator has no model for). `updated_at` is the level's last
 * quantity change, as `InventoryLevel.updatedAt` reports it.
 */
const levelFields = (st: ShopifyState): SearchFields<StockCell> => ({
  fields: {
    id: { kind: "number", get: (c) => c.l.id },
    inventory_item_id: { kind: "number", get: (c) => c.v.inventoryItemId },
    created_at: { kind: "date", get: (c) => c.l.createdAt },
    updated_at: { kind: "date", get: (c) => st.merchant.inventory(c.v.id, c.l.id).updatedAt }
  }
})

/**
 * Compiles a level search like the root connections do: unknown fields are ignored with an
 * `extensions.search` warning (or refused, when the emulator is configured to), never silently.
 */
const levelMatcher = (
  ctx: RequestContext,
  path: ReadonlyArray<string>,
  query: string | null | undefined
): ((cell: StockCell) => boolean) => {
  const warnings: Array<SearchWarning> = []
  try {
    const p = compileSearch(query, levelFields(ctx.state), ctx.state.options.unknownSearchFields, warnings)
    if (warnings.length > 0 && query !== null && query !== undefined)
      ctx.search?.push({ path, query, warnings })
    return p
  } catch (e) {
    if (e instanceof SearchSyntaxError)
      throw new GraphQLError(e.message, { extensions: { code: "BAD_REQUEST" } })
    throw e
  }
}

export class InventoryLevelView {
  readonly __typename = "InventoryLevel"
  constructor(
    readonly v: Variant,
    readonly l: Location,
    readonly st: ShopifyState
  ) {}
  private get q() {
    return this.st.merchant.inventory(this.v.id, this.l.id)
  }
  get id() {
    return `${gid("InventoryLevel", this.l.id)}?inventory_item_id=${this.v.inventoryItemId}`
  }
  get createdAt() {
    return isoUtc(this.l.createdAt)
  }
  get updatedAt() {
    return isoUtc(this.q.updatedAt)
  }
  get canDeactivate() {
    return false
  }
  get item() {
    return new InventoryItemView(this.v, this.st)
  }
  get location() {
    return new LocationView(this.l, this.st)
  }
  quantities(args: { names: ReadonlyArray<string> }) {
    const q = this.q
    return args.names.map((name) => {
      const key = QUANTITY_NAMES[name]
      if (key === undefined) {
        throw new GraphQLError(
          `Invalid quantity name: '${name}'. Valid names: ${Object.keys(QUANTITY_NAMES).join(", ")}`,
          { extensions: { code: "BAD_REQUEST" } }
        )
      }
      return {
        __typename: "InventoryQuantity",
        id: `${gid("InventoryQuantity", this.l.id)}?inventory_item_id=${this.v.inventoryItemId}&name=${name}`,
        name,
        quantity: q[key],
        updatedAt: isoUtc(q.updatedAt)
      }
    })
  }
}

const addressOf = (l: Location) => ({
  address1: null,
  address2: null,
  city: l.timeZone.split("/").pop()?.replace(/_/g, " ") ?? null,
  country: null,
  countryCode: null,
  province: null,
  provinceCode: null,
  zip: null,
  phone: null,
  formatted: [l.name]
})

/** Shopify's view of a location. */
export class LocationView {
  readonly __typename = "Location"
  constructor(
    readonly l: Location,
    readonly st: ShopifyState
  ) {}
  get id() {
    return gid("Location", this.l.id)
  }
  get legacyResourceId() {
    return String(this.l.id)
  }
  get name() {
    return this.l.name
  }
  get isActive() {
    return true
  }
  get activatable() {
    return false
  }
  get deactivatable() {
    return true
  }
  get deletable() {
    return false
  }
  get addressVerified() {
    return false
  }
  get hasActiveInventory() {
    return true
  }
  get hasUnfulfilledOrders() {
    return false
  }
  get isFulfillmentService() {
    return false
  }
  get fulfillsOnlineOrders() {
    return this.l.kind === "warehouse"
  }
  get shipsInventory() {
    return this.l.kind === "warehouse"
  }
  get createdAt() {
    return isoUtc(this.l.createdAt)
  }
  get updatedAt() {
    return isoUtc(this.l.createdAt)
  }
  get address() {
    return addressOf(this.l)
  }
  get suggestedAddresses() {
    return []
  }
  inventoryLevels(args: PageArgs, ctx: RequestContext) {
    const where = levelMatcher(ctx, ["location", "inventoryLevels"], args.query)
    const variants = this.st.merchant.variants
    return pageIndexed(
      variants.length,
      (i) => variants[i],
      (v) => this.st.merchant.stocked(v.id, this.l.id) && where({ v, l: this.l }),
      (v) => new InventoryLevelView(v, this.l, this.st),
      args,
      ctx.bulk
    )
  }
  inventoryLevel(args: { inventoryItemId: string }) {
    const id = Number(args.inventoryItemId.split("/").pop())
    const v = this.st.lookups.variantsByInventoryItem.get(id)
    return v === undefined || !this.st.merchant.stocked(v.id, this.l.id)
      ? null
      : new InventoryLevelView(v, this.l, this.st)
  }
}

const snapshotOf = (l: Location | undefined, at: number, st: ShopifyState) =>
  l === undefined
    ? null
    : { name: l.name, address: addressOf(l), location: new LocationView(l, st), snapshottedAt: isoUtc(at) }

const transferStatus = (t: StockTransfer): string =>
  t.receivedAt !== null ? "TRANSFERRED" : t.sentAt !== null ? "IN_PROGRESS" : "READY_TO_SHIP"

/** Shopify's view of a native inventory transfer. */
export class InventoryTransferView {
  readonly __typename = "InventoryTransfer"
  constructor(
    readonly t: StockTransfer,
    readonly st: ShopifyState
  ) {}
  get id() {
    return gid("InventoryTransfer", this.t.id)
  }
  get name() {
    return `#T${String(this.t.id).padStart(4, "0")}`
  }
  get status() {
    return transferStatus(this.t)
  }
  get dateCreated() {
    return isoUtc(this.t.createdAt)
  }
  get note() {
    return null
  }
  get referenceName() {
    return null
  }
  get tags() {
    return []
  }
  get hasTimelineComment() {
    return false
  }
  get origin() {
    return snapshotOf(this.st.lookups.locations.get(this.t.fromLocationId), this.t.createdAt, this.st)
  }
  get destination() {
    return snapshotOf(this.st.lookups.locations.get(this.t.toLocationId), this.t.createdAt, this.st)
  }
  get totalQuantity() {
    return this.t.items.reduce((s, i) => s + i.quantity, 0)
  }
  get receivedQuantity() {
    return this.t.receivedAt === null ? 0 : this.totalQuantity
  }
  lineItemsCount() {
    return { count: this.t.items.length, precision: "EXACT" }
  }
  /** One `InventoryTransferLineItem` (also resolved by `node(id:)`). */
  lineItem(i: StockTransfer["items"][number]) {
    const shipped = this.t.sentAt !== null
    const v = this.st.lookups.variants.get(i.variantId)
    return {
      __typename: "InventoryTransferLineItem",
      id: gid("InventoryTransferLineItem", i.id),
      title: v?.title ?? null,
      totalQuantity: i.quantity,
      shippedQuantity: shipped ? i.quantity : 0,
      shippableQuantity: shipped ? 0 : i.quantity,
      pickedForShipmentQuantity: 0,
      processableQuantity: shipped ? 0 : i.quantity,
      inventoryItem: v === undefined ? null : new InventoryItemView(v, this.st)
    }
  }
  lineItems(args: PageArgs, ctx: RequestContext) {
    return pageArray(this.t.items, (i) => this.lineItem(i), args, ctx)
  }
  shipments(args: PageArgs, ctx: RequestContext) {
    return pageArray(
      this.t.sentAt === null ? [] : [this.t],
      (t) => new InventoryShipmentView(t, this.st),
      args,
      ctx
    )
  }
}

/** One shipment per sent transfer (the model has no split shipments). */
export class InventoryShipmentView {
  readonly __typename = "InventoryShipment"
  constructor(
    readonly t: StockTransfer,
    readonly st: ShopifyState
  ) {}
  get id() {
    return gid("InventoryShipment", this.t.id)
  }
  get name() {
    return `#T${String(this.t.id).padStart(4, "0")}-1`
  }
  get status() {
    return this.t.receivedAt !== null ? "RECEIVED" : "IN_TRANSIT"
  }
  get dateCreated() {
    return isoUtc(this.t.createdAt)
  }
  get dateShipped() {
    return this.t.sentAt === null ? null : isoUtc(this.t.sentAt)
  }
  get dateReceived() {
    return this.t.receivedAt === null ? null : isoUtc(this.t.receivedAt)
  }
  get lineItemTotalQuantity() {
    return this.t.items.reduce((s, i) => s + i.quantity, 0)
  }
  get totalAcceptedQuantity() {
    return this.t.receivedAt === null ? 0 : this.lineItemTotalQuantity
  }
  get totalReceivedQuantity() {
    return this.totalAcceptedQuantity
  }
  get totalRejectedQuantity() {
    return 0
  }
  get tracking() {
    return null
  }
  lineItemsCount() {
    return { count: this.t.items.length, precision: "EXACT" }
  }
  /** One `InventoryShipmentLineItem` (also resolved by `node(id:)`). */
  lineItem(i: StockTransfer["items"][number]) {
    const received = this.t.receivedAt !== null
    const v = this.st.lookups.variants.get(i.variantId)
    return {
      __typename: "InventoryShipmentLineItem",
      id: gid("InventoryShipmentLineItem", i.id),
      quantity: i.quantity,
      acceptedQuantity: received ? i.quantity : 0,
      rejectedQuantity: 0,
      unreceivedQuantity: received ? 0 : i.quantity,
      inventoryItem: v === undefined ? null : new InventoryItemView(v, this.st)
    }
  }
  lineItems(args: PageArgs, ctx: RequestContext) {
    return pageArray(this.t.items, (i) => this.lineItem(i), args, ctx)
  }
}

/** Shopify's 2026-10 native purchase order. */
export class PurchaseOrderView {
  readonly __typename = "InventoryPurchaseOrder"
  constructor(
    readonly p: PurchaseOrder,
    readonly st: ShopifyState
  ) {}
  get id() {
    return gid("InventoryPurchaseOrder", this.p.id)
  }
  get name() {
    return this.p.number
  }
  get status() {
    return this.p.orderedAt > 0 ? "ORDERED" : "DRAFT"
  }
  get currency() {
    return this.p.currency
  }
  get dateCreated() {
    return isoUtc(this.p.createdAt)
  }
  get orderedAt() {
    return isoUtc(this.p.orderedAt)
  }
  get archivedAt() {
    return null
  }
  get updatedAt() {
    return isoUtc(this.p.updatedAt)
  }
  get origin() {
    const s = this.st.lookups.suppliers.get(this.p.supplierId)
    return s === undefined
      ? null
      : {
          name: s.name,
          snapshottedAt: isoUtc(this.p.createdAt),
          supplier: { __typename: "InventorySupplier", id: gid("InventorySupplier", s.id), name: s.name }
        }
  }
  get destination() {
    return snapshotOf(this.st.lookups.locations.get(this.p.locationId), this.p.createdAt, this.st)
  }
  lineItems(args: PageArgs, ctx: RequestContext): Connection<unknown> {
    return pageArray(this.p.lines, (l) => this.lineItem(l), args, ctx)
  }
  /** One `InventoryPurchaseOrderLineItem` (also resolved by `node(id:)`). */
  lineItem(l: PurchaseOrder["lines"][number]) {
    const v = this.st.lookups.variants.get(l.variantId)
    return {
      __typename: "InventoryPurchaseOrderLineItem",
      id: gid("InventoryPurchaseOrderLineItem", l.id),
      title: v === undefined ? null : (this.st.lookups.products.get(v.productId)?.title ?? null),
      variantTitle: v?.title ?? null,
      supplierSku: v?.sku ?? null,
      totalQuantity: l.quantity,
      receivedQuantity: l.received ? l.quantity : 0,
      unitCost: money(l.unitCost, this.p.currency),
      subtotal: money(l.unitCost * l.quantity, this.p.currency),
      totalCost: money(l.unitCost * l.quantity, this.p.currency),
      taxPercent: 0,
      purchaseOrder: (): PurchaseOrderView => this,
      inventoryItem: v === undefined ? null : new InventoryItemView(v, this.st)
    }
  }
  transfers(args: PageArgs, ctx: RequestContext) {
    return pageArray([], (x) => x, args, ctx)
  }
}

/** Builds a cursor-paged connection from an already filtered, ordered id list. */
export const pageIds = <N>(
  ids: ReadonlyArray<number>,
  view: (id: number) => N,
  args: PageArgs,
  ctx: RequestContext
): Connection<N> => {
  const conn = pageIndexed(
    ids.length,
    (i) => ids[i],
    () => true,
    (id) => view(id),
    args,
    ctx.bulk
  )
  return conn
}

/** Re-exported for resolvers that build connections by hand. */
export { connectionOf, encodeCursor, pageSize, termValues }
