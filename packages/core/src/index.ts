/**
 * @kura/core: the shared Effect runtime for talking to retail APIs.
 */

/** The package's semantic version, stamped into User-Agent headers. */
export const VERSION = "0.0.0"

export * from "./BulkJobStore.js"
export * from "./CheckpointStore.js"
export * from "./DeadLetterSink.js"
export * from "./StoreError.js"
export * from "./TokenStore.js"
