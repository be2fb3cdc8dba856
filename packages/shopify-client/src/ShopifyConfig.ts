/**
 * Settings of a Shopify client: which shop, which API version, how to pace and page.
 *
 * @since 0.1.0
 */
import { Config, Context, Effect, Layer, Option } from "effect"
import { InvalidConfig, ShopifyError } from "./ShopifyError.js"

/**
 * The latest stable Admin API version when this package was released.
 *
 * @since 0.1.0
 * @category constants
 */
export const LATEST_STABLE_VERSION = "2026-10"

/**
 * The default Admin API version: the newest one whose full published schema Kura validates every
 * GraphQL document against (`shopify-admin-2026-01.graphql`), and the one `kura-sync` and
 * `kura-backfill` pin. 2026-10 (`LATEST_STABLE_VERSION`) is opt-in: it adds inventory purchase
 * orders, whose documents are checked only against the emulator's extension of the 2026-01 schema.
 * Shopify supports a version for at least 12 months (2026-01: into 2027-01).
 *
 * @since 0.2.0
 * @category constants
 */
export const DEFAULT_API_VERSION = "2026-01"

/**
 * Client settings.
 *
 * @since 0.1.0
 * @category models
 */
export interface ShopifyConfigShape {
  /** The shop's myshopify domain, e.g. `kura-matcha.myshopify.com`. */
  readonly shop: string
  /** Admin API version (`YYYY-MM` or `unstable`). Default `DEFAULT_API_VERSION` (2026-01). */
  readonly apiVersion: string
  /** Base URL override (emulators, proxies), e.g. `http://127.0.0.1:4000`. Default `https://{shop}`. */
  readonly baseUrl: string
  /** Largest page size requested by paged streams (≤ 250). Default 250; lowered to fit the cost ceiling. */
  readonly maxPageSize: number
  /** Shopify's single-query cost ceiling. Default 1000. */
  readonly maxQueryCost: number
  /**
   * How long one request may keep being answered THROTTLED (total wait, in ms) before it fails
   * with `Throttled`. There is no cap on the number of THROTTLED answers: each one is waited out
   * per the learned bucket or `Retry-After` and the request is sent again. Default 30 minutes.
   */
  readonly throttleTimeoutMillis: number
  /** Look-back overlap for incremental windows, in ms. Default 5 minutes. */
  readonly lookbackMillis: number
}

/**
 * The configuration service.
 *
 * @since 0.1.0
 * @category services
 */
export class ShopifyConfig extends Context.Service<ShopifyConfig, ShopifyConfigShape>()(
  "@kura/shopify-client/ShopifyConfig"
) {
  /**
   * Validates and provides settings; unspecified fields take their defaults.
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layer = (
    options: Partial<ShopifyConfigShape> & { readonly shop: string }
  ): Layer.Layer<ShopifyConfig, ShopifyError> => Layer.effect(ShopifyConfig, makeShopifyConfig(options))

  /**
   * Reads SHOPIFY_SHOP, SHOPIFY_API_VERSION, SHOPIFY_BASE_URL and SHOPIFY_THROTTLE_TIMEOUT_MS
   * (optional) through Effect Config.
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layerConfig: Layer.Layer<ShopifyConfig, ShopifyError | Config.ConfigError> = Layer.effect(
    ShopifyConfig,
    Effect.gen(function* () {
      const shop = yield* Config.String("SHOPIFY_SHOP")
      const apiVersion = yield* Config.String("SHOPIFY_API_VERSION").pipe(
        Config.withDefault(DEFAULT_API_VERSION)
      )
      const baseUrl = yield* Config.String("SHOPIFY_BASE_URL").pipe(Config.withDefault(""))
      const throttleTimeout = yield* Config.Number("SHOPIFY_THROTTLE_TIMEOUT_MS").pipe(Config.option)
      return yield* makeShopifyConfig({
        shop,
        apiVersion,
        ...(baseUrl === "" ? {} : { baseUrl }),
        ...(Option.isSome(throttleTimeout) ? { throttleTimeoutMillis: throttleTimeout.value } : {})
      })
    })
  )
}

const invalid = (field: string, message: string) =>
  new ShopifyError({ operation: "configure", reason: new InvalidConfig({ field, message }) })

/**
 * Validates settings and fills in defaults; fails with `InvalidConfig` naming the field and fix.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeShopifyConfig = (
  options: Partial<ShopifyConfigShape> & { readonly shop: string }
): Effect.Effect<ShopifyConfigShape, ShopifyError> =>
  Effect.gen(function* () {
    const shop = options.shop
      .trim()
      .replace(/^https?:\/\//, "")
      .replace(/\/+$/, "")
    if (shop === "" || /[\s/]/.test(shop)) {
      return yield* invalid(
        "shop",
        `expected a shop domain such as "my-store.myshopify.com", got ${JSON.stringify(options.shop)}`
      )
    }
    const apiVersion = options.apiVersion ?? DEFAULT_API_VERSION
    if (!/^\d{4}-(01|04|07|10)$/.test(apiVersion) && apiVersion !== "unstable") {
      return yield* invalid(
        "apiVersion",
        `expected a quarterly version such as "2026-10" or "unstable", got ${JSON.stringify(apiVersion)}`
      )
    }
    const baseUrl = (options.baseUrl ?? `https://${shop}`).replace(/\/+$/, "")
    if (!/^https?:\/\/[^\s]+$/.test(baseUrl)) {
      return yield* invalid(
        "baseUrl",
        `expected an http(s) URL such as "https://${shop}", got ${JSON.stringify(options.baseUrl)}`
      )
    }
    const maxPageSize = options.maxPageSize ?? 250
    if (!Number.isInteger(maxPageSize) || maxPageSize < 1 || maxPageSize > 250) {
      return yield* invalid(
        "maxPageSize",
        `must be an integer from 1 to 250 (Shopify's limit), got ${maxPageSize}`
      )
    }
    const maxQueryCost = options.maxQueryCost ?? 1000
    if (!(maxQueryCost >= 10)) return yield* invalid("maxQueryCost", `must be >= 10, got ${maxQueryCost}`)
    const throttleTimeoutMillis = options.throttleTimeoutMillis ?? 30 * 60_000
    if (!(throttleTimeoutMillis >= 0)) {
      return yield* invalid(
        "throttleTimeoutMillis",
        `must be a number of milliseconds >= 0 (default 1800000, 30 minutes), got ${throttleTimeoutMillis}`
      )
    }
    const lookbackMillis = options.lookbackMillis ?? 5 * 60_000
    if (!(lookbackMillis >= 0)) return yield* invalid("lookbackMillis", `must be >= 0, got ${lookbackMillis}`)
    return { shop, apiVersion, baseUrl, maxPageSize, maxQueryCost, throttleTimeoutMillis, lookbackMillis }
  })

/**
 * Whether `version` is `min` or newer (`unstable` counts as newest).
 *
 * @since 0.1.0
 * @category constructors
 */
export const versionAtLeast = (version: string, min: string): boolean =>
  version === "unstable" || (/^\d{4}-\d{2}$/.test(version) && version >= min)
