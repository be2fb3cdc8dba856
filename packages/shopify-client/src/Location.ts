/**
 * Locations (warehouses, shops) that hold stock.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

const S = Schema.NullOr(Schema.String)

/**
 * A location.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Location = Schema.Struct({
  id: Schema.String,
  legacyResourceId: Schema.String,
  name: Schema.String,
  isActive: Schema.Boolean,
  fulfillsOnlineOrders: Schema.Boolean,
  hasActiveInventory: Schema.Boolean,
  shipsInventory: Schema.Boolean,
  createdAt: Schema.String,
  updatedAt: Schema.String,
  deactivatedAt: S,
  address: Schema.Struct({
    address1: S,
    address2: S,
    city: S,
    province: S,
    provinceCode: S,
    zip: S,
    country: S,
    countryCode: S,
    phone: S
  })
})

/**
 * The decoded type of {@link Location}.
 *
 * @since 0.1.0
 * @category models
 */
export type Location = typeof Location.Type
