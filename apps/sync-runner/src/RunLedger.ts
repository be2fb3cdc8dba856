/**
 * The run ledger: what ran, when, how many rows, whether it reconciled and why it failed. It feeds
 * the status page, `kura-sync status`, the `run` due check and /metrics. In the app it is the
 * warehouse's own `_kura_sync_runs` (`layerWarehouse`), the table the source streams commit
 * through, so the status, `/` and reconciliation read one source of truth.
 */
import { type Checkpoint, type StreamKey, streamKeyToString } from "@kura/core"
import { type CommitRunInput, parseRunApiUsage, Warehouse } from "@kura/warehouse"
import { Clock, Context, Effect, Fiber, Layer, Option, Schema } from "effect"
import { ApiUsage } from "./ApiUsage.js"
import { makeRecentRuns } from "./internal/RecentRuns.js"

/** What started a run. */
export const RunTrigger = Schema.Literals(["schedule", "http", "cli"])
/** What started a run. */
export type RunTrigger = typeof RunTrigger.Type

/** One run, as recorded. */
export const RunRecord = Schema.Struct({
  runId: Schema.String,
  key: Schema.Struct({ source: Schema.String, account: Schema.String, stream: Schema.String }),
  /** Unknown for runs read back from the warehouse that another process started. */
  trigger: Schema.optionalKey(RunTrigger),
  startedAt: Schema.Number,
  finishedAt: Schema.optionalKey(Schema.Number),
  status: Schema.Literals(["running", "succeeded", "failed", "interrupted"]),
  rows: Schema.Number,
  reconciliation: Schema.Literals(["ok", "mismatch", "not-checked"]),
  stoppedEarly: Schema.optionalKey(Schema.Boolean),
  /** The stream closed its own ledger entry (see `RunResult.ledgerCommitted`). */
  ledgerCommitted: Schema.optionalKey(Schema.Boolean),
  error: Schema.optionalKey(Schema.String),
  /** The committed cursor when the run started, and the one it committed (warehouse ledger). */
  cursorBefore: Schema.optionalKey(Schema.NullOr(Schema.String)),
  cursorAfter: Schema.optionalKey(Schema.NullOr(Schema.String)),
  /** The count the API reported for the run's window (null when it reports none). */
  reportedCount: Schema.optionalKey(Schema.NullOr(Schema.Number)),
  /** Records fetched from the API, and records accounted for (loaded or dead-lettered). */
  rowsFetched: Schema.optionalKey(Schema.NullOr(Schema.Number)),
  rowsLoaded: Schema.optionalKey(Schema.NullOr(Schema.Number)),
  /** What the run cost the API (the ledger's `api_usage`; absent for runs that recorded none). */
  api: Schema.optionalKey(ApiUsage)
})
/** One run, as recorded. */
export type RunRecord = typeof RunRecord.Type

/** A run whose ledger entry the runner opened for the pass, and where it resumes. */
export interface OpenedRun {
  readonly checkpoint: Option.Option<Checkpoint>
  readonly opened: { readonly startedAt: number; readonly cursorBefore: string | null }
}

/** Per-stream summary for the status page and CLI. */
export interface StreamStatus {
  readonly key: StreamKey
  readonly lastRun: RunRecord | undefined
  /** The last run that finished (succeeded, failed or was interrupted). */
  readonly lastFinished?: RunRecord | undefined
  readonly lastSuccessAt: number | undefined
  /** ms since the last successful run finished (undefined if it never succeeded). */
  readonly lagMs: number | undefined
  readonly rowsLastRun: number
  readonly errorCount: number
  readonly lastError: string | undefined
  /** Rows per finished run, oldest first, for the chart. */
  readonly rowsHistory: ReadonlyArray<number>
}

