/**
 * ShopifyQL over the Admin API (`shopifyqlQuery`, 2025-10 and later): the numbers Shopify's own
 * Analytics shows, so a warehouse can be tied to the reports a merchant already trusts. Needs
 * the `read_reports` scope (and, per Shopify, level-2 protected customer data).
 *
 * @since 0.5.0
 */
import { addDays, type Decimal, DecimalFromNumberOrString, isCalendarDate } from "@kura/core"
import { Effect, Schema } from "effect"
import { SHOP_PING } from "./internal/documents/Bulk.js"
import { SHOPIFYQL_QUERY } from "./internal/documents/Reports.js"
import { ShopifyClient } from "./ShopifyClient.js"
import { Decode, ShopifyError, ShopifyqlParseErrors } from "./ShopifyError.js"

/**
 * A column of a ShopifyQL answer.
 *
 * @since 0.5.0
 * @category schemas
 */
export const ShopifyqlColumn = Schema.Struct({
  name: Schema.String,
  dataType: Schema.String,
  displayName: Schema.String
})

/**
 * The decoded type of {@link ShopifyqlColumn}.
 *
 * @since 0.5.0
 * @category models
 */
export type ShopifyqlColumn = typeof ShopifyqlColumn.Type

/**
 * A ShopifyQL answer: its columns, and its rows keyed by column name. Cells stay as Shopify sent
 * them (money as decimal strings); typed readers such as {@link salesByDay} decode them.
 *
 * @since 0.5.0
 * @category models
 */
export interface ShopifyqlTable {
  readonly columns: ReadonlyArray<ShopifyqlColumn>
  readonly rows: ReadonlyArray<Readonly<Record<string, unknown>>>
}

const Answer = Schema.Struct({
  shopifyqlQuery: Schema.Struct({
    parseErrors: Schema.Array(Schema.String),
    tableData: Schema.NullOr(Schema.Struct({ columns: Schema.Array(ShopifyqlColumn), rows: Schema.Unknown }))
  })
})
const decodeAnswer = Schema.decodeUnknownResult(Answer)

const isRecord = (u: unknown): u is Readonly<Record<string, unknown>> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const OPERATION = "shopifyqlQuery"

const decodeFailure = (message: string, excerpt: unknown, operation = OPERATION) =>
  new ShopifyError({
    operation,
    reason: new Decode({ message, excerpt: JSON.stringify(excerpt)?.slice(0, 300) ?? "" })
  })

/**
 * Rows keyed by column name. Shopify documents rows as objects (`{ "day": …, "total_sales": … }`);
 * `rows` is typed only as JSON, so rows sent as arrays aligned with `columns` are accepted too.
 */
const keyedRows = (columns: ReadonlyArray<ShopifyqlColumn>, rows: unknown) => {
  if (!Array.isArray(rows)) return Effect.fail(decodeFailure("tableData.rows is not a list", rows))
  const out: Array<Readonly<Record<string, unknown>>> = []
  for (const row of rows) {
    if (Array.isArray(row)) {
      if (row.length !== columns.length)
        return Effect.fail(decodeFailure(`a row has ${row.length} cells for ${columns.length} columns`, row))
      out.push(Object.fromEntries(columns.map((c, i) => [c.name, row[i]])))
    } else if (isRecord(row)) out.push(row)
    else return Effect.fail(decodeFailure("a row is neither an object nor a list", row))
  }
  return Effect.succeed(out)
}

/**
 * Runs one ShopifyQL query. A query Shopify cannot parse fails with `ShopifyqlParseErrors`
 * (its messages), never with an empty table.
 *
 * @since 0.5.0
 * @category constructors
 */
export const shopifyql = (query: string): Effect.Effect<ShopifyqlTable, ShopifyError, ShopifyClient> =>
  Effect.gen(function* () {
    const client = yield* ShopifyClient
    const answer = yield* client.query(SHOPIFYQL_QUERY, { query })
    const decoded = decodeAnswer(answer.data)
    if (decoded._tag === "Failure")
      return yield* decodeFailure(`unexpected shopifyqlQuery answer: ${decoded.failure.message}`, answer.data)
    const { parseErrors, tableData } = decoded.success.shopifyqlQuery
    if (parseErrors.length > 0 || tableData === null)
      return yield* new ShopifyError({
        operation: OPERATION,
        reason: new ShopifyqlParseErrors({
          errors: parseErrors.length > 0 ? parseErrors : ["no table data and no parse error"],
          query
        })
      })
    return { columns: tableData.columns, rows: yield* keyedRows(tableData.columns, tableData.rows) }
  })

