/**
 * Everything that differs between Lightspeed K-Series tenants: environment (trial or production),
 * login server (V1 `/oauth/token` with a Basic header, or the V2 Keycloak realm with credentials
 * in the body), which Financial API attributes back-office edits, and the operator's request
 * ceiling. All of it is configuration because Lightspeed migrates clients between these options.
 */
import { Config, Duration, Effect, Option, Redacted, Schema } from "effect"

/** Trial ("demo") or production; a K-Series API client only works on the server it was issued for. */
export type LightspeedEnvironment = "production" | "trial"

/** V1: `/oauth/token` on the API host. V2: Keycloak login server (clients created since November 2025). */
export type LightspeedAuthVersion = "v1" | "v2"

/**
 * How the client authenticates at the token endpoint.
 * - `basic-raw`: `Authorization: Basic base64(client_id:client_secret)` with nothing URL-encoded
 *   (what K-Series V1 accepts).
 * - `basic-encoded`: RFC 6749 §2.3.1 form-encoding of id and secret before base64 (openid-client's default Basic).
 * - `post`: `client_id` and `client_secret` in the form body (V2).
 */
export type LightspeedClientAuthMethod = "basic-raw" | "basic-encoded" | "post"

/**
 * Which Financial API reads business days.
 * - `v1`: back-office edits (payment-method changes, cancels) are dated to the ORIGINAL business
 *   date, so a past day can change after it was read. Use it to reconcile by business date.
 * - `v2`: back-office edits appear on the day they were made; past days never change, but a day's
 *   totals then include corrections of earlier days.
 */
export type FinancialsApi = "v1" | "v2"

/** API hosts per environment. Response `_links` may still name api.ikentoo.com; we never follow that host. */
export const API_BASE_URLS: Readonly<Record<LightspeedEnvironment, string>> = {
  production: "https://api.lsk.lightspeed.app",
  trial: "https://api.trial.lsk.lightspeed.app"
}

/** Token endpoint presets per login-server version and environment. */
export const TOKEN_URLS: Readonly<
  Record<LightspeedAuthVersion, Readonly<Record<LightspeedEnvironment, string>>>
> = {
  v1: {
    production: "https://api.lsk.lightspeed.app/oauth/token",
    trial: "https://api.trial.lsk.lightspeed.app/oauth/token"
  },
  v2: {
    production: "https://auth.lsk-prod.app/realms/k-series/protocol/openid-connect/token",
    trial: "https://auth.lsk-demo.app/realms/k-series/protocol/openid-connect/token"
  }
}

/** Authorisation endpoint presets (where an operator approves access in a browser). */
export const AUTHORIZE_URLS: Readonly<
  Record<LightspeedAuthVersion, Readonly<Record<LightspeedEnvironment, string>>>
> = {
  v1: {
    production: "https://api.lsk.lightspeed.app/oauth/authorize",
    trial: "https://api.trial.lsk.lightspeed.app/oauth/authorize"
  },
  v2: {
    production: "https://auth.lsk-prod.app/realms/k-series/protocol/openid-connect/auth",
    trial: "https://auth.lsk-demo.app/realms/k-series/protocol/openid-connect/auth"
  }
}

