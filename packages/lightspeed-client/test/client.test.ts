import { afterEach, describe, expect, it } from "@effect/vitest"
import {
  type DeadLetter,
  DeadLetterSink,
  HttpTransport,
  makeMemoryTokenStore,
  type TokenSet,
  TokenStore
} from "@kura/core"
import { Chunk, Effect, Layer, Redacted, Stream } from "effect"
import { LightspeedClient, type LightspeedConfigInput, nextCursorDay, type Sale } from "../src/index.js"
import { type FakeOptions, type FakeServer, fakeConnection, startFake } from "./support/FakeLightspeed.js"

const servers: Array<FakeServer> = []
afterEach(async () => {
  while (servers.length > 0) await servers.pop()?.close()
})

const TOKYO = "141948669132802"
const CAFE = "45454565682155123"

const setup = async (options: FakeOptions = {}, overrides: Partial<LightspeedConfigInput> = {}) => {
  const server = await startFake(options)
  servers.push(server)
  const map = new Map<string, TokenSet>()
  const pair = server.issue()
  map.set("lightspeed:test", {
    accessToken: Redacted.make(pair.access),
    refreshToken: Redacted.make(pair.refresh),
    expiresAt: Date.now() + 3_600_000,
    refreshExpiresAt: null,
    issuedAt: Date.now(),
    scope: null
  })
  const layer = LightspeedClient.layer({
    ...fakeConnection(server),
    tokenKey: "lightspeed:test",
    maxAttempts: 10,
    retryBaseDelay: "20 millis",
    initialRequestsPerSecond: 100,
    ...overrides
  }).pipe(
    Layer.provide(Layer.succeed(TokenStore, makeMemoryTokenStore(map))),
    Layer.provide(HttpTransport.layer({ connectionRetryDelayMillis: 5 }))
  )
  return { server, layer, map }
}

const collect = <A, E, R>(stream: Stream.Stream<A, E, R>) =>
  Effect.map(Stream.runCollect(stream), (c) => [...c])

const saleKey = (s: Sale) =>
  `${s.accountReference}|${s.timeClosed}|${s.salesLines.map((l) => `${l.id}:${l.totalNetAmountWithTax?.toString()}:${l.taxLines.map((t) => t.taxAmount.toString()).join("+")}`).join(",")}|${s.payments.map((p) => p.netAmountWithTax.toString()).join(",")}`

