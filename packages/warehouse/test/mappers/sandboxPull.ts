/**
 * Pulls a small merchant from the real @kura/sandbox emulators with the REAL clients and maps
 * every record with the mappers under test. Shared by the sandbox tie-out tests.
 */
import { HttpTransport, makeMemoryTokenStore, type TokenSet, TokenStore } from "@kura/core"
import { type BusinessDay, LightspeedClient, type LocationInfo } from "@kura/lightspeed-client"
import { type Sandbox, startSandbox } from "@kura/sandbox"
import {
  type Customer,
  type InventoryItem,
  type Location,
  type Order,
  type Product,
  type ResourceSpec,
  Resources,
  ShopifyAuth,
  ShopifyClient,
  ShopifyConfig,
  ShopifyRest
} from "@kura/shopify-client"
import {
  type PurchaseOrder,
  type StockAdjustment,
  type StockAdjustmentItem,
  type StockTransfer,
  StockyClient,
  type Supplier
} from "@kura/stocky-client"
import { Effect, Layer, Redacted, Stream } from "effect"
import { type CanonicalRows, type MapContext, mergeRows } from "../../src/Mapper.js"
import {
  inventoryCatalogOf,
  joinStockyAdjustments,
  makeShopifyOrderMapper,
  makeShopifyProductMapper,
  makeShopifyRestOrderMapper,
  makeStockyPurchaseOrderMapper,
  makeStockyTransferMapper,
  mapLightspeedBusinessDay,
  mapLightspeedLocation,
  mapShopifyCustomer,
  mapShopifyInventoryItem,
  mapShopifyLocation,
  mapStockyAdjustment,
  mapStockySupplier,
  RestOrder
} from "../../src/mappers/index.js"

/** The end of generated history: before Stocky's shutdown, so every movement is observable. */
export const ANCHOR = Date.parse("2026-06-15T00:00:00Z")
export const HISTORY_DAYS = 40
export const SHOP_ZONE = "Asia/Tokyo"

/** Everything the sources served, decoded by the real clients. */
export interface Pulled {
  readonly sandbox: Sandbox
  readonly orders: ReadonlyArray<Order>
  /** The same orders through the REST Admin API (the webhook payload shape). */
  readonly restOrders: ReadonlyArray<RestOrder>
  readonly customers: ReadonlyArray<Customer>
  readonly products: ReadonlyArray<Product>
  readonly locations: ReadonlyArray<Location>
  readonly inventoryItems: ReadonlyArray<InventoryItem>
  readonly posLocations: ReadonlyArray<LocationInfo>
  readonly days: ReadonlyArray<BusinessDay>
  readonly purchaseOrders: ReadonlyArray<PurchaseOrder>
  readonly adjustments: ReadonlyArray<StockAdjustment>
  readonly adjustmentItems: ReadonlyArray<StockAdjustmentItem>
  readonly transfers: ReadonlyArray<StockTransfer>
  readonly suppliers: ReadonlyArray<Supplier>
}

const collect = <A, E, R>(stream: Stream.Stream<A, E, R>) =>
  Effect.map(Stream.runCollect(stream), (c) => [...c])

const KEY = "lightspeed:warehouse-mappers"
const tokenChains = new WeakMap<Sandbox, Map<string, TokenSet>>()

