/**
 * Businesses and their business locations (`GET /f/data/businesses`). Each location carries the
 * IANA time zone that turns its local business days into UTC ranges.
 */
import { Effect, Schema } from "effect"
import { Id, optionalNullable } from "./Fields.js"

/** One business location (a shop, a café …). `blID` is the id every location-scoped call takes. */
export const BusinessLocation = Schema.Struct({
  blID: Id,
  blName: optionalNullable(Schema.String),
  /** ISO 3166 country code. */
  country: optionalNullable(Schema.String),
  /** IANA time zone, e.g. "Asia/Tokyo". */
  timezone: Schema.String
})
/** A decoded business location. */
export type BusinessLocation = typeof BusinessLocation.Type

/** A business (legal entity) with its locations and currency. */
export const Business = Schema.Struct({
  businessId: Id,
  businessName: optionalNullable(Schema.String),
  /** ISO 4217 currency of every amount at this business. */
  currencyCode: optionalNullable(Schema.String),
  businessLocations: Schema.Array(BusinessLocation).pipe(Schema.withDecodingDefault(Effect.succeed([])))
})
/** A decoded business. */
export type Business = typeof Business.Type

/** One page of `/f/data/businesses`. */
export const BusinessesPage = Schema.Struct({
  _embedded: optionalNullable(
    Schema.Struct({
      businessList: Schema.Array(Business).pipe(Schema.withDecodingDefault(Effect.succeed([])))
    })
  )
})

/** A location flattened with its business, as most callers want it. */
export interface LocationInfo {
  readonly businessId: string
  readonly businessName: string | null
  readonly currencyCode: string | null
  readonly businessLocationId: string
  readonly name: string | null
  readonly country: string | null
  readonly timezone: string
}

/** Flattens a business into one `LocationInfo` per location. */
export const locationsOf = (business: Business): ReadonlyArray<LocationInfo> =>
  business.businessLocations.map((location) => ({
    businessId: business.businessId,
    businessName: business.businessName ?? null,
    currencyCode: business.currencyCode ?? null,
    businessLocationId: location.blID,
    name: location.blName ?? null,
    country: location.country ?? null,
    timezone: location.timezone
  }))
