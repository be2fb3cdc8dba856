/**
 * Exact decimal amounts. Retail APIs send money as strings ("649.0", "1100.00", "1.6667") or as
 * JSON numbers, and a warehouse that sums them through floats stops tying out at the cent. A
 * `Decimal` is a bigint of units plus a scale, so parsing, adding and comparing are exact, and
 * every lossy step (multiplying by a rate, converting to minor units) names its rounding mode.
 */
import { Effect, Equal, Hash, Option, Schema, SchemaGetter, SchemaIssue } from "effect"

/** How to round when a result has more digits than wanted. */
export type RoundingMode =
  /** Ties to the even neighbour (banker's rounding; the IEEE and most accounting default). */
  | "half-even"
  /** Ties away from zero (what most receipts and tax tables do). */
  | "half-up"
  /** Ties towards zero. */
  | "half-down"
  /** Towards zero (truncate). */
  | "down"
  /** Away from zero. */
  | "up"
  /** Towards −∞. */
  | "floor"
  /** Towards +∞. */
  | "ceiling"

const abs = (n: bigint) => (n < 0n ? -n : n)
const pow10 = (n: number): bigint => 10n ** BigInt(n)

/** Integer division of `n` by positive `d` with the given rounding. */
const divRound = (n: bigint, d: bigint, mode: RoundingMode): bigint => {
  const q = n / d // truncates towards zero
  const r = n % d
  if (r === 0n) return q
  const sign = n < 0n ? -1n : 1n
  const twice = abs(r) * 2n
  const awayFromZero = q + sign
  switch (mode) {
    case "down":
      return q
    case "up":
      return awayFromZero
    case "floor":
      return sign < 0n ? awayFromZero : q
    case "ceiling":
      return sign > 0n ? awayFromZero : q
    case "half-up":
      return twice >= d ? awayFromZero : q
    case "half-down":
      return twice > d ? awayFromZero : q
    case "half-even":
      if (twice > d) return awayFromZero
      if (twice < d) return q
      return q % 2n === 0n ? q : awayFromZero
  }
}

const DecimalBrand: unique symbol = Symbol.for("@kura/core/Decimal")

