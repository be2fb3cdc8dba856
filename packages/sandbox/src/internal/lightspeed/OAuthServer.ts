/**
 * K-Series OAuth state: V1 (`/oauth/token`, Basic client authentication) and V2 (Keycloak,
 * parameters in the body). The documented partner flow is authorize → code → token; codes are
 * single-use, bound to the client and redirect URI (and to a PKCE challenge when one was sent).
 * Refresh tokens are single-use and rotate; a reused one is rejected with `invalid_grant` and
 * counted, because losing a rotated token is the classic client bug.
 */
import { createHash, randomBytes } from "node:crypto"
import type { SandboxClock } from "../contracts.js"

/** One registered OAuth client. */
export interface OAuthClient {
  readonly clientId: string
  readonly clientSecret: string
  readonly version: "v1" | "v2"
}

/** Lifetimes in real-world ms (the clock scales them). */
export interface OAuthLifetimes {
  readonly accessTokenMs: number
  /** V1: a refresh token unused for this long expires (14 days). */
  readonly refreshIdleMs: number
  /** V2 `refresh_expires_in` (Keycloak session); 0 = offline token (never expires by time). */
  readonly v2RefreshMs: number
  /** Authorization-code lifetime (UNCONFIRMED for K-Series; Keycloak's default is 60 s). */
  readonly authorizationCodeMs: number
}

/** Scopes a K-Series client may request (V2 adds the OpenID ones). */
export const KSERIES_SCOPES: ReadonlyArray<string> = [
  "financial-api",
  "orders-api",
  "items",
  "staff-api",
  "propertymanagement",
  "id-cards",
  "reservations-api",
  "tax-configuration",
  "openid",
  "profile",
  "email",
  "offline_access"
]

interface CodeState {
  readonly clientId: string
  readonly redirectUri: string
  readonly scope: string
  readonly issuedAt: number
  readonly challenge: { readonly method: "S256" | "plain"; readonly value: string } | null
  used: boolean
}

/** Outcome of an authorization request: a code for the redirect, or an OAuth error. */
export type AuthorizeResult =
  | { readonly ok: true; readonly code: string }
  | { readonly ok: false; readonly error: string; readonly description: string; readonly redirect: boolean }

interface RefreshState {
  readonly clientId: string
  readonly issuedAt: number
  used: boolean
}

interface AccessState {
  readonly clientId: string
  expiresAt: number
}

/** Result of a token request. */
export type TokenResult =
  | { readonly ok: true; readonly body: Record<string, unknown> }
  | { readonly ok: false; readonly status: number; readonly body: Record<string, unknown> }

const invalid = (error: string, description: string, status = 400): TokenResult => ({
  ok: false,
  status,
  body: { error, error_description: description }
})

/** The token side of the emulator. Pure state: the HTTP layer parses and renders. */
export class OAuthServer {
  private readonly refresh = new Map<string, RefreshState>()
  private readonly access = new Map<string, AccessState>()
  private readonly clients = new Map<string, OAuthClient>()
  private readonly codes = new Map<string, CodeState>()
  refreshes = 0
  refreshReuseAttempts = 0
  codesIssued = 0
  codeExchanges = 0
  codeReuseAttempts = 0
  invalidClient = 0

  constructor(
    clients: ReadonlyArray<OAuthClient>,
    private readonly clock: SandboxClock,
    private readonly lifetimes: OAuthLifetimes
  ) {
    for (const c of clients) this.clients.set(c.clientId, c)
  }

  /** Registers an initial refresh token (what the merchant's authorisation produced). */
  seedRefreshToken(clientId: string, token: string): void {
    this.refresh.set(token, { clientId, issuedAt: this.clock.now(), used: false })
  }

  /** Checks a client's credentials (constant-time enough for a sandbox: compares hashes). */
  authenticate(clientId: string, clientSecret: string): OAuthClient | undefined {
    const c = this.clients.get(clientId)
    if (c === undefined) return undefined
    const h = (s: string) => createHash("sha256").update(s).digest("hex")
    return h(c.clientSecret) === h(clientSecret) ? c : undefined
  }

