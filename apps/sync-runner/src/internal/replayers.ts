/**
 * Every stream's dead-letter replayer for `kura-sync dead-letters replay`: each comes from its
 * stream's module (the same decoder and mapper the stream runs). A configured shop gets every
 * Shopify stream (`makeShopifyReplayers`, which asks the shop for its facts); without one, only
 * customers replay (their mapper needs no shop context).
 */
import { Resources } from "@kura/shopify-client"
import { mapShopifyCustomer } from "@kura/warehouse"
import { Effect } from "effect"
import type { ShopifyShopConfig } from "../AppConfig.js"
import { decodeWith, mapWith, type Replayers } from "../DeadLetterReplay.js"
import { lightspeedReplayers } from "../sources/LightspeedStreams.js"
import { makeShopifyReplayers } from "../sources/ShopifyStreams.js"
import type { SourceDeps } from "../sources/SourceDeps.js"
import { stockyReplayers } from "../sources/StockyStreams.js"

/**
 * Shopify customers of a shop that is not configured here (the stream spec's `Resources.customers`
 * and `mapShopifyCustomer`, which needs no shop context). Orders, products, transfers and purchase
 * orders map with the shop's online location, currency or catalogue: they need the shop configured.
 */
const shopifyReplayers: Replayers = {
  "shopify/customers": {
    replay: (letter, payload, ctx) =>
      Effect.gen(function* () {
        const customer = yield* decodeWith(Resources.customers.schema)(payload)
        const mctx = {
          source: "shopify" as const,
          sourceAccount: letter.key.account,
          syncedAt: ctx.syncedAt,
          batchId: ctx.batchId,
          timeZoneOf: () => "UTC"
        }
        return { rows: yield* mapWith(() => mapShopifyCustomer(customer, mctx)) }
      })
  }
}

/** The replayers of every source; `shops` are the configured Shopify shops. */
export const allReplayers = (deps: SourceDeps, shops: ReadonlyArray<ShopifyShopConfig> = []): Replayers =>
  Object.assign(
    {},
    shopifyReplayers,
    lightspeedReplayers,
    stockyReplayers(deps),
    ...shops.map((shop) => makeShopifyReplayers(shop, deps))
  )