describe("LightspeedClient", () => {
  it.live("lists business locations with their time zones, keeping int64 ids exact", () =>
    Effect.gen(function* () {
      const { layer } = yield* Effect.promise(() => setup())
      const client = yield* Effect.service(LightspeedClient).pipe(Effect.provide(layer))
      const locations = yield* collect(client.locations)
      expect(locations.map((l) => l.businessLocationId)).toEqual([TOKYO, CAFE])
      expect(locations[0]?.timezone).toBe("Asia/Tokyo")
      expect(locations[0]?.currencyCode).toBe("JPY")
      expect(locations[0]?.businessId).toBe("45454565682155")
    })
  )

  it.live("reads a business day through V1 and V2 with payments, tax lines and exact amounts", () =>
    Effect.gen(function* () {
      const { layer } = yield* Effect.promise(() => setup({ salesPerDay: 5 }))
      const client = yield* Effect.service(LightspeedClient).pipe(Effect.provide(layer))
      const v1 = yield* client.dailyFinancials(TOKYO, "2024-03-05")
      const v2 = yield* client.salesDaily(TOKYO, "2024-03-05")
      expect(v1.sales.length).toBe(5)
      expect(v1.final).toBe(true)
      expect(v1.nextStartOfDay).toBe("2024-03-06T05:00:00+09:00")
      expect(v1.sales.map(saleKey)).toEqual(v2.sales.map(saleKey))
      const line = v1.sales[0]?.salesLines[0]
      expect(line?.taxLines[0]?.taxRate.percent.toString()).toBe("8")
      expect(v1.sales[0]?.payments[0]?.code).toBe("CASH")
      // The configured API picks the endpoint.
      const viaConfig = yield* client.businessDay(TOKYO, "2024-03-05")
      expect(viaConfig.api).toBe("v1")
    })
  )

  it.live("V1 ranges: split over 365 days, follow nextPage links rebased from the legacy host", () =>
    Effect.gen(function* () {
      const { layer, server } = yield* Effect.promise(() =>
        setup({ days: 40, lastDate: "2024-03-10", salesPerDay: 30 }, { financialsPageSize: 50 })
      )
      const client = yield* Effect.service(LightspeedClient).pipe(Effect.provide(layer))
      const sales = yield* collect(
        client.financials(TOKYO, { from: "2023-01-01T00:00:00Z", to: "2024-04-01T00:00:00Z" })
      )
      expect(sales.length).toBe(40 * 30)
      expect(new Set(sales.map((s) => s.accountReference)).size).toBe(40 * 30)
      expect(server.stats.maxRangeDaysSeen).toBeLessThanOrEqual(365)
      // 2 windows; the one with data needs 24 pages of 50.
      expect(server.stats.apiRequests).toBe(1 + 24)
    })
  )

  it.live("V2 ranges follow nextPageToken and agree with V1", () =>
    Effect.gen(function* () {
      const { layer } = yield* Effect.promise(() => setup({ days: 12, salesPerDay: 23 }))
      const client = yield* Effect.service(LightspeedClient).pipe(Effect.provide(layer))
      const range = { from: "2024-02-01T00:00:00Z", to: "2024-03-11T00:00:00Z" }
      const v2 = yield* collect(client.sales(CAFE, range))
      const v1 = yield* collect(client.financials(CAFE, range))
      expect(v2.length).toBe(12 * 23)
      expect(v2.map(saleKey).sort()).toEqual(v1.map(saleKey).sort())
      const closed = v2.map((s) => s.timeClosed ?? "")
      expect([...closed].sort()).toEqual(closed)
    })
  )

  it.live("rejects a malformed range with an error naming the field", () =>
    Effect.gen(function* () {
      const { layer } = yield* Effect.promise(() => setup())
      const client = yield* Effect.service(LightspeedClient).pipe(Effect.provide(layer))
      const error = yield* Effect.flip(
        collect(client.sales(TOKYO, { from: "yesterday", to: "2024-01-01T00:00:00Z" }))
      )
      expect(error._tag).toBe("LightspeedConfigError")
      expect(error.message).toContain("from")
    })
  )

  it.live("syncDays returns each day with its final flag; the cursor stops at the first unfinished day", () =>
    Effect.gen(function* () {
      const { layer } = yield* Effect.promise(() =>
        setup({ lastDate: "2024-03-10", incompleteDates: ["2024-03-08"] }, { financialsApi: "v2" })
      )
      const client = yield* Effect.service(LightspeedClient).pipe(Effect.provide(layer))
      const days = yield* collect(client.syncDays(TOKYO, { from: "2024-03-05", to: "2024-03-11" }))
      expect(days.map((d) => [d.date, d.final])).toEqual([
        ["2024-03-05", true],
        ["2024-03-06", true],
        ["2024-03-07", true],
        ["2024-03-08", false],
        ["2024-03-09", true],
        ["2024-03-10", true],
        ["2024-03-11", false]
      ])
      expect(days.every((d) => d.api === "v2")).toBe(true)
      expect(nextCursorDay("2024-03-05", days)).toBe("2024-03-08")
      // Without `to`, it reads up to the location's current business date (looked up time zone).
      const upToToday = yield* collect(client.syncDays(TOKYO, { from: "2024-03-10" }).pipe(Stream.take(2)))
      expect(upToToday.map((d) => d.date)).toEqual(["2024-03-10", "2024-03-11"])
    })
  )

  it.live("pages the items catalogue and item availability", () =>
    Effect.gen(function* () {
      const { layer } = yield* Effect.promise(() => setup({ itemsCount: 230 }))
      const client = yield* Effect.service(LightspeedClient).pipe(Effect.provide(layer))
      const items = yield* collect(client.items(TOKYO))
      expect(items.length).toBe(230)
      expect(items[229]?.sku).toBe("SKU-229")
      expect(items[0]?.costPrice?.toString()).toBe("120.50")
      const skus = items.map((i) => i.sku ?? "")
      const stock = yield* collect(client.itemAvailability(TOKYO, skus.slice(0, 120)))
      expect(stock.map((s) => s.sku)).toEqual(skus.slice(0, 120))
    })
  )

  it.live("items above the documented amount: honoured, clamped silently or refused, every item once", () =>
    Effect.gen(function* () {
      const read = (fake: FakeOptions) =>
        Effect.gen(function* () {
          const { layer, server } = yield* Effect.promise(() =>
            setup({ itemsCount: 2_350, ...fake }, { itemsPageSize: 1000 })
          )
          const client = yield* Effect.service(LightspeedClient).pipe(Effect.provide(layer))
          const before = server.stats.apiRequests
          const skus = (yield* collect(client.items(TOKYO))).map((i) => i.sku)
          return { skus, requests: server.stats.apiRequests - before, size: yield* client.itemsMaxAmount }
        })
      const all = Array.from({ length: 2_350 }, (_, i) => `SKU-${i}`)
      const honoured = yield* read({ itemsMaxAmount: 1000 })
      expect(honoured.skus).toEqual(all)
      expect(honoured.requests).toBe(3)
      // A 100-item page is not taken as the last when 1000 were asked for.
      const clamped = yield* read({})
      expect(clamped.skus).toEqual(all)
      expect(clamped.requests).toBe(24)
      const refused = yield* read({ itemsOverMax: "refuse" })
      expect(refused.skus).toEqual(all)
      expect(refused.requests).toBe(25)
      expect([honoured.size, clamped.size, refused.size]).toEqual([1000, 1000, 100])
    })
  )

  it.live("a revoked access token is refreshed once and the request succeeds", () =>
    Effect.gen(function* () {
      const { layer, server } = yield* Effect.promise(() => setup())
      const client = yield* Effect.service(LightspeedClient).pipe(Effect.provide(layer))
      server.revokeAccessTokens()
      const day = yield* client.dailyFinancials(TOKYO, "2024-03-09")
      expect(day.sales.length).toBe(7)
      expect(server.stats.unauthorized).toBe(1)
      expect(server.stats.refreshes).toBe(1)
    })
  )

  it.live(
    "a refreshed token that is rejected again is refreshed again (bounded), and the request succeeds",
    () =>
      Effect.gen(function* () {
        const { layer, server } = yield* Effect.promise(() => setup())
        const client = yield* Effect.service(LightspeedClient).pipe(Effect.provide(layer))
        // The revoked token, then the first fresh one dead on arrival: two rejections in a row.
        server.revokeAccessTokens(1)
        const day = yield* client.dailyFinancials(TOKYO, "2024-03-09")
        expect(day.sales.length).toBe(7)
        expect(server.stats.unauthorized).toBe(2)
        expect(server.stats.refreshes).toBe(2)
      })
  )

  it.live(
    "a full pull under faults (429 + Retry-After, 503, truncated bodies) equals the fault-free pull",
    () =>
      Effect.gen(function* () {
        const pull = (faultRate: number) =>
          Effect.gen(function* () {
            const { layer, server } = yield* Effect.promise(() =>
              setup(
                { faultRate, seed: 11, days: 20, salesPerDay: 15 },
                { financialsPageSize: 40, maxAttempts: 12 }
              )
            )
            const client = yield* Effect.service(LightspeedClient).pipe(Effect.provide(layer))
            const locations = yield* collect(client.locations)
            const out: Array<string> = []
            for (const l of locations) {
              const sales = yield* collect(
                client.financials(l.businessLocationId, {
                  from: "2024-02-01T00:00:00Z",
                  to: "2024-03-11T00:00:00Z"
                })
              )
              const days = yield* collect(
                client.syncDays(l.businessLocationId, { from: "2024-03-01", to: "2024-03-10" })
              )
              const items = yield* collect(client.items(l.businessLocationId))
              out.push(
                ...sales.map(saleKey),
                ...days.flatMap((d) => d.sales.map(saleKey)),
                ...items.map((i) => i.id)
              )
            }
            return { out, faults: server.stats.faults }
          })
        const clean = yield* pull(0)
        const faulty = yield* pull(0.2)
        expect(clean.faults).toBe(0)
        expect(faulty.faults).toBeGreaterThan(5)
        expect(faulty.out).toEqual(clean.out)
      })
  )

  it.live("a malformed sale goes to the dead-letter sink (or fails the call without one)", () =>
    Effect.gen(function* () {
      const { layer, server } = yield* Effect.promise(() =>
        setup({ malformedSale: { date: "2024-03-04", index: 2 } })
      )
      const client = yield* Effect.service(LightspeedClient).pipe(Effect.provide(layer))
      const error = yield* Effect.flip(client.dailyFinancials(TOKYO, "2024-03-04"))
      expect(error._tag).toBe("ApiError")
      expect(error.message).toContain("netAmountWithTax")
      const letters: Array<DeadLetter> = []
      const day = yield* client
        .dailyFinancials(TOKYO, "2024-03-04")
        .pipe(Effect.provide(DeadLetterSink.layerMemoryWith(letters)))
      expect(day.sales.length).toBe(6)
      expect(letters.length).toBe(1)
      expect(letters[0]?.reason).toBe("decode")
      expect(letters[0]?.key.stream).toBe("sales")
      expect(letters[0]?.detail).toContain("netAmountWithTax")
      expect(letters[0]?.payload).toContain("twelve")
      // Keyed by the client id unless the caller names the account its streams use.
      expect(letters[0]?.key).toMatchObject({
        source: "lightspeed",
        account: fakeConnection(server).clientId
      })
      const named = yield* Effect.promise(() =>
        setup({ malformedSale: { date: "2024-03-04", index: 2 } }, { account: "kyoto" })
      )
      const renamed: Array<DeadLetter> = []
      yield* Effect.service(LightspeedClient).pipe(
        Effect.flatMap((c) => c.dailyFinancials(TOKYO, "2024-03-04")),
        Effect.provide(named.layer),
        Effect.provide(DeadLetterSink.layerMemoryWith(renamed))
      )
      expect(renamed.map((l) => l.key)).toEqual([{ source: "lightspeed", account: "kyoto", stream: "sales" }])
    })
  )

  it.live("an operator ceiling caps the request rate", () =>
    Effect.gen(function* () {
      const { layer } = yield* Effect.promise(() => setup({}, { maxRequestsPerSecond: 4 }))
      const client = yield* Effect.service(LightspeedClient).pipe(Effect.provide(layer))
      const start = Date.now()
      yield* Effect.forEach(
        ["2024-03-01", "2024-03-02", "2024-03-03", "2024-03-04", "2024-03-05", "2024-03-06"],
        (d) => client.salesDaily(TOKYO, d),
        { concurrency: 6 }
      )
      // 6 requests at ≤4/s: the last one starts ≥1.25 s after the first (the default start rate would take 0.5 s).
      expect(Date.now() - start).toBeGreaterThanOrEqual(1200)
      void Chunk
    })
  )

  it.live("a server that repeats its page cursor fails loudly instead of looping", () =>
    Effect.gen(function* () {
      const { layer } = yield* Effect.promise(() => setup({ stuckNextPageToken: true, salesPerDay: 60 }))
      const client = yield* Effect.service(LightspeedClient).pipe(Effect.provide(layer))
      const error = yield* Effect.flip(
        collect(client.sales(TOKYO, { from: "2024-03-01T00:00:00Z", to: "2024-03-11T00:00:00Z" }))
      )
      expect(error.message).toContain("nextPageToken points at the page just read")
    })
  )

  it.live("layerTest gives a client with a fixed token against any server", () =>
    Effect.gen(function* () {
      const server = yield* Effect.promise(() => startFake())
      servers.push(server)
      const { access } = server.issue()
      const client = yield* Effect.service(LightspeedClient).pipe(
        Effect.provide(
          LightspeedClient.layerTest({ apiBaseUrl: server.baseUrl, accessToken: access }).pipe(
            Layer.provide(HttpTransport.layer())
          )
        )
      )
      const day = yield* client.salesDaily(CAFE, "2024-03-10")
      expect(day.sales.length).toBe(7)
      expect(server.stats.refreshes).toBe(0)
    })
  )
})
