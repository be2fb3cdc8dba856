/**
 * Customers (PII fields need protected customer data access; they are nullable here).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * A customer.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Customer = Schema.Struct({
  id: Schema.String,
  legacyResourceId: Schema.String,
  firstName: Schema.NullOr(Schema.String),
  lastName: Schema.NullOr(Schema.String),
  displayName: Schema.String,
  state: Schema.String,
  createdAt: Schema.String,
  updatedAt: Schema.String,
  tags: Schema.Array(Schema.String),
  verifiedEmail: Schema.Boolean,
  taxExempt: Schema.Boolean,
  defaultEmailAddress: Schema.NullOr(Schema.Struct({ emailAddress: Schema.String })),
  defaultPhoneNumber: Schema.NullOr(Schema.Struct({ phoneNumber: Schema.String }))
})

/**
 * The decoded type of {@link Customer}.
 *
 * @since 0.1.0
 * @category models
 */
export type Customer = typeof Customer.Type
