/**
 * Access tokens: the static admin token (`shpat_`, never expires), client-credentials tokens
 * (`shpca_`, 24 h scaled, no refresh token) and expiring offline tokens (1 h scaled) with rotating
 * refresh tokens. Since 2026-08-28 a previous refresh token stays valid until its successor is used.
 */
import { randomBytes } from "node:crypto"
import type { SandboxClock } from "../contracts.js"

/** What a request's token turned out to be. */
export type TokenCheck = "ok" | "invalid" | "expired"

interface AccessRecord {
  readonly kind: "static" | "client_credentials" | "expiring_offline"
  expiresAt: number | null
}

interface RefreshRecord {
  readonly predecessor: string | null
  readonly expiresAt: number
  revoked: boolean
}

/** The token endpoint's JSON answer. */
export interface TokenResponse {
  readonly access_token: string
  readonly scope: string
  readonly expires_in?: number
  readonly refresh_token?: string
  readonly refresh_token_expires_in?: number
}

const CLIENT_CREDENTIALS_SECONDS = 86_399
const EXPIRING_OFFLINE_SECONDS = 3_600
const REFRESH_SECONDS = 90 * 86_400

const token = (prefix: string): string => `${prefix}${randomBytes(16).toString("hex")}`

/** The token store of the emulated shop. */
export class Tokens {
  private readonly access = new Map<string, AccessRecord>()
  private readonly refresh = new Map<string, RefreshRecord>()
  readonly staticToken: string

  constructor(
    private readonly clock: SandboxClock,
    private readonly scopes: () => ReadonlyArray<string>
  ) {
    this.staticToken = token("shpat_")
    this.access.set(this.staticToken, { kind: "static", expiresAt: null })
  }

  private scaledSeconds(seconds: number): number {
    return Math.max(1, Math.floor(this.clock.scale(seconds * 1000) / 1000))
  }

  /** Validates a token from X-Shopify-Access-Token. */
  check(value: string | undefined): TokenCheck {
    if (value === undefined) return "invalid"
    const rec = this.access.get(value)
    if (rec === undefined) return "invalid"
    if (rec.expiresAt !== null && this.clock.now() >= rec.expiresAt) return "expired"
    return "ok"
  }

  /** Whether the token expires at all (the early_token_expiry fault only hits those). */
  expiring(value: string): boolean {
    const rec = this.access.get(value)
    return rec !== undefined && rec.expiresAt !== null
  }

  /** Expires a token now (fault injection). */
  expireNow(value: string): void {
    const rec = this.access.get(value)
    if (rec !== undefined && rec.kind !== "static") rec.expiresAt = this.clock.now()
  }

  /** client_credentials grant. */
  clientCredentials(): TokenResponse {
    const t = token("shpca_")
    const expiresIn = this.scaledSeconds(CLIENT_CREDENTIALS_SECONDS)
    this.access.set(t, {
      kind: "client_credentials",
      expiresAt: this.clock.now() + this.clock.scale(CLIENT_CREDENTIALS_SECONDS * 1000)
    })
    return { access_token: t, scope: this.scopes().join(","), expires_in: expiresIn }
  }

  /** An expiring offline token with a refresh token (token exchange with expiring=1). */
  expiringOffline(predecessor: string | null = null): TokenResponse {
    const t = token("shpat_")
    const r = token("shprt_")
    const now = this.clock.now()
    this.access.set(t, {
      kind: "expiring_offline",
      expiresAt: now + this.clock.scale(EXPIRING_OFFLINE_SECONDS * 1000)
    })
    this.refresh.set(r, {
      predecessor,
      expiresAt: now + this.clock.scale(REFRESH_SECONDS * 1000),
      revoked: false
    })
    return {
      access_token: t,
      scope: this.scopes().join(","),
      expires_in: this.scaledSeconds(EXPIRING_OFFLINE_SECONDS),
      refresh_token: r,
      refresh_token_expires_in: this.scaledSeconds(REFRESH_SECONDS)
    }
  }

  /** refresh_token grant; null when the refresh token is unknown, revoked or expired. */
  useRefreshToken(value: string): TokenResponse | null {
    const r = this.refresh.get(value)
    if (r === undefined || r.revoked || this.clock.now() >= r.expiresAt) return null
    // Using a refresh token retires its own predecessor.
    if (r.predecessor !== null) {
      const p = this.refresh.get(r.predecessor)
      if (p !== undefined) p.revoked = true
    }
    return this.expiringOffline(value)
  }
}
