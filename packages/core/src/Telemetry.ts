/**
 * Counters and histograms for what a data team asks after a sync: how many requests, how many
 * retries, how long we waited on throttles, how many records and bytes. Kept as a small in-process
 * registry (no exporter dependency) that can be read as a JSON snapshot or served as Prometheus
 * text; every @kura package records into the `Telemetry` reference, which defaults to one
 * process-wide registry so nothing has to be wired for metrics to exist.
 */
import { Context, type Effect } from "effect"

/** Label set of one series. Keep values low-cardinality (host, source, stream; never a URL or id). */
export type Labels = Readonly<Record<string, string>>

/** Default histogram buckets in seconds, from 5 ms to 5 min (HTTP latencies and throttle waits). */
export const DEFAULT_BUCKETS: ReadonlyArray<number> = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300
]

/** Names and help texts of the metrics recorded by @kura packages. */
export const MetricNames = {
  requests: "kura_http_requests_total",
  requestDuration: "kura_http_request_duration_seconds",
  connectionRetries: "kura_http_connection_retries_total",
  retries: "kura_retries_total",
  throttleWait: "kura_throttle_wait_seconds",
  throttled: "kura_throttled_total",
  records: "kura_records_total",
  bytes: "kura_bytes_total"
} as const

const HELP: Readonly<Record<string, string>> = {
  [MetricNames.requests]: "HTTP requests completed, by host, method and status class.",
  [MetricNames.requestDuration]: "HTTP request duration in seconds.",
  [MetricNames.connectionRetries]: "Connection-fault retries done by the transport (no response arrived).",
  [MetricNames.retries]: "Retries scheduled by the retry policy, by reason.",
  [MetricNames.throttleWait]: "Time spent waiting for a rate limiter before sending, in seconds.",
  [MetricNames.throttled]: "Responses that reported a throttle (429 or GraphQL THROTTLED).",
  [MetricNames.records]: "Records read from a source.",
  [MetricNames.bytes]: "Response bytes received."
}

/** One counter series in a snapshot. */
export interface CounterSample {
  readonly name: string
  readonly labels: Labels
  readonly value: number
}

/** One histogram series in a snapshot (`buckets` are cumulative counts, as in Prometheus). */
export interface HistogramSample {
  readonly name: string
  readonly labels: Labels
  readonly count: number
  readonly sum: number
  readonly buckets: ReadonlyArray<{ readonly le: number; readonly count: number }>
}

/** All series at one instant. */
export interface MetricsSnapshot {
  readonly counters: ReadonlyArray<CounterSample>
  readonly histograms: ReadonlyArray<HistogramSample>
}

interface HistogramState {
  readonly bounds: ReadonlyArray<number>
  readonly counts: Array<number>
  count: number
  sum: number
}

const seriesKey = (name: string, labels: Labels): string =>
  `${name}|${Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(",")}`

const escapeLabel = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')

const renderLabels = (labels: Labels, extra?: readonly [string, string]): string => {
  const pairs = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${escapeLabel(labels[k] ?? "")}"`)
  if (extra) pairs.push(`${extra[0]}="${escapeLabel(extra[1])}"`)
  return pairs.length === 0 ? "" : `{${pairs.join(",")}}`
}

const formatNumber = (n: number): string =>
  Number.isFinite(n) ? String(n) : n > 0 ? "+Inf" : n < 0 ? "-Inf" : "NaN"

/** A metrics registry. Safe to share between fibers (JavaScript runs one fiber step at a time). */
export class MetricsRegistry {
  private readonly counters = new Map<string, { name: string; labels: Labels; value: number }>()
  private readonly histograms = new Map<string, { name: string; labels: Labels; state: HistogramState }>()
  private readonly help = new Map<string, string>(Object.entries(HELP))

  /** Sets the `# HELP` text of a metric (optional; @kura metrics have one already). */
  describe(name: string, help: string): void {
    this.help.set(name, help)
  }

  /** Adds `value` (default 1, must be >= 0) to a counter series. */
  increment(name: string, labels: Labels = {}, value = 1): void {
    if (!(value >= 0)) return
    const key = seriesKey(name, labels)
    const series = this.counters.get(key)
    if (series) series.value += value
    else this.counters.set(key, { name, labels: { ...labels }, value })
  }

