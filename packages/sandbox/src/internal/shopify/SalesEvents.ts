/**
 * The emulator's model of Shopify's sales report (ShopifyQL `FROM sales`): the events one order
 * contributes, each dated by its own instant and carrying the metrics it moves, in minor units of
 * the shop's currency. This is the emulator's documented assumption (README, "ShopifyQL"):
 *
 * 1. Sale, at `processedAt`: `orders` +1, `total_sales` += the order's `total` (what the customer
 *    was charged: after discounts, shipping and tax included). `gross_sales` = Σ quantity × unit
 *    price, `discounts` = −(the discounts), `shipping_charges` = shipping, `taxes` = total tax,
 *    `net_sales` = gross_sales + discounts + returns.
 * 2. Refund, at its own `createdAt`: `total_sales` −= the refund's amount (lines, shipping and tax
 *    returned), `returns` −= its line part, `shipping_charges` and `taxes` −= their refunded parts.
 * 3. Cancellation reversal, at `cancelledAt`: `total_sales` and `returns` −= max(0, total − Σ the
 *    amounts of all the order's refunds): an unpaid order cancelled without a refund is reversed in
 *    full on its cancel day; a cancelled and fully refunded order reverses nothing more. The
 *    reversal is not split into tax and shipping: all of it is counted in `returns`.
 *
 * Discounts and returns are negative, as Shopify's reports show them. When prices include tax
 * (`taxesIncluded`, every generated merchant), gross_sales, discounts, returns, net_sales and
 * shipping_charges are reported without their tax: a line's gross is quantity × unit price less the
 * tax that price includes (at the line's rates), its net is its discounted price less the line's
 * own tax, and its discount is the difference; shipping is less its tax lines; a refunded shipping
 * amount carries its share of the shipping tax. That split is the emulator's assumption, UNCONFIRMED
 * against real Shopify. What holds exactly, whatever the tax convention, is that each event's
 * `total_sales` is the money that moved (sale total, −refund amount, −reversal) and, for the
 * generated data, total_sales = net_sales + shipping_charges + taxes.
 *
 * Which orders count (deleted ones do not, malformed renderings do) and which instants (none after
 * the clock) is decided by the report (`SalesReport.ts`), not here.
 */
import type { Order, TaxLine } from "../model.js"

/** A metric of the `sales` table. */
export type SalesMetric =
  | "orders"
  | "gross_sales"
  | "discounts"
  | "returns"
  | "net_sales"
  | "shipping_charges"
  | "taxes"
  | "total_sales"

/** The `sales` table's metrics the emulator answers, with their column metadata. */
export const SALES_METRICS: ReadonlyArray<{
  readonly name: SalesMetric
  readonly displayName: string
  readonly dataType: "MONEY" | "INTEGER"
}> = [
  { name: "orders", displayName: "Orders", dataType: "INTEGER" },
  { name: "gross_sales", displayName: "Gross sales", dataType: "MONEY" },
  { name: "discounts", displayName: "Discounts", dataType: "MONEY" },
  { name: "returns", displayName: "Returns", dataType: "MONEY" },
  { name: "net_sales", displayName: "Net sales", dataType: "MONEY" },
  { name: "shipping_charges", displayName: "Shipping charges", dataType: "MONEY" },
  { name: "taxes", displayName: "Taxes", dataType: "MONEY" },
  { name: "total_sales", displayName: "Total sales", dataType: "MONEY" }
]

/** Metric values (money in minor units, `orders` a count). */
export type SalesFigures = Record<SalesMetric, number>

/** One dated contribution to the report. */
export interface SalesEvent {
  readonly kind: "sale" | "refund" | "reversal"
  readonly at: number
  readonly figures: SalesFigures
}

/** All metrics at zero. */
export const zeroFigures = (): SalesFigures => ({
  orders: 0,
  gross_sales: 0,
  discounts: 0,
  returns: 0,
  net_sales: 0,
  shipping_charges: 0,
  taxes: 0,
  total_sales: 0
})

/** A decimal rate ("0.08") as an exact fraction. */
const fraction = (rate: string): { readonly num: number; readonly den: number } => {
  const [whole = "0", frac = ""] = rate.split(".")
  const den = 10 ** frac.length
  return { num: Number(whole) * den + Number(frac === "" ? "0" : frac), den }
}

/** The tax a tax-inclusive `amount` contains at these rates (each rate's share, rounded). */
const includedTax = (amount: number, taxLines: ReadonlyArray<TaxLine>): number => {
  const rates = taxLines.map((t) => fraction(t.rate))
  const den = rates.reduce((d, r) => Math.max(d, r.den), 1)
  const nums = rates.map((r) => (r.num * den) / r.den)
  const total = nums.reduce((a, b) => a + b, 0)
  return nums.reduce((a, n) => a + Math.round((amount * n) / (den + total)), 0)
}

const sum = <T>(xs: ReadonlyArray<T>, f: (x: T) => number): number => xs.reduce((a, x) => a + f(x), 0)

const saleOf = (o: Order): SalesEvent => {
  const figures = zeroFigures()
  figures.orders = 1
  figures.total_sales = o.total
  figures.taxes = o.totalTax
  if (o.taxesIncluded) {
    const shippingTax = sum(o.shippingTax, (t) => t.amount)
    for (const l of o.lines) {
      const list = l.quantity * l.unitPrice
      const gross = list - includedTax(list, l.taxLines)
      const net = list - l.discount - sum(l.taxLines, (t) => t.amount)
      figures.gross_sales += gross
      figures.discounts += net - gross
    }
    figures.shipping_charges = o.shipping - shippingTax
  } else {
    figures.gross_sales = sum(o.lines, (l) => l.quantity * l.unitPrice)
    figures.discounts = -o.totalDiscounts
    figures.shipping_charges = o.shipping
  }
  figures.net_sales = figures.gross_sales + figures.discounts
  return { kind: "sale", at: o.processedAt, figures }
}

const refundOf = (o: Order, r: Order["refunds"][number]): SalesEvent => {
  const shippingTax = sum(o.shippingTax, (t) => t.amount)
  const shippingTaxPart =
    r.shippingRefund === 0 || o.shipping === 0 ? 0 : Math.round((shippingTax * r.shippingRefund) / o.shipping)
  const lineTax = sum(r.lines, (l) => l.tax)
  const lineSubtotal = sum(r.lines, (l) => l.subtotal)
  const figures = zeroFigures()
  figures.total_sales = -r.amount
  figures.taxes = -(lineTax + shippingTaxPart)
  if (o.taxesIncluded) {
    figures.returns = -(lineSubtotal - lineTax)
    figures.shipping_charges = -(r.shippingRefund - shippingTaxPart)
  } else {
    figures.returns = -lineSubtotal
    figures.shipping_charges = -r.shippingRefund
  }
  figures.net_sales = figures.returns
  return { kind: "refund", at: r.createdAt, figures }
}

/**
 * The events of one order: its sale, each refund, and the cancellation reversal when a cancelled
 * order's refunds did not give back its whole total.
 */
export const salesEventsOf = (o: Order): ReadonlyArray<SalesEvent> => {
  const events = [saleOf(o), ...o.refunds.map((r) => refundOf(o, r))]
  if (o.cancelledAt !== null) {
    const reversal = Math.max(0, o.total - sum(o.refunds, (r) => r.amount))
    if (reversal > 0) {
      const figures = zeroFigures()
      figures.total_sales = -reversal
      figures.returns = -reversal
      figures.net_sales = -reversal
      events.push({ kind: "reversal", at: o.cancelledAt, figures })
    }
  }
  return events
}