  /** grant_type=refresh_token for an authenticated client. */
  refreshGrant(client: OAuthClient, token: string | undefined): TokenResult {
    if (token === undefined || token === "")
      return invalid("invalid_request", "Missing parameter: refresh_token")
    const state = this.refresh.get(token)
    if (state === undefined || state.clientId !== client.clientId) {
      return invalid("invalid_grant", "Invalid refresh token")
    }
    if (state.used) {
      this.refreshReuseAttempts++
      return invalid("invalid_grant", "Refresh token already used (refresh tokens are single-use)")
    }
    const now = this.clock.now()
    const ttl = client.version === "v1" ? this.lifetimes.refreshIdleMs : this.lifetimes.v2RefreshMs
    if (ttl > 0 && now - state.issuedAt >= this.clock.scale(ttl)) {
      return invalid(
        "invalid_grant",
        client.version === "v1" ? "Refresh token expired" : "Session not active"
      )
    }
    state.used = true
    this.refreshes++
    return { ok: true, body: this.issue(client) }
  }

  /**
   * The authorize endpoint, approved at once (the sandbox has no user to ask). Errors that must
   * not be redirected (unknown client, bad redirect URI) say so with `redirect: false`.
   */
  authorize(params: {
    readonly version: "v1" | "v2"
    readonly clientId: string | null
    readonly redirectUri: string | null
    readonly responseType: string | null
    readonly scope: string | null
    readonly codeChallenge: string | null
    readonly codeChallengeMethod: string | null
  }): AuthorizeResult {
    const client = params.clientId === null ? undefined : this.clients.get(params.clientId)
    if (client === undefined || client.version !== params.version)
      return { ok: false, error: "invalid_client", description: "Client not found", redirect: false }
    const uri =
      params.redirectUri === null
        ? null
        : URL.canParse(params.redirectUri)
          ? new URL(params.redirectUri)
          : null
    const loopback =
      uri !== null &&
      (uri.hostname === "127.0.0.1" || uri.hostname === "localhost" || uri.hostname === "[::1]")
    if (uri === null || (uri.protocol !== "https:" && !(uri.protocol === "http:" && loopback)))
      return {
        ok: false,
        error: "invalid_request",
        description:
          "Invalid parameter: redirect_uri (must be an absolute https URL; http only for loopback)",
        redirect: false
      }
    if (params.responseType !== "code")
      return {
        ok: false,
        error: "unsupported_response_type",
        description: "Only response_type=code is supported",
        redirect: true
      }
    const scopes = (params.scope ?? "").split(/\s+/).filter((x) => x !== "")
    const unknown = scopes.filter((x) => !KSERIES_SCOPES.includes(x))
    if (unknown.length > 0)
      return {
        ok: false,
        error: "invalid_scope",
        description: `Invalid scopes: ${unknown.join(" ")}`,
        redirect: true
      }
    const method = params.codeChallengeMethod ?? (params.codeChallenge === null ? null : "plain")
    if (method !== null && method !== "S256" && method !== "plain")
      return {
        ok: false,
        error: "invalid_request",
        description: "Invalid parameter: code_challenge_method",
        redirect: true
      }
    let code = ""
    do {
      // The docs show 6-character codes ("GyIpgM"); letters and digits only.
      code = randomBytes(6)
        .toString("base64")
        .replace(/[^A-Za-z0-9]/g, "A")
        .slice(0, 6)
    } while (this.codes.has(code))
    this.codes.set(code, {
      clientId: client.clientId,
      redirectUri: uri.toString(),
      scope: scopes.join(" "),
      issuedAt: this.clock.now(),
      challenge:
        method === null || params.codeChallenge === null ? null : { method, value: params.codeChallenge },
      used: false
    })
    this.codesIssued++
    return { ok: true, code }
  }

