/**
 * Every stream's dead-letter replayer for `kura-sync dead-letters replay`: each comes from its
 * stream's module (the same decoder and mapper the stream runs), except Shopify's, assembled here
 * from the same client resource Schema and warehouse mapper the Shopify stream spec names.
 */
import { Resources } from "@kura/shopify-client"
import { mapShopifyCustomer } from "@kura/warehouse"
import { Effect } from "effect"
import { decodeWith, mapWith, type Replayers } from "../DeadLetterReplay.js"
import { lightspeedReplayers } from "../sources/LightspeedStreams.js"
import type { SourceDeps } from "../sources/SourceDeps.js"
import { stockyReplayers } from "../sources/StockyStreams.js"

/**
 * Shopify customers (the stream spec's `Resources.customers` and `mapShopifyCustomer`, which needs
 * no shop context). Orders, products and transfers map with the shop's online location, currency
 * or catalogue, which only a live `shop` query gives: they are not replayable offline yet.
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

/** The replayers of every source, keyed `source/stream`. */
export const allReplayers = (deps: SourceDeps): Replayers => ({
  ...shopifyReplayers,
  ...lightspeedReplayers,
  ...stockyReplayers(deps)
})
