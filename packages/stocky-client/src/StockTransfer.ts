/**
 * Stock transfers between Shopify locations. The endpoint is optional: later deployments answer
 * 404 (the client then yields nothing, see `StockyClient.stockTransfers`).
 */
import { Effect, Schema } from "effect"
import * as S from "./internal/scalars.js"

/** One line of a transfer. */
export const StockTransferItem = Schema.Struct({
  id: S.StockyId,
  inventory_item_id: S.NullableShopifyId,
  product_title: S.NullableText,
  variant_title: S.NullableText,
  quantity: S.Int,
  /** e.g. "received", "not_transferred". */
  status: S.NullableText,
  received_at: S.NullableTimestamp,
  updated_at: S.NullableTimestamp
})
/** A decoded transfer line. */
export type StockTransferItem = typeof StockTransferItem.Type

/** A Stocky stock transfer. Status is derivable from `sent_at` / `received_at`. */
export const StockTransfer = Schema.Struct({
  id: S.StockyId,
  /** Declared a string by the docs but sent as an integer in examples; kept as text. */
  sequential_id: S.NullableText,
  note: S.NullableText,
  transferred_by: S.NullableText,
  from_location_id: S.NullableShopifyId,
  to_location_id: S.NullableShopifyId,
  created_at: S.NullableTimestamp,
  updated_at: S.NullableTimestamp,
  sent_at: S.NullableTimestamp,
  received_at: S.NullableTimestamp,
  stock_transfer_reason: S.NullableText,
  archived: S.Bool,
  forecast_type: S.NullableText,
  restock_for: S.NullableInt,
  tracking_number: S.NullableText,
  stock_transfer_items: Schema.Array(StockTransferItem).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed([]))
  )
})
/** A decoded stock transfer. */
export type StockTransfer = typeof StockTransfer.Type
