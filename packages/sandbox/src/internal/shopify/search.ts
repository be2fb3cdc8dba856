/**
 * Shopify's search `query:` syntax, as much as the emulator honours: whitespace or `AND` separated
 * terms, `field:value`, range comparators `:>`, `:>=`, `:<`, `:<=`, single/double quotes, `-`/`NOT`
 * negation. `OR` is rejected loudly rather than silently misread.
 */

/** One parsed term. */
export interface SearchTerm {
  readonly field: string | null
  readonly op: "=" | ">" | ">=" | "<" | "<="
  readonly value: string
  readonly negated: boolean
}

/** Thrown for syntax the emulator does not support; rendered as a GraphQL error. */
export class SearchSyntaxError extends Error {}

const tokenize = (query: string): ReadonlyArray<string> => {
  const tokens: Array<string> = []
  let i = 0
  while (i < query.length) {
    while (i < query.length && /\s/.test(query[i] ?? "")) i++
    if (i >= query.length) break
    let token = ""
    while (i < query.length && !/\s/.test(query[i] ?? "")) {
      const ch = query[i] ?? ""
      if (ch === "'" || ch === '"') {
        const end = query.indexOf(ch, i + 1)
        if (end < 0) throw new SearchSyntaxError(`Unterminated quote in query: ${query}`)
        token += query.slice(i, end + 1)
        i = end + 1
      } else {
        token += ch
        i++
      }
    }
    tokens.push(token)
  }
  return tokens
}

const unquote = (v: string): string =>
  v.length >= 2 && (v[0] === "'" || v[0] === '"') && v[v.length - 1] === v[0] ? v.slice(1, -1) : v

/** Parses a search query into AND-ed terms. */
export const parseSearch = (query: string | null | undefined): ReadonlyArray<SearchTerm> => {
  if (query === null || query === undefined || query.trim() === "") return []
  const terms: Array<SearchTerm> = []
  let negateNext = false
  for (const raw of tokenize(query)) {
    if (raw === "AND") continue
    if (raw === "OR")
      throw new SearchSyntaxError("The sandbox supports only AND-ed search terms (OR is not emulated)")
    if (raw === "NOT") {
      negateNext = true
      continue
    }
    let token = raw
    let negated = negateNext
    negateNext = false
    if (token.startsWith("-")) {
      negated = true
      token = token.slice(1)
    }
    const colon = token.indexOf(":")
    if (colon <= 0 || token[0] === "'" || token[0] === '"') {
      terms.push({ field: null, op: "=", value: unquote(token), negated })
      continue
    }
    const field = token.slice(0, colon)
    let rest = token.slice(colon + 1)
    let op: SearchTerm["op"] = "="
    for (const candidate of [">=", "<=", ">", "<"] as const) {
      if (rest.startsWith(candidate)) {
        op = candidate
        rest = rest.slice(candidate.length)
        break
      }
    }
    terms.push({ field, op, value: unquote(rest), negated })
  }
  return terms
}

/** Half-open millisecond range [from, to) on raw record times. */
export interface TimeRange {
  readonly from: number
  readonly to: number
}

const SECOND = 1000
const floorSec = (t: number): number => Math.floor(t / SECOND) * SECOND
const ceilSec = (t: number): number => Math.ceil(t / SECOND) * SECOND

/**
 * Parses a date value. Shopify compares at second precision, so a record at 26.5 s matches
 * `<= 26 s`; the returned range is therefore over raw milliseconds with that rounding applied.
 */
export const parseDate = (field: string, value: string): number => {
  const t = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value)
  if (Number.isNaN(t))
    throw new SearchSyntaxError(
      `Invalid date for ${field}: '${value}'. Use ISO-8601, e.g. '2026-01-01T00:00:00Z'`
    )
  return t
}

/** Intersects the date terms on `field` into one raw-millisecond range. */
export const dateRange = (terms: ReadonlyArray<SearchTerm>, field: string): TimeRange | null => {
  let from = Number.NEGATIVE_INFINITY
  let to = Number.POSITIVE_INFINITY
  let seen = false
  for (const term of terms) {
    if (term.field !== field || term.negated) continue
    seen = true
    const t = parseDate(field, term.value)
    switch (term.op) {
      case ">=":
        from = Math.max(from, ceilSec(t))
        break
      case ">":
        from = Math.max(from, floorSec(t) + SECOND)
        break
      case "<=":
        to = Math.min(to, floorSec(t) + SECOND)
        break
      case "<":
        to = Math.min(to, ceilSec(t))
        break
      case "=":
        from = Math.max(from, floorSec(t))
        to = Math.min(to, floorSec(t) + SECOND)
        break
    }
  }
  return seen ? { from, to } : null
}

/** Whether `t` lies in the range (null = unbounded). */
export const inRange = (range: TimeRange | null, t: number): boolean =>
  range === null || (t >= range.from && t < range.to)

/** Values of plain equality terms for `field`. */
export const termValues = (terms: ReadonlyArray<SearchTerm>, field: string): ReadonlyArray<string> =>
  terms.filter((t) => t.field === field && t.op === "=" && !t.negated).map((t) => t.value)
