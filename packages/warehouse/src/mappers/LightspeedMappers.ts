/**
 * Lightspeed K-Series → canonical rows. A SALE account becomes one `pos` order with lines, tax
 * lines, payments and `sale` movements; a REFUND account becomes a refund of the sale it came from
 * (`source.initialAccountId`) with refund lines and restock movements. A VOID/CANCEL account (or a
 * cancelled one) that voids an earlier sale (links back to another account) is a refund of that
 * sale too, keyed by the void's own account and dated when it was made (see
 * `makeLightspeedSaleMapper`); its lines go back on the shelf (`refund_restock`, reference type
 * `void`) unless its reason says they were spoiled. A cancelled account that voids no earlier sale
 * is a cancelled order that moved nothing. Business dates honour the K-Series business day and its
 * cutover.
 */
import { Decimal } from "@kura/core"
import type { Business, BusinessDay, Item, LocationInfo, Sale } from "@kura/lightspeed-client"
import { businessDate } from "../BusinessDate.js"
import { type CanonicalRows, lineage, type MapContext, type Mapper, mergeRows } from "../Mapper.js"
import { buildSkuMap, type SkuOverride } from "../SkuMap.js"
import type { CanonicalRow } from "../Tables.js"
import { dec, intQty, nonBlank, sumDec, utc, utcOrNull } from "./internal/values.js"

/** Options of the sale mapper. */
export interface LightspeedSaleMapperOptions {
  /** The business location (`blID`) the sales were read from: a Sale does not repeat it. */
  readonly businessLocationId: string
  /** Currency when a sale names none (the business's `currencyCode`). */
  readonly currency?: string | null
  /** Local start of the business day ("HH:MM"), e.g. "05:00"; default "00:00". */
  readonly dayStartsAt?: string
  /** The business date, when known from the day the sales were read for (wins over `dayStartsAt`). */
  readonly businessDate?: string
  /**
   * The location id stock moves at, when the warehouse links the POS location to a Shopify
   * location (default: the `blID`).
   */
  readonly stockLocationId?: string
  /**
   * Whether a refunded line went back on the shelf. K-Series does not report it, so this is a
   * policy (default true: refunded goods are restocked).
   */
  readonly refundRestocks?: boolean
}

const ZERO = Decimal.zero

const neg = (d: Decimal | null | undefined): Decimal | null =>
  d === null || d === undefined ? null : d.negate()

/** The fields of a sale that say what kind of account it is and what it links back to. */
type SaleKind = Pick<Sale, "accountReference" | "type" | "cancelled" | "source">

const isRefund = (sale: SaleKind): boolean => sale.type === "REFUND"

/** A VOID or CANCEL account, or one flagged cancelled. */
const isCancelled = (sale: SaleKind): boolean =>
  sale.cancelled === true || sale.type === "VOID" || sale.type === "CANCEL"

/**
 * The earlier sale a cancelled account voids (`source.initialAccountId`, else
 * `previousAccountId`), or null when it links to none or to itself: a ticket cancelled before it
 * ever closed as a sale.
 */
export const voidedSaleOf = (sale: SaleKind): string | null => {
  if (!isCancelled(sale) || isRefund(sale)) return null
  const linked = sale.source?.initialAccountId ?? sale.source?.previousAccountId ?? null
  return linked === null || linked === sale.accountReference ? null : linked
}

/**
 * K-Series void reasons that say the goods were spoiled (made, served or broken): a void or refund
 * line with one puts nothing back on the shelf. Any other reason ("User Mistake", "Other") or none
 * puts the goods back. K-Series does not document the stock effect of a void or refund
 * (UNCONFIRMED); this is the policy, and `v_inventory_reconciliation` labels a discrepancy where a
 * void falls `voided_sale`.
 */
export const SPOILAGE_VOID_REASONS: ReadonlySet<string> = new Set([
  "Broken",
  "Cooking",
  "Taste",
  "Unhappy Client",
  "Waited too long"
])

/** Whether a void or refund reason says the goods were spoiled (`SPOILAGE_VOID_REASONS`). */
export const isSpoilageReason = (reason: string | null | undefined): boolean =>
  reason !== null && reason !== undefined && SPOILAGE_VOID_REASONS.has(reason)

