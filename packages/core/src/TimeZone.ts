/**
 * IANA time-zone arithmetic with `Intl` only (no tz database dependency). Retail data is
 * reported in the merchant's local days: a K-Series business day runs from 05:00 to 05:00 local
 * time, a Shopify "day" is the shop's zone. Turning those into UTC instants (and back) is where
 * reports silently drift by a day around midnight and DST; these helpers are exact at both.
 */

/** Local wall-clock fields of an instant in a zone. */
export interface LocalDateTime {
  readonly year: number
  readonly month: number
  readonly day: number
  readonly hour: number
  readonly minute: number
  readonly second: number
  readonly millisecond: number
}

const formatters = new Map<string, Intl.DateTimeFormat>()

const formatterFor = (zone: string): Intl.DateTimeFormat => {
  let formatter = formatters.get(zone)
  if (!formatter) {
    try {
      formatter = new Intl.DateTimeFormat("en-US", {
        timeZone: zone,
        hourCycle: "h23",
        year: "numeric",
        month: "2-digit",
        day: "2-digit",
        hour: "2-digit",
        minute: "2-digit",
        second: "2-digit"
      })
    } catch {
      throw new RangeError(
        `Unknown IANA time zone ${JSON.stringify(zone)}; use a name like "Asia/Tokyo" or "America/New_York"`
      )
    }
    formatters.set(zone, formatter)
  }
  return formatter
}

/** True when `zone` is an IANA zone name this runtime knows. */
export const isValidTimeZone = (zone: string): boolean => {
  try {
    formatterFor(zone)
    return true
  } catch {
    return false
  }
}

const toMillis = (instant: number | Date): number =>
  typeof instant === "number" ? instant : instant.getTime()

/** The wall-clock fields of `instant` in `zone`. */
export const localDateTime = (instant: number | Date, zone: string): LocalDateTime => {
  const ms = toMillis(instant)
  const parts: Record<string, number> = {}
  for (const part of formatterFor(zone).formatToParts(ms)) {
    if (part.type !== "literal") parts[part.type] = Number(part.value)
  }
  return {
    year: parts.year ?? Number.NaN,
    month: parts.month ?? Number.NaN,
    day: parts.day ?? Number.NaN,
    hour: parts.hour ?? Number.NaN,
    minute: parts.minute ?? Number.NaN,
    second: parts.second ?? Number.NaN,
    millisecond: ((ms % 1000) + 1000) % 1000
  }
}

const wallToUtcMillis = (t: LocalDateTime): number => {
  const d = new Date(0)
  d.setUTCFullYear(t.year, t.month - 1, t.day)
  d.setUTCHours(t.hour, t.minute, t.second, t.millisecond)
  return d.getTime()
}

/** The zone's UTC offset at `instant` in ms (e.g. +9 h for Asia/Tokyo → 32 400 000). */
export const offsetMillis = (instant: number | Date, zone: string): number => {
  const ms = toMillis(instant)
  return wallToUtcMillis(localDateTime(ms, zone)) - ms
}

const pad = (n: number, width = 2) => String(Math.abs(n)).padStart(width, "0")

/** A calendar date as `YYYY-MM-DD`. */
export const formatDate = (year: number, month: number, day: number): string =>
  `${year < 0 ? "-" : ""}${pad(year, 4)}-${pad(month)}-${pad(day)}`

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/

/** Parses `YYYY-MM-DD`; throws a RangeError naming the bad value. */
export const parseDate = (
  date: string
): { readonly year: number; readonly month: number; readonly day: number } => {
  const match = DATE.exec(date)
  const year = Number(match?.[1])
  const month = Number(match?.[2])
  const day = Number(match?.[3])
  const check = new Date(Date.UTC(year, month - 1, day))
  if (!match || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) {
    throw new RangeError(`Expected a calendar date YYYY-MM-DD, got ${JSON.stringify(date)}`)
  }
  return { year, month, day }
}

/** Whether `text` is a real calendar date written `YYYY-MM-DD` (2026-02-30 is not). */
export const isCalendarDate = (text: string): boolean => {
  try {
    parseDate(text)
    return true
  } catch {
    return false
  }
}

/** Adds `days` to a `YYYY-MM-DD` date. */
export const addDays = (date: string, days: number): string => {
  const { year, month, day } = parseDate(date)
  const d = new Date(Date.UTC(year, month - 1, day + days))
  return formatDate(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate())
}