  /** grant_type=authorization_code: a single-use code for the client and redirect URI it was issued to. */
  codeGrant(
    client: OAuthClient,
    code: string | undefined,
    redirectUri: string | undefined,
    verifier: string | undefined
  ): TokenResult {
    if (code === undefined || code === "") return invalid("invalid_request", "Missing parameter: code")
    const state = this.codes.get(code)
    if (state === undefined || state.clientId !== client.clientId)
      return invalid("invalid_grant", "Invalid authorization code")
    if (state.used) {
      this.codeReuseAttempts++
      return invalid("invalid_grant", "Code not valid (authorization codes are single-use)")
    }
    if (this.clock.now() - state.issuedAt >= this.clock.scale(this.lifetimes.authorizationCodeMs))
      return invalid("invalid_grant", "Code not valid (expired)")
    const same =
      redirectUri !== undefined &&
      URL.canParse(redirectUri) &&
      new URL(redirectUri).toString() === state.redirectUri
    if (!same) return invalid("invalid_grant", "Incorrect redirect_uri")
    if (state.challenge !== null) {
      if (verifier === undefined) return invalid("invalid_grant", "PKCE code verifier not specified")
      const computed =
        state.challenge.method === "S256"
          ? createHash("sha256").update(verifier).digest("base64url")
          : verifier
      if (computed !== state.challenge.value) return invalid("invalid_grant", "PKCE verification failed")
    }
    state.used = true
    this.codeExchanges++
    return { ok: true, body: this.issue(client, state.scope === "" ? undefined : state.scope) }
  }

  private issue(client: OAuthClient, scope?: string): Record<string, unknown> {
    const now = this.clock.now()
    const accessToken = `${client.version === "v1" ? "lsk" : "eyJ"}${randomBytes(24).toString("base64url")}`
    const refreshToken = `rt-${randomBytes(24).toString("base64url")}`
    this.access.set(accessToken, {
      clientId: client.clientId,
      expiresAt: now + this.clock.scale(this.lifetimes.accessTokenMs)
    })
    this.refresh.set(refreshToken, { clientId: client.clientId, issuedAt: now, used: false })
    const seconds = (ms: number) => Math.max(1, Math.round(this.clock.scale(ms) / 1000))
    const body: Record<string, unknown> = {
      access_token: accessToken,
      token_type: "bearer",
      expires_in: seconds(this.lifetimes.accessTokenMs),
      refresh_token: refreshToken,
      scope: "financial-api items orders-api"
    }
    if (client.version === "v2") {
      body.token_type = "Bearer"
      body.refresh_expires_in = this.lifetimes.v2RefreshMs === 0 ? 0 : seconds(this.lifetimes.v2RefreshMs)
      body["not-before-policy"] = 0
      body.scope = "financial-api items orders-api profile email"
    }
    if (scope !== undefined)
      body.scope =
        client.version === "v2" ? [...new Set([...scope.split(" "), "profile", "email"])].join(" ") : scope
    return body
  }

  /** Whether a bearer token is currently valid; returns its client id. */
  verify(accessToken: string): string | undefined {
    const a = this.access.get(accessToken)
    if (a === undefined || this.clock.now() >= a.expiresAt) return undefined
    return a.clientId
  }

  /** Ends an access token now (the early_token_expiry fault). */
  expire(accessToken: string): void {
    const a = this.access.get(accessToken)
    if (a !== undefined) a.expiresAt = 0
  }
}

/**
 * Decodes `Authorization: Basic …`. Each half is form-urlencoded first (RFC 6749 §2.3.1; openid-
 * client sends `my%2Dclient`), so both halves are URL-decoded; raw values decode to themselves.
 */
export const parseBasic = (header: string | undefined): { id: string; secret: string } | undefined => {
  if (header === undefined || !/^basic /i.test(header)) return undefined
  const raw = Buffer.from(header.slice(6).trim(), "base64").toString("utf8")
  const colon = raw.indexOf(":")
  if (colon < 0) return undefined
  const dec = (s: string) => {
    try {
      return decodeURIComponent(s.replace(/\+/g, " "))
    } catch {
      return s
    }
  }
  return { id: dec(raw.slice(0, colon)), secret: dec(raw.slice(colon + 1)) }
}
