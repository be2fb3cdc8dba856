/**
 * `kura-sync check` of the sources: Shopify (token, API version, granted scopes against what the
 * enabled streams read, the rate-limit bucket), Lightspeed K-Series (OAuth login, each configured
 * business location visible), Stocky (key and store name) and the clocks (each API's `Date`
 * header against ours). Every answer is decoded; no token is ever printed.
 */
import { join } from "node:path"
import {
  HttpTransport,
  makeFileTokenStore,
  makeMemoryTokenStore,
  type TokenSet,
  type TokenStore
} from "@kura/core"
import { API_BASE_URLS, LightspeedClient } from "@kura/lightspeed-client"
import { ShopifyClient, type ShopifyError } from "@kura/shopify-client"
import { DEFAULT_BASE_URL as STOCKY_BASE_URL, StockyClient } from "@kura/stocky-client"
import {
  BigQueryWarehouse,
  DuckDbWarehouse,
  Warehouse,
  type WarehouseError,
  WarehouseTokenStore
} from "@kura/warehouse"
import { Context, Effect, Layer, Option, Redacted, Schema, type Scope, Stream } from "effect"
import type { AppConfig, LightspeedAccountConfig, ShopifyShopConfig, StockyStoreConfig } from "./AppConfig.js"
import { bounded, type CheckOptions, type CheckRow, checkRow } from "./Check.js"
import type { WarehouseFinding } from "./CheckStores.js"
import { shopifyShopClientLayer } from "./ShopifyShopClient.js"
import { lightspeedClientLayer } from "./sources/LightspeedStreams.js"
import { shopifyStreamNames } from "./sources/ShopifyStreams.js"

/** Whether the sources are emulators (plain HTTP, fast retries), as `run` decides. */
const talksToEmulators = (config: AppConfig): boolean => config.sandbox || config.localEmulator === true

/**
 * The one Shopify query of the check: who the token belongs to and what it was granted. Neither
 * field needs a scope, so a token granted too little still answers.
 */
export const SHOPIFY_CHECK_QUERY =
  "query KuraCheck { shop { name myshopifyDomain currencyCode ianaTimezone } currentAppInstallation { accessScopes { handle } } }"

const ShopifyCheckAnswer = Schema.Struct({
  shop: Schema.Struct({
    name: Schema.String,
    myshopifyDomain: Schema.String,
    currencyCode: Schema.String,
    ianaTimezone: Schema.String
  }),
  currentAppInstallation: Schema.Struct({
    accessScopes: Schema.Array(Schema.Struct({ handle: Schema.String }))
  })
})

/** The access scopes each Shopify stream reads with (a `write_` scope implies its `read_`). */
export const SHOPIFY_STREAM_SCOPES: Readonly<Record<string, ReadonlyArray<string>>> = {
  locations: ["read_locations"],
  products: ["read_products"],
  customers: ["read_customers"],
  orders: ["read_orders"],
  inventory_levels: ["read_inventory", "read_locations"],
  inventory_transfers: ["read_inventory_transfers", "read_inventory_shipments"],
  purchase_orders: ["read_purchase_orders"],
  deletions: []
}

/** The scopes missing for `streams`, each with the streams that need it. */
export const missingScopes = (
  streams: ReadonlyArray<string>,
  granted: ReadonlyArray<string>
): ReadonlyArray<{ readonly scope: string; readonly streams: ReadonlyArray<string> }> => {
  const have = new Set(granted.flatMap((g) => (g.startsWith("write_") ? [g, `read_${g.slice(6)}`] : [g])))
  const missing = new Map<string, Array<string>>()
  for (const stream of streams)
    for (const scope of SHOPIFY_STREAM_SCOPES[stream] ?? [])
      if (!have.has(scope)) missing.set(scope, [...(missing.get(scope) ?? []), stream])
  return [...missing].map(([scope, s]) => ({ scope, streams: s }))
}

/** Shopify's plan names by GraphQL restore rate (points/s), for the report. */
const PLAN_BY_RESTORE: Readonly<Record<number, string>> = {
  100: "standard plans",
  200: "Advanced",
  1000: "Shopify Plus",
  2000: "Enterprise / Commerce Components"
}

/** Months a quarterly Shopify API version is supported after its release. */
const VERSION_SUPPORT_MONTHS = 12

