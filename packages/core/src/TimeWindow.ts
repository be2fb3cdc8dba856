/**
 * Splitting time ranges into windows for backfills and incremental syncs: each window is a
 * half-open [start, end) range, so consecutive windows neither overlap (duplicates) nor leave
 * gaps (lost records), and each can be checkpointed on its own.
 */
import { Duration } from "effect"
import { addDays, businessDate, businessDayRange, type CutoverOptions } from "./TimeZone.js"

/** A half-open range of instants (epoch ms): start inclusive, end exclusive. */
export interface TimeWindow {
  readonly start: number
  readonly end: number
}

const toMillis = (instant: number | Date | string, what: string): number => {
  const ms =
    typeof instant === "number"
      ? instant
      : typeof instant === "string"
        ? Date.parse(instant)
        : instant.getTime()
  if (!Number.isFinite(ms))
    throw new RangeError(`${what} is not a valid instant: ${JSON.stringify(String(instant))}`)
  return ms
}

/**
 * Splits [start, end) into consecutive windows of `size` (the last may be shorter). With
 * `align: true` window edges fall on multiples of `size` since the epoch (stable across runs).
 */
export const splitWindows = (
  start: number | Date | string,
  end: number | Date | string,
  size: Duration.Input,
  options: { readonly align?: boolean | undefined } = {}
): ReadonlyArray<TimeWindow> => {
  const from = toMillis(start, "start")
  const to = toMillis(end, "end")
  const step = Duration.toMillis(Duration.fromInputUnsafe(size))
  if (!(step > 0)) throw new RangeError(`window size must be > 0, got ${String(size)}`)
  if (to < from) throw new RangeError(`end ${isoUtc(to)} is before start ${isoUtc(from)}`)
  const windows: Array<TimeWindow> = []
  let cursor = from
  while (cursor < to) {
    const next = options.align ? (Math.floor(cursor / step) + 1) * step : cursor + step
    windows.push({ start: cursor, end: Math.min(next, to) })
    cursor = Math.min(next, to)
  }
  return windows
}

/** One window per business day in `zone` (with an optional cutover hour) covering [start, end). */
export const splitBusinessDays = (
  start: number | Date | string,
  end: number | Date | string,
  zone: string,
  options: CutoverOptions = {}
): ReadonlyArray<TimeWindow & { readonly date: string }> => {
  const from = toMillis(start, "start")
  const to = toMillis(end, "end")
  if (to < from) throw new RangeError(`end ${isoUtc(to)} is before start ${isoUtc(from)}`)
  const out: Array<TimeWindow & { readonly date: string }> = []
  let date = businessDate(from, zone, options)
  for (;;) {
    const range = businessDayRange(date, zone, options)
    if (range.start >= to) break
    out.push({ date, start: Math.max(range.start, from), end: Math.min(range.end, to) })
    date = addDays(date, 1)
  }
  return out
}

/** ISO-8601 UTC (`2026-01-01T00:00:00Z`, or with `.sssZ` when `millis` is set). */
export const isoUtc = (
  instant: number | Date,
  options: { readonly millis?: boolean | undefined } = {}
): string => {
  const iso = new Date(typeof instant === "number" ? instant : instant.getTime()).toISOString()
  return options.millis ? iso : `${iso.slice(0, 19)}Z`
}

/** Renders a window as `[start, end)` in ISO UTC, for logs and checkpoint metadata. */
export const formatWindow = (window: TimeWindow): string => `[${isoUtc(window.start)}, ${isoUtc(window.end)})`
