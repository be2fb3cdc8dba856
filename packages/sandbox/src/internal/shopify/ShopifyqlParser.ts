/**
 * Parses the subset of ShopifyQL the emulator answers (`shopifyqlQuery`):
 *
 * ```
 * FROM sales
 *   SHOW <metric>[, <metric> …]
 *   [TIMESERIES day | GROUP BY day]
 *   SINCE <date> [UNTIL <date>] | DURING <named range>
 *   [ORDER BY day [ASC | DESC]]
 * ```
 *
 * Keywords and names are case-insensitive; whitespace and newlines are free. The date range and
 * the grouping may come in either order (Shopify's own documentation shows both: `SINCE last_week
 * GROUP BY day` and `TIMESERIES month SINCE -12m`). Anything outside the subset is a parse error
 * naming what is not supported, so a client never mistakes an emulator gap for an empty report.
 *
 * Dates are resolved here to shop-zone day numbers (days since 1970-01-01 in the shop's time zone)
 * against `today`, so the report never sees relative dates.
 */
import { SALES_METRICS, type SalesMetric } from "./SalesEvents.js"

/** A parsed and resolved query over the `sales` table. */
export interface SalesQuery {
  readonly metrics: ReadonlyArray<SalesMetric>
  /** `timeseries`: every day of the range (zero-filled); `group`: only days with events; null: one totals row. */
  readonly grouping: "timeseries" | "group" | null
  /** First day of the range (inclusive), a shop-zone day number. */
  readonly since: number
  /** Last day of the range (inclusive), a shop-zone day number. */
  readonly until: number
  readonly descending: boolean
}

/** The parser's answer: a query, or the one error message `parseErrors` carries. */
export type ParsedShopifyql =
  | { readonly ok: true; readonly query: SalesQuery }
  | { readonly ok: false; readonly error: string }

const DAY = 86_400_000
/** Longest range accepted, so a zero-filled TIMESERIES cannot be asked for millions of rows. */
const MAX_RANGE_DAYS = 36_600

const SUPPORTED =
  "the Kura sandbox emulates FROM sales SHOW <metrics> [TIMESERIES day | GROUP BY day] SINCE <date> [UNTIL <date>] | DURING <range> [ORDER BY day [ASC|DESC]]"

/** ShopifyQL keywords outside the subset: named in the error instead of "unexpected". */
const UNSUPPORTED_KEYWORDS = new Set([
  "WHERE",
  "COMPARE",
  "HAVING",
  "LIMIT",
  "OFFSET",
  "WITH",
  "VISUALIZE",
  "TYPE",
  "AS",
  "MATCHES"
])

const METRIC_NAMES: ReadonlySet<string> = new Set(SALES_METRICS.map((m) => m.name))

class ParseFailure extends Error {}

const fail = (message: string): never => {
  throw new ParseFailure(message)
}

/** Words and commas; a comma is its own token so `a,b` and `a , b` read alike. */
const tokenize = (query: string): Array<string> =>
  query
    .replace(/,/g, " , ")
    .split(/\s+/)
    .filter((t) => t !== "")

const dayOfIso = (iso: string): number | null => {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso)
  if (m === null) return null
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))
  // Round-trips only for a real calendar date (2026-02-30 does not).
  return new Date(ms).toISOString().slice(0, 10) === iso ? ms / DAY : null
}

/** A SINCE/UNTIL date: `YYYY-MM-DD`, `today`, `yesterday` or `-Nd`, as a day number. */
const resolveDate = (token: string | undefined, keyword: string, today: number): number => {
  if (token === undefined) return fail(`${keyword} needs a date (YYYY-MM-DD, today, yesterday or -Nd)`)
  const t = token.toLowerCase()
  if (t === "today") return today
  if (t === "yesterday") return today - 1
  const relative = /^-(\d{1,6})d$/.exec(t)
  if (relative !== null) return today - Number(relative[1])
  const absolute = dayOfIso(t)
  if (absolute !== null) return absolute
  return fail(
    `Unsupported date '${token}' after ${keyword}: the Kura sandbox accepts YYYY-MM-DD, today, yesterday or -Nd (N days ago)`
  )
}

const monthStart = (day: number, monthsBack: number): number => {
  const d = new Date(day * DAY)
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - monthsBack, 1) / DAY
}

const yearStart = (day: number, yearsBack: number): number =>
  Date.UTC(new Date(day * DAY).getUTCFullYear() - yearsBack, 0, 1) / DAY

/**
 * A DURING range. `this_month` / `this_year` run to today (no later day can hold an event);
 * week ranges are left out because which day a Shopify week starts on is not settled here.
 */
const resolveDuring = (token: string | undefined, today: number): { since: number; until: number } => {
  switch (token?.toLowerCase()) {
    case "today":
      return { since: today, until: today }
    case "yesterday":
      return { since: today - 1, until: today - 1 }
    case "this_month":
      return { since: monthStart(today, 0), until: today }
    case "last_month":
      return { since: monthStart(today, 1), until: monthStart(today, 0) - 1 }
    case "this_year":
      return { since: yearStart(today, 0), until: today }
    case "last_year":
      return { since: yearStart(today, 1), until: yearStart(today, 0) - 1 }
    case undefined:
      return fail("DURING needs a named date range")
    default:
      return fail(
        `Unsupported date range '${token}' after DURING: the Kura sandbox accepts today, yesterday, this_month, last_month, this_year, last_year`
      )
  }
}

