/**
 * K-Series OAuth state: V1 (`/oauth/token`, Basic client authentication) and V2 (Keycloak,
 * parameters in the body). Refresh tokens are single-use and rotate; a reused one is rejected
 * with `invalid_grant` and counted, because losing a rotated token is the classic client bug.
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
}

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
  refreshes = 0
  refreshReuseAttempts = 0
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

  private issue(client: OAuthClient): Record<string, unknown> {
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
