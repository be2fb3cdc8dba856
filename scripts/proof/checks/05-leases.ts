/**
 * Check 5, leases: two runners on the same streams never write twice.
 *
 * A. Two real `kura-sync run --force` processes (built dist, KURA_SANDBOX=1, same seed and anchor)
 *    started at once on the same warehouse file, lake and state dir (quick: 1 round, full: 4,
 *    the second process 0–300 ms after the first). Across both processes' output and the shared
 *    `_kura_sync_runs` ledger, every stream must have loaded exactly the rows one solo run loads,
 *    with one succeeded run per stream, zero duplicate keys and tables equal to the solo run's;
 *    the process that did not run must say why (a held lease: "busy"; or the embedded DuckDB's
 *    file lock, which lets one process open the file) and must not have written anything.
 *    On DuckDB the file lock decides before the leases do; the leases between processes on one
 *    shared warehouse are BigQuery's case, which no local check exercises.
 * C. One real `kura-sync serve` (same sandbox data) gets two authorised `POST /sync/<source>`
 *    triggers for each source at once: every stream must run once (the other trigger answered
 *    "busy"/409), with one run per stream in `_kura_sync_runs` and one solo run's rows per stream.
 *    This check found (2026-11-27) both triggers running every stream: the lease holder was the
 *    process (`host-pid`) and the warehouse lets a holder re-take its own lease. Fixed in
 *    d3b778c (one holder name per acquisition); asserted in quick and full runs.
 * B. Six runners (fibers sharing one DuckDB file) race on one stream through `_kura_leases` with a
 *    300 ms TTL and never write a page twice or overlap. Each loops: take the lease, read the
 *    checkpoint, stall past the TTL on every seventh page (so another runner takes over), renew (a runner
 *    that lost its lease must not write), write the page, commit the checkpoint, release.
 */
import { randomUUID } from "node:crypto"
import path from "node:path"
import { DuckDbWarehouse, Warehouse } from "@kura/warehouse"
import { Effect, Option } from "effect"
import {
  quick,
  registerSecrets,
  runCheck,
  SYNC_RUNNER,
  servePort,
  spawnCaptured,
  waitFor,
  workDir
} from "../lib.ts"
import {
  compareTables,
  kuraSyncRun,
  readTables,
  SANDBOX_HOOK,
  type StreamLine,
  type SyncOptions,
  streamLines,
  syncEnv
} from "../syncRun.ts"

const CHECK = "leases"
/** Part C is asserted in quick runs (CI) too, since the trigger-race fix (see above). */
const ASSERT_TRIGGERS_IN_QUICK = true

/** Per stream: succeeded runs and rows loaded, from the warehouse's `_kura_sync_runs`. */
const ledger = (file: string) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const wh = yield* Warehouse
      return yield* wh.query(
        "SELECT source || '/' || source_account || '/' || stream AS stream, status, count(*) AS runs, sum(rows_loaded) AS rows FROM _kura_sync_runs GROUP BY ALL ORDER BY 1, 2"
      )
    }).pipe(Effect.provide(DuckDbWarehouse.layer({ path: file, migrate: false })))
  )

const rowsPerStream = (lines: ReadonlyArray<StreamLine>) => {
  const out: Record<string, number> = {}
  for (const l of lines) if (l.status === "succeeded") out[l.stream] = (out[l.stream] ?? 0) + l.rows
  return out
}

