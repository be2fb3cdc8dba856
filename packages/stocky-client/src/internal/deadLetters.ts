/**
 * Turns a record that does not decode into a core `DeadLetter`, for callers that prefer "load the
 * rest and keep the bad record with its reason" to "stop the run". Nothing is dropped silently:
 * the raw payload, the field and the origin (URL or file:line) travel with it.
 */
import type { DeadLetter, StreamKey } from "@kura/core"
import type { StockyError } from "../StockyError.js"

/** What to do with a record that does not decode: fail the stream (default) or dead-letter it. */
export type InvalidRecords = "fail" | "dead-letter"

/** The record's id as Stocky sent it, when it can be read (keeps paging moving past bad records). */
export const rawId = (raw: unknown): number | undefined => {
  const id: unknown = raw !== null && typeof raw === "object" ? Reflect.get(raw, "id") : undefined
  if (typeof id === "number" && Number.isSafeInteger(id)) return id
  if (typeof id === "string" && /^\d+$/.test(id.trim())) return Number(id.trim())
  return undefined
}

/** Builds the dead letter for `raw` that failed with `error`. */
export const toDeadLetter = (key: StreamKey, raw: unknown, error: StockyError, at: number): DeadLetter => {
  const r = error.reason
  const origin =
    r._tag === "Decode"
      ? r.line !== null
        ? `${r.source}:${r.line}`
        : r.index !== null
          ? `${r.source}#${r.index}`
          : r.source
      : ""
  const id = rawId(raw)
  return {
    key,
    sourceId: id === undefined ? null : String(id),
    payload: JSON.stringify(raw) ?? "null",
    reason: "decode",
    detail: error.message,
    origin,
    at
  }
}
