/**
 * The store's time zone, used to read Stocky timestamps that carry no offset (the purchase-item
 * `updated_at` is "DD/MM/YYYY HH:MM"). Defaults to UTC; set it to the store's IANA zone.
 */
import { Context, DateTime, Effect, Layer } from "effect"
import { InvalidConfig, StockyError } from "./StockyError.js"

/** The zone in which offset-less Stocky timestamps are read. Default: UTC. */
export const StockyTimeZone = Context.Reference<DateTime.TimeZone>("@kura/stocky-client/StockyTimeZone", {
  defaultValue: () => DateTime.zoneMakeNamedUnsafe("UTC")
})

/**
 * A layer setting the store's zone from an IANA name ("Asia/Tokyo"); fails with a clear message
 * when the name is not a known zone.
 */
export const layerStockyTimeZone = (zoneId: string): Layer.Layer<never, StockyError> =>
  Layer.effect(
    StockyTimeZone,
    DateTime.zoneMakeNamedEffect(zoneId).pipe(
      Effect.mapError(
        () =>
          new StockyError({
            reason: new InvalidConfig({
              field: "timeZone",
              detail: `expected an IANA time zone such as "Asia/Tokyo", got ${JSON.stringify(zoneId)}`
            })
          })
      )
    )
  )
