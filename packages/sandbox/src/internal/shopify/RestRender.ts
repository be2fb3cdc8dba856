/**
 * REST (and webhook) renderings: snake_case, integer ids, money strings with two decimals (refund
 * line subtotal/total_tax as numbers, tax rates as numbers), timestamps in the shop's zone.
 */
import type { Location, Order, Product, Refund, TaxLine, Variant } from "../model.js"
import { gid, isoWithOffset, restAmount, restNumber, toPresentment } from "./format.js"
import type { ShopifyState } from "./ShopifyState.js"

type Json = Record<string, unknown>

const setOf = (o: Order, minor: number): Json => ({
  shop_money: { amount: restAmount(minor, o.currency), currency_code: o.currency },
  presentment_money: {
    amount: restAmount(
      toPresentment(minor, o.currency, o.presentmentRate, o.presentmentCurrency),
      o.presentmentCurrency
    ),
    currency_code: o.presentmentCurrency
  }
})

const taxLine = (o: Order, t: TaxLine): Json => ({
  title: t.title,
  rate: Number(t.rate),
  price: restAmount(t.amount, o.currency),
  price_set: setOf(o, t.amount),
  channel_liable: false
})

const financialStatus = (o: Order): string => {
  const refunded = o.refunds.reduce((s, r) => s + r.amount, 0)
  if (refunded >= o.total && refunded > 0) return "refunded"
  if (refunded > 0) return "partially_refunded"
  if (o.cancelledAt !== null) return "voided"
  return "paid"
}

/** A refund as REST and the refunds/create webhook show it. */
export const refundJson = (st: ShopifyState, o: Order, r: Refund): Json => {
  const tz = st.shop.timeZone
  const refundTxns = o.transactions.filter((t) => t.kind === "refund")
  const txn = refundTxns[o.refunds.indexOf(r)]
  return {
    id: r.id,
    admin_graphql_api_id: gid("Refund", r.id),
    order_id: o.id,
    created_at: isoWithOffset(r.createdAt, tz),
    processed_at: isoWithOffset(r.createdAt, tz),
    note: r.note,
    restock: r.lines.some((l) => l.restock),
    user_id: null,
    refund_line_items: r.lines.map((l) => {
      const line = o.lines.find((x) => x.id === l.orderLineId)
      return {
        id: l.id,
        line_item_id: l.orderLineId,
        location_id: l.restock ? l.locationId : null,
        quantity: l.quantity,
        restock_type: l.restock ? "return" : "no_restock",
        subtotal: restNumber(l.subtotal, o.currency),
        subtotal_set: setOf(o, l.subtotal),
        total_tax: restNumber(l.tax, o.currency),
        total_tax_set: setOf(o, l.tax),
        line_item:
          line === undefined
            ? null
            : {
                id: line.id,
                sku: line.sku,
                title: line.title,
                quantity: line.quantity,
                variant_id: line.variantId
              }
      }
    }),
    transactions:
      txn === undefined
        ? []
        : [
            {
              id: txn.id,
              order_id: o.id,
              kind: "refund",
              status: txn.status,
              amount: restAmount(txn.amount, o.currency),
              currency: o.currency,
              gateway: txn.gateway,
              parent_id: txn.parentId,
              processed_at: isoWithOffset(txn.createdAt, tz),
              created_at: isoWithOffset(txn.createdAt, tz)
            }
          ],
    order_adjustments: [],
    refund_shipping_lines:
      r.shippingRefund > 0
        ? [{ subtotal_amount_set: setOf(o, r.shippingRefund), tax_amount_set: setOf(o, 0) }]
        : [],
    duties: []
  }
}

