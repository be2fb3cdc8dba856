/**
 * Check 1b, fault equivalence on canonical tables: the real `kura-sync run --force` (built dist,
 * KURA_SANDBOX=1, fixed seed and anchor) syncs every stream of the three sources twice, once from
 * a fault-free sandbox and once under the `chaos` fault profile (5xx, resets, slow and corrupted
 * answers, throttles, failed bulk jobs ...). Every canonical table must match (count +
 * order-independent content hash, per-run lineage columns excluded), with zero duplicate keys and
 * every stream succeeded; the sandbox's own count of the faults it injected is reported per kind.
 */
import path from "node:path"
import { faultSummary, quick, runCheck, workDir } from "../lib.ts"
import {
  compareTables,
  kuraSyncRun,
  readSandboxReport,
  readTables,
  type SyncOptions,
  streamLines
} from "../syncRun.ts"

const CHECK = "fault-equivalence-tables"

await runCheck(CHECK, async () => {
  const base = workDir(CHECK)
  const seconds: Record<string, number> = {}
  const sync = async (faults: "none" | "chaos") => {
    const dir = path.join(base, faults)
    const report = path.join(base, `${faults}-sandbox.json`)
    const options: SyncOptions = {
      scale: quick ? 100 : 600,
      historyDays: quick ? 3 : 30,
      // Full runs also cover Stocky (data only before its 2026-09-01 shutdown).
      ...(quick ? {} : { anchor: "2026-08-25" }),
      faults,
      report,
      secretsOf: CHECK
    }
    const started = Date.now()
    const run = kuraSyncRun(`kura-sync-${faults}`, dir, options)
    const exit = await run.exited
    seconds[faults] = (Date.now() - started) / 1000
    const lines = streamLines(run.output())
    // Under chaos a failed stream is a finding to report (below), not a crash of the check.
    if ((faults === "none" && exit.code !== 0) || lines.length === 0)
      throw new Error(
        `the ${faults} run failed (exit ${exit.code ?? exit.signal}):\n${run.output().slice(-3000)}`
      )
    return {
      tables: await readTables(path.join(dir, "kura.duckdb")),
      lines,
      sandbox: readSandboxReport(report)
    }
  }
  const clean = await sync("none")
  const chaos = await sync("chaos")
  const { tables, populated, differing, rows, duplicateKeys } = compareTables(clean.tables, chaos.tables)
  const injected = Object.values(chaos.sandbox.faults).reduce(
    (n, kinds) => n + Object.values(kinds).reduce((m, k) => m + k, 0),
    0
  )
  const notSucceeded = chaos.lines.filter((l) => l.status !== "succeeded").map((l) => l.stream)
  return {
    check: CHECK,
    pass:
      differing.length === 0 &&
      duplicateKeys === 0 &&
      populated.length > 0 &&
      injected > 0 &&
      notSucceeded.length === 0,
    figure:
      `kura-sync run: ${tables.length - differing.length}/${tables.length} canonical tables identical under chaos ` +
      `(${rows} rows in ${populated.length} populated), ${duplicateKeys} duplicate keys, ${chaos.lines.length - notSucceeded.length}/${chaos.lines.length} streams succeeded; ` +
      `${injected} faults injected (${faultSummary(chaos.sandbox.faults)}); ` +
      `${seconds.none?.toFixed(1)} s fault-free vs ${seconds.chaos?.toFixed(1)} s under chaos` +
      (notSucceeded.length === 0 ? "" : `; failed under chaos: ${notSucceeded.join(", ")}`),
    details: {
      seconds,
      faults: chaos.sandbox.faults,
      notSucceeded: chaos.lines
        .filter((l) => l.status !== "succeeded")
        .map((l) => `${l.stream}: ${l.error ?? l.status}`),
      streams: chaos.lines,
      differing: differing.map((t) => ({ table: t, clean: clean.tables[t], chaos: chaos.tables[t] }))
    }
  }
})
