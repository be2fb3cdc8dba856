/**
 * Shopify's search `query:` syntax: terms separated by whitespace (implicit AND) or `AND`, `OR`
 * (binds looser than AND), parentheses, `-`/`NOT` negation of a term or a group, `field:value`,
 * range comparators `:>`, `:>=`, `:<`, `:<=`, single/double quotes and a trailing `*` prefix match.
 *
 * Each connection declares the fields it filters on (`SearchFields`); the query compiles to a
 * predicate over its records. The plain terms AND-ed at the top level are also exposed
 * (`parseSearch`) so a resolver can narrow by index before filtering (orders by created_at).
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
    // A parenthesis outside quotes is its own token ("(a OR b)", "-(a OR b)").
    if (query[i] === "(" || query[i] === ")") {
      tokens.push(query[i] ?? "")
      i++
      continue
    }
    if (query[i] === "-" && query[i + 1] === "(") {
      tokens.push("-(")
      i += 2
      continue
    }
    while (i < query.length && !/\s/.test(query[i] ?? "")) {
      const ch = query[i] ?? ""
      if (ch === ")") break
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

/** A parsed query: terms combined with AND, OR and NOT. */
export type SearchExpr =
  | { readonly kind: "term"; readonly term: SearchTerm }
  | { readonly kind: "and" | "or"; readonly items: ReadonlyArray<SearchExpr> }
  | { readonly kind: "not"; readonly item: SearchExpr }

const parseTerm = (raw: string, negated: boolean): SearchTerm => {
  let token = raw
  let neg = negated
  if (token.startsWith("-") && token.length > 1) {
    neg = !neg
    token = token.slice(1)
  }
  const colon = token.indexOf(":")
  if (colon <= 0 || token[0] === "'" || token[0] === '"')
    return { field: null, op: "=", value: unquote(token), negated: neg }
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
  return { field, op, value: unquote(rest), negated: neg }
}

/** Parses a query into an expression tree; null for an empty query. */
export const parseQuery = (query: string | null | undefined): SearchExpr | null => {
  if (query === null || query === undefined || query.trim() === "") return null
  const tokens = tokenize(query)
  let pos = 0
  const fail = (why: string): never => {
    throw new SearchSyntaxError(`Invalid search query '${query}': ${why}`)
  }
  // or := and ("OR" and)* ; and := unary (("AND")? unary)* ; unary := ("NOT" | "-(")? atom
  const parseOr = (): SearchExpr => {
    const items = [parseAnd()]
    while (tokens[pos] === "OR") {
      pos++
      items.push(parseAnd())
    }
    return items.length === 1 ? (items[0] as SearchExpr) : { kind: "or", items }
  }
  const parseAnd = (): SearchExpr => {
    const items: Array<SearchExpr> = []
    while (pos < tokens.length && tokens[pos] !== ")" && tokens[pos] !== "OR") {
      if (tokens[pos] === "AND") {
        pos++
        continue
      }
      items.push(parseUnary())
    }
    if (items.length === 0) fail(`expected a term at position ${pos + 1}`)
    return items.length === 1 ? (items[0] as SearchExpr) : { kind: "and", items }
  }
  const parseUnary = (): SearchExpr => {
    const t = tokens[pos]
    if (t === "NOT") {
      pos++
      if (tokens[pos] !== "(" && tokens[pos] !== "-(" && tokens[pos] !== undefined) {
        const raw = tokens[pos++] ?? ""
        return { kind: "term", term: parseTerm(raw, true) }
      }
      return { kind: "not", item: parseUnary() }
    }
    if (t === "(" || t === "-(") {
      pos++
      const inner = parseOr()
      if (tokens[pos] !== ")") fail("missing closing parenthesis")
      pos++
      return t === "-(" ? { kind: "not", item: inner } : inner
    }
    if (t === undefined) return fail("unexpected end of query")
    pos++
    return { kind: "term", term: parseTerm(t, false) }
  }
  const expr = parseOr()
  if (pos < tokens.length) fail(`unexpected '${tokens[pos]}'`)
  return expr
}

/**
 * The plain terms AND-ed at the top level of the query: every matching record satisfies each
 * of them, so resolvers may use them to narrow (date ranges, 60-day window) before filtering.
 */
