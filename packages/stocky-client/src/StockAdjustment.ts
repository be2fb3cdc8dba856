/**
 * Stock adjustments (headers only: their items come from stock_adjustment_items, joined on
 * `stock_adjustment_id`).
 */
import { Effect, Schema } from "effect"
import * as S from "./internal/scalars.js"

/** The merchant-defined reason attached to an adjustment. */
export const StockAdjustmentReason = Schema.Struct({
  id: S.NullableStockyId,
  reason: S.NullableText
})

/** Where the adjustment happened: Stocky's location id and the Shopify Location id. */
export const StockyLocationRef = Schema.Struct({
  id: S.NullableStockyId,
  shopify_id: S.NullableShopifyId
})

/** A Stocky stock adjustment. `adjusted_at` is null until the adjustment was performed. */
export const StockAdjustment = Schema.Struct({
  id: S.StockyId,
  sequential_id: S.NullableInt,
  adjusted_at: S.NullableTimestamp,
  created_at: S.Timestamp,
  updated_at: S.Timestamp,
  archived: S.Bool,
  stock_adjustment_reason: Schema.NullOr(StockAdjustmentReason).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed(null))
  ),
  location: Schema.NullOr(StockyLocationRef).pipe(Schema.withDecodingDefaultKey(Effect.succeed(null)))
})
/** A decoded stock adjustment. */
export type StockAdjustment = typeof StockAdjustment.Type
