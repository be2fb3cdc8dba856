/**
 * Products with their variants (price exact; the inventory item links variants to stock).
 *
 * @since 0.1.0
 */
import { DecimalFromString } from "@kura/core"
import { Schema } from "effect"
import { Ref } from "./ShopifyMoney.js"

/**
 * A product variant.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ProductVariant = Schema.Struct({
  id: Schema.String,
  legacyResourceId: Schema.String,
  title: Schema.String,
  sku: Schema.NullOr(Schema.String),
  barcode: Schema.NullOr(Schema.String),
  /** Shop-currency price (a decimal; the currency is the shop's). */
  price: DecimalFromString,
  compareAtPrice: Schema.NullOr(DecimalFromString),
  position: Schema.Number,
  taxable: Schema.Boolean,
  inventoryQuantity: Schema.NullOr(Schema.Number),
  createdAt: Schema.String,
  updatedAt: Schema.String,
  inventoryItem: Ref
})

/**
 * The decoded type of {@link ProductVariant}.
 *
 * @since 0.1.0
 * @category models
 */
export type ProductVariant = typeof ProductVariant.Type

/**
 * A product.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Product = Schema.Struct({
  id: Schema.String,
  legacyResourceId: Schema.String,
  title: Schema.String,
  handle: Schema.String,
  productType: Schema.String,
  vendor: Schema.String,
  status: Schema.String,
  tags: Schema.Array(Schema.String),
  createdAt: Schema.String,
  updatedAt: Schema.String,
  publishedAt: Schema.NullOr(Schema.String),
  variantsCount: Schema.NullOr(Schema.Struct({ count: Schema.Number })),
  variants: Schema.Array(ProductVariant)
})

/**
 * The decoded type of {@link Product}.
 *
 * @since 0.1.0
 * @category models
 */
export type Product = typeof Product.Type
