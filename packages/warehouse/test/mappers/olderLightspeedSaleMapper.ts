/**
 * The Lightspeed sale mapper as Kura shipped it up to commit 2353761 (session 10), kept verbatim
 * (imports re-pointed, item and location mappers dropped) so a test can write a warehouse the way
 * that Kura did: a void of an earlier sale as a cancelled order of its own, and every refunded line
 * restocked whatever its reason. Used only by the re-modelling test
 * (test/mappers/SandboxLightspeedVoids.test.ts); never change it.
 */
import { Decimal } from "@kura/core"
import type { BusinessDay, Sale } from "@kura/lightspeed-client"
import { businessDate } from "../../src/BusinessDate.js"
import { type CanonicalRows, lineage, type MapContext, type Mapper, mergeRows } from "../../src/Mapper.js"
import { dec, intQty, nonBlank, sumDec, utc, utcOrNull } from "../../src/mappers/internal/values.js"
import type { CanonicalRow } from "../../src/Tables.js"

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

const isRefund = (sale: Sale): boolean => sale.type === "REFUND"

/**
 * K-Series void reasons that say the goods were spoiled (made, served or broken): a void with one
 * puts nothing back on the shelf. Any other reason ("User Mistake", "Other") or none puts the
 * goods back. K-Series does not document the stock effect of a void (UNCONFIRMED); this is the
 * policy, and `v_inventory_reconciliation` labels a discrepancy where a void falls `voided_sale`.
 */
export const SPOILAGE_VOID_REASONS: ReadonlySet<string> = new Set([
  "Broken",
  "Cooking",
  "Taste",
  "Unhappy Client",
  "Waited too long"
])

/** Builds the sale mapper for one business location. */
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
    const refund = isRefund(sale)
    const orderId = refund
      ? (sale.source?.initialAccountId ?? sale.source?.previousAccountId ?? saleId)
      : saleId
    const lineKey = (id: string) => `${saleId}:${id}`

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
      if (sku !== null && qty !== 0 && !(refund && options.refundRestocks === false)) {
        movements.push({
          ...lineage(ctx, `${refund ? "refund_restock" : "sale"}:${lineKey(line.id)}`, updatedAt),
          variant_id: null,
          sku,
          inventory_item_id: null,
          location_id: stockAt,
          kind: refund ? "refund_restock" : "sale",
          // Sale lines carry positive quantities, refund lines negative ones: stock moves the other way.
          quantity: -qty,
          reason: null,
          reference_type: refund ? "refund" : "order",
          reference_id: saleId,
          occurred_at: line.timeOfSale === null || line.timeOfSale === undefined ? at : utc(line.timeOfSale)
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
      const restock = options.refundRestocks !== false
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
            amount: dec(neg(l.totalNetAmountWithTax)),
            restock,
            location_id: stockAt
          })
        ),
        payments,
        tax_lines: taxLines,
        inventory_movements: movements
      }
    }

    const cancelled = sale.cancelled === true || sale.type === "VOID" || sale.type === "CANCEL"
    // A void (or cancellation) of an earlier sale is a new account linking back to it: that sale's
    // movements took the goods off the shelf, so the void puts back those not spoiled. One whose
    // lines were never sold (a ticket cancelled before it closed) moved nothing.
    const voidedSale = sale.source?.initialAccountId ?? sale.source?.previousAccountId ?? null
    const voidRestocks =
      cancelled && voidedSale !== null && voidedSale !== saleId
        ? sale.salesLines.flatMap((line): Array<CanonicalRow<"inventory_movements">> => {
            const qty = Math.abs(intQty(line.quantity))
            const sku = nonBlank(line.sku)
            if (sku === null || qty === 0) return []
            const reason = line.voidReason ?? sale.voidReason ?? null
            return [
              {
                ...lineage(ctx, `void_restock:${lineKey(line.id)}`, updatedAt),
                variant_id: null,
                sku,
                inventory_item_id: null,
                location_id: stockAt,
                kind: "refund_restock",
                // Spoiled goods stay off the shelf: kept as a zero movement, so the void is on record.
                quantity: reason !== null && SPOILAGE_VOID_REASONS.has(reason) ? 0 : qty,
                reason,
                reference_type: "void",
                reference_id: saleId,
                occurred_at:
                  line.timeOfSale === null || line.timeOfSale === undefined ? at : utc(line.timeOfSale)
              }
            ]
          })
        : []
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
          financial_status: cancelled ? "VOIDED" : refund ? "REFUNDED" : "PAID",
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
      inventory_movements: cancelled ? voidRestocks : movements
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