/** The ledger port. */
export class RunLedger extends Context.Service<
  RunLedger,
  {
    readonly record: (run: RunRecord) => Effect.Effect<void>
    /** `record` for the finished runs of a pass, written together where the store allows. */
    readonly recordAll: (runs: ReadonlyArray<RunRecord>) => Effect.Effect<void>
    /**
     * Opens the entries of a pass's runs at once, each with the checkpoint it resumes from (read
     * in the same go): by run id, the checkpoint and the opened entry. `undefined` when this
     * ledger keeps neither (the runner reads each checkpoint, the stream opens its own entry).
     */
    readonly openRuns: (
      runs: ReadonlyArray<{ readonly runId: string; readonly key: StreamKey }>
    ) => Effect.Effect<ReadonlyMap<string, OpenedRun> | undefined>
    /**
     * Commits, in one transaction, the runs of a pass that handed their commit over
     * (`RunContext.deferCommit`); returns why each one that did not commit failed, by run id.
     * A commit's `apiUsage` is written with its entry, and `recordAll` then writes no cost of its
     * own for that run. `undefined` when this ledger cannot (the streams then commit their own).
     */
    readonly commitDeferred:
      | ((commits: ReadonlyArray<CommitRunInput>) => Effect.Effect<ReadonlyMap<string, string>>)
      | undefined
    /** Most recent first. */
    readonly list: (limit?: number) => Effect.Effect<ReadonlyArray<RunRecord>>
  }
>()("@kura/sync-runner/RunLedger") {
  /** In memory, keeping the last `capacity` runs. */
  static readonly layerMemory = (capacity = 500) =>
    Layer.sync(RunLedger, () => {
      const runs = new Map<string, RunRecord>()
      const record = (run: RunRecord) =>
        Effect.sync(() => {
          runs.delete(run.runId)
          runs.set(run.runId, run)
          while (runs.size > capacity) runs.delete(runs.keys().next().value!)
        })
      return RunLedger.of({
        record,
        recordAll: (all) => Effect.forEach(all, record, { discard: true }),
        openRuns: () => Effect.succeed(undefined),
        commitDeferred: undefined,
        list: (limit) => Effect.sync(() => [...runs.values()].reverse().slice(0, limit ?? capacity))
      })
    })
}

/** Runs kept per stream when reading the warehouse ledger (plus each stream's last success). */
const RUNS_PER_STREAM = 50

const LedgerRow = Schema.Struct({
  run_id: Schema.String,
  source: Schema.String,
  source_account: Schema.String,
  stream: Schema.String,
  started_at: Schema.Unknown,
  finished_at: Schema.Unknown,
  cursor_before: Schema.NullOr(Schema.String),
  cursor_after: Schema.NullOr(Schema.String),
  reported_count: Schema.Unknown,
  reported_total: Schema.Unknown,
  rows_fetched: Schema.Unknown,
  rows_loaded: Schema.Unknown,
  status: Schema.String,
  detail: Schema.NullOr(Schema.String),
  /** JSON text; missing in rows of callers that do not select it. */
  api_usage: Schema.optionalKey(Schema.NullOr(Schema.String))
})

/** A ledger number as the adapters return it (DuckDB BIGINT is a bigint, BigQuery INT64 a string). */
const numberOf = (v: unknown): number | null => {
  if (v === null || v === undefined) return null
  if (typeof v === "number") return v
  if (typeof v === "bigint" || typeof v === "string") {
    const n = Number(v)
    return Number.isFinite(n) ? n : null
  }
  if (v instanceof Date) return v.getTime()
  return null
}

const INTERRUPTED = "interrupted during shutdown"

/** One `_kura_sync_runs` row as a RunRecord: an incomplete run failed with a mismatch. */
export const runRecordOf = (row: typeof LedgerRow.Type): RunRecord => {
  const finishedAt = numberOf(row.finished_at)
  const reportedCount = numberOf(row.reported_count)
  const rowsLoaded = numberOf(row.rows_loaded)
  const api = parseRunApiUsage(row.api_usage)
  const status: RunRecord["status"] =
    row.status === "complete"
      ? "succeeded"
      : row.status === "running"
        ? "running"
        : row.status === "failed" && row.detail?.startsWith(INTERRUPTED) === true
          ? "interrupted"
          : "failed"
  return {
    runId: row.run_id,
    key: { source: row.source, account: row.source_account, stream: row.stream },
    startedAt: numberOf(row.started_at) ?? 0,
    ...(finishedAt === null ? {} : { finishedAt }),
    status,
    rows: rowsLoaded ?? 0,
    reconciliation:
      row.status === "incomplete"
        ? "mismatch"
        : row.status === "complete" && (reportedCount !== null || row.reported_total != null)
          ? "ok"
          : "not-checked",
    ...(status === "failed" || status === "interrupted" ? { error: row.detail ?? row.status } : {}),
    cursorBefore: row.cursor_before,
    cursorAfter: row.cursor_after,
    reportedCount,
    rowsFetched: numberOf(row.rows_fetched),
    rowsLoaded,
    ...(api === null ? {} : { api })
  }
}