/** When `version` (YYYY-MM) stops being supported, or undefined for `unstable`. */
const retirementOf = (version: string): Date | undefined => {
  const m = /^(\d{4})-(\d{2})$/.exec(version)
  if (m === null) return undefined
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1 + VERSION_SUPPORT_MONTHS, 1))
}

const shopifyFix = (shop: ShopifyShopConfig, e: ShopifyError): string => {
  switch (e.reason._tag) {
    case "Unauthorized":
      return shop.auth._tag === "AccessToken"
        ? "the access token is wrong or was revoked: copy the Admin API access token of the shop's custom app (Settings > Apps and sales channels > Develop apps > the app > API credentials) into SHOPIFY_ACCESS_TOKEN (or the shop's accessToken in the config file)"
        : "the client credentials were refused: check SHOPIFY_CLIENT_ID and SHOPIFY_CLIENT_SECRET (the app's API credentials) and that the app is installed on this shop"
    case "UnsupportedVersion":
      return "set SHOPIFY_API_VERSION to a supported quarterly version, e.g. 2026-01"
    default:
      return "check SHOPIFY_SHOP (the permanent myshopify.com domain) and SHOPIFY_API_BASE_URL, and that this machine can reach Shopify"
  }
}

/** The Shopify rows of one shop. */
export const checkShopify = (
  shop: ShopifyShopConfig,
  options: CheckOptions
): Effect.Effect<ReadonlyArray<CheckRow>> => {
  const name = `shopify ${shop.shop}`
  const layer = shopifyShopClientLayer(shop)
  return bounded(
    name,
    options.timeoutMs,
    "check SHOPIFY_SHOP and SHOPIFY_API_BASE_URL, and that this machine can reach Shopify",
    Effect.gen(function* () {
      const client = yield* ShopifyClient
      const answer = yield* Effect.result(client.query(SHOPIFY_CHECK_QUERY, {}, { operation: "check" }))
      if (answer._tag === "Failure")
        return [checkRow(`${name}: token`, "FAIL", answer.failure.message, shopifyFix(shop, answer.failure))]
      const data = yield* Schema.decodeUnknownEffect(ShopifyCheckAnswer)(answer.success.data)
      const rows: Array<CheckRow> = []
      const s = data.shop
      rows.push(
        s.myshopifyDomain.toLowerCase() === shop.shop
          ? checkRow(
              `${name}: token`,
              "ok",
              `shop "${s.name}" (${s.myshopifyDomain}), currency ${s.currencyCode}, time zone ${s.ianaTimezone}`
            )
          : checkRow(
              `${name}: token`,
              "FAIL",
              `the token belongs to ${s.myshopifyDomain}, not ${shop.shop}`,
              "set SHOPIFY_SHOP to the token's shop, or use this shop's token"
            )
      )
      const served = yield* client.servedVersion
      const retires = retirementOf(shop.apiVersion)
      const now = Date.now()
      if (Option.isSome(served) && served.value !== shop.apiVersion)
        rows.push(
          checkRow(
            `${name}: API version`,
            "FAIL",
            `${shop.apiVersion} is not served (Shopify answered with ${served.value}: the version is retired or not released yet)`,
            `set SHOPIFY_API_VERSION=${served.value} or another supported quarterly version`
          )
        )
      else if (shop.apiVersion === "unstable")
        rows.push(
          checkRow(
            `${name}: API version`,
            "warn",
            "unstable changes without notice",
            "pin a quarterly version such as 2026-01"
          )
        )
      else if (retires !== undefined && retires.getTime() - now < 90 * 86_400_000)
        rows.push(
          checkRow(
            `${name}: API version`,
            "warn",
            `${shop.apiVersion} is served, but Shopify supports a version about ${VERSION_SUPPORT_MONTHS} months: it retires around ${retires.toISOString().slice(0, 7)}`,
            "plan the move to a newer version (SHOPIFY_API_VERSION) before then"
          )
        )
      else
        rows.push(
          checkRow(
            `${name}: API version`,
            "ok",
            `${shop.apiVersion} served${Option.isNone(served) ? " (no X-Shopify-API-Version header to confirm it)" : ""}`
          )
        )
      const granted = data.currentAppInstallation.accessScopes.map((a) => a.handle)
      const streams = shopifyStreamNames(shop)
      const missing = missingScopes(streams, granted)
      rows.push(
        missing.length === 0
          ? checkRow(
              `${name}: scopes`,
              "ok",
              `the ${streams.length} enabled streams' scopes are granted (${granted.length} scopes)`
            )
          : checkRow(
              `${name}: scopes`,
              "FAIL",
              `missing ${missing.map((m) => `${m.scope} (for ${m.streams.join(", ")})`).join("; ")}`,
              `add ${missing.map((m) => m.scope).join(", ")} to the app's Admin API access scopes (Develop apps > the app > Configuration), reinstall it on the shop and use the new token`
            )
      )
      if (streams.includes("orders") && !granted.includes("read_all_orders"))
        rows.push(
          checkRow(
            `${name}: order history`,
            "warn",
            "read_all_orders is not granted: Shopify shows only the last 60 days of orders, so a first sync misses older ones",
            "request read_all_orders for the app (Shopify approves it per app), then reinstall and use the new token"
          )
        )
      if (streams.includes("orders") && !granted.includes("read_reports"))
        rows.push(
          checkRow(
            `${name}: Analytics tie-out`,
            "warn",
            "read_reports is not granted: kura-sync tie-out cannot read Shopify's own sales report (ShopifyQL) to tie the warehouse to",
            "add read_reports to the app's Admin API access scopes (ShopifyQL also needs level-2 protected customer data), reinstall it and use the new token"
          )
        )
      const bucket = answer.success.cost.throttleStatus
      rows.push(
        bucket === null
          ? checkRow(
              `${name}: rate limit`,
              "warn",
              "the answer carried no extensions.cost (pacing falls back to defaults)"
            )
          : checkRow(
              `${name}: rate limit`,
              "ok",
              `GraphQL bucket ${bucket.maximumAvailable} points, restores ${bucket.restoreRate}/s${
                PLAN_BY_RESTORE[bucket.restoreRate] === undefined
                  ? ""
                  : ` (${PLAN_BY_RESTORE[bucket.restoreRate]})`
              }; ${bucket.currentlyAvailable} available now`
            )
      )
      return rows
    }).pipe(Effect.provide(layer))
  )
}

