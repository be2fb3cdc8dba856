/**
 * @kura/stocky-client: a typed Effect client for Stocky's v2 API (while it lives) and for the
 * archives merchants exported before its 2026-08-31 shutdown. Both produce the same records.
 */

/** The package's semantic version, stamped for User-Agent headers. */
export const VERSION = "0.0.0"

export * from "./ArchiveManifest.js"
export * from "./ArchiveStorage.js"
export * from "./exportArchive.js"
export * from "./PurchaseOrder.js"
export * from "./StockAdjustment.js"
export * from "./StockAdjustmentItem.js"
export * from "./StockTransfer.js"
export * from "./StockyArchive.js"
export * from "./StockyClient.js"
export * from "./StockyConfig.js"
export * from "./StockyError.js"
export * from "./StockyResource.js"
export * from "./StockyTimeZone.js"
export * from "./Supplier.js"
export * from "./TaxType.js"
