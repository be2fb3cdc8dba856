/**
 * Builds the streams for a configuration. Keys come from the configuration alone (so `status` can
 * report without opening clients); the runnable streams need the warehouse and lake they land in.
 */
import { type AppConfig, intervalFor, type SourceName } from "./AppConfig.js"
import { makeDemoStream } from "./DemoStream.js"
import type { SyncStream } from "./SyncStream.js"
import { LIGHTSPEED_STREAMS } from "./sources/LightspeedStreams.js"
import { makeSourceStreams } from "./sources/makeSourceStreams.js"
import { shopifyStreamNames } from "./sources/ShopifyStreams.js"
import type { SourceDeps } from "./sources/SourceDeps.js"
import { STOCKY_STREAMS } from "./sources/StockyStreams.js"

/** The streams to run, and sources that were configured but cannot run in this build. */
export interface StreamPlan {
  readonly streams: ReadonlyArray<SyncStream>
  readonly unavailable: ReadonlyArray<{ readonly source: SourceName; readonly reason: string }>
}

/**
 * Plans every stream of `config`: the demo source plus Shopify, Lightspeed and Stocky over `deps`.
 * The configuration's read knobs (`config.sourceTuning`) apply where `deps` leaves them unset.
 */
export const planStreamsWith = (config: AppConfig, deps: SourceDeps): StreamPlan => ({
  streams: [
    ...config.demo.map((d) => makeDemoStream(d, intervalFor(config, "demo", d.name))),
    ...makeSourceStreams(config, { ...config.sourceTuning, ...deps })
  ],
  unavailable: []
})

/** The key of every stream `planStreamsWith` builds for `config`, computed without any service. */
export const planStreamKeys = (
  config: AppConfig
): ReadonlyArray<{ readonly source: SourceName; readonly account: string; readonly stream: string }> => [
  ...config.demo.map((d) => makeDemoStream(d, intervalFor(config, "demo", d.name)).key),
  ...config.shopify.flatMap((shop) =>
    shopifyStreamNames(shop).map((stream) => ({ source: "shopify" as const, account: shop.shop, stream }))
  ),
  ...config.lightspeed.flatMap((a) =>
    LIGHTSPEED_STREAMS.map((stream) => ({ source: "lightspeed" as const, account: a.name, stream }))
  ),
  ...config.stocky.flatMap((s) =>
    STOCKY_STREAMS.map((stream) => ({ source: "stocky" as const, account: s.storeName, stream }))
  )
]
