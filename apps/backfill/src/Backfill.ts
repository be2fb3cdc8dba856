/**
 * One backfill run: resolve and print the plan, check scopes, take this task's share, skip
 * finished windows, run the rest with bounded concurrency, checkpoint each window through the
 * warehouse's run ledger, and end with the per-window ledger and the reconciliation.
 */
import type { StreamKey } from "@kura/core"
import { type RawLake, Warehouse } from "@kura/warehouse"
import { Effect, Option, Schedule } from "effect"
import type { BackfillConfig } from "./BackfillConfig.js"
import { BackfillError } from "./BackfillError.js"
import { type MemoryTrace, noMemoryTrace } from "./MemoryTrace.js"
import { formatPlan, makePlan, type Plan, type PlannedWindow, shareOf } from "./Plan.js"
import { Progress, type ProgressOutput } from "./Progress.js"
import { refuseErased } from "./Redactions.js"
import { formatDeadLetters, formatSummary } from "./Summary.js"
import { accountedFor, formatAccounting, type LedgerEntry, missingOf } from "./WindowOutcome.js"
import type { WindowSource } from "./WindowSource.js"

/** The checkpoint key of a window (its `_kura_sync_state` row and `_kura_sync_runs` entries). */
export const windowKey = (account: string, w: PlannedWindow): StreamKey => ({
  source: w.source,
  account,
  stream: `backfill:${w.id}`
})

const planKey = (source: string, account: string): StreamKey => ({ source, account, stream: "backfill:plan" })

/** What a run ended with. */
export interface BackfillResult {
  readonly plan: Plan
  readonly share: ReadonlyArray<PlannedWindow>
  readonly ledger: ReadonlyArray<LedgerEntry>
  readonly dryRun: boolean
}

const HOUR = 3_600_000

/**
 * Resolves `--to now` once: stored with the plan so a resumed run (or another task of the same
 * job) cuts the same windows. Several tasks floor `now` to the hour so they agree even when the
 * first of them has not stored the plan yet.
 */
const resolvePlan = Effect.fnUntraced(function* (config: BackfillConfig, account: string, now: number) {
  const warehouse = yield* Warehouse
  const key = planKey(config.source, account)
  const stored = config.restart ? Option.none() : yield* warehouse.checkpoints.get(key)
  const signature = JSON.stringify({
    from: config.from,
    window: config.windowMillis,
    streams: config.streams
  })
  let to = config.to
  if (to === null && Option.isSome(stored)) {
    const meta = stored.value.meta
    if (meta?.signature === signature && typeof meta.to === "number") to = meta.to
  }
  if (to === null) to = config.task.count > 1 ? Math.floor(now / HOUR) * HOUR : Math.floor(now / 1000) * 1000
  if (!config.dryRun)
    yield* warehouse.checkpoints.put({
      key,
      cursor: new Date(to).toISOString(),
      updatedAt: now,
      meta: { signature, to }
    })
  return makePlan({
    source: config.source,
    streams: config.streams,
    from: config.from,
    to,
    windowMillis: config.windowMillis,
    archive: config.stocky?.archive !== undefined
  })
})

/**
 * Runs a backfill of `source`; fails with `BackfillError` when a window does not tie or the
 * preflight (a scope, a retired API) stops it before any work.
 */
