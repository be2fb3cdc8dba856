/**
 * Settings of the live client, validated once so that a bad value fails at start-up with the
 * field name and the fix instead of as a confusing 401 or 404 later.
 */
import { type AdaptiveLimiterOptions, type RetryPolicy, registerSecret, secretConfig } from "@kura/core"
import { Config, DateTime, Effect, Option, Redacted } from "effect"
import type { InvalidRecords } from "./internal/deadLetters.js"
import { InvalidConfig, StockyError } from "./StockyError.js"

/** The documented base URL of Stocky's v2 API. */
export const DEFAULT_BASE_URL = "https://stocky.shopifyapps.com/api/v2"

/** Stocky's documented maximum `limit`. */
export const MAX_PAGE_SIZE = 250

/** Default pacing: Stocky clients in the wild wait 150–800 ms between pages. */
export const DEFAULT_RATE_LIMIT: AdaptiveLimiterOptions = { maxRatePerSecond: 4, initialRatePerSecond: 2 }

/** What a caller passes to `StockyClient.layer`. */
export interface StockyClientOptions {
  /** The store's myshopify domain, sent as `Store-Name` (e.g. "kyoto-tea.myshopify.com"). */
  readonly storeName: string
  /** Stocky → Preferences → API access → "Current key". Sent as `Authorization: API KEY=<key>`. */
  readonly apiKey: Redacted.Redacted<string>
  /** Default https://stocky.shopifyapps.com/api/v2 (point it at the sandbox in tests). */
  readonly baseUrl?: string | undefined
  /** Records per page, 1–250. Default 250. */
  readonly pageSize?: number | undefined
  /** IANA zone of the store, used for Stocky's offset-less timestamps. Default "UTC". */
  readonly timeZone?: string | undefined
  /** Retry settings for 429 / 5xx / timeouts (core RetryPolicy). */
  readonly retry?: RetryPolicy.RetryPolicyOptions | undefined
  /**
   * Pacing when no shared `AdaptiveLimiter` is in context. Stocky publishes no limits; the
   * default starts at 2 req/s, halves on a 429 and creeps back up to at most 4 req/s.
   */
  readonly rateLimit?: AdaptiveLimiterOptions | undefined
  /**
   * A record that does not decode fails the stream ("fail", default) or goes to the core
   * `DeadLetterSink` in context with its raw payload and reason while the rest loads
   * ("dead-letter"; the layer then requires a DeadLetterSink).
   */
  readonly invalidRecords?: InvalidRecords | undefined
  /**
   * Treat a host that no longer resolves (DNS ENOTFOUND) as "the API is gone". Default true:
   * after the shutdown the host may simply disappear.
   */
  readonly retiredOnDnsFailure?: boolean | undefined
}

/** Validated settings. */
export interface ResolvedStockyConfig {
  readonly storeName: string
  readonly apiKey: Redacted.Redacted<string>
  readonly baseUrl: string
  readonly pageSize: number
  readonly timeZone: DateTime.TimeZone
  readonly retry: RetryPolicy.RetryPolicyOptions
  readonly retiredOnDnsFailure: boolean
  readonly rateLimit: AdaptiveLimiterOptions
  readonly invalidRecords: InvalidRecords
}

const invalid = (field: string, detail: string) =>
  new StockyError({ reason: new InvalidConfig({ field, detail }) })

/** Validates options; every failure names the field and how to fix it. */
export const resolveStockyConfig = (
  options: StockyClientOptions
): Effect.Effect<ResolvedStockyConfig, StockyError> =>
  Effect.gen(function* () {
    const storeName = options.storeName
      .trim()
      .replace(/^https?:\/\//i, "")
      .replace(/\/+$/, "")
      .toLowerCase()
    if (!/^[a-z0-9][a-z0-9-]*\.myshopify\.com$/.test(storeName))
      return yield* invalid(
        "storeName",
        `expected the bare myshopify domain such as "my-shop.myshopify.com", got ${JSON.stringify(options.storeName)}`
      )
    const key = Redacted.value(options.apiKey).trim()
    if (key === "" || /\s/.test(key))
      return yield* invalid(
        "apiKey",
        "expected the key from Stocky → Preferences → API access (no spaces, not empty)"
      )
    const baseUrl = (options.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, "")
    if (!/^https?:\/\/[^/]+/i.test(baseUrl))
      return yield* invalid("baseUrl", `expected an absolute http(s) URL such as "${DEFAULT_BASE_URL}"`)
    const pageSize = options.pageSize ?? MAX_PAGE_SIZE
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE)
      return yield* invalid("pageSize", `expected an integer from 1 to ${MAX_PAGE_SIZE}, got ${pageSize}`)
    const zoneId = options.timeZone ?? "UTC"
    const zone = DateTime.zoneMakeNamed(zoneId)
    if (Option.isNone(zone))
      return yield* invalid(
        "timeZone",
        `expected an IANA time zone such as "Asia/Tokyo", got ${JSON.stringify(zoneId)}`
      )
    // Registered so a key echoed back in a response body is masked in errors and logs too.
    registerSecret(key)
    return {
      storeName,
      apiKey: Redacted.make(key),
      baseUrl,
      pageSize,
      timeZone: zone.value,
      retry: options.retry ?? {},
      retiredOnDnsFailure: options.retiredOnDnsFailure ?? true,
      rateLimit: options.rateLimit ?? DEFAULT_RATE_LIMIT,
      invalidRecords: options.invalidRecords ?? "fail"
    }
  })

/**
 * The variables `StockyClient.layerConfig` reads (validated together with core's
 * `validateConfig`, so every missing or bad one is reported at once): STOCKY_STORE_NAME, STOCKY_API_KEY (redacted), and optionally STOCKY_BASE_URL,
 * STOCKY_PAGE_SIZE and STOCKY_TIME_ZONE.
 */
export const StockyClientConfig = {
  storeName: Config.String("STOCKY_STORE_NAME"),
  apiKey: secretConfig("STOCKY_API_KEY"),
  baseUrl: Config.String("STOCKY_BASE_URL").pipe(Config.withDefault(DEFAULT_BASE_URL)),
  pageSize: Config.Int("STOCKY_PAGE_SIZE").pipe(Config.withDefault(MAX_PAGE_SIZE)),
  timeZone: Config.String("STOCKY_TIME_ZONE").pipe(Config.withDefault("UTC"))
} as const
