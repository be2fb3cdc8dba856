/**
 * Wire formatting shared by the GraphQL, bulk and REST renderings: ids, money and timestamps.
 * Shopify shows the same fact differently per surface (GraphQL "19.9" UTC `Z`; REST "19.90" with
 * the shop's offset), so each surface picks its formatter here instead of improvising.
 */

/** `gid://shopify/<Type>/<id>`. */
export const gid = (type: string, id: number | string): string => `gid://shopify/${type}/${id}`

/** Parses a Shopify gid; null when the string is not one. */
export const parseGid = (
  value: string
): { readonly type: string; readonly id: number; readonly query: string } | null => {
  const match = /^gid:\/\/shopify\/([A-Za-z]+)\/(\d+)(\?.*)?$/.exec(value)
  if (match === null || match[1] === undefined || match[2] === undefined) return null
  return { type: match[1], id: Number(match[2]), query: match[3] ?? "" }
}

/** Minor-unit exponent per ISO currency (zero-decimal currencies are listed; the rest use 2). */
export const currencyExponent = (currency: string): number =>
  currency === "JPY" || currency === "KRW" || currency === "VND" || currency === "CLP" || currency === "ISK"
    ? 0
    : 2

const splitMinor = (minor: number, exponent: number): { sign: string; whole: string; frac: string } => {
  const sign = minor < 0 ? "-" : ""
  const abs = Math.abs(Math.round(minor))
  if (exponent === 0) return { sign, whole: String(abs), frac: "" }
  const unit = 10 ** exponent
  return { sign, whole: String(Math.floor(abs / unit)), frac: String(abs % unit).padStart(exponent, "0") }
}

/** GraphQL `Decimal`/`Money`: minimal form with at least one decimal ("649.0", "19.9", "19.99"). */
export const decimalAmount = (minor: number, currency: string): string => {
  const { frac, sign, whole } = splitMinor(minor, currencyExponent(currency))
  const trimmed = frac.replace(/0+$/, "")
  return `${sign}${whole}.${trimmed === "" ? "0" : trimmed}`
}

/** REST money: always two decimals ("1000.00", "19.90"). */
export const restAmount = (minor: number, currency: string): string => {
  const exponent = currencyExponent(currency)
  const { frac, sign, whole } = splitMinor(minor, exponent)
  return `${sign}${whole}.${`${frac}00`.slice(0, 2)}`
}

/** REST numeric money (refund line subtotal/total_tax are JSON numbers). */
export const restNumber = (minor: number, currency: string): number =>
  minor / 10 ** currencyExponent(currency)

/**
 * Converts a shop-currency amount to the presentment currency with a decimal-string rate, exactly
 * (BigInt, round half away from zero), so presentment figures never pick up float noise.
 */
export const toPresentment = (
  minor: number,
  shopCurrency: string,
  rate: string,
  presentmentCurrency: string
): number => {
  if (rate === "1" && shopCurrency === presentmentCurrency) return minor
  const [intPart = "0", fracPart = ""] = rate.split(".")
  const rateNum = BigInt(intPart + fracPart)
  const num = BigInt(Math.round(minor)) * rateNum * 10n ** BigInt(currencyExponent(presentmentCurrency))
  const den = 10n ** BigInt(currencyExponent(shopCurrency) + fracPart.length)
  const negative = num < 0n
  const abs = negative ? -num : num
  const q = (abs * 2n + den) / (2n * den)
  return Number(negative ? -q : q)
}

const DAY_MS = 86_400_000
let cachedDay = Number.NaN
let cachedDayPrefix = ""
const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n))

/**
 * GraphQL `DateTime`: ISO-8601 UTC without milliseconds ("2026-10-08T07:41:26Z"). Hot in bulk
 * output, so the date part is cached per day and the time is formatted arithmetically.
 */
export const isoUtc = (ms: number): string => {
  const day = Math.floor(ms / DAY_MS)
  if (day !== cachedDay) {
    const iso = new Date(day * DAY_MS).toISOString()
    // Years outside 0000–9999 use the expanded form; let Date format those whole.
    if (iso.length !== 24) return `${new Date(ms).toISOString().slice(0, -5)}Z`
    cachedDay = day
    cachedDayPrefix = iso.slice(0, 11)
  }
  const seconds = Math.floor((ms - day * DAY_MS) / 1000)
  return `${cachedDayPrefix}${pad2(Math.floor(seconds / 3600))}:${pad2(Math.floor((seconds % 3600) / 60))}:${pad2(seconds % 60)}Z`
}

const offsetFormatters = new Map<string, Intl.DateTimeFormat>()
const offsetCache = new Map<string, number>()
const HOUR = 3_600_000

/** The zone's UTC offset at `ms`, in minutes (cached per zone and hour: Intl is slow). */
export const zoneOffsetMinutes = (ms: number, timeZone: string): number => {
  const key = `${timeZone}|${Math.floor(ms / HOUR)}`
  const cached = offsetCache.get(key)
  if (cached !== undefined) return cached
  if (offsetCache.size > 100_000) offsetCache.clear()
  const minutes = computeOffset(ms, timeZone)
  offsetCache.set(key, minutes)
  return minutes
}

const computeOffset = (ms: number, timeZone: string): number => {
  let fmt = offsetFormatters.get(timeZone)
  if (fmt === undefined) {
    fmt = new Intl.DateTimeFormat("en-US", { timeZone, timeZoneName: "longOffset" })
    offsetFormatters.set(timeZone, fmt)
  }
  const name = fmt.formatToParts(ms).find((p) => p.type === "timeZoneName")?.value ?? "GMT"
  const match = /GMT([+-])(\d{2}):(\d{2})/.exec(name)
  if (match === null) return 0
  const minutes = Number(match[2]) * 60 + Number(match[3])
  return match[1] === "-" ? -minutes : minutes
}

/** REST timestamp in the shop's zone with its offset ("2026-10-08T16:41:26+09:00"). */
export const isoWithOffset = (ms: number, timeZone: string): string => {
  const offset = zoneOffsetMinutes(ms, timeZone)
  const local = new Date(ms + offset * 60_000).toISOString().slice(0, 19)
  const abs = Math.abs(offset)
  const sign = offset < 0 ? "-" : "+"
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`
}

/** Formats seconds the way Shopify writes Retry-After and float cost figures ("2.0", "0.2"). */
export const floatString = (value: number): string =>
  Number.isInteger(value) ? value.toFixed(1) : String(value)

/**
 * A `Retry-After` value in seconds ("2.0", "0.12"), rounded to milliseconds but never "0": at an
 * extreme timeScale a scaled wait can round to nothing, and a client told to wait 0 s spins.
 */
export const retryAfterSeconds = (seconds: number): string =>
  floatString(Math.max(0.001, Number(seconds.toFixed(3))))