/**
 * Builds the sale mapper for one business location.
 *
 * A void of an earlier sale (a VOID/CANCEL or cancelled account linking back to another account)
 * is a refund of that sale, as a K-Series REFUND is and as the money side of a Shopify
 * cancellation is (Shopify writes a refund): a `refunds` row keyed by the void's own account,
 * dated at the void (its close, on its business day), with refund lines, refund payments and
 * tax lines on the voided sale. The voided sale itself stays a closed order on its own business
 * date: K-Series does not change that account, so yesterday's report keeps yesterday's sale and the
 * void's day shows the reversal (`v_daily_sales` refunds). Line signs are taken as absolute values,
 * since whether a VOID's lines are negative like a REFUND's is not documented.
 *
 * A cancelled account that voids no earlier sale (links to nothing or to itself: a ticket
 * cancelled before it closed as a sale) is a cancelled order with no movements. Its lines never
 * produced a sale movement, so there is nothing to put back; if its goods were made or broken
 * before it was cancelled, that outflow is not in any K-Series record we read (the reference
 * documents no stock effect of a cancellation, and the sandbox's `groundTruth()` has no such
 * ticket), so it would surface in `v_inventory_reconciliation` as an unexplained shortfall rather
 * than be guessed here.
 */
export const makeLightspeedSaleMapper =
  (options: LightspeedSaleMapperOptions): Mapper<Sale> =>
  (sale, ctx) => {
    const bl = options.businessLocationId
    const saleId = sale.accountReference
    const closed = utcOrNull(sale.timeClosed)
    const opened = utcOrNull(sale.timeOfOpening)
    const updatedAt = closed ?? opened ?? ctx.syncedAt
    const at = closed ?? opened ?? ctx.syncedAt
    const date = options.businessDate ?? businessDate(at, ctx.timeZoneOf(bl), options.dayStartsAt ?? "00:00")
    const currency =
      sale.salesLines.find((l) => l.currency)?.currency ??
      sale.payments.find((p) => p.currency)?.currency ??
      options.currency ??
      null
    const stockAt = options.stockLocationId ?? bl
    const voidedSale = voidedSaleOf(sale)
    // A REFUND account, or a void of an earlier sale: money and goods going back on that sale.
    const refund = isRefund(sale) || voidedSale !== null
    const orderId = isRefund(sale)
      ? (sale.source?.initialAccountId ?? sale.source?.previousAccountId ?? saleId)
      : (voidedSale ?? saleId)
    const lineKey = (id: string) => `${saleId}:${id}`
    const reasonOf = (line: Sale["salesLines"][number]) => line.voidReason ?? sale.voidReason ?? null

    const taxLines: Array<CanonicalRow<"tax_lines">> = []
    const movements: Array<CanonicalRow<"inventory_movements">> = []
    for (const line of sale.salesLines) {
      line.taxLines.forEach((t, i) => {
        taxLines.push({
          ...lineage(ctx, `${lineKey(line.id)}:tax:${i}`, updatedAt),
          order_id: orderId,
          parent_type: refund ? "refund_line" : "line",
          parent_id: lineKey(line.id),
          title: t.taxCode ?? null,
          // K-Series sends a multiplier (1.08); the canonical rate is a fraction (0.08) like Shopify's.
          rate: t.taxRate.multiplier.sub(Decimal.unsafeFrom(1)).normalize().toString(),
          amount: refund ? dec(t.taxAmount.abs()) : dec(t.taxAmount),
          amount_presentment: null
        })
      })
      const qty = intQty(line.quantity)
      const sku = nonBlank(line.sku)
      const occurredAt = line.timeOfSale === null || line.timeOfSale === undefined ? at : utc(line.timeOfSale)
      if (sku === null || qty === 0) continue
      const reason = reasonOf(line)
      if (voidedSale !== null) {
        // A void of an earlier sale: that sale's movements took the goods off the shelf, so the
        // void puts back those not spoiled (whatever `refundRestocks` says: a void is no return).
        movements.push({
          ...lineage(ctx, `void_restock:${lineKey(line.id)}`, updatedAt),
          variant_id: null,
          sku,
          inventory_item_id: null,
          location_id: stockAt,
          kind: "refund_restock",
          // Spoiled goods stay off the shelf: kept as a zero movement, so the void is on record.
          quantity: isSpoilageReason(reason) ? 0 : Math.abs(qty),
          reason,
          reference_type: "void",
          reference_id: saleId,
          occurred_at: occurredAt
        })
      } else if (!(refund && options.refundRestocks === false)) {
        movements.push({
          ...lineage(ctx, `${refund ? "refund_restock" : "sale"}:${lineKey(line.id)}`, updatedAt),
          variant_id: null,
          sku,
          inventory_item_id: null,
          location_id: stockAt,
          kind: refund ? "refund_restock" : "sale",
          // Sale lines carry positive quantities, refund lines negative ones: stock moves the other
          // way. A refunded line with a spoilage reason did not come back: a zero movement, as for
          // a void, keeps the refund on record.
          quantity: refund && isSpoilageReason(reason) ? 0 : -qty,
          reason: refund ? reason : null,
          reference_type: refund ? "refund" : "order",
          reference_id: saleId,
          occurred_at: occurredAt
        })
      }
    }

    const payments = sale.payments.map(
      (p, i): CanonicalRow<"payments"> => ({
        ...lineage(ctx, p.uuid ?? p.fiscId ?? `${saleId}:payment:${i}`, updatedAt),
        order_id: orderId,
        kind: refund ? "refund" : "sale",
        method: p.code ?? p.description ?? null,
        status: "success",
        currency: p.currency ?? currency,
        amount: refund ? dec(p.netAmountWithTax.abs()) : dec(p.netAmountWithTax),
        presentment_currency: null,
        amount_presentment: null,
        processed_at: utcOrNull(p.fiscDate) ?? at
      })
    )

    const gross = sumDec(
      sale.salesLines.map((l) => l.totalNetAmountWithTax),
      ZERO
    )
    if (refund) {
      // A refund line goes back on the shelf by policy (`refundRestocks`); a void's unless spoiled.
      const restocks = (line: Sale["salesLines"][number]) =>
        (voidedSale !== null || options.refundRestocks !== false) && !isSpoilageReason(reasonOf(line))
      return {
        refunds: [
          {
            ...lineage(ctx, saleId, updatedAt),
            order_id: orderId,
            channel: "pos",
            location_id: bl,
            currency,
            amount: Decimal.unsafeFrom(gross).abs().toString(),
            amount_presentment: null,
            note: sale.voidReason ?? null,
            created_at: at,
            processed_at: closed,
            business_date: date
          }
        ],
        refund_lines: sale.salesLines.map(
          (l): CanonicalRow<"refund_lines"> => ({
            ...lineage(ctx, lineKey(l.id), updatedAt),
            refund_id: saleId,
            order_id: orderId,
            order_line_id: null,
            variant_id: null,
            sku: nonBlank(l.sku),
            quantity: Math.abs(intQty(l.quantity)),
            amount:
              voidedSale !== null ? dec(l.totalNetAmountWithTax?.abs()) : dec(neg(l.totalNetAmountWithTax)),
            restock: restocks(l),
            location_id: stockAt
          })
        ),
        payments,
        tax_lines: taxLines,
        inventory_movements: movements
      }
    }

    const cancelled = isCancelled(sale)
    return {
      orders: [
        {
          ...lineage(ctx, saleId, updatedAt),
          channel: "pos",
          location_id: bl,
          order_number: sale.receiptId ?? sale.accountFiscId,
          customer_id: null,
          currency,
          // Tax-inclusive line totals after discounts: there is no shipping at a till.
          subtotal: gross,
          discounts: sumDec(
            sale.salesLines.map((l) => l.totalDiscountAmount),
            ZERO
          ),
          shipping: "0",
          tax: sumDec(
            sale.salesLines.flatMap((l) => l.taxLines.map((t) => t.taxAmount)),
            ZERO
          ),
          total: gross,
          refunded: null,
          presentment_currency: null,
          subtotal_presentment: null,
          discounts_presentment: null,
          shipping_presentment: null,
          tax_presentment: null,
          total_presentment: null,
          refunded_presentment: null,
          // Shopify's vocabulary (its order enums; `status` open | closed | cancelled), so a report
          // grouping by status does not split one status by channel. A refund is its own sale here.
          financial_status: cancelled ? "VOIDED" : "PAID",
          fulfillment_status: "FULFILLED",
          // A till sale is paid and handed over when it closes: there is no open state to report.
          status: cancelled ? "cancelled" : "closed",
          created_at: opened ?? at,
          processed_at: closed,
          business_date: date,
          cancelled_at: cancelled ? at : null
        }
      ],
      order_lines: sale.salesLines.map(
        (l): CanonicalRow<"order_lines"> => ({
          ...lineage(ctx, lineKey(l.id), updatedAt),
          order_id: saleId,
          product_id: null,
          variant_id: null,
          sku: nonBlank(l.sku),
          title: l.nameOverride ?? l.name ?? null,
          quantity: intQty(l.quantity),
          unit_price: dec(l.menuListPrice),
          discount: dec(l.totalDiscountAmount),
          tax: sumDec(
            l.taxLines.map((t) => t.taxAmount),
            ZERO
          ),
          total: dec(l.totalNetAmountWithTax),
          unit_price_presentment: null,
          total_presentment: null
        })
      ),
      payments,
      tax_lines: taxLines,
      // A cancelled ticket that voids no earlier sale never took its goods off the shelf.
      inventory_movements: cancelled ? [] : movements
    }
  }

