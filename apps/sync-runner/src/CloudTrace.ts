/**
 * Request traces for Cloud Logging: Cloud Run passes `X-Cloud-Trace-Context`, and running the
 * request under that trace as parent span makes @kura/core's Cloud Logging logger write
 * `logging.googleapis.com/trace` on every line of the request, including the sync it starts.
 */
import { Effect, Tracer } from "effect"

/** Parses `TRACE_ID/SPAN_ID;o=1` (span id decimal); undefined when absent or malformed. */
export const parseTraceHeader = (
  header: string | undefined
): { readonly traceId: string; readonly spanId: string; readonly sampled: boolean } | undefined => {
  if (header === undefined) return undefined
  const match = /^([0-9a-f]{32})(?:\/(\d+))?(?:;o=([01]))?$/i.exec(header.trim())
  if (match === null) return undefined
  return { traceId: match[1]!.toLowerCase(), spanId: match[2] ?? "0", sampled: match[3] === "1" }
}

/** Runs `effect` as a child of the request's Cloud trace, if the header carries one. */
export const withCloudTrace =
  (header: string | undefined) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
    const trace = parseTraceHeader(header)
    return trace === undefined ? effect : Effect.withParentSpan(effect, Tracer.externalSpan(trace))
  }
