/**
 * OAuth2 for K-Series, built so that single-use refresh tokens are never lost or reused:
 *
 * 1. Every refresh is single-flight in this process (a semaphore), and every caller re-reads the
 *    `TokenStore` first, so a rotation done by another fiber or process is picked up, not repeated.
 * 2. The new token set is written with compare-and-set on the refresh token it replaces
 *    (`expectRefreshToken`) BEFORE its access token is handed to anyone. A crash right after
 *    that write loses nothing: the next process reads the new set and carries on.
 * 3. Tokens are refreshed ahead of expiry (`refreshSkew`), and on a 401 only if the rejected
 *    access token is still the stored one.
 * 4. `invalid_grant` that is not explained by another writer's rotation becomes a permanent
 *    `Unauthorized` error telling the operator to authorise again, and how.
 * 5. An interruption never drops a rotation the server has made: the grant and its store write
 *    run to the end on their own (see `rotate`).
 */
import {
  type ApiError,
  ApiError as ApiErrorClass,
  RetryPolicy,
  requestFields,
  type StoreError,
  type TokenSet,
  TokenStore,
  Unauthorized
} from "@kura/core"
import {
  Clock,
  Context,
  Duration,
  Effect,
  Fiber,
  Layer,
  Option,
  Redacted,
  Result,
  Schedule,
  Semaphore
} from "effect"
import {
  codeGrant,
  makeOidcConfiguration,
  REAUTHORISE_HINT,
  refreshGrant,
  type TokenResponse
} from "./internal/oauth.js"
import { LightspeedConfigService } from "./LightspeedConfigService.js"

/** What an operator needs to know about the stored credential (never the secrets themselves). */
export interface TokenStatus {
  readonly tokenKey: string
  /** False when nothing is stored yet: authorise first. */
  readonly authorised: boolean
  readonly accessExpiresAt: number | null
  readonly refreshExpiresAt: number | null
  readonly issuedAt: number | null
  readonly scope: string | null
}

/** Options for the consent URL an operator opens in a browser. */
export interface AuthorizationUrlOptions {
  /** Must exactly match the redirect URI registered for the API client (HTTPS). */
  readonly redirectUri: string
  /** e.g. ["financial-api", "items", "orders-api"]; V2 adds "offline_access" for long-lived refresh tokens. */
  readonly scopes: ReadonlyArray<string>
  /** An unguessable value you check when the browser comes back. */
  readonly state: string
}

/** The token service. Every method fails with core `ApiError` (token endpoint) or `StoreError` (TokenStore). */
export class LightspeedAuth extends Context.Service<
  LightspeedAuth,
  {
    /** A valid access token, refreshing first if it expires within `refreshSkew`. */
    readonly accessToken: Effect.Effect<Redacted.Redacted<string>, ApiError | StoreError>
    /**
     * Called after the API rejected `rejected` with 401: refreshes unless another caller already
     * replaced that token, and returns the token to retry with.
     */
    readonly refreshAfterRejection: (
      rejected: Redacted.Redacted<string>
    ) => Effect.Effect<Redacted.Redacted<string>, ApiError | StoreError>
    /** Rotates now, whatever the expiry (single-flight: concurrent callers share one rotation). */
    readonly forceRefresh: Effect.Effect<Redacted.Redacted<string>, ApiError | StoreError>
    /** Exchanges an authorisation code for the first token set and stores it. */
    readonly exchangeCode: (
      code: Redacted.Redacted<string> | string,
      redirectUri: string
    ) => Effect.Effect<TokenStatus, ApiError | StoreError>
    /** The consent URL for an operator to open. */
    readonly authorizationUrl: (options: AuthorizationUrlOptions) => string
    /** Expiry facts about the stored credential, for health checks and runbooks. */
    readonly status: Effect.Effect<TokenStatus, StoreError>
  }