/** The fully resolved configuration the client runs with (see `makeConfig` for defaults). */
export interface LightspeedConfig {
  readonly environment: LightspeedEnvironment
  readonly authVersion: LightspeedAuthVersion
  /** API base URL without a trailing slash. */
  readonly apiBaseUrl: string
  readonly tokenUrl: string
  readonly authorizeUrl: string
  readonly clientAuthMethod: LightspeedClientAuthMethod
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
  /** TokenStore key of this credential, e.g. `lightspeed:devp-abc:12345`. */
  readonly tokenKey: string
  /**
   * The account name dead letters carry (`StreamKey.account`), so they group with the caller's own
   * streams and checkpoints; the client id unless given.
   */
  readonly account: string
  /** Refresh this long before the access token expires, so no request carries a dying token. */
  readonly refreshSkew: Duration.Duration
  /** K-Series V1 refresh tokens expire after this long unused (14 days); V2 reports its own. */
  readonly refreshIdleTtl: Duration.Duration
  /** Log a warning when the refresh token has less than this left. */
  readonly refreshWarnBefore: Duration.Duration
  readonly financialsApi: FinancialsApi
  /** Operator ceiling in requests per second across this client; null leaves only the adaptive limiter. */
  readonly maxRequestsPerSecond: number | null
  /** Where the adaptive limiter starts (requests per second); it then adapts to 429s. */
  readonly initialRequestsPerSecond: number
  /** Attempts per request (first try included) for retryable failures. */
  readonly maxAttempts: number
  /** First retry backoff ceiling (doubles per attempt, full jitter, capped at 30 s). */
  readonly retryBaseDelay: Duration.Duration
  /**
   * Page sizes: V1 financials (≤1000), V2 sales (≤100), items (≤1000: the docs say 100, a newer
   * harvest 1000; above 100 a refusal falls back to 100 and a silent clamp is detected), item
   * availability (≤100).
   */
  readonly financialsPageSize: number
  readonly salesPageSize: number
  readonly itemsPageSize: number
  readonly availabilityPageSize: number
  /** Per-request timeout. */
  readonly requestTimeout: Duration.Duration
  /** Allows http:// endpoints (local emulators only). */
  readonly allowInsecureRequests: boolean
}

/** Raised when configuration is unusable; `field` names the setting and `message` says how to fix it. */
export class LightspeedConfigError extends Schema.TaggedError<LightspeedConfigError>()(
  "LightspeedConfigError",
  {
    field: Schema.String,
    message: Schema.String
  }
) {}

/** Inputs to `makeConfig`: only the client id and secret are required. */
export interface LightspeedConfigInput {
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string> | string
  readonly environment?: LightspeedEnvironment
  readonly authVersion?: LightspeedAuthVersion
  readonly apiBaseUrl?: string
  readonly tokenUrl?: string
  readonly authorizeUrl?: string
  readonly clientAuthMethod?: LightspeedClientAuthMethod
  readonly tokenKey?: string
  /** Name of the account in dead-letter keys (default: the client id). */
  readonly account?: string
  readonly refreshSkew?: Duration.Input
  readonly refreshIdleTtl?: Duration.Input
  readonly refreshWarnBefore?: Duration.Input
  readonly financialsApi?: FinancialsApi
  readonly maxRequestsPerSecond?: number | null
  readonly initialRequestsPerSecond?: number
  readonly maxAttempts?: number
  readonly retryBaseDelay?: Duration.Input
  readonly financialsPageSize?: number
  readonly salesPageSize?: number
  readonly itemsPageSize?: number
  readonly availabilityPageSize?: number
  readonly requestTimeout?: Duration.Input
  readonly allowInsecureRequests?: boolean
}

const checkUrl = (
  field: string,
  value: string,
  allowInsecure: boolean
): Effect.Effect<string, LightspeedConfigError> => {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return Effect.fail(
      new LightspeedConfigError({ field, message: `${field} must be an absolute URL, got "${value}"` })
    )
  }
  if (url.protocol !== "https:" && !(allowInsecure && url.protocol === "http:")) {
    return Effect.fail(
      new LightspeedConfigError({
        field,
        message: `${field} must use https:// (got ${url.protocol}//); set allowInsecureRequests only for a local emulator`
      })
    )
  }
  return Effect.succeed(value.replace(/\/+$/, ""))
}

const checkRange = (
  field: string,
  value: number,
  min: number,
  max: number
): Effect.Effect<number, LightspeedConfigError> =>
  Number.isInteger(value) && value >= min && value <= max
    ? Effect.succeed(value)
    : Effect.fail(
        new LightspeedConfigError({
          field,
          message: `${field} must be an integer from ${min} to ${max}, got ${value}`
        })
      )

