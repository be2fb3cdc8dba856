/**
 * Stock adjustment items: one signed quantity change of one variant, joined to its adjustment by
 * `stock_adjustment_id`.
 */
import { Effect, Schema } from "effect"
import * as S from "./internal/scalars.js"

/** The variant an adjustment item changed: Stocky's id plus the Shopify ProductVariant id. */
export const StockyVariantRef = Schema.Struct({
  id: S.NullableStockyId,
  shopify_id: S.NullableShopifyId,
  title: S.NullableText,
  sku: S.TextOrEmpty,
  barcode: S.NullableText
})

/** A Stocky stock adjustment item. A negative `quantity` subtracts from available stock. */
export const StockAdjustmentItem = Schema.Struct({
  id: S.StockyId,
  stock_adjustment_id: S.StockyId,
  quantity: S.Int,
  previous_quantity: S.NullableInt,
  new_quantity: S.NullableInt,
  /** "adjusted" once performed. */
  status: S.NullableText,
  adjusted_at: S.NullableTimestamp,
  updated_at: S.NullableTimestamp,
  variant: Schema.NullOr(StockyVariantRef).pipe(Schema.withDecodingDefaultKey(Effect.succeed(null)))
})
/** A decoded stock adjustment item. */
export type StockAdjustmentItem = typeof StockAdjustmentItem.Type
