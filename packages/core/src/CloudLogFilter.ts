/**
 * Alerting policies and log-based metrics select log lines with a Cloud Logging filter. A renamed
 * message, label or service leaves such a filter matching nothing, and nobody notices until the
 * alert that should have fired did not. These functions let a test run the real code under the
 * Cloud Logging logger and evaluate a deployed filter on the entries Cloud Run makes of its lines.
 * They cover the part of the Logging query language Kura's own filters use, and throw on anything
 * else, so a filter edited beyond it fails its test instead of being evaluated wrongly.
 */
import { Schema } from "effect"

/** The monitored resource Cloud Run attaches to a line: a service revision or a job's task. */
export interface MonitoredResource {
  readonly type: string
  readonly labels: Readonly<Record<string, string>>
}

/** A LogEntry as Cloud Logging stores a structured line: special fields lifted out of the payload. */
export interface LogEntry {
  readonly resource: MonitoredResource
  readonly severity: string
  readonly labels: Readonly<Record<string, string>>
  readonly jsonPayload: Readonly<Record<string, unknown>>
}

/**
 * The LogEntry Cloud Run makes of one JSON line written to stdout or stderr: `severity` and
 * `logging.googleapis.com/labels` become the entry's own fields, the rest stays in `jsonPayload`.
 * Throws on a line that is not a JSON object (Cloud Run would store it as plain text, which these
 * filters never match).
 */
export const entryOf = (line: string, resource: MonitoredResource): LogEntry => {
  const parsed: unknown = JSON.parse(line)
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new Error(`not a structured log line: ${line.slice(0, 200)}`)
  const {
    severity,
    "logging.googleapis.com/labels": labels,
    ...jsonPayload
  } = parsed as Record<string, unknown>
  return {
    resource,
    severity: typeof severity === "string" ? severity : "DEFAULT",
    labels: stringRecord(labels),
    jsonPayload
  }
}

const stringRecord = (value: unknown): Record<string, string> => {
  if (typeof value !== "object" || value === null) return {}
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(value)) if (typeof v === "string") out[k] = v
  return out
}

/** Cloud Logging's severities, lowest first (`severity>=X` compares by this order). */
const SEVERITIES = [
  "DEFAULT",
  "DEBUG",
  "INFO",
  "NOTICE",
  "WARNING",
  "ERROR",
  "CRITICAL",
  "ALERT",
  "EMERGENCY"
]

const at = (entry: LogEntry, path: string): unknown =>
  path
    .split(".")
    .reduce<unknown>(
      (v, k) => (typeof v === "object" && v !== null ? (v as Record<string, unknown>)[k] : undefined),
      entry
    )

/**
 * Whether `entry` matches `filter`: clauses joined by ` AND `, each `path="text"` (equality of a
 * field such as `labels.service` or `jsonPayload.message`) or `severity>=LEVEL`.
 */
export const matches = (filter: string, entry: LogEntry): boolean =>
  filter.split(" AND ").every((clause) => {
    const eq = /^([\w.]+)="([^"]*)"$/.exec(clause)
    if (eq !== null) return at(entry, eq[1] as string) === eq[2]
    const sev = /^severity>=([A-Z]+)$/.exec(clause)
    if (sev !== null) {
      const floor = SEVERITIES.indexOf(sev[1] as string)
      if (floor < 0) throw new Error(`unknown severity in filter clause: ${clause}`)
      return SEVERITIES.indexOf(entry.severity) >= floor
    }
    throw new Error(`filter clause outside the supported subset: ${clause}`)
  })

/** The value a label extractor `EXTRACT(path)` takes from `entry`. */
export const extract = (extractor: string, entry: LogEntry): unknown => {
  const m = /^EXTRACT\(([\w.]+)\)$/.exec(extractor)
  if (m === null) throw new Error(`label extractor outside the supported subset: ${extractor}`)
  return at(entry, m[1] as string)
}

/**
 * The shape of a log-match alerting policy file (`gcloud monitoring policies create
 * --policy-from-file`): one condition on a log filter with its label extractors. Cloud Monitoring
 * refuses such a policy without a notification rate limit, so decoding requires one.
 */
export const LogMatchPolicy = Schema.Struct({
  displayName: Schema.String,
  combiner: Schema.Literal("OR"),
  conditions: Schema.Tuple([
    Schema.Struct({
      displayName: Schema.String,
      conditionMatchedLog: Schema.Struct({
        filter: Schema.String,
        labelExtractors: Schema.Record(Schema.String, Schema.String)
      })
    })
  ]),
  alertStrategy: Schema.Struct({
    notificationRateLimit: Schema.Struct({ period: Schema.String }),
    autoClose: Schema.String
  })
})
