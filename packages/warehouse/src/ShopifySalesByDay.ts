/**
 * A Shopify shop's daily sales as Shopify's own sales report books them, computed from the
 * canonical tables, so `kura-sync tie-out` can compare the warehouse with ShopifyQL
 * (`FROM sales SHOW orders, total_sales TIMESERIES day`) day by day.
 *
 * The report is a ledger of events, each dated by its own instant in the shop's time zone: the
 * sale when the order was placed (its total: after discounts, with shipping and tax), each refund
 * when it was made (its amount), and a cancellation on its own day for what no refund gave back.
 * Deleted orders leave the report with their refunds, as Shopify removes them. `v_daily_sales`
 * differs on purpose: it dates by each location's business day and leaves a cancelled, never
 * refunded order out altogether, which is the same over time but not day by day.
 */
import type { Dialect } from "./Dialect.js"

/** One day of {@link shopifySalesByDaySql}. Money is a decimal string in the shop's currency. */
export interface ShopifySalesDay {
  /** The day in the shop's time zone (YYYY-MM-DD). */
  readonly day: string
  /** Orders placed that day (cancelled ones included, deleted ones not). */
  readonly orders: number
  /** Totals of those orders. */
  readonly sales: string
  /** Refunds made that day. */
  readonly refunds: string
  /** Cancellations that day, for the part of each order no refund gave back. */
  readonly cancellations: string
  /** sales − refunds − cancellations: Shopify's `total_sales`. */
  readonly totalSales: string
}

/**
 * The query behind {@link ShopifySalesDay}: parameters `account` (the shop domain), `zone` (its
 * IANA time zone), `since` and `until` (inclusive days, YYYY-MM-DD). Days with no event are
 * absent.
 */
export const shopifySalesByDaySql = (d: Dialect): string => {
  const T = d.table
  const P = d.param
  const S = d.type("string")
  const z = `CAST(0 AS ${d.type("decimal")})`
  const day = (expr: string) => d.zonedDate(expr, P("zone"))
  const mine = (a: string) =>
    `${a}.source = 'shopify' AND ${a}.source_account = ${P("account")} AND ${a}._deleted_at IS NULL`
  const o = `SELECT o.source_id, COALESCE(o.total, ${z}) AS total, COALESCE(o.processed_at, o.created_at) AS placed_at, o.cancelled_at FROM ${T("orders")} AS o WHERE ${mine("o")}`
  const r = `SELECT r.order_id, COALESCE(r.amount, ${z}) AS amount, COALESCE(r.processed_at, r.created_at) AS made_at FROM ${T("refunds")} AS r JOIN live_orders AS lo ON r.order_id = lo.source_id WHERE ${mine("r")}`
  const events = [
    `SELECT ${day("placed_at")} AS day, 1 AS orders, total AS sales, ${z} AS refunds, ${z} AS cancellations FROM live_orders`,
    `SELECT ${day("made_at")} AS day, 0 AS orders, ${z} AS sales, amount AS refunds, ${z} AS cancellations FROM live_refunds`,
    `SELECT ${day("lo.cancelled_at")} AS day, 0 AS orders, ${z} AS sales, ${z} AS refunds, GREATEST(lo.total - COALESCE(rs.refunded, ${z}), ${z}) AS cancellations FROM live_orders AS lo LEFT JOIN (SELECT order_id, SUM(amount) AS refunded FROM live_refunds GROUP BY order_id) AS rs ON rs.order_id = lo.source_id WHERE lo.cancelled_at IS NOT NULL`
  ].join(" UNION ALL ")
  return `WITH live_orders AS (${o}), live_refunds AS (${r}), events AS (${events}) SELECT CAST(e.day AS ${S}) AS day, SUM(e.orders) AS orders, CAST(SUM(e.sales) AS ${S}) AS sales, CAST(SUM(e.refunds) AS ${S}) AS refunds, CAST(SUM(e.cancellations) AS ${S}) AS cancellations, CAST(SUM(e.sales) - SUM(e.refunds) - SUM(e.cancellations) AS ${S}) AS total_sales FROM events AS e WHERE e.day >= CAST(${P("since")} AS DATE) AND e.day <= CAST(${P("until")} AS DATE) GROUP BY e.day ORDER BY e.day`
}
