/**
 * Shopify orders in their REST / webhook form (`orders.json`, `orders/create`, `orders/updated`:
 * snake_case, integer ids, money as strings or numbers) → the same canonical rows, with the same
 * ids, as the GraphQL mapper, so a webhook and a later bulk export of one order upsert the same
 * rows. The client's webhook schema keeps only a few order fields, so this module decodes the
 * full payload itself.
 */
import { type Decimal, DecimalFromNumberOrString } from "@kura/core"
import { Schema } from "effect"
import { businessDate } from "../BusinessDate.js"
import { lineage, type MapContext, type Mapper } from "../Mapper.js"
import type { CanonicalRow } from "../Tables.js"
import { dec, rateText, utc, utcOrNull } from "./internal/values.js"

const Id = Schema.Union([Schema.String, Schema.Number])
const Amount = DecimalFromNumberOrString
const opt = <S extends Schema.Top>(schema: S) => Schema.optional(Schema.NullOr(schema))

const MoneyV2 = Schema.Struct({ amount: Amount, currency_code: Schema.String })
/** A REST `*_set`: shop and presentment money. */
const MoneySet = Schema.Struct({ shop_money: MoneyV2, presentment_money: MoneyV2 })

const RestTaxLine = Schema.Struct({
  title: opt(Schema.String),
  rate: opt(Schema.Number),
  price: opt(Amount),
  price_set: opt(MoneySet)
})

const RestTransaction = Schema.Struct({
  id: Id,
  kind: Schema.String,
  status: opt(Schema.String),
  gateway: opt(Schema.String),
  amount: Amount,
  currency: opt(Schema.String),
  created_at: opt(Schema.String),
  processed_at: opt(Schema.String)
})

const RestRefund = Schema.Struct({
  id: Id,
  created_at: opt(Schema.String),
  processed_at: opt(Schema.String),
  note: opt(Schema.String),
  refund_line_items: Schema.Array(
    Schema.Struct({
      id: opt(Id),
      line_item_id: Id,
      quantity: Schema.Number,
      restock_type: opt(Schema.String),
      location_id: opt(Id),
      subtotal: opt(Amount),
      subtotal_set: opt(MoneySet),
      total_tax: opt(Amount),
      total_tax_set: opt(MoneySet),
      /** Present in webhooks and REST refunds: the refunded line's variant and SKU. */
      line_item: opt(Schema.Struct({ id: opt(Id), sku: opt(Schema.String), variant_id: opt(Id) }))
    })
  ),
  transactions: Schema.Array(RestTransaction)
})

/** The `refunds/create` webhook payload (and a REST refund): the refund with its order id. */
export const RestRefundPayload = Schema.Struct({ ...RestRefund.fields, order_id: Id })

/** A decoded `refunds/create` payload. */
export type RestRefundPayload = typeof RestRefundPayload.Type

/** Decodes a `refunds/create` webhook body. */
export const decodeRestRefund = Schema.decodeUnknownEffect(RestRefundPayload)

/** The REST / webhook order payload (the fields Kura models; the rest stays in the raw lake). */
export const RestOrder = Schema.Struct({
  id: Id,
  name: opt(Schema.String),
  created_at: Schema.String,
  updated_at: Schema.String,
  processed_at: opt(Schema.String),
  cancelled_at: opt(Schema.String),
  closed_at: opt(Schema.String),
  currency: Schema.String,
  presentment_currency: opt(Schema.String),
  financial_status: opt(Schema.String),
  fulfillment_status: opt(Schema.String),
  source_name: opt(Schema.String),
  customer: opt(Schema.Struct({ id: Id })),
  subtotal_price_set: opt(MoneySet),
  total_price_set: opt(MoneySet),
  total_tax_set: opt(MoneySet),
  total_discounts_set: opt(MoneySet),
  total_shipping_price_set: opt(MoneySet),
  line_items: Schema.Array(
    Schema.Struct({
      id: Id,
      variant_id: opt(Id),
      product_id: opt(Id),
      sku: opt(Schema.String),
      title: Schema.String,
      variant_title: opt(Schema.String),
      quantity: Schema.Number,
      price_set: MoneySet,
      total_discount_set: opt(MoneySet),
      tax_lines: Schema.Array(RestTaxLine)
    })
  ),
  shipping_lines: Schema.optional(
    Schema.Array(Schema.Struct({ id: opt(Id), tax_lines: Schema.Array(RestTaxLine) }))
  ),
  refunds: Schema.optional(Schema.Array(RestRefund))
})

/** A decoded REST / webhook order. */
export type RestOrder = typeof RestOrder.Type

