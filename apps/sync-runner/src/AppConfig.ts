/**
 * The app's configuration: environment variables for the single-shop case, a JSON config file for
 * several shops and POS accounts. Everything is validated up front and every problem is reported at
 * once (see ConfigError), because a half-valid config discovered mid-sync wastes a whole run.
 */
import { registerSecret } from "@kura/core"
import { DEFAULT_API_VERSION } from "@kura/shopify-client"
import { DuckDbWarehouse, localStoreProblems, WarehouseConfig } from "@kura/warehouse"
import { Effect, Option, Redacted, Schema, SchemaIssue } from "effect"
import { ConfigError, type ConfigProblem } from "./ConfigError.js"
import { isSecretReference, SecretResolver } from "./SecretResolver.js"
import { parseSourceTuning, type SourceTuning } from "./sources/SourceTuning.js"

/** The three upstream systems, plus `demo`, a synthetic source for local demos and smoke tests. */
export type SourceName = "shopify" | "lightspeed" | "stocky" | "demo"

/** The sources a user can name on the command line. */
export const SOURCES = ["shopify", "lightspeed", "stocky", "demo"] as const

/** How a Shopify shop authenticates. */
export type ShopifyAuth =
  | { readonly _tag: "AccessToken"; readonly accessToken: Redacted.Redacted<string> }
  | {
      readonly _tag: "ClientCredentials"
      readonly clientId: string
      readonly clientSecret: Redacted.Redacted<string>
    }

/** One Shopify shop. */
export interface ShopifyShopConfig {
  readonly shop: string
  readonly auth: ShopifyAuth
  readonly apiVersion: string
  readonly apiBaseUrl: Option.Option<string>
  readonly webhookSecret: Option.Option<Redacted.Redacted<string>>
}

/** One Lightspeed K-Series account (OAuth2 refresh-token flow). */
export interface LightspeedAccountConfig {
  readonly name: string
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
  readonly refreshToken: Redacted.Redacted<string>
  readonly apiBaseUrl: Option.Option<string>
  readonly tokenUrl: Option.Option<string>
  /** Business location ids to sync; empty means every location the token can see. */
  readonly businessLocations: ReadonlyArray<number>
}

/** One Stocky store. */
export interface StockyStoreConfig {
  readonly storeName: string
  readonly apiKey: Redacted.Redacted<string>
  readonly apiBaseUrl: Option.Option<string>
}

/** A synthetic stream of the `demo` source: `pages` pages of `rowsPerPage` rows, `pageDelayMs` apart. */
export interface DemoStreamConfig {
  readonly name: string
  readonly pages: number
  readonly rowsPerPage: number
  readonly pageDelayMs: number
}

/** A source that was left out and why (printed so that skipping is never silent). */
export interface SkippedSource {
  readonly source: SourceName
  readonly reason: string
}

/** The validated configuration. */
export interface AppConfig {
  readonly shopify: ReadonlyArray<ShopifyShopConfig>
  readonly lightspeed: ReadonlyArray<LightspeedAccountConfig>
  readonly stocky: ReadonlyArray<StockyStoreConfig>
  readonly demo: ReadonlyArray<DemoStreamConfig>
  readonly skipped: ReadonlyArray<SkippedSource>
  /** `duckdb:<file>` or `bigquery:<project>.<dataset>`, as given. */
  readonly warehouse: string
  /** `file:<dir>` or `gs://bucket[/prefix]`, as given. */
  readonly lake: string
  /** Parsed warehouse and lake selection, ready for `WarehouseConfig.layerFromSettings`. */
  readonly warehouseSettings: WarehouseConfig.WarehouseSettings
  readonly sandbox: boolean
  /**
   * Some source points at an `http://` address on this machine (127.0.0.1, localhost, ::1): an
   * emulator such as `npx kura-sandbox`. Its clients then accept plain HTTP and retry fast, as
   * with `KURA_SANDBOX=1` (tokens still rotate through the configured store).
   */
  readonly localEmulator?: boolean
  readonly port: number
  readonly triggerSecret: Option.Option<Redacted.Redacted<string>>
  readonly oidcAudience: Option.Option<string>
  /** Service accounts whose OIDC tokens may trigger syncs (KURA_OIDC_SERVICE_ACCOUNTS). */
  readonly oidcServiceAccounts: ReadonlyArray<string>
  /** Run intervals in ms keyed by `source` or `source/stream`; the more specific key wins. */
  readonly schedules: Readonly<Record<string, number>>
  /** Interval for streams with no schedule entry. */
  readonly defaultIntervalMs: number
  /** Longest time SIGTERM waits for runs in flight before interrupting them. */
  readonly drainTimeoutMs: number
  /** Google Cloud project, used to build Cloud Logging trace ids. */
  readonly project: Option.Option<string>
  /** Where the app keeps local state: Lightspeed `tokens.json` (file token store), webhook segments. */
  readonly stateDir: string
  /**
   * Where Lightspeed's single-use refresh tokens rotate (`KURA_TOKEN_STORE`): `warehouse`
   * (`_kura_tokens`, shared by every process on the warehouse; default with BigQuery) or `file`
   * (`<stateDir>/tokens.json`; default with DuckDB).
   */
  readonly tokenStore: "warehouse" | "file"
  /** Seals token sets stored in the warehouse (`KURA_TOKEN_ENCRYPTION_KEY`, e.g. an sm:// reference). */
  readonly tokenEncryptionKey: Option.Option<Redacted.Redacted<string>>
  /**
   * Source read knobs (`KURA_SHOPIFY_BULK`, `KURA_SHOPIFY_INVENTORY_FULL_EVERY_MS`,
   * `KURA_SHOPIFY_TRANSFERS_FULL_EVERY_MS`); absent ones keep the stream defaults.
   */
  readonly sourceTuning?: SourceTuning
}

