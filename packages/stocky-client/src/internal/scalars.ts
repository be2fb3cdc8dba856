/**
 * Lenient scalar codecs for Stocky's wire quirks. Every one of them accepts the forms seen in the
 * API *and* in CSV exports (where every cell is a string), and fails with a message that names the
 * expected form, so a bad value is reported instead of silently coerced.
 */
import { Decimal } from "@kura/core"
import { DateTime, Effect, Option, Schema, SchemaGetter, SchemaIssue } from "effect"
import { StockyTimeZone } from "../StockyTimeZone.js"

const invalid = (input: unknown, message: string): SchemaIssue.Issue =>
  new SchemaIssue.InvalidValue({ message }, input)

const isBlank = (u: unknown): boolean =>
  u === null || u === undefined || (typeof u === "string" && u.trim() === "")

/**
 * Builds a codec from `unknown` to `T` with a parse function; encoding is identity (we only
 * decode). The decoded side is a declared guard rather than e.g. `NullOr(Int)`: the parser already
 * produced the right type, and a plain guard is several times cheaper per field than re-validating
 * through a union.
 */
const scalar = <T, R = never>(
  title: string,
  is: (u: unknown) => u is T,
  parse: (u: unknown) => Effect.Effect<T, SchemaIssue.Issue, R>
) =>
  Schema.Unknown.pipe(
    Schema.decodeTo(Schema.declare(is, { title }), {
      decode: SchemaGetter.transformEffect((u: unknown) => parse(u)),
      encode: SchemaGetter.transform((t: T): unknown => t)
    })
  )

const nullableOf = <T, R = never>(
  title: string,
  is: (u: unknown) => u is T,
  parse: (u: unknown) => Effect.Effect<T, SchemaIssue.Issue, R>
) =>
  scalar(
    `${title} | null`,
    (u: unknown): u is T | null => u === null || is(u),
    (u): Effect.Effect<T | null, SchemaIssue.Issue, R> => (isBlank(u) ? Effect.succeed(null) : parse(u))
  ).pipe(Schema.withDecodingDefaultKey(Effect.succeed(null)))

const isInt = (u: unknown): u is number => Number.isSafeInteger(u)
const isBigInt = (u: unknown): u is bigint => typeof u === "bigint"
const isString = (u: unknown): u is string => typeof u === "string"
const isBoolean = (u: unknown): u is boolean => typeof u === "boolean"
const isUtc = (u: unknown): u is DateTime.Utc => DateTime.isDateTime(u) && DateTime.isUtc(u)

const INT = /^[+-]?\d+$/

const parseSafeInt = (u: unknown, what: string, min: number): Effect.Effect<number, SchemaIssue.Issue> => {
  const n =
    typeof u === "number" ? u : typeof u === "string" && INT.test(u.trim()) ? Number(u.trim()) : Number.NaN
  return Number.isSafeInteger(n) && n >= min
    ? Effect.succeed(n)
    : Effect.fail(invalid(u, `Expected ${what} (an integer${min > 0 ? " ≥ 1" : ""} or a string of digits)`))
}

const parseStockyId = (u: unknown) => parseSafeInt(u, "a Stocky id", 1)
const parseInt_ = (u: unknown) => parseSafeInt(u, "an integer", Number.MIN_SAFE_INTEGER)

const parseShopifyId = (u: unknown): Effect.Effect<bigint, SchemaIssue.Issue> => {
  if (typeof u === "bigint" && u > 0n) return Effect.succeed(u)
  if (typeof u === "number" && Number.isSafeInteger(u) && u > 0) return Effect.succeed(BigInt(u))
  if (typeof u === "string") {
    const s = u.trim()
    const gid = /^gid:\/\/shopify\/\w+\/(\d+)$/.exec(s)
    const digits = gid?.[1] ?? (/^\d+$/.test(s) ? s : undefined)
    if (digits !== undefined && BigInt(digits) > 0n) return Effect.succeed(BigInt(digits))
  }
  return Effect.fail(
    invalid(u, "Expected a Shopify id (a positive integer, digits, or a gid://shopify/... id)")
  )
}

const parseText = (u: unknown): Effect.Effect<string, SchemaIssue.Issue> =>
  typeof u === "string"
    ? Effect.succeed(u)
    : typeof u === "number" && Number.isFinite(u)
      ? Effect.succeed(String(u))
      : Effect.fail(invalid(u, "Expected a string"))