/** Decodes a REST order or an `orders/*` webhook body; fails with the Schema issue naming the field. */
export const decodeRestOrder = Schema.decodeUnknownEffect(RestOrder)

/** Options of the REST order mapper (as for the GraphQL one). */
export interface ShopifyRestOrderMapperOptions {
  readonly locationOf?: (order: RestOrder) => string | null
  readonly channelOf?: (order: RestOrder) => "online" | "pos"
}

type Set = typeof MoneySet.Type
const shop = (s: Set | null | undefined): string | null =>
  s === null || s === undefined ? null : dec(s.shop_money.amount)
const pres = (s: Set | null | undefined): string | null =>
  s === null || s === undefined ? null : dec(s.presentment_money.amount)
const idOf = (id: string | number): string => String(id)
const idOrNull = (id: string | number | null | undefined): string | null =>
  id === null || id === undefined ? null : String(id)

const add = (a: Decimal | null, b: Decimal | null | undefined): Decimal | null =>
  b === null || b === undefined ? a : a === null ? b : a.add(b)

const RESTOCK = new Set(["return", "cancel", "legacy_restock", "RETURN", "CANCEL", "LEGACY_RESTOCK"])

interface RefundContext {
  readonly orderId: string
  readonly currency: string | null
  readonly channel: "online" | "pos"
  readonly locationId: string | null
  readonly zone: string
  readonly fallbackAt: string
  readonly lineOf: (
    lineItemId: string
  ) => { readonly variantId: string | null; readonly sku: string | null } | undefined
  readonly ctx: MapContext
}

/** One REST refund → its rows; shared by the order mapper and the refunds/create mapper. */
const mapRestRefund = (r: typeof RestRefund.Type, rc: RefundContext) => {
  const { orderId, channel, locationId, zone, ctx } = rc
  const refundId = idOf(r.id)
  // REST refunds carry no updated_at; they are immutable once created.
  const refundCreated = utc(r.created_at ?? r.processed_at ?? rc.fallbackAt)
  let amount: Decimal | null = null
  const payments: Array<CanonicalRow<"payments">> = []
  const refundLines: Array<CanonicalRow<"refund_lines">> = []
  const taxLines: Array<CanonicalRow<"tax_lines">> = []
  const movements: Array<CanonicalRow<"inventory_movements">> = []
  for (const t of r.transactions) {
    const status = (t.status ?? "success").toLowerCase()
    if (t.kind.toLowerCase() === "refund" && status === "success") amount = add(amount, t.amount)
    payments.push({
      ...lineage(ctx, idOf(t.id), refundCreated),
      order_id: orderId,
      kind: t.kind.toLowerCase(),
      method: t.gateway ?? null,
      status,
      currency: t.currency ?? rc.currency,
      amount: dec(t.amount),
      presentment_currency: null,
      amount_presentment: null,
      processed_at: utcOrNull(t.processed_at ?? t.created_at) ?? refundCreated
    })
  }
  r.refund_line_items.forEach((rl, i) => {
    const lineId = idOf(rl.line_item_id)
    const id = rl.id === null || rl.id === undefined ? `${refundId}:${lineId}:${i}` : idOf(rl.id)
    const known = rc.lineOf(lineId)
    const variantId = known?.variantId ?? idOrNull(rl.line_item?.variant_id)
    const sku = known?.sku ?? rl.line_item?.sku ?? null
    const restock = rl.restock_type !== null && rl.restock_type !== undefined && RESTOCK.has(rl.restock_type)
    const at = idOrNull(rl.location_id) ?? locationId
    refundLines.push({
      ...lineage(ctx, id, refundCreated),
      refund_id: refundId,
      order_id: orderId,
      order_line_id: lineId,
      variant_id: variantId,
      sku,
      quantity: rl.quantity,
      amount: rl.subtotal_set ? dec(rl.subtotal_set.shop_money.amount) : dec(rl.subtotal),
      restock,
      location_id: at
    })
    taxLines.push({
      ...lineage(ctx, `refund_line:${id}:total`, refundCreated),
      order_id: orderId,
      parent_type: "refund_line",
      parent_id: id,
      title: null,
      rate: null,
      amount: rl.total_tax_set ? dec(rl.total_tax_set.shop_money.amount) : dec(rl.total_tax),
      amount_presentment: rl.total_tax_set ? dec(rl.total_tax_set.presentment_money.amount) : null
    })
    if (restock && at !== null && rl.quantity !== 0) {
      movements.push({
        ...lineage(ctx, `refund_restock:${id}`, refundCreated),
        variant_id: variantId,
        sku,
        inventory_item_id: null,
        location_id: at,
        kind: "refund_restock",
        quantity: rl.quantity,
        reason: r.note ?? null,
        reference_type: "refund",
        reference_id: refundId,
        occurred_at: refundCreated
      })
    }
  })
  const refund: CanonicalRow<"refunds"> = {
    ...lineage(ctx, refundId, refundCreated),
    order_id: orderId,
    channel,
    location_id: locationId,
    currency: rc.currency,
    amount: dec(amount),
    amount_presentment: null,
    note: r.note ?? null,
    created_at: refundCreated,
    processed_at: utcOrNull(r.processed_at),
    business_date: businessDate(refundCreated, zone)
  }
  return { amount, refund, payments, refundLines, taxLines, movements }
}

