/**
 * The run ledger: what ran, when, how many rows, whether it reconciled and why it failed. It feeds
 * the status page, `kura-sync status` and /metrics; it is the app's own memory of runs, separate from
 * checkpoints (which say where a stream is, not how its runs went).
 */
import { type StreamKey, streamKeyToString } from "@kura/core"
import { Context, Effect, Layer, Schema, Semaphore } from "effect"
import { readJson, writeJsonAtomic } from "./internal/jsonFile.js"

/** What started a run. */
export const RunTrigger = Schema.Literals(["schedule", "http", "cli"])
/** What started a run. */
export type RunTrigger = typeof RunTrigger.Type

/** One run, as recorded. */
export const RunRecord = Schema.Struct({
  runId: Schema.String,
  key: Schema.Struct({ source: Schema.String, account: Schema.String, stream: Schema.String }),
  trigger: RunTrigger,
  startedAt: Schema.Number,
  finishedAt: Schema.optionalKey(Schema.Number),
  status: Schema.Literals(["running", "succeeded", "failed", "interrupted"]),
  rows: Schema.Number,
  reconciliation: Schema.Literals(["ok", "mismatch", "not-checked"]),
  stoppedEarly: Schema.optionalKey(Schema.Boolean),
  error: Schema.optionalKey(Schema.String)
})
/** One run, as recorded. */
export type RunRecord = typeof RunRecord.Type

/** Per-stream summary for the status page and CLI. */
export interface StreamStatus {
  readonly key: StreamKey
  readonly lastRun: RunRecord | undefined
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
    /** Most recent first. */
    readonly list: (limit?: number) => Effect.Effect<ReadonlyArray<RunRecord>>
  }
>()("@kura/sync-runner/RunLedger") {
  /** In memory, keeping the last `capacity` runs. */
  static readonly layerMemory = (capacity = 500) =>
    Layer.sync(RunLedger, () => {
      const runs = new Map<string, RunRecord>()
      return RunLedger.of({
        record: (run) =>
          Effect.sync(() => {
            runs.delete(run.runId)
            runs.set(run.runId, run)
            while (runs.size > capacity) runs.delete(runs.keys().next().value!)
          }),
        list: (limit) => Effect.sync(() => [...runs.values()].reverse().slice(0, limit ?? capacity))
      })
    })

  /**
   * Persisted to a JSON file so `kura-sync status` can read what `run`/`serve` did. Write failures
   * are logged, never fatal: losing history must not fail a sync.
   */
  static readonly layerFile = (path: string, capacity = 500) =>
    Layer.effect(
      RunLedger,
      Effect.gen(function* () {
        const lock = yield* Semaphore.make(1)
        const raw = yield* Effect.tryPromise(() => readJson(path)).pipe(Effect.orElseSucceed(() => undefined))
        const initial = yield* Schema.decodeUnknownEffect(Schema.Array(RunRecord))(raw ?? []).pipe(
          Effect.orElseSucceed(() => [] as ReadonlyArray<RunRecord>)
        )
        const runs = new Map<string, RunRecord>(initial.map((r) => [r.runId, r]))
        const persist = lock.withPermits(1)(
          Effect.tryPromise(() => writeJsonAtomic(path, [...runs.values()])).pipe(
            Effect.catch((e) => Effect.logWarning(`run ledger not saved to ${path}: ${String(e)}`))
          )
        )
        return RunLedger.of({
          record: (run) =>
            Effect.suspend(() => {
              runs.delete(run.runId)
              runs.set(run.runId, run)
              while (runs.size > capacity) runs.delete(runs.keys().next().value!)
              return persist
            }),
          list: (limit) => Effect.sync(() => [...runs.values()].reverse().slice(0, limit ?? capacity))
        })
      })
    )
}

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
      lastSuccessAt,
      lagMs: lastSuccessAt === undefined ? undefined : Math.max(0, now - lastSuccessAt),
      rowsLastRun: finished.at(-1)?.rows ?? 0,
      errorCount: failures.length,
      lastError: failures.at(-1)?.error,
      rowsHistory: finished.slice(-historyLength).map((r) => r.rows)
    }
  })
}
