/**
 * Shopify money on the wire (`MoneyV2`, `MoneyBag`) decoded into core `Money` values: exact
 * decimals (never floats) with their ISO currency.
 *
 * @since 0.1.0
 */
import { type Decimal, DecimalFromString, DecimalSchema } from "@kura/core"
import { Schema, SchemaGetter } from "effect"

const MoneyType = Schema.Struct({ amount: DecimalSchema, currency: Schema.String })

/**
 * An exact amount in a currency: structurally core's `Money` (`{ amount: Decimal, currency }`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Money {
  readonly amount: Decimal
  readonly currency: string
}

/**
 * A `MoneyV2` (`{ amount: "19.99", currencyCode: "EUR" }`) decoded to core `Money`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ShopifyMoney: Schema.Codec<Money, { readonly amount: string; readonly currencyCode: string }> =
  Schema.Struct({ amount: DecimalFromString, currencyCode: Schema.String }).pipe(
    Schema.decodeTo(MoneyType, {
      decode: SchemaGetter.transform((m) => ({ amount: m.amount, currency: m.currencyCode })),
      encode: SchemaGetter.transform((m) => ({ amount: m.amount, currencyCode: m.currency }))
    })
  )

/**
 * A `MoneyBag`: the amount in the shop's currency and in the currency the customer saw.
 *
 * @since 0.1.0
 * @category schemas
 */
export const MoneyBag = Schema.Struct({ shopMoney: ShopifyMoney, presentmentMoney: ShopifyMoney })

/**
 * The decoded type of {@link MoneyBag}.
 *
 * @since 0.1.0
 * @category models
 */
export type MoneyBag = typeof MoneyBag.Type

/**
 * A tax line (rate as a float fraction, as Shopify sends it; the money is exact).
 *
 * @since 0.1.0
 * @category schemas
 */
export const TaxLine = Schema.Struct({
  title: Schema.String,
  rate: Schema.NullOr(Schema.Number),
  ratePercentage: Schema.NullOr(Schema.Number),
  channelLiable: Schema.NullOr(Schema.Boolean),
  priceSet: MoneyBag
})

/**
 * The decoded type of {@link TaxLine}.
 *
 * @since 0.1.0
 * @category models
 */
export type TaxLine = typeof TaxLine.Type

/**
 * A reference to another object by global id, e.g. `{ id: "gid://shopify/Customer/1" }`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Ref = Schema.Struct({ id: Schema.String })

/**
 * Extracts the numeric id of a Shopify global id (`gid://shopify/Order/123` → `123n`), or null.
 *
 * @since 0.1.0
 * @category constructors
 */
export const legacyIdOf = (gid: string): bigint | null => {
  const m = /^gid:\/\/shopify\/[A-Za-z]+\/(\d+)/.exec(gid)
  return m?.[1] === undefined ? null : BigInt(m[1])
}
