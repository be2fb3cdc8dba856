/**
 * The client against the independent @kura/sandbox K-Series emulator: token rotation under
 * concurrency, a pull that ties to the generator's ground truth, and the flaky fault profile.
 */

import { afterEach, describe, expect, it } from "@effect/vitest"
import {
  type DeadLetter,
  DeadLetterSink,
  Decimal,
  HttpTransport,
  makeMemoryTokenStore,
  type TokenSet,
  TokenStore,
  toMinorUnits
} from "@kura/core"
import { type Sandbox, type SandboxOptions, startSandbox } from "@kura/sandbox"
import { Effect, Layer, Logger, Redacted, References, Stream } from "effect"
import {
  addDays,
  LightspeedAuth,
  LightspeedClient,
  type LightspeedConfigInput,
  LightspeedConfigService,
  nextCursorDay,
  type Sale
} from "../src/index.js"
import { crashOnceAfterPut } from "./support/crashingTokenStore.js"

const sandboxes: Array<Sandbox> = []
afterEach(async () => {
  while (sandboxes.length > 0) await sandboxes.pop()?.close()
})

const ANCHOR = Date.parse("2026-06-15T00:00:00Z")
const KEY = "lightspeed:sandbox"

const start = async (options: SandboxOptions = {}) => {
  const sandbox = await startSandbox({
    seed: 7,
    anchor: ANCHOR,
    scale: 2400,
    historyDays: 30,
    timeScale: 10,
    ...options
  })
  sandboxes.push(sandbox)
  return sandbox
}

const seedTokens = (map: Map<string, TokenSet>, refreshToken: string) =>
  map.set(KEY, {
    accessToken: Redacted.make("none-yet"),
    refreshToken: Redacted.make(refreshToken),
    expiresAt: 0,
    refreshExpiresAt: null,
    issuedAt: Date.now(),
    scope: null
  })

const clientLayer = (
  sandbox: Sandbox,
  map: Map<string, TokenSet>,
  overrides: Partial<LightspeedConfigInput> = {}
) => {
  const c = sandbox.lightspeed.credentials
  return LightspeedClient.layer({
    clientId: c.clientId,
    clientSecret: c.clientSecret,
    apiBaseUrl: sandbox.lightspeed.baseUrl,
    tokenUrl: c.tokenUrl,
    authorizeUrl: `${sandbox.lightspeed.baseUrl}/oauth/authorize`,
    allowInsecureRequests: true,
    tokenKey: KEY,
    maxAttempts: 12,
    retryBaseDelay: "50 millis",
    initialRequestsPerSecond: 60,
    ...overrides
  }).pipe(
    Layer.provide(Layer.succeed(TokenStore, makeMemoryTokenStore(map))),
    Layer.provide(HttpTransport.layer({ connectionRetryDelayMillis: 5, responseTimeoutMillis: 20_000 }))
  )
}

const captureLogs = () => {
  const lines: Array<string> = []
  const logger = Logger.make((options) => void lines.push(Logger.formatJson.log(options)))
  return {
    lines,
    layer: Layer.mergeAll(Logger.layer([logger]), Layer.succeed(References.MinimumLogLevel, "All"))
  }
}

const collect = <A, E, R>(stream: Stream.Stream<A, E, R>) =>
  Effect.map(Stream.runCollect(stream), (c) => [...c])

const lineSum = (sale: Sale) =>
  sale.salesLines.reduce((acc, l) => acc.add(l.totalNetAmountWithTax ?? Decimal.zero), Decimal.zero)

const saleKey = (s: Sale) =>
  [
    s.accountReference,
    s.type,
    s.timeClosed,
    ...s.salesLines.map(
      (l) =>
        `${l.id}:${l.quantity.toString()}:${l.totalNetAmountWithTax?.toString()}:${l.taxLines.map((t) => `${t.taxRate.percent.toString()}/${t.taxAmount.toString()}`).join("+")}`
    ),
    ...s.payments.map((p) => `${p.fiscId}:${p.netAmountWithTax.toString()}`)
  ].join("|")

/** Business dates before the anchor (all final), starting before the locations opened. */
const FROM = "2026-05-10"
const TO = "2026-06-14"

