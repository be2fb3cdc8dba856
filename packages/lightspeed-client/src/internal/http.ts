/**
 * The one place this client talks HTTP: core `HttpTransport` for the wire, the adaptive limiter
 * for pacing, `LightspeedAuth` for tokens (one transparent retry after a 401 with a refreshed
 * token), core `RetryPolicy` for 429/5xx/timeouts (honouring `Retry-After`), and lossless JSON
 * parsing. A body that is not JSON (truncated, garbled) is retried like a dropped connection;
 * a body that is JSON but the wrong shape is a permanent `Decode` error.
 */
import {
  type AdaptiveLimiter,
  ApiError,
  decodeError,
  fromResponse,
  type HttpResponse,
  type HttpTransport,
  RetryPolicy,
  requestFields,
  StoreError,
  Transport
} from "@kura/core"
import { Clock, Duration, Effect, Redacted, Schema } from "effect"
import type { LightspeedAuth } from "../LightspeedAuth.js"
import type { LightspeedConfig } from "../LightspeedConfig.js"
import { parseJsonLossless } from "./json.js"

/** Query parameters; undefined values are skipped. */
export type Query = Readonly<Record<string, string | number | boolean | undefined>>

/** The internal HTTP surface of the client. */
export interface LightspeedHttp {
  /** GETs `pathOrUrl` (a path under the API base, or an absolute URL that is rebased onto it) and returns parsed JSON. */
  readonly getJson: (pathOrUrl: string, query?: Query) => Effect.Effect<GetResult, ApiError | StoreError>
  /** Decodes with a schema, mapping failures to `Decode` naming the fields. */
  readonly decode: <S extends Schema.Decoder<unknown>>(
    schema: S,
    result: GetResult
  ) => Effect.Effect<S["Type"], ApiError>
}

/** A parsed response. */
export interface GetResult {
  readonly json: unknown
  readonly response: HttpResponse
}

/**
 * Rebases a URL onto the configured API base: `_links` point at legacy hosts (api.ikentoo.com),
 * and following them would send our token to a host we did not configure.
 */
export const rebase = (apiBaseUrl: string, pathOrUrl: string): string => {
  const base = new URL(`${apiBaseUrl}/`)
  let pathAndQuery = pathOrUrl
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(pathOrUrl)) {
    const url = new URL(pathOrUrl)
    pathAndQuery = `${url.pathname}${url.search}`
  }
  const basePath = base.pathname.replace(/\/+$/, "")
  const path = pathAndQuery.startsWith("/") ? pathAndQuery : `/${pathAndQuery}`
  const withoutPrefix =
    basePath !== "" && path.startsWith(`${basePath}/`) ? path.slice(basePath.length) : path
  return `${base.origin}${basePath}${withoutPrefix}`
}

/** Builds the HTTP surface. */
export const makeLightspeedHttp = (
  config: LightspeedConfig,
  transport: HttpTransport["Service"],
  auth: LightspeedAuth["Service"],
  limiter: AdaptiveLimiter["Service"],
  limiterKey: string,
  userAgent: string
): LightspeedHttp => {
  const timeoutMillis = Duration.toMillis(config.requestTimeout)

  const send = (url: string, query: Query | undefined, token: Redacted.Redacted<string>, attempt: number) =>
    transport.request({
      method: "GET",
      url,
      query,
      attempt,
      timeoutMillis,
      headers: {
        Authorization: `Bearer ${Redacted.value(token)}`,
        Accept: "application/json",
        "User-Agent": userAgent
      }
    })

  const once = (url: string, query: Query | undefined, attempt: number) =>
    Effect.gen(function* () {
      yield* limiter.acquire(limiterKey)
      const token = yield* auth.accessToken
      let response = yield* send(url, query, token, attempt)
      // The token may have been revoked or expired early: refresh (single-flight) and retry. An
      // early expiry can strike the fresh token too, so up to three rounds, each with a new token.
      let rejected = token
      for (let round = 0; round < 3 && response.status === 401; round++) {
        const fresh = yield* auth.refreshAfterRejection(rejected)
        if (Redacted.value(fresh) === Redacted.value(rejected)) break
        rejected = fresh
        yield* limiter.acquire(limiterKey)
        response = yield* send(url, query, fresh, attempt)
      }
      const now = yield* Clock.currentTimeMillis
      const error = fromResponse(response.request, response.status, response.headers, response.body, now)
      if (error !== null) {
        if (error.reason._tag === "RateLimited") {
          yield* limiter.onThrottle(limiterKey, error.reason.retryAfterMillis)
        }
        return yield* error
      }
      yield* limiter.onSuccess(limiterKey)
      let json: unknown
      try {
        json = parseJsonLossless(response.body)
      } catch (cause) {
        // Truncated or garbled bodies: nothing was decoded, a repeat of this GET is harmless.
        return yield* new ApiError({
          reason: new Transport({
            ...requestFields(response.request),
            code: "EBADBODY",
            mayHaveReachedServer: true,
            cause: new Error(`response body is not JSON (${String(cause).slice(0, 200)})`)
          })
        })
      }
      return { json, response }
    })

  const getJson = (pathOrUrl: string, query?: Query) =>
    Effect.suspend(() => {
      const url = rebase(config.apiBaseUrl, pathOrUrl)
      // Only StoreError and permanent ApiErrors escape; the policy retries the rest.
      return RetryPolicy.withRetry(
        { maxAttempts: config.maxAttempts, baseDelayMillis: Duration.toMillis(config.retryBaseDelay) },
        (attempt) => once(url, query, attempt).pipe(Effect.catchTag("StoreError", (e) => Effect.die(e)))
      ).pipe(
        Effect.catchDefect((defect) =>
          defect instanceof StoreError ? Effect.fail(defect) : Effect.die(defect)
        )
      )
    })

  const decode = <S extends Schema.Decoder<unknown>>(schema: S, result: GetResult) =>
    Schema.decodeUnknownEffect(schema)(result.json).pipe(
      Effect.mapError((error) => decodeError(result.response.request, error.message, result.response.body))
    )

  return { getJson, decode }
}
