import { afterEach, describe, expect, it } from "@effect/vitest"
import { ApiError, makeMemoryTokenStore, StoreError, type TokenSet, TokenStore } from "@kura/core"
import { Effect, Exit, Fiber, Layer, Logger, Option, Redacted, References } from "effect"
import { LightspeedAuth, type LightspeedConfigInput, LightspeedConfigService } from "../src/index.js"
import { crashOnceAfterPut } from "./support/crashingTokenStore.js"
import { type FakeServer, fakeConnection, startFake } from "./support/FakeLightspeed.js"

const servers: Array<FakeServer> = []
afterEach(async () => {
  while (servers.length > 0) await servers.pop()?.close()
})
const fake = async (options: Parameters<typeof startFake>[0] = {}) => {
  const server = await startFake(options)
  servers.push(server)
  return server
}

const KEY = "lightspeed:test"

const seed = (
  map: Map<string, TokenSet>,
  pair: { access: string; refresh: string },
  expiresAt: number | null
) =>
  map.set(KEY, {
    accessToken: Redacted.make(pair.access),
    refreshToken: Redacted.make(pair.refresh),
    expiresAt,
    refreshExpiresAt: Date.now() + 14 * 86_400_000,
    issuedAt: Date.now(),
    scope: "financial-api"
  })

const authLayer = (
  server: FakeServer,
  map: Map<string, TokenSet>,
  overrides: Partial<LightspeedConfigInput> = {},
  store: TokenStore["Service"] = makeMemoryTokenStore(map)
) =>
  LightspeedAuth.layer.pipe(
    Layer.provide(
      LightspeedConfigService.layer({
        ...fakeConnection(server),
        tokenKey: KEY,
        maxAttempts: 2,
        ...overrides
      })
    ),
    Layer.provide(Layer.succeed(TokenStore, store))
  )

const captureLogs = () => {
  const lines: Array<string> = []
  const logger = Logger.make((options) => {
    lines.push(Logger.formatJson.log(options))
    lines.push(String(options.message))
  })
  const layer = Layer.mergeAll(Logger.layer([logger]), Layer.succeed(References.MinimumLogLevel, "All"))
  return { lines, layer }
}

const stored = (map: Map<string, TokenSet>) => {
  const t = map.get(KEY)
  if (!t) throw new Error("nothing stored")
  return {
    access: Redacted.value(t.accessToken),
    refresh: t.refreshToken ? Redacted.value(t.refreshToken) : null
  }
}

