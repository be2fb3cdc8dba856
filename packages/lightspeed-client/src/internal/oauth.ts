/**
 * The token-endpoint calls, through openid-client, with Lightspeed's quirks: a configurable client
 * authentication (V1 wants the raw `base64(id:secret)` Basic header, which openid-client's
 * ClientSecretBasic does not send because it form-encodes both halves first) and failures mapped
 * onto core `ApiError` reasons so callers handle one error type.
 */
import {
  ApiError,
  ClientError,
  excerpt,
  requestFields,
  ServerError,
  Timeout,
  Transport,
  Unauthorized
} from "@kura/core"
import { Duration, Effect, Predicate, Redacted } from "effect"
import * as oidc from "openid-client"
import type { LightspeedClientAuthMethod, LightspeedConfig } from "../LightspeedConfig.js"

/** `Authorization: Basic base64(client_id:client_secret)` with neither half URL-encoded. */
export const rawBasicAuth =
  (clientSecret: Redacted.Redacted<string>): oidc.ClientAuth =>
  (_as, client, _body, headers) => {
    headers.set(
      "authorization",
      `Basic ${Buffer.from(`${client.client_id}:${Redacted.value(clientSecret)}`, "utf8").toString("base64")}`
    )
  }

const clientAuthFor = (
  method: LightspeedClientAuthMethod,
  secret: Redacted.Redacted<string>
): oidc.ClientAuth => {
  switch (method) {
    case "basic-raw":
      return rawBasicAuth(secret)
    case "basic-encoded":
      return oidc.ClientSecretBasic(Redacted.value(secret))
    case "post":
      return oidc.ClientSecretPost(Redacted.value(secret))
  }
}

/** Builds the openid-client configuration for a non-discoverable Lightspeed login server. */
export const makeOidcConfiguration = (config: LightspeedConfig): oidc.Configuration => {
  const tokenUrl = new URL(config.tokenUrl)
  const configuration = new oidc.Configuration(
    {
      issuer: tokenUrl.origin,
      token_endpoint: config.tokenUrl,
      authorization_endpoint: config.authorizeUrl
    },
    config.clientId,
    undefined,
    clientAuthFor(config.clientAuthMethod, config.clientSecret)
  )
  configuration.timeout = Math.max(1, Math.ceil(Duration.toMillis(config.requestTimeout) / 1000))
  if (config.allowInsecureRequests) oidc.allowInsecureRequests(configuration)
  return configuration
}

/** The fields of a token response this client relies on. */
export interface TokenResponse {
  readonly accessToken: Redacted.Redacted<string>
  readonly refreshToken: Redacted.Redacted<string> | null
  /** Seconds, when sent. */
  readonly expiresIn: number | null
  /** Seconds; 0 means "does not expire" (V2 offline_access); null when not sent (V1). */
  readonly refreshExpiresIn: number | null
  readonly scope: string | null
}

const toTokenResponse = (response: oidc.TokenEndpointResponse): TokenResponse => {
  const refreshExpires = response.refresh_expires_in
  return {
    accessToken: Redacted.make(response.access_token),
    refreshToken: response.refresh_token === undefined ? null : Redacted.make(response.refresh_token),
    expiresIn: typeof response.expires_in === "number" ? response.expires_in : null,
    refreshExpiresIn: typeof refreshExpires === "number" ? refreshExpires : null,
    scope: typeof response.scope === "string" ? response.scope : null
  }
}

/** Re-authorisation advice appended to every permanent token failure. */
export const REAUTHORISE_HINT =
  "The stored Lightspeed authorisation can no longer be used (refresh tokens are single-use and expire after " +
  "14 days unused). Authorise again: open the URL from `LightspeedAuth.authorizationUrl`, approve the scopes, " +
  "then pass the returned ?code= to `LightspeedAuth.exchangeCode` (see the README, 'Authorising')."

const codeOf = (error: unknown): string => {
  for (let e: unknown = error, depth = 0; Predicate.isObject(e) && depth < 4; depth++) {
    const code = Reflect.get(e, "code")
    if (typeof code === "string" && code.startsWith("E")) return code
    e = Reflect.get(e, "cause")
  }
  return "UNKNOWN"
}

