/**
 * Seeds a token store with the refresh token an operator configured, once: later runs must use
 * the rotated token the store holds (K-Series refresh tokens are single-use), so the seed only
 * lands while the key is empty, and loses to anyone who wrote first.
 */
import type { TokenSet, TokenStore } from "@kura/core"
import { Clock, Effect, Option, Redacted } from "effect"

/** Writes `refreshToken` under `tokenKey` unless the store already holds a token set there. */
export const seedRefreshToken = (
  store: TokenStore["Service"],
  tokenKey: string,
  refreshToken: Redacted.Redacted<string>
) =>
  Effect.gen(function* () {
    const existing = yield* store.get(tokenKey)
    if (Option.isSome(existing)) return
    const initial: TokenSet = {
      accessToken: Redacted.make(""),
      refreshToken,
      expiresAt: 0,
      refreshExpiresAt: null,
      issuedAt: yield* Clock.currentTimeMillis,
      scope: null
    }
    yield* store.put(tokenKey, initial, { expectRefreshToken: null })
  })