describe("LightspeedAuth", () => {
  it.live("V1: refreshes an expired token with the raw Basic header and stores the rotation first", () =>
    Effect.gen(function* () {
      const server = yield* Effect.promise(() => fake())
      const map = new Map<string, TokenSet>()
      const first = server.issue()
      seed(map, first, Date.now() - 1000)
      const token = yield* Effect.flatMap(Effect.service(LightspeedAuth), (a) => a.accessToken).pipe(
        Effect.provide(authLayer(server, map))
      )
      expect(server.stats.refreshes).toBe(1)
      // Raw base64(id:secret): the id has "_" and the secret "+/=", which RFC 6749 encoding would escape.
      expect(server.stats.lastTokenAuthHeader).toBe(
        `Basic ${Buffer.from(`${server.clientId}:${server.clientSecret}`).toString("base64")}`
      )
      expect(server.stats.lastTokenBody).toContain("grant_type=refresh_token")
      expect(server.stats.lastTokenBody).not.toContain("client_secret")
      expect(Redacted.value(token)).toBe(stored(map).access)
      expect(stored(map).refresh).not.toBe(first.refresh)
      expect(map.get(KEY)?.refreshExpiresAt).toBeGreaterThan(Date.now() + 13 * 86_400_000)
    })
  )

  it.live("refreshes ahead of expiry within the configured skew, not before", () =>
    Effect.gen(function* () {
      const server = yield* Effect.promise(() => fake())
      const map = new Map<string, TokenSet>()
      const pair = server.issue()
      seed(map, pair, Date.now() + 10 * 60_000)
      const auth = yield* Effect.service(LightspeedAuth).pipe(
        Effect.provide(authLayer(server, map, { refreshSkew: "5 minutes" }))
      )
      expect(Redacted.value(yield* auth.accessToken)).toBe(pair.access)
      expect(server.stats.refreshes).toBe(0)
      map.set(KEY, { ...map.get(KEY)!, expiresAt: Date.now() + 2 * 60_000 })
      const next = yield* auth.accessToken
      expect(server.stats.refreshes).toBe(1)
      expect(Redacted.value(next)).not.toBe(pair.access)
    })
  )

  it.live(
    "token-endpoint glitches (503, truncated and garbled bodies) are retried without losing the token",
    () =>
      Effect.gen(function* () {
        const server = yield* Effect.promise(() => fake({ tokenGlitches: 3 }))
        const map = new Map<string, TokenSet>()
        seed(map, server.issue(), Date.now() - 1000)
        const token = yield* Effect.flatMap(Effect.service(LightspeedAuth), (a) => a.accessToken).pipe(
          Effect.provide(authLayer(server, map, { maxAttempts: 5, retryBaseDelay: "10 millis" }))
        )
        expect(server.stats.tokenGlitches).toBe(3)
        expect(server.stats.refreshes).toBe(1)
        expect(server.stats.reuseAttempts).toBe(0)
        expect(Redacted.value(token)).toBe(stored(map).access)
      })
  )

  it.live("a token-store write that fails transiently is retried: the rotation is not lost", () =>
    Effect.gen(function* () {
      const server = yield* Effect.promise(() => fake())
      const map = new Map<string, TokenSet>()
      seed(map, server.issue(), Date.now() - 1000)
      const inner = makeMemoryTokenStore(map)
      let failures = 2
      const flaky = TokenStore.of({
        get: inner.get,
        put: (key, tokens, options) =>
          Effect.suspend(() =>
            failures-- > 0
              ? Effect.fail(
                  new StoreError({ store: "TokenStore", operation: "put", message: "database busy" })
                )
              : inner.put(key, tokens, options)
          )
      })
      const token = yield* Effect.flatMap(Effect.service(LightspeedAuth), (a) => a.accessToken).pipe(
        Effect.provide(authLayer(server, map, {}, flaky))
      )
      expect(server.stats.refreshes).toBe(1)
      expect(Redacted.value(token)).toBe(stored(map).access)
    })
  )

  it.live("the form-encoded Basic header (openid-client default) is what V1 rejects, so it is opt-in", () =>
    Effect.gen(function* () {
      const server = yield* Effect.promise(() => fake())
      const map = new Map<string, TokenSet>()
      seed(map, server.issue(), Date.now() - 1000)
      const exit = yield* Effect.flatMap(Effect.service(LightspeedAuth), (a) => a.accessToken).pipe(
        Effect.provide(authLayer(server, map, { clientAuthMethod: "basic-encoded" })),
        Effect.exit
      )
      expect(server.stats.rejectedClientAuth).toBe(1)
      expect(Exit.isFailure(exit)).toBe(true)
    })
  )

  it.live("V2: credentials in the body and refresh_expires_in from the response", () =>
    Effect.gen(function* () {
      const server = yield* Effect.promise(() => fake())
      const map = new Map<string, TokenSet>()
      seed(map, server.issue(), Date.now() - 1000)
      yield* Effect.flatMap(Effect.service(LightspeedAuth), (a) => a.accessToken).pipe(
        Effect.provide(
          authLayer(server, map, {
            authVersion: "v2",
            tokenUrl: `${server.baseUrl}/realms/k-series/protocol/openid-connect/token`
          })
        )
      )
      expect(server.stats.lastTokenAuthHeader).toBeNull()
      const body = new URLSearchParams(server.stats.lastTokenBody ?? "")
      expect(body.get("client_id")).toBe(server.clientId)
      expect(body.get("client_secret")).toBe(server.clientSecret)
      const expiry = map.get(KEY)?.refreshExpiresAt ?? 0
      expect(expiry).toBeGreaterThan(Date.now() + 1700_000)
      expect(expiry).toBeLessThan(Date.now() + 1900_000)
    })
  )

  it.live("100 rotations across 8 concurrent fibers never reuse a refresh token", () =>
    Effect.gen(function* () {
      const server = yield* Effect.promise(() => fake())
      const map = new Map<string, TokenSet>()
      seed(map, server.issue(), Date.now() + 3_600_000)
      const auth = yield* Effect.service(LightspeedAuth).pipe(Effect.provide(authLayer(server, map)))
      const worker = Effect.gen(function* () {
        while (server.stats.refreshes < 100) {
          const token = yield* auth.accessToken
          // Every fiber "sees a 401" for the token it holds; only one rotation may happen per token.
          yield* auth.refreshAfterRejection(token)
        }
      })
      yield* Effect.all(
        Array.from({ length: 8 }, () => worker),
        { concurrency: "unbounded" }
      )
      expect(server.stats.refreshes).toBeGreaterThanOrEqual(100)
      expect(server.stats.refreshes).toBeLessThan(108)
      expect(server.stats.reuseAttempts).toBe(0)
      // The stored set is the latest one: it still refreshes.
      yield* auth.forceRefresh
      expect(server.stats.reuseAttempts).toBe(0)
    })
  )

  it.live("two processes sharing one store rotate safely (compare-and-set + re-read on invalid_grant)", () =>
    Effect.gen(function* () {
      const server = yield* Effect.promise(() => fake())
      const map = new Map<string, TokenSet>()
      seed(map, server.issue(), Date.now() + 3_600_000)
      const a = yield* Effect.service(LightspeedAuth).pipe(Effect.provide(authLayer(server, map)))
      const b = yield* Effect.service(LightspeedAuth).pipe(Effect.provide(authLayer(server, map)))
      for (let i = 0; i < 20; i++) {
        yield* Effect.all([a.forceRefresh, b.forceRefresh], { concurrency: 2 })
      }
      const last = stored(map).refresh
      yield* a.forceRefresh
      expect(stored(map).refresh).not.toBe(last)
    })
  )

  it.live("a crash right after the token-store write loses nothing", () =>
    Effect.gen(function* () {
      const server = yield* Effect.promise(() => fake())
      const map = new Map<string, TokenSet>()
      seed(map, server.issue(), Date.now() - 1000)
      const inner = makeMemoryTokenStore(map)
      const crashing = crashOnceAfterPut(inner, "power cut")
      const exit = yield* Effect.flatMap(Effect.service(LightspeedAuth), (x) => x.accessToken).pipe(
        Effect.provide(authLayer(server, map, {}, crashing)),
        Effect.exit
      )
      expect(Exit.isFailure(exit)).toBe(true)
      expect(server.stats.refreshes).toBe(1)
      // "Next process": a fresh service over the same durable store.
      const next = yield* Effect.service(LightspeedAuth).pipe(Effect.provide(authLayer(server, map)))
      const token = yield* next.accessToken
      expect(server.stats.refreshes).toBe(1)
      expect(Redacted.value(token)).toBe(stored(map).access)
      yield* next.forceRefresh
      expect(server.stats.refreshes).toBe(2)
      expect(server.stats.reuseAttempts).toBe(0)
    })
  )

  it.live("an interruption after the server's answer waits for the rotation to be stored", () =>
    Effect.gen(function* () {
      // The server has retired the old refresh token by the time it answers: a timeout or SIGTERM
      // during the (slow) store write must not drop the new one, or the next run cannot log in.
      const server = yield* Effect.promise(() => fake())
      const map = new Map<string, TokenSet>()
      const first = server.issue()
      seed(map, first, Date.now() - 1000)
      const inner = makeMemoryTokenStore(map)
      let writing = false
      const slow = TokenStore.of({
        get: inner.get,
        put: (key, tokens, options) =>
          Effect.andThen(
            Effect.andThen(
              Effect.sync(() => {
                writing = true
              }),
              Effect.sleep(300)
            ),
            inner.put(key, tokens, options)
          )
      })
      const auth = yield* Effect.service(LightspeedAuth).pipe(
        Effect.provide(authLayer(server, map, {}, slow))
      )
      const fiber = yield* Effect.forkChild(auth.accessToken)
      // Interrupt once the answer is in and its store write has begun (a fixed 150 ms could end
      // before the request even reached the server on a loaded box).
      const until = Date.now() + 20_000
      while (!writing && Date.now() < until) yield* Effect.sleep(5)
      expect(writing).toBe(true)
      expect(server.stats.refreshes).toBe(1)
      yield* Fiber.interrupt(fiber)
      expect(stored(map).refresh).not.toBe(first.refresh)
      // "Next process": the stored refresh token is the live one.
      const next = yield* Effect.service(LightspeedAuth).pipe(Effect.provide(authLayer(server, map)))
      yield* next.forceRefresh
      expect(server.stats.refreshes).toBe(2)
      expect(server.stats.reuseAttempts).toBe(0)
    })
  )

  it.live("an interruption while the server's answer is on its way keeps the rotation", () =>
    Effect.gen(function* () {
      // The server retires the old refresh token as it handles the request; its answer arrives
      // 400 ms later. A drain or SIGTERM in between used to drop the answer, and the next run sent
      // the retired token (invalid_grant: a new authorisation needed).
      const server = yield* Effect.promise(() => fake({ refreshAnswerDelayMs: 400 }))
      const map = new Map<string, TokenSet>()
      const first = server.issue()
      seed(map, first, Date.now() - 1000)
      const auth = yield* Effect.service(LightspeedAuth).pipe(Effect.provide(authLayer(server, map)))
      const fiber = yield* Effect.forkChild(auth.accessToken)
      const until = Date.now() + 20_000
      while (server.stats.refreshes === 0 && Date.now() < until) yield* Effect.sleep(5)
      expect(server.stats.refreshes).toBe(1)
      const interrupted = Date.now()
      yield* Fiber.interrupt(fiber)
      // It waited for the answer (not for the 120 s request timeout), and stored it.
      expect(Date.now() - interrupted).toBeLessThan(5_000)
      expect(stored(map).refresh).not.toBe(first.refresh)
      // "Next run": the stored refresh token is the live one.
      const next = yield* Effect.service(LightspeedAuth).pipe(Effect.provide(authLayer(server, map)))
      yield* next.forceRefresh
      expect(server.stats.refreshes).toBe(2)
      expect(server.stats.reuseAttempts).toBe(0)
    })
  )

  it.live("an interruption while the token request is unanswered stops at once", () =>
    Effect.gen(function* () {
      // kura-sync check's timeout and SIGTERM must not wait out a token endpoint that never answers.
      const hanging = yield* Effect.acquireRelease(
        Effect.promise(async () => {
          const { createServer } = await import("node:http")
          const srv = createServer(() => {})
          await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()))
          return srv
        }),
        (srv) =>
          Effect.promise(
            () =>
              new Promise<void>((r) => {
                srv.closeAllConnections()
                srv.close(() => r())
              })
          )
      )
      const address = hanging.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      const server = yield* Effect.promise(() => fake())
      const map = new Map<string, TokenSet>()
      seed(map, server.issue(), Date.now() - 1000)
      const auth = yield* Effect.service(LightspeedAuth).pipe(
        Effect.provide(authLayer(server, map, { tokenUrl: `http://127.0.0.1:${port}/oauth/token` }))
      )
      const fiber = yield* Effect.forkChild(auth.accessToken)
      yield* Effect.sleep(200)
      const started = Date.now()
      yield* Fiber.interrupt(fiber)
      // The fault this guards against waits out a 120 s request timeout; 10 s leaves a loaded box room.
      expect(Date.now() - started).toBeLessThan(10_000)
    }).pipe(Effect.scoped)
  )

  it.live("invalid_grant becomes a permanent Unauthorized that says how to authorise again", () =>
    Effect.gen(function* () {
      const server = yield* Effect.promise(() => fake())
      const map = new Map<string, TokenSet>()
      seed(map, { access: "at-gone", refresh: "rt-never-issued" }, Date.now() - 1000)
      const error = yield* Effect.flatMap(Effect.service(LightspeedAuth), (a) => a.accessToken).pipe(
        Effect.provide(authLayer(server, map, { maxAttempts: 5 })),
        Effect.flip
      )
      expect(error._tag).toBe("ApiError")
      if (error._tag !== "ApiError") return
      expect(error.reason._tag).toBe("Unauthorized")
      expect(error.retryable).toBe(false)
      expect(error.message).toContain("invalid_grant")
      expect(error.message).toContain("Authorise again")
      expect(error.message).toContain("exchangeCode")
      expect(server.stats.refreshes).toBe(0)
    })
  )

  it.live("nothing stored: a clear Unauthorized, and exchangeCode stores the first set", () =>
    Effect.gen(function* () {
      const server = yield* Effect.promise(() => fake())
      const map = new Map<string, TokenSet>()
      const auth = yield* Effect.service(LightspeedAuth).pipe(Effect.provide(authLayer(server, map)))
      const error = yield* Effect.flip(auth.accessToken)
      expect(error instanceof ApiError && error.reason._tag === "Unauthorized").toBe(true)
      expect(error.message).toContain("No Lightspeed token is stored")
      const url = new URL(
        auth.authorizationUrl({
          redirectUri: "https://kura.example/cb",
          scopes: ["financial-api", "items"],
          state: "s1"
        })
      )
      expect(url.pathname).toBe("/oauth/authorize")
      expect(url.searchParams.get("scope")).toBe("financial-api items")
      expect(url.searchParams.get("client_id")).toBe(server.clientId)
      server.addCode("GyIpgM")
      const status = yield* auth.exchangeCode("GyIpgM", "https://kura.example/cb")
      expect(status.authorised).toBe(true)
      expect(server.stats.codeExchanges).toBe(1)
      const token = yield* auth.accessToken
      expect(Redacted.value(token)).toBe(stored(map).access)
      expect(server.stats.refreshes).toBe(0)
    })
  )

  it.live("warns when the refresh token nears its idle expiry, and never logs a secret", () =>
    Effect.gen(function* () {
      const server = yield* Effect.promise(() => fake())
      const map = new Map<string, TokenSet>()
      const pair = server.issue()
      seed(map, pair, Date.now() - 1000)
      const { lines, layer } = captureLogs()
      const auth = yield* Effect.service(LightspeedAuth).pipe(
        Effect.provide(authLayer(server, map, { refreshIdleTtl: "1 hour", refreshWarnBefore: "2 hours" }))
      )
      yield* Effect.gen(function* () {
        yield* auth.accessToken
        yield* auth.accessToken
        yield* Effect.logDebug("probe")
        // A failing refresh too: its error must not carry the token either.
        map.set(KEY, { ...map.get(KEY)!, refreshToken: Redacted.make("rt-stale-secret-value"), expiresAt: 0 })
        const error = yield* Effect.flip(auth.accessToken)
        yield* Effect.logError("refresh failed", error)
        yield* Effect.logError(String(error), JSON.stringify(error))
      }).pipe(Effect.provide(layer))
      const text = lines.join("\n")
      expect(text).toContain("probe")
      expect(text).toMatch(/refresh token for "lightspeed:test" expires in about [01] h/)
      expect(lines.filter((l) => l.includes("expires in about")).length).toBe(2) // one event, both renderings
      const secrets = [
        server.clientSecret,
        pair.access,
        pair.refresh,
        stored(map).access,
        "rt-stale-secret-value"
      ]
      for (const secret of secrets) expect(text).not.toContain(secret)
      const b64 = Buffer.from(`${server.clientId}:${server.clientSecret}`).toString("base64")
      expect(text).not.toContain(b64)
    })
  )

  it.live("status reports expiry facts without secrets", () =>
    Effect.gen(function* () {
      const server = yield* Effect.promise(() => fake())
      const map = new Map<string, TokenSet>()
      seed(map, server.issue(), Date.now() + 60_000)
      const status = yield* Effect.flatMap(Effect.service(LightspeedAuth), (a) => a.status).pipe(
        Effect.provide(authLayer(server, map))
      )
      expect(status.authorised).toBe(true)
      expect(JSON.stringify(status)).not.toContain("at-")
      expect(Option.isSome(Option.fromNullishOr(status.accessExpiresAt))).toBe(true)
    })
  )
})