/**
 * The ledger in the warehouse's `_kura_sync_runs`. Source streams open and commit their own entry
 * (the commit that refuses to move a cursor on a count mismatch); the runner adds what only it
 * knows: an entry for streams that do not use the ledger, and the error of a failed run. Runs
 * of this process keep their trigger and early stop; ledger writes that fail are logged, never
 * fatal (losing history must not fail a sync).
 */
export const layerWarehouseLedger = Layer.effect(
  RunLedger,
  Effect.gen(function* () {
    const warehouse = yield* Warehouse
    // What only this process knows of its runs, for `list` to merge: the newest few per stream
    // (more than the ledger's rows show), not every run the process ever made.
    const local = makeRecentRuns(RUNS_PER_STREAM + 10)
    /** Runs whose cost a deferred commit wrote with their entry: `recordAll` skips their cost. */
    const costWritten = new Set<string>()
    const T = warehouse.dialect.table("_kura_sync_runs")
    const S = warehouse.dialect.type("string")
    /**
     * Entry openings still being written. A pass's streams start fetching while their entries
     * are written (the write was ~45 ms of every pass before its first request); every other
     * ledger write waits for them first, so an entry can never be opened over its own commit.
     */
    const opening = new Set<Fiber.Fiber<void>>()
    const afterOpening = Effect.suspend(() =>
      opening.size === 0 ? Effect.void : Effect.asVoid(Fiber.awaitAll([...opening]))
    )
    const existing = (run: RunRecord) =>
      Effect.map(warehouse.listRuns(run.key), (runs) =>
        Option.fromNullishOr(runs.find((r) => r.runId === run.runId))
      )
    const write = (run: RunRecord) =>
      Effect.gen(function* () {
        yield* writeStatus(run)
        // The cost is known only now, after the stream committed its entry: it goes on that
        // entry, so the ledger (and v_api_usage) carries every run's cost, not just this process's.
        if (run.api !== undefined && run.status !== "running")
          yield* warehouse.recordRunUsage(run.runId, run.key, run.api)
      }).pipe(
        Effect.catch((e) =>
          Effect.logWarning(`run ledger not saved for ${streamKeyToString(run.key)}: ${e.message}`)
        )
      )
    // A pass's runs: statuses one by one (only runs the stream did not commit need one), then
    // every cost in one write instead of one per stream.
    const writeAll = (all: ReadonlyArray<RunRecord>) =>
      Effect.gen(function* () {
        for (const run of all)
          yield* writeStatus(run).pipe(
            Effect.catch((e) =>
              Effect.logWarning(`run ledger not saved for ${streamKeyToString(run.key)}: ${e.message}`)
            )
          )
        const costs = all.flatMap((run) =>
          run.api === undefined || run.status === "running" || costWritten.delete(run.runId)
            ? []
            : [{ runId: run.runId, key: run.key, usage: run.api }]
        )
        if (costs.length === 0) return
        yield* warehouse
          .recordRunUsages(costs)
          .pipe(
            Effect.catch((e) =>
              Effect.logWarning(`run costs not saved for ${costs.length} run(s): ${e.message}`)
            )
          )
      })
    const writeStatus = (run: RunRecord) =>
      Effect.gen(function* () {
        // A source stream opens its own entry with the cursor it resumes from (the ingest loop);
        // a second write here cost a statement and a checkpoint read per stream and pass. A stream
        // that never opens one gets its entry when it finishes (commitRun/failRun create it), and
        // this process's status shows it running from `local` meanwhile.
        if (run.status === "running") return
        // Committed by the stream itself: nothing to read back or write but the cost (below).
        if (run.status === "succeeded" && run.ledgerCommitted === true) return
        const before = yield* existing(run)
        if (run.status === "succeeded") {
          // The stream committed through the ledger itself (every source stream does).
          if (Option.isSome(before) && before.value.status !== "running") return
          const checkpoint = yield* warehouse.checkpoints.get(run.key)
          if (Option.isNone(checkpoint)) return
          yield* warehouse.commitRun({
            runId: run.runId,
            key: run.key,
            // No entry yet (the stream keeps none): it is written whole, with where the run began.
            ...(Option.isNone(before) && run.cursorBefore !== undefined
              ? { opened: { startedAt: run.startedAt, cursorBefore: run.cursorBefore } }
              : {}),
            cursorAfter: checkpoint.value.cursor,
            // A stream that checked its own count says so with "ok"; the ledger records it as tied.
            reportedCount: run.reconciliation === "ok" ? run.rows : null,
            reportedTotal: null,
            rowsFetched: run.rows,
            rowsLoaded: run.rows,
            loadedTotal: null,
            meta: { ...checkpoint.value.meta, ...(run.stoppedEarly === true ? { stoppedEarly: true } : {}) }
          })
          return
        }
        // An incomplete entry already says why (the mismatch); keep it.
        if (Option.isSome(before) && before.value.status === "incomplete") return
        // Failed before opening an entry: open it first so it keeps the cursor the run began at.
        if (Option.isNone(before) && run.cursorBefore !== undefined)
          yield* warehouse.startRun({ runId: run.runId, key: run.key, cursorBefore: run.cursorBefore })
        const error = run.status === "interrupted" ? INTERRUPTED : (run.error ?? "failed")
        const detail = Option.match(before, {
          onNone: () => error,
          onSome: (r) => (r.detail === null || r.detail === "" ? error : `${error} (${r.detail})`)
        })
        yield* warehouse.failRun(run.runId, run.key, detail)
      })
    return RunLedger.of({
      record: (run) =>
        Effect.suspend(() => {
          local.set(run)
          // `write` records the cost itself: a mark left by a deferred commit is done with.
          if (run.status !== "running") costWritten.delete(run.runId)
          // A running run writes nothing (its entry is opened with the pass): no wait for it.
          return run.status === "running" ? write(run) : Effect.andThen(afterOpening, write(run))
        }),
      recordAll: (all) =>
        Effect.suspend(() => {
          for (const run of all) local.set(run)
          return Effect.andThen(afterOpening, writeAll(all))
        }),
      commitDeferred: (commits) =>
        Effect.andThen(afterOpening, warehouse.commitRuns(commits)).pipe(
          // Written (complete or incomplete), each entry holds the cost its commit carried.
          Effect.tap(() =>
            Effect.sync(() => {
              for (const c of commits) if (c.apiUsage !== undefined) costWritten.add(c.runId)
            })
          ),
          Effect.map(
            (outcomes) =>
              new Map(
                outcomes.flatMap((o, i) =>
                  o.status === "complete" ? [] : [[commits[i]!.runId, o.mismatches.join("; ")] as const]
                )
              )
          ),
          Effect.catch((e) =>
            Effect.succeed(new Map(commits.map((c) => [c.runId, `commit failed: ${e.message}`] as const)))
          )
        ),
      openRuns: (runs) =>
        Effect.gen(function* () {
          const checkpoints = yield* warehouse.checkpointsOf(runs.map((r) => r.key))
          const resume = runs.map((r) => Option.fromNullishOr(checkpoints.get(streamKeyToString(r.key))))
          const startedAt = yield* Clock.currentTimeMillis
          const opened = runs.map((r, i) => ({
            runId: r.runId,
            key: r.key,
            cursorBefore: Option.match(resume[i] ?? Option.none(), {
              onNone: () => null,
              onSome: (c) => c.cursor
            }),
            startedAt
          }))
          // Written while the streams already fetch (see `opening`). If it fails, the entries
          // are still written whole when the runs commit or fail; only the "running" rows that
          // other readers would have seen meanwhile are missing.
          const write = yield* Effect.forkDetach(
            warehouse.startRuns(opened).pipe(
              Effect.asVoid,
              Effect.catch((e) => Effect.logWarning(`run ledger: entries not opened at once: ${e.message}`))
            )
          )
          opening.add(write)
          write.addObserver(() => opening.delete(write))
          return new Map(
            opened.map((o, i): [string, OpenedRun] => [
              o.runId,
              {
                checkpoint: resume[i] ?? Option.none(),
                opened: { startedAt: o.startedAt, cursorBefore: o.cursorBefore }
              }
            ])
          ) as ReadonlyMap<string, OpenedRun> | undefined
        }).pipe(
          // Unwritable here: each stream reads its checkpoint and opens its entry itself (and
          // fails there if the warehouse is really gone).
          Effect.catch((e) =>
            Effect.logWarning(`run ledger: pass not opened at once: ${e.message}`).pipe(Effect.as(undefined))
          )
        ),
      list: (limit) =>
        Effect.gen(function* () {
          // Recent runs per stream, and each stream's last success however old.
          const rows = yield* warehouse.query(
            `SELECT run_id, source, source_account, stream, started_at, finished_at, cursor_before, cursor_after, reported_count, CASE WHEN reported_total IS NULL THEN NULL ELSE 'y' END AS reported_total, rows_fetched, rows_loaded, status, detail, CAST(api_usage AS ${S}) AS api_usage FROM (SELECT r.*, ROW_NUMBER() OVER (PARTITION BY source, source_account, stream ORDER BY started_at DESC, run_id DESC) AS rn, ROW_NUMBER() OVER (PARTITION BY source, source_account, stream, status ORDER BY started_at DESC, run_id DESC) AS rs FROM ${T} AS r) AS x WHERE x.rn <= ${RUNS_PER_STREAM} OR (x.status = 'complete' AND x.rs = 1) ORDER BY started_at DESC, run_id DESC`
          )
          const runs = rows.flatMap((r) =>
            Option.toArray(Option.map(Schema.decodeUnknownOption(LedgerRow)(r), runRecordOf))
          )
          // What this process knows beyond the ledger: trigger, early stop, a run not yet written.
          const merged = runs.map((r) => {
            const mine = local.get(r.runId)
            if (mine === undefined) return r
            return {
              ...r,
              ...(mine.trigger === undefined ? {} : { trigger: mine.trigger }),
              ...(mine.stoppedEarly === true ? { stoppedEarly: true } : {}),
              ...(r.status === "failed" && mine.error !== undefined && r.reconciliation !== "mismatch"
                ? { error: mine.error }
                : {})
            }
          })
          const seen = new Set(merged.map((r) => r.runId))
          const pending = [...local.values()].filter((r) => !seen.has(r.runId)).reverse()
          return [...pending, ...merged].slice(0, limit ?? Number.MAX_SAFE_INTEGER)
        }).pipe(
          Effect.catch((e) =>
            Effect.logWarning(`run ledger unreadable: ${e.message}`).pipe(
              Effect.as([...local.values()].reverse().slice(0, limit ?? Number.MAX_SAFE_INTEGER))
            )
          )
        )
    })
  })
)

