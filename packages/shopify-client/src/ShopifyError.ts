/**
 * The one error every Shopify call can fail with. Its `reason` says what went wrong in terms a
 * caller can act on (wait, fix a scope, shrink a window, re-authenticate), so callers match on
 * `reason._tag` with `Effect.catchReason` instead of parsing messages.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * Shopify refused the request for lack of budget: GraphQL `THROTTLED` (HTTP 200 or 429) or REST
 * 429. `retryAfterMs` is how long the bucket needs to refill, derived from `throttleStatus` or
 * `Retry-After` (seconds).
 *
 * @since 0.1.0
 * @category errors
 */
export class Throttled extends Schema.TaggedError<Throttled>()("Throttled", {
  retryAfterMs: Schema.Number,
  requestedCost: Schema.NullOr(Schema.Number),
  currentlyAvailable: Schema.NullOr(Schema.Number)
}) {}

/**
 * The query's requested cost is above Shopify's single-query ceiling (1000 points). Streams
 * recover by halving the page size; callers of `query` must shrink their own request.
 *
 * @since 0.1.0
 * @category errors
 */
export class MaxCostExceeded extends Schema.TaggedError<MaxCostExceeded>()("MaxCostExceeded", {
  requestedCost: Schema.NullOr(Schema.Number),
  message: Schema.String
}) {}

/**
 * The token lacks a scope. `requiredScope` names the scope to request when Shopify or the
 * context says which (e.g. `read_all_orders` for orders older than 60 days).
 *
 * @since 0.1.0
 * @category errors
 */
export class AccessDenied extends Schema.TaggedError<AccessDenied>()("AccessDenied", {
  requiredScope: Schema.NullOr(Schema.String),
  message: Schema.String
}) {}

/**
 * The credentials were rejected (401) even after one renewal, or the token grant failed.
 *
 * @since 0.1.0
 * @category errors
 */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", {
  message: Schema.String
}) {}

/**
 * GraphQL `errors` that are not throttling, cost or access problems (parse errors, internal
 * errors with a request id). Permanent unless `code` is INTERNAL_SERVER_ERROR.
 *
 * @since 0.1.0
 * @category errors
 */
export class GraphqlErrors extends Schema.TaggedError<GraphqlErrors>()("GraphqlErrors", {
  errors: Schema.Array(Schema.Struct({ message: Schema.String, code: Schema.NullOr(Schema.String) }))
}) {
  /** The first errors' messages and codes. */
  override get message(): string {
    return this.errors
      .slice(0, 3)
      .map((e) => (e.code === null ? e.message : `${e.code}: ${e.message}`))
      .join("; ")
  }
}

/**
 * A mutation answered with `userErrors` (e.g. `OPERATION_IN_PROGRESS`, `LIMIT_REACHED` for bulk).
 *
 * @since 0.1.0
 * @category errors
 */
export class UserErrors extends Schema.TaggedError<UserErrors>()("UserErrors", {
  errors: Schema.Array(
    Schema.Struct({
      field: Schema.NullOr(Schema.Array(Schema.String)),
      message: Schema.String,
      code: Schema.NullOr(Schema.String)
    })
  )
}) {
  /** The first user errors with their fields and codes. */
  override get message(): string {
    return this.errors
      .slice(0, 3)
      .map((e) => `${e.code ?? "INVALID"} ${e.field?.join(".") ?? ""}: ${e.message}`)
      .join("; ")
  }
}

/**
 * The configured API version does not have this feature (e.g. inventory purchase orders before
 * 2026-10). Fix: raise `apiVersion`.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnsupportedVersion extends Schema.TaggedError<UnsupportedVersion>()("UnsupportedVersion", {
  feature: Schema.String,
  requiredVersion: Schema.String,
  apiVersion: Schema.String
}) {}

/**
 * A bulk operation ended FAILED, CANCELED or EXPIRED and could not be recovered.
 *
 * @since 0.1.0
 * @category errors
 */
