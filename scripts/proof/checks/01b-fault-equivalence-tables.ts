/**
 * Check 1b, fault equivalence on canonical tables: two external `kura-sandbox`es with the same
 * seed, one fault-free and one under `--faults chaos`; the harness loader (our clients, the
 * @kura/warehouse mappers, DuckDB) syncs Shopify orders and Stocky purchase orders from each, and
 * every canonical table must match (count + content hash without the per-run lineage columns).
 */
import path from "node:path"
import { quick, runCheck, spawnCaptured, workDir } from "../lib.ts"
import { compareTables, LOADER, readTables, startSandboxCli } from "../loaderRun.ts"

const CHECK = "fault-equivalence-tables"

await runCheck(CHECK, async () => {
  const dir = workDir(CHECK)
  const orders = quick ? 100 : 600
  const seconds: Record<string, number> = {}
  const sync = async (faults: "none" | "chaos") => {
    const sandbox = await startSandboxCli(CHECK, [
      "--seed",
      "42",
      "--orders",
      String(orders),
      "--history-days",
      "120",
      "--time-scale",
      "60",
      "--plan",
      "plus",
      "--faults",
      faults
    ])
    try {
      const db = path.join(dir, `${faults}.duckdb`)
      const started = Date.now()
      const exit = await spawnCaptured(`loader-${faults}`, [LOADER, db], {
        env: { KURA_PROOF_SANDBOX: sandbox.line }
      }).exited
      if (exit.code !== 0) throw new Error(`the ${faults} sync failed (exit ${exit.code ?? exit.signal})`)
      seconds[faults] = (Date.now() - started) / 1000
      return await readTables(db)
    } finally {
      sandbox.close()
    }
  }
  const clean = await sync("none")
  const chaos = await sync("chaos")
  const { tables, populated, differing, rows, duplicateKeys } = compareTables(clean, chaos)
  return {
    check: CHECK,
    pass: differing.length === 0 && duplicateKeys === 0 && populated.length > 0,
    figure: `${tables.length - differing.length}/${tables.length} canonical tables identical under chaos (${rows} rows in ${populated.length} populated), ${duplicateKeys} duplicate keys; sync took ${seconds.none?.toFixed(1)} s fault-free vs ${seconds.chaos?.toFixed(1)} s under chaos (the CLI does not print its fault counts; check 1 does)`,
    details: { orders, seconds, clean, chaos, differing }
  }
})
