/**
 * Check 2, crash and resume: the real `kura-sync run --force` (built dist, KURA_SANDBOX=1 with a
 * fixed seed and anchor so every restart's sandbox serves the same data) is killed with SIGKILL at
 * 10 random points (quick: 3), each followed by a restart on the same warehouse, lake and state
 * dir; a last restart runs to the end. Its canonical tables must equal an uninterrupted run's
 * (count + order-independent content hash per table, lineage columns `_synced_at`/`_batch_id`
 * excluded), with zero duplicate keys, and no restart may find a stream "busy" (a dead run's lease
 * must not block the next one).
 */
import path from "node:path"
import { quick, runCheck, workDir } from "../lib.ts"
import { compareTables, kuraSyncRun, readTables, type SyncOptions, streamLines } from "../syncRun.ts"

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

  const crashDir = path.join(base, "crash")
  const kills: Array<{ afterMs: number; killed: boolean; busy: number }> = []
  let expectMs = clean.syncMs
  let landed = 0
  let busy = 0
  for (let attempt = 0; landed < KILLS && attempt < KILLS * 3; attempt++) {
    // Anywhere in the sync: mid-request, mid-load, between a load and its checkpoint commit.
    const afterMs = Math.floor(Math.random() * 0.9 * expectMs)
    const r = await timed(`kura-sync-crash-${attempt}`, crashDir, afterMs)
    const killed = r.exit.signal === "SIGKILL"
    const busyNow = (r.output.match(/: busy \(another run holds the lease\)/g) ?? []).length
    busy += busyNow
    kills.push({ afterMs, killed, busy: busyNow })
    if (killed) landed++
    else expectMs = Math.max(200, r.syncMs)
  }
  const final = await timed("kura-sync-final", crashDir)
  busy += (final.output.match(/: busy \(another run holds the lease\)/g) ?? []).length
  const finalLines = streamLines(final.output)
  const a = await readTables(path.join(cleanDir, "kura.duckdb"))
  const b = await readTables(path.join(crashDir, "kura.duckdb"))
  const { tables, populated, differing, rows, duplicateKeys } = compareTables(a, b)
  const pass =
    final.exit.code === 0 &&
    differing.length === 0 &&
    duplicateKeys === 0 &&
    busy === 0 &&
    landed === KILLS &&
    populated.length > 0
  return {
    check: CHECK,
    pass,
    figure:
      `${landed}/${KILLS} SIGKILLs of kura-sync run + restarts: ${tables.length - differing.length}/${tables.length} tables identical ` +
      `(${rows} rows in ${populated.length} populated), ${duplicateKeys} duplicate keys, ${busy} streams found busy after a crash` +
      (final.exit.code === 0 ? "" : `, final run exit ${final.exit.code}`),
    details: {
      options,
      cleanSyncMs: clean.syncMs,
      kills,
      finalStreams: finalLines,
      differing: differing.map((t) => ({ table: t, clean: a[t], crashed: b[t] }))
    }
  }
})
