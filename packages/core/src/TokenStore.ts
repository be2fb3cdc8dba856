/**
 * Where OAuth token sets live between runs. Single-use refresh tokens (Lightspeed K-Series,
 * expiring Shopify offline tokens) make this critical: the new refresh token must be stored
 * atomically *before* the new access token is used, or the next run fails with invalid_grant.
 */
import { Context, Effect, Layer, Option, Redacted } from "effect"
import type { StoreError } from "./StoreError.js"

/** One credential's current token set. Secrets stay `Redacted` so they never reach a log. */
export interface TokenSet {
  readonly accessToken: Redacted.Redacted<string>
  readonly refreshToken: Redacted.Redacted<string> | null
  /** Access-token expiry (epoch ms), or null when it does not expire. */
  readonly expiresAt: number | null
  /** Refresh-token expiry (epoch ms) when the server says, e.g. K-Series' 14-day idle limit. */
  readonly refreshExpiresAt: number | null
  /** When this set was issued (epoch ms). */
  readonly issuedAt: number
  readonly scope: string | null
}

/** The token port. Keys are opaque credential ids, e.g. `lightspeed:<client_id>:<business>`. */
export class TokenStore extends Context.Service<
  TokenStore,
  {
    readonly get: (key: string) => Effect.Effect<Option.Option<TokenSet>, StoreError>
    /**
     * Replaces the set atomically. With `expectRefreshToken`, the write only happens if the stored
     * refresh token still equals it (compare-and-set), so two processes cannot both rotate one
     * token; it returns false when it lost that race.
     */
    readonly put: (
      key: string,
      tokens: TokenSet,
      options?: { readonly expectRefreshToken?: string | null }
    ) => Effect.Effect<boolean, StoreError>
  }
>()("@kura/core/TokenStore") {
  /** An in-memory store for tests and single-process runs. */
  static readonly layerMemory = Layer.sync(TokenStore, () => makeMemoryTokenStore(new Map()))

  /** Alias of `layerMemory`, following the house `layerTest` naming. */
  static readonly layerTest = TokenStore.layerMemory
}

/** Builds an in-memory TokenStore over a caller-owned map (tests inspect the map directly). */
export const makeMemoryTokenStore = (state: Map<string, TokenSet>): TokenStore["Service"] =>
  TokenStore.of({
    get: (key) => Effect.sync(() => Option.fromNullishOr(state.get(key))),
    put: (key, tokens, options) =>
      Effect.sync(() => {
        if (options?.expectRefreshToken !== undefined) {
          const current = state.get(key)
          const currentRefresh = current?.refreshToken ? Redacted.value(current.refreshToken) : null
          if (current !== undefined && currentRefresh !== options.expectRefreshToken) return false
        }
        state.set(key, tokens)
        return true
      })
  })