/** The JSON config file (`--config kura.json` or `KURA_CONFIG`). Values may be `sm://` references. */
export const ConfigFile = Schema.Struct({
  warehouse: Schema.optionalKey(Schema.String),
  lake: Schema.optionalKey(Schema.String),
  port: Schema.optionalKey(Schema.Number),
  triggerSecret: Schema.optionalKey(Schema.String),
  oidcAudience: Schema.optionalKey(Schema.String),
  oidcServiceAccounts: Schema.optionalKey(Schema.Array(Schema.String)),
  stateDir: Schema.optionalKey(Schema.String),
  defaultInterval: Schema.optionalKey(Schema.String),
  drainTimeout: Schema.optionalKey(Schema.String),
  schedules: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  shopify: Schema.optionalKey(
    Schema.Array(
      Schema.Struct({
        shop: Schema.String,
        accessToken: Schema.optionalKey(Schema.String),
        clientId: Schema.optionalKey(Schema.String),
        clientSecret: Schema.optionalKey(Schema.String),
        apiVersion: Schema.optionalKey(Schema.String),
        apiBaseUrl: Schema.optionalKey(Schema.String),
        webhookSecret: Schema.optionalKey(Schema.String)
      })
    )
  ),
  lightspeed: Schema.optionalKey(
    Schema.Array(
      Schema.Struct({
        name: Schema.String,
        clientId: Schema.String,
        clientSecret: Schema.String,
        refreshToken: Schema.String,
        apiBaseUrl: Schema.optionalKey(Schema.String),
        tokenUrl: Schema.optionalKey(Schema.String),
        businessLocations: Schema.optionalKey(Schema.Array(Schema.Number))
      })
    )
  ),
  stocky: Schema.optionalKey(
    Schema.Array(
      Schema.Struct({
        storeName: Schema.String,
        apiKey: Schema.String,
        apiBaseUrl: Schema.optionalKey(Schema.String)
      })
    )
  ),
  demo: Schema.optionalKey(
    Schema.Array(
      Schema.Struct({
        name: Schema.String,
        pages: Schema.optionalKey(Schema.Number),
        rowsPerPage: Schema.optionalKey(Schema.Number),
        pageDelay: Schema.optionalKey(Schema.String)
      })
    )
  )
})
/** The decoded config file. */
export type ConfigFile = typeof ConfigFile.Type

/** Raw inputs: the environment and, optionally, the config file's path and text. */
export interface ConfigInput {
  readonly env: Readonly<Record<string, string | undefined>>
  readonly file?: { readonly path: string; readonly text: string } | undefined
}

const SHOP_DOMAIN = /^[a-z0-9][a-z0-9-]*\.myshopify\.com$/
const API_VERSION = /^(\d{4}-(01|04|07|10)|unstable)$/
const DURATION = /^(\d+)(ms|s|m|h|d)$/
const DURATION_UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const

/** Parses `30s`, `5m`, `1h`, `250ms`, `7d` into milliseconds. */
export const parseDuration = (text: string): Option.Option<number> => {
  const match = DURATION.exec(text.trim())
  if (match === null) return Option.none()
  const n = Number(match[1])
  const factor = DURATION_UNIT_MS[match[2] as keyof typeof DURATION_UNIT_MS]
  return n > 0 ? Option.some(n * factor) : Option.none()
}

