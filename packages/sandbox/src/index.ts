/**
 * @kura/sandbox: local emulators of the Shopify Admin, Lightspeed K-Series and Stocky APIs over
 * one seeded, lazily generated merchant, with fault injection and a ground truth to reconcile to.
 */

/** The package's semantic version, stamped for User-Agent headers. */
export const VERSION = "0.0.0"

export { makeClock } from "./internal/clock.js"
export type {
  FaultInjector,
  FaultKind,
  FaultProfile,
  SandboxApi,
  SandboxClock,
  ShopifyPlan
} from "./internal/contracts.js"
export {
  FAULT_KINDS,
  FAULT_PROFILES,
  type FaultInjectorOptions,
  makeFaultInjector
} from "./internal/faults/FaultInjector.js"
export { defaultMerchantOptions, makeMerchant, todayUtcMidnight } from "./internal/generator/makeMerchant.js"
export type { LaterRefunds } from "./internal/lightspeed/SaleFeed.js"
export {
  type LightspeedCredentials,
  type LightspeedEmulatorHandle,
  type LightspeedEmulatorOptions,
  startLightspeedEmulator
} from "./internal/lightspeed/startLightspeedEmulator.js"
export type { GroundTruth, Merchant, MerchantOptions } from "./internal/Merchant.js"
export type * from "./internal/model.js"
export type { ShopifyEmulatorOptions } from "./internal/shopify/ShopifyEmulatorOptions.js"
export type { ShopifyCredentials } from "./internal/shopify/ShopifyState.js"
export { buildShopifySchema, locateAdminSchema } from "./internal/shopify/schema.js"
export { type ShopifyEmulatorHandle, startShopifyEmulator } from "./internal/shopify/startShopifyEmulator.js"
export { signWebhook } from "./internal/shopify/Webhooks.js"
export {
  STOCKY_RETIRED_MESSAGE,
  type StockyCredentials,
  type StockyEmulatorHandle,
  type StockyEmulatorOptions,
  startStockyEmulator
} from "./internal/stocky/startStockyEmulator.js"
export {
  type Sandbox,
  type SandboxEndpoint,
  type SandboxOptions,
  SHOPIFY_PLANS,
  startSandbox
} from "./startSandbox.js"