>()("@kura/lightspeed-client/LightspeedAuth") {
  /** The real service: needs `LightspeedConfigService` and a `TokenStore`. */
  static readonly layer: Layer.Layer<LightspeedAuth, never, LightspeedConfigService | TokenStore> =
    Layer.effect(
      LightspeedAuth,
      Effect.gen(function* () {
        const config = yield* LightspeedConfigService
        const store = yield* TokenStore
        return makeLightspeedAuth(config, store)
      })
    )

  /**
   * A fake that always hands out `token` (no token endpoint, no store): for tests of code that
   * only needs an authorised client.
   */
  static readonly layerTest = (token = "test-access-token"): Layer.Layer<LightspeedAuth> =>
    Layer.succeed(
      LightspeedAuth,
      LightspeedAuth.of({
        accessToken: Effect.succeed(Redacted.make(token)),
        refreshAfterRejection: () => Effect.succeed(Redacted.make(token)),
        forceRefresh: Effect.succeed(Redacted.make(token)),
        exchangeCode: () => Effect.succeed(statusOf("test", Option.none())),
        authorizationUrl: (options) =>
          `https://example.invalid/authorize?state=${encodeURIComponent(options.state)}`,
        status: Effect.succeed(statusOf("test", Option.none()))
      })
    )
}

const statusOf = (tokenKey: string, tokens: Option.Option<TokenSet>): TokenStatus =>
  Option.match(tokens, {
    onNone: () => ({
      tokenKey,
      authorised: false,
      accessExpiresAt: null,
      refreshExpiresAt: null,
      issuedAt: null,
      scope: null
    }),
    onSome: (t) => ({
      tokenKey,
      authorised: true,
      accessExpiresAt: t.expiresAt,
      refreshExpiresAt: t.refreshExpiresAt,
      issuedAt: t.issuedAt,
      scope: t.scope
    })
  })

/**
 * How long a caller interrupted during a refresh waits for the token endpoint's answer, so that a
 * rotation the server already made is stored. Under Cloud Run's 10 s between SIGTERM and SIGKILL.
 */
const INTERRUPTED_REFRESH_WAIT = "5 seconds"

const same = (a: Redacted.Redacted<string> | null, b: Redacted.Redacted<string> | null): boolean =>
  a === null || b === null ? a === b : Redacted.value(a) === Redacted.value(b)

