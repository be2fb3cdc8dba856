/**
 * Wire formatting for K-Series: amounts are decimal strings, tax rates are multipliers ("1.08"),
 * times are ISO-8601 (UTC instants; business-day boundaries in the location's offset).
 */
import { DAY_MS, HOUR_MS, TOKYO_OFFSET_MS } from "../generator/calendar.js"

/** ISO 4217 minor-unit exponent for the currencies the generator uses. */
export const exponentOf = (currency: string): number => (currency === "JPY" ? 0 : 2)

/** Minor units → decimal string with `decimals` places, exactly (no floats). */
export const decimal = (minor: number, currency: string, decimals = 2): string => {
  const exp = exponentOf(currency)
  const neg = minor < 0
  const abs = Math.abs(minor)
  const unit = 10 ** exp
  const whole = Math.floor(abs / unit)
  let frac = exp === 0 ? "" : String(abs % unit).padStart(exp, "0")
  frac = frac.padEnd(decimals, "0").slice(0, Math.max(decimals, exp))
  return `${neg && abs !== 0 ? "-" : ""}${whole}${frac.length > 0 ? `.${frac}` : ""}`
}

/** "0.08" → "1.08" (K-Series rates are multipliers). */
export const multiplier = (rate: string): string => {
  const [i = "0", f = ""] = rate.split(".")
  const frac = f.padEnd(2, "0")
  return `${Number(i) + 1}.${frac}`
}

/** "0.08" → "8.00". */
export const percent = (rate: string): string => {
  const [i = "0", f = ""] = rate.split(".")
  const padded = f.padEnd(4, "0")
  return `${Number(i) * 100 + Number(padded.slice(0, 2))}.${padded.slice(2, 4)}`
}

/** ISO instant in UTC with milliseconds. */
export const iso = (t: number): string => new Date(t).toISOString()

/** Local midnight-free ISO with the Tokyo offset, e.g. "2026-11-27T05:00:00+09:00". */
export const isoTokyo = (t: number): string =>
  `${new Date(t + TOKYO_OFFSET_MS).toISOString().slice(0, 19)}+09:00`

/** UTC instant at which business date `date` (YYYY-MM-DD) starts, given the cutover hour. */
export const businessDayStart = (date: string, cutoverHour: number): number =>
  Date.parse(`${date}T00:00:00Z`) - TOKYO_OFFSET_MS + cutoverHour * HOUR_MS

/** The business date containing instant t. */
export const businessDateAt = (t: number, cutoverHour: number): string =>
  new Date(Math.floor((t + TOKYO_OFFSET_MS - cutoverHour * HOUR_MS) / DAY_MS) * DAY_MS)
    .toISOString()
    .slice(0, 10)

/** Strict YYYY-MM-DD check (a real calendar date). */
export const isDate = (s: string): boolean =>
  /^\d{4}-\d{2}-\d{2}$/.test(s) && new Date(`${s}T00:00:00Z`).toISOString().startsWith(s)

/** Parses an ISO-8601 date-time with Z or an offset; null when it is not one. */
export const parseDateTime = (s: string): number | null => {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/.test(s)) return null
  const t = Date.parse(s)
  return Number.isNaN(t) ? null : t
}