const parse = (query: string, today: number): SalesQuery => {
  const tokens = tokenize(query)
  let at = 0
  const peek = (): string | undefined => tokens[at]
  const next = (): string | undefined => tokens[at++]
  const keyword = (): string => (peek() ?? "").toUpperCase()

  if (keyword() !== "FROM") return fail(`Query must start with FROM <table>; ${SUPPORTED}`)
  next()
  const table = next()
  if (table === undefined || table === ",") return fail("FROM needs a table name")
  if (table.toLowerCase() !== "sales")
    return fail(`Unknown table '${table}': the Kura sandbox emulates only the sales table`)

  if (keyword() !== "SHOW") {
    if (peek() === undefined) return fail("Missing SHOW: name at least one metric of table sales")
    if (UNSUPPORTED_KEYWORDS.has(keyword()))
      return fail(`${keyword()} is not supported by the Kura sandbox; ${SUPPORTED}`)
    return fail(`Missing SHOW after FROM sales (found '${peek()}')`)
  }
  next()
  const metrics: Array<SalesMetric> = []
  for (;;) {
    const name = next()
    if (name === undefined || name === ",") return fail("SHOW needs a metric of table sales")
    const lower = name.toLowerCase()
    if (!METRIC_NAMES.has(lower)) {
      if (/[()]/.test(name))
        return fail(`Expressions and functions ('${name}') are not supported by the Kura sandbox`)
      return fail(`Unknown metric '${name}' for table sales`)
    }
    if (metrics.includes(lower as SalesMetric)) return fail(`Metric '${lower}' is shown twice`)
    metrics.push(lower as SalesMetric)
    if (peek() !== ",") break
    next()
  }

  let grouping: SalesQuery["grouping"] = null
  let since: number | null = null
  let until: number | null = null
  let during = false
  let order: "asc" | "desc" | null = null
  const dimension = (clause: string): void => {
    const d = next()
    if (d === undefined) fail(`${clause} needs a dimension`)
    else if (d.toLowerCase() !== "day")
      fail(`${clause} ${d} is not supported by the Kura sandbox (only ${clause} day)`)
  }
  while (peek() !== undefined) {
    if (order !== null) return fail(`Unexpected '${peek()}' after ORDER BY: ORDER BY comes last`)
    const kw = keyword()
    next()
    if (kw === "TIMESERIES" || kw === "GROUP") {
      const clause = kw === "GROUP" ? "GROUP BY" : "TIMESERIES"
      if (kw === "GROUP" && keyword() !== "BY") return fail("GROUP must be followed by BY")
      if (kw === "GROUP") next()
      if (grouping !== null)
        return fail("Use one of TIMESERIES day or GROUP BY day (the Kura sandbox groups by day only)")
      dimension(clause)
      grouping = kw === "GROUP" ? "group" : "timeseries"
    } else if (kw === "SINCE") {
      if (since !== null || during) return fail("The date range is given twice")
      since = resolveDate(next(), "SINCE", today)
    } else if (kw === "UNTIL") {
      if (until !== null || during) return fail("The date range is given twice")
      until = resolveDate(next(), "UNTIL", today)
    } else if (kw === "DURING") {
      if (since !== null || until !== null || during)
        return fail("DURING cannot be combined with SINCE or UNTIL")
      const r = resolveDuring(next(), today)
      since = r.since
      until = r.until
      during = true
    } else if (kw === "ORDER") {
      if (keyword() !== "BY") return fail("ORDER must be followed by BY")
      next()
      const column = next()
      if (column === undefined) return fail("ORDER BY needs a column")
      if (column.toLowerCase() !== "day")
        return fail(`ORDER BY ${column} is not supported by the Kura sandbox (only ORDER BY day)`)
      if (grouping === null) return fail("ORDER BY day needs TIMESERIES day or GROUP BY day")
      const dir = keyword()
      if (dir === "ASC" || dir === "DESC") next()
      order = dir === "DESC" ? "desc" : "asc"
    } else if (UNSUPPORTED_KEYWORDS.has(kw)) {
      return fail(`${kw} is not supported by the Kura sandbox; ${SUPPORTED}`)
    } else {
      return fail(`Unexpected '${tokens[at - 1]}'; ${SUPPORTED}`)
    }
  }
  if (since === null) {
    return fail(
      until === null
        ? "A date range is required: SINCE <date> [UNTIL <date>] or DURING <range> (the Kura sandbox applies no default range)"
        : "UNTIL needs SINCE (the Kura sandbox applies no default start)"
    )
  }
  const end = until ?? today
  if (end < since) return fail("UNTIL is before SINCE")
  if (end - since >= MAX_RANGE_DAYS) return fail(`The date range is longer than ${MAX_RANGE_DAYS} days`)
  return { metrics, grouping, since, until: end, descending: order === "desc" }
}

/**
 * Parses `query` with relative dates resolved against `today` (a shop-zone day number). Never
 * throws for bad input: the error comes back as the message for `parseErrors`.
 */
export const parseShopifyql = (query: string, today: number): ParsedShopifyql => {
  try {
    return { ok: true, query: parse(query, today) }
  } catch (e) {
    if (e instanceof ParseFailure) return { ok: false, error: e.message }
    throw e
  }
}