  /** Records one observation into a histogram series. */
  observe(
    name: string,
    value: number,
    labels: Labels = {},
    buckets: ReadonlyArray<number> = DEFAULT_BUCKETS
  ): void {
    if (!Number.isFinite(value)) return
    const key = seriesKey(name, labels)
    let series = this.histograms.get(key)
    if (!series) {
      const bounds = [...buckets].sort((a, b) => a - b)
      series = {
        name,
        labels: { ...labels },
        state: { bounds, counts: bounds.map(() => 0), count: 0, sum: 0 }
      }
      this.histograms.set(key, series)
    }
    const { state } = series
    state.count += 1
    state.sum += value
    state.bounds.forEach((bound, i) => {
      if (value <= bound) state.counts[i] = (state.counts[i] ?? 0) + 1
    })
  }

  /** The current value of a counter series (0 when never incremented). */
  counter(name: string, labels: Labels = {}): number {
    return this.counters.get(seriesKey(name, labels))?.value ?? 0
  }

  /** Sum of a counter over all its label sets. */
  counterTotal(name: string): number {
    let total = 0
    for (const series of this.counters.values()) if (series.name === name) total += series.value
    return total
  }

  /** A copy of every series. */
  snapshot(): MetricsSnapshot {
    return {
      counters: [...this.counters.values()].map((s) => ({
        name: s.name,
        labels: { ...s.labels },
        value: s.value
      })),
      histograms: [...this.histograms.values()].map((s) => ({
        name: s.name,
        labels: { ...s.labels },
        count: s.state.count,
        sum: s.state.sum,
        buckets: s.state.bounds.map((le, i) => ({ le, count: s.state.counts[i] ?? 0 }))
      }))
    }
  }

  /** Renders every series in the Prometheus text exposition format (version 0.0.4). */
  toPrometheus(): string {
    const lines: Array<string> = []
    const byName = <T extends { name: string }>(series: Iterable<T>) => {
      const groups = new Map<string, Array<T>>()
      for (const s of series) {
        const group = groups.get(s.name)
        if (group) group.push(s)
        else groups.set(s.name, [s])
      }
      return [...groups.entries()].sort(([a], [b]) => a.localeCompare(b))
    }
    for (const [name, series] of byName(this.counters.values())) {
      const help = this.help.get(name)
      if (help) lines.push(`# HELP ${name} ${help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`)
      lines.push(`# TYPE ${name} counter`)
      for (const s of series) lines.push(`${name}${renderLabels(s.labels)} ${formatNumber(s.value)}`)
    }
    for (const [name, series] of byName(this.histograms.values())) {
      const help = this.help.get(name)
      if (help) lines.push(`# HELP ${name} ${help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`)
      lines.push(`# TYPE ${name} histogram`)
      for (const s of series) {
        s.state.bounds.forEach((le, i) => {
          lines.push(
            `${name}_bucket${renderLabels(s.labels, ["le", formatNumber(le)])} ${s.state.counts[i] ?? 0}`
          )
        })
        lines.push(`${name}_bucket${renderLabels(s.labels, ["le", "+Inf"])} ${s.state.count}`)
        lines.push(`${name}_sum${renderLabels(s.labels)} ${formatNumber(s.state.sum)}`)
        lines.push(`${name}_count${renderLabels(s.labels)} ${s.state.count}`)
      }
    }
    return lines.length === 0 ? "" : `${lines.join("\n")}\n`
  }

  /** Drops every series (tests, or between runs of a long-lived process). */
  reset(): void {
    this.counters.clear()
    this.histograms.clear()
  }
}

/** The process-wide default registry. */
export const globalMetrics: MetricsRegistry = new MetricsRegistry()

/**
 * The registry @kura code records into. Defaults to `globalMetrics`; provide another one
 * (`Effect.provideService(Telemetry, new MetricsRegistry())`) to isolate a test or a tenant.
 */
export const Telemetry: Context.Reference<MetricsRegistry> = Context.Reference<MetricsRegistry>(
  "@kura/core/Telemetry",
  {
    defaultValue: () => globalMetrics
  }
)

/** Increments a counter in the current registry. */
export const incrementCounter = (name: string, labels: Labels = {}, value = 1): Effect.Effect<void> =>
  Telemetry.useSync((registry) => registry.increment(name, labels, value))

/** Records a histogram observation in the current registry. */
export const observeHistogram = (name: string, value: number, labels: Labels = {}): Effect.Effect<void> =>
  Telemetry.useSync((registry) => registry.observe(name, value, labels))

/** Counts records read from a source (call once per page with the page size). */
export const recordRecords = (count: number, labels: Labels = {}): Effect.Effect<void> =>
  incrementCounter(MetricNames.records, labels, count)
