/**
 * Field schemas shared by every K-Series record: ids that may exceed 2^53, exact decimals for
 * amounts and quantities (core `Decimal`, never floats), and tax-rate multipliers.
 */
import { Decimal, DecimalFromNumberOrString, DecimalSchema } from "@kura/core"
import { Schema, SchemaGetter } from "effect"

/**
 * A K-Series id (business, location, item, tax …). Sent as a JSON number or string; always a
 * string here because int64 ids can exceed `Number.MAX_SAFE_INTEGER` (the client quotes
 * 16+-digit integers before parsing, so they are never rounded).
 */
export const Id = Schema.Union([Schema.String, Schema.Number]).pipe(
  Schema.decodeTo(Schema.String, {
    decode: SchemaGetter.transform((value: string | number) =>
      typeof value === "number" ? value.toFixed(0) : value
    ),
    encode: SchemaGetter.transform((value: string) => value)
  })
)

/**
 * An exact amount or quantity. Lightspeed sends decimal strings (`"1100.00"`, `"1.666667"`); JSON
 * numbers are accepted too so a tenant that sends numbers does not dead-letter every sale.
 */
export const Amount = DecimalFromNumberOrString

/** A K-Series tax rate: the multiplier as sent (`1.08`) and the equivalent percent (`8`). */
export interface TaxRate {
  /** What Lightspeed sends: 1 + rate, e.g. 1.08 for 8%. */
  readonly multiplier: Decimal
  /** The same rate as a percent, e.g. 8 (exact). */
  readonly percent: Decimal
}

const HUNDRED = Decimal.unsafeFrom(100)
const ONE = Decimal.unsafeFrom(1)

/** Builds a `TaxRate` from a multiplier: 1.2 → 20 %. */
export const taxRateFromMultiplier = (multiplier: Decimal): TaxRate => ({
  multiplier,
  percent: multiplier.sub(ONE).times(100n).normalize()
})

/** Builds a `TaxRate` from a percent: 8 → multiplier 1.08. */
export const taxRateFromPercent = (percent: Decimal): TaxRate => ({
  multiplier: ONE.add(percent.divide(HUNDRED, percent.scale + 2, "half-even")).normalize(),
  percent
})

/**
 * Decodes a tax-rate multiplier (`"1.08"` or `1.08`) to both the multiplier and the percent, so no
 * caller has to remember which one a field holds. Encodes back to the multiplier string.
 */
export const TaxRateFromMultiplier = DecimalFromNumberOrString.pipe(
  Schema.decodeTo(Schema.Struct({ multiplier: DecimalSchema, percent: DecimalSchema }), {
    decode: SchemaGetter.transform((multiplier: Decimal) => taxRateFromMultiplier(multiplier)),
    encode: SchemaGetter.transform((rate: { readonly multiplier: Decimal }) => rate.multiplier)
  })
)

/** Optional and nullable: K-Series omits or nulls fields freely, and neither should fail a record. */
export const optionalNullable = <S extends Schema.Top>(schema: S) => Schema.optional(Schema.NullOr(schema))
