/**
 * Where the client gets its Admin API access token. Three providers:
 * - `layerStatic`: a fixed token (legacy custom apps, `shpat_…`).
 * - `layerClientCredentials`: the client-credentials grant of Dev Dashboard apps; the ~24 h token
 *   is renewed before it expires (from `expires_in`) and on a 401.
 * - `layerRefreshToken`: expiring offline tokens; each rotation is written to core `TokenStore`
 *   (compare-and-set on the old refresh token) before the new access token is used.
 * Renewals are single-flight: however many fibers need a token at once, one request is made.
 * Secrets are `Redacted` end to end and never appear in logs or errors.
 *
 * @since 0.1.0
 */
import { HttpTransport, type TokenSet, TokenStore } from "@kura/core"
import { Clock, Config, Context, Effect, Layer, Option, Redacted, Schema, Semaphore } from "effect"
import { ShopifyConfig } from "./ShopifyConfig.js"
import { Http, ShopifyError, Unauthorized } from "./ShopifyError.js"

/**
 * What a token provider offers.
 *
 * @since 0.1.0
 * @category models
 */
export interface ShopifyAuthShape {
  /** Which provider this is. */
  readonly kind: "static" | "client_credentials" | "refresh_token"
  /** A token valid now (renewed first when it is about to expire). */
  readonly token: Effect.Effect<Redacted.Redacted<string>, ShopifyError>
  /**
   * Called after a 401 with the token that was rejected: returns a fresh token (one renewal
   * however many callers ask), or None when this provider cannot renew.
   */
  readonly renew: (
    rejected: Redacted.Redacted<string>
  ) => Effect.Effect<Option.Option<Redacted.Redacted<string>>, ShopifyError>
}

const redacted = (value: Redacted.Redacted<string> | string) =>
  typeof value === "string" ? Redacted.make(value) : value

/**
 * Builds a static provider.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeStaticAuth = (accessToken: Redacted.Redacted<string> | string): ShopifyAuthShape => {
  const token = redacted(accessToken)
  return { kind: "static", token: Effect.succeed(token), renew: () => Effect.succeed(Option.none()) }
}

/**
 * The token provider.
 *
 * @since 0.1.0
 * @category services
 */
export class ShopifyAuth extends Context.Service<ShopifyAuth, ShopifyAuthShape>()(
  "@kura/shopify-client/ShopifyAuth"
) {
  /**
   * A fixed Admin API token.
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layerStatic = (accessToken: Redacted.Redacted<string> | string): Layer.Layer<ShopifyAuth> =>
    Layer.succeed(ShopifyAuth, makeStaticAuth(accessToken))

  /**
   * The client-credentials grant (`POST {shop}/admin/oauth/access_token`).
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layerClientCredentials = (
    options: ClientCredentialsOptions
  ): Layer.Layer<ShopifyAuth, never, HttpTransport | ShopifyConfig> =>
    Layer.effect(ShopifyAuth, makeClientCredentialsAuth(options))

  /**
   * Expiring offline tokens with rotation persisted in `TokenStore` under `tokenKey`.
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layerRefreshToken = (
    options: RefreshTokenOptions
  ): Layer.Layer<ShopifyAuth, never, HttpTransport | ShopifyConfig | TokenStore> =>
    Layer.effect(ShopifyAuth, makeRefreshTokenAuth(options))

  /**
   * Reads SHOPIFY_ACCESS_TOKEN (static) or SHOPIFY_CLIENT_ID + SHOPIFY_CLIENT_SECRET (client
   * credentials) through Effect Config.
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layerConfig: Layer.Layer<ShopifyAuth, Config.ConfigError, HttpTransport | ShopifyConfig> =
    Layer.unwrap(
      Effect.gen(function* () {
        const token = yield* Config.Redacted("SHOPIFY_ACCESS_TOKEN").pipe(Config.option)
        if (Option.isSome(token)) return ShopifyAuth.layerStatic(token.value)
        const clientId = yield* Config.String("SHOPIFY_CLIENT_ID")
        const clientSecret = yield* Config.Redacted("SHOPIFY_CLIENT_SECRET")
        return ShopifyAuth.layerClientCredentials({ clientId, clientSecret })
      })
    )

  /**
   * A static token `"test-token"`, for tests.
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layerTest: Layer.Layer<ShopifyAuth> = ShopifyAuth.layerStatic("test-token")
}

/**
 * Options of the client-credentials provider.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientCredentialsOptions {
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string> | string
  /** Renew this long before expiry (capped at 10% of the token's lifetime). Default 5 minutes. */
  readonly renewBeforeMillis?: number
  /** `form` (OAuth standard, default) or `json` request body. */
  readonly encoding?: "form" | "json"
}

