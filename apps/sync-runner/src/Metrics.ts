/**
 * The app's own run and webhook metrics (including gauges, which @kura/core's registry does not
 * have), rendered together with @kura/core's `Telemetry` registry, where the clients record HTTP
 * requests, retries, throttling and records, so /metrics is one scrape.
 */
import { Telemetry } from "@kura/core"
import { Context, Effect, Layer } from "effect"

type Labels = Readonly<Record<string, string>>

interface Family {
  readonly type: "counter" | "gauge"
  readonly help: string
  readonly values: Map<string, { labels: Labels; value: number }>
}

const escapeLabel = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')
const labelText = (labels: Labels) => {
  const entries = Object.entries(labels)
  return entries.length === 0 ? "" : `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`
}

/** The metrics service. */
export class Metrics extends Context.Service<
  Metrics,
  {
    readonly increment: (name: string, help: string, labels?: Labels, by?: number) => Effect.Effect<void>
    readonly set: (name: string, help: string, labels: Labels, value: number) => Effect.Effect<void>
    /** The Prometheus text exposition format (version 0.0.4), app metrics then @kura/core's. */
    readonly render: Effect.Effect<string>
  }
>()("@kura/sync-runner/Metrics") {
  /** A fresh in-process registry. */
  static readonly layer = Layer.sync(Metrics, () => {
    const families = new Map<string, Family>()
    const family = (name: string, type: Family["type"], help: string) => {
      let f = families.get(name)
      if (f === undefined) {
        f = { type, help, values: new Map() }
        families.set(name, f)
      }
      return f
    }
    return Metrics.of({
      increment: (name, help, labels = {}, by = 1) =>
        Effect.sync(() => {
          const f = family(name, "counter", help)
          const id = labelText(labels)
          const cur = f.values.get(id)
          f.values.set(id, { labels, value: (cur?.value ?? 0) + by })
        }),
      set: (name, help, labels, value) =>
        Effect.sync(() => void family(name, "gauge", help).values.set(labelText(labels), { labels, value })),
      render: Effect.gen(function* () {
        const lines: Array<string> = []
        for (const [name, f] of families) {
          lines.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`)
          for (const { labels, value } of f.values.values())
            lines.push(`${name}${labelText(labels)} ${value}`)
        }
        const core = (yield* Telemetry).toPrometheus().trim()
        return `${[...lines, ...(core === "" ? [] : [core])].join("\n")}\n`
      })
    })
  })
}