/** Fails naming the source when a pull stalls, instead of a bare hook timeout. */
const within = <A>(what: string, promise: Promise<A>, ms = 150_000): Promise<A> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  const stall = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} pull did not finish within ${ms} ms`)), ms)
  })
  return Promise.race([promise, stall]).finally(() => clearTimeout(timer))
}

/** Starts the sandbox and pulls every stream the mappers cover. */
export const pull = async (
  tax: "jp" | "eu" = "jp",
  size: { readonly seed?: number; readonly scale?: number; readonly historyDays?: number } = {}
): Promise<Pulled> => {
  const historyDays = size.historyDays ?? HISTORY_DAYS
  const sandbox = await startSandbox({
    seed: size.seed ?? 11,
    tax,
    anchor: ANCHOR,
    scale: size.scale ?? 300,
    historyDays,
    plan: "enterprise",
    // Durations (cost-bucket restore) run 10× faster: the test checks mapping, not pacing.
    timeScale: 10
  })
  try {
    return await pullFrom(sandbox, { historyDays })
  } catch (e) {
    await sandbox.close()
    throw e
  }
}

/**
 * Pulls every stream the mappers cover from a running sandbox (again after `mutate`, for a second
 * snapshot). K-Series business days are read up to `lightspeedTo` (default the day before ANCHOR).
 */
export const pullFrom = async (
  sandbox: Sandbox,
  options: { readonly historyDays?: number; readonly lightspeedTo?: string } = {}
): Promise<Pulled> => {
  const historyDays = options.historyDays ?? HISTORY_DAYS
  {
    const shopifyLayer = ShopifyClient.layerStatic({
      shop: sandbox.shopify.credentials.shopDomain,
      accessToken: sandbox.shopify.credentials.accessToken,
      baseUrl: sandbox.shopify.baseUrl,
      apiVersion: "2026-10"
    })
    const shopifyAll = <A>(resource: ResourceSpec<A>) =>
      Effect.gen(function* () {
        const client = yield* ShopifyClient
        const pages = yield* collect(client.pages(resource, { pageSize: 100 }))
        return pages.flatMap((p) => p.records)
      })
    const shopifyP = Effect.runPromise(
      Effect.all({
        orders: shopifyAll(Resources.orders),
        customers: shopifyAll(Resources.customers),
        products: shopifyAll(Resources.products),
        locations: shopifyAll(Resources.locations),
        inventoryItems: shopifyAll(Resources.inventoryItems)
      }).pipe(Effect.provide(shopifyLayer))
    )

    const restOrdersP = Effect.runPromise(
      Effect.gen(function* () {
        const rest = yield* ShopifyRest
        const pages = yield* collect(rest.list("orders", "orders", RestOrder, { status: "any", limit: 250 }))
        return pages.flatMap((p) => p.records)
      }).pipe(
        Effect.provide(
          ShopifyRest.layer.pipe(
            Layer.provide(
              ShopifyConfig.layer({
                shop: sandbox.shopify.credentials.shopDomain,
                baseUrl: sandbox.shopify.baseUrl,
                apiVersion: "2026-10"
              })
            ),
            Layer.provide(ShopifyAuth.layerStatic(sandbox.shopify.credentials.accessToken)),
            Layer.provide(HttpTransport.layer())
          )
        )
      )
    )
    const c = sandbox.lightspeed.credentials
    // One token chain per sandbox: a second pull spends the refresh token the first one stored.
    const tokens =
      tokenChains.get(sandbox) ??
      new Map<string, TokenSet>([
        [
          KEY,
          {
            accessToken: Redacted.make("none-yet"),
            refreshToken: Redacted.make(c.refreshToken),
            expiresAt: 0,
            refreshExpiresAt: null,
            issuedAt: Date.now(),
            scope: null
          }
        ]
      ])
    tokenChains.set(sandbox, tokens)
    const lightspeedLayer = LightspeedClient.layer({
      clientId: c.clientId,
      clientSecret: c.clientSecret,
      apiBaseUrl: sandbox.lightspeed.baseUrl,
      tokenUrl: c.tokenUrl,
      authorizeUrl: `${sandbox.lightspeed.baseUrl}/oauth/authorize`,
      allowInsecureRequests: true,
      tokenKey: KEY,
      initialRequestsPerSecond: 200
    }).pipe(
      Layer.provide(Layer.succeed(TokenStore, makeMemoryTokenStore(tokens))),
      Layer.provide(HttpTransport.layer({ connectionRetryDelayMillis: 5, responseTimeoutMillis: 20_000 }))
    )
    const from = new Date(ANCHOR - (historyDays + 3) * 86_400_000).toISOString().slice(0, 10)
    const to = options.lightspeedTo ?? new Date(ANCHOR - 86_400_000).toISOString().slice(0, 10)
    const lightspeedP = Effect.runPromise(
      Effect.gen(function* () {
        const client = yield* LightspeedClient
        const posLocations = yield* collect(client.locations)
        const days: Array<BusinessDay> = []
        for (const l of posLocations) {
          days.push(
            ...(yield* collect(client.syncDays(l.businessLocationId, { from, to, timeZone: l.timezone })))
          )
        }
        return { posLocations, days }
      }).pipe(Effect.provide(lightspeedLayer))
    )
    const stockyP = Effect.runPromise(
      Effect.gen(function* () {
        const client = yield* StockyClient
        return {
          purchaseOrders: yield* collect(client.purchaseOrders()),
          adjustments: yield* collect(client.stockAdjustments()),
          adjustmentItems: yield* collect(client.stockAdjustmentItems()),
          transfers: yield* collect(client.stockTransfers()),
          suppliers: yield* collect(client.suppliers())
        }
      }).pipe(
        Effect.provide(
          StockyClient.layerTest({
            storeName: sandbox.stocky.credentials.storeName,
            apiKey: Redacted.make(sandbox.stocky.credentials.apiKey),
            baseUrl: `${sandbox.stocky.baseUrl}/api/v2`,
            timeZone: SHOP_ZONE
          })
        )
      )
    )
    // The three sources are independent: pull them at once.
    const [shopify, restOrders, lightspeed, stocky] = await Promise.all([
      within("Shopify GraphQL", shopifyP),
      within("Shopify REST", restOrdersP),
      within("Lightspeed", lightspeedP),
      within("Stocky", stockyP)
    ])
    return { sandbox, restOrders, ...shopify, ...lightspeed, ...stocky }
  }
}

/** The mapped warehouse, per source, plus the links the tie-out needs. */
export interface Mapped {
  readonly shopify: CanonicalRows
  /** The REST form of the same orders, mapped by the REST mapper. */
  readonly shopifyRest: CanonicalRows
  readonly lightspeed: CanonicalRows
  readonly stocky: CanonicalRows
  /** Shopify location id of each Lightspeed business location (linked by name). */
  readonly shopifyLocationOfBl: ReadonlyMap<string, string>
  readonly onlineLocationId: string
}

/** When the mapped records count as fetched: the observation time of the inventory levels. */
export const SYNCED_AT = "2026-06-15T01:00:00.000Z"

/** Maps everything pulled. */
export const mapAll = (
  p: Pulled,
  /** Link POS stock to Shopify locations by name while mapping (false: leave it to the warehouse). */
  options: { readonly linkPosStock?: boolean } = {}
): Mapped => {
  const shopCtx: MapContext = {
    source: "shopify",
    sourceAccount: p.sandbox.shopify.credentials.shopDomain,
    syncedAt: SYNCED_AT,
    batchId: "b-shopify",
    timeZoneOf: () => SHOP_ZONE
  }
  const online = p.locations.find((l) => l.fulfillsOnlineOrders)
  if (online === undefined) throw new Error("no Shopify location fulfils online orders")
  const onlineLocationId = online.legacyResourceId
  const orderMapper = makeShopifyOrderMapper({ locationOf: () => onlineLocationId })
  const productMapper = makeShopifyProductMapper({ currency: p.orders[0]?.currencyCode ?? null })
  const shopify = mergeRows(
    ...p.locations.map((l) => mapShopifyLocation(l, shopCtx)),
    ...p.products.map((x) => productMapper(x, shopCtx)),
    ...p.customers.map((x) => mapShopifyCustomer(x, shopCtx)),
    ...p.inventoryItems.map((x) => mapShopifyInventoryItem(x, shopCtx)),
    ...p.orders.map((o) => orderMapper(o, shopCtx))
  )

  const restMapper = makeShopifyRestOrderMapper({ locationOf: () => onlineLocationId })
  const shopifyRest = mergeRows(...p.restOrders.map((o) => restMapper(o, shopCtx)))

  const zones = new Map(p.posLocations.map((l) => [l.businessLocationId, l.timezone]))
  const lsCtx: MapContext = {
    source: "lightspeed",
    sourceAccount: p.posLocations[0]?.businessId ?? "unknown",
    syncedAt: SYNCED_AT,
    batchId: "b-lightspeed",
    timeZoneOf: (id) => (id === null ? SHOP_ZONE : (zones.get(id) ?? SHOP_ZONE))
  }
  const shopifyLocationOfBl = new Map<string, string>()
  for (const l of p.posLocations) {
    const match = p.locations.find((s) => s.name === l.name)
    if (match !== undefined) shopifyLocationOfBl.set(l.businessLocationId, match.legacyResourceId)
  }
  const lightspeed = mergeRows(
    ...p.posLocations.map((l) => mapLightspeedLocation(l, lsCtx)),
    ...p.days.map((d) => {
      const stock = options.linkPosStock === false ? undefined : shopifyLocationOfBl.get(d.businessLocationId)
      return mapLightspeedBusinessDay(d, lsCtx, stock === undefined ? {} : { stockLocationId: stock })
    })
  )

  const stockyCtx: MapContext = {
    source: "stocky",
    sourceAccount: p.sandbox.stocky.credentials.storeName,
    syncedAt: SYNCED_AT,
    batchId: "b-stocky",
    timeZoneOf: () => SHOP_ZONE
  }
  const catalog = inventoryCatalogOf(shopify.variants ?? [])
  const poMapper = makeStockyPurchaseOrderMapper(catalog)
  const transferMapper = makeStockyTransferMapper(catalog)
  const { joined, orphans } = joinStockyAdjustments(p.adjustments, p.adjustmentItems)
  if (orphans.length > 0) throw new Error(`${orphans.length} adjustment items without an adjustment`)
  const stocky = mergeRows(
    ...p.purchaseOrders.map((x) => poMapper(x, stockyCtx)),
    ...joined.map((x) => mapStockyAdjustment(x, stockyCtx)),
    ...p.transfers.map((x) => transferMapper(x, stockyCtx)),
    ...p.suppliers.map((x) => mapStockySupplier(x, stockyCtx))
  )
  return { shopify, shopifyRest, lightspeed, stocky, shopifyLocationOfBl, onlineLocationId }
}