/** Where Lightspeed's rotated refresh token goes during the check: the run's own store, or none. */
type ChosenStore =
  | { readonly store: TokenStore["Service"]; readonly where: string }
  | { readonly why: string; readonly fix: string }

const lightspeedStore = (
  config: AppConfig,
  finding: WarehouseFinding
): Effect.Effect<ChosenStore, WarehouseError, Scope.Scope> =>
  Effect.gen(function* () {
    if (config.sandbox) return { store: makeMemoryTokenStore(new Map()), where: "memory (sandbox)" }
    if (config.tokenStore === "file")
      return {
        store: makeFileTokenStore(join(config.stateDir, "tokens.json")),
        where: join(config.stateDir, "tokens.json")
      }
    if (!finding.tokensTable)
      return {
        why: "the warehouse has no _kura_tokens table yet, and a refresh spends the single-use refresh token: its successor would have nowhere to go",
        fix: "run kura-sync run --source lightspeed once (it creates the warehouse and keeps the token), or set KURA_TOKEN_STORE=file"
      }
    const layer =
      finding.kind === "duckdb"
        ? DuckDbWarehouse.layer({ path: finding.path, migrate: false })
        : (() => {
            const w = config.warehouseSettings.warehouse
            const l = config.warehouseSettings.lake
            return w.kind === "bigquery"
              ? BigQueryWarehouse.layer({
                  projectId: w.projectId,
                  dataset: w.dataset,
                  stagingBucket: l.kind === "gcs" ? l.bucket : "",
                  migrate: false,
                  ...Option.match(config.warehouseSettings.bigQueryLocation, {
                    onNone: () => ({}),
                    onSome: (location) => ({ location })
                  })
                })
              : DuckDbWarehouse.layer({ path: ":memory:", migrate: false })
          })()
    const built = yield* Effect.result(Layer.build(layer))
    // DuckDB allows one writer: a running kura-sync holds the file, and its token with it.
    if (built._tag === "Failure" && /lock/i.test(built.failure.message))
      return {
        why: "another process (a running kura-sync?) holds the DuckDB warehouse, where the refresh token is kept",
        fix: "run check while kura-sync is stopped"
      }
    if (built._tag === "Failure") return yield* built.failure
    const warehouse = Context.get(built.success, Warehouse)
    const store = WarehouseTokenStore.make(
      warehouse,
      Option.match(config.tokenEncryptionKey, {
        onNone: () => ({}),
        onSome: (encryptionKey) => ({ encryptionKey })
      })
    )
    return { store, where: "the warehouse's _kura_tokens" }
  })