/** An order as REST and the orders/* webhooks show it. */
export const orderJson = (st: ShopifyState, o: Order): Json => {
  const tz = st.shop.timeZone
  const cur = o.currency
  const refunded = o.refunds.reduce((s, r) => s + r.amount, 0)
  const customer = o.customerId === null ? undefined : st.lookups.customer(o.customerId)
  const number = Number(o.name.replace(/\D/g, ""))
  return {
    id: o.id,
    admin_graphql_api_id: gid("Order", o.id),
    name: o.name,
    number: number - 1000,
    order_number: number,
    email: customer?.email ?? null,
    created_at: o.malformed ? "0000-00-00T00:00:00+00:00" : isoWithOffset(o.createdAt, tz),
    updated_at: isoWithOffset(o.updatedAt, tz),
    processed_at: isoWithOffset(o.processedAt, tz),
    cancelled_at: o.cancelledAt === null ? null : isoWithOffset(o.cancelledAt, tz),
    cancel_reason: o.cancelReason,
    closed_at: null,
    test: false,
    currency: cur,
    presentment_currency: o.presentmentCurrency,
    financial_status: financialStatus(o),
    fulfillment_status: o.cancelledAt === null ? "fulfilled" : null,
    source_name: "web",
    tags: "",
    taxes_included: o.taxesIncluded,
    total_price: o.malformed ? "NaN" : restAmount(o.total, cur),
    total_price_set: setOf(o, o.total),
    subtotal_price: restAmount(o.subtotal, cur),
    subtotal_price_set: setOf(o, o.subtotal),
    total_tax: restAmount(o.totalTax, cur),
    total_tax_set: setOf(o, o.totalTax),
    total_discounts: restAmount(o.totalDiscounts, cur),
    total_discounts_set: setOf(o, o.totalDiscounts),
    total_line_items_price: restAmount(
      o.lines.reduce((s, l) => s + l.unitPrice * l.quantity, 0),
      cur
    ),
    total_shipping_price_set: setOf(o, o.shipping),
    current_total_price: restAmount(o.total - refunded, cur),
    current_total_price_set: setOf(o, o.total - refunded),
    total_outstanding: restAmount(0, cur),
    total_tip_received: restAmount(0, cur),
    discount_codes:
      o.discountCode === null
        ? []
        : [{ code: o.discountCode, amount: restAmount(o.totalDiscounts, cur), type: "fixed_amount" }],
    payment_gateway_names: [...new Set(o.transactions.map((t) => t.gateway))],
    tax_lines: o.lines.flatMap((l) => l.taxLines).map((t) => taxLine(o, t)),
    customer:
      customer === undefined
        ? null
        : {
            id: customer.id,
            admin_graphql_api_id: gid("Customer", customer.id),
            email: customer.email,
            first_name: customer.firstName,
            last_name: customer.lastName,
            created_at: isoWithOffset(customer.createdAt, tz),
            updated_at: isoWithOffset(customer.updatedAt, tz),
            state: "disabled",
            currency: cur
          },
    line_items: o.lines.map((l) => {
      const v = st.lookups.variants.get(l.variantId)
      const refundedQty = o.refunds.reduce(
        (s, r) => s + r.lines.filter((x) => x.orderLineId === l.id).reduce((a, x) => a + x.quantity, 0),
        0
      )
      return {
        id: l.id,
        admin_graphql_api_id: gid("LineItem", l.id),
        variant_id: l.variantId,
        product_id: v?.productId ?? null,
        sku: l.sku,
        title: l.title,
        name: l.title,
        variant_title: v?.title ?? null,
        vendor: v === undefined ? null : (st.lookups.products.get(v.productId)?.vendor ?? null),
        quantity: l.quantity,
        current_quantity: l.quantity - refundedQty,
        fulfillable_quantity: 0,
        price: restAmount(l.unitPrice, cur),
        price_set: setOf(o, l.unitPrice),
        total_discount: restAmount(l.discount, cur),
        total_discount_set: setOf(o, l.discount),
        taxable: l.taxLines.length > 0,
        gift_card: false,
        requires_shipping: true,
        fulfillment_status: o.cancelledAt === null ? "fulfilled" : null,
        tax_lines: l.taxLines.map((t) => taxLine(o, t)),
        discount_allocations:
          l.discount === 0
            ? []
            : [
                {
                  amount: restAmount(l.discount, cur),
                  amount_set: setOf(o, l.discount),
                  discount_application_index: 0
                }
              ],
        properties: [],
        duties: []
      }
    }),
    shipping_lines:
      o.shipping === 0 && o.shippingTax.length === 0
        ? []
        : [
            {
              id: o.id,
              title: "Standard Shipping",
              code: "standard",
              source: "shopify",
              price: restAmount(o.shipping, cur),
              price_set: setOf(o, o.shipping),
              discounted_price: restAmount(o.shipping, cur),
              discounted_price_set: setOf(o, o.shipping),
              tax_lines: o.shippingTax.map((t) => taxLine(o, t))
            }
          ],
    refunds: o.refunds.map((r) => refundJson(st, o, r)),
    fulfillments: []
  }
}

/** A location as REST shows it. */
export const locationJson = (st: ShopifyState, l: Location): Json => ({
  id: l.id,
  name: l.name,
  address1: null,
  address2: null,
  city: l.timeZone.split("/").pop()?.replace(/_/g, " ") ?? null,
  zip: null,
  province: null,
  country: null,
  phone: null,
  created_at: isoWithOffset(l.createdAt, st.shop.timeZone),
  updated_at: isoWithOffset(l.createdAt, st.shop.timeZone),
  country_code: null,
  country_name: null,
  province_code: null,
  legacy: false,
  active: true,
  admin_graphql_api_id: gid("Location", l.id),
  localized_country_name: null,
  localized_province_name: null
})

/** An inventory level as REST and the inventory_levels/update webhook show it. */
export const inventoryLevelJson = (st: ShopifyState, v: Variant, l: Location): Json => {
  const q = st.merchant.inventory(v.id, l.id)
  return {
    inventory_item_id: v.inventoryItemId,
    location_id: l.id,
    available: q.available,
    updated_at: isoWithOffset(q.updatedAt, st.shop.timeZone),
    admin_graphql_api_id: `${gid("InventoryLevel", l.id)}?inventory_item_id=${v.inventoryItemId}`
  }
}

/** A product with its variants (at most 100, like REST) as REST shows it. */
export const productJson = (st: ShopifyState, p: Product): Json => {
  const tz = st.shop.timeZone
  const variants = p.variantIds.slice(0, 100).flatMap((id) => {
    const v = st.lookups.variants.get(id)
    return v === undefined ? [] : [v]
  })
  return {
    id: p.id,
    admin_graphql_api_id: gid("Product", p.id),
    title: p.title,
    product_type: p.productType,
    vendor: p.vendor,
    status: "active",
    // Bad-record injection (`malformedProducts`), as the GraphQL view renders it.
    created_at: st.merchant.malformedProductIds.has(p.id)
      ? "0000-00-00T00:00:00+00:00"
      : isoWithOffset(p.createdAt, tz),
    updated_at: isoWithOffset(p.updatedAt, tz),
    published_at: isoWithOffset(p.createdAt, tz),
    tags: "",
    variants: variants.map((v, i) => ({
      id: v.id,
      admin_graphql_api_id: gid("ProductVariant", v.id),
      product_id: p.id,
      title: v.title,
      sku: v.sku,
      barcode: v.barcode,
      price: restAmount(v.price, st.shop.currency),
      position: i + 1,
      inventory_item_id: v.inventoryItemId,
      inventory_quantity: st.merchant.locations.reduce(
        (s, l) => s + st.merchant.inventory(v.id, l.id).available,
        0
      ),
      created_at: isoWithOffset(p.createdAt, tz),
      updated_at: isoWithOffset(p.updatedAt, tz)
    }))
  }
}