/** Part A: two `kura-sync run` processes at once on one warehouse, against a solo run. */
const twoProcesses = async () => {
  const base = workDir(`${CHECK}-processes`)
  const options: SyncOptions = { scale: quick ? 100 : 300, historyDays: quick ? 3 : 10, secretsOf: CHECK }
  const soloDir = path.join(base, "solo")
  const solo = kuraSyncRun("kura-sync-solo", soloDir, options)
  const soloExit = await solo.exited
  const soloLines = streamLines(solo.output())
  if (soloExit.code !== 0 || soloLines.length === 0)
    throw new Error(`the solo run failed (exit ${soloExit.code}):\n${solo.output().slice(-3000)}`)
  const soloRows = rowsPerStream(soloLines)
  const soloTables = await readTables(path.join(soloDir, "kura.duckdb"))
  const rounds: Array<Record<string, unknown>> = []
  let ok = true
  for (let round = 0; round < (quick ? 1 : 4); round++) {
    const dir = path.join(base, `round-${round}`)
    const delay = Math.floor(Math.random() * 300)
    const first = kuraSyncRun(`kura-sync-twin-${round}-a`, dir, options)
    await new Promise((r) => setTimeout(r, delay))
    const second = kuraSyncRun(`kura-sync-twin-${round}-b`, dir, options)
    const exits = await Promise.all([first.exited, second.exited])
    const outputs = [first.output(), second.output()]
    const lines = outputs.map(streamLines)
    const combined = rowsPerStream(lines.flat())
    const streams = [...new Set([...Object.keys(soloRows), ...Object.keys(combined)])]
    const rowDiff = streams.filter((s) => (combined[s] ?? 0) !== (soloRows[s] ?? 0))
    const ran = lines.map((l) => l.some((x) => x.status === "succeeded"))
    const busy = lines.flat().filter((l) => l.status === "busy").length
    // The process that ran nothing: why (lease held, or the DuckDB file lock), and did it exit cleanly?
    const idle = [0, 1].filter((i) => !ran[i])
    const reasons = idle.map((i) =>
      /Could not set lock on file|Conflicting lock/.test(outputs[i] ?? "")
        ? "DuckDB file lock"
        : /busy/.test(outputs[i] ?? "")
          ? "lease busy"
          : `unexplained (exit ${exits[i]?.code})`
    )
    const db = path.join(dir, "kura.duckdb")
    const runs = await ledger(db)
    const succeededRuns = runs.filter((r) => r.status === "succeeded" || r.status === "complete")
    const twiceInLedger = succeededRuns.filter((r) => Number(r.runs) > 1).map((r) => String(r.stream))
    const ledgerRows: Record<string, number> = {}
    for (const r of succeededRuns) ledgerRows[String(r.stream)] = Number(r.rows)
    const ledgerDiff = Object.keys(soloRows).filter((s) => (ledgerRows[s] ?? 0) !== soloRows[s])
    const { differing, duplicateKeys } = compareTables(soloTables, await readTables(db))
    const roundOk =
      rowDiff.length === 0 &&
      ledgerDiff.length === 0 &&
      twiceInLedger.length === 0 &&
      differing.length === 0 &&
      duplicateKeys === 0 &&
      ran.some(Boolean) &&
      reasons.every((r) => !r.startsWith("unexplained"))
    ok &&= roundOk
    rounds.push({
      round,
      delayMs: delay,
      exits: exits.map((e) => e.code ?? e.signal),
      processesThatRan: ran.filter(Boolean).length,
      idleBecause: reasons,
      busyStreams: busy,
      rowsPerStreamDiffering: rowDiff,
      ledgerDiffering: ledgerDiff,
      streamsRunTwiceInLedger: twiceInLedger,
      tablesDiffering: differing,
      duplicateKeys
    })
  }
  const soloTotal = Object.values(soloRows).reduce((a, b) => a + b, 0)
  const reasons = [...new Set(rounds.flatMap((r) => r.idleBecause as Array<string>))]
  const figure =
    `${rounds.length} rounds of two kura-sync run processes at once on one warehouse: ` +
    `${rounds.filter((r) => (r.rowsPerStreamDiffering as Array<string>).length === 0).length}/${rounds.length} wrote exactly one run's rows per stream (${soloTotal} rows, ${Object.keys(soloRows).length} streams), ` +
    `${rounds.reduce((n, r) => n + (r.duplicateKeys as number), 0)} duplicate keys, ` +
    `${rounds.filter((r) => (r.tablesDiffering as Array<string>).length === 0).length}/${rounds.length} tables equal the solo run; ` +
    `the other process stopped by: ${reasons.join(", ") || "nothing (both ran)"}`
  return { ok, figure, rounds, soloRows, options }
}

