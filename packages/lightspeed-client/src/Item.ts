/**
 * The items catalogue (`/items/v1/items`, offset + amount paging) and item availability
 * (`/o/op/1/itemAvailability`, page + size), the only public K-Series stock signal.
 */
import { Effect, Schema } from "effect"
import { Amount, Id, optionalNullable } from "./Fields.js"

/** A catalogue item. The SKU is what links it to Shopify variants and Stocky purchase orders. */
export const Item = Schema.Struct({
  id: Id,
  name: optionalNullable(Schema.String),
  docketName: optionalNullable(Schema.String),
  sku: optionalNullable(Schema.String),
  active: optionalNullable(Schema.Boolean),
  barcode: optionalNullable(Schema.String),
  barcodes: optionalNullable(Schema.Array(Schema.String)),
  accountingGroup: optionalNullable(
    Schema.Struct({ id: optionalNullable(Id), name: optionalNullable(Schema.String) })
  ),
  statisticGroups: optionalNullable(
    Schema.Array(
      Schema.Struct({ category: optionalNullable(Schema.String), value: optionalNullable(Schema.String) })
    )
  ),
  costPrice: optionalNullable(Amount),
  prices: optionalNullable(
    Schema.Array(Schema.Struct({ amount: Amount, name: optionalNullable(Schema.String) }))
  ),
  priceMode: optionalNullable(Schema.String),
  sharingType: optionalNullable(Schema.String),
  /** PURCHASED | PRODUCED. */
  inventorySource: optionalNullable(Schema.String),
  /** True when stock management is OFF for this item. */
  disabled: optionalNullable(Schema.Boolean),
  contentDimension: optionalNullable(Schema.String),
  contentUom: optionalNullable(Schema.String),
  contentValue: optionalNullable(Amount),
  itemType: optionalNullable(Schema.String)
})
/** A decoded item. */
export type Item = typeof Item.Type

/** Stock count of one SKU at a location. */
export const ItemAvailability = Schema.Struct({
  sku: Schema.String,
  count: Amount,
  updatedAt: optionalNullable(Schema.String)
})
/** A decoded availability record. */
export type ItemAvailability = typeof ItemAvailability.Type

/** One page of item availability. */
export const ItemAvailabilityPage = Schema.Struct({
  data: Schema.Array(ItemAvailability).pipe(Schema.withDecodingDefault(Effect.succeed([]))),
  metadata: optionalNullable(
    Schema.Struct({
      current: optionalNullable(
        Schema.Struct({ page: Schema.Number, pageSize: optionalNullable(Schema.Number) })
      ),
      total: optionalNullable(Schema.Number),
      totalPages: optionalNullable(Schema.Number),
      warnings: optionalNullable(Schema.Array(Schema.Unknown))
    })
  )
})