/** Folds runs (any order) into one status per stream key, in `keys` order (streams never run included). */
export const summarize = (
  keys: ReadonlyArray<StreamKey>,
  runs: ReadonlyArray<RunRecord>,
  now: number,
  historyLength = 20
): ReadonlyArray<StreamStatus> => {
  const byKey = new Map<string, Array<RunRecord>>()
  const allKeys = new Map<string, StreamKey>(keys.map((k) => [streamKeyToString(k), k]))
  for (const run of runs) {
    const id = streamKeyToString(run.key)
    if (!allKeys.has(id)) allKeys.set(id, run.key)
    const list = byKey.get(id) ?? []
    list.push(run)
    byKey.set(id, list)
  }
  return [...allKeys.entries()].map(([id, key]) => {
    const list = (byKey.get(id) ?? []).toSorted((a, b) => a.startedAt - b.startedAt)
    const finished = list.filter((r) => r.status !== "running")
    const lastRun = list.at(-1)
    const lastSuccess = finished.filter((r) => r.status === "succeeded").at(-1)
    const failures = finished.filter((r) => r.status === "failed")
    const lastSuccessAt = lastSuccess?.finishedAt
    return {
      key,
      lastRun,
      lastFinished: finished.at(-1),
      lastSuccessAt,
      lagMs: lastSuccessAt === undefined ? undefined : Math.max(0, now - lastSuccessAt),
      rowsLastRun: finished.at(-1)?.rows ?? 0,
      errorCount: failures.length,
      lastError: failures.at(-1)?.error,
      rowsHistory: finished.slice(-historyLength).map((r) => r.rows)
    }
  })
}