const sameRefresh = (a: Option.Option<TokenSet>, b: Option.Option<TokenSet>): boolean => {
  const r = (t: Option.Option<TokenSet>) =>
    Option.isSome(t) && t.value.refreshToken !== null ? Redacted.value(t.value.refreshToken) : null
  return r(a) === r(b)
}

/** The Lightspeed rows of one account. */
export const checkLightspeed = (
  account: LightspeedAccountConfig,
  config: AppConfig,
  finding: WarehouseFinding,
  options: CheckOptions
): Effect.Effect<ReadonlyArray<CheckRow>> => {
  const name = `lightspeed ${account.name}`
  const fix =
    "check LIGHTSPEED_CLIENT_ID, LIGHTSPEED_CLIENT_SECRET and the refresh token (re-authorise the app if it has been idle 14 days), and LIGHTSPEED_API_BASE_URL / LIGHTSPEED_TOKEN_URL"
  return bounded(
    name,
    options.timeoutMs,
    fix,
    Effect.scoped(
      Effect.gen(function* () {
        const chosen = yield* lightspeedStore(config, finding)
        if ("why" in chosen)
          return [checkRow(`${name}: login`, "warn", `not checked: ${chosen.why}`, chosen.fix)]
        const tokenKey = `lightspeed:${account.clientId}:${account.name}`
        const before = yield* chosen.store.get(tokenKey)
        const locations = yield* Effect.gen(function* () {
          const client = yield* LightspeedClient
          return yield* Stream.runCollect(client.locations)
        }).pipe(Effect.provide(lightspeedClientLayer(account, chosen.store, talksToEmulators(config))))
        const after = yield* chosen.store.get(tokenKey)
        const refreshed = Option.isNone(before) || !sameRefresh(before, after)
        const rows: Array<CheckRow> = [
          checkRow(
            `${name}: login`,
            "ok",
            refreshed
              ? `the OAuth refresh worked; the new single-use refresh token is kept in ${chosen.where}`
              : `the stored access token was accepted (no refresh needed; tokens in ${chosen.where})`
          )
        ]
        const refreshExpires = Option.isSome(after) ? after.value.refreshExpiresAt : null
        if (refreshExpires !== null && refreshExpires - Date.now() < 3 * 86_400_000)
          rows.push(
            checkRow(
              `${name}: refresh token`,
              "warn",
              `expires ${new Date(refreshExpires).toISOString()} unless used`,
              "run a sync before then (every run renews it)"
            )
          )
        const visible = new Map(locations.map((l) => [l.businessLocationId, l] as const))
        const label = (id: string) => {
          const l = visible.get(id)
          return l?.name ? `${id} ${l.name}` : id
        }
        const wanted = account.businessLocations.map(String)
        const unseen = wanted.filter((id) => !visible.has(id))
        rows.push(
          unseen.length > 0
            ? checkRow(
                `${name}: locations`,
                "FAIL",
                `business location(s) ${unseen.join(", ")} not visible to this token (visible: ${[...visible.keys()].map(label).join(", ") || "none"})`,
                "set LIGHTSPEED_BUSINESS_LOCATIONS to visible ids (or leave it empty for all), or grant the account access to them"
              )
            : visible.size === 0
              ? checkRow(
                  `${name}: locations`,
                  "FAIL",
                  "the token sees no business location",
                  "authorise the app with a user who can see the business"
                )
              : checkRow(
                  `${name}: locations`,
                  "ok",
                  wanted.length === 0
                    ? `all ${visible.size} visible location(s) will sync: ${[...visible.keys()].map(label).join(", ")}`
                    : `every configured location is visible: ${wanted.map(label).join(", ")}`
                )
        )
        return rows
      })
    )
  )
}