/**
 * One day of Shopify's sales report: the orders placed that day and `total_sales` (sales minus
 * returns, with shipping and tax), in the shop's currency and time zone.
 *
 * @since 0.5.0
 * @category models
 */
export interface SalesDay {
  /** The day in the shop's time zone (YYYY-MM-DD). */
  readonly day: string
  readonly orders: number
  readonly totalSales: Decimal
}

const DAY = /^(\d{4}-\d{2}-\d{2})/
const SalesRow = Schema.Struct({
  day: Schema.String,
  orders: Schema.Union([Schema.Finite, Schema.String]),
  total_sales: DecimalFromNumberOrString
})
const decodeSalesRow = Schema.decodeUnknownResult(SalesRow)

/** The longest range asked in one query: ShopifyQL's cost grows with the range. */
const MAX_DAYS_PER_QUERY = 31

/**
 * The ShopifyQL text for one range of {@link salesByDay}: every day of the range (zero-filled by
 * `TIMESERIES`), oldest first.
 *
 * @since 0.5.0
 * @category constructors
 */
export const salesByDayQuery = (since: string, until: string): string =>
  `FROM sales SHOW orders, total_sales TIMESERIES day SINCE ${since} UNTIL ${until} ORDER BY day ASC`

/**
 * Shopify's daily sales (`FROM sales … TIMESERIES day`) for every day from `since` to `until`
 * (inclusive, YYYY-MM-DD in the shop's zone), asked a month at a time.
 *
 * @since 0.5.0
 * @category constructors
 */
export const salesByDay = (range: {
  readonly since: string
  readonly until: string
}): Effect.Effect<ReadonlyArray<SalesDay>, ShopifyError, ShopifyClient> =>
  Effect.gen(function* () {
    for (const [field, value] of Object.entries(range))
      if (!isCalendarDate(value))
        return yield* new ShopifyError({
          operation: OPERATION,
          reason: new Decode({ message: `${field} must be a date YYYY-MM-DD, got ${value}`, excerpt: "" })
        })
    if (range.since > range.until)
      return yield* new ShopifyError({
        operation: OPERATION,
        reason: new Decode({ message: `since ${range.since} is after until ${range.until}`, excerpt: "" })
      })
    const days = new Map<string, SalesDay>()
    for (let from = range.since; from <= range.until; from = addDays(from, MAX_DAYS_PER_QUERY)) {
      const last = addDays(from, MAX_DAYS_PER_QUERY - 1)
      // Dates as YYYY-MM-DD text: the earlier one sorts first.
      const to = [last, range.until].sort()[0] as string
      const table = yield* shopifyql(salesByDayQuery(from, to))
      for (const row of table.rows) {
        const r = decodeSalesRow(row)
        if (r._tag === "Failure") return yield* decodeFailure(`a sales row: ${r.failure.message}`, row)
        const day = DAY.exec(r.success.day)?.[1]
        const orders = Number(r.success.orders)
        if (day === undefined || !Number.isInteger(orders))
          return yield* decodeFailure("a sales row's day or orders is not a date or a count", row)
        if (day < from || day > to) continue
        days.set(day, { day, orders, totalSales: r.success.total_sales })
      }
    }
    return [...days.values()].sort((a, b) => (a.day < b.day ? -1 : 1))
  })

/**
 * What reading a shop's reports needs: the IANA zone its report days are in, and its currency.
 *
 * @since 0.5.0
 * @category models
 */
export interface ReportContext {
  readonly zone: string
  readonly currency: string
}

const ContextAnswer = Schema.Struct({
  shop: Schema.Struct({ ianaTimezone: Schema.String, currencyCode: Schema.String })
})
const decodeContext = Schema.decodeUnknownResult(ContextAnswer)

/**
 * The shop's report zone and currency (`shop { ianaTimezone currencyCode }`, read with the
 * client's `KuraShopPing`).
 *
 * @since 0.5.0
 * @category constructors
 */
export const reportContext: Effect.Effect<ReportContext, ShopifyError, ShopifyClient> = Effect.gen(
  function* () {
    const client = yield* ShopifyClient
    // The client's own ping already asks the shop for both.
    const answer = yield* client.query(SHOP_PING)
    const decoded = decodeContext(answer.data)
    if (decoded._tag === "Failure")
      return yield* decodeFailure(
        `unexpected shop answer: ${decoded.failure.message}`,
        answer.data,
        "KuraShopPing"
      )
    return { zone: decoded.success.shop.ianaTimezone, currency: decoded.success.shop.currencyCode }
  }
)
