/**
 * The one log line that says how a backfill ended. On Cloud Run a failed task shows only as a
 * failed execution; this line (Cloud Logging JSON there, labelled `service=kura-backfill`) is what
 * the `backfill-failed` alert in `deploy/monitoring/` matches, and it carries the source, account
 * and task so the incident names the share that failed. Every line of the run, the windows' retry
 * warnings included, carries the same labels.
 */
import { Effect } from "effect"
import { errorExitCode } from "effect/Runtime"
import type { BackfillResult } from "./Backfill.js"
import type { BackfillError } from "./BackfillError.js"
import { accountedFor } from "./WindowOutcome.js"

/** The log message of a run that ended without an error. */
export const FINISHED_MESSAGE = "backfill finished"
/** The log message of a run that failed or did not tie (the alert's match). */
export const FAILED_MESSAGE = "backfill failed"
/** The log message of a run stopped by a signal (Ctrl-C, a job's SIGTERM): it resumes. */
export const INTERRUPTED_MESSAGE = "backfill interrupted"

/** Annotation keys the backfill's logger copies into labels (indexed, filterable in Cloud Logging). */
export const LABEL_ANNOTATIONS = ["source", "account", "task"] as const

/** Where the run stands: which source and account, and which share of the job's windows. */
export interface RunIdentity {
  readonly source: string
  readonly account: string
  readonly task: { readonly index: number; readonly count: number }
}

/** The counts of a finished run: what the summary table prints, as fields a query can sum. */
const finishedFields = (result: BackfillResult) => {
  let complete = 0
  let skipped = 0
  let fetched = 0
  let loaded = 0
  for (const e of result.ledger) {
    if (e.status === "skipped") skipped += 1
    if (e.status === "complete") complete += 1
    if (e.outcome !== null) {
      fetched += e.outcome.fetched
      loaded += accountedFor(e.outcome)
    }
  }
  return { windows: result.share.length, windowsLoaded: complete, windowsSkipped: skipped, fetched, loaded }
}

/**
 * Labels every line `run` logs with the run's identity and, when `announce` is set (the logs are
 * Cloud Logging JSON), logs how it ended: finished, failed with its reason and exit code, or
 * interrupted. In a terminal the summary table and the printed error already say so. A dry run
 * logs nothing of its own: it did no work.
 */
export const logBackfillOutcome =
  (identity: RunIdentity, announce: boolean) =>
  <R>(
    run: Effect.Effect<BackfillResult, BackfillError, R>
  ): Effect.Effect<BackfillResult, BackfillError, R> =>
    run.pipe(
      Effect.tap((result) =>
        !announce || result.dryRun
          ? Effect.void
          : Effect.logInfo(FINISHED_MESSAGE).pipe(Effect.annotateLogs(finishedFields(result)))
      ),
      Effect.tapError((e) =>
        announce
          ? Effect.logError(FAILED_MESSAGE).pipe(
              Effect.annotateLogs({ reason: e.reason, error: e.message, exitCode: e[errorExitCode] })
            )
          : Effect.void
      ),
      Effect.onInterrupt(() => (announce ? Effect.logWarning(INTERRUPTED_MESSAGE) : Effect.void)),
      Effect.annotateLogs({
        source: identity.source,
        account: identity.account,
        task: `${identity.task.index}/${identity.task.count}`
      })
    )

/**
 * Logs a run refused before it began (bad configuration or an unwritable local store, exit 2),
 * when `announce` is set: a job so configured fails the same way on every execution, so the
 * alert must see it too.
 */
export const logBackfillRefused = (
  source: string,
  error: { readonly message: string },
  announce: boolean
): Effect.Effect<void> =>
  announce
    ? Effect.logError(FAILED_MESSAGE).pipe(
        Effect.annotateLogs({ source, reason: "Config", error: error.message, exitCode: 2 })
      )
    : Effect.void
