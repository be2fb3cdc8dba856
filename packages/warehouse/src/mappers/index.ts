/** Source → canonical mappers for Shopify, Lightspeed K-Series and Stocky records. */
export * from "./InventoryCatalog.js"
export * from "./LightspeedMappers.js"
export * from "./ShopifyCatalogMappers.js"
export * from "./ShopifyDeletions.js"
export * from "./ShopifyInventoryMappers.js"
export * from "./ShopifyOrderMapper.js"
export * from "./ShopifyRestOrderMapper.js"
export * from "./StockyMappers.js"
