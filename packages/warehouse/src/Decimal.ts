/**
 * Exact decimal strings for money until core's Money type lands: parsing, adding and comparing
 * without ever going through a float. Scale is 9 digits, matching DECIMAL(38,9) / NUMERIC.
 */

const SCALE = 9
const FACTOR = 10n ** BigInt(SCALE)
const PATTERN = /^([+-])?(\d{1,29})(?:\.(\d{1,9}))?$/

/** Whether `value` is a decimal string that fits DECIMAL(38,9) exactly. */
export const isDecimal = (value: string): boolean => PATTERN.test(value)

/** Parses a decimal string into integer units of 10^-9; throws naming the value when invalid. */
export const toScaled = (value: string): bigint => {
  const m = PATTERN.exec(value)
  if (!m) throw new Error(`"${value}" is not a decimal with at most 29 integer and 9 fraction digits`)
  const whole = BigInt(m[2] ?? "0") * FACTOR + BigInt((m[3] ?? "").padEnd(SCALE, "0"))
  return m[1] === "-" ? -whole : whole
}

/** Formats scaled units back into a canonical decimal string (no trailing zeros). */
export const fromScaled = (units: bigint): string => {
  const neg = units < 0n
  const abs = neg ? -units : units
  const whole = abs / FACTOR
  const frac = (abs % FACTOR).toString().padStart(SCALE, "0").replace(/0+$/, "")
  return `${neg && abs !== 0n ? "-" : ""}${whole}${frac ? `.${frac}` : ""}`
}

/** Canonical form of a decimal string ("12.50" → "12.5"). */
export const normalizeDecimal = (value: string): string => fromScaled(toScaled(value))

/** Exact sum of decimal strings. */
export const sumDecimals = (values: Iterable<string>): string => {
  let total = 0n
  for (const v of values) total += toScaled(v)
  return fromScaled(total)
}

/** -1, 0 or 1, comparing two decimal strings exactly. */
export const compareDecimals = (a: string, b: string): -1 | 0 | 1 => {
  const x = toScaled(a)
  const y = toScaled(b)
  return x < y ? -1 : x > y ? 1 : 0
}