/** Maps one K-Series business day: its sales, dated on the day itself (the cutover is built in). */
export const mapLightspeedBusinessDay = (
  day: BusinessDay,
  ctx: MapContext,
  options: Omit<LightspeedSaleMapperOptions, "businessLocationId" | "businessDate"> = {}
): CanonicalRows => {
  const mapper = makeLightspeedSaleMapper({
    ...options,
    businessLocationId: day.businessLocationId,
    businessDate: day.date
  })
  return mergeRows(...day.sales.map((s) => mapper(s, ctx)))
}

/** A business location (flattened with its business) → locations. */
export const mapLightspeedLocation: Mapper<LocationInfo> = (l, ctx) => ({
  locations: [
    {
      ...lineage(ctx, l.businessLocationId, ctx.syncedAt),
      name: l.name,
      time_zone: l.timezone,
      country_code: l.country,
      active: true
    }
  ]
})

/** A business with its locations → locations. */
export const mapLightspeedBusiness: Mapper<Business> = (b, ctx) => ({
  locations: b.businessLocations.map(
    (l): CanonicalRow<"locations"> => ({
      ...lineage(ctx, l.blID, ctx.syncedAt),
      name: l.blName ?? null,
      time_zone: l.timezone,
      country_code: l.country ?? null,
      active: true
    })
  )
})