/**
 * Options of the refresh-token provider.
 *
 * @since 0.1.0
 * @category models
 */
export interface RefreshTokenOptions {
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string> | string
  /** The `TokenStore` key of this shop's token set. */
  readonly tokenKey: string
  /** Renew this long before expiry (capped at 10% of the lifetime). Default 5 minutes. */
  readonly renewBeforeMillis?: number
  readonly encoding?: "form" | "json"
}

const TokenResponse = Schema.Struct({
  access_token: Schema.String,
  scope: Schema.optional(Schema.NullOr(Schema.String)),
  expires_in: Schema.optional(Schema.NullOr(Schema.Number)),
  refresh_token: Schema.optional(Schema.NullOr(Schema.String)),
  refresh_token_expires_in: Schema.optional(Schema.NullOr(Schema.Number))
})

const authError = (message: string) =>
  new ShopifyError({ operation: "access token", reason: new Unauthorized({ message }) })
/** Posts a token request and decodes the answer; never puts secrets into errors. */
const requestToken = Effect.fnUntraced(function* (
  fields: Readonly<Record<string, string>>,
  encoding: "form" | "json"
) {
  const transport = yield* HttpTransport
  const config = yield* ShopifyConfig
  const url = `${config.baseUrl}/admin/oauth/access_token`
  const response = yield* transport
    .request(
      encoding === "json"
        ? { method: "POST", url, json: fields, headers: { accept: "application/json" } }
        : {
            method: "POST",
            url,
            body: new URLSearchParams(fields).toString(),
            headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" }
          }
    )
    .pipe(
      Effect.mapError(
        (e) =>
          new ShopifyError({
            operation: "access token",
            reason: new Http({ status: null, retryable: e.retryable, message: e.message })
          })
      )
    )
  if (response.status >= 400) {
    // The body names the problem (invalid_client, invalid_grant …); it never echoes our secret.
    const detail = response.body.slice(0, 300).replaceAll(fields.client_secret ?? "\u0000", "<redacted>")
    return yield* authError(`token endpoint answered ${response.status}: ${detail}`)
  }
  const decoded = yield* Schema.decodeUnknownEffect(Schema.fromJsonString(TokenResponse))(response.body).pipe(
    Effect.mapError(() => authError("token endpoint answered without a valid access_token"))
  )
  return decoded
})

const renewMargin = (lifetimeMillis: number | null, renewBefore: number): number =>
  lifetimeMillis === null ? renewBefore : Math.min(renewBefore, Math.floor(lifetimeMillis / 10))