/**
 * Validates the input and fills in defaults: presets from `environment` + `authVersion`,
 * `basic-raw` client authentication for V1 and `post` for V2, 5 minutes refresh skew, 14 days
 * refresh idle TTL (warning 3 days before), financials V1, maximum page sizes.
 */
export const makeConfig = Effect.fnUntraced(function* (input: LightspeedConfigInput) {
  const environment = input.environment ?? "production"
  const authVersion = input.authVersion ?? "v1"
  const insecure = input.allowInsecureRequests ?? false
  if (input.clientId.trim() === "") {
    return yield* new LightspeedConfigError({
      field: "clientId",
      message:
        "clientId is empty: use the API client id from the Lightspeed developer portal (devp-… or devp-v2-…)"
    })
  }
  const secret =
    typeof input.clientSecret === "string" ? Redacted.make(input.clientSecret) : input.clientSecret
  if (Redacted.value(secret).trim() === "") {
    return yield* new LightspeedConfigError({
      field: "clientSecret",
      message: "clientSecret is empty: use the secret issued with the API client"
    })
  }
  if (authVersion === "v1" && input.clientId.startsWith("devp-v2-") && input.tokenUrl === undefined) {
    return yield* new LightspeedConfigError({
      field: "authVersion",
      message: `client id ${input.clientId} is a V2 client (devp-v2-…): set authVersion to "v2"`
    })
  }
  const maxRps = input.maxRequestsPerSecond ?? null
  if (maxRps !== null && !(maxRps > 0 && Number.isFinite(maxRps))) {
    return yield* new LightspeedConfigError({
      field: "maxRequestsPerSecond",
      message: `maxRequestsPerSecond must be a positive number or null, got ${maxRps}`
    })
  }
  const initialRps = input.initialRequestsPerSecond
  if (initialRps !== undefined && !(initialRps > 0 && Number.isFinite(initialRps))) {
    return yield* new LightspeedConfigError({
      field: "initialRequestsPerSecond",
      message: `initialRequestsPerSecond must be a positive number, got ${initialRps}`
    })
  }
  const config: LightspeedConfig = {
    environment,
    authVersion,
    apiBaseUrl: yield* checkUrl("apiBaseUrl", input.apiBaseUrl ?? API_BASE_URLS[environment], insecure),
    tokenUrl: yield* checkUrl("tokenUrl", input.tokenUrl ?? TOKEN_URLS[authVersion][environment], insecure),
    authorizeUrl: yield* checkUrl(
      "authorizeUrl",
      input.authorizeUrl ?? AUTHORIZE_URLS[authVersion][environment],
      insecure
    ),
    clientAuthMethod: input.clientAuthMethod ?? (authVersion === "v1" ? "basic-raw" : "post"),
    clientId: input.clientId,
    clientSecret: secret,
    tokenKey: input.tokenKey ?? `lightspeed:${environment}:${input.clientId}`,
    account: input.account?.trim() || input.clientId,
    refreshSkew: Duration.fromInputUnsafe(input.refreshSkew ?? "5 minutes"),
    refreshIdleTtl: Duration.fromInputUnsafe(input.refreshIdleTtl ?? "14 days"),
    refreshWarnBefore: Duration.fromInputUnsafe(input.refreshWarnBefore ?? "3 days"),
    financialsApi: input.financialsApi ?? "v1",
    maxRequestsPerSecond: maxRps,
    initialRequestsPerSecond: Math.min(
      input.initialRequestsPerSecond ?? 10,
      maxRps ?? Number.POSITIVE_INFINITY
    ),
    maxAttempts: yield* checkRange("maxAttempts", input.maxAttempts ?? 6, 1, 50),
    retryBaseDelay: Duration.fromInputUnsafe(input.retryBaseDelay ?? "500 millis"),
    financialsPageSize: yield* checkRange("financialsPageSize", input.financialsPageSize ?? 1000, 1, 1000),
    salesPageSize: yield* checkRange("salesPageSize", input.salesPageSize ?? 100, 1, 100),
    // The docs say 100, a newer harvest 1000 (UNCONFIRMED): above 100 the client handles both.
    itemsPageSize: yield* checkRange("itemsPageSize", input.itemsPageSize ?? 100, 1, 1000),
    availabilityPageSize: yield* checkRange(
      "availabilityPageSize",
      input.availabilityPageSize ?? 100,
      1,
      100
    ),
    requestTimeout: Duration.fromInputUnsafe(input.requestTimeout ?? "120 seconds"),
    allowInsecureRequests: insecure
  }
  return config
})

