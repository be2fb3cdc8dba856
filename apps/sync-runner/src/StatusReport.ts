/**
 * The status report shared by `kura-sync status` and `GET /status.json`: per stream the committed
 * cursor, last success, lag, last run, rows, reconciliation and errors.
 */
import { CheckpointStore, type StreamKey, streamKeyToString } from "@kura/core"
import { Clock, Effect, Schema } from "effect"
import { RunLedger, summarize } from "./RunLedger.js"
import { formatLag } from "./StatusPage.js"
import { isAccountState } from "./SyncStream.js"

/** One stream's line of the report. */
export const StreamReport = Schema.Struct({
  stream: Schema.String,
  cursor: Schema.NullOr(Schema.String),
  lastSuccessAt: Schema.NullOr(Schema.String),
  lag: Schema.String,
  lastStatus: Schema.NullOr(Schema.String),
  rowsLastRun: Schema.Number,
  reconciliation: Schema.NullOr(Schema.String),
  errors: Schema.Number,
  lastError: Schema.NullOr(Schema.String),
  /** The last finished run as the ledger holds it: cursors, the API's count, rows fetched and loaded. */
  lastRun: Schema.optionalKey(
    Schema.NullOr(
      Schema.Struct({
        runId: Schema.String,
        cursorBefore: Schema.NullOr(Schema.String),
        cursorAfter: Schema.NullOr(Schema.String),
        reportedCount: Schema.NullOr(Schema.Number),
        rowsFetched: Schema.NullOr(Schema.Number),
        rowsLoaded: Schema.NullOr(Schema.Number)
      })
    )
  )
})
/** One stream's line of the report. */
export type StreamReport = typeof StreamReport.Type

/**
 * The webhook intake thread's health (`kura-sync serve` only): how often it died and was
 * restarted, when last, and why (secrets masked), plus records still to land.
 */
export const WebhookIntakeReport = Schema.Struct({
  restarts: Schema.Number,
  lastRestartAt: Schema.NullOr(Schema.String),
  lastError: Schema.NullOr(Schema.String),
  /** Records a dead thread wrote without handing them over, found on disk and landed. */
  adopted: Schema.Number,
  /** Accepted records not yet landed. */
  pending: Schema.Number
})
/** The webhook intake thread's health. */
export type WebhookIntakeReport = typeof WebhookIntakeReport.Type

/** The whole report. */
export const StatusReport = Schema.Struct({
  streams: Schema.Array(StreamReport),
  skipped: Schema.Array(Schema.Struct({ source: Schema.String, reason: Schema.String })),
  /** Present when the service runs the threaded webhook intake. */
  webhookIntake: Schema.optionalKey(WebhookIntakeReport)
})
/** The whole report. */
export type StatusReport = typeof StatusReport.Type

/** Builds the report for the configured streams plus any stream with a checkpoint. */
export const buildStatusReport = Effect.fnUntraced(function* (
  configured: ReadonlyArray<StreamKey>,
  skipped: ReadonlyArray<{ readonly source: string; readonly reason: string }>
) {
  const checkpoints = (yield* (yield* CheckpointStore).list()).filter((c) => !isAccountState(c.key))
  const runs = yield* (yield* RunLedger).list()
  const now = yield* Clock.currentTimeMillis
  const keys = [...configured, ...checkpoints.map((c) => c.key)]
  const unique = [...new Map(keys.map((k) => [streamKeyToString(k), k])).values()]
  const cursor = new Map(checkpoints.map((c) => [streamKeyToString(c.key), c.cursor]))
  const streams = summarize(unique, runs, now).map(
    (s): StreamReport => ({
      stream: streamKeyToString(s.key),
      cursor: cursor.get(streamKeyToString(s.key)) ?? null,
      lastSuccessAt: s.lastSuccessAt === undefined ? null : new Date(s.lastSuccessAt).toISOString(),
      lag: formatLag(s.lagMs),
      lastStatus: s.lastRun?.status ?? null,
      rowsLastRun: s.rowsLastRun,
      reconciliation: s.lastRun?.reconciliation ?? null,
      errors: s.errorCount,
      lastError: s.lastError ?? null,
      lastRun:
        s.lastFinished === undefined
          ? null
          : {
              runId: s.lastFinished.runId,
              cursorBefore: s.lastFinished.cursorBefore ?? null,
              cursorAfter: s.lastFinished.cursorAfter ?? null,
              reportedCount: s.lastFinished.reportedCount ?? null,
              rowsFetched: s.lastFinished.rowsFetched ?? null,
              rowsLoaded: s.lastFinished.rowsLoaded ?? null
            }
    })
  )
  return { streams, skipped } satisfies StatusReport
})

const ledgerText = (r: StreamReport): string => {
  const l = r.lastRun
  if (l === undefined || l === null) return ""
  const api = l.reportedCount === null ? "" : ` api=${l.reportedCount}`
  return `  fetched=${l.rowsFetched ?? "-"} loaded=${l.rowsLoaded ?? "-"}${api}`
}

/** The intake thread's line of the text report. */
export const formatIntakeReport = (w: WebhookIntakeReport): string =>
  `webhook intake: ${w.restarts} restart(s)` +
  (w.lastRestartAt === null ? "" : `, last at ${w.lastRestartAt}`) +
  (w.lastError === null ? "" : ` (${w.lastError})`) +
  `  pending=${w.pending}  adopted=${w.adopted}`

/** Renders the report as text, one line per stream. */
export const formatStatusReport = (report: StatusReport): string =>
  [
    ...report.skipped.map((s) => `${s.source}: skipped (${s.reason})`),
    ...(report.webhookIntake === undefined ? [] : [formatIntakeReport(report.webhookIntake)]),
    ...(report.streams.length === 0 ? ["no streams have run yet"] : []),
    ...report.streams.map(
      (r) =>
        `${r.stream}  cursor=${r.cursor ?? "-"}  last=${r.lastStatus ?? "never"}  lag=${r.lag}  rows=${r.rowsLastRun}  ` +
        `reconciles=${r.reconciliation ?? "-"}${ledgerText(r)}  errors=${r.errors}${r.lastError === null ? "" : ` (${r.lastError})`}`
    )
  ].join("\n")