const DECIMAL_PATTERN = /^([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/

/**
 * An exact decimal number: `units × 10^−scale`. Immutable. Implements Effect's `Equal`/`Hash`
 * by value, so `Equal.equals(649.0, 649.00)` holds and decimals work as HashMap keys.
 */
export class Decimal implements Equal.Equal {
  /** Unscaled value. */
  readonly units: bigint
  /** Digits after the decimal point (>= 0). */
  readonly scale: number
  /** Brand shared by every copy of @kura/core, so `Decimal.is` works across ESM/CJS builds. */
  readonly [DecimalBrand] = true

  private constructor(units: bigint, scale: number) {
    this.units = units
    this.scale = scale
  }

  /** Builds from unscaled units and a scale, e.g. `Decimal.make(64900n, 2)` is 649.00. */
  static make(units: bigint, scale = 0): Decimal {
    if (!Number.isInteger(scale) || scale < 0)
      throw new RangeError(`Decimal scale must be an integer >= 0, got ${scale}`)
    return new Decimal(units, scale)
  }

  /** Zero. */
  static readonly zero: Decimal = new Decimal(0n, 0)

  /**
   * Parses a decimal string exactly: "649.0", "-3.5", "+12", ".5", "5.", "1e3", "1.25E-2", with
   * surrounding whitespace allowed. Returns `Option.none()` for anything else (commas, NaN, "").
   */
  static parse(text: string): Option.Option<Decimal> {
    const match = DECIMAL_PATTERN.exec(text.trim())
    if (!match) return Option.none()
    const [, sign, intPart = "", fracPart = "", exp] = match
    if (intPart === "" && fracPart === "") return Option.none()
    const digits = `${intPart}${fracPart}`.replace(/^0+(?=\d)/, "")
    let units = BigInt(digits === "" ? "0" : digits)
    if (sign === "-") units = -units
    let scale = fracPart.length
    if (exp !== undefined) {
      const e = Number(exp)
      if (!Number.isSafeInteger(e) || Math.abs(e) > 10_000) return Option.none()
      scale -= e
    }
    if (scale < 0) {
      units *= pow10(-scale)
      scale = 0
    }
    return Option.some(new Decimal(units, scale))
  }

  /** Like `parse` but throws a RangeError naming the bad input (for trusted literals in code). */
  static unsafeFrom(value: string | number | bigint): Decimal {
    const result = typeof value === "string" ? Decimal.parse(value) : Decimal.fromNumber(value)
    if (Option.isNone(result)) throw new RangeError(`Not a decimal number: ${JSON.stringify(String(value))}`)
    return result.value
  }

  /**
   * Converts a JSON number exactly as it was written: JavaScript prints the shortest string that
   * round-trips, so 0.1 becomes "0.1" (not 0.1000000000000000055...). NaN and ±Infinity are none.
   */
  static fromNumber(value: number | bigint): Option.Option<Decimal> {
    if (typeof value === "bigint") return Option.some(new Decimal(value, 0))
    if (!Number.isFinite(value)) return Option.none()
    return Decimal.parse(String(value))
  }

  /** Builds from integer minor units with the given exponent, e.g. `fromMinor(64900n, 2)` is 649.00. */
  static fromMinor(minorUnits: bigint | number, exponent: number): Decimal {
    const units = typeof minorUnits === "bigint" ? minorUnits : BigInt(minorUnits)
    return Decimal.make(units, exponent)
  }

  /** True for a `Decimal` instance. */
  static is(u: unknown): u is Decimal {
    return typeof u === "object" && u !== null && Reflect.get(u, DecimalBrand) === true
  }

  /** The same value at a larger scale (exact). */
  private rescale(scale: number): bigint {
    return this.units * pow10(scale - this.scale)
  }

  /** Exact sum. */
  add(that: Decimal): Decimal {
    const scale = Math.max(this.scale, that.scale)
    return new Decimal(this.rescale(scale) + that.rescale(scale), scale)
  }

  /** Exact difference. */
  sub(that: Decimal): Decimal {
    return this.add(that.negate())
  }

  /** The additive inverse. */
  negate(): Decimal {
    return new Decimal(-this.units, this.scale)
  }

  /** Absolute value. */
  abs(): Decimal {
    return this.units < 0n ? this.negate() : this
  }

  /** Exact product (the scale is the sum of the scales). */
  times(that: Decimal | bigint): Decimal {
    if (typeof that === "bigint") return new Decimal(this.units * that, this.scale)
    return new Decimal(this.units * that.units, this.scale + that.scale)
  }

  /**
   * Multiplies by an integer or a decimal (string or Decimal) and rounds to `scale` digits with
   * an explicit mode, e.g. a line total × tax rate "1.2" rounded half-up to 2 places.
   */
  multiply(factor: Decimal | string | bigint | number, scale: number, mode: RoundingMode): Decimal {
    return this.times(toDecimal(factor, "multiply factor")).round(scale, mode)
  }

  /** Divides and rounds to `scale` digits. Throws a RangeError on division by zero. */
  divide(divisor: Decimal | string | bigint | number, scale: number, mode: RoundingMode): Decimal {
    const d = toDecimal(divisor, "divisor")
    if (d.units === 0n) throw new RangeError("Decimal division by zero")
    // this / d = (this.units / 10^s1) / (d.units / 10^s2); scale the numerator so the quotient has `scale` digits.
    const shift = scale + d.scale - this.scale
    let numerator = this.units
    let denominator = d.units
    if (shift >= 0) numerator *= pow10(shift)
    else denominator *= pow10(-shift)
    if (denominator < 0n) {
      numerator = -numerator
      denominator = -denominator
    }
    return new Decimal(divRound(numerator, denominator, mode), scale)
  }

  /** Rounds (or pads) to exactly `scale` digits after the point. */
  round(scale: number, mode: RoundingMode): Decimal {
    if (!Number.isInteger(scale) || scale < 0)
      throw new RangeError(`Decimal scale must be an integer >= 0, got ${scale}`)
    if (scale >= this.scale) return new Decimal(this.rescale(scale), scale)
    return new Decimal(divRound(this.units, pow10(this.scale - scale), mode), scale)
  }

  /** The same value without trailing fractional zeros ("649.00" → "649"). */
  normalize(): Decimal {
    let units = this.units
    let scale = this.scale
    while (scale > 0 && units % 10n === 0n) {
      units /= 10n
      scale -= 1
    }
    return new Decimal(units, scale)
  }

  /** −1, 0 or 1. Compares values, so 649.0 equals 649.00. */
  compare(that: Decimal): -1 | 0 | 1 {
    const scale = Math.max(this.scale, that.scale)
    const a = this.rescale(scale)
    const b = that.rescale(scale)
    return a < b ? -1 : a > b ? 1 : 0
  }

  /** Value equality (649.0 equals 649.00). */
  equals(that: Decimal): boolean {
    return this.compare(that) === 0
  }

  /** True when zero. */
  isZero(): boolean {
    return this.units === 0n
  }

  /** True when below zero. */
  isNegative(): boolean {
    return this.units < 0n
  }

  /** Plain decimal notation keeping the scale ("649.0" stays "649.0"; never exponent notation). */
  toString(): string {
    const negative = this.units < 0n
    const digits = abs(this.units).toString()
    if (this.scale === 0) return `${negative ? "-" : ""}${digits}`
    const padded = digits.padStart(this.scale + 1, "0")
    const whole = padded.slice(0, padded.length - this.scale)
    const fraction = padded.slice(padded.length - this.scale)
    return `${negative ? "-" : ""}${whole}.${fraction}`
  }

  /** Fixed notation with `scale` digits, rounding with `mode` (default half-even). */
  toFixed(scale: number, mode: RoundingMode = "half-even"): string {
    return this.round(scale, mode).toString()
  }

  /** JSON encodes as the decimal string, so no reader turns it into a float. */
  toJSON(): string {
    return this.toString()
  }

  /** Value equality for Effect's `Equal.equals`. */
  [Equal.symbol](that: unknown): boolean {
    return Decimal.is(that) && this.equals(that)
  }

  /** Hash consistent with value equality (649.0 and 649.00 hash alike). */
  [Hash.symbol](): number {
    return Hash.string(this.normalize().toString())
  }

  /** `Decimal(649.00)` in console.log and the Node REPL. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `Decimal(${this.toString()})`
  }
}

/** Coerces a Decimal, decimal string, bigint or finite number; throws a RangeError naming `what`. */
export const toDecimal = (value: Decimal | string | bigint | number, what = "value"): Decimal => {
  if (Decimal.is(value)) return value
  const parsed = typeof value === "string" ? Decimal.parse(value) : Decimal.fromNumber(value)
  if (Option.isNone(parsed))
    throw new RangeError(`${what} is not a decimal number: ${JSON.stringify(String(value))}`)
  return parsed.value
}

/** Exact sum of many decimals (0 for none). */
export const sumDecimals = (values: Iterable<Decimal>): Decimal => {
  let total = Decimal.zero
  for (const value of values) total = total.add(value)
  return total
}

/** ISO 4217 minor-unit exponents that are not 2. */
const EXPONENTS: Readonly<Record<string, number>> = {
  BIF: 0,
  CLP: 0,
  DJF: 0,
  GNF: 0,
  ISK: 0,
  JPY: 0,
  KMF: 0,
  KRW: 0,
  PYG: 0,
  RWF: 0,
  UGX: 0,
  UYI: 0,
  VND: 0,
  VUV: 0,
  XAF: 0,
  XOF: 0,
  XPF: 0,
  BHD: 3,
  IQD: 3,
  JOD: 3,
  KWD: 3,
  LYD: 3,
  OMR: 3,
  TND: 3,
  CLF: 4,
  UYW: 4
}

/** Minor-unit exponent of an ISO 4217 currency (JPY 0, EUR 2, KWD 3; 2 when not listed). */
export const currencyExponent = (currency: string): number => {
  const code = currency.trim().toUpperCase()
  if (!/^[A-Z]{3}$/.test(code))
    throw new RangeError(`currency must be a 3-letter ISO 4217 code, got ${JSON.stringify(currency)}`)
  return EXPONENTS[code] ?? 2
}

/** An amount in a currency. */
export interface Money {
  readonly amount: Decimal
  /** Upper-case ISO 4217 code. */
  readonly currency: string
}

/** Builds a Money value; the amount may be a decimal string, number, bigint or Decimal. */
export const money = (amount: Decimal | string | number | bigint, currency: string): Money => {
  currencyExponent(currency)
  return { amount: toDecimal(amount, "amount"), currency: currency.trim().toUpperCase() }
}

/**
 * Integer minor units of an amount in its currency ("649.00" USD → 64900n, "1100" JPY → 1100n).
 * Without `rounding`, an amount with more digits than the currency allows is an error rather than
 * a silent rounding.
 */
export const toMinorUnits = (amount: Decimal, currency: string, rounding?: RoundingMode): bigint => {
  const exponent = currencyExponent(currency)
  const normal = amount.normalize()
  if (normal.scale > exponent && rounding === undefined) {
    throw new RangeError(
      `${amount.toString()} ${currency} has ${normal.scale} decimals but ${currency} has ${exponent}; pass a rounding mode`
    )
  }
  return amount.round(exponent, rounding ?? "half-even").units
}

/** Builds a Money value from integer minor units (64900n USD → 649.00 USD). */
export const fromMinorUnits = (minorUnits: bigint | number, currency: string): Money => ({
  amount: Decimal.fromMinor(minorUnits, currencyExponent(currency)),
  currency: currency.trim().toUpperCase()
})

/** Exact sum of amounts in one currency; throws a RangeError when currencies differ. */
export const sumMoney = (values: Iterable<Money>, currency: string): Money => {
  const code = currency.trim().toUpperCase()
  let total = Decimal.zero
  for (const value of values) {
    if (value.currency !== code) throw new RangeError(`cannot add ${value.currency} to ${code}`)
    total = total.add(value.amount)
  }
  return { amount: total, currency: code }
}

/**
 * Formats for people with Intl (the decimal string is passed to Intl as a string, so no float is
 * involved). Plain: `formatMoney(m)` → "649.00 USD"; localised: `formatMoney(m, "ja-JP")` → "￥1,100".
 */
export const formatMoney = (value: Money, locale?: string): string => {
  const exponent = currencyExponent(value.currency)
  const fixed = value.amount.toFixed(Math.max(exponent, value.amount.normalize().scale))
  if (locale === undefined) return `${fixed} ${value.currency}`
  const format = new Intl.NumberFormat(locale, {
    style: "currency",
    currency: value.currency,
    minimumFractionDigits: exponent,
    maximumFractionDigits: 20
  })
  // Intl accepts exact decimal strings (ECMA-402 "Intl.NumberFormat v3"); the cast-free route is `format(string)`.
  return format.format(fixed as `${number}`)
}

/** Schema of a `Decimal` value (the decoded side). */
export const DecimalSchema: Schema.declare<Decimal> = Schema.declare(Decimal.is, {
  title: "Decimal",
  description: "an exact decimal number"
})

const parseGetter = <E extends string | number>(label: string) =>
  SchemaGetter.transformEffect<Decimal, E>((input) => {
    const parsed = typeof input === "string" ? Decimal.parse(input) : Decimal.fromNumber(input)
    return Option.isSome(parsed)
      ? Effect.succeed(parsed.value)
      : Effect.fail(
          new SchemaIssue.InvalidValue({ message: `expected ${label}, got ${JSON.stringify(input)}` }, input)
        )
  })

/** Decodes a decimal string ("649.0", "-1.6667") into a `Decimal`; encodes back to its string. */
export const DecimalFromString = Schema.String.pipe(
  Schema.decodeTo(DecimalSchema, {
    decode: parseGetter<string>('a decimal string such as "649.00"'),
    encode: SchemaGetter.transform((d: Decimal) => d.toString())
  })
)

/** Decodes a JSON number or a decimal string into a `Decimal` (numbers via their shortest round-trip text). */
export const DecimalFromNumberOrString = Schema.Union([Schema.String, Schema.Finite]).pipe(
  Schema.decodeTo(DecimalSchema, {
    decode: parseGetter<string | number>("a decimal number or decimal string"),
    encode: SchemaGetter.transform((d: Decimal) => d.toString())
  })
)

/** Decodes integer minor units (number, bigint-string or integer string) with a fixed exponent into a `Decimal`. */
export const DecimalFromMinorUnits = (exponent: number) =>
  Schema.Union([Schema.String, Schema.Finite]).pipe(
    Schema.decodeTo(DecimalSchema, {
      decode: SchemaGetter.transformEffect<Decimal, string | number>((input) => {
        const text = String(input).trim()
        return /^[+-]?\d+$/.test(text)
          ? Effect.succeed(Decimal.fromMinor(BigInt(text), exponent))
          : Effect.fail(
              new SchemaIssue.InvalidValue(
                { message: `expected integer minor units, got ${JSON.stringify(input)}` },
                input
              )
            )
      }),
      encode: SchemaGetter.transform((d: Decimal) => d.round(exponent, "half-even").units.toString())
    })
  )