/**
 * Builds a client-credentials provider (single-flight renewal).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeClientCredentialsAuth = (options: ClientCredentialsOptions) =>
  Effect.gen(function* () {
    const transport = yield* HttpTransport
    const config = yield* ShopifyConfig
    const gate = yield* Semaphore.make(1)
    const secret = redacted(options.clientSecret)
    const renewBefore = options.renewBeforeMillis ?? 5 * 60_000
    let current: { token: Redacted.Redacted<string>; renewAt: number | null } | null = null

    const fetchToken = Effect.gen(function* () {
      const answer = yield* requestToken(
        {
          grant_type: "client_credentials",
          client_id: options.clientId,
          client_secret: Redacted.value(secret)
        },
        options.encoding ?? "form"
      )
      const now = yield* Clock.currentTimeMillis
      const lifetime =
        answer.expires_in === undefined || answer.expires_in === null ? null : answer.expires_in * 1000
      current = {
        token: Redacted.make(answer.access_token),
        renewAt: lifetime === null ? null : now + lifetime - renewMargin(lifetime, renewBefore)
      }
      return current.token
    }).pipe(Effect.provideService(HttpTransport, transport), Effect.provideService(ShopifyConfig, config))

    const fresh = (now: number) => current !== null && (current.renewAt === null || now < current.renewAt)

    const token = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      if (current !== null && fresh(now)) return current.token
      return yield* gate.withPermits(1)(
        Effect.gen(function* () {
          const again = yield* Clock.currentTimeMillis
          if (current !== null && fresh(again)) return current.token
          return yield* fetchToken
        })
      )
    })

    const renew = (rejected: Redacted.Redacted<string>) =>
      gate.withPermits(1)(
        Effect.gen(function* () {
          // Another fiber already replaced the rejected token: use its result.
          if (current !== null && Redacted.value(current.token) !== Redacted.value(rejected)) {
            return Option.some(current.token)
          }
          return Option.some(yield* fetchToken)
        })
      )

    return ShopifyAuth.of({ kind: "client_credentials", token, renew })
  })

/**
 * Builds a refresh-token provider whose rotations go through `TokenStore` (compare-and-set).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeRefreshTokenAuth = (options: RefreshTokenOptions) =>
  Effect.gen(function* () {
    const transport = yield* HttpTransport
    const config = yield* ShopifyConfig
    const store = yield* TokenStore
    const gate = yield* Semaphore.make(1)
    const secret = redacted(options.clientSecret)
    const renewBefore = options.renewBeforeMillis ?? 5 * 60_000

    const storeError = (e: { readonly message: string }) => authError(`token store failed: ${e.message}`)
    const load = store.get(options.tokenKey).pipe(
      Effect.mapError(storeError),
      Effect.flatMap(
        Option.match({
          onNone: () =>
            Effect.fail(
              authError(`no token set stored under "${options.tokenKey}": seed the TokenStore first`)
            ),
          onSome: (set) => Effect.succeed(set)
        })
      )
    )

    const fresh = (set: TokenSet, now: number) =>
      set.expiresAt === null || now < set.expiresAt - renewMargin(set.expiresAt - set.issuedAt, renewBefore)

    const rotate = (set: TokenSet) =>
      Effect.gen(function* () {
        if (set.refreshToken === null) {
          return yield* authError(
            `the token set under "${options.tokenKey}" has expired and has no refresh token`
          )
        }
        const oldRefresh = Redacted.value(set.refreshToken)
        const answer = yield* requestToken(
          {
            grant_type: "refresh_token",
            client_id: options.clientId,
            client_secret: Redacted.value(secret),
            refresh_token: oldRefresh
          },
          options.encoding ?? "form"
        ).pipe(Effect.provideService(HttpTransport, transport), Effect.provideService(ShopifyConfig, config))
        const now = yield* Clock.currentTimeMillis
        const next: TokenSet = {
          accessToken: Redacted.make(answer.access_token),
          refreshToken:
            answer.refresh_token === undefined || answer.refresh_token === null
              ? set.refreshToken
              : Redacted.make(answer.refresh_token),
          expiresAt:
            answer.expires_in === undefined || answer.expires_in === null
              ? null
              : now + answer.expires_in * 1000,
          refreshExpiresAt:
            answer.refresh_token_expires_in === undefined || answer.refresh_token_expires_in === null
              ? set.refreshExpiresAt
              : now + answer.refresh_token_expires_in * 1000,
          issuedAt: now,
          scope: answer.scope ?? set.scope
        }
        // Persist before use: if this process dies now, the next run still holds a valid refresh token.
        const won = yield* store
          .put(options.tokenKey, next, { expectRefreshToken: oldRefresh })
          .pipe(Effect.mapError(storeError))
        if (won) return next.accessToken
        // Another process rotated first; its set is the one that is valid now.
        const theirs = yield* load
        return theirs.accessToken
      })

    // The last set seen; requests use it without touching the store until it is due for renewal.
    let cached: TokenSet | null = null
    const token = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      if (cached !== null && fresh(cached, now)) return cached.accessToken
      return yield* gate.withPermits(1)(
        Effect.gen(function* () {
          // Another process may have rotated meanwhile: the store is the source of truth.
          const set = yield* load
          const again = yield* Clock.currentTimeMillis
          if (fresh(set, again)) {
            cached = set
            return set.accessToken
          }
          const next = yield* rotate(set)
          cached = yield* load
          return next
        })
      )
    })

    const renew = (rejected: Redacted.Redacted<string>) =>
      gate.withPermits(1)(
        Effect.gen(function* () {
          const set = yield* load
          if (Redacted.value(set.accessToken) !== Redacted.value(rejected)) {
            cached = set
            return Option.some(set.accessToken)
          }
          const next = yield* rotate(set)
          cached = yield* load
          return Option.some(next)
        })
      )

    return ShopifyAuth.of({ kind: "refresh_token", token, renew })
  })
