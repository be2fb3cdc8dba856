/**
 * One `SyncStream` per (source, account, stream) of a configuration: the single call the app's
 * stream registry needs to sync Shopify, Lightspeed and Stocky.
 */
import { type AppConfig, intervalFor } from "../AppConfig.js"
import type { SyncStream } from "../SyncStream.js"
import { makeLightspeedStreams } from "./LightspeedStreams.js"
import { makeShopifyStreams } from "./ShopifyStreams.js"
import type { SourceDeps } from "./SourceDeps.js"
import { makeStockyStreams } from "./StockyStreams.js"

/** Shopify streams the others map onto (variants by inventory item and SKU, locations). */
const CATALOGUE: ReadonlySet<string> = new Set(["locations", "products"])

/** Every real-source stream of `config`, Shopify first (its catalogue feeds the others' joins). */
export const makeSourceStreams = (config: AppConfig, deps: SourceDeps): ReadonlyArray<SyncStream> => {
  // Streams run concurrently on one warehouse: its adapter serializes its own connection.
  return [
    ...config.shopify.flatMap((shop) =>
      makeShopifyStreams(shop, deps, (stream) => intervalFor(config, "shopify", stream)).map((s) =>
        CATALOGUE.has(s.key.stream) ? { ...s, catalogue: true } : s
      )
    ),
    ...config.lightspeed.flatMap((account) =>
      makeLightspeedStreams(account, deps, (stream) => intervalFor(config, "lightspeed", stream))
    ),
    ...config.stocky.flatMap((store) =>
      makeStockyStreams(store, deps, (stream) => intervalFor(config, "stocky", stream))
    )
  ]
}