describe("against @kura/sandbox", () => {
  it.live("V1 auth: 100 rotations by 8 fibers, no refresh token reused (counted by the sandbox)", () =>
    Effect.gen(function* () {
      const sandbox = yield* Effect.promise(() => start())
      const map = new Map<string, TokenSet>()
      seedTokens(map, sandbox.lightspeed.credentials.refreshToken)
      const auth = yield* Effect.service(LightspeedAuth).pipe(Effect.provide(clientLayer(sandbox, map)))
      const worker = Effect.gen(function* () {
        while ((sandbox.stats().lightspeed.tokenRefreshes ?? 0) < 100) {
          const token = yield* auth.accessToken
          yield* auth.refreshAfterRejection(token)
        }
      })
      yield* Effect.all(
        Array.from({ length: 8 }, () => worker),
        { concurrency: "unbounded" }
      )
      const stats = sandbox.stats().lightspeed
      expect(stats.tokenRefreshes).toBeGreaterThanOrEqual(100)
      expect(stats.refreshReuseAttempts).toBe(0)
      expect(stats.invalidClient).toBe(0)
      // The stored set is live: an API call works with it.
      const client = yield* Effect.service(LightspeedClient).pipe(Effect.provide(clientLayer(sandbox, map)))
      const locations = yield* collect(client.locations)
      expect(locations.length).toBe(2)
    })
  )

  it.live("a crash right after the token-store write loses nothing; the next process continues", () =>
    Effect.gen(function* () {
      const sandbox = yield* Effect.promise(() => start())
      const map = new Map<string, TokenSet>()
      seedTokens(map, sandbox.lightspeed.credentials.refreshToken)
      const inner = makeMemoryTokenStore(map)
      const crashing = crashOnceAfterPut(inner, "crash")
      const firstRun = LightspeedAuth.layer.pipe(
        Layer.provide(
          LightspeedConfigService.layer({
            clientId: sandbox.lightspeed.credentials.clientId,
            clientSecret: sandbox.lightspeed.credentials.clientSecret,
            apiBaseUrl: sandbox.lightspeed.baseUrl,
            tokenUrl: sandbox.lightspeed.credentials.tokenUrl,
            allowInsecureRequests: true,
            tokenKey: KEY
          })
        ),
        Layer.provide(Layer.succeed(TokenStore, crashing))
      )
      const exit = yield* Effect.flatMap(Effect.service(LightspeedAuth), (a) => a.accessToken).pipe(
        Effect.provide(firstRun),
        Effect.exit
      )
      expect(exit._tag).toBe("Failure")
      expect(sandbox.stats().lightspeed.tokenRefreshes).toBe(1)
      // Next process: same durable store, fresh services.
      const client = yield* Effect.service(LightspeedClient).pipe(Effect.provide(clientLayer(sandbox, map)))
      const locations = yield* collect(client.locations)
      expect(locations.length).toBe(2)
      expect(sandbox.stats().lightspeed.tokenRefreshes).toBe(1)
      yield* Effect.flatMap(Effect.service(LightspeedAuth), (a) => a.forceRefresh).pipe(
        Effect.provide(clientLayer(sandbox, map))
      )
      expect(sandbox.stats().lightspeed.tokenRefreshes).toBe(2)
      expect(sandbox.stats().lightspeed.refreshReuseAttempts).toBe(0)
    })
  )

  it.live("V2 auth (body credentials, Keycloak path) works against the sandbox", () =>
    Effect.gen(function* () {
      const sandbox = yield* Effect.promise(() => start())
      const c = sandbox.lightspeed.credentials
      const map = new Map<string, TokenSet>()
      seedTokens(map, c.v2RefreshToken)
      const layer = clientLayer(sandbox, map, {
        clientId: c.v2ClientId,
        clientSecret: c.v2ClientSecret,
        authVersion: "v2",
        tokenUrl: c.v2TokenUrl
      })
      const client = yield* Effect.service(LightspeedClient).pipe(Effect.provide(layer))
      const locations = yield* collect(client.locations)
      expect(locations.map((l) => l.businessLocationId).sort()).toEqual([...c.businessLocationIds].sort())
      // refresh_expires_in 0 = offline token: no refresh expiry recorded.
      expect(map.get(KEY)?.refreshExpiresAt).toBeNull()
      expect(sandbox.stats().lightspeed.refreshReuseAttempts).toBe(0)
    })
  )

  it.live(
    "items above the documented amount: honoured (fewer requests), refused (falls back to 100), same catalogue",
    () =>
      Effect.gen(function* () {
        const read = (itemsMaxAmount: number, pageSize: number) =>
          Effect.gen(function* () {
            const sandbox = yield* Effect.promise(() =>
              start({ historyDays: 3, lightspeed: { itemsMaxAmount } })
            )
            const map = new Map<string, TokenSet>()
            seedTokens(map, sandbox.lightspeed.credentials.refreshToken)
            return yield* Effect.gen(function* () {
              const client = yield* Effect.service(LightspeedClient)
              const [location] = yield* collect(client.locations)
              const before = sandbox.stats().lightspeed?.requests ?? 0
              const items = yield* collect(client.items(location!.businessLocationId))
              return {
                ids: items.map((i) => String(i.id)),
                requests: (sandbox.stats().lightspeed?.requests ?? 0) - before,
                size: yield* client.itemsMaxAmount
              }
            }).pipe(Effect.provide(clientLayer(sandbox, map, { itemsPageSize: pageSize })))
          })
        const documented = yield* read(100, 100)
        const honoured = yield* read(1000, 1000)
        const refused = yield* read(100, 1000)
        expect(documented.ids.length).toBeGreaterThan(0)
        expect(honoured.ids).toEqual(documented.ids)
        expect(refused.ids).toEqual(documented.ids)
        expect(honoured.requests).toBe(Math.ceil(documented.ids.length / 1000))
        expect(documented.requests).toBe(Math.ceil((documented.ids.length + 1) / 100))
        // One refused request, then the documented size for the rest of the client's life.
        expect(refused.requests).toBe(documented.requests + 1)
        expect(refused.size).toBe(100)
        expect(honoured.size).toBe(1000)
      })
  )

  it.live("V1 business days tie to the ground truth (count and gross per day and location); V2 agrees", () =>
    Effect.gen(function* () {
      const sandbox = yield* Effect.promise(() => start({ malformedPerSource: 2 }))
      const map = new Map<string, TokenSet>()
      seedTokens(map, sandbox.lightspeed.credentials.refreshToken)
      const letters: Array<DeadLetter> = []
      const client = yield* Effect.service(LightspeedClient).pipe(Effect.provide(clientLayer(sandbox, map)))
      const clientV2 = yield* Effect.service(LightspeedClient).pipe(
        Effect.provide(clientLayer(sandbox, map, { financialsApi: "v2" }))
      )
      const truth = sandbox.groundTruth()
      const idOf = new Map(sandbox.merchant.locations.map((l) => [l.lightspeedBlId ?? "", l.id]))
      let compared = 0
      for (const bl of sandbox.lightspeed.credentials.businessLocationIds) {
        const v1 = yield* collect(client.syncDays(bl, { from: FROM, to: TO })).pipe(
          Effect.provide(DeadLetterSink.layerMemoryWith(letters))
        )
        const v2 = yield* collect(clientV2.syncDays(bl, { from: FROM, to: TO })).pipe(
          Effect.provide(DeadLetterSink.layerMemoryWith([]))
        )
        expect(
          v2.map((d) =>
            d.sales
              .filter((s) => s.type === "SALE")
              .map((s) => s.accountReference)
              .sort()
          )
        ).toEqual(
          v1.map((d) =>
            d.sales
              .filter((s) => s.type === "SALE")
              .map((s) => s.accountReference)
              .sort()
          )
        )
        expect(v1.every((d) => d.final)).toBe(true)
        expect(nextCursorDay(FROM, v1)).toBe(addDays(TO, 1))
        for (const day of v1) {
          const row = truth.revenueByDay.find(
            (r) => r.channel === "pos" && r.businessDate === day.date && r.locationId === idOf.get(bl)
          )
          const sales = day.sales.filter((s) => s.type === "SALE")
          expect(sales.length).toBe(row?.orders ?? 0)
          const gross = sales.reduce((acc, s) => acc.add(lineSum(s)), Decimal.zero)
          expect(toMinorUnits(gross, "JPY")).toBe(BigInt(row?.gross ?? 0))
          compared += sales.length
        }
      }
      expect(compared).toBeGreaterThan(500)
      expect(letters.length).toBe(truth.counts.malformed.lightspeed)
      expect(letters.every((l) => l.detail.includes("totalNetAmountWithTax"))).toBe(true)
    })
  )

  it.live("a full pull under the flaky fault profile equals the fault-free pull", () =>
    Effect.gen(function* () {
      const pull = (faults: NonNullable<SandboxOptions["faults"]>) =>
        Effect.gen(function* () {
          const sandbox = yield* Effect.promise(() => start({ faults, malformedPerSource: 2 }))
          const map = new Map<string, TokenSet>()
          seedTokens(map, sandbox.lightspeed.credentials.refreshToken)
          const letters: Array<DeadLetter> = []
          const out: Array<string> = []
          const capture = captureLogs()
          yield* Effect.gen(function* () {
            const client = yield* Effect.service(LightspeedClient)
            const locations = yield* collect(client.locations)
            out.push(...locations.map((l) => `${l.businessLocationId}:${l.timezone}:${l.currencyCode}`))
            for (const l of locations) {
              const bl = l.businessLocationId
              const range = { from: "2026-05-01T00:00:00Z", to: "2026-06-15T00:00:00Z" }
              const v1 = yield* collect(client.financials(bl, range))
              const v2 = yield* collect(client.sales(bl, range))
              const days = yield* collect(client.syncDays(bl, { from: "2026-06-08", to: TO }))
              const items = yield* collect(client.items(bl))
              const stock = yield* collect(
                client.itemAvailability(
                  bl,
                  items.map((i) => i.sku ?? "")
                )
              )
              const rates = yield* client.taxRates(bl)
              const methods = yield* client.paymentMethods(bl)
              out.push(
                ...v1.map(saleKey),
                ...v2.map(saleKey),
                ...days.map((d) => `${d.date}:${d.final}:${d.sales.map(saleKey).join(";")}`),
                ...items.map((i) => `${i.id}:${i.sku}:${i.prices?.[0]?.amount.toString()}`),
                ...stock.map((s) => `${s.sku}:${s.count.toString()}`),
                ...rates.map((r) => `${r.code}:${r.rate.percent.toString()}`),
                ...methods.map((m) => `${m.code}`)
              )
            }
          }).pipe(
            Effect.provide(clientLayer(sandbox, map)),
            Effect.provide(DeadLetterSink.layerMemoryWith(letters)),
            Effect.provide(capture.layer)
          )
          const c = sandbox.lightspeed.credentials
          const logText = capture.lines.join("\n")
          expect(logText).toContain("dead letters")
          const finalTokens = map.get(KEY)
          for (const secret of [
            c.clientSecret,
            c.refreshToken,
            finalTokens ? Redacted.value(finalTokens.accessToken) : "?",
            finalTokens?.refreshToken ? Redacted.value(finalTokens.refreshToken) : "?"
          ]) {
            expect(logText).not.toContain(secret)
          }
          const report = sandbox.faultReport().lightspeed
          const faultCount = Object.values(report).reduce((a: number, b) => a + (b ?? 0), 0)
          return {
            out,
            letters: letters.map((l) => l.sourceId).sort(),
            faultCount,
            reuse: sandbox.stats().lightspeed.refreshReuseAttempts
          }
        })
      const clean = yield* pull("none")
      const flaky = yield* pull({ profile: "flaky", overrides: { slow_response: 0.002 } })
      expect(clean.faultCount).toBe(0)
      expect(flaky.faultCount).toBeGreaterThan(3)
      expect(clean.out.length).toBeGreaterThan(1000)
      expect(flaky.out).toEqual(clean.out)
      expect(flaky.letters).toEqual(clean.letters)
      expect(flaky.reuse).toBe(0)
    })
  )
})
