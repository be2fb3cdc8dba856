/**
 * Time arithmetic for the generated merchant. All its locations are in Asia/Tokyo, which has had a
 * fixed +09:00 offset with no daylight saving since 1951, so plain arithmetic is exact here and far
 * faster than Intl in the hot path.
 */
import { cumulativeOf, keyOf, unitOf } from "./random.js"

/** One day in ms. */
export const DAY_MS = 86_400_000
/** One hour in ms. */
export const HOUR_MS = 3_600_000
/** Asia/Tokyo offset from UTC. */
export const TOKYO_OFFSET_MS = 9 * HOUR_MS
/** The merchant's time zone. */
export const TIME_ZONE = "Asia/Tokyo"

/**
 * First instant Stocky no longer serves (the app shut down after 2026-08-31, Tokyo time). Stock
 * records created from here on live in Shopify natively.
 */
export const STOCKY_SHUTDOWN_MS = Date.UTC(2026, 8, 1) - TOKYO_OFFSET_MS

const dateCache = new Map<number, string>()

/** "YYYY-MM-DD" for a day number (days since 1970-01-01). */
export const dateOfDayNumber = (day: number): string => {
  let s = dateCache.get(day)
  if (s === undefined) {
    s = new Date(day * DAY_MS).toISOString().slice(0, 10)
    if (dateCache.size < 100_000) dateCache.set(day, s)
  }
  return s
}

/** Day number of the Tokyo calendar date of t. */
export const tokyoDayNumber = (t: number): number => Math.floor((t + TOKYO_OFFSET_MS) / DAY_MS)

/** Tokyo calendar date of t (online orders: Shopify reports by shop-local calendar day). */
export const tokyoDate = (t: number): string => dateOfDayNumber(tokyoDayNumber(t))

/** POS business date of t: the day rolls over at `cutoverHour` local, so 01:30 belongs to yesterday. */
export const businessDayNumber = (t: number, cutoverHour: number): number =>
  Math.floor((t + TOKYO_OFFSET_MS - cutoverHour * HOUR_MS) / DAY_MS)

/** POS business date string of t. */
export const businessDate = (t: number, cutoverHour: number): string =>
  dateOfDayNumber(businessDayNumber(t, cutoverHour))

/** Tokyo local hour (0..23) of t. */
export const tokyoHour = (t: number): number =>
  Math.floor(((((t + TOKYO_OFFSET_MS) % DAY_MS) + DAY_MS) % DAY_MS) / HOUR_MS)

/** Trading window per local day: 08:00 to 02:00 the next day (the café serves late). */
const WINDOW_OPEN_HOUR = 8
const HOUR_WEIGHTS: ReadonlyArray<number> = [2, 3, 5, 7, 9, 8, 6, 6, 6, 7, 8, 9, 8, 7, 5, 3, 2, 1]
const HOUR_CUM = cumulativeOf(HOUR_WEIGHTS)
const HOUR_TOTAL = HOUR_CUM[HOUR_CUM.length - 1] ?? 1

/** Share of the day's orders that fall in local hours [from, to) of the trading window. */
export const shareOfHours = (from: number, to: number): number => {
  let sum = 0
  for (let h = 0; h < HOUR_WEIGHTS.length; h++) {
    const local = (WINDOW_OPEN_HOUR + h) % 24
    if (local >= from && local < to) sum += HOUR_WEIGHTS[h] ?? 0
  }
  return sum / HOUR_TOTAL
}

/** Maps a fraction of the day's orders to ms after the window opens (busy at lunch and evening). */
const warp = (f: number): number => {
  const target = f * HOUR_TOTAL
  let h = 0
  while (h < HOUR_CUM.length - 1 && (HOUR_CUM[h] ?? 0) <= target) h++
  const before = h === 0 ? 0 : (HOUR_CUM[h - 1] ?? 0)
  const within = (target - before) / (HOUR_WEIGHTS[h] ?? 1)
  return Math.floor((h + Math.min(within, 0.999_999)) * HOUR_MS)
}

/**
 * Maps order indexes to creation times: index i belongs to one trading day (by a cumulative table of
 * daily volumes: busier weekends, a growth trend) and to a position inside that day's window. The
 * mapping is monotone, so createdAt increases with i and time ranges map to index ranges.
 */
export class OrderTimeline {
  /** Tokyo day number of the first trading day. */
  readonly firstDay: number
  /** Tokyo day number of the last trading day (its window ends before the anchor). */
  readonly lastDay: number
  readonly days: number
  /** starts[d] = first index of day d; starts[days] = total. */
  private readonly starts: Float64Array

  constructor(
    readonly total: number,
    anchor: number,
    historyDays: number,
    private readonly seed: number
  ) {
    this.lastDay = Math.floor((anchor + 7 * HOUR_MS) / DAY_MS) - 1
    this.firstDay = this.lastDay - historyDays + 1
    this.days = historyDays
    const weights: Array<number> = []
    for (let d = 0; d < historyDays; d++) {
      const dow = (this.firstDay + d + 4) % 7
      const weekday = dow === 0 || dow === 6 ? 1.35 : dow === 5 ? 1.15 : 1
      const trend = 0.8 + (0.4 * d) / Math.max(1, historyDays - 1)
      weights.push(weekday * trend)
    }
    const cum = cumulativeOf(weights)
    const sum = cum[cum.length - 1] ?? 1
    this.starts = new Float64Array(historyDays + 1)
    for (let d = 0; d < historyDays; d++) {
      this.starts[d + 1] = d + 1 === historyDays ? total : Math.floor((total * (cum[d] ?? 0)) / sum)
    }
  }

  /** First index of trading day d (0-based). */
  startOf(d: number): number {
    return this.starts[Math.max(0, Math.min(this.days, d))] ?? this.total
  }

  /** UTC ms when day d's trading window opens. */
  windowStart(d: number): number {
    return (this.firstDay + d) * DAY_MS + WINDOW_OPEN_HOUR * HOUR_MS - TOKYO_OFFSET_MS
  }

  /** The trading day (0-based) of index i. */
  dayOf(i: number): number {
    let lo = 0
    let hi = this.days - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      if ((this.starts[mid] ?? 0) <= i) lo = mid
      else hi = mid - 1
    }
    return lo
  }

  /** createdAt of index i (0 <= i < total). */
  createdAt(i: number): number {
    const d = this.dayOf(i)
    const start = this.starts[d] ?? 0
    const m = (this.starts[d + 1] ?? this.total) - start
    const u = unitOf(keyOf(this.seed, 2, i))
    return this.windowStart(d) + warp((i - start + u) / m)
  }

  /** Fraction of all orders placed in trading days [d0, d1). */
  shareOfDays(d0: number, d1: number): number {
    if (this.total === 0) return 0
    return (this.startOf(d1) - this.startOf(d0)) / this.total
  }
}