/** Maps an openid-client failure onto a core ApiError (the token request is a POST, attempt `attempt`). */
export const classifyTokenError = (
  error: unknown,
  tokenUrl: string,
  attempt: number,
  timeoutMillis: number
): ApiError => {
  // A failed refresh may be repeated safely: either the server never processed it, or it did and a
  // repeat returns invalid_grant, which is handled as "someone else rotated" or re-authorisation.
  const fields = requestFields({ method: "POST", url: tokenUrl, attempt, idempotent: true })
  if (error instanceof oidc.ResponseBodyError) {
    const text = excerpt(`${error.error}${error.error_description ? `: ${error.error_description}` : ""}`)
    if (
      error.error === "invalid_grant" ||
      error.error === "invalid_client" ||
      error.error === "unauthorized_client"
    ) {
      return new ApiError({
        reason: new Unauthorized({ ...fields, excerpt: `${text}. ${REAUTHORISE_HINT}` })
      })
    }
    if (error.status >= 500) {
      return new ApiError({
        reason: new ServerError({ ...fields, status: error.status, retryAfterMillis: null, excerpt: text })
      })
    }
    return new ApiError({ reason: new ClientError({ ...fields, status: error.status, excerpt: text }) })
  }
  const cause = Predicate.isObject(error) ? Reflect.get(error, "cause") : undefined
  if (cause instanceof Response) {
    const status = cause.status
    const text = excerpt(`token endpoint answered ${status} ${cause.statusText}`)
    if (status === 401 || status === 400) {
      return new ApiError({
        reason: new Unauthorized({ ...fields, excerpt: `${text}. ${REAUTHORISE_HINT}` })
      })
    }
    if (status === 429 || status >= 500) {
      return new ApiError({
        reason: new ServerError({ ...fields, status, retryAfterMillis: null, excerpt: text })
      })
    }
    return new ApiError({ reason: new ClientError({ ...fields, status, excerpt: text }) })
  }
  const name = Predicate.isObject(error) ? Reflect.get(error, "name") : undefined
  if (name === "TimeoutError" || name === "AbortError") {
    return new ApiError({ reason: new Timeout({ ...fields, phase: "response", timeoutMillis }) })
  }
  const code = codeOf(error)
  if (error instanceof oidc.ClientError || code !== "UNKNOWN" || error instanceof TypeError) {
    // A malformed 200 (truncated body, wrong shape) arrives here too: treat it as a transport fault.
    return new ApiError({
      reason: new Transport({
        ...fields,
        code:
          code === "UNKNOWN" && Predicate.isObject(error) ? String(Reflect.get(error, "code") ?? code) : code,
        mayHaveReachedServer: !["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN"].includes(code),
        cause: new Error(excerpt(String(Predicate.isObject(error) ? Reflect.get(error, "message") : error)))
      })
    })
  }
  return new ApiError({
    reason: new Transport({
      ...fields,
      code,
      mayHaveReachedServer: true,
      cause: new Error(excerpt(String(error)))
    })
  })
}

/** POSTs `grant_type=refresh_token`. */
export const refreshGrant = (
  configuration: oidc.Configuration,
  refreshToken: Redacted.Redacted<string>,
  tokenUrl: string,
  attempt: number,
  timeoutMillis: number
): Effect.Effect<TokenResponse, ApiError> =>
  Effect.tryPromise({
    try: () => oidc.refreshTokenGrant(configuration, Redacted.value(refreshToken)),
    catch: (error) => classifyTokenError(error, tokenUrl, attempt, timeoutMillis)
  }).pipe(Effect.map(toTokenResponse))

/** POSTs `grant_type=authorization_code` with the code an operator brought back from the consent page. */
export const codeGrant = (
  configuration: oidc.Configuration,
  code: Redacted.Redacted<string>,
  redirectUri: string,
  tokenUrl: string,
  attempt: number,
  timeoutMillis: number
): Effect.Effect<TokenResponse, ApiError> =>
  Effect.tryPromise({
    try: () =>
      oidc.genericGrantRequest(configuration, "authorization_code", {
        code: Redacted.value(code),
        redirect_uri: redirectUri
      }),
    catch: (error) => classifyTokenError(error, tokenUrl, attempt, timeoutMillis)
  }).pipe(Effect.map(toTokenResponse))
