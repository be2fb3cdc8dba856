/**
 * Sale totals as core `Money`, for reconciliation: what a day's sales add up to (gross, net, tax,
 * payments) and tax per rate. Sums are exact; nothing is rounded.
 */
import { Decimal, type Money, money } from "@kura/core"
import type { TaxRate } from "./Fields.js"
import type { Sale } from "./Sale.js"

/** The totals of one sale or of many. */
export interface SaleTotals {
  /** Sum of line `totalNetAmountWithTax` (tax-inclusive line totals after discounts). */
  readonly gross: Money
  /** Sum of line `totalNetAmountWithoutTax`. */
  readonly net: Money
  /** Sum of tax-line `taxAmount`. */
  readonly tax: Money
  /** Sum of payment `netAmountWithTax`. */
  readonly paid: Money
  /** Sum of payment `tip`. */
  readonly tips: Money
}

/** Tax collected at one rate. */
export interface TaxByRate {
  readonly taxCode: string | null
  readonly rate: TaxRate
  readonly amount: Money
}

/**
 * The currency of a sale: the first line's or payment's `currency`, else `fallback` (the
 * business's `currencyCode` from `locations`).
 */
export const saleCurrency = (sale: Sale, fallback: string | null = null): string | null =>
  sale.salesLines.find((l) => l.currency)?.currency ??
  sale.payments.find((p) => p.currency)?.currency ??
  fallback

const add = (a: Decimal, b: Decimal | null | undefined) => (b === null || b === undefined ? a : a.add(b))

/** Adds up sales in one currency (throws RangeError on an invalid currency code). */
export const saleTotals = (sales: Iterable<Sale>, currency: string): SaleTotals => {
  let gross = Decimal.zero
  let net = Decimal.zero
  let tax = Decimal.zero
  let paid = Decimal.zero
  let tips = Decimal.zero
  for (const sale of sales) {
    for (const line of sale.salesLines) {
      gross = add(gross, line.totalNetAmountWithTax)
      net = add(net, line.totalNetAmountWithoutTax)
      for (const t of line.taxLines) tax = tax.add(t.taxAmount)
    }
    for (const p of sale.payments) {
      paid = paid.add(p.netAmountWithTax)
      tips = add(tips, p.tip)
    }
  }
  return {
    gross: money(gross, currency),
    net: money(net, currency),
    tax: money(tax, currency),
    paid: money(paid, currency),
    tips: money(tips, currency)
  }
}

/** Tax per (code, rate) across sales, e.g. Japan's 8% reduced and 10% standard consumption tax. */
export const taxByRate = (sales: Iterable<Sale>, currency: string): ReadonlyArray<TaxByRate> => {
  const groups = new Map<string, { taxCode: string | null; rate: TaxRate; amount: Decimal }>()
  for (const sale of sales) {
    for (const line of sale.salesLines) {
      for (const t of line.taxLines) {
        const key = `${t.taxCode ?? ""}|${t.taxRate.multiplier.toString()}`
        const group = groups.get(key)
        if (group) group.amount = group.amount.add(t.taxAmount)
        else groups.set(key, { taxCode: t.taxCode ?? null, rate: t.taxRate, amount: t.taxAmount })
      }
    }
  }
  return [...groups.values()].map((g) => ({
    taxCode: g.taxCode,
    rate: g.rate,
    amount: money(g.amount, currency)
  }))
}
