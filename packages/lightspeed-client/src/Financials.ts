/**
 * Response envelopes of the Financial API: V1 `FinancialDto` (daily and date-range, HATEOAS
 * paging) and V2 (`sales` with `nextPageToken`, `sales-daily`). A business day is final only when
 * `dataComplete` is true; `nextStartOfDayAsIso8601` tells where the next business day starts
 * (the cutover, not midnight).
 */
import { Effect, Schema } from "effect"
import { Id, optionalNullable, TaxRateFromMultiplier } from "./Fields.js"
import { Sale } from "./Sale.js"

const Link = Schema.Struct({ href: Schema.String, templated: optionalNullable(Schema.Boolean) })

/** V1 `FinancialDto`: one business day (`dailyFinancials`) or one page of a range (`financials/{from}/{to}`). */
export const FinancialsV1 = Schema.Struct({
  businessName: optionalNullable(Schema.String),
  businessLocationId: optionalNullable(Id),
  /** Start of the next business day in merchant-local offset, e.g. "2023-07-28T05:30:00-05:00". */
  nextStartOfDayAsIso8601: optionalNullable(Schema.String),
  dataComplete: optionalNullable(Schema.Boolean),
  sales: Schema.Array(Sale).pipe(Schema.withDecodingDefault(Effect.succeed([]))),
  _links: optionalNullable(Schema.Struct({ self: optionalNullable(Link), nextPage: optionalNullable(Link) }))
})
/** A decoded V1 financials response. */
export type FinancialsV1 = typeof FinancialsV1.Type

/** V2 `sales?from&to`: one page sorted by `timeClosed`. */
export const SalesPageV2 = Schema.Struct({
  sales: Schema.Array(Sale).pipe(Schema.withDecodingDefault(Effect.succeed([]))),
  nextPageToken: optionalNullable(Schema.String)
})
/** A decoded V2 sales page. */
export type SalesPageV2 = typeof SalesPageV2.Type

/** V2 `sales-daily?date=`: one business day, unpaginated. */
export const SalesDailyV2 = Schema.Struct({
  sales: Schema.Array(Sale).pipe(Schema.withDecodingDefault(Effect.succeed([]))),
  nextStartOfDayAsIso8601: optionalNullable(Schema.String),
  dataComplete: optionalNullable(Schema.Boolean)
})
/** A decoded V2 daily response. */
export type SalesDailyV2 = typeof SalesDailyV2.Type

/** A tax rate from `/f/finance/{blId}/tax-rates`. */
export const TaxRateInfo = Schema.Struct({
  code: Schema.String,
  description: optionalNullable(Schema.String),
  /** Sent as a multiplier ("1.2" = 20%); decoded to multiplier and percent. */
  rate: TaxRateFromMultiplier,
  taxIncluded: optionalNullable(Schema.Boolean),
  accountingReference: optionalNullable(Schema.String)
})

/** A payment method from `/f/finance/{blId}/paymentMethods`. */
export const PaymentMethod = Schema.Struct({
  pmId: optionalNullable(Id),
  name: optionalNullable(Schema.String),
  code: optionalNullable(Schema.String),
  accountingReference: optionalNullable(Schema.String)
})
/** A decoded payment method. */
export type PaymentMethod = typeof PaymentMethod.Type