/** The Stocky row of one store. */
export const checkStocky = (
  store: StockyStoreConfig,
  config: AppConfig,
  options: CheckOptions
): Effect.Effect<ReadonlyArray<CheckRow>> => {
  const name = `stocky ${store.storeName}`
  const fix =
    "check STOCKY_API_KEY (Stocky > Preferences > API access > Current key) and that STOCKY_STORE_NAME is the myshopify.com domain of the store that key belongs to"
  const layer = StockyClient.layer({
    storeName: store.storeName,
    apiKey: store.apiKey,
    ...Option.match(store.apiBaseUrl, { onNone: () => ({}), onSome: (baseUrl) => ({ baseUrl }) }),
    ...(talksToEmulators(config)
      ? { retry: { baseDelayMillis: 5, maxDelayMillis: 200, maxAttempts: 3, jitter: false } }
      : {})
  }).pipe(Layer.provide(HttpTransport.layer()))
  return bounded(
    name,
    options.timeoutMs,
    fix,
    Effect.gen(function* () {
      const client = yield* StockyClient
      const result = yield* Effect.result(client.checkAvailable)
      if (result._tag === "Success")
        return [checkRow(name, "ok", `the API key is accepted for store ${store.storeName}`)]
      const e = result.failure
      const retired = e._tag === "StockyError" && e.reason._tag === "Retired"
      return [
        checkRow(
          name,
          "FAIL",
          e.message,
          retired
            ? "Stocky's API shut down on 2026-08-31: remove the STOCKY_* settings (or the stocky entries); purchase orders now come from Shopify (SHOPIFY_API_VERSION 2026-10 or later, scope read_purchase_orders)"
            : fix
        )
      ]
    }).pipe(Effect.provide(layer))
  )
}

/** Clock differences larger than this are reported (look-back windows and webhook checks assume less). */
const SKEW_WARN_MS = 30_000

/** The API origins `config` talks to, one per configured source account. */
const apiUrls = (config: AppConfig): ReadonlyArray<readonly [string, string]> => [
  ...config.shopify.map(
    (s) => [`shopify ${s.shop}`, Option.getOrElse(s.apiBaseUrl, () => `https://${s.shop}`)] as const
  ),
  ...config.lightspeed.map(
    (a) => [`lightspeed ${a.name}`, Option.getOrElse(a.apiBaseUrl, () => API_BASE_URLS.production)] as const
  ),
  ...config.stocky.map(
    (s) => [`stocky ${s.storeName}`, Option.getOrElse(s.apiBaseUrl, () => STOCKY_BASE_URL)] as const
  )
]

/** Compares this machine's clock with each API's `Date` header (one HEAD request each). */
export const checkClockSkew = (
  config: AppConfig,
  options: CheckOptions
): Effect.Effect<ReadonlyArray<CheckRow>> => {
  const urls = apiUrls(config)
  if (urls.length === 0) return Effect.succeed([])
  return Effect.forEach(
    urls,
    ([source, url]) =>
      Effect.tryPromise(async (signal) => {
        const sent = Date.now()
        const res = await fetch(url, { method: "HEAD", signal })
        const received = Date.now()
        await res.body?.cancel()
        const date = res.headers.get("date")
        const at = date === null ? Number.NaN : Date.parse(date)
        // The header has whole seconds: compare with the middle of the round trip, less half a second.
        return Number.isNaN(at) ? undefined : { source, skew: at + 500 - (sent + received) / 2 }
      }).pipe(
        Effect.timeoutOrElse({
          duration: Math.min(options.timeoutMs, 10_000),
          orElse: () => Effect.succeed(undefined)
        }),
        Effect.orElseSucceed(() => undefined)
      ),
    { concurrency: "unbounded" }
  ).pipe(
    Effect.map((found) => {
      const seen = found.filter((f) => f !== undefined)
      if (seen.length === 0)
        return [
          checkRow("clock", "skipped", "no API answered with a Date header (unreachable, or none sent)")
        ]
      const worst = seen.reduce((a, b) => (Math.abs(b.skew) > Math.abs(a.skew) ? b : a))
      const secs = (ms: number) => `${ms >= 0 ? "+" : "-"}${(Math.abs(ms) / 1000).toFixed(1)}s`
      const detail = `API clocks minus ours: ${seen.map((s) => `${s.source} ${secs(s.skew)}`).join(", ")}`
      return [
        Math.abs(worst.skew) > SKEW_WARN_MS
          ? checkRow(
              "clock",
              "warn",
              `${detail}: ${worst.source} is ${secs(worst.skew)} off`,
              "synchronise this machine's clock (NTP): sync windows and webhook checks assume clocks within seconds"
            )
          : checkRow("clock", "ok", `${detail} (within ±${SKEW_WARN_MS / 1000}s)`)
      ]
    })
  )
}
