/**
 * Runs streams: takes the per-stream lease, resumes from the checkpoint, records the run, and on
 * shutdown drains runs in flight so their checkpoints are committed before the process exits.
 */
import { type Checkpoint, CheckpointStore, type StreamKey, streamKeyToString } from "@kura/core"
import type { CommitRunInput } from "@kura/warehouse"
import { Cause, Clock, Context, Effect, Exit, Fiber, Layer, Option, Ref, Semaphore } from "effect"
import type { ApiUsage } from "./ApiUsage.js"
import { LeaseManager, localHolder } from "./LeaseManager.js"
import { Metrics } from "./Metrics.js"
import { type OpenedRun, RunLedger, type RunRecord, type RunTrigger } from "./RunLedger.js"
import { matches, type StreamSelector, type SyncStream } from "./SyncStream.js"

/** What happened when a run was requested for one stream. */
export type StartOutcome =
  | { readonly _tag: "Started"; readonly key: StreamKey; readonly runId: string }
  | { readonly _tag: "Busy"; readonly key: StreamKey }
  | { readonly _tag: "Draining"; readonly key: StreamKey }
  | Refused

/** A stream not run because its account must not be synced (erased by `shop/redact`); `reason` says what to do. */
export interface Refused {
  readonly _tag: "Refused"
  readonly key: StreamKey
  readonly reason: string
}

/** An account the runner must not sync, and the line operators read. */
export interface ErasedAccount {
  readonly source: string
  readonly account: string
  /** Why and what to do, logged and returned with each stream refused. */
  readonly reason: string
}

/**
 * Accounts erased by a `shop/redact` (or `kura-sync redact shop`): a pass reads them before it
 * takes its leases and refuses their streams, since syncing would collect again what the merchant
 * asked to erase; and again when it closes, so an account erased while the pass ran (its runs
 * may have landed rows after the erasure) is erased again (`eraseAgain`).
 */
export interface ErasureGate {
  /** The erased accounts. A failure refuses every stream of the pass (the ledger is the proof). */
  readonly read: Effect.Effect<ReadonlyArray<ErasedAccount>, { readonly message: string }>
  /** Erases again what the pass may have landed for accounts erased while it ran. Must not fail. */
  readonly eraseAgain: (accounts: ReadonlyArray<ErasedAccount>) => Effect.Effect<void>
}

/** Options for the runner. */
export interface StreamRunnerOptions {
  /** Lease time-to-live; a crashed holder's lease expires after this. */
  readonly leaseTtlMs?: number
  /**
   * Streams run at once by `runNow` (default 16). Each account's client paces its own API (one
   * cost bucket or limiter per account, shared by its streams) and the warehouse adapter
   * serializes its connection, so running more streams together overlaps their waiting without
   * exceeding any rate limit; a low cap made an unchanged incremental pass wait in line (measured:
   * Lightspeed and Stocky streams started 4 s into a 7.5 s pass at 4).
   */
  readonly concurrency?: number
  /**
   * Runs after each pass of `runNow` and after each stream `start` ran: kura-sync re-applies the
   * redaction ledger here, so a customer erased earlier whom a run brought back (a re-read window,
   * a replay) is erased again at once. One at a time: runs that end together wait in line. It must
   * not fail (log instead); it does not delay the results of `runNow`'s streams, only its return.
   */
  readonly afterRun?: Effect.Effect<void>
  /** Refuses the streams of erased accounts (kura-sync: the `_kura_redactions` ledger's shop entries). */
  readonly erasure?: ErasureGate
}

let counter = 0
const newRunId = (now: number) =>
  `${now.toString(36)}-${process.pid.toString(36)}-${(counter++).toString(36)}`

