/**
 * @kura/shopify-client: a typed, cost-aware Effect client for the Shopify Admin API.
 *
 * @since 0.1.0
 */

/** The package's semantic version, stamped for User-Agent headers. */
export const VERSION = "0.1.0"

export * as BulkDownload from "./BulkDownload.js"
export * from "./BulkJsonl.js"
export * from "./Customer.js"
export * from "./InventoryItem.js"
export * from "./InventoryLevelChanges.js"
export * from "./InventoryLevelChangesBulk.js"
export * from "./InventoryPurchaseOrder.js"
export * from "./InventoryTransfer.js"
export * from "./Location.js"
export * from "./LocationSummaries.js"
export * from "./Order.js"
export * from "./Product.js"
export * from "./QueryCost.js"
export * from "./Resources.js"
export * from "./ShopifyAuth.js"
export * from "./ShopifyBulk.js"
export * from "./ShopifyClient.js"
export * from "./ShopifyConfig.js"
export * from "./ShopifyError.js"
export * from "./ShopifyEvent.js"
export * from "./ShopifyMoney.js"
export * from "./Shopifyql.js"
export * from "./ShopifyRest.js"
export * from "./ShopifyTelemetry.js"
export * from "./ShopifyWebhook.js"
export * from "./UpdatedAtWindow.js"
