/**
 * What one run cost the source API, as `_kura_sync_runs.api_usage` stores it (JSON) and
 * `v_api_usage` reads it. The apps compute it from core Telemetry; the warehouse only keeps it,
 * so the cost of every run (not just this process's) stays queryable next to its row counts.
 */
import { Option, Schema } from "effect"

/** API usage of one run and stream. */
export const RunApiUsage = Schema.Struct({
  /** HTTP requests completed (each attempt counts). */
  calls: Schema.Number,
  /** Shopify cost points: `requestedQueryCost` summed, and `actualQueryCost` (what was debited). */
  costRequested: Schema.Number,
  costActual: Schema.Number,
  /** THROTTLED / 429 answers, and the waits they caused. */
  throttled: Schema.Number,
  throttleWaits: Schema.Number,
  throttleWaitSeconds: Schema.Number,
  /** Requests sent again (policy retries and transport connection retries). */
  retries: Schema.Number
})
/** API usage of one run and stream. */
export type RunApiUsage = typeof RunApiUsage.Type

/** The JSON keys of `api_usage`, in the order `v_api_usage` exposes them. */
export const RunApiUsageFields = [
  "calls",
  "costRequested",
  "costActual",
  "throttled",
  "throttleWaits",
  "throttleWaitSeconds",
  "retries"
] as const satisfies ReadonlyArray<keyof RunApiUsage>

const decodeJson = Schema.decodeUnknownOption(Schema.fromJsonString(RunApiUsage))

/** Reads a stored `api_usage` value (JSON text, or an object from a JSON column); null when absent or malformed. */
export const parseRunApiUsage = (value: unknown): RunApiUsage | null => {
  if (value === null || value === undefined) return null
  const text = typeof value === "string" ? value : JSON.stringify(value)
  return Option.getOrNull(decodeJson(text))
}
