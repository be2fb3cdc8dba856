/**
 * An Effect `Logger` that writes one JSON object per line in the shape Google Cloud Logging
 * parses from stdout on Cloud Run: `severity`, `message`, `time`, `logging.googleapis.com/labels`,
 * `logging.googleapis.com/trace` and `spanId` (so logs group under their request trace), with
 * annotations as structured fields and causes as `stack_trace` (picked up by Error Reporting).
 * Every string is passed through `Redaction` and `Redacted` values print as `<redacted>`, so a
 * token that slips into a log call still never reaches the log.
 */
import { Cause, Context, type Layer, Logger, type LogLevel, Redacted, References, Tracer } from "effect"
import { REDACTED, redact, SECRET_HEADER_NAMES, SECRET_PARAM_NAMES } from "./Redaction.js"

/** Cloud Logging severities (LogSeverity enum). */
export type Severity =
  | "DEFAULT"
  | "DEBUG"
  | "INFO"
  | "NOTICE"
  | "WARNING"
  | "ERROR"
  | "CRITICAL"
  | "ALERT"
  | "EMERGENCY"

/** Maps an Effect log level to a Cloud Logging severity. */
export const severityOf = (level: LogLevel.LogLevel): Severity => {
  switch (level) {
    case "Trace":
    case "Debug":
      return "DEBUG"
    case "Info":
      return "INFO"
    case "Warn":
      return "WARNING"
    case "Error":
      return "ERROR"
    case "Fatal":
      return "CRITICAL"
    default:
      return "DEFAULT"
  }
}

/** Logger settings. */
export interface CloudLoggerOptions {
  /** GCP project id, needed to build `projects/<id>/traces/<traceId>`; without it no trace field is written. */
  readonly projectId?: string | undefined
  /** Labels added to every line (`logging.googleapis.com/labels`), e.g. { service: "sync-runner" }. */
  readonly labels?: Readonly<Record<string, string>> | undefined
  /** Annotation keys copied into labels as well (indexed, filterable), e.g. ["source", "account", "stream"]. */
  readonly labelAnnotations?: ReadonlyArray<string> | undefined
  /**
   * Where lines go. Default: process.stdout, or process.stderr where `Logger.LogToStderr` is set
   * (commands whose stdout is data). Cloud Run parses JSON from either.
   */
  readonly write?: ((line: string) => void) | undefined
}

const SECRET_KEYS = new Set(
  [
    ...SECRET_PARAM_NAMES,
    ...SECRET_HEADER_NAMES,
    "accesstoken",
    "refreshtoken",
    "clientsecret",
    "apikey"
  ].map((k) => k.toLowerCase())
)

/** Makes any value safe and JSON-ready: redacts strings, hides `Redacted` and secret-named keys, bounds depth. */
export const sanitize = (value: unknown, depth = 0): unknown => {
  if (Redacted.isRedacted(value)) return REDACTED
  if (typeof value === "string") return redact(value)
  if (typeof value === "bigint") return value.toString()
  if (value === null || typeof value !== "object") {
    return typeof value === "function" || typeof value === "symbol" ? String(value) : value
  }
  if (depth > 6) return "[…]"
  if (value instanceof Error) {
    return {
      name: value.name,
      message: redact(value.message),
      ...(value.stack ? { stack: redact(value.stack) } : {})
    }
  }
  if (value instanceof Date) return value.toISOString()
  const toJSON = Reflect.get(value, "toJSON")
  if (typeof toJSON === "function" && !Array.isArray(value)) return sanitize(toJSON.call(value), depth + 1)
  if (Array.isArray(value)) return value.slice(0, 100).map((v) => sanitize(v, depth + 1))
  const out: Record<string, unknown> = {}
  for (const [key, v] of Object.entries(value)) {
    out[key] = SECRET_KEYS.has(key.toLowerCase()) ? REDACTED : sanitize(v, depth + 1)
  }
  return out
}

const messageText = (message: unknown): string => {
  const parts = Array.isArray(message) ? message : [message]
  return parts
    .map((part) => {
      const safe = sanitize(part)
      return typeof safe === "string" ? safe : JSON.stringify(safe)
    })
    .join(" ")
}

/** Builds the logger. Lines are JSON; `write` receives them without the trailing newline. */
export const cloudLogger = (options: CloudLoggerOptions = {}): Logger.Logger<unknown, void> => {
  const write =
    options.write ??
    ((line: string, toStderr: boolean) =>
      void (toStderr ? process.stderr : process.stdout).write(`${line}\n`))
  const labelKeys = new Set(options.labelAnnotations ?? [])
  return Logger.make(({ message, logLevel, cause, fiber, date }) => {
    const annotations = fiber.getRef(References.CurrentLogAnnotations)
    const labels: Record<string, string> = { ...options.labels }
    const fields: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(annotations)) {
      const safe = SECRET_KEYS.has(key.toLowerCase()) ? REDACTED : sanitize(value)
      fields[key] = safe
      if (labelKeys.has(key)) labels[key] = typeof safe === "string" ? safe : JSON.stringify(safe)
    }
    const spans: Record<string, number> = {}
    const now = date.getTime()
    for (const [label, start] of fiber.getRef(References.CurrentLogSpans)) spans[label] = now - start
    const entry: Record<string, unknown> = {
      severity: severityOf(logLevel),
      message: messageText(message),
      time: date.toISOString(),
      ...fields
    }
    if (Object.keys(spans).length > 0) entry.spans = spans
    if (Object.keys(labels).length > 0) entry["logging.googleapis.com/labels"] = labels
    const span = Context.getOption(fiber.context, Tracer.ParentSpan)
    if (span._tag === "Some" && options.projectId !== undefined) {
      entry["logging.googleapis.com/trace"] = `projects/${options.projectId}/traces/${span.value.traceId}`
      entry["logging.googleapis.com/spanId"] = span.value.spanId
      if (span.value._tag === "Span") entry["logging.googleapis.com/trace_sampled"] = span.value.sampled
    }
    if (cause.reasons.length > 0) entry.stack_trace = redact(Cause.pretty(cause))
    let line: string
    try {
      line = JSON.stringify(entry)
    } catch {
      line = JSON.stringify({ severity: entry.severity, message: entry.message, time: entry.time })
    }
    write(line, fiber.getRef(Logger.LogToStderr))
  })
}

/** Replaces the default logger with the Cloud Logging JSON logger. */
export const layerCloudLogger = (options: CloudLoggerOptions = {}): Layer.Layer<never> =>
  Logger.layer([cloudLogger(options)])
