/**
 * Knobs for the Shopify emulator. Where the reference says UNCONFIRMED (THROTTLED status code,
 * bulk speed, retry schedule) the behaviour is configurable rather than guessed once.
 */

/** Options for `startShopifyEmulator`. */
export interface ShopifyEmulatorOptions {
  /** HTTP status of a THROTTLED GraphQL response: 200 (observed most often, default) or 429. */
  readonly throttledStatus?: 200 | 429
  /** Versions served; anything else falls forward to the oldest dated one. */
  readonly supportedVersions?: ReadonlyArray<string>
  /** Path of shopify-admin-2026-01.graphql; located upward from cwd and this module by default. */
  readonly schemaPath?: string
  /** Overrides the number of concurrent bulk query operations (5 from 2026-01, 1 before). */
  readonly bulkConcurrency?: number
  /**
   * Bulk pacing: a job never completes sooner than objects / (this × timeScale) seconds. Default
   * 1,000,000 objects per real-world second, far above what the emulator generates (~300–500k
   * lines/s), so by default the sandbox is never a bulk-ingest benchmark's bottleneck. Real
   * Shopify is much slower (thousands to tens of thousands of objects/s, UNCONFIRMED): set e.g.
   * 20000 to test a client's polling against realistic job durations.
   */
  readonly bulkRowsPerSecond?: number
  /** Webhook retry delays in real-world ms (scaled). Default: 8 retries over ~4 h. */
  readonly webhookRetryScheduleMs?: ReadonlyArray<number>
  /** Per-delivery timeout in ms (not scaled; Shopify allows 5 s). */
  readonly webhookTimeoutMs?: number
  /** Single-query cost ceiling; Shopify's is 1000. */
  readonly maxQueryCost?: number
  /** Granted access scopes; default: every read scope including read_all_orders. */
  readonly scopes?: ReadonlyArray<string>
  /** e.g. "kura-sandbox.myshopify.com". */
  readonly shopDomain?: string
  /**
   * Host of REST `Link` URLs: "sandbox" (default; followable as-is) or "shop" (like Shopify:
   * https://<shopDomain>/…, so a client must take page_info from the link and keep its own base URL).
   */
  readonly restLinkHost?: "sandbox" | "shop"
  /** Real-world duration of a slow_response fault, ms (scaled). Default 3000. */
  readonly slowResponseMs?: number
  /**
   * A `query:` term on a field the connection does not filter on: "ignore" (default; Shopify
   * drops the term and lists it in `extensions.search[].warnings`) or "error" (a BAD_REQUEST
   * GraphQL error, for tests that want typos to fail loudly).
   */
  readonly unknownSearchFields?: "ignore" | "error"
}

/** Default webhook retry schedule: 8 retries, exponential-ish, ~3.9 h in total. */
export const DEFAULT_WEBHOOK_RETRY_MS: ReadonlyArray<number> = [
  10_000, 30_000, 60_000, 300_000, 900_000, 1_800_000, 3_600_000, 7_200_000
]

/** Every read scope the emulator checks. */
export const DEFAULT_SCOPES: ReadonlyArray<string> = [
  "read_orders",
  "read_all_orders",
  "read_customers",
  "read_products",
  "read_inventory",
  "read_locations",
  "read_inventory_transfers",
  "read_inventory_shipments",
  "read_purchase_orders",
  "read_reports"
]