/** Options of the refunds/create mapper. */
export interface ShopifyRefundWebhookMapperOptions {
  /** The order's location (refund rows and restocks without their own location book there). */
  readonly locationOf?: (refund: RestRefundPayload) => string | null
  readonly channelOf?: (refund: RestRefundPayload) => "online" | "pos"
  /** The shop currency (the payload names it only on transactions). */
  readonly currency?: string | null
}

/**
 * Builds the `refunds/create` mapper: the refund, its lines (variant and SKU from the nested
 * `line_item`), tax totals, refund transactions and restock movements, with the same ids as the
 * order mappers, so a later order sync upserts rather than duplicates.
 */
export const makeShopifyRefundWebhookMapper =
  (options: ShopifyRefundWebhookMapperOptions = {}): Mapper<RestRefundPayload> =>
  (payload, ctx) => {
    const channel = options.channelOf?.(payload) ?? "online"
    const locationId = options.locationOf?.(payload) ?? null
    const mapped = mapRestRefund(payload, {
      orderId: idOf(payload.order_id),
      currency: options.currency ?? payload.transactions.find((t) => t.currency)?.currency ?? null,
      channel,
      locationId,
      zone: ctx.timeZoneOf(channel === "online" ? null : locationId),
      fallbackAt: ctx.syncedAt,
      lineOf: () => undefined,
      ctx
    })
    return {
      refunds: [mapped.refund],
      refund_lines: mapped.refundLines,
      payments: mapped.payments,
      tax_lines: mapped.taxLines,
      inventory_movements: mapped.movements
    }
  }

