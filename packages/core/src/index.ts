/**
 * @kura/core: the shared Effect runtime for talking to retail APIs.
 */

/** The package's semantic version, stamped into User-Agent headers. */
export const VERSION = "0.0.0"

export * from "./AdaptiveLimiter.js"
export * from "./ApiCall.js"
export * from "./ApiError.js"
export * from "./BulkJobStore.js"
export * from "./CheckpointStore.js"
export * as CloudLogFilter from "./CloudLogFilter.js"
export * from "./CloudLogger.js"
export * from "./ConfigValidation.js"
export * from "./DeadLetterSink.js"
export * from "./FileTokenStore.js"
export * from "./HttpTransport.js"
export * from "./LeakyBucket.js"
export * from "./LocalProcess.js"
export * from "./LogFormat.js"
export * from "./Money.js"
export * as Pagination from "./Pagination.js"
export { type Page, PaginationError } from "./Pagination.js"
export * from "./QueryCostBucket.js"
export * from "./Redaction.js"
export * from "./RetryAfter.js"
export * as RetryPolicy from "./RetryPolicy.js"
export * from "./StoreError.js"
export * from "./Telemetry.js"
export * from "./TimeWindow.js"
export * from "./TimeZone.js"
export * from "./TokenStore.js"
