/**
 * JSON logs in the shape Cloud Logging parses from Cloud Run stdout: `severity`, `message`, `time`,
 * and `logging.googleapis.com/trace` so a request's logs group under its trace.
 */
import { Cause, Effect, type Layer, Logger, References } from "effect"
import type { LogLevel } from "effect/LogLevel"

const SEVERITY: Record<LogLevel, string> = {
  All: "DEFAULT",
  Fatal: "CRITICAL",
  Error: "ERROR",
  Warn: "WARNING",
  Info: "INFO",
  Debug: "DEBUG",
  Trace: "DEBUG",
  None: "DEFAULT"
}

/** The log annotation key Cloud Logging reads the trace from. */
export const TRACE_KEY = "logging.googleapis.com/trace"

/**
 * Turns `X-Cloud-Trace-Context: TRACE_ID/SPAN_ID;o=1` into `projects/<project>/traces/TRACE_ID`
 * (or just the trace id when the project is unknown, e.g. locally).
 */
export const traceFromHeader = (
  header: string | undefined,
  project: string | undefined
): string | undefined => {
  if (header === undefined) return undefined
  const traceId = header.split("/")[0]?.trim()
  if (traceId === undefined || !/^[0-9a-f]{32}$/i.test(traceId)) return undefined
  return project === undefined ? traceId : `projects/${project}/traces/${traceId}`
}

const messageText = (message: unknown): string => {
  const parts = Array.isArray(message) ? message : [message]
  return parts.map((p) => (typeof p === "string" ? p : JSON.stringify(p))).join(" ")
}

/** A logger writing one JSON object per line to `write` (stdout by default). */
export const makeCloudLogger = (write: (line: string) => void = (l) => process.stdout.write(`${l}\n`)) =>
  Logger.make(({ message, logLevel, cause, fiber, date }) => {
    const annotations = fiber.getRef(References.CurrentLogAnnotations)
    const entry: Record<string, unknown> = {
      severity: SEVERITY[logLevel],
      message: messageText(message),
      time: date.toISOString(),
      ...annotations
    }
    if (cause.reasons.length > 0) entry.error = Cause.pretty(cause)
    write(JSON.stringify(entry))
  })

/** Replaces the default logger with the Cloud Logging JSON logger. */
export const layerCloudLogger: Layer.Layer<never> = Logger.layer([makeCloudLogger()])

/** Annotates every log inside `effect` with the request's trace. */
export const withTrace = (trace: string | undefined) =>
  trace === undefined
    ? <A, E, R>(effect: Effect.Effect<A, E, R>) => effect
    : Effect.annotateLogs({ [TRACE_KEY]: trace })