export const runBackfill = <R>(
  config: BackfillConfig,
  out: ProgressOutput,
  source: WindowSource<R>,
  trace: MemoryTrace = noMemoryTrace
) =>
  Effect.gen(function* () {
    const warehouse = yield* Warehouse
    const account = source.account
    const now = Date.now()
    yield* warehouse.migrate
    yield* refuseErased(warehouse, config.source, account)
    const plan = yield* resolvePlan(config, account, now)
    const share = shareOf(plan.windows, config.task.index, config.task.count)
    if (config.restart && !config.dryRun)
      yield* Effect.forEach(share, (w) => warehouse.checkpoints.delete(windowKey(account, w)), {
        discard: true
      })
    const doneCheckpoints = yield* warehouse.checkpoints.list({ source: config.source })
    const done = new Set(
      doneCheckpoints
        .filter(
          (c) => c.key.account === account && c.key.stream.startsWith("backfill:") && c.cursor === "done"
        )
        .map((c) => c.key.stream.slice("backfill:".length))
    )
    out.write(`${formatPlan(plan, share, config.task, done)}\n`)
    if (config.dryRun) return { plan, share, ledger: [], dryRun: true } satisfies BackfillResult

    yield* source.preflight(plan, now)

    const runWindowOf = yield* source.prepare.pipe(
      Effect.mapError((e) => new BackfillError({ reason: "Failed", message: e.message }))
    )
    const todo = share.filter((w) => !done.has(w.id))
    const progress = new Progress(todo.length, out)
    const runWindow = (w: PlannedWindow) =>
      Effect.gen(function* () {
        // A shop/redact recorded while the backfill runs stops it before the next window: loading
        // on would collect again what the merchant asked to erase (what landed meanwhile is erased
        // again when the backfill ends: Redactions.eraseAgainIfErased).
        yield* refuseErased(warehouse, config.source, account)
        const key = windowKey(account, w)
        const runId = `backfill-${w.start}-${w.end}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
        yield* trace.phase(w.id, "start-run", warehouse.startRun({ runId, key }))
        // A window is idempotent (deterministic batch id), so a transient fault re-runs it whole.
        const result = yield* runWindowOf(w, progress.records).pipe(
          // Say why a window runs again: a retry that succeeds leaves no other trace.
          Effect.tapError((e) => Effect.logWarning(`window ${w.id} failed, running it again: ${e.message}`)),
          Effect.retry({ times: 2, schedule: Schedule.exponential("500 millis") }),
          Effect.result
        )
        if (result._tag === "Failure") {
          const detail = result.failure.message
          yield* warehouse.failRun(runId, key, detail.slice(0, 2000))
          yield* progress.windowFinished(w.id, null, "failed")
          return { window: w, status: "failed", outcome: null, detail } satisfies LedgerEntry
        }
        const o = result.success
        const committed = yield* trace.phase(
          w.id,
          "commit-run",
          warehouse.commitRun({
            runId,
            key,
            cursorAfter: "done",
            reportedCount: o.reportedCount,
            reportedTotal: null,
            rowsFetched: o.fetched,
            // The API's count against the rows accounted for: loaded now, or already held at the
            // same or a newer version (a sync or webhook landed it first); the meta splits them.
            rowsLoaded: accountedFor(o),
            loadedTotal: null,
            meta: {
              loaded: o.loaded,
              alreadyHeld: o.alreadyHeld ?? 0,
              missing: missingOf(o),
              reported: o.reportedCount,
              lake: o.lakePath
            }
          })
        )
        yield* trace.phase(w.id, "progress", progress.windowFinished(w.id, o, committed.status))
        // Why a window tied (or not) when this batch alone does not show it.
        if ((o.alreadyHeld ?? 0) > 0 || committed.status !== "complete")
          out.write(`${out.isTTY ? "\n" : ""}window ${w.id} ${committed.status}: ${formatAccounting(o)}\n`)
        return {
          window: w,
          status: committed.status,
          outcome: o,
          // The ledger's "loaded" is the rows accounted for: say how they split.
          detail:
            committed.mismatches.length > 0
              ? `${committed.mismatches.join("; ")} (${formatAccounting(o)})`
              : null
        } satisfies LedgerEntry
      })
    const ran = yield* Effect.forEach(todo, runWindow, { concurrency: config.concurrency })
    yield* progress.finish()
    const traced = trace.finish()
    if (traced !== "") out.write(`${traced}\n`)
    const byId = new Map(ran.map((e) => [e.window.id, e]))
    const ledger: ReadonlyArray<LedgerEntry> = share.map(
      (w) =>
        byId.get(w.id) ?? {
          window: w,
          status: "skipped",
          outcome: null,
          detail: "finished by an earlier run"
        }
    )
    const skippedLoaded = new Map<string, number>()
    for (const c of doneCheckpoints) {
      const n = c.meta?.loaded
      if (typeof n === "number") skippedLoaded.set(c.key.stream.slice("backfill:".length), n)
    }
    out.write(`${formatSummary(ledger, skippedLoaded)}\n`)
    const heldIn = ran.filter((e) => (e.outcome?.alreadyHeld ?? 0) > 0)
    if (heldIn.length > 0)
      out.write(
        `Already held: ${heldIn.reduce((n, e) => n + (e.outcome?.alreadyHeld ?? 0), 0)} record(s) in ${heldIn.length} window(s) were in the warehouse at the same or a newer version from another batch (a sync, a webhook, an earlier cut of the window), so they were not loaded again and count towards the tie; missing: ${ran.reduce((n, e) => n + (e.outcome === null ? 0 : missingOf(e.outcome)), 0)}.\n`
      )
    // Records the clients or mappers refused are kept, not dropped: say how many this run set aside.
    const letters = yield* warehouse.listDeadLetters({ key: { source: config.source, account }, since: now })
    if (letters.length > 0) out.write(`${formatDeadLetters(letters)}\n`)
    // The process's high-water mark: what a Cloud Run task's memory limit must cover.
    out.write(`Peak memory: ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB (max RSS)\n`)
    const mu = process.memoryUsage()
    const mib = (n: number) => Math.round(n / 2 ** 20)
    out.write(
      `Memory now: rss ${mib(mu.rss)} MiB, V8 heap ${mib(mu.heapUsed)}/${mib(mu.heapTotal)} MiB, external ${mib(mu.external)} MiB (array buffers ${mib(mu.arrayBuffers)} MiB)\n`
    )
    const duck = Math.max(0, ...ran.map((e) => e.outcome?.duckDbBytes ?? 0))
    if (duck > 0)
      out.write(
        `DuckDB memory: ${Math.round(duck / 2 ** 20)} MiB (duckdb_memory(), largest after a window's load)\n`
      )
    const bad = ledger.filter((e) => e.status === "failed" || e.status === "incomplete")
    if (bad.length > 0)
      return yield* new BackfillError({
        reason: "Unreconciled",
        message: `${bad.length} window(s) did not tie and stay unfinished (re-run to retry them): ${bad.map((e) => `${e.window.id} (${e.detail ?? e.status})`).join(", ")}`
      })
    return { plan, share, ledger, dryRun: false } satisfies BackfillResult
  }).pipe(Effect.withSpan("Backfill.run"))

/** The storage services every run needs (sources add their clients). */
export type BackfillServices = Warehouse | RawLake