/** Part C: two HTTP triggers per source at once on one `kura-sync serve`. */
const twoTriggers = async (options: SyncOptions, soloRows: Record<string, number>) => {
  const dir = workDir(`${CHECK}-triggers`)
  const secret = `trigger-${randomUUID()}`
  registerSecrets(CHECK, [secret])
  const serve = spawnCaptured(
    "kura-sync-serve-triggers",
    ["--import", SANDBOX_HOOK, SYNC_RUNNER, "serve", "--scheduler", "off"],
    { cwd: dir, env: { ...syncEnv(dir, options), PORT: "0", KURA_TRIGGER_SECRET: secret } }
  )
  let answers: Array<{ source: string; status: number; runs: Array<{ stream: string; outcome: string }> }> =
    []
  try {
    const url = `http://127.0.0.1:${await servePort(serve, "kura-sync serve")}`
    const trigger = async (source: string) => {
      const res = await fetch(`${url}/sync/${source}`, {
        method: "POST",
        headers: { authorization: `Bearer ${secret}` }
      })
      const body = (await res.json()) as { runs?: Array<{ stream: string; outcome: string }> }
      return { source, status: res.status, runs: body.runs ?? [] }
    }
    answers = await Promise.all(["shopify", "lightspeed", "stocky"].flatMap((s) => [trigger(s), trigger(s)]))
    // Wait for every started run to finish.
    await waitFor(
      async () => {
        const status = (await (await fetch(`${url}/status.json`)).json()) as {
          streams?: Array<{ lastStatus?: string }>
        }
        return (status.streams ?? []).every((st) => st.lastStatus !== "running")
      },
      quick ? 150_000 : 600_000,
      "the triggered runs to finish"
    )
  } finally {
    serve.child.kill("SIGTERM")
    const timer = setTimeout(() => serve.child.kill("SIGKILL"), 15_000)
    await serve.exited
    clearTimeout(timer)
  }
  const runs = await ledger(path.join(dir, "kura.duckdb"))
  const runsPerStream: Record<string, number> = {}
  const rows: Record<string, number> = {}
  for (const r of runs) {
    const k = String(r.stream)
    runsPerStream[k] = (runsPerStream[k] ?? 0) + Number(r.runs)
    rows[k] = (rows[k] ?? 0) + Number(r.rows)
  }
  const streams = Object.keys(soloRows)
  const twice = streams.filter((k) => (runsPerStream[k] ?? 0) > 1)
  const rowsDiffer = streams.filter((k) => (rows[k] ?? 0) !== soloRows[k])
  const ok = twice.length === 0 && rowsDiffer.length === 0 && streams.every((k) => runsPerStream[k] === 1)
  const outcomes = answers.flatMap((a) => a.runs.map((r) => r.outcome))
  const started = outcomes.filter((o) => o === "Started").length
  const written = Object.values(rows).reduce((a, b) => a + b, 0)
  const once = Object.values(soloRows).reduce((a, b) => a + b, 0)
  const figure =
    `kura-sync serve, 2 triggers per source at once: ${streams.length - twice.length}/${streams.length} streams ran once, ` +
    `${twice.length} ran twice concurrently (HTTP: ${started} runs started, ${outcomes.length - started} refused as busy; statuses ${answers.map((a) => a.status).join("/")}); ${written} rows written vs ${once} for one run` +
    (ok ? "" : " (KNOWN DEFECT: runs in one process share the lease holder)")
  return { ok, figure, twice, rowsDiffer, runsPerStream, answers }
}