const TRUE = new Set(["true", "1", "yes", "y", "t"])
const FALSE = new Set(["false", "0", "no", "n", "f"])
const parseBool = (u: unknown): Effect.Effect<boolean, SchemaIssue.Issue> => {
  if (typeof u === "boolean") return Effect.succeed(u)
  if (u === 0 || u === 1) return Effect.succeed(u === 1)
  if (typeof u === "string") {
    const s = u.trim().toLowerCase()
    if (TRUE.has(s)) return Effect.succeed(true)
    if (FALSE.has(s)) return Effect.succeed(false)
  }
  return Effect.fail(invalid(u, 'Expected a boolean (true/false, "true"/"false", 1/0)'))
}

const parseDecimalE = (u: unknown): Effect.Effect<Decimal, SchemaIssue.Issue> => {
  const d =
    typeof u === "string"
      ? Decimal.parse(u)
      : typeof u === "number"
        ? Decimal.fromNumber(u)
        : Option.none<Decimal>()
  return Option.isNone(d)
    ? Effect.fail(invalid(u, 'Expected a decimal number such as "49.61" (a string or a finite number)'))
    : Effect.succeed(d.value)
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/
const DMY_DATE = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i
const NAIVE = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?$/
const DMY_TIME = /^(\d{1,2})\/(\d{1,2})\/(\d{4})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?$/

const validDate = (y: number, m: number, d: number): boolean => {
  const dt = new Date(Date.UTC(y, m - 1, d))
  return dt.getUTCFullYear() === y && dt.getUTCMonth() === m - 1 && dt.getUTCDate() === d
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0")

const parseLocalDate = (u: unknown): Effect.Effect<string, SchemaIssue.Issue> => {
  if (typeof u === "string") {
    const s = u.trim()
    const iso = ISO_DATE.exec(s)
    if (iso && validDate(Number(iso[1]), Number(iso[2]), Number(iso[3]))) return Effect.succeed(s)
    const dmy = DMY_DATE.exec(s)
    if (dmy && validDate(Number(dmy[3]), Number(dmy[2]), Number(dmy[1])))
      return Effect.succeed(`${dmy[3]}-${pad(Number(dmy[2]))}-${pad(Number(dmy[1]))}`)
    // A timestamp where a date is expected: keep the calendar date as written.
    if (ISO_WITH_ZONE.test(s) || NAIVE.test(s)) return Effect.succeed(s.slice(0, 10))
  }
  return Effect.fail(invalid(u, "Expected a date as YYYY-MM-DD (or DD/MM/YYYY)"))
}

const zonedParts = (
  parts: {
    year: number
    month: number
    day: number
    hour: number
    minute: number
    second: number
    millisecond: number
  },
  u: unknown
) =>
  Effect.gen(function* () {
    if (
      !validDate(parts.year, parts.month, parts.day) ||
      parts.hour > 23 ||
      parts.minute > 59 ||
      parts.second > 59
    )
      return yield* Effect.fail(invalid(u, "Expected a real calendar date and time"))
    const zone = yield* StockyTimeZone
    // Placing a wall time in a zone goes through Intl and is slow; Stocky repeats the same
    // minute-precision values (every line of a PO), so a small bounded cache pays off.
    const key = `${DateTime.zoneToString(zone)}|${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}.${parts.millisecond}`
    const cached = zonedCache.get(key)
    if (cached !== undefined) return DateTime.makeUnsafe(cached)
    const zoned = DateTime.makeZoned(parts, {
      timeZone: zone,
      adjustForTimeZone: true,
      disambiguation: "compatible"
    })
    if (zoned._tag === "None")
      return yield* Effect.fail(invalid(u, "Could not place this local time in the store's zone"))
    const utc = DateTime.toUtc(zoned.value)
    if (zonedCache.size >= ZONED_CACHE_SIZE) zonedCache.clear()
    zonedCache.set(key, DateTime.toEpochMillis(utc))
    return utc
  })

const ZONED_CACHE_SIZE = 4096
const zonedCache = new Map<string, number>()

/**
 * Parses every timestamp form Stocky was seen to emit: ISO 8601 with an offset (the documented
 * form), ISO without an offset, and the locale form "DD/MM/YYYY HH:MM". The last two carry no zone,
 * so they are read in the store's zone from `StockyTimeZone`.
 */
const parseTimestamp = (u: unknown): Effect.Effect<DateTime.Utc, SchemaIssue.Issue, never> => {
  if (typeof u === "string") {
    const s = u.trim()
    if (ISO_WITH_ZONE.test(s)) {
      const ms = Date.parse(s.replace(" ", "T").replace(/([+-]\d{2})(\d{2})$/, "$1:$2"))
      if (Number.isFinite(ms)) return Effect.succeed(DateTime.makeUnsafe(ms))
    }
  }
  return parseLocalTimestamp(u)
}

const parseLocalTimestamp = (u: unknown): Effect.Effect<DateTime.Utc, SchemaIssue.Issue, never> =>
  Effect.gen(function* () {
    if (typeof u !== "string") return yield* Effect.fail(invalid(u, "Expected a timestamp string"))
    const s = u.trim()
    const naive = NAIVE.exec(s)
    if (naive)
      return yield* zonedParts(
        {
          year: Number(naive[1]),
          month: Number(naive[2]),
          day: Number(naive[3]),
          hour: Number(naive[4]),
          minute: Number(naive[5]),
          second: Number(naive[6] ?? 0),
          millisecond: Number((naive[7] ?? "0").padEnd(3, "0").slice(0, 3))
        },
        u
      )
    const dmy = DMY_TIME.exec(s)
    if (dmy)
      return yield* zonedParts(
        {
          year: Number(dmy[3]),
          month: Number(dmy[2]),
          day: Number(dmy[1]),
          hour: Number(dmy[4]),
          minute: Number(dmy[5]),
          second: Number(dmy[6] ?? 0),
          millisecond: 0
        },
        u
      )
    return yield* Effect.fail(
      invalid(u, 'Expected an ISO 8601 timestamp (e.g. "2021-02-05T17:55:46.000Z") or "DD/MM/YYYY HH:MM"')
    )
  })

/** A Stocky record id: an integer ≥ 1, also accepted as a string of digits ("1"). */
export const StockyId = scalar("StockyId", isInt, parseStockyId)
/** Nullable Stocky id; a missing key, null or "" decode to null. */
export const NullableStockyId = nullableOf("StockyId", isInt, parseStockyId)
/** A Shopify numeric id (location, inventory item, variant) as bigint; accepts digits and gids too. */
export const ShopifyId = scalar("ShopifyId", isBigInt, parseShopifyId)
/** Nullable Shopify id. */
export const NullableShopifyId = nullableOf("ShopifyId", isBigInt, parseShopifyId)
/** An integer (quantities may be negative). */
export const Int = scalar("Int", isInt, parseInt_)
/** Nullable integer. */
export const NullableInt = nullableOf("Int", isInt, parseInt_)
/** Text; numbers are kept as their decimal text (PO numbers may be 1000 or "1000A"). */
export const Text = scalar("Text", isString, parseText)
/** Text that defaults to "" when missing or null (e.g. `sku`, which Stocky sends as ""). */
export const TextOrEmpty = scalar("Text", isString, (u) =>
  u === null || u === undefined ? Effect.succeed("") : parseText(u)
).pipe(Schema.withDecodingDefaultKey(Effect.succeed("")))
/** Nullable text; a missing key, null or "" decode to null. */
export const NullableText = nullableOf("Text", isString, parseText)
/** Boolean, also from "true"/"false"/"1"/"0" (CSV); missing or null decode to false. */
export const Bool = scalar("Bool", isBoolean, (u) =>
  isBlank(u) ? Effect.succeed(false) : parseBool(u)
).pipe(Schema.withDecodingDefaultKey(Effect.succeed(false)))
/** Nullable exact decimal (core `Decimal`: money amounts, tax rates); never a float. */
export const NullableDecimal = nullableOf("Decimal", Decimal.is, parseDecimalE)
/** A calendar date, normalised to YYYY-MM-DD; nullable. */
export const NullableLocalDate = nullableOf("LocalDate", isString, parseLocalDate)
/** A timestamp (ISO 8601, or local "DD/MM/YYYY HH:MM" read in the store's zone). */
export const Timestamp = scalar("Timestamp", isUtc, parseTimestamp)
/** Nullable timestamp; a missing key, null or "" decode to null. */
export const NullableTimestamp = nullableOf("Timestamp", isUtc, parseTimestamp)
