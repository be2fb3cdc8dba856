/**
 * Events, Kura's source of deletions: Shopify lists deleted records nowhere else. Events are
 * kept one year; filter with `subject_type:ORDER AND action:destroy`.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * An event (BasicEvent fields are optional: other event types lack them).
 *
 * @since 0.1.0
 * @category schemas
 */
export const ShopifyEvent = Schema.Struct({
  __typename: Schema.String,
  id: Schema.String,
  action: Schema.String,
  createdAt: Schema.String,
  message: Schema.String,
  subjectId: Schema.optional(Schema.String),
  subjectType: Schema.optional(Schema.String),
  appTitle: Schema.optional(Schema.NullOr(Schema.String)),
  attributeToApp: Schema.optional(Schema.Boolean),
  attributeToUser: Schema.optional(Schema.Boolean)
})

/**
 * The decoded type of {@link ShopifyEvent}.
 *
 * @since 0.1.0
 * @category models
 */
export type ShopifyEvent = typeof ShopifyEvent.Type

/**
 * Whether an event records a deletion.
 *
 * @since 0.1.0
 * @category accessors
 */
export const isDeletion = (event: ShopifyEvent): boolean =>
  event.action === "destroy" || event.action === "delete"