/** An `http://` URL on the loopback interface: a local emulator, never a remote API. */
export const isLoopbackHttp = (value: string): boolean => {
  try {
    const url = new URL(value)
    return url.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname)
  } catch {
    return false
  }
}

const isHttpUrl = (value: string): boolean => {
  try {
    const url = new URL(value)
    return url.protocol === "http:" || url.protocol === "https:"
  } catch {
    return false
  }
}

/**
 * Resolves every `sm://` string (env values and file strings) first, so validation below sees
 * real values; resolution failures become problems like any other.
 */
const resolveReferences = Effect.fnUntraced(function* (
  values: ReadonlyArray<readonly [field: string, value: string]>,
  problems: Array<ConfigProblem>
) {
  const resolver = yield* SecretResolver
  const resolved = new Map<string, string>()
  for (const [field, value] of values) {
    if (!isSecretReference(value) || resolved.has(value)) continue
    const result = yield* Effect.result(resolver.resolve(value))
    if (result._tag === "Success") resolved.set(value, Redacted.value(result.success))
    else
      problems.push({
        field,
        message: `cannot resolve ${value}: ${result.failure.message}`,
        fix:
          result.failure.reason === "InvalidReference"
            ? "write it as sm://projects/<project>/secrets/<secret>/versions/latest"
            : "check that the secret exists and the service account has roles/secretmanager.secretAccessor"
      })
  }
  return resolved
})

const collectStrings = (value: unknown, path: string, out: Array<readonly [string, string]>): void => {
  if (typeof value === "string") out.push([path, value])
  else if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) collectStrings(v, `${path}[${i}]`, out)
  } else if (typeof value === "object" && value !== null)
    for (const [k, v] of Object.entries(value)) collectStrings(v, path === "" ? k : `${path}.${k}`, out)
}

const substitute = (value: unknown, resolved: ReadonlyMap<string, string>): unknown => {
  if (typeof value === "string") return resolved.get(value) ?? value
  if (Array.isArray(value)) return value.map((v) => substitute(v, resolved))
  if (typeof value === "object" && value !== null)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, resolved)]))
  return value
}

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

const decodeFile = (
  file: NonNullable<ConfigInput["file"]>,
  parsed: unknown,
  problems: Array<ConfigProblem>
): ConfigFile | undefined => {
  const result = Schema.decodeUnknownResult(ConfigFile)(parsed, { errors: "all", onExcessProperty: "error" })
  if (result._tag === "Success") return result.success
  for (const issue of formatter(result.failure.issue).issues) {
    const path = (issue.path ?? [])
      .map((p) => {
        const key = typeof p === "object" && p !== null && "key" in p ? p.key : p
        return typeof key === "number" ? `[${key}]` : `.${String(key)}`
      })
      .join("")
      .replace(/^\./, "")
    problems.push({
      field: `${file.path}: ${path === "" ? "(root)" : path}`,
      message: issue.message,
      fix: "see the config file reference in apps/sync-runner/README.md"
    })
  }
  return undefined
}

/**
 * Loads and validates the configuration. Fails with a ConfigError listing every problem; sources
 * with no credentials at all are skipped and listed in `skipped`, not treated as errors.
 */
