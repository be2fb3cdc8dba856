/**
 * What one Shopify client did: calls, cost points, throttling, retries and bulk jobs. Each client
 * keeps its own counts (an app prints them per source and shop) and also records them into core's
 * `Telemetry` registry under `source="shopify"` and the shop's domain, so `/metrics` shows them.
 *
 * @since 0.2.0
 */
import { MetricNames, Telemetry } from "@kura/core"
import { Effect } from "effect"

/**
 * Metric names this package records into core's `Telemetry` registry (labels: `source`, `shop`,
 * and `kind`/`event`/`reason` where stated). The throttle and retry series reuse core's names.
 *
 * @since 0.2.0
 * @category constants
 */
export const ShopifyMetricNames = {
  /** GraphQL requests sent, every attempt included. Labels: source, shop. */
  calls: "kura_source_calls_total",
  /** Cost points, `kind` = `requested` (Shopify's price) or `actual` (what was debited). */
  costPoints: "kura_source_cost_points_total",
  /** THROTTLED answers (HTTP 200 or 429). Labels: source, shop. */
  throttled: MetricNames.throttled,
  /** Seconds waited, `kind` = `pacing` (before sending) or `throttled` (after a THROTTLED answer). */
  throttleWait: MetricNames.throttleWait,
  /** Retries of one request, `reason` = `throttled`, `transport`, `malformed` or `renewal`. */
  retries: MetricNames.retries,
  /** Bulk job events, `event` = `started`, `adopted`, `completed`, `failed` or `canceled`. */
  bulkJobs: "kura_bulk_jobs_total"
} as const

/**
 * A bulk job event counted by {@link ShopifyTelemetryCounts}.
 *
 * @since 0.2.0
 * @category models
 */
export type BulkJobEvent = "started" | "adopted" | "completed" | "failed" | "canceled"

/**
 * A snapshot of one client's counts since it was built.
 *
 * @since 0.2.0
 * @category models
 */
export interface ShopifyTelemetryCounts {
  readonly shop: string
  /** GraphQL requests sent (each attempt counts). */
  readonly calls: number
  /** Sum of Shopify's `requestedQueryCost` over answered requests. */
  readonly costRequested: number
  /** Sum of `actualQueryCost` (the points Shopify debited). */
  readonly costActual: number
  /** THROTTLED answers received. */
  readonly throttled: number
  /** Time spent waiting after THROTTLED answers, in ms. */
  readonly throttleWaitMillis: number
  /** Time spent waiting for the cost bucket before sending, in ms (summed over concurrent callers). */
  readonly pacingWaitMillis: number
  /** Requests sent again: after THROTTLED, a transport fault or 5xx, an unreadable body, or a renewal. */
  readonly retries: number
  readonly bulkJobs: Readonly<Record<BulkJobEvent, number>>
}

/** The mutable counters behind a client (internal; read through `ShopifyClient.telemetry`). */
export interface ShopifyCounters {
  readonly call: Effect.Effect<void>
  readonly cost: (requested: number | null, actual: number | null) => Effect.Effect<void>
  readonly throttled: (waitMillis: number) => Effect.Effect<void>
  readonly paced: (waitMillis: number) => Effect.Effect<void>
  readonly retry: (reason: "throttled" | "transport" | "malformed" | "renewal") => Effect.Effect<void>
  readonly bulkJob: (event: BulkJobEvent) => Effect.Effect<void>
  readonly snapshot: Effect.Effect<ShopifyTelemetryCounts>
}

/**
 * Builds the counters of one client for `shop`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeShopifyCounters = (shop: string): ShopifyCounters => {
  const labels = { source: "shopify", shop }
  const c = {
    calls: 0,
    costRequested: 0,
    costActual: 0,
    throttled: 0,
    throttleWaitMillis: 0,
    pacingWaitMillis: 0,
    retries: 0
  }
  const bulk: Record<BulkJobEvent, number> = { started: 0, adopted: 0, completed: 0, failed: 0, canceled: 0 }
  return {
    call: Telemetry.useSync((r) => {
      c.calls++
      r.increment(ShopifyMetricNames.calls, labels)
    }),
    cost: (requested, actual) =>
      Telemetry.useSync((r) => {
        if (requested !== null && requested > 0) {
          c.costRequested += requested
          r.increment(ShopifyMetricNames.costPoints, { ...labels, kind: "requested" }, requested)
        }
        if (actual !== null && actual > 0) {
          c.costActual += actual
          r.increment(ShopifyMetricNames.costPoints, { ...labels, kind: "actual" }, actual)
        }
      }),
    throttled: (waitMillis) =>
      Telemetry.useSync((r) => {
        c.throttled++
        c.throttleWaitMillis += waitMillis
        r.increment(ShopifyMetricNames.throttled, labels)
        r.observe(ShopifyMetricNames.throttleWait, waitMillis / 1000, { ...labels, kind: "throttled" })
      }),
    paced: (waitMillis) =>
      Telemetry.useSync((r) => {
        if (waitMillis <= 0) return
        c.pacingWaitMillis += waitMillis
        r.observe(ShopifyMetricNames.throttleWait, waitMillis / 1000, { ...labels, kind: "pacing" })
      }),
    retry: (reason) =>
      Telemetry.useSync((r) => {
        c.retries++
        r.increment(ShopifyMetricNames.retries, { ...labels, reason })
      }),
    bulkJob: (event) =>
      Telemetry.useSync((r) => {
        bulk[event]++
        r.increment(ShopifyMetricNames.bulkJobs, { ...labels, event })
      }),
    snapshot: Effect.sync(() => ({ shop, ...c, bulkJobs: { ...bulk } }))
  }
}
