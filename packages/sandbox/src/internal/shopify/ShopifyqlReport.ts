/**
 * `QueryRoot.shopifyqlQuery`: ShopifyQL over the Admin GraphQL API, for the `sales` subset that
 * `ShopifyqlParser.ts` reads and the model of `SalesEvents.ts` / `SalesReport.ts`.
 *
 * The answer is Shopify's documented shape: `tableData.columns` (name, dataType, displayName) and
 * `rows` as objects keyed by column name, money as a decimal string in the shop's currency with two
 * decimals (as the documented "2547.83"; whether zero-decimal currencies such as JPY also get
 * ".00" is UNCONFIRMED), `orders` as a JSON number (UNCONFIRMED: it may be a string upstream).
 * A query outside the subset answers `parseErrors: [message]` and `tableData: null`, HTTP 200 and
 * no GraphQL error; a token without `read_reports` gets the usual ACCESS_DENIED.
 */
import { restAmount } from "./format.js"
import { SALES_METRICS, type SalesFigures, zeroFigures } from "./SalesEvents.js"
import { isoDay, salesByDay, shopDay } from "./SalesReport.js"
import { parseShopifyql } from "./ShopifyqlParser.js"
import { type RequestContext, requireScope } from "./views.js"

/** A `ShopifyqlTableDataColumn`. */
export interface ShopifyqlColumn {
  readonly __typename: "ShopifyqlTableDataColumn"
  readonly name: string
  readonly dataType: string
  readonly displayName: string
  readonly subType: null
}

const column = (name: string, dataType: string, displayName: string): ShopifyqlColumn => ({
  __typename: "ShopifyqlTableDataColumn",
  name,
  dataType,
  displayName,
  subType: null
})

const META = new Map(SALES_METRICS.map((m) => [m.name, m]))

/** Resolves `shopifyqlQuery(query:)`. */
export const shopifyqlReport = (args: { readonly query: string }, ctx: RequestContext) => {
  requireScope(ctx, "read_reports", "shopifyqlQuery")
  const { currency, timeZone } = ctx.state.shop
  const parsed = parseShopifyql(args.query, shopDay(ctx.now, timeZone))
  if (!parsed.ok)
    return { __typename: "ShopifyqlQueryResponse", parseErrors: [parsed.error], tableData: null }
  const q = parsed.query
  const days = salesByDay(ctx.state.merchant, timeZone, q.since, q.until, ctx.now)
  const columns: Array<ShopifyqlColumn> = q.grouping === null ? [] : [column("day", "DAY_TIMESTAMP", "Day")]
  for (const name of q.metrics) {
    const meta = META.get(name)
    if (meta !== undefined) columns.push(column(name, meta.dataType, meta.displayName))
  }
  const row = (figures: SalesFigures, day: number | null): Record<string, string | number> => {
    const r: Record<string, string | number> = day === null ? {} : { day: isoDay(day) }
    for (const name of q.metrics)
      r[name] = META.get(name)?.dataType === "MONEY" ? restAmount(figures[name], currency) : figures[name]
    return r
  }
  let rows: Array<Record<string, string | number>>
  if (q.grouping === null) {
    const totals = zeroFigures()
    for (const d of days.values()) for (const name of q.metrics) totals[name] += d.figures[name]
    rows = [row(totals, null)]
  } else {
    rows = []
    for (let day = q.since; day <= q.until; day++) {
      const d = days.get(day)
      if (d !== undefined) rows.push(row(d.figures, day))
      else if (q.grouping === "timeseries") rows.push(row(zeroFigures(), day))
    }
    if (q.descending) rows.reverse()
  }
  return {
    __typename: "ShopifyqlQueryResponse",
    parseErrors: [],
    tableData: { __typename: "ShopifyqlTableData", columns, rows }
  }
}
