/**
 * Every stream's dead-letter replayer for `kura-sync dead-letters replay`: each comes from its
 * stream's module (the same decoder and mapper the stream runs). A configured shop gets every
 * Shopify stream (`makeShopifyReplayers`, which asks the shop for its facts; without one, only
 * customers replay, their mapper needing no shop context), a configured Lightspeed account its
 * sales (`makeLightspeedReplayers`: a sale maps with its location's zone and currency).
 */
import { Resources } from "@kura/shopify-client"
import { mapShopifyCustomer } from "@kura/warehouse"
import { Effect } from "effect"
import type { LightspeedAccountConfig, ShopifyShopConfig } from "../AppConfig.js"
import { decodeWith, mapWith, type Replayers } from "../DeadLetterReplay.js"
import { lightspeedReplayers, makeLightspeedReplayers } from "../sources/LightspeedStreams.js"
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

/**
 * The replayers of every source. Configured Shopify shops and Lightspeed accounts add the streams
 * whose mapping needs the account's own facts (asked of its API once per replay).
 */
export const allReplayers = (
  deps: SourceDeps,
  accounts: {
    readonly shopify?: ReadonlyArray<ShopifyShopConfig>
    readonly lightspeed?: ReadonlyArray<LightspeedAccountConfig>
  } = {}
): Replayers =>
  Object.assign(
    {},
    shopifyReplayers,
    lightspeedReplayers,
    stockyReplayers(deps),
    ...(accounts.shopify ?? []).map((shop) => makeShopifyReplayers(shop, deps)),
    ...(accounts.lightspeed ?? []).map((account) => makeLightspeedReplayers(account, deps))
  )