export const parseSearch = (query: string | null | undefined): ReadonlyArray<SearchTerm> => {
  const expr = parseQuery(query)
  if (expr === null) return []
  const top = expr.kind === "and" ? expr.items : [expr]
  return top.flatMap((e) => (e.kind === "term" ? [e.term] : []))
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

/** How a field's value compares: by time, as a number (ids accept gids), or as text. */
export type SearchFieldKind = "date" | "number" | "text"

/** One searchable field of a record type. */
export interface SearchField<T> {
  readonly kind: SearchFieldKind
  /** The record's value(s); a term matches when any value matches. null = no value. */
  readonly get: (record: T) => number | string | boolean | ReadonlyArray<string> | null
  /** Custom matcher for fields whose values are not plain comparisons (e.g. order `status`). */
  readonly match?: (record: T, value: string) => boolean
}

/** The fields a connection filters on, plus what a bare word (no field) searches. */
export interface SearchFields<T> {
  readonly fields: Readonly<Record<string, SearchField<T>>>
  readonly text?: (record: T) => ReadonlyArray<string>
}

/** A field the connection does not know, reported back as Shopify's search warning. */
export interface SearchWarning {
  readonly field: string
  readonly message: string
}

/** What to do with a term on a field the connection does not filter on. */
export type UnknownSearchFieldMode = "ignore" | "error"

const wildcard = (pattern: string, value: string): boolean => {
  const p = pattern.toLowerCase()
  const v = value.toLowerCase()
  return p.endsWith("*") ? v.startsWith(p.slice(0, -1)) : v === p
}

const compareNumber = (op: SearchTerm["op"], a: number, b: number): boolean => {
  switch (op) {
    case ">":
      return a > b
    case ">=":
      return a >= b
    case "<":
      return a < b
    case "<=":
      return a <= b
    default:
      return a === b
  }
}

const numericValue = (value: string): number => {
  const gid = /^gid:\/\/shopify\/[A-Za-z]+\/(\d+)/.exec(value)
  return Number(gid?.[1] ?? value)
}

const termMatcher = <T>(
  term: SearchTerm,
  spec: SearchFields<T>,
  onUnknown: (field: string) => void
): ((record: T) => boolean) | null => {
  if (term.field === null) {
    const text = spec.text
    return text === undefined
      ? null
      : (r) => text(r).some((t) => t.toLowerCase().includes(term.value.toLowerCase().replace(/\*$/, "")))
  }
  const field = spec.fields[term.field]
  if (field === undefined) {
    onUnknown(term.field)
    return null
  }
  if (field.match !== undefined) {
    const match = field.match
    return (r) => match(r, term.value)
  }
  const get = field.get
  switch (field.kind) {
    case "date": {
      const range = dateRange([{ ...term, negated: false }], term.field)
      if (/^\d{4}-\d{2}-\d{2}$/.test(term.value) && term.op === "=") {
        const from = parseDate(term.field, term.value)
        return (r) => {
          const t = get(r)
          return typeof t === "number" && t >= from && t < from + 86_400_000
        }
      }
      return (r) => {
        const t = get(r)
        return typeof t === "number" && inRange(range, t)
      }
    }
    case "number": {
      const v = numericValue(term.value)
      if (Number.isNaN(v)) return () => false
      return (r) => {
        const x = get(r)
        return typeof x === "number" && compareNumber(term.op, x, v)
      }
    }
    default:
      return (r) => {
        const x = get(r)
        if (x === null) return false
        const values =
          typeof x === "string"
            ? [x]
            : typeof x === "boolean"
              ? [String(x)]
              : typeof x === "number"
                ? [String(x)]
                : x
        return values.some((v) => wildcard(term.value, v))
      }
  }
}

/**
 * Compiles a query into a predicate over a connection's records. Terms on unknown fields are
 * dropped (Shopify ignores them and says so in `extensions.search[].warnings`) and reported
 * through `warnings`, or throw a `SearchSyntaxError` when `unknown` is "error".
 */
export const compileSearch = <T>(
  query: string | null | undefined,
  spec: SearchFields<T>,
  unknown: UnknownSearchFieldMode = "ignore",
  warnings: Array<SearchWarning> = []
): ((record: T) => boolean) => {
  const expr = parseQuery(query)
  if (expr === null) return () => true
  const onUnknown = (field: string): void => {
    if (unknown === "error") throw new SearchSyntaxError(`Invalid search field for this query: '${field}'`)
    if (!warnings.some((w) => w.field === field))
      warnings.push({ field, message: "Invalid search field for this query." })
  }
  // An ignored term is dropped from the expression (null), not read as "match all": `-foo:x`
  // must not empty the result, and `a OR foo:x` means `a`.
  type Pred = ((record: T) => boolean) | null
  const build = (e: SearchExpr): Pred => {
    switch (e.kind) {
      case "term": {
        const m = termMatcher(e.term, spec, onUnknown)
        return m === null || !e.term.negated ? m : (r) => !m(r)
      }
      case "not": {
        const m = build(e.item)
        return m === null ? null : (r) => !m(r)
      }
      case "and":
      case "or": {
        const ms = e.items.map(build).filter((m): m is (record: T) => boolean => m !== null)
        if (ms.length === 0) return null
        if (ms.length === 1) return ms[0] ?? null
        return e.kind === "and" ? (r) => ms.every((m) => m(r)) : (r) => ms.some((m) => m(r))
      }
    }
  }
  return build(expr) ?? (() => true)
}

/**
 * Whether a record whose `known` fields hold these values could match the query, whatever its
 * other fields hold: false only when the query is certainly false for it. Lets a resolver skip a
 * whole kind of record (every `create` event, say) without generating one, when the query
 * excludes it (`action:destroy OR action:delete`).
 */
export const mayMatch = (expr: SearchExpr | null, known: Readonly<Record<string, string>>): boolean => {
  // Three-valued: true, false, or undefined (depends on a field not known here).
  const value = (e: SearchExpr): boolean | undefined => {
    switch (e.kind) {
      case "term": {
        const t = e.term
        const v = t.field === null ? undefined : known[t.field]
        if (v === undefined || t.op !== "=") return undefined
        return wildcard(t.value, v) !== t.negated
      }
      case "not": {
        const x = value(e.item)
        return x === undefined ? undefined : !x
      }
      case "and": {
        let all = true
        for (const item of e.items) {
          const x = value(item)
          if (x === false) return false
          if (x === undefined) all = false
        }
        return all ? true : undefined
      }
      case "or": {
        let none = true
        for (const item of e.items) {
          const x = value(item)
          if (x === true) return true
          if (x === undefined) none = false
        }
        return none ? false : undefined
      }
    }
  }
  return expr === null || value(expr) !== false
}
