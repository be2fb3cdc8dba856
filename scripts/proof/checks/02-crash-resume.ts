/**
 * Check 2, crash and resume: the real `kura-sync run --force` (built dist, KURA_SANDBOX=1 with a
 * fixed seed and anchor so every restart's sandbox serves the same data) is killed with SIGKILL at
 * 10 random points (quick: 3), each followed by a restart on the same warehouse, lake and state
 * dir, until a restart completes the full sync (then a fresh warehouse starts the next one). Each
 * such sync's canonical tables must equal an uninterrupted run's (count + order-independent
 * content hash per table, volatile columns excluded: see syncRun.ts), with zero duplicate keys, and no restart may find a stream "busy" (a dead run's lease
 * must not block the next one).
 */
import path from "node:path"
import { quick, runCheck, workDir } from "../lib.ts"
import { compareTables, kuraSyncRun, readTables, type SyncOptions } from "../syncRun.ts"

const CHECK = "crash-resume"
const KILLS = quick ? 3 : 10

await runCheck(CHECK, async () => {
  const base = workDir(CHECK)
  const options: SyncOptions = {
    scale: quick ? 150 : 600,
    historyDays: quick ? 5 : 30,
    // Full runs also cover Stocky (data only before its 2026-09-01 shutdown).
    ...(quick ? {} : { anchor: "2026-08-25" }),
    secretsOf: CHECK
  }
  // Time from the sandbox being up (the sync proper starts) to the exit.
  const timed = async (label: string, dir: string, killAfterMs?: number) => {
    const run = kuraSyncRun(label, dir, options)
    let syncStart = 0
    let timer: NodeJS.Timeout | undefined
    const poll = setInterval(() => {
      if (syncStart === 0 && run.output().includes("sandbox started")) {
        syncStart = Date.now()
        clearInterval(poll)
        if (killAfterMs !== undefined) timer = setTimeout(() => run.child.kill("SIGKILL"), killAfterMs)
      }
    }, 5)
    const exit = await run.exited
    clearInterval(poll)
    if (timer !== undefined) clearTimeout(timer)
    return { exit, output: run.output(), syncMs: syncStart === 0 ? 0 : Date.now() - syncStart }
  }

  const cleanDir = path.join(base, "clean")
  const clean = await timed("kura-sync-clean", cleanDir)
  if (clean.exit.code !== 0)
    throw new Error(`the uninterrupted run failed (exit ${clean.exit.code}):\n${clean.output.slice(-3000)}`)

  // Each chain is one full sync on a fresh warehouse, SIGKILLed at random points and restarted
  // until a restart completes; then its tables are compared and the next chain starts. So every
  // kill lands in an unfinished full sync, never in a run with nothing left to do.
  const kills: Array<{ chain: number; afterMs: number; killed: boolean; busy: number }> = []
  const chains: Array<{
    chain: number
    runs: number
    differing: Array<string>
    duplicateKeys: number
    exit: number | null
  }> = []
  const a = await readTables(path.join(cleanDir, "kura.duckdb"))
  // A restart that fails (exit ≠ 0) is restarted again, as an operator or scheduler would.
  const failedRestarts: Array<{ chain: number; run: number; exit: number | null; tail: string }> = []
  let landed = 0
  let busy = 0
  let chain = 0
  let runs = 0
  const finishChain = async (exit: number | null) => {
    const b = await readTables(path.join(base, `crash-${chain}`, "kura.duckdb"))
    const cmp = compareTables(a, b)
    chains.push({ chain, runs, differing: cmp.differing, duplicateKeys: cmp.duplicateKeys, exit })
    chain++
    runs = 0
  }
  for (let attempt = 0; landed < KILLS && attempt < KILLS * 4; attempt++) {
    // Anywhere in the sync: mid-request, mid-load, between a load and its checkpoint commit.
    const afterMs = Math.floor(Math.random() * 0.9 * clean.syncMs)
    const r = await timed(`kura-sync-crash-${chain}-${runs}`, path.join(base, `crash-${chain}`), afterMs)
    runs++
    const killed = r.exit.signal === "SIGKILL"
    const busyNow = (r.output.match(/: busy \(another run holds the lease\)/g) ?? []).length
    busy += busyNow
    kills.push({ chain, afterMs, killed, busy: busyNow })
    if (killed) landed++
    else if (r.exit.code === 0) await finishChain(0)
    else failedRestarts.push({ chain, run: runs, exit: r.exit.code, tail: r.output.slice(-400) })
  }
  if (runs > 0) {
    const final = await timed(`kura-sync-final-${chain}`, path.join(base, `crash-${chain}`))
    busy += (final.output.match(/: busy \(another run holds the lease\)/g) ?? []).length
    runs++
    await finishChain(final.exit.code)
  }
  const bad = chains.filter((c) => c.differing.length > 0 || c.duplicateKeys > 0 || c.exit !== 0)
  const duplicateKeys = chains.reduce((n, c) => n + c.duplicateKeys, 0)
  const { tables, populated, rows } = compareTables(a, a)
  const pass = bad.length === 0 && busy === 0 && landed === KILLS && populated.length > 0
  return {
    check: CHECK,
    pass,
    figure:
      `${landed}/${KILLS} SIGKILLs of kura-sync run in ${chains.length} full syncs, each restarted to the end: ` +
      `${chains.length - bad.length}/${chains.length} ended with all ${tables.length} tables identical to an uninterrupted run ` +
      `(${rows} rows in ${populated.length} populated), ${duplicateKeys} duplicate keys, ${busy} streams found busy after a crash, ${failedRestarts.length} failed restarts` +
      (bad.length === 0
        ? ""
        : `; differing: ${bad.map((c) => `chain ${c.chain} [${c.differing.join(", ")}]${c.exit === 0 ? "" : ` exit ${c.exit}`}`).join("; ")}`),
    details: { options, cleanSyncMs: clean.syncMs, kills, chains, failedRestarts, clean: a }
  }
})
