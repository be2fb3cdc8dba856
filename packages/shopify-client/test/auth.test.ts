import { HttpTransport, makeMemoryTokenStore, type TokenSet, TokenStore } from "@kura/core"
import { Effect, Layer, Logger, Redacted } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ShopifyAuth } from "../src/ShopifyAuth.js"
import { ShopifyClient } from "../src/ShopifyClient.js"
import { configLayer, type Sandbox, startSandbox } from "./sandbox.js"

const PING = "query { shop { id } }"

const withAuth = (
  sb: Sandbox,
  auth: Layer.Layer<
    ShopifyAuth,
    never,
    HttpTransport | import("../src/ShopifyConfig.js").ShopifyConfig | TokenStore
  >,
  store = TokenStore.layerMemory
) =>
  ShopifyClient.layer.pipe(
    Layer.provideMerge(auth),
    Layer.provideMerge(configLayer(sb)),
    Layer.provideMerge(HttpTransport.layer()),
    Layer.provideMerge(store)
  )

describe("auth providers against the sandbox", () => {
  let sb: Sandbox
  beforeAll(async () => {
    sb = await startSandbox({ timeScale: 20 })
  })
  afterAll(() => sb.close())

  it("client credentials: concurrent callers trigger a single token request", async () => {
    const before = sb.handle.stats().tokenRequests ?? 0
    const { clientId, clientSecret } = sb.handle.credentials
    await Effect.runPromise(
      Effect.provide(
        Effect.gen(function* () {
          const client = yield* ShopifyClient
          yield* Effect.forEach(Array.from({ length: 8 }), () => client.query(PING), {
            concurrency: "unbounded"
          })
        }),
        withAuth(sb, ShopifyAuth.layerClientCredentials({ clientId, clientSecret }))
      )
    )
    expect((sb.handle.stats().tokenRequests ?? 0) - before).toBe(1)
  })

  it("client credentials: a 401 renews once and retries; racing fibers share the renewal", async () => {
    const { clientId, clientSecret } = sb.handle.credentials
    const before = sb.handle.stats().tokenRequests ?? 0
    await Effect.runPromise(
      Effect.provide(
        Effect.gen(function* () {
          const client = yield* ShopifyClient
          yield* client.query(PING)
          sb.faults.arm("early_token_expiry", 1)
          yield* Effect.forEach(Array.from({ length: 6 }), () => client.query(PING), {
            concurrency: "unbounded"
          })
        }),
        withAuth(sb, ShopifyAuth.layerClientCredentials({ clientId, clientSecret }))
      )
    )
    expect(sb.faults.report().shopify.early_token_expiry).toBe(1)
    expect((sb.handle.stats().tokenRequests ?? 0) - before).toBe(2)
  })

  it("client credentials: renews before expiry from expires_in, without a 401", async () => {
    const fast = await startSandbox({ timeScale: 40_000 })
    try {
      const { clientId, clientSecret } = fast.handle.credentials
      await Effect.runPromise(
        Effect.provide(
          Effect.gen(function* () {
            const client = yield* ShopifyClient
            yield* client.query(PING)
            // 86 399 s at timeScale 40 000 ≈ 2.2 s; renewal happens 10% before.
            yield* Effect.sleep("2200 millis")
            yield* client.query(PING)
          }),
          withAuth(fast, ShopifyAuth.layerClientCredentials({ clientId, clientSecret }))
        )
      )
      expect(fast.handle.stats().tokenRequests).toBe(2)
      expect(fast.handle.stats().unauthorized ?? 0).toBe(0)
    } finally {
      await fast.close()
    }
  })

  it("expiring offline tokens: rotation is persisted in TokenStore before use", async () => {
    const issued = sb.handle.issueExpiringOfflineToken()
    const state = new Map<string, TokenSet>()
    const now = Date.now()
    state.set("shopify:test", {
      accessToken: Redacted.make(issued.access_token),
      refreshToken: Redacted.make(issued.refresh_token ?? ""),
      expiresAt: now + (issued.expires_in ?? 0) * 1000,
      refreshExpiresAt: null,
      issuedAt: now,
      scope: issued.scope
    })
    const { clientId, clientSecret } = sb.handle.credentials
    const before = sb.handle.stats().tokenRequests ?? 0
    await Effect.runPromise(
      Effect.provide(
        Effect.gen(function* () {
          const client = yield* ShopifyClient
          yield* client.query(PING)
          sb.faults.arm("early_token_expiry", 1)
          yield* Effect.forEach(Array.from({ length: 4 }), () => client.query(PING), {
            concurrency: "unbounded"
          })
        }),
        withAuth(
          sb,
          ShopifyAuth.layerRefreshToken({ clientId, clientSecret, tokenKey: "shopify:test" }),
          Layer.succeed(TokenStore, makeMemoryTokenStore(state))
        )
      )
    )
    // Four racing fibers hit the 401; one rotation served them all.
    expect((sb.handle.stats().tokenRequests ?? 0) - before).toBe(1)
    const stored = state.get("shopify:test")
    expect(stored).toBeDefined()
    expect(Redacted.value(stored?.accessToken ?? Redacted.make(""))).not.toBe(issued.access_token)
    expect(Redacted.value(stored?.refreshToken ?? Redacted.make(""))).not.toBe(issued.refresh_token)
  })

  it("never lets a secret reach an error or a log line", async () => {
    const secret = "shpss_super_secret_value_123"
    const logs: Array<string> = []
    const capture = Logger.make((o) => {
      logs.push(JSON.stringify(o.message), String(o.message))
    })
    const exit = await Effect.runPromiseExit(
      Effect.provide(
        Effect.gen(function* () {
          const client = yield* ShopifyClient
          yield* Effect.logInfo("using", Redacted.make(secret))
          return yield* client.query(PING)
        }),
        withAuth(
          sb,
          ShopifyAuth.layerClientCredentials({
            clientId: sb.handle.credentials.clientId,
            clientSecret: secret
          })
        ).pipe(Layer.provideMerge(Logger.layer([capture])))
      )
    )
    expect(exit._tag).toBe("Failure")
    const text = JSON.stringify(exit) + String(exit)
    expect(text).toContain("Unauthorized")
    expect(text).not.toContain(secret)
    expect(logs.join("\n")).toContain("using")
    expect(logs.join("\n")).not.toContain(secret)
  })
})
