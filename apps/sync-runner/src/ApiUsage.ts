/**
 * What a run (or a whole source) cost the API: calls, Shopify cost points, throttles and retries,
 * read from core's Telemetry registry. Shopify bills in cost points, not calls, so points are what
 * tell an incremental run's cost from a full sync's (the target: incremental ≤ 2% of full).
 */
import { type Labels, MetricNames, MetricsRegistry } from "@kura/core"
import { ShopifyMetricNames } from "@kura/shopify-client"
import { RunApiUsage } from "@kura/warehouse"
import { Effect } from "effect"

/**
 * API usage over some span, summed over every client that recorded into one registry. The same
 * schema as the warehouse ledger's `api_usage` column (`RunApiUsage`), so a run's figure is
 * stored as computed.
 */
export const ApiUsage = RunApiUsage
/** API usage over some span. */
export type ApiUsage = RunApiUsage

const sumCounters = (
  registry: MetricsRegistry,
  name: string,
  where: (labels: Labels) => boolean = () => true
) =>
  registry
    .snapshot()
    .counters.filter((c) => c.name === name && where(c.labels))
    .reduce((n, c) => n + c.value, 0)

/** The usage recorded in `registry` so far. */
export const apiUsageOf = (registry: MetricsRegistry): ApiUsage => {
  const waits = registry.snapshot().histograms.filter((h) => h.name === MetricNames.throttleWait)
  return {
    calls: registry.counterTotal(MetricNames.requests),
    costRequested: sumCounters(registry, ShopifyMetricNames.costPoints, (l) => l.kind === "requested"),
    costActual: sumCounters(registry, ShopifyMetricNames.costPoints, (l) => l.kind === "actual"),
    throttled: registry.counterTotal(MetricNames.throttled),
    throttleWaits: waits.reduce((n, h) => n + h.count, 0),
    throttleWaitSeconds: waits.reduce((n, h) => n + h.sum, 0),
    retries: registry.counterTotal(MetricNames.retries) + registry.counterTotal(MetricNames.connectionRetries)
  }
}

/** One line: "12 calls, 340 cost points (412 requested), 0 throttled, 1 retries". */
export const formatApiUsage = (u: ApiUsage): string =>
  `${u.calls} calls` +
  (u.costRequested > 0 || u.costActual > 0
    ? `, ${fmt(u.costActual)} cost points (${fmt(u.costRequested)} requested)`
    : "") +
  `, ${u.throttled} throttled` +
  (u.throttleWaits > 0 ? ` (${u.throttleWaits} waits, ${u.throttleWaitSeconds.toFixed(1)} s)` : "") +
  `, ${u.retries} retries`

const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1))

/**
 * A registry that also forwards every sample to `parent`: one run records into its own registry
 * (its exact cost, even while other streams of the source run beside it) and into the source's.
 */
class TeeRegistry extends MetricsRegistry {
  constructor(private readonly parent: MetricsRegistry) {
    super()
  }
  override increment(name: string, labels: Labels = {}, value = 1): void {
    super.increment(name, labels, value)
    this.parent.increment(name, labels, value)
  }
  override observe(name: string, value: number, labels: Labels = {}, buckets?: ReadonlyArray<number>): void {
    super.observe(name, value, labels, buckets)
    this.parent.observe(name, value, labels, buckets)
  }
}

/**
 * Runs `make` with a registry of its own that forwards to `parent`, and returns what it produced
 * together with the API usage recorded while it ran. If it fails, `onFailure` gets the usage
 * recorded up to the failure (the run ledger keeps it).
 */
export const withApiUsage = <A, E, R>(
  parent: MetricsRegistry,
  make: (registry: MetricsRegistry) => Effect.Effect<A, E, R>,
  onFailure?: (usage: ApiUsage) => void
): Effect.Effect<readonly [A, ApiUsage], E, R> =>
  Effect.suspend(() => {
    const registry = new TeeRegistry(parent)
    return Effect.map(make(registry), (a) => [a, apiUsageOf(registry)] as const).pipe(
      Effect.onError(() => Effect.sync(() => onFailure?.(apiUsageOf(registry))))
    )
  })
