/**
 * What the source streams need besides the configuration: the warehouse and lake they land in,
 * per-source metrics registries (so the demo can report calls, throttles and retries per source),
 * a token store for Lightspeed's single-use refresh tokens, and a few knobs for where history starts.
 */
import { DeadLetterSink, MetricsRegistry, type TokenStore } from "@kura/core"
import type { RawLake, Warehouse } from "@kura/warehouse"
import { type Effect, Layer } from "effect"
import { type SharedLayer, sharedLayer } from "./sharedLayer.js"

/** The three real sources. */
export type RealSource = "shopify" | "lightspeed" | "stocky"

/** Dependencies of `makeSourceStreams`. */
export interface SourceDeps {
  readonly warehouse: Warehouse["Service"]
  readonly lake: RawLake["Service"]
  /** One registry per source; HTTP calls, throttles and retries of that source count there. */
  readonly telemetry?: Partial<Record<RealSource, MetricsRegistry>>
  /** Where Lightspeed refresh tokens rotate (defaults to one in-memory store per account). */
  readonly tokenStore?: TokenStore["Service"]
  /** First business date a Lightspeed location is read from on its first run (YYYY-MM-DD). */
  readonly lightspeedFromDate?: string
  /** Business days landed together per Lightspeed batch (default 31); the cursor moves per batch. */
  readonly lightspeedDaysPerBatch?: number
  /** Shopify windows longer than this (ms) are read by bulk export instead of paging (default 2 days). */
  readonly shopifyBulkThresholdMs?: number
  /**
   * A window whose count reaches this many records is read by bulk export however short it is
   * (default 25). Paged order reads cost ~100 cost points per order (nested lines, refunds,
   * fulfillments), a bulk export ~10 in all: measured on the 10k-order demo, an incremental pass
   * over 95 changed orders cost 9,880 points paged against 26 for the full bulk export.
   */
  readonly shopifyBulkMinRecords?: number
  /**
   * Period of the whole stock-snapshot read (ms, epoch-aligned: the default day makes the first run
   * of each UTC day whole); other runs read only levels changed since the cursor. 0: always whole.
   */
  readonly shopifyInventoryFullEveryMs?: number
  /** Period of the whole transfers re-read (ms, default a day); other runs read new and open ones. */
  readonly shopifyTransfersFullEveryMs?: number
  /** Earliest `updated_at` (epoch ms) a first Shopify run reads from. Default 0 (everything). */
  readonly shopifyFloor?: number
  /** The Stocky store's IANA zone (Stocky sends some timestamps without an offset). Default UTC. */
  readonly stockyTimeZone?: string
  /** Faster retries and no TLS requirement, for the local sandbox. */
  readonly sandbox?: boolean
  /** Progress lines (one per landed page batch); default none. */
  readonly progress?: (line: string) => void
  /**
   * Receives the release of each account's shared client (built once per account on first use);
   * the owner runs them at shutdown. Without it the clients live as long as the process.
   */
  readonly onRelease?: (release: Effect.Effect<void>) => void
}

/** The per-source registry, created on first use so counts never mix across sources. */
export const registryFor = (deps: SourceDeps, source: RealSource): MetricsRegistry =>
  deps.telemetry?.[source] ?? new MetricsRegistry()

/** The warehouse's dead-letter table as the clients' DeadLetterSink. */
export const deadLetterLayer = (deps: SourceDeps) => Layer.succeed(DeadLetterSink, deps.warehouse.deadLetters)

/** Shares `layer` across the streams of one account, handing its release to `deps.onRelease`. */
export const sharedFor = <R, ER>(deps: SourceDeps, layer: Layer.Layer<R, ER, never>): SharedLayer<R, ER> => {
  const shared = sharedLayer(layer)
  deps.onRelease?.(shared.close)
  return shared
}
