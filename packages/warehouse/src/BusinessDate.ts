/**
 * Business dates: the trading day a sale belongs to, in its location's time zone, optionally
 * with a day that starts after midnight (a bar's 02:00 sale belongs to the previous day).
 */

const formatters = new Map<string, Intl.DateTimeFormat>()

/**
 * Formatting is the expensive part (microseconds per call) and a bulk load repeats the same
 * quarter-hours endlessly. Every zone's offset is a multiple of 15 minutes, so the local date is
 * constant within a UTC quarter-hour: cache by (zone, quarter-hour).
 */
const QUARTER = 900_000
const cache = new Map<string, string>()

const formatter = (timeZone: string): Intl.DateTimeFormat => {
  let f = formatters.get(timeZone)
  if (f === undefined) {
    try {
      f = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" })
    } catch {
      throw new Error(
        `unknown time zone "${timeZone}": use an IANA name such as "Asia/Tokyo" or "America/New_York"`
      )
    }
    formatters.set(timeZone, f)
  }
  return f
}

/**
 * The business date (YYYY-MM-DD) of an instant in `timeZone`. `dayStartsAt` ("HH:MM", default
 * "00:00") shifts the day boundary: with "04:00", 03:59 local time still counts as the day before.
 */
export const businessDate = (instant: string | Date, timeZone: string, dayStartsAt = "00:00"): string => {
  const ms = typeof instant === "string" ? Date.parse(instant) : instant.getTime()
  if (Number.isNaN(ms)) throw new Error(`instant ${JSON.stringify(instant)} is not an ISO-8601 timestamp`)
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(dayStartsAt)
  if (!m) throw new Error(`dayStartsAt "${dayStartsAt}" must be HH:MM (00:00-23:59)`)
  const offset = (Number(m[1]) * 60 + Number(m[2])) * 60_000
  const shifted = ms - offset
  const bucket = Math.floor(shifted / QUARTER)
  const key = `${timeZone}|${bucket}`
  const hit = cache.get(key)
  if (hit !== undefined) return hit
  if (cache.size > 50_000) cache.clear()
  // en-CA formats as YYYY-MM-DD.
  const date = formatter(timeZone).format(new Date(bucket * QUARTER))
  cache.set(key, date)
  return date
}
