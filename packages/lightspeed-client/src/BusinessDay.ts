/**
 * Business days, cursors and time windows. A K-Series business day runs from one cutover to the
 * next (e.g. 05:00 to 05:00 local, reported as `nextStartOfDayAsIso8601`), not midnight to
 * midnight, and it is final only once the API says `dataComplete`. These helpers are pure so the
 * sync runner and the backfill share one definition of "which day comes next".
 */

import { splitWindows as splitCoreWindows } from "@kura/core"
import { DateTime, Option } from "effect"
import type { FinancialsApi } from "./LightspeedConfig.js"
import type { Sale } from "./Sale.js"

/** One business day of one location, as read from `dailyFinancials` (V1) or `sales-daily` (V2). */
export interface BusinessDay {
  readonly businessLocationId: string
  /** Business date, YYYY-MM-DD. */
  readonly date: string
  /** Which Financial API produced it (they attribute back-office edits differently). */
  readonly api: FinancialsApi
  readonly sales: ReadonlyArray<Sale>
  /** The API's `dataComplete` flag as sent (false when absent). */
  readonly dataComplete: boolean
  /** Start of the next business day with the merchant's offset, when sent. */
  readonly nextStartOfDay: string | null
  /** True when this day may be checkpointed: the API said `dataComplete`. */
  readonly final: boolean
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/

/** True for a real calendar date in YYYY-MM-DD form. */
export const isIsoDate = (value: string): boolean => {
  const match = DATE.exec(value)
  if (!match) return false
  const d = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])))
  return d.toISOString().slice(0, 10) === value
}

/** Adds `days` (may be negative) to a YYYY-MM-DD date. */
export const addDays = (date: string, days: number): string => {
  const match = DATE.exec(date)
  if (!match) throw new RangeError(`date must be YYYY-MM-DD, got ${JSON.stringify(date)}`)
  const t = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) + days * 86_400_000
  return new Date(t).toISOString().slice(0, 10)
}

/** Every date from `from` to `to`, both inclusive (empty when `to` < `from`). */
export const datesBetween = (from: string, to: string): ReadonlyArray<string> => {
  const out: Array<string> = []
  for (let d = from; d <= to; d = addDays(d, 1)) out.push(d)
  return out
}

/**
 * The next cursor day after reading `days` (ascending, starting at the current cursor): the first
 * day that is not final. Days after a non-final day are re-read next run even if they were final,
 * because a checkpoint is one position and must never skip an unfinished day.
 * Returns `cursor` unchanged when `days` is empty.
 */
export const nextCursorDay = (
  cursor: string,
  days: ReadonlyArray<Pick<BusinessDay, "date" | "final">>
): string => {
  let next = cursor
  for (const day of [...days].sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0))) {
    if (day.date < next) continue
    if (day.date !== next || !day.final) break
    next = addDays(next, 1)
  }
  return next
}

/** Hour and minute of the local cutover, read from a `nextStartOfDayAsIso8601` value ("…T05:30:00-05:00" → 5:30). */
export const cutoverOf = (
  nextStartOfDay: string
): { readonly hour: number; readonly minute: number } | null => {
  const match = /T(\d{2}):(\d{2})/.exec(nextStartOfDay)
  return match ? { hour: Number(match[1]), minute: Number(match[2]) } : null
}

/** Local wall-clock parts of instant `t` in an IANA zone. */
const localParts = (t: number, timeZone: string) => {
  const zoned = DateTime.makeZoned(t, { timeZone })
  if (Option.isNone(zoned)) throw new RangeError(`unknown IANA time zone ${JSON.stringify(timeZone)}`)
  return DateTime.toParts(zoned.value)
}

/**
 * The business date containing instant `now` at a location: its local date, minus one day while
 * the local time is before the cutover (at 03:00 with a 05:00 cutover it is still yesterday).
 */
export const businessDateAt = (
  now: number,
  timeZone: string,
  cutover: { readonly hour: number; readonly minute: number } = { hour: 0, minute: 0 }
): string => {
  const parts = localParts(now, timeZone)
  const date = `${String(parts.year).padStart(4, "0")}-${String(parts.month).padStart(2, "0")}-${String(parts.day).padStart(2, "0")}`
  const beforeCutover = parts.hour * 60 + parts.minute < cutover.hour * 60 + cutover.minute
  return beforeCutover ? addDays(date, -1) : date
}

/**
 * The instant a business date starts at a location, as ISO-8601 with the local offset
 * (`2024-03-01T05:00:00+09:00`), which is what `financials/{from}/{to}` accepts.
 */
export const businessDayStart = (
  date: string,
  timeZone: string,
  cutover: { readonly hour: number; readonly minute: number } = { hour: 0, minute: 0 }
): string => {
  const match = DATE.exec(date)
  if (!match) throw new RangeError(`date must be YYYY-MM-DD, got ${JSON.stringify(date)}`)
  const zoned = DateTime.makeZoned(
    {
      year: Number(match[1]),
      month: Number(match[2]),
      day: Number(match[3]),
      hour: cutover.hour,
      minute: cutover.minute,
      second: 0
    },
    { timeZone, adjustForTimeZone: true }
  )
  if (Option.isNone(zoned)) throw new RangeError(`unknown IANA time zone ${JSON.stringify(timeZone)}`)
  return DateTime.formatIsoOffset(zoned.value).replace(/\.000(?=[+-]|Z)/, "")
}

/** A half-open UTC time window [from, to) in epoch ms. */
export interface TimeWindow {
  readonly from: number
  readonly to: number
}

/**
 * Splits [from, to) into consecutive windows of at most `maxDays` days (K-Series rejects ranges
 * over 365 days). The windows tile the range exactly: no gap, no overlap.
 */
export const splitWindows = (from: number, to: number, maxDays = 365): ReadonlyArray<TimeWindow> => {
  if (!(maxDays > 0)) throw new RangeError(`maxDays must be > 0, got ${maxDays}`)
  // An empty (or unreadable) range has no windows; core's splitter would reject an inverted one.
  if (!(to > from)) return []
  return splitCoreWindows(from, to, maxDays * 86_400_000).map((w) => ({ from: w.start, to: w.end }))
}

/** Formats epoch ms as ISO-8601 UTC without milliseconds (`2024-03-01T00:00:00Z`). */
export const isoInstant = (t: number): string => new Date(t).toISOString().replace(/\.\d{3}Z$/, "Z")