/** The runner service. */
export class StreamRunner extends Context.Service<
  StreamRunner,
  {
    readonly streams: ReadonlyArray<SyncStream>
    /** Streams matching a selector (empty when none match). */
    readonly select: (selector: StreamSelector) => ReadonlyArray<SyncStream>
    /** Starts matching streams in the background; returns at once (HTTP trigger, scheduler). */
    readonly start: (
      selector: StreamSelector,
      trigger: RunTrigger
    ) => Effect.Effect<ReadonlyArray<StartOutcome>>
    /** Runs matching streams to completion and returns their records (CLI `run`). */
    readonly runNow: (
      selector: StreamSelector,
      trigger: RunTrigger
    ) => Effect.Effect<
      ReadonlyArray<RunRecord | { readonly _tag: "Busy"; readonly key: StreamKey } | Refused>
    >
    readonly inFlight: Effect.Effect<number>
    /**
     * Configured accounts the erasure gate refuses (erased by `shop/redact`), each with the line
     * saying what to do: what the status page shows operators, so a silent account is explained.
     */
    readonly erasedAccounts: Effect.Effect<ReadonlyArray<ErasedAccount>, { readonly message: string }>
    /** True once `drain` has begun. */
    readonly draining: Effect.Effect<boolean>
    /** Stops new runs, waits up to `timeoutMs` for runs in flight, then interrupts the rest. */
    readonly drain: (
      timeoutMs: number
    ) => Effect.Effect<{ readonly completed: number; readonly interrupted: number }>
  }