export class BulkOperationFailed extends Schema.TaggedError<BulkOperationFailed>()("BulkOperationFailed", {
  jobId: Schema.String,
  status: Schema.String,
  errorCode: Schema.NullOr(Schema.String),
  message: Schema.String
}) {}

/**
 * Data would have been lost silently: a COMPLETED bulk job without a URL but with objects, a
 * JSONL line count different from `objectCount`, or children whose parent never arrived.
 *
 * @since 0.1.0
 * @category errors
 */
export class DataLoss extends Schema.TaggedError<DataLoss>()("DataLoss", {
  jobId: Schema.NullOr(Schema.String),
  expected: Schema.NullOr(Schema.String),
  actual: Schema.NullOr(Schema.String),
  message: Schema.String
}) {}

/**
 * Shopify could not run a ShopifyQL query: its `parseErrors` (an unknown metric, bad syntax, or a
 * schema the shop's plan or API version lacks). Fix the query; retrying cannot help.
 *
 * @since 0.5.0
 * @category errors
 */
export class ShopifyqlParseErrors extends Schema.TaggedError<ShopifyqlParseErrors>()("ShopifyqlParseErrors", {
  errors: Schema.Array(Schema.String),
  query: Schema.String
}) {
  /** The first parse errors, then the query. */
  override get message(): string {
    return `${this.errors.slice(0, 3).join("; ")} (query: ${this.query})`
  }
}

/**
 * A response did not match the expected shape. `path` names the failing field.
 *
 * @since 0.1.0
 * @category errors
 */
export class Decode extends Schema.TaggedError<Decode>()("Decode", {
  message: Schema.String,
  excerpt: Schema.String
}) {}

/**
 * The HTTP exchange failed below GraphQL: transport, timeout, 5xx, 404, other 4xx. `retryable`
 * says whether waiting and retrying can help (already retried by the client when true).
 *
 * @since 0.1.0
 * @category errors
 */
export class Http extends Schema.TaggedError<Http>()("Http", {
  status: Schema.NullOr(Schema.Number),
  retryable: Schema.Boolean,
  message: Schema.String
}) {}

/**
 * A configuration value is invalid. `field` names it and `message` says how to fix it.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidConfig extends Schema.TaggedError<InvalidConfig>()("InvalidConfig", {
  field: Schema.String,
  message: Schema.String
}) {}

/**
 * The union of reasons a {@link ShopifyError} can carry.
 *
 * @since 0.1.0
 * @category errors
 */
export const ShopifyErrorReason = Schema.Union([
  Throttled,
  MaxCostExceeded,
  AccessDenied,
  Unauthorized,
  GraphqlErrors,
  UserErrors,
  UnsupportedVersion,
  BulkOperationFailed,
  DataLoss,
  ShopifyqlParseErrors,
  Decode,
  Http,
  InvalidConfig
])

/**
 * The type of {@link ShopifyErrorReason}.
 *
 * @since 0.1.0
 * @category errors
 */
export type ShopifyErrorReason = typeof ShopifyErrorReason.Type

/**
 * Every failure of this client. `operation` names the call (e.g. `orders page`,
 * `bulkOperationRunQuery`) and never contains secrets.
 *
 * @since 0.1.0
 * @category errors
 */
export class ShopifyError extends Schema.TaggedError<ShopifyError>()("ShopifyError", {
  operation: Schema.String,
  reason: ShopifyErrorReason
}) {
  /** A short human-readable summary naming the operation and the reason. */
  override get message(): string {
    const r = this.reason
    const detail = r.message === "" ? r._tag : r.message
    return `Shopify ${this.operation} failed: ${r._tag}: ${detail}`
  }

  /** Whether retrying later can succeed (throttling, transient HTTP). */
  get retryable(): boolean {
    const r = this.reason
    return r._tag === "Throttled" || (r._tag === "Http" && r.retryable)
  }
}

/**
 * Builds a {@link ShopifyError} for `operation` from a reason.
 *
 * @since 0.1.0
 * @category constructors
 */
export const shopifyError = (operation: string, reason: ShopifyErrorReason): ShopifyError =>
  new ShopifyError({ operation, reason })
