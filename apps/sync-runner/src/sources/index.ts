/** Real-source streams (Shopify, Lightspeed K-Series, Stocky) for the sync runner. */
export * from "./Ingest.js"
export * from "./LightspeedStreams.js"
export * from "./makeSourceStreams.js"
export * from "./ShopifyStreams.js"
export * from "./SourceDeps.js"
export * from "./StockyStreams.js"
