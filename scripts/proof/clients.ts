/**
 * Pulls every stream of the three sources with our real clients against a sandbox, for the
 * fault-equivalence and bad-record checks. Dead letters go to an in-memory core DeadLetterSink.
 */
import {
  type DeadLetter,
  DeadLetterSink,
  HttpTransport,
  makeMemoryTokenStore,
  type TokenSet,
  TokenStore
} from "@kura/core"
import { LightspeedClient } from "@kura/lightspeed-client"
import type { Sandbox, SandboxOptions } from "@kura/sandbox"
import { startSandbox } from "@kura/sandbox"
import { Resources, ShopifyClient } from "@kura/shopify-client"
import { StockyClient } from "@kura/stocky-client"
import { Effect, Layer, Logger, Redacted, Stream } from "effect"

/** A fixed anchor so every sandbox in a check serves the same merchant (before Stocky's shutdown). */
export const ANCHOR = Date.UTC(2026, 5, 15)

/** Starts a sandbox with the proof defaults. */
export const proofSandbox = (options: SandboxOptions): Promise<Sandbox> =>
  startSandbox({ seed: 42, anchor: ANCHOR, historyDays: 30, timeScale: 60, ...options })

/** Records per table, and what went to the dead-letter sink. */
export interface Pulled {
  readonly tables: Map<string, Array<unknown>>
  readonly deadLetters: Array<DeadLetter>
  readonly logLines: Array<string>
}

const collect = <A, E, R>(s: Stream.Stream<A, E, R>) => Effect.map(Stream.runCollect(s), (c) => [...c])

/** Every log line the clients write goes here too (the secrets check reads them). */
const captureLogger = (lines: Array<string>) =>
  Logger.layer([Logger.make((options) => void lines.push(Logger.formatJson.log(options)))])

/** Pulls the selected sources' streams in full. */
export const pullAll = async (
  sandbox: Sandbox,
  sources: ReadonlyArray<"stocky" | "lightspeed" | "shopify"> = ["stocky", "lightspeed", "shopify"],
  /** Another sink to write dead letters to as well (e.g. the warehouse's `_kura_dead_letters`). */
  alsoTo?: DeadLetterSink["Service"]
): Promise<Pulled> => {
  const tables = new Map<string, Array<unknown>>()
  const deadLetters: Array<DeadLetter> = []
  const logLines: Array<string> = []
  const transport = HttpTransport.layer({ responseTimeoutMillis: 15_000, connectionRetryDelayMillis: 5 })
  const sink = Layer.succeed(
    DeadLetterSink,
    DeadLetterSink.of({
      write: (batch) =>
        Effect.andThen(
          Effect.sync(() => void deadLetters.push(...batch)),
          alsoTo === undefined ? Effect.void : alsoTo.write(batch)
        )
    })
  )

  if (sources.includes("stocky")) {
    const c = sandbox.stocky.credentials
    const layer = StockyClient.layer({
      storeName: c.storeName,
      apiKey: Redacted.make(c.apiKey),
      baseUrl: `${sandbox.stocky.baseUrl}/api/v2`,
      timeZone: "Asia/Tokyo",
      invalidRecords: "dead-letter",
      retry: { baseDelayMillis: 10, maxDelayMillis: 200, maxAttempts: 12, jitter: true },
      rateLimit: { maxRatePerSecond: 1000, initialRatePerSecond: 500 }
    }).pipe(Layer.provide(transport), Layer.provideMerge(sink))
    // Small pages mean many requests, so the fault profile actually hits this client.
    const small = { limit: 10 }
    const program = Effect.gen(function* () {
      const s = yield* StockyClient
      tables.set("stocky.purchase_orders", yield* collect(s.purchaseOrders(small)))
      tables.set("stocky.stock_adjustments", yield* collect(s.stockAdjustments(small)))
      tables.set("stocky.stock_adjustment_items", yield* collect(s.stockAdjustmentItems(small)))
      tables.set("stocky.stock_transfers", yield* collect(s.stockTransfers(small)))
      tables.set("stocky.suppliers", yield* collect(s.suppliers(small)))
      tables.set("stocky.tax_types", yield* collect(s.taxTypes(small)))
    })
    await Effect.runPromise(program.pipe(Effect.provide(layer), Effect.provide(captureLogger(logLines))))
  }

  if (sources.includes("lightspeed")) {
    const c = sandbox.lightspeed.credentials
    const map = new Map<string, TokenSet>()
    map.set("lightspeed:proof", {
      accessToken: Redacted.make("none-yet"),
      refreshToken: Redacted.make(c.refreshToken),
      expiresAt: 0,
      refreshExpiresAt: null,
      issuedAt: Date.now(),
      scope: null
    })
    const layer = LightspeedClient.layer({
      clientId: c.clientId,
      clientSecret: c.clientSecret,
      apiBaseUrl: sandbox.lightspeed.baseUrl,
      tokenUrl: c.tokenUrl,
      allowInsecureRequests: true,
      tokenKey: "lightspeed:proof",
      maxAttempts: 12,
      retryBaseDelay: "20 millis",
      initialRequestsPerSecond: 60,
      financialsPageSize: 20,
      salesPageSize: 20,
      itemsPageSize: 10
    }).pipe(
      Layer.provide(Layer.succeed(TokenStore, makeMemoryTokenStore(map))),
      Layer.provide(transport),
      Layer.provideMerge(sink)
    )
    const from = new Date(ANCHOR - 40 * 86_400_000).toISOString()
    const to = new Date(ANCHOR).toISOString()
    const program = Effect.gen(function* () {
      const l = yield* LightspeedClient
      const locations = yield* collect(l.locations)
      tables.set("lightspeed.locations", locations)
      const sales: Array<unknown> = []
      const items: Array<unknown> = []
      for (const loc of locations) {
        const id = String(loc.businessLocationId)
        sales.push(...(yield* collect(l.salesInRange(id, { from, to }))))
        items.push(...(yield* collect(l.items(id))).map((i) => ({ location: id, item: i })))
      }
      tables.set("lightspeed.sales", sales)
      tables.set("lightspeed.items", items)
    })
    await Effect.runPromise(program.pipe(Effect.provide(layer), Effect.provide(captureLogger(logLines))))
  }

  if (sources.includes("shopify")) {
    const c = sandbox.shopify.credentials
    const layer = ShopifyClient.layerStatic({
      shop: c.shopDomain,
      accessToken: c.accessToken,
      apiVersion: c.apiVersion,
      baseUrl: sandbox.shopify.baseUrl
    }).pipe(Layer.provideMerge(sink))
    const program = Effect.gen(function* () {
      const s = yield* ShopifyClient
      const until = Date.now()
      tables.set(
        "shopify.orders",
        yield* collect(s.incremental(Resources.orders, { floor: 0, until, overlapMillis: 0 }))
      )
      tables.set(
        "shopify.customers",
        yield* collect(s.incremental(Resources.customers, { floor: 0, until, overlapMillis: 0 }))
      )
      tables.set(
        "shopify.products",
        yield* collect(s.incremental(Resources.products, { floor: 0, until, overlapMillis: 0 }))
      )
      tables.set(
        "shopify.locations",
        yield* collect(s.incremental(Resources.locations, { floor: 0, until, overlapMillis: 0 }))
      )
    })
    await Effect.runPromise(program.pipe(Effect.provide(layer), Effect.provide(captureLogger(logLines))))
  }
  return { tables, deadLetters, logLines }
}