export const loadAppConfig = Effect.fn("AppConfig.load")(function* (input: ConfigInput) {
  const problems: Array<ConfigProblem> = []

  let rawFile: unknown
  if (input.file !== undefined) {
    try {
      rawFile = JSON.parse(input.file.text)
    } catch (cause) {
      problems.push({
        field: input.file.path,
        message: `not valid JSON (${cause instanceof Error ? cause.message : String(cause)})`,
        fix: "fix the JSON syntax"
      })
    }
  }

  const refs: Array<readonly [string, string]> = []
  for (const [k, v] of Object.entries(input.env)) if (v !== undefined) refs.push([k, v])
  if (rawFile !== undefined && input.file !== undefined) collectStrings(rawFile, `${input.file.path}:`, refs)
  const resolved = yield* resolveReferences(
    refs.map(([f, v]) => [f.replace(/:\.?/, ": "), v] as const),
    problems
  )

  const env = (name: string): string | undefined => {
    const v = input.env[name]
    if (v === undefined || v.trim() === "") return undefined
    return resolved.get(v) ?? v
  }
  const file =
    rawFile !== undefined && input.file !== undefined
      ? decodeFile(input.file, substitute(rawFile, resolved), problems)
      : undefined
  const fp = input.file?.path ?? "config"

  const problem = (field: string, message: string, fix: string) => problems.push({ field, message, fix })
  const url = (field: string, value: string | undefined): Option.Option<string> => {
    if (value === undefined) return Option.none()
    if (!isHttpUrl(value)) {
      problem(field, `"${value}" is not an http(s) URL`, "give a full URL such as http://127.0.0.1:4000")
      return Option.none()
    }
    return Option.some(value.replace(/\/$/, ""))
  }
  const duration = (field: string, value: string | undefined, fallback: number): number => {
    if (value === undefined) return fallback
    const parsed = parseDuration(value)
    if (Option.isNone(parsed)) {
      problem(
        field,
        `"${value}" is not a duration`,
        "write a positive number with a unit: 250ms, 30s, 15m or 1h"
      )
      return fallback
    }
    return parsed.value
  }
  const shopDomain = (field: string, value: string): string => {
    const v = value.trim().toLowerCase()
    if (!SHOP_DOMAIN.test(v))
      problem(
        field,
        `"${value}" is not a myshopify.com domain`,
        "use the shop's permanent domain, e.g. kura-matcha.myshopify.com"
      )
    return v
  }
  const apiVersion = (field: string, value: string | undefined): string => {
    if (value === undefined) return DEFAULT_API_VERSION
    if (!API_VERSION.test(value))
      problem(
        field,
        `"${value}" is not a Shopify API version`,
        `use a quarterly version such as ${DEFAULT_API_VERSION}`
      )
    return value
  }

  const skipped: Array<SkippedSource> = []

  // Shopify: env describes one shop; the file may add more.
  const shopify: Array<ShopifyShopConfig> = []
  {
    const shop = env("SHOPIFY_SHOP")
    const token = env("SHOPIFY_ACCESS_TOKEN")
    const clientId = env("SHOPIFY_CLIENT_ID")
    const clientSecret = env("SHOPIFY_CLIENT_SECRET")
    const any = shop ?? token ?? clientId ?? clientSecret
    if (any === undefined) {
      if ((file?.shopify ?? []).length === 0)
        skipped.push({ source: "shopify", reason: "no SHOPIFY_SHOP and no shopify entry in the config file" })
    } else {
      if (shop === undefined)
        problem(
          "SHOPIFY_SHOP",
          "missing while other SHOPIFY_* credentials are set",
          "set it to the shop's myshopify.com domain"
        )
      if (clientId !== undefined && clientSecret === undefined)
        problem(
          "SHOPIFY_CLIENT_SECRET",
          "missing while SHOPIFY_CLIENT_ID is set",
          "set the app's client secret from the Dev Dashboard"
        )
      if (clientSecret !== undefined && clientId === undefined)
        problem(
          "SHOPIFY_CLIENT_ID",
          "missing while SHOPIFY_CLIENT_SECRET is set",
          "set the app's client id from the Dev Dashboard"
        )
      if (token === undefined && clientId === undefined && clientSecret === undefined)
        problem(
          "SHOPIFY_ACCESS_TOKEN",
          "no credentials for SHOPIFY_SHOP",
          "set SHOPIFY_ACCESS_TOKEN, or SHOPIFY_CLIENT_ID and SHOPIFY_CLIENT_SECRET"
        )
      if (shop !== undefined) {
        const domain = shopDomain("SHOPIFY_SHOP", shop)
        const auth: ShopifyAuth | undefined =
          token !== undefined
            ? { _tag: "AccessToken", accessToken: Redacted.make(token) }
            : clientId !== undefined && clientSecret !== undefined
              ? { _tag: "ClientCredentials", clientId, clientSecret: Redacted.make(clientSecret) }
              : undefined
        const version = apiVersion("SHOPIFY_API_VERSION", env("SHOPIFY_API_VERSION"))
        const base = url("SHOPIFY_API_BASE_URL", env("SHOPIFY_API_BASE_URL"))
        const webhookSecret = env("SHOPIFY_WEBHOOK_SECRET")
        if (auth !== undefined)
          shopify.push({
            shop: domain,
            auth,
            apiVersion: version,
            apiBaseUrl: base,
            webhookSecret:
              webhookSecret === undefined ? Option.none() : Option.some(Redacted.make(webhookSecret))
          })
      }
    }
    ;(file?.shopify ?? []).forEach((s, i) => {
      const at = `${fp}: shopify[${i}]`
      const domain = shopDomain(`${at}.shop`, s.shop)
      let auth: ShopifyAuth | undefined
      if (s.accessToken !== undefined)
        auth = { _tag: "AccessToken", accessToken: Redacted.make(s.accessToken) }
      else if (s.clientId !== undefined && s.clientSecret !== undefined)
        auth = {
          _tag: "ClientCredentials",
          clientId: s.clientId,
          clientSecret: Redacted.make(s.clientSecret)
        }
      else problem(`${at}`, `no credentials for ${s.shop}`, "add accessToken, or clientId and clientSecret")
      const version = apiVersion(`${at}.apiVersion`, s.apiVersion)
      const base = url(`${at}.apiBaseUrl`, s.apiBaseUrl)
      if (shopify.some((x) => x.shop === domain))
        problem(
          `${at}.shop`,
          `${domain} is configured twice`,
          "keep one entry per shop (the environment counts as one)"
        )
      if (auth !== undefined)
        shopify.push({
          shop: domain,
          auth,
          apiVersion: version,
          apiBaseUrl: base,
          webhookSecret:
            s.webhookSecret === undefined ? Option.none() : Option.some(Redacted.make(s.webhookSecret))
        })
    })
  }

  // Lightspeed K-Series.
  const lightspeed: Array<LightspeedAccountConfig> = []
  {
    const names = ["LIGHTSPEED_CLIENT_ID", "LIGHTSPEED_CLIENT_SECRET", "LIGHTSPEED_REFRESH_TOKEN"] as const
    const present = names.filter((n) => env(n) !== undefined)
    const locationsText = env("LIGHTSPEED_BUSINESS_LOCATIONS")
    const locations: Array<number> = []
    if (locationsText !== undefined)
      for (const part of locationsText.split(",").map((p) => p.trim())) {
        if (/^\d+$/.test(part)) locations.push(Number(part))
        else
          problem(
            "LIGHTSPEED_BUSINESS_LOCATIONS",
            `"${part}" is not a business location id`,
            "give numeric business location ids separated by commas, e.g. 45454565682155,45454565682156"
          )
      }
    if (present.length === 0) {
      if ((file?.lightspeed ?? []).length === 0)
        skipped.push({
          source: "lightspeed",
          reason: "no LIGHTSPEED_* credentials and no lightspeed entry in the config file"
        })
    } else if (present.length < names.length) {
      for (const n of names)
        if (env(n) === undefined)
          problem(
            n,
            "missing while other LIGHTSPEED_* credentials are set",
            "set all three of LIGHTSPEED_CLIENT_ID, LIGHTSPEED_CLIENT_SECRET and LIGHTSPEED_REFRESH_TOKEN"
          )
    } else {
      lightspeed.push({
        name: "default",
        clientId: env("LIGHTSPEED_CLIENT_ID")!,
        clientSecret: Redacted.make(env("LIGHTSPEED_CLIENT_SECRET")!),
        refreshToken: Redacted.make(env("LIGHTSPEED_REFRESH_TOKEN")!),
        apiBaseUrl: url("LIGHTSPEED_API_BASE_URL", env("LIGHTSPEED_API_BASE_URL")),
        tokenUrl: url("LIGHTSPEED_TOKEN_URL", env("LIGHTSPEED_TOKEN_URL")),
        businessLocations: locations
      })
    }
    ;(file?.lightspeed ?? []).forEach((a, i) => {
      const at = `${fp}: lightspeed[${i}]`
      if (lightspeed.some((x) => x.name === a.name))
        problem(
          `${at}.name`,
          `account name "${a.name}" is used twice`,
          "give every POS account a unique name"
        )
      const bad = (a.businessLocations ?? []).filter((n) => !Number.isSafeInteger(n) || n <= 0)
      if (bad.length > 0)
        problem(
          `${at}.businessLocations`,
          `${bad.join(", ")} not valid ids`,
          "list positive integer business location ids"
        )
      lightspeed.push({
        name: a.name,
        clientId: a.clientId,
        clientSecret: Redacted.make(a.clientSecret),
        refreshToken: Redacted.make(a.refreshToken),
        apiBaseUrl: url(`${at}.apiBaseUrl`, a.apiBaseUrl),
        tokenUrl: url(`${at}.tokenUrl`, a.tokenUrl),
        businessLocations: a.businessLocations ?? []
      })
    })
  }

  // K-Series credentials (client secret, refresh and access tokens) never travel in clear: the
  // client refuses http://, which surfaced only when each stream ran. Only an emulator on this
  // machine may be plain HTTP.
  lightspeed.forEach((a, i) => {
    const at = a.name === "default" && i === 0 && env("LIGHTSPEED_CLIENT_ID") !== undefined
    for (const [key, value] of [
      ["apiBaseUrl", a.apiBaseUrl],
      ["tokenUrl", a.tokenUrl]
    ] as const) {
      if (Option.isNone(value) || !value.value.startsWith("http://") || isLoopbackHttp(value.value)) continue
      problem(
        at
          ? key === "apiBaseUrl"
            ? "LIGHTSPEED_API_BASE_URL"
            : "LIGHTSPEED_TOKEN_URL"
          : `${fp}: lightspeed[${i}].${key}`,
        `"${value.value}" is plain http:// to another machine (the OAuth credentials would travel in clear)`,
        "use https://; http:// is accepted only for an emulator on 127.0.0.1 or localhost"
      )
    }
  })

  // Stocky.
  const stocky: Array<StockyStoreConfig> = []
  {
    const store = env("STOCKY_STORE_NAME")
    const key = env("STOCKY_API_KEY")
    if (store === undefined && key === undefined) {
      if ((file?.stocky ?? []).length === 0)
        skipped.push({
          source: "stocky",
          reason: "no STOCKY_STORE_NAME/STOCKY_API_KEY and no stocky entry in the config file"
        })
    } else if (store === undefined) {
      problem(
        "STOCKY_STORE_NAME",
        "missing while STOCKY_API_KEY is set",
        "set it to the shop's myshopify.com domain"
      )
    } else if (key === undefined) {
      problem(
        "STOCKY_API_KEY",
        "missing while STOCKY_STORE_NAME is set",
        "copy the API key from Stocky > Preferences > API"
      )
    } else {
      stocky.push({
        storeName: shopDomain("STOCKY_STORE_NAME", store),
        apiKey: Redacted.make(key),
        apiBaseUrl: url("STOCKY_API_BASE_URL", env("STOCKY_API_BASE_URL"))
      })
    }
    ;(file?.stocky ?? []).forEach((s, i) => {
      const at = `${fp}: stocky[${i}]`
      stocky.push({
        storeName: shopDomain(`${at}.storeName`, s.storeName),
        apiKey: Redacted.make(s.apiKey),
        apiBaseUrl: url(`${at}.apiBaseUrl`, s.apiBaseUrl)
      })
    })
  }

  // Demo streams (synthetic; only from the config file).
  const demo: Array<DemoStreamConfig> = (file?.demo ?? []).map((d, i) => {
    const at = `${fp}: demo[${i}]`
    const int = (field: string, v: number | undefined, fallback: number) => {
      if (v === undefined) return fallback
      if (!Number.isSafeInteger(v) || v <= 0)
        problem(`${at}.${field}`, `${v} is not a positive integer`, "use a whole number above 0")
      return v
    }
    return {
      name: d.name,
      pages: int("pages", d.pages, 5),
      rowsPerPage: int("rowsPerPage", d.rowsPerPage, 100),
      pageDelayMs: duration(`${at}.pageDelay`, d.pageDelay, 100)
    }
  })

  const sandboxText = env("KURA_SANDBOX")
  let sandbox = false
  if (sandboxText !== undefined) {
    if (["1", "true", "yes"].includes(sandboxText.toLowerCase())) sandbox = true
    else if (!["0", "false", "no"].includes(sandboxText.toLowerCase()))
      problem(
        "KURA_SANDBOX",
        `"${sandboxText}" is not a boolean`,
        "set KURA_SANDBOX=1 to use the built-in sandbox, or unset it"
      )
  }

  // Same grammar and messages as @kura/warehouse, so the app and the library never disagree.
  const warehouse = env("KURA_WAREHOUSE") ?? file?.warehouse ?? WarehouseConfig.DEFAULT_WAREHOUSE
  const warehouseField = env("KURA_WAREHOUSE") !== undefined ? "KURA_WAREHOUSE" : `${fp}: warehouse`
  const warehouseTarget = yield* Effect.result(WarehouseConfig.parseWarehouse(warehouse))
  if (warehouseTarget._tag === "Failure")
    problem(
      warehouseField,
      warehouseTarget.failure.message.replace(/^KURA_WAREHOUSE=/, ""),
      "use duckdb:<file> (local) or bigquery:<project>.<dataset>"
    )

  const lake = env("KURA_LAKE") ?? file?.lake ?? WarehouseConfig.DEFAULT_LAKE
  const lakeField = env("KURA_LAKE") !== undefined ? "KURA_LAKE" : `${fp}: lake`
  const lakeTarget = yield* Effect.result(WarehouseConfig.parseLake(lake))
  if (lakeTarget._tag === "Failure")
    problem(
      lakeField,
      lakeTarget.failure.message.replace(/^KURA_LAKE=/, ""),
      "use file:<directory> (local) or gs://<bucket>[/prefix]"
    )
  if (
    warehouseTarget._tag === "Success" &&
    warehouseTarget.success.kind === "bigquery" &&
    lakeTarget._tag === "Success" &&
    lakeTarget.success.kind !== "gcs"
  )
    problem(
      lakeField,
      "BigQuery loads through Cloud Storage, but the lake is local",
      "set the lake to gs://<bucket>/<prefix>"
    )
  const tokenStoreText = env("KURA_TOKEN_STORE")
  if (tokenStoreText !== undefined && tokenStoreText !== "warehouse" && tokenStoreText !== "file")
    problem(
      "KURA_TOKEN_STORE",
      `"${tokenStoreText}" is not a token store`,
      "use warehouse (durable, shared by every process) or file (<stateDir>/tokens.json), or unset it"
    )
  const tokenEncryptionText = env("KURA_TOKEN_ENCRYPTION_KEY")
  const bigQueryLocation = env("KURA_BIGQUERY_LOCATION")
  const retentionText = env("KURA_LAKE_RETENTION_DAYS")
  if (retentionText !== undefined && !/^[1-9]\d*$/.test(retentionText))
    problem(
      "KURA_LAKE_RETENTION_DAYS",
      `"${retentionText}" is not a number of days`,
      "use a whole number of days, at least 1"
    )

  const connectionsText = env("KURA_DUCKDB_CONNECTIONS")?.trim()
  const maxConnections = DuckDbWarehouse.MAX_CONNECTIONS
  if (connectionsText !== undefined && connectionsText !== "" && !/^[1-9]\d*$/.test(connectionsText))
    problem(
      "KURA_DUCKDB_CONNECTIONS",
      `"${connectionsText}" is not a number of connections`,
      `use a whole number from 1 to ${maxConnections} (default ${DuckDbWarehouse.DEFAULT_CONNECTIONS}), or unset it`
    )
  else if (
    connectionsText !== undefined &&
    connectionsText !== "" &&
    Number(connectionsText) > maxConnections
  )
    problem(
      "KURA_DUCKDB_CONNECTIONS",
      `${connectionsText} connections is more than ${maxConnections}`,
      `use a whole number from 1 to ${maxConnections} (default ${DuckDbWarehouse.DEFAULT_CONNECTIONS}), or unset it`
    )

  let port = 8080
  const portText = env("PORT")
  if (portText !== undefined) {
    if (/^\d+$/.test(portText) && Number(portText) <= 65535) port = Number(portText)
    else
      problem(
        "PORT",
        `"${portText}" is not a TCP port`,
        "set a number between 0 and 65535 (Cloud Run sets it for you)"
      )
  } else if (file?.port !== undefined) {
    if (Number.isSafeInteger(file.port) && file.port >= 0 && file.port <= 65535) port = file.port
    else problem(`${fp}: port`, `${file.port} is not a TCP port`, "use a number between 0 and 65535")
  }

  const secretText = env("KURA_TRIGGER_SECRET") ?? file?.triggerSecret
  if (secretText !== undefined && secretText.length < 16)
    problem(
      env("KURA_TRIGGER_SECRET") !== undefined ? "KURA_TRIGGER_SECRET" : `${fp}: triggerSecret`,
      "shorter than 16 characters",
      "generate one with `openssl rand -hex 32`"
    )
  const audience = env("KURA_OIDC_AUDIENCE") ?? file?.oidcAudience
  const invokersText = env("KURA_OIDC_SERVICE_ACCOUNTS")
  const invokers =
    invokersText !== undefined
      ? invokersText
          .split(",")
          .map((e) => e.trim())
          .filter((e) => e !== "")
      : [...(file?.oidcServiceAccounts ?? [])]
  for (const e of invokers)
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(e))
      problem(
        "KURA_OIDC_SERVICE_ACCOUNTS",
        `"${e}" is not an email address`,
        "list service account emails, e.g. kura-scheduler@my-project.iam.gserviceaccount.com"
      )
  if (audience !== undefined && invokers.length === 0)
    problem(
      "KURA_OIDC_SERVICE_ACCOUNTS",
      "missing while KURA_OIDC_AUDIENCE is set (any Google account can mint a token for an audience)",
      "set it to the Cloud Scheduler service account email(s), comma-separated"
    )

  const schedules: Record<string, number> = {}
  for (const [key, value] of Object.entries(file?.schedules ?? {})) {
    const [source] = key.split("/")
    if (!SOURCES.some((s) => s === source))
      problem(
        `${fp}: schedules.${key}`,
        `unknown source "${source}"`,
        `key schedules by ${SOURCES.join(", ")} or source/stream`
      )
    schedules[key] = duration(`${fp}: schedules.${key}`, value, 0)
  }
  const defaultIntervalMs = duration(`${fp}: defaultInterval`, file?.defaultInterval, 15 * 60_000)
  const drainTimeoutMs = duration(
    env("KURA_DRAIN_TIMEOUT") !== undefined ? "KURA_DRAIN_TIMEOUT" : `${fp}: drainTimeout`,
    env("KURA_DRAIN_TIMEOUT") ?? file?.drainTimeout,
    8_000
  )
  const project = env("GOOGLE_CLOUD_PROJECT") ?? env("GCLOUD_PROJECT")

  const tuning = parseSourceTuning(input.env)
  for (const p of tuning.problems) problem(p.field, p.message, p.fix)

  if (problems.length > 0) return yield* new ConfigError({ problems })

  // From here on, @kura/core's logger and error excerpts mask these values wherever they appear.
  registerSecret(
    ...shopify.flatMap((s) => [
      s.auth._tag === "AccessToken" ? s.auth.accessToken : s.auth.clientSecret,
      ...Option.toArray(s.webhookSecret)
    ]),
    ...lightspeed.flatMap((a) => [a.clientSecret, a.refreshToken]),
    ...stocky.map((s) => s.apiKey),
    ...(secretText === undefined ? [] : [secretText])
  )

  const config: AppConfig = {
    shopify,
    lightspeed,
    stocky,
    demo,
    skipped,
    warehouse,
    lake,
    sandbox,
    localEmulator: [
      ...shopify.map((x) => x.apiBaseUrl),
      ...lightspeed.flatMap((x) => [x.apiBaseUrl, x.tokenUrl]),
      ...stocky.map((x) => x.apiBaseUrl)
    ].some((u) => Option.isSome(u) && isLoopbackHttp(u.value)),
    port,
    triggerSecret: secretText === undefined ? Option.none() : Option.some(Redacted.make(secretText)),
    oidcAudience: Option.fromNullishOr(audience),
    oidcServiceAccounts: invokers,
    schedules,
    defaultIntervalMs,
    drainTimeoutMs,
    project: Option.fromNullishOr(project),
    warehouseSettings: {
      // Both parsed, or we would have returned with problems above.
      warehouse:
        warehouseTarget._tag === "Success" ? warehouseTarget.success : { kind: "duckdb", path: ":memory:" },
      lake: lakeTarget._tag === "Success" ? lakeTarget.success : { kind: "file", dir: "." },
      bigQueryLocation: Option.fromNullishOr(bigQueryLocation),
      lakeRetentionDays: retentionText === undefined ? Option.none() : Option.some(Number(retentionText)),
      ...(connectionsText === undefined || connectionsText === ""
        ? {}
        : { duckDbConnections: Number(connectionsText) })
    },
    // The warehouse by default, on DuckDB too: kura-backfill defaults to it as well, and two tools
    // reading different stores would each spend the other's single-use Lightspeed refresh token.
    tokenStore: tokenStoreText === "file" ? "file" : "warehouse",
    sourceTuning: tuning.tuning,
    tokenEncryptionKey:
      tokenEncryptionText === undefined ? Option.none() : Option.some(Redacted.make(tokenEncryptionText)),
    stateDir:
      env("KURA_STATE_DIR") ??
      file?.stateDir ??
      (lakeTarget._tag === "Success" && lakeTarget.success.kind === "file"
        ? `${lakeTarget.success.dir}/_state`
        : ".kura-state")
  }
  return config
})

/** The run interval of one stream: `source/stream` beats `source` beats the default. */
export const intervalFor = (config: AppConfig, source: string, stream: string): number =>
  config.schedules[`${source}/${stream}`] ?? config.schedules[source] ?? config.defaultIntervalMs

/**
 * Local stores checked before anything opens them (see `localStoreProblems`); `fields` name where
 * each value came from.
 */
export const checkLocalStores = (
  settings: WarehouseConfig.WarehouseSettings,
  fields: { readonly warehouse: string; readonly lake: string }
): ReadonlyArray<ConfigProblem> =>
  localStoreProblems({
    duckdbFile: settings.warehouse.kind === "duckdb" ? settings.warehouse.path : null,
    lakeDir: settings.lake.kind === "file" ? settings.lake.dir : null
  }).map((p) => ({ field: fields[p.store], message: p.message, fix: p.fix }))