/** Builds the service from a resolved config and a token store (exported for apps wiring by hand). */
export const makeLightspeedAuth = (
  config: LightspeedConfigService["Service"],
  store: TokenStore["Service"]
): LightspeedAuth["Service"] => {
  const oidcConfig = makeOidcConfiguration(config)
  const semaphore = Semaphore.makeUnsafe(1)
  const key = config.tokenKey
  const timeoutMillis = Duration.toMillis(config.requestTimeout)
  const skewMillis = Duration.toMillis(config.refreshSkew)
  const warnMillis = Duration.toMillis(config.refreshWarnBefore)
  let warnedFor: string | null = null

  const unauthorized = (message: string) =>
    new ApiErrorClass({
      reason: new Unauthorized({
        ...requestFields({ method: "POST", url: config.tokenUrl, attempt: 1, idempotent: true }),
        excerpt: message
      })
    })

  const toTokenSet = (response: TokenResponse, now: number, previous: TokenSet | null): TokenSet => ({
    accessToken: response.accessToken,
    // Some servers omit refresh_token when they do not rotate; keep the old one then.
    refreshToken: response.refreshToken ?? previous?.refreshToken ?? null,
    expiresAt: response.expiresIn === null ? null : now + response.expiresIn * 1000,
    refreshExpiresAt:
      response.refreshExpiresIn === null
        ? now + Duration.toMillis(config.refreshIdleTtl)
        : response.refreshExpiresIn === 0
          ? null
          : now + response.refreshExpiresIn * 1000,
    issuedAt: now,
    scope: response.scope ?? previous?.scope ?? null
  })

  const load = Effect.fnUntraced(function* () {
    const stored = yield* store.get(key)
    if (Option.isNone(stored)) {
      return yield* unauthorized(`No Lightspeed token is stored under "${key}". ${REAUTHORISE_HINT}`)
    }
    return stored.value
  })

  const warnIfRefreshNearsExpiry = Effect.fnUntraced(function* (tokens: TokenSet, now: number) {
    if (tokens.refreshExpiresAt === null || tokens.refreshToken === null) return
    const left = tokens.refreshExpiresAt - now
    if (left > warnMillis) return
    const marker = `${tokens.issuedAt}`
    if (warnedFor === marker) return
    warnedFor = marker
    const hours = Math.max(0, Math.floor(left / 3_600_000))
    yield* Effect.logWarning(
      `Lightspeed refresh token for "${key}" expires in about ${hours} h (${new Date(tokens.refreshExpiresAt).toISOString()}) ` +
        "if it is not used: run a sync before then, or authorise again afterwards (README, 'Authorising')."
    )
  })

  const isFresh = (tokens: TokenSet, now: number) =>
    tokens.expiresAt === null || tokens.expiresAt - skewMillis > now

  /**
   * The rotation in flight, if any: a caller interrupted while waiting for the token endpoint
   * leaves it running (below), and the next refresh waits for it before reading the store.
   */
  let inFlight: Fiber.Fiber<unknown, unknown> | undefined

  /**
   * One rotation of `current`, written with compare-and-set before it is returned. The server
   * retires the old refresh token the moment it handles the request, so an answer that is on its
   * way must be kept: the request and the store write run in a fiber of their own, to the end
   * (bounded by the request's timeout). A caller interrupted meanwhile (a drain, SIGTERM, a
   * check's deadline) waits up to `INTERRUPTED_REFRESH_WAIT` for it, so a rotation the server
   * answered at once is stored before the caller goes; a token endpoint that never answers does
   * not hold the caller longer than that. Measured: kura-sync's drain interrupted a Lightspeed
   * stream between the server's rotation and the store write, and the next run's refresh token
   * had been used already (`invalid_grant`: the account needed a new authorisation).
   */
  const rotate = Effect.fnUntraced(function* (current: TokenSet) {
    if (current.refreshToken === null) {
      return yield* unauthorized(
        `The Lightspeed token under "${key}" has no refresh token. ${REAUTHORISE_HINT}`
      )
    }
    const refreshToken = current.refreshToken
    const rotated = yield* RetryPolicy.withRetry(
      {
        maxAttempts: config.maxAttempts,
        baseDelayMillis: Math.min(200, Duration.toMillis(config.retryBaseDelay)),
        maxDelayMillis: 5_000
      },
      (attempt) =>
        Effect.gen(function* () {
          const work = Effect.gen(function* () {
            const response = yield* refreshGrant(
              oidcConfig,
              refreshToken,
              config.tokenUrl,
              attempt,
              timeoutMillis
            )
            const next = toTokenSet(response, yield* Clock.currentTimeMillis, current)
            // The old refresh token is retired: a failing store gets a few more tries, and its
            // error is kept apart so that it is never retried as a refresh (that would reuse the
            // retired token).
            const written = yield* store
              .put(key, next, { expectRefreshToken: Redacted.value(refreshToken) })
              .pipe(Effect.retry({ times: 4, schedule: Schedule.exponential("100 millis") }), Effect.result)
            return { next, written }
          })
          const fiber = yield* Effect.forkDetach(Effect.uninterruptible(work))
          inFlight = fiber
          return yield* Fiber.join(fiber).pipe(
            Effect.onInterrupt(() =>
              Fiber.await(fiber).pipe(Effect.timeout(INTERRUPTED_REFRESH_WAIT), Effect.ignore)
            )
          )
        })
    )
    if (Result.isFailure(rotated.written)) {
      const error = rotated.written.failure
      yield* Effect.logError(
        `Lightspeed token "${key}" was rotated but could not be stored (${error.message}); ` +
          "the next run will need a new authorisation unless the store recovers."
      )
      return yield* Effect.fail(error)
    }
    return { next: rotated.next, written: rotated.written.success }
  })

  /**
   * The refresh loop, run under the semaphore. `mustReplace` decides whether the stored set still
   * needs a rotation (it may have been rotated by someone else meanwhile).
   */
  const refreshWhile = (mustReplace: (stored: TokenSet, now: number) => boolean) =>
    semaphore.withPermits(1)(
      Effect.gen(function* () {
        for (let round = 0; round < 4; round++) {
          // A rotation an interrupted caller left running ends (and is stored) before the store is read.
          if (inFlight !== undefined) yield* Fiber.await(inFlight)
          const stored = yield* load()
          const now = yield* Clock.currentTimeMillis
          if (!mustReplace(stored, now)) return stored.accessToken
          const result = yield* rotate(stored).pipe(
            Effect.map((r) => Option.some(r)),
            Effect.catchIf(
              (error): error is ApiError => error._tag === "ApiError" && error.reason._tag === "Unauthorized",
              (error) =>
                // invalid_grant: if another process rotated meanwhile, use its tokens; otherwise re-authorise.
                Effect.flatMap(store.get(key), (latest) =>
                  Option.isSome(latest) && !same(latest.value.refreshToken, stored.refreshToken)
                    ? Effect.succeed(Option.none())
                    : Effect.fail(error)
                )
            )
          )
          if (Option.isNone(result)) continue
          if (result.value.written) {
            yield* warnIfRefreshNearsExpiry(result.value.next, now)
            return result.value.next.accessToken
          }
          // Lost a compare-and-set race to another writer (e.g. a fresh exchangeCode): re-read and use theirs.
          yield* Effect.logWarning(
            `Lightspeed token "${key}" was replaced by another writer during a refresh; using the stored one`
          )
        }
        return yield* unauthorized(
          `Could not obtain a stable Lightspeed token for "${key}" after 4 attempts. ${REAUTHORISE_HINT}`
        )
      })
    )

  const accessToken = Effect.gen(function* () {
    const stored = yield* load()
    const now = yield* Clock.currentTimeMillis
    yield* warnIfRefreshNearsExpiry(stored, now)
    if (isFresh(stored, now)) return stored.accessToken
    return yield* refreshWhile((s, t) => !isFresh(s, t))
  }).pipe(Effect.withSpan("LightspeedAuth.accessToken"))

  const refreshAfterRejection = (rejected: Redacted.Redacted<string>) =>
    refreshWhile((stored) => same(stored.accessToken, rejected)).pipe(
      Effect.withSpan("LightspeedAuth.refreshAfterRejection")
    )

  const forceRefresh = Effect.gen(function* () {
    const before = yield* load()
    return yield* refreshWhile((stored) => same(stored.accessToken, before.accessToken))
  }).pipe(Effect.withSpan("LightspeedAuth.forceRefresh"))

  const exchangeCode = Effect.fn("LightspeedAuth.exchangeCode")(function* (
    code: Redacted.Redacted<string> | string,
    redirectUri: string
  ) {
    const secretCode = typeof code === "string" ? Redacted.make(code) : code
    // Not retried: an authorisation code is single-use too.
    const response = yield* codeGrant(oidcConfig, secretCode, redirectUri, config.tokenUrl, 1, timeoutMillis)
    const now = yield* Clock.currentTimeMillis
    const tokens = toTokenSet(response, now, null)
    yield* semaphore.withPermits(1)(store.put(key, tokens))
    return statusOf(key, Option.some(tokens))
  })

  const authorizationUrl = (options: AuthorizationUrlOptions): string => {
    const url = new URL(config.authorizeUrl)
    url.searchParams.set("response_type", "code")
    url.searchParams.set("client_id", config.clientId)
    url.searchParams.set("redirect_uri", options.redirectUri)
    url.searchParams.set("scope", options.scopes.join(" "))
    url.searchParams.set("state", options.state)
    return url.toString()
  }

  const status = Effect.map(store.get(key), (tokens) => statusOf(key, tokens))

  return LightspeedAuth.of({
    accessToken,
    refreshAfterRejection,
    forceRefresh,
    exchangeCode,
    authorizationUrl,
    status
  })
}
