/**
 * Shopify orders (the GraphQL form: paged or bulk-reassembled, one type) → orders, order_lines,
 * payments, refunds, refund_lines, tax_lines and inventory_movements (sale, refund_restock).
 * Shop and presentment amounts are both kept.
 */
import type { MoneyBag, Order, TaxLine } from "@kura/shopify-client"
import { businessDate } from "../BusinessDate.js"
import { type CanonicalRows, lineage, type Mapper } from "../Mapper.js"
import type { CanonicalRow } from "../Tables.js"
import { dec, gidToId, rateText, refId, utc, utcOrNull } from "./internal/values.js"

/** Options of the Shopify order mapper. */
export interface ShopifyOrderMapperOptions {
  /**
   * The location an order sells from (revenue and `sale` movements book there). The client's
   * Order carries no fulfilment location, so without this `location_id` is null and no sale
   * movements are produced (refund restocks still are: they name their location).
   */
  readonly locationOf?: (order: Order) => string | null
  /** `online` unless told otherwise; by default orders whose `sourceName` is "pos" are `pos`. */
  readonly channelOf?: (order: Order) => "online" | "pos"
}

type Tax = CanonicalRow<"tax_lines">

const shop = (bag: MoneyBag | null): string | null => (bag === null ? null : dec(bag.shopMoney.amount))
const pres = (bag: MoneyBag | null): string | null => (bag === null ? null : dec(bag.presentmentMoney.amount))

const RESTOCK_TYPES = new Set(["RETURN", "CANCEL", "LEGACY_RESTOCK", "return", "cancel", "legacy_restock"])

/** Whether a refund line put stock back (Shopify's `restocked`, or a restocking `restockType`). */
export const isRestock = (line: { readonly restocked: boolean; readonly restockType: string }): boolean =>
  line.restocked || RESTOCK_TYPES.has(line.restockType)

