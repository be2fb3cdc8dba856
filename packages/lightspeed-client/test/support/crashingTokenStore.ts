import { type TokenSet, TokenStore } from "@kura/core"
import { Effect } from "effect"

/**
 * Wraps a store so that its first `put` writes and then kills the fiber (a process dying right
 * after the token-store write, before the new access token is used); later puts pass through.
 */
export const crashOnceAfterPut = (inner: TokenStore["Service"], reason: string): TokenStore["Service"] => {
  let crashed = false
  return TokenStore.of({
    get: inner.get,
    put: (key: string, tokens: TokenSet, options) =>
      Effect.flatMap(inner.put(key, tokens, options), (ok) =>
        crashed
          ? Effect.succeed(ok)
          : Effect.sync(() => (crashed = true)).pipe(Effect.andThen(Effect.die(reason)))
      )
  })
}
