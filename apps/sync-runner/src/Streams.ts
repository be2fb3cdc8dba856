/**
 * Builds the streams for a configuration. Today only the demo source has a connector in this app;
 * Shopify, Lightspeed and Stocky streams are added here as their clients land.
 */
import { type AppConfig, intervalFor, type SourceName } from "./AppConfig.js"
import { makeDemoStream } from "./DemoStream.js"
import type { SyncStream } from "./SyncStream.js"

/** The streams to run, and sources that were configured but cannot run in this build. */
export interface StreamPlan {
  readonly streams: ReadonlyArray<SyncStream>
  readonly unavailable: ReadonlyArray<{ readonly source: SourceName; readonly reason: string }>
}

/** Plans the streams of `config`. */
export const planStreams = (config: AppConfig): StreamPlan => {
  const streams: Array<SyncStream> = config.demo.map((d) =>
    makeDemoStream(d, intervalFor(config, "demo", d.name))
  )
  const unavailable: Array<{ source: SourceName; reason: string }> = []
  const pending = "credentials found, but its connector is not wired into this build yet"
  if (config.shopify.length > 0) unavailable.push({ source: "shopify", reason: pending })
  if (config.lightspeed.length > 0) unavailable.push({ source: "lightspeed", reason: pending })
  if (config.stocky.length > 0) unavailable.push({ source: "stocky", reason: pending })
  return { streams, unavailable }
}
