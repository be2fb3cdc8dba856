/**
 * What mapping a webhook needs to know about its shop besides the payload: the shop's time zone
 * (business dates), its currency (refunds name it only on transactions) and the location online
 * orders sell from. The scheduled sync reads the same three facts the same way (one `shop` query
 * carrying the location summaries, 1 point per location), so a webhook and a later sync of one
 * order produce the same row. Looked up once per shop and cached.
 */
import {
  LOCATION_SUMMARIES_FIELD,
  LocationSummaryPage,
  locationSummaries,
  ShopifyClient
} from "@kura/shopify-client"
import { RawLake, Warehouse } from "@kura/warehouse"
import { Clock, Context, Effect, Layer, Schema } from "effect"
import type { ShopifyShopConfig } from "../AppConfig.js"
import { shopifyClientLayer } from "../sources/ShopifyStreams.js"
import { WebhookSinkError } from "../WebhookSink.js"

/** The shop facts webhook mapping needs. */
export interface ShopFacts {
  readonly timeZone: string
  readonly currency: string
  /** The location online orders sell from (legacy numeric id), as the orders sync uses it. */
  readonly onlineLocationId: string | null
}

const ShopAnswer = Schema.Struct({
  shop: Schema.Struct({ ianaTimezone: Schema.String, currencyCode: Schema.String }),
  locations: LocationSummaryPage
})

const SHOP_QUERY = `query KuraShop { shop { ianaTimezone currencyCode } ${LOCATION_SUMMARIES_FIELD} }`

/** Looks up the facts of a shop by its myshopify domain. */
export class ShopContext extends Context.Service<
  ShopContext,
  { readonly facts: (shop: string) => Effect.Effect<ShopFacts, WebhookSinkError> }
>()("@kura/sync-runner/ShopContext") {
  /** Fixed facts per shop (tests, or a shop whose facts are configured). */
  static readonly layerStatic = (facts: Readonly<Record<string, ShopFacts>>) =>
    Layer.succeed(
      ShopContext,
      ShopContext.of({
        facts: (shop) => {
          const f = facts[shop]
          return f === undefined
            ? Effect.fail(new WebhookSinkError({ reason: "Warehouse", message: `no shop facts for ${shop}` }))
            : Effect.succeed(f)
        }
      })
    )

  /**
   * Asks Shopify (the configured shops' Admin API), caching each answer for `ttlMs` (default one
   * hour). A shop that is not configured, or an API failure, fails the lookup; the batch is then
   * retried, its records safe in the write-ahead log.
   */
  static readonly layerShopify = (
    shops: ReadonlyArray<ShopifyShopConfig>,
    options: { readonly sandbox?: boolean; readonly ttlMs?: number } = {}
  ): Layer.Layer<ShopContext, never, Warehouse | RawLake> =>
    Layer.effect(
      ShopContext,
      Effect.gen(function* () {
        const deps = { warehouse: yield* Warehouse, lake: yield* RawLake, sandbox: options.sandbox ?? false }
        return ShopContext.make(shops, deps, options.ttlMs ?? 3_600_000)
      })
    )

  /** The Shopify-backed lookup over an open warehouse and lake (the client layer needs them). */
  static readonly make = (
    shops: ReadonlyArray<ShopifyShopConfig>,
    deps: {
      readonly warehouse: Warehouse["Service"]
      readonly lake: RawLake["Service"]
      readonly sandbox: boolean
    },
    ttlMs: number
  ): ShopContext["Service"] => {
    const cache = new Map<string, { readonly facts: ShopFacts; readonly at: number }>()
    const lookup = (config: ShopifyShopConfig) =>
      Effect.gen(function* () {
        const client = yield* ShopifyClient
        const info = yield* client.query(SHOP_QUERY)
        const shop = yield* Schema.decodeUnknownEffect(ShopAnswer)(info.data)
        const locations = yield* locationSummaries(shop.locations)
        const online = locations.find((l) => l.fulfillsOnlineOrders && l.isActive)
        return {
          timeZone: shop.shop.ianaTimezone,
          currency: shop.shop.currencyCode,
          onlineLocationId: online?.legacyResourceId ?? null
        } satisfies ShopFacts
      }).pipe(
        Effect.provide(
          shopifyClientLayer(config, {
            warehouse: deps.warehouse,
            lake: deps.lake,
            sandbox: deps.sandbox
          })
        ),
        Effect.mapError(
          (e) =>
            new WebhookSinkError({
              reason: "Warehouse",
              message: `cannot read the facts of ${config.shop} from Shopify: ${e.message}`,
              cause: e
            })
        )
      )
    return ShopContext.of({
      facts: (shop) =>
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const hit = cache.get(shop)
          if (hit !== undefined && now - hit.at < ttlMs) return hit.facts
          const config = shops.find((s) => s.shop === shop)
          if (config === undefined)
            return yield* new WebhookSinkError({
              reason: "Warehouse",
              message: `webhook from ${shop}, which is not a configured shop`
            })
          const facts = yield* lookup(config)
          cache.set(shop, { facts, at: now })
          return facts
        })
    })
  }
}