/** Builds the REST / webhook order mapper. */
export const makeShopifyRestOrderMapper =
  (options: ShopifyRestOrderMapperOptions = {}): Mapper<RestOrder> =>
  (order, ctx) => {
    const orderId = idOf(order.id)
    const updatedAt = utc(order.updated_at)
    const createdAt = utc(order.created_at)
    const locationId = options.locationOf?.(order) ?? null
    const channel = options.channelOf?.(order) ?? (order.source_name === "pos" ? "pos" : "online")
    const zone = ctx.timeZoneOf(channel === "online" ? null : locationId)
    const taxLines: Array<CanonicalRow<"tax_lines">> = []
    const taxRows = (
      parentType: string,
      parentId: string,
      lines: ReadonlyArray<typeof RestTaxLine.Type>,
      at: string
    ): void => {
      lines.forEach((t, i) => {
        taxLines.push({
          ...lineage(ctx, `${parentType}:${parentId}:${i}`, at),
          order_id: orderId,
          parent_type: parentType,
          parent_id: parentId,
          title: t.title ?? null,
          rate: rateText(t.rate ?? null),
          amount: t.price_set ? dec(t.price_set.shop_money.amount) : dec(t.price),
          amount_presentment: t.price_set ? dec(t.price_set.presentment_money.amount) : null
        })
      })
    }
    const lineById = new Map(order.line_items.map((l) => [idOf(l.id), l]))
    const orderLines = order.line_items.map((l): CanonicalRow<"order_lines"> => {
      const id = idOf(l.id)
      taxRows("line", id, l.tax_lines, updatedAt)
      let tax: Decimal | null = null
      for (const t of l.tax_lines) tax = add(tax, t.price_set?.shop_money.amount ?? t.price)
      const discount = l.total_discount_set?.shop_money.amount ?? null
      const gross = l.price_set.shop_money.amount.times(BigInt(l.quantity))
      return {
        ...lineage(ctx, id, updatedAt),
        order_id: orderId,
        product_id: idOrNull(l.product_id),
        variant_id: idOrNull(l.variant_id),
        sku: l.sku ?? null,
        title:
          l.variant_title === null || l.variant_title === undefined
            ? l.title
            : `${l.title} - ${l.variant_title}`,
        quantity: l.quantity,
        unit_price: dec(l.price_set.shop_money.amount),
        discount: dec(discount),
        tax: dec(tax),
        // REST has no discountedTotalSet: price × quantity − line discounts is the same figure.
        total: dec(discount === null ? gross : gross.sub(discount)),
        unit_price_presentment: dec(l.price_set.presentment_money.amount),
        // Shopify converts the line total itself; unit × quantity in presentment money can be a
        // cent off (3.89 × 2 = 7.78 where Shopify says 7.77), so REST leaves it unknown.
        total_presentment: null
      }
    })
    ;(order.shipping_lines ?? []).forEach((s, i) => {
      taxRows(
        "shipping",
        s.id === null || s.id === undefined ? `${orderId}:${i}` : idOf(s.id),
        s.tax_lines,
        updatedAt
      )
    })

    const payments: Array<CanonicalRow<"payments">> = []
    const refunds: Array<CanonicalRow<"refunds">> = []
    const refundLines: Array<CanonicalRow<"refund_lines">> = []
    const movements: Array<CanonicalRow<"inventory_movements">> = []
    if (locationId !== null) {
      for (const l of order.line_items) {
        if (l.variant_id === null || l.variant_id === undefined || l.quantity === 0) continue
        movements.push({
          ...lineage(ctx, `sale:${idOf(l.id)}`, updatedAt),
          variant_id: idOf(l.variant_id),
          sku: l.sku ?? null,
          inventory_item_id: null,
          location_id: locationId,
          kind: "sale",
          quantity: -l.quantity,
          reason: null,
          reference_type: "order",
          reference_id: orderId,
          occurred_at: createdAt
        })
      }
    }
    let refundedTotal: Decimal | null = null
    for (const r of order.refunds ?? []) {
      const mapped = mapRestRefund(r, {
        orderId,
        currency: order.currency,
        channel,
        locationId,
        zone,
        fallbackAt: order.updated_at,
        lineOf: (id) => {
          const li = lineById.get(id)
          return li === undefined ? undefined : { variantId: idOrNull(li.variant_id), sku: li.sku ?? null }
        },
        ctx
      })
      refundedTotal = add(refundedTotal, mapped.amount)
      payments.push(...mapped.payments)
      refunds.push(mapped.refund)
      refundLines.push(...mapped.refundLines)
      taxLines.push(...mapped.taxLines)
      movements.push(...mapped.movements)
    }

    const cancelledAt = utcOrNull(order.cancelled_at)
    return {
      orders: [
        {
          ...lineage(ctx, orderId, updatedAt),
          channel,
          location_id: locationId,
          order_number: order.name ?? null,
          customer_id:
            order.customer === null || order.customer === undefined ? null : idOf(order.customer.id),
          currency: order.currency,
          subtotal: shop(order.subtotal_price_set),
          discounts: shop(order.total_discounts_set),
          shipping: shop(order.total_shipping_price_set),
          tax: shop(order.total_tax_set),
          total: shop(order.total_price_set),
          refunded: dec(refundedTotal) ?? "0",
          presentment_currency: order.presentment_currency ?? null,
          subtotal_presentment: pres(order.subtotal_price_set),
          discounts_presentment: pres(order.total_discounts_set),
          shipping_presentment: pres(order.total_shipping_price_set),
          tax_presentment: pres(order.total_tax_set),
          total_presentment: pres(order.total_price_set),
          refunded_presentment: null,
          financial_status: order.financial_status?.toUpperCase() ?? null,
          fulfillment_status: restFulfillmentStatus(order.fulfillment_status),
          status: cancelledAt !== null ? "cancelled" : order.closed_at ? "closed" : "open",
          created_at: createdAt,
          processed_at: utcOrNull(order.processed_at),
          business_date: businessDate(createdAt, zone),
          cancelled_at: cancelledAt
        }
      ],
      order_lines: orderLines,
      payments,
      refunds,
      refund_lines: refundLines,
      tax_lines: taxLines,
      inventory_movements: movements
    }
  }

/** The REST / webhook order mapper with default options. */
export const mapShopifyRestOrder: Mapper<RestOrder> = makeShopifyRestOrderMapper()

/**
 * REST's `fulfillment_status` in GraphQL's `displayFulfillmentStatus` vocabulary, the canonical
 * one: REST says `partial` for PARTIALLY_FULFILLED and null for UNFULFILLED (absent stays unknown).
 */
const restFulfillmentStatus = (status: string | null | undefined): string | null =>
  status === undefined
    ? null
    : status === null
      ? "UNFULFILLED"
      : status.toLowerCase() === "partial"
        ? "PARTIALLY_FULFILLED"
        : status.toUpperCase()
