/**
 * The emulator's shared state, seen by every surface (GraphQL, bulk, REST, webhooks, auth).
 */

import type { FaultInjector, SandboxClock, ShopifyPlan } from "../contracts.js"
import type { Merchant } from "../Merchant.js"
import type { BulkOperations } from "./BulkOperations.js"
import type { Lookups } from "./Lookups.js"
import type { Webhooks } from "./Webhooks.js"

/** Credentials a client needs to talk to the emulated shop. */
export interface ShopifyCredentials {
  readonly shopDomain: string
  /** A non-expiring admin token (`shpat_…`), as a legacy custom app has. */
  readonly accessToken: string
  readonly clientId: string
  readonly clientSecret: string
  /** The secret webhooks are signed with (Shopify signs with the app's client secret). */
  readonly webhookSecret: string
  /** The newest stable version the emulator serves. */
  readonly apiVersion: string
  readonly scopes: ReadonlyArray<string>
}

/** Shop-level facts derived from the merchant. */
export interface ShopInfo {
  readonly name: string
  readonly domain: string
  readonly currency: string
  readonly timeZone: string
}

/** Options with defaults applied. */
export interface ResolvedOptions {
  readonly throttledStatus: 200 | 429
  readonly supportedVersions: ReadonlyArray<string>
  readonly schemaPath: string | undefined
  readonly bulkConcurrency: number | undefined
  readonly bulkRowsPerSecond: number
  readonly webhookRetryScheduleMs: ReadonlyArray<number>
  readonly webhookTimeoutMs: number
  readonly maxQueryCost: number
  readonly slowResponseMs: number
  readonly restLinkHost: "sandbox" | "shop"
  readonly unknownSearchFields: "ignore" | "error"
}

/** Everything the emulator's surfaces share. */
export interface ShopifyState {
  readonly merchant: Merchant
  readonly lookups: Lookups
  readonly clock: SandboxClock
  readonly faults: FaultInjector
  readonly plan: ShopifyPlan
  readonly options: ResolvedOptions
  readonly shop: ShopInfo
  readonly credentials: ShopifyCredentials
  scopes: ReadonlySet<string>
  baseUrl: string
  readonly bulk: BulkOperations
  readonly webhooks: Webhooks
  readonly stats: Record<string, number>
}

/** Increments a named counter. */
export const bump = (state: ShopifyState, name: string, by = 1): void => {
  state.stats[name] = (state.stats[name] ?? 0) + by
}
