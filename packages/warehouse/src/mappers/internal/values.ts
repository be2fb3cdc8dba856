/**
 * Small value conversions shared by the mappers: exact decimals to strings, ids, UTC instants.
 * Nothing here goes through a float.
 */
import type { Decimal } from "@kura/core"
import { DateTime } from "effect"

/** A core `Decimal` (or nothing) as the decimal string the warehouse stores. */
export const dec = (value: Decimal | null | undefined): string | null =>
  value === null || value === undefined ? null : value.toString()

/** Exact sum of decimals as a string (`"0"` for none). */
export const sumDec = (values: Iterable<Decimal | null | undefined>, zero: Decimal): string => {
  let total = zero
  for (const v of values) if (v !== null && v !== undefined) total = total.add(v)
  return total.toString()
}

/**
 * The numeric id of a Shopify global id (`gid://shopify/Order/123` → `"123"`, also with a query
 * such as `?inventory_item_id=…`); any other text is returned unchanged.
 */
export const gidToId = (gid: string): string => {
  const m = /^gid:\/\/shopify\/[A-Za-z]+\/(\d+)/.exec(gid)
  return m?.[1] ?? gid
}

/** A Shopify ref's numeric id, or null. */
export const refId = (ref: { readonly id: string } | null | undefined): string | null =>
  ref === null || ref === undefined ? null : gidToId(ref.id)

/**
 * An instant as ISO-8601 UTC (`…Z`); sources send offsets such as `+09:00`. Throws naming the
 * value when it is not a timestamp (mappers must not silently invent times).
 */
export const utc = (instant: string): string => {
  const ms = Date.parse(instant)
  if (Number.isNaN(ms)) throw new Error(`"${instant}" is not an ISO-8601 timestamp`)
  return new Date(ms).toISOString()
}

/** Like `utc`, passing null through. */
export const utcOrNull = (instant: string | null | undefined): string | null =>
  instant === null || instant === undefined ? null : utc(instant)

/** An Effect `DateTime` (Stocky's decoded timestamps) as ISO-8601 UTC. */
export const fromDateTime = (value: DateTime.DateTime | null | undefined): string | null =>
  value === null || value === undefined ? null : new Date(DateTime.toEpochMillis(value)).toISOString()

/** The later of two ISO instants (either may be null). */
export const latest = (a: string | null, b: string | null): string | null =>
  a === null ? b : b === null ? a : Date.parse(a) >= Date.parse(b) ? a : b

/** Blank text ("" or whitespace, as Stocky sends for missing SKUs) as null. */
export const nonBlank = (text: string | null | undefined): string | null =>
  text === null || text === undefined || text.trim() === "" ? null : text

/**
 * A source quantity as the integer the warehouse stores. Fractional quantities (K-Series items
 * sold by weight) are rounded half away from zero; the exact value stays in the raw lake.
 */
export const intQty = (value: Decimal | number): number => {
  const n = typeof value === "number" ? value : Number(value.toString())
  return n < 0 ? -Math.round(-n) : Math.round(n)
}

/** A Shopify tax rate (a float fraction as Shopify sends it, e.g. 0.08) as a decimal string. */
export const rateText = (rate: number | null): string | null => {
  if (rate === null || !Number.isFinite(rate)) return null
  // Shortest round-trip text of the float: exactly what Shopify sent ("0.08", not 0.0800000000000000016…).
  const text = String(rate)
  if (!/e/i.test(text)) return text
  return rate.toFixed(9).replace(/\.?0+$/, "")
}

/** The UTC calendar date (YYYY-MM-DD) of an instant: the day a snapshot belongs to. */
export const utcDay = (instant: string): string => utc(instant).slice(0, 10)