await runCheck(CHECK, async () => {
  const processes = await twoProcesses()
  const triggers = await twoTriggers(processes.options, processes.soloRows)
  const triggersAsserted = !quick || ASSERT_TRIGGERS_IN_QUICK
  const RUNNERS = 6
  const PAGES = quick ? 40 : 150
  const TTL = 300
  const key = { source: "proof", account: "race", stream: "pages" }
  const writes: Array<{ page: number; holder: string }> = []
  let inFlight = 0
  let maxInFlight = 0
  let held = 0
  let lost = 0
  let stalls = 0
  const stalled = new Set<number>()
  const defects: Array<string> = []
  const layer = DuckDbWarehouse.layer({ path: path.join(workDir(CHECK), "leases.duckdb") })

  const runner = (holder: string) =>
    Effect.gen(function* () {
      const wh = yield* Warehouse
      while (true) {
        const lease = yield* wh.acquireLease(key, holder, TTL).pipe(
          Effect.map(Option.some),
          Effect.catchTag("LeaseError", () =>
            Effect.sync(() => {
              held++
              return Option.none()
            })
          ),
          // A defect here is a warehouse bug (reported in the figure): treat it as "not acquired".
          Effect.catchDefect((d) =>
            Effect.sync(() => {
              defects.push(String(d))
              return Option.none()
            })
          )
        )
        if (Option.isNone(lease)) {
          yield* Effect.sleep(5 + Math.floor(Math.random() * 20))
          continue
        }
        const cp = yield* wh.checkpoints.get(key)
        const page = Option.isSome(cp) ? Number(cp.value.cursor) : 0
        if (page >= PAGES) {
          yield* wh.releaseLease(lease.value)
          return
        }
        // Every seventh page stalls past the TTL on its first attempt, so each run exercises a
        // takeover (a random choice left some runs with no stall at all, and so no proof).
        if (page % 7 === 3 && !stalled.has(page)) {
          stalled.add(page)
          stalls++
          yield* Effect.sleep(TTL + 150)
        }
        const renewed = yield* wh.renewLease(lease.value, TTL).pipe(
          Effect.map(Option.some),
          Effect.catchTag("LeaseError", () =>
            Effect.sync(() => {
              lost++
              return Option.none()
            })
          )
        )
        if (Option.isNone(renewed)) continue
        inFlight++
        maxInFlight = Math.max(maxInFlight, inFlight)
        writes.push({ page, holder })
        yield* Effect.sleep(2 + Math.floor(Math.random() * 8))
        inFlight--
        yield* wh.checkpoints.put({ key, cursor: String(page + 1), updatedAt: Date.now() })
        yield* wh.releaseLease(renewed.value)
      }
    })

  await Effect.runPromise(
    Effect.all(
      Array.from({ length: RUNNERS }, (_, i) => runner(`runner-${i}`)),
      { concurrency: "unbounded" }
    ).pipe(Effect.provide(layer))
  )
  const perPage = new Map<number, number>()
  for (const w of writes) perPage.set(w.page, (perPage.get(w.page) ?? 0) + 1)
  const twice = [...perPage].filter(([, n]) => n > 1).map(([p]) => p)
  const missing = Array.from({ length: PAGES }, (_, i) => i).filter((p) => !perPage.has(p))
  const holders = new Set(writes.map((w) => w.holder)).size
  return {
    check: CHECK,
    pass:
      processes.ok &&
      (triggers.ok || !triggersAsserted) &&
      twice.length === 0 &&
      missing.length === 0 &&
      maxInFlight === 1 &&
      writes.length === PAGES &&
      stalls > 0 &&
      lost > 0 &&
      defects.length === 0,
    figure: `${processes.figure}; ${triggers.figure}${triggers.ok || triggersAsserted ? "" : " [not asserted in quick runs]"}; racing fibers: ${writes.length} writes for ${PAGES} pages by ${holders}/${RUNNERS} runners: ${twice.length} written twice, ${missing.length} missing, max ${maxInFlight} writer at once (${held} refused acquisitions, ${stalls} stalls past TTL, ${lost} lost leases kept from writing)${defects.length > 0 ? `; acquireLease died ${defects.length}× with a defect (${defects[0]})` : ""}`,
    details: {
      processes: processes.rounds,
      triggers,
      twice,
      missing,
      held,
      lost,
      stalls,
      defects: defects.slice(0, 5)
    }
  }
})