/**
 * Reads the configuration from Effect `Config` (environment variables by default):
 * `LIGHTSPEED_CLIENT_ID`, `LIGHTSPEED_CLIENT_SECRET` (required), and optionally
 * `LIGHTSPEED_ENVIRONMENT` (production|trial), `LIGHTSPEED_AUTH_VERSION` (v1|v2),
 * `LIGHTSPEED_API_BASE_URL`, `LIGHTSPEED_TOKEN_URL`, `LIGHTSPEED_AUTHORIZE_URL`,
 * `LIGHTSPEED_CLIENT_AUTH` (basic-raw|basic-encoded|post), `LIGHTSPEED_TOKEN_KEY`,
 * `LIGHTSPEED_FINANCIALS_API` (v1|v2), `LIGHTSPEED_MAX_RPS`, `LIGHTSPEED_REFRESH_SKEW`.
 */
export const configFromEnv = Config.all({
  clientId: Config.String("LIGHTSPEED_CLIENT_ID"),
  clientSecret: Config.Redacted("LIGHTSPEED_CLIENT_SECRET"),
  environment: Config.option(Config.Literals(["production", "trial"], "LIGHTSPEED_ENVIRONMENT")),
  authVersion: Config.option(Config.Literals(["v1", "v2"], "LIGHTSPEED_AUTH_VERSION")),
  apiBaseUrl: Config.option(Config.String("LIGHTSPEED_API_BASE_URL")),
  tokenUrl: Config.option(Config.String("LIGHTSPEED_TOKEN_URL")),
  authorizeUrl: Config.option(Config.String("LIGHTSPEED_AUTHORIZE_URL")),
  clientAuthMethod: Config.option(
    Config.Literals(["basic-raw", "basic-encoded", "post"], "LIGHTSPEED_CLIENT_AUTH")
  ),
  tokenKey: Config.option(Config.String("LIGHTSPEED_TOKEN_KEY")),
  financialsApi: Config.option(Config.Literals(["v1", "v2"], "LIGHTSPEED_FINANCIALS_API")),
  maxRequestsPerSecond: Config.option(Config.Finite("LIGHTSPEED_MAX_RPS")),
  refreshSkew: Config.option(Config.Duration("LIGHTSPEED_REFRESH_SKEW"))
}).pipe(
  Config.map((c): LightspeedConfigInput => {
    const input: { -readonly [K in keyof LightspeedConfigInput]: LightspeedConfigInput[K] } = {
      clientId: c.clientId,
      clientSecret: c.clientSecret
    }
    if (Option.isSome(c.environment)) input.environment = c.environment.value
    if (Option.isSome(c.authVersion)) input.authVersion = c.authVersion.value
    if (Option.isSome(c.apiBaseUrl)) input.apiBaseUrl = c.apiBaseUrl.value
    if (Option.isSome(c.tokenUrl)) input.tokenUrl = c.tokenUrl.value
    if (Option.isSome(c.authorizeUrl)) input.authorizeUrl = c.authorizeUrl.value
    if (Option.isSome(c.clientAuthMethod)) input.clientAuthMethod = c.clientAuthMethod.value
    if (Option.isSome(c.tokenKey)) input.tokenKey = c.tokenKey.value
    if (Option.isSome(c.financialsApi)) input.financialsApi = c.financialsApi.value
    if (Option.isSome(c.maxRequestsPerSecond)) input.maxRequestsPerSecond = c.maxRequestsPerSecond.value
    if (Option.isSome(c.refreshSkew)) input.refreshSkew = c.refreshSkew.value
    return input
  })
)
