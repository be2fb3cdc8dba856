/**
 * @kura/lightspeed-client: a typed Effect client for Lightspeed K-Series (Restaurant, formerly
 * iKentoo) with safe single-use refresh-token rotation.
 */

export * from "./Business.js"
export * from "./BusinessDay.js"
export * from "./Fields.js"
export * from "./Financials.js"
export * from "./Item.js"
export * from "./LightspeedAuth.js"
export * from "./LightspeedClient.js"
export * from "./LightspeedConfig.js"
export { LightspeedConfigService } from "./LightspeedConfigService.js"
export * from "./Sale.js"
export * from "./SaleTotals.js"
export * from "./seedRefreshToken.js"
export { VERSION } from "./version.js"