/** The local calendar date (`YYYY-MM-DD`) of `instant` in `zone`. */
export const localDate = (instant: number | Date, zone: string): string => {
  const t = localDateTime(instant, zone)
  return formatDate(t.year, t.month, t.day)
}

/**
 * The instant a local wall-clock time happens in `zone`. In a DST gap (a time that does not
 * exist) it returns the first instant after the gap; in an overlap, the earlier of the two.
 */
export const instantOfLocal = (local: LocalDateTime, zone: string): number => {
  const wall = wallToUtcMillis(local)
  // The offset can differ between the guess and the answer across a DST change: try both.
  const candidates = new Set<number>()
  for (const probe of [
    wall - offsetMillis(wall, zone),
    wall - offsetMillis(wall - 86_400_000, zone),
    wall - offsetMillis(wall + 86_400_000, zone)
  ]) {
    candidates.add(probe)
  }
  const exact = [...candidates]
    .filter((t) => wallToUtcMillis(localDateTime(t, zone)) === wall)
    .sort((a, b) => a - b)
  if (exact[0] !== undefined) return exact[0]
  // Gap: the wall time is skipped. The answer is the transition instant, which lies between the
  // two candidates; find it by bisection on "has the offset changed yet".
  let lo = Math.min(...candidates)
  let hi = Math.max(...candidates)
  const offsetBefore = offsetMillis(lo, zone)
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2)
    if (offsetMillis(mid, zone) === offsetBefore) lo = mid
    else hi = mid
  }
  return hi
}

/** The first instant of a local calendar day in `zone` (midnight, or the first instant after a DST gap). */
export const startOfLocalDay = (date: string, zone: string): number => {
  const { year, month, day } = parseDate(date)
  return instantOfLocal({ year, month, day, hour: 0, minute: 0, second: 0, millisecond: 0 }, zone)
}

/** Options for business days that roll over at a local hour other than midnight. */
export interface CutoverOptions {
  /** Local hour the business day starts (K-Series: 5). Default 0. */
  readonly cutoverHour?: number | undefined
  /** Extra minutes after the hour (a 05:30 rollover is hour 5, minute 30). Default 0. */
  readonly cutoverMinute?: number | undefined
}

const cutoverMillis = (options: CutoverOptions) => {
  const hour = options.cutoverHour ?? 0
  const minute = options.cutoverMinute ?? 0
  if (!(hour >= 0 && hour < 24 && minute >= 0 && minute < 60)) {
    throw new RangeError(`cutover must be within a day (hour 0-23, minute 0-59), got ${hour}:${minute}`)
  }
  return (hour * 60 + minute) * 60_000
}

/**
 * The business date of an instant: its local date in `zone`, where the day starts at the
 * cutover (e.g. 03:00 local with cutover 5 belongs to the previous business date).
 */
export const businessDate = (instant: number | Date, zone: string, options: CutoverOptions = {}): string => {
  const wall = wallToUtcMillis(localDateTime(instant, zone)) - cutoverMillis(options)
  const d = new Date(wall)
  return formatDate(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate())
}

/** The half-open instant range [start, end) of a business date in `zone`. 23 or 25 hours long across DST. */
export const businessDayRange = (
  date: string,
  zone: string,
  options: CutoverOptions = {}
): { readonly start: number; readonly end: number } => {
  const offset = cutoverMillis(options)
  const at = (d: string) => {
    const { year, month, day } = parseDate(d)
    return instantOfLocal(
      {
        year,
        month,
        day,
        hour: Math.floor(offset / 3_600_000),
        minute: (offset / 60_000) % 60,
        second: 0,
        millisecond: 0
      },
      zone
    )
  }
  return { start: at(date), end: at(addDays(date, 1)) }
}

/**
 * ISO-8601 with the zone's offset, no milliseconds (e.g. `2023-07-28T05:30:00-05:00`), the form
 * Lightspeed K-Series expects for local `from`/`to`.
 */
export const formatInZone = (instant: number | Date, zone: string): string => {
  const ms = toMillis(instant)
  const t = localDateTime(ms, zone)
  const offset = Math.round(offsetMillis(ms, zone) / 60_000)
  const sign = offset < 0 ? "-" : "+"
  return `${formatDate(t.year, t.month, t.day)}T${pad(t.hour)}:${pad(t.minute)}:${pad(t.second)}${sign}${pad(Math.trunc(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`
}
