/**
 * Check 2, crash and resume: a sync killed with SIGKILL at 10 random points, each followed by a
 * restart, ends with canonical tables identical to an uninterrupted run (count + content hash per
 * table, lineage columns `_synced_at`/`_batch_id` excluded) and zero duplicate keys. One external
 * `kura-sandbox` is started once with a fixed seed so every run sees the same data. The sync is
 * the proof harness's loader (scripts/proof/loader.ts: our clients + @kura/warehouse mappers,
 * DuckDB, cursor committed after each page's load) because `kura-sync run` has no real
 * connectors wired yet.
 */
import path from "node:path"
import { quick, runCheck, spawnCaptured, workDir } from "../lib.ts"
import { compareTables, LOADER, readTables, startSandboxCli } from "../loaderRun.ts"

const CHECK = "crash-resume"
const KILLS = 10

await runCheck(CHECK, async () => {
  const dir = workDir(CHECK)
  const orders = quick ? 150 : 1000
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
    "plus"
  ])
  try {
    const line = sandbox.line
    const env = { KURA_PROOF_SANDBOX: line }
    const run = (db: string, label: string) => spawnCaptured(label, [LOADER, path.join(dir, db)], { env })

    const t0 = Date.now()
    const clean = await run("clean.duckdb", "loader-clean").exited
    const cleanMs = Date.now() - t0
    if (clean.code !== 0) throw new Error(`the uninterrupted run failed (exit ${clean.code})`)

    const kills: Array<number> = []
    let killedMidRun = 0
    for (let i = 0; i < KILLS; i++) {
      const child = run("crash.duckdb", `loader-crash-${i}`)
      // Kill after a random number of committed pages plus a random few ms, so the kill lands
      // anywhere: mid-request, mid-load, between the load and the cursor commit.
      const afterPages = 1 + Math.floor(Math.random() * 6)
      const extraMs = Math.floor(Math.random() * 60)
      kills.push(afterPages)
      const poll = setInterval(() => {
        const loaded = (child.output().match(/ loaded \(/g) ?? []).length
        if (loaded >= afterPages) {
          clearInterval(poll)
          setTimeout(() => child.child.kill("SIGKILL"), extraMs)
        }
      }, 5)
      const exit = await child.exited
      clearInterval(poll)
      if (exit.signal === "SIGKILL") killedMidRun++
    }
    const final = await run("crash.duckdb", "loader-final").exited
    if (final.code !== 0) throw new Error(`the final restart failed (exit ${final.code})`)

    const a = await readTables(path.join(dir, "clean.duckdb"))
    const b = await readTables(path.join(dir, "crash.duckdb"))
    const { tables, populated, differing, rows, duplicateKeys: dupKeys } = compareTables(a, b)
    return {
      check: CHECK,
      pass: differing.length === 0 && dupKeys === 0 && killedMidRun === KILLS && populated.length > 0,
      figure: `${killedMidRun}/${KILLS} SIGKILLs mid-run + restarts: ${tables.length - differing.length}/${tables.length} tables identical (${rows} rows in ${populated.length} populated), ${dupKeys} duplicate keys`,
      details: { cleanMs, killAfterPages: kills, clean: a, crashed: b, differing }
    }
  } finally {
    sandbox.close()
  }
})