>()("@kura/sync-runner/StreamRunner") {
  /** Builds a runner over `streams`. */
  static readonly make = Effect.fnUntraced(function* (
    streams: ReadonlyArray<SyncStream>,
    options: StreamRunnerOptions = {}
  ) {
    const checkpoints = yield* CheckpointStore
    const leases = yield* LeaseManager
    const ledger = yield* RunLedger
    const metrics = yield* Metrics
    const draining = yield* Ref.make(false)
    const fibers = new Set<Fiber.Fiber<unknown, unknown>>()
    /** Passes started in the background (`start`): a drain waits for their close too. */
    const passes = new Set<Fiber.Fiber<unknown, unknown>>()
    // Short, and renewed every third of it while the run works: a SIGKILLed runner's lease frees
    // within two minutes, so a restart resumes instead of waiting out an hour-long TTL.
    const leaseTtlMs = options.leaseTtlMs ?? 2 * 60_000
    const afterRunLock = Semaphore.makeUnsafe(1)
    const afterRun =
      options.afterRun === undefined ? Effect.void : afterRunLock.withPermits(1)(options.afterRun)

    const select = (selector: StreamSelector) => streams.filter((s) => matches(selector, s))

    const labels = (key: StreamKey) => ({ source: key.source, account: key.account, stream: key.stream })

    /**
     * Runs one stream of a pass (`runNow` and `start` both run passes) whose lease is already held.
     * Its checkpoint was read with the pass's others (read here only when the pass had none), and
     * the pass writes the finished record and releases the latest lease (kept in `pass.held`)
     * together with the others' — one write each per pass instead of per stream.
     */
    const execute = (
      stream: SyncStream,
      runId: string,
      trigger: RunTrigger,
      lease: Parameters<typeof leases.release>[0],
      pass: {
        readonly checkpoint: Option.Option<Checkpoint> | undefined
        /** The entry the pass opened for this run (absent: the stream opens its own). */
        readonly opened: OpenedRun["opened"] | undefined
        readonly held: Map<string, Parameters<typeof leases.release>[0]>
        /** Where the finished record goes (even when the run was interrupted by a drain). */
        readonly finished: Array<RunRecord>
        /** Commits handed over by runs that fetched nothing (written when the pass ends). */
        readonly deferred: Array<CommitRunInput> | undefined
      }
    ) => {
      let held = lease
      const keep = (l: typeof lease) => {
        held = l
        pass.held.set(streamKeyToString(stream.key), l)
      }
      keep(lease)
      // Only the stream's own work is interruptible: the bookkeeping after it must always happen.
      return Effect.uninterruptibleMask((restore) =>
        Effect.gen(function* () {
          const startedAt = yield* Clock.currentTimeMillis
          const base: RunRecord = {
            runId,
            key: stream.key,
            trigger,
            startedAt,
            status: "running",
            rows: 0,
            reconciliation: "not-checked"
          }
          yield* ledger.record(base)
          yield* metrics.set("kura_sync_runs_in_flight", "Runs in progress.", {}, fibers.size)
          // Renews the lease while the work runs; fails (stopping the work) only if it was lost.
          const heartbeat = Effect.gen(function* () {
            while (true) {
              yield* Effect.sleep(Math.max(1, Math.floor(leaseTtlMs / 3)))
              const renewed = yield* leases
                .renew(held, leaseTtlMs)
                .pipe(
                  Effect.catch((e) =>
                    Effect.logWarning(`lease renewal failed, retrying: ${e.message}`).pipe(
                      Effect.as(Option.some(held))
                    )
                  )
                )
              if (Option.isNone(renewed)) {
                return yield* Effect.fail(
                  new Error(
                    `lease on ${streamKeyToString(stream.key)} was lost; stopped before writing twice`
                  )
                )
              }
              keep(renewed.value)
            }
          })
          let failedUsage: ApiUsage | undefined
          // Where the run resumed from: the ledger entry of a stream that keeps none itself needs it.
          let resumedFrom: string | null | undefined
          const exit = yield* Effect.exit(
            restore(
              Effect.gen(function* () {
                const checkpoint =
                  pass.checkpoint === undefined ? yield* checkpoints.get(stream.key) : pass.checkpoint
                resumedFrom = Option.match(checkpoint, { onNone: () => null, onSome: (c) => c.cursor })
                return yield* stream.run({
                  runId,
                  checkpoint,
                  draining: Ref.get(draining),
                  reportApiUsage: (usage) => {
                    failedUsage = usage
                  },
                  ...(pass.opened === undefined ? {} : { opened: pass.opened }),
                  ...(pass.deferred === undefined
                    ? {}
                    : { deferCommit: (c: CommitRunInput) => void pass.deferred?.push(c) }),
                  commit: (cursor, meta) =>
                    Effect.flatMap(Clock.currentTimeMillis, (updatedAt) =>
                      checkpoints.put({
                        key: stream.key,
                        cursor,
                        updatedAt,
                        ...(meta === undefined ? {} : { meta })
                      })
                    )
                })
              }).pipe(Effect.raceFirst(heartbeat))
            )
          )
          const finishedAt = yield* Clock.currentTimeMillis
          const resumed = resumedFrom === undefined ? {} : { cursorBefore: resumedFrom }
          const record: RunRecord = Exit.isSuccess(exit)
            ? {
                ...base,
                ...resumed,
                finishedAt,
                status: "succeeded",
                rows: exit.value.rows,
                reconciliation: exit.value.reconciliation,
                ...(exit.value.stoppedEarly === true ? { stoppedEarly: true } : {}),
                ...(exit.value.ledgerCommitted === true ? { ledgerCommitted: true } : {}),
                ...(exit.value.api === undefined ? {} : { api: exit.value.api })
              }
            : Cause.hasInterruptsOnly(exit.cause)
              ? {
                  ...base,
                  ...resumed,
                  finishedAt,
                  status: "interrupted",
                  error: "interrupted during shutdown"
                }
              : {
                  ...base,
                  ...resumed,
                  finishedAt,
                  status: "failed",
                  error: errorText(exit.cause),
                  ...(failedUsage === undefined ? {} : { api: failedUsage })
                }
          pass.finished.push(record)
          // This fiber still counts until its observer fires, hence the - 1.
          yield* metrics.set(
            "kura_sync_runs_in_flight",
            "Runs in progress.",
            {},
            Math.max(0, fibers.size - 1)
          )
          yield* metrics.increment("kura_sync_runs_total", "Finished runs by status.", {
            ...labels(stream.key),
            status: record.status
          })
          yield* metrics.increment("kura_sync_rows_total", "Rows synced.", labels(stream.key), record.rows)
          yield* metrics.set(
            "kura_sync_run_duration_seconds",
            "Duration of the last run.",
            labels(stream.key),
            (finishedAt - startedAt) / 1000
          )
          if (record.status === "succeeded")
            yield* metrics.set(
              "kura_sync_last_success_timestamp_seconds",
              "When the stream last synced successfully.",
              labels(stream.key),
              finishedAt / 1000
            )
          const log =
            record.status === "succeeded"
              ? Effect.logInfo
              : record.status === "failed"
                ? Effect.logError
                : Effect.logWarning
          yield* log(`run ${record.status}`).pipe(
            Effect.annotateLogs({
              stream: streamKeyToString(stream.key),
              runId,
              rows: record.rows,
              ...(record.error === undefined ? {} : { error: record.error })
            })
          )
          return record
        })
      )
    }

    /**
     * Starts matching streams as one pass in the background: the same batched bookkeeping as
     * `runNow` (leases in one write, checkpoints in one read, ledger entries in one write, records
     * and releases together at the end) and the same order (catalogue streams first). Started one
     * by one, each stream took its lease, opened its entry and wrote its record in statements of
     * its own on the one warehouse connection, behind the loads of the streams already running: a
     * trigger's eight Shopify streams took 3.2–5.5 s just to be started on a loaded box.
     */
    const start = (selector: StreamSelector, trigger: RunTrigger) =>
      Effect.gen(function* () {
        const all = select(selector)
        if (all.length === 0) return []
        if (yield* Ref.get(draining)) return all.map((s): StartOutcome => ({ _tag: "Draining", key: s.key }))
        const { allowed: selected, refused, erasedBefore } = yield* gate(all)
        if (selected.length === 0) return refused
        const pass = yield* openPass(selected, trigger)
        const fiber = yield* Effect.forkDetach(runPass(pass, selected, erasedBefore))
        passes.add(fiber)
        fiber.addObserver(() => passes.delete(fiber))
        const started = selected.map(
          (s): StartOutcome =>
            pass.lease(s) === undefined
              ? { _tag: "Busy", key: s.key }
              : { _tag: "Started", key: s.key, runId: pass.runId(s) }
        )
        return [...started, ...refused]
      })

    const runNow = (selector: StreamSelector, trigger: RunTrigger) => {
      const all = select(selector)
      return Effect.map(
        Effect.gen(function* () {
          if (all.length === 0) return []
          const { allowed: selected, refused, erasedBefore } = yield* gate(all)
          if (selected.length === 0) return refused
          // One pass, one set of bookkeeping: every lease taken, checkpoint read and ledger entry
          // opened before the catalogue phase, and every record written and lease freed after the
          // last stream. Per phase, the second phase waited behind the first one's closing and its
          // own opening writes (~8 statements on the one warehouse connection).
          const results = yield* runPass(yield* openPass(selected, trigger), selected, erasedBefore)
          return [...results, ...refused]
        }),
        (results) => {
          const byStream = new Map(results.map((r) => [streamKeyToString(r.key), r]))
          return all.flatMap((s) => {
            const r = byStream.get(streamKeyToString(s.key))
            return r === undefined ? [] : [r]
          })
        }
      )
    }

    const accountId = (source: string, account: string) => JSON.stringify([source, account])
    const configuredAccounts = new Set(streams.map((s) => accountId(s.key.source, s.key.account)))

    /**
     * Splits `streams` into those a pass may run and those of erased accounts, refused with the
     * reason (logged once per account). `erasedBefore`: the accounts erased when the pass opened.
     */
    const gate = (streams: ReadonlyArray<SyncStream>) =>
      Effect.gen(function* () {
        const erasedBefore = new Set<string>()
        if (options.erasure === undefined)
          return { allowed: streams, refused: [] as ReadonlyArray<Refused>, erasedBefore }
        const read = yield* Effect.result(options.erasure.read)
        if (read._tag === "Failure") {
          const reason = `not run: the erasure ledger (_kura_redactions) could not be read, so no stream is synced until it can: ${read.failure.message}`
          yield* Effect.logError(reason)
          return {
            allowed: [] as ReadonlyArray<SyncStream>,
            refused: streams.map((s): Refused => ({ _tag: "Refused", key: s.key, reason })),
            erasedBefore
          }
        }
        const byAccount = new Map(read.success.map((e) => [accountId(e.source, e.account), e]))
        for (const id of byAccount.keys()) erasedBefore.add(id)
        const refused: Array<Refused> = []
        const logged = new Set<string>()
        for (const s of streams) {
          const id = accountId(s.key.source, s.key.account)
          const erased = byAccount.get(id)
          if (erased === undefined) continue
          refused.push({ _tag: "Refused", key: s.key, reason: erased.reason })
          if (!logged.has(id)) {
            logged.add(id)
            yield* Effect.logWarning(erased.reason).pipe(
              Effect.annotateLogs({ source: s.key.source, account: s.key.account })
            )
          }
        }
        if (refused.length > 0)
          yield* metrics.set(
            "kura_sync_erased_accounts_refused",
            "Configured accounts whose streams are refused because the account was erased (shop/redact).",
            {},
            logged.size
          )
        const out = new Set(refused.map((r) => streamKeyToString(r.key)))
        return { allowed: streams.filter((s) => !out.has(streamKeyToString(s.key))), refused, erasedBefore }
      })

    /**
     * After a pass closed: its accounts erased since it opened (a `shop/redact` carried out while
     * its runs fetched) are erased again, since those runs may have landed rows after the erasure.
     */
    const recheck = (selected: ReadonlyArray<SyncStream>, erasedBefore: ReadonlySet<string>) => {
      const erasure = options.erasure
      if (erasure === undefined) return Effect.void
      return Effect.gen(function* () {
        const now = yield* Effect.result(erasure.read)
        if (now._tag === "Failure")
          return yield* Effect.logError(
            `could not read the erasure ledger after a pass: ${now.failure.message}; run kura-sync redact list`
          )
        const ran = new Set(selected.map((s) => accountId(s.key.source, s.key.account)))
        const fresh = now.success.filter((e) => {
          const id = accountId(e.source, e.account)
          return ran.has(id) && !erasedBefore.has(id)
        })
        if (fresh.length > 0) yield* erasure.eraseAgain(fresh)
      })
    }

    /** Runs an open pass's streams, catalogue streams first, then closes it (`runNow`, `start`). */
    const runPass = (
      pass: Effect.Success<ReturnType<typeof openPass>>,
      selected: ReadonlyArray<SyncStream>,
      erasedBefore: ReadonlySet<string> = new Set()
    ) => {
      const catalogue = selected.filter((s) => s.catalogue === true)
      const others = selected.filter((s) => s.catalogue !== true)
      return Effect.gen(function* () {
        const first = yield* runStreams(pass, catalogue)
        // An account whose catalogue failed keeps its other streams for the next pass (their
        // cursors stay): rows mapped without their variants would never be repaired later.
        const broken = new Set(
          first.flatMap((r) => ("status" in r && r.status !== "succeeded" ? [r.key.account] : []))
        )
        const now = yield* Clock.currentTimeMillis
        const skipped = others
          .filter((s) => broken.has(s.key.account))
          .map((s): RunRecord | { readonly _tag: "Busy"; readonly key: StreamKey } => {
            const lease = pass.lease(s)
            if (lease === undefined) return { _tag: "Busy", key: s.key }
            // Its entry was opened with the pass: it is closed as failed, its lease freed.
            pass.held.set(streamKeyToString(s.key), lease)
            const record = notRun(
              pass.runId(s),
              s.key,
              pass.trigger,
              now,
              `a catalogue stream of ${s.key.account} failed in this pass`
            )
            pass.finished.push(record)
            return record
          })
        // The catalogue phase may have run long (a first sync's products): leases not yet
        // worked under are renewed before their streams start, so none runs on an expired one.
        const rest = others.filter((s) => !broken.has(s.key.account))
        if ((yield* Clock.currentTimeMillis) - pass.openedAt > leaseTtlMs / 3) yield* pass.renew(rest)
        const second = yield* runStreams(pass, rest)
        return [...first, ...second, ...skipped]
      }).pipe(
        Effect.ensuring(pass.close),
        Effect.ensuring(recheck(selected, erasedBefore)),
        // The results the caller sees carry what the pass's close decided (a failed commit).
        Effect.map((results) =>
          results.map((r) => ("runId" in r ? (pass.finished.find((f) => f.runId === r.runId) ?? r) : r))
        ),
        Effect.tap(() => afterRun)
      )
    }

    type HeldLease = Parameters<typeof leases.release>[0]

    /**
     * Opens a pass over `streams`. Its bookkeeping is batched: the leases are taken in one write,
     * the checkpoints read in one query and the ledger entries opened in one write; `close` writes
     * the runs' records (their costs) and releases the leases together. A pass of 19 streams made
     * ~10 single-row statements per stream on the one warehouse connection, which every stream
     * waited behind: it was most of an incremental run's time (measured: 160 of 455 statements,
     * ~1 s of a 3.5 s unchanged pass).
     */
    const openPass = (streams: ReadonlyArray<SyncStream>, trigger: RunTrigger) =>
      Effect.gen(function* () {
        const openedAt = yield* Clock.currentTimeMillis
        const granted = yield* leases
          .acquireMany(
            streams.map((s) => ({ key: s.key, holder: localHolder() })),
            leaseTtlMs
          )
          .pipe(
            Effect.catch((e) =>
              Effect.logError(`lease store failed: ${e.message}`).pipe(
                Effect.as(streams.map(() => Option.none<HeldLease>()))
              )
            )
          )
        const index = new Map(streams.map((s, i) => [streamKeyToString(s.key), i]))
        const leaseOf = new Map<string, HeldLease>()
        for (const [i, s] of streams.entries()) {
          const lease = granted[i] ?? Option.none()
          if (Option.isSome(lease)) leaseOf.set(streamKeyToString(s.key), lease.value)
        }
        const runIds = streams.map(() => newRunId(openedAt))
        const mine = streams.flatMap((s, i) =>
          leaseOf.has(streamKeyToString(s.key)) ? [{ runId: runIds[i]!, key: s.key }] : []
        )
        const opened = mine.length === 0 ? undefined : yield* ledger.openRuns(mine)
        const held = new Map<string, HeldLease>()
        const finished: Array<RunRecord> = []
        const deferred = ledger.commitDeferred === undefined ? undefined : ([] as Array<CommitRunInput>)
        // Commits handed over first (a run whose commit fails is recorded as failed), then every
        // record and cost, then the leases. Each run has ended by now, so its commit carries its
        // final cost: the ledger writes it with the entry instead of in a statement of its own.
        const close = Effect.gen(function* () {
          if (deferred !== undefined && deferred.length > 0 && ledger.commitDeferred !== undefined) {
            const costs = new Map(
              finished.flatMap((r) => (r.api === undefined ? [] : [[r.runId, r.api] as const]))
            )
            const failures = yield* ledger.commitDeferred(
              deferred.map((c) => {
                const api = costs.get(c.runId)
                return api === undefined ? c : { ...c, apiUsage: api }
              })
            )
            for (const [i, r] of finished.entries()) {
              const why = failures.get(r.runId)
              if (why === undefined) continue
              yield* Effect.logError(`run failed at its commit: ${why}`).pipe(
                Effect.annotateLogs({ stream: streamKeyToString(r.key), runId: r.runId })
              )
              const { ledgerCommitted: _, ...rest } = r
              finished[i] = { ...rest, status: "failed", error: why }
            }
          }
          yield* ledger.recordAll(finished)
          yield* Effect.ignore(leases.releaseMany([...held.values()]))
        })
        const runId = (s: SyncStream) =>
          runIds[index.get(streamKeyToString(s.key)) ?? -1] ?? newRunId(openedAt)
        const lease = (s: SyncStream) => leaseOf.get(streamKeyToString(s.key))
        /** Renews the leases of `later` (not yet run); one lost is dropped (its stream is then busy). */
        const renew = (later: ReadonlyArray<SyncStream>) =>
          Effect.forEach(
            later,
            (s) => {
              const id = streamKeyToString(s.key)
              const current = leaseOf.get(id)
              if (current === undefined) return Effect.void
              return leases.renew(current, leaseTtlMs).pipe(
                Effect.flatMap((renewed) =>
                  Effect.gen(function* () {
                    if (Option.isSome(renewed)) {
                      leaseOf.set(id, renewed.value)
                      return
                    }
                    // Another runner has it now: this one's opened entry is closed, not left running.
                    leaseOf.delete(id)
                    const now = yield* Clock.currentTimeMillis
                    finished.push(
                      notRun(
                        runId(s),
                        s.key,
                        trigger,
                        now,
                        "its lease expired while the catalogue streams ran"
                      )
                    )
                  })
                ),
                Effect.catch((e) => Effect.logWarning(`lease renewal failed before ${id} ran: ${e.message}`))
              )
            },
            { discard: true }
          )
        return { trigger, openedAt, opened, held, finished, deferred, close, runId, lease, renew }
      })

    /** Runs `streams` of an open pass to completion (`concurrency` at once). */
    const runStreams = (
      pass: Effect.Success<ReturnType<typeof openPass>>,
      streams: ReadonlyArray<SyncStream>
    ) =>
      Effect.forEach(
        streams,
        (stream) =>
          Effect.gen(function* () {
            const lease = pass.lease(stream)
            if (lease === undefined) return { _tag: "Busy", key: stream.key } as const
            const runId = pass.runId(stream)
            const open = pass.opened?.get(runId)
            const fiber = yield* Effect.forkDetach(
              execute(stream, runId, pass.trigger, lease, {
                checkpoint: open?.checkpoint,
                opened: open?.opened,
                held: pass.held,
                finished: pass.finished,
                deferred: pass.deferred
              })
            )
            fibers.add(fiber)
            fiber.addObserver(() => fibers.delete(fiber))
            // Interrupted (a drain past its timeout, Ctrl-C), the pass stops its run and waits for
            // its bookkeeping, so the run's record is in `finished` before the pass closes.
            return yield* Fiber.join(fiber).pipe(Effect.onInterrupt(() => Fiber.interrupt(fiber)))
          }),
        { concurrency: options.concurrency ?? 16 }
      )

    const drain = (timeoutMs: number) =>
      Effect.gen(function* () {
        yield* Ref.set(draining, true)
        const pending = [...fibers]
        const open = [...passes]
        if (pending.length === 0 && open.length === 0) return { completed: 0, interrupted: 0 }
        yield* Effect.logInfo(`draining ${pending.length} run(s), up to ${timeoutMs} ms`)
        // A background pass is awaited too: it writes its runs' records and frees their leases
        // after its last run ends.
        const done = yield* Effect.timeoutOption(Fiber.awaitAll([...pending, ...open]), timeoutMs)
        if (Option.isSome(done)) return { completed: pending.length, interrupted: 0 }
        const left = [...fibers]
        // The passes first: each stops its runs and waits for their bookkeeping, then closes.
        yield* Fiber.interruptAll([...passes, ...left])
        return { completed: pending.length - left.length, interrupted: left.length }
      })

    return StreamRunner.of({
      streams,
      select,
      start,
      runNow,
      inFlight: Effect.sync(() => fibers.size),
      erasedAccounts:
        options.erasure === undefined
          ? Effect.succeed([])
          : Effect.map(options.erasure.read, (erased) =>
              erased.filter((e) => configuredAccounts.has(accountId(e.source, e.account)))
            ),
      draining: Ref.get(draining),
      drain
    })
  })

  /** The runner over `streams`, with its drain bound to the layer's scope (SIGTERM closes it). */
  static readonly layer = (
    streams: ReadonlyArray<SyncStream>,
    drainTimeoutMs: number,
    options?: StreamRunnerOptions
  ) =>
    Layer.effect(
      StreamRunner,
      Effect.acquireRelease(StreamRunner.make(streams, options), (runner) =>
        Effect.flatMap(runner.drain(drainTimeoutMs), (r) =>
          r.completed + r.interrupted === 0
            ? Effect.void
            : Effect.logInfo(`drained: ${r.completed} completed, ${r.interrupted} interrupted`)
        )
      )
    )
}

/** The ledger record of a stream whose opened entry is closed without running, and why. */
const notRun = (runId: string, key: StreamKey, trigger: RunTrigger, now: number, why: string): RunRecord => ({
  runId,
  key,
  trigger,
  startedAt: now,
  finishedAt: now,
  status: "failed",
  rows: 0,
  reconciliation: "not-checked",
  error: `not run: ${why}`
})

const errorText = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  if (
    typeof error === "object" &&
    error !== null &&
    "message" in error &&
    typeof error.message === "string"
  ) {
    const tag = "_tag" in error && typeof error._tag === "string" ? `${error._tag}: ` : ""
    return `${tag}${error.message}`
  }
  return String(error)
}