/** Options of the item mapper. */
export interface LightspeedItemMapperOptions {
  readonly currency?: string | null
  readonly skuOverrides?: ReadonlyArray<SkuOverride>
}

/**
 * Builds the catalogue-item mapper: a K-Series item is both the product and its one variant;
 * its SKU links it to Shopify variants through sku_map.
 */
export const makeLightspeedItemMapper =
  (options: LightspeedItemMapperOptions = {}): Mapper<Item> =>
  (item, ctx) => {
    const variant: CanonicalRow<"variants"> = {
      ...lineage(ctx, item.id, ctx.syncedAt),
      product_id: item.id,
      sku: nonBlank(item.sku),
      barcode: nonBlank(item.barcode) ?? nonBlank(item.barcodes?.[0]),
      title: item.name ?? null,
      inventory_item_id: null,
      currency: options.currency ?? null,
      price: dec(item.prices?.[0]?.amount),
      cost: dec(item.costPrice)
    }
    return {
      products: [
        {
          ...lineage(ctx, item.id, ctx.syncedAt),
          title: item.name ?? null,
          vendor: null,
          product_type: item.accountingGroup?.name ?? null,
          status: item.active === false ? "archived" : "active",
          created_at: null
        }
      ],
      variants: [variant],
      sku_map: buildSkuMap([variant], options.skuOverrides ?? [], ctx)
    }
  }

/** The item mapper with default options. */
export const mapLightspeedItem: Mapper<Item> = makeLightspeedItemMapper()