/** Builds the Shopify order mapper. */
export const makeShopifyOrderMapper =
  (options: ShopifyOrderMapperOptions = {}): Mapper<Order> =>
  (order, ctx) => {
    const orderId = order.legacyResourceId
    const updatedAt = utc(order.updatedAt)
    const locationId = options.locationOf?.(order) ?? null
    const channel = options.channelOf?.(order) ?? (order.sourceName === "pos" ? "pos" : "online")
    // Online orders belong to the shop's calendar day; POS orders to their location's.
    const zone = ctx.timeZoneOf(channel === "online" ? null : locationId)
    const createdAt = utc(order.createdAt)
    const taxLines: Array<Tax> = []
    const taxRows = (
      parentType: string,
      parentId: string,
      lines: ReadonlyArray<TaxLine>,
      at: string
    ): void => {
      lines.forEach((t, i) => {
        taxLines.push({
          ...lineage(ctx, `${parentType}:${parentId}:${i}`, at),
          order_id: orderId,
          parent_type: parentType,
          parent_id: parentId,
          title: t.title,
          rate: rateText(t.rate),
          amount: dec(t.priceSet.shopMoney.amount),
          amount_presentment: dec(t.priceSet.presentmentMoney.amount)
        })
      })
    }

    const orderRow: CanonicalRow<"orders"> = {
      ...lineage(ctx, orderId, updatedAt),
      channel,
      location_id: locationId,
      order_number: order.name,
      customer_id: order.customer?.legacyResourceId ?? null,
      currency: order.currencyCode,
      subtotal: shop(order.subtotalPriceSet),
      discounts: shop(order.totalDiscountsSet),
      shipping: shop(order.totalShippingPriceSet),
      tax: shop(order.totalTaxSet),
      total: shop(order.totalPriceSet),
      refunded: shop(order.totalRefundedSet),
      presentment_currency: order.presentmentCurrencyCode,
      subtotal_presentment: pres(order.subtotalPriceSet),
      discounts_presentment: pres(order.totalDiscountsSet),
      shipping_presentment: pres(order.totalShippingPriceSet),
      tax_presentment: pres(order.totalTaxSet),
      total_presentment: pres(order.totalPriceSet),
      refunded_presentment: pres(order.totalRefundedSet),
      financial_status: order.displayFinancialStatus,
      fulfillment_status: order.displayFulfillmentStatus,
      status: order.cancelledAt !== null ? "cancelled" : order.closed ? "closed" : "open",
      created_at: createdAt,
      processed_at: utc(order.processedAt),
      business_date: businessDate(createdAt, zone),
      cancelled_at: utcOrNull(order.cancelledAt)
    }

    const lineById = new Map(order.lineItems.map((li) => [gidToId(li.id), li]))
    const orderLines = order.lineItems.map((li): CanonicalRow<"order_lines"> => {
      const id = gidToId(li.id)
      taxRows("line", id, li.taxLines, updatedAt)
      let tax = li.taxLines[0]?.priceSet.shopMoney.amount ?? null
      for (const t of li.taxLines.slice(1))
        tax = tax === null ? t.priceSet.shopMoney.amount : tax.add(t.priceSet.shopMoney.amount)
      return {
        ...lineage(ctx, id, updatedAt),
        order_id: orderId,
        product_id: refId(li.product),
        variant_id: refId(li.variant),
        sku: li.sku,
        title: li.variantTitle === null ? li.title : `${li.title} - ${li.variantTitle}`,
        quantity: li.quantity,
        unit_price: dec(li.originalUnitPriceSet.shopMoney.amount),
        discount: dec(li.totalDiscountSet.shopMoney.amount),
        tax: dec(tax),
        total: dec(li.discountedTotalSet.shopMoney.amount),
        unit_price_presentment: dec(li.originalUnitPriceSet.presentmentMoney.amount),
        total_presentment: dec(li.discountedTotalSet.presentmentMoney.amount)
      }
    })
    order.shippingLines.forEach((s, i) => {
      taxRows("shipping", s.id === null ? `${orderId}:${i}` : gidToId(s.id), s.taxLines, updatedAt)
    })

    // Refund transactions appear both on the order and on their refund: keep each once.
    const payments = new Map<string, CanonicalRow<"payments">>()
    const addPayment = (t: Order["transactions"][number]): void => {
      const id = gidToId(t.id)
      payments.set(id, {
        ...lineage(ctx, id, updatedAt),
        order_id: orderId,
        kind: t.kind.toLowerCase(),
        method: t.gateway,
        status: t.status.toLowerCase(),
        currency: t.amountSet.shopMoney.currency,
        amount: dec(t.amountSet.shopMoney.amount),
        presentment_currency: t.amountSet.presentmentMoney.currency,
        amount_presentment: dec(t.amountSet.presentmentMoney.amount),
        processed_at: utc(t.processedAt ?? t.createdAt)
      })
    }
    for (const t of order.transactions) addPayment(t)

    const movements: Array<CanonicalRow<"inventory_movements">> = []
    if (locationId !== null) {
      for (const li of order.lineItems) {
        if (li.variant === null || li.quantity === 0) continue
        const id = gidToId(li.id)
        movements.push({
          ...lineage(ctx, `sale:${id}`, updatedAt),
          variant_id: refId(li.variant),
          sku: li.sku,
          inventory_item_id: null,
          location_id: locationId,
          kind: "sale",
          quantity: -li.quantity,
          reason: null,
          reference_type: "order",
          reference_id: orderId,
          occurred_at: createdAt
        })
      }
    }

    const refunds: Array<CanonicalRow<"refunds">> = []
    const refundLines: Array<CanonicalRow<"refund_lines">> = []
    for (const r of order.refunds) {
      const refundId = r.legacyResourceId
      const refundUpdated = utc(r.updatedAt)
      const refundCreated = utc(r.createdAt ?? r.processedAt)
      refunds.push({
        ...lineage(ctx, refundId, refundUpdated),
        order_id: orderId,
        channel,
        location_id: locationId,
        currency: r.totalRefundedSet.shopMoney.currency,
        amount: dec(r.totalRefundedSet.shopMoney.amount),
        amount_presentment: dec(r.totalRefundedSet.presentmentMoney.amount),
        note: r.note,
        created_at: refundCreated,
        processed_at: utc(r.processedAt),
        business_date: businessDate(refundCreated, zone)
      })
      for (const t of r.transactions) addPayment(t)
      r.refundLineItems.forEach((rl, i) => {
        const lineId = gidToId(rl.lineItem.id)
        const id = rl.id === null ? `${refundId}:${lineId}:${i}` : gidToId(rl.id)
        const li = lineById.get(lineId)
        const restock = isRestock(rl)
        const at = refId(rl.location) ?? locationId
        refundLines.push({
          ...lineage(ctx, id, refundUpdated),
          refund_id: refundId,
          order_id: orderId,
          order_line_id: lineId,
          variant_id: refId(li?.variant),
          sku: li?.sku ?? null,
          quantity: rl.quantity,
          amount: dec(rl.subtotalSet.shopMoney.amount),
          restock,
          location_id: at
        })
        taxLines.push({
          ...lineage(ctx, `refund_line:${id}:total`, refundUpdated),
          order_id: orderId,
          parent_type: "refund_line",
          parent_id: id,
          title: null,
          rate: null,
          amount: dec(rl.totalTaxSet.shopMoney.amount),
          amount_presentment: dec(rl.totalTaxSet.presentmentMoney.amount)
        })
        if (restock && at !== null && rl.quantity !== 0) {
          movements.push({
            ...lineage(ctx, `refund_restock:${id}`, refundUpdated),
            variant_id: refId(li?.variant),
            sku: li?.sku ?? null,
            inventory_item_id: null,
            location_id: at,
            kind: "refund_restock",
            quantity: rl.quantity,
            reason: r.note,
            reference_type: "refund",
            reference_id: refundId,
            occurred_at: refundCreated
          })
        }
      })
    }

    const rows: CanonicalRows = {
      orders: [orderRow],
      order_lines: orderLines,
      payments: [...payments.values()],
      refunds,
      refund_lines: refundLines,
      tax_lines: taxLines,
      inventory_movements: movements
    }
    return rows
  }

/** The Shopify order mapper with default options (no location: see `makeShopifyOrderMapper`). */
export const mapShopifyOrder: Mapper<Order> = makeShopifyOrderMapper()
