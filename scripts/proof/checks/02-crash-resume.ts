/**
 * Check 2, crash and resume: a sync killed with SIGKILL at 10 random points, each followed by a
 * restart, ends with canonical tables identical to an uninterrupted run (count + content hash per
 * table, lineage columns `_synced_at`/`_batch_id` excluded) and zero duplicate keys. One external
 * `kura-sandbox` is started once with a fixed seed so every run sees the same data. The sync is
 * the proof harness's loader (scripts/proof/loader.ts: our clients + @kura/warehouse mappers,
 * DuckDB, cursor committed after each page's load) because `kura-sync run` has no real
 * connectors wired yet.
 */
import { spawn } from "node:child_process"
import path from "node:path"
import { DuckDbWarehouse, Warehouse } from "@kura/warehouse"
import { Effect } from "effect"
import { duplicates, quick, registerSecrets, runCheck, setHash, spawnCaptured, workDir } from "../lib.ts"

const CHECK = "crash-resume"
const KILLS = 10
const SANDBOX_CLI = path.resolve(import.meta.dirname, "../../../packages/sandbox/dist/cli.js")
const LOADER = path.resolve(import.meta.dirname, "../loader.ts")

const readTables = (file: string) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const wh = yield* Warehouse
      const names = (yield* wh.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_type = 'BASE TABLE' AND table_name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY table_name"
      )).map((r) => String(r.table_name))
      const out: Record<string, { count: number; hash: string; duplicateKeys: number }> = {}
      for (const name of names) {
        const rows = yield* wh.query(`SELECT * FROM "${name}"`)
        const content = rows.map((r) => {
          const { _synced_at: _s, _batch_id: _b, ...rest } = r
          return rest
        })
        const dup = duplicates(rows.map((r) => `${r.source}|${r.source_account}|${r.source_id}`))
        out[name] = { ...setHash(content), duplicateKeys: dup.length }
      }
      return out
    }).pipe(Effect.provide(DuckDbWarehouse.layer({ path: file, migrate: false })))
  )

await runCheck(CHECK, async () => {
  const dir = workDir(CHECK)
  const orders = quick ? 150 : 1000
  // The sandbox prints its credentials on stdout by design: read it privately, never into a log.
  const sandbox = spawn(
    process.execPath,
    [
      SANDBOX_CLI,
      "--port",
      "0",
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
    ],
    { stdio: ["ignore", "pipe", "inherit"] }
  )
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let buf = ""
      sandbox.stdout.on("data", (c: Buffer) => {
        buf += c.toString("utf8")
        const nl = buf.indexOf("\n")
        if (nl >= 0) resolve(buf.slice(0, nl))
      })
      sandbox.on("exit", (code) => reject(new Error(`kura-sandbox exited with ${code}`)))
    })
    const creds = JSON.parse(line) as {
      shopify: { accessToken: string; clientSecret: string; webhookSecret: string }
      stocky: { apiKey: string }
      lightspeed: { clientSecret: string; refreshToken: string }
    }
    registerSecrets(CHECK, [
      creds.shopify.accessToken,
      creds.shopify.clientSecret,
      creds.shopify.webhookSecret,
      creds.stocky.apiKey,
      creds.lightspeed.clientSecret,
      creds.lightspeed.refreshToken
    ])
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
    const tables = [...new Set([...Object.keys(a), ...Object.keys(b)])]
    const populated = tables.filter((t) => (a[t]?.count ?? 0) > 0)
    const differing = tables.filter((t) => a[t]?.hash !== b[t]?.hash || a[t]?.count !== b[t]?.count)
    const dupKeys = tables.reduce((n, t) => n + (b[t]?.duplicateKeys ?? 0), 0)
    const rows = populated.reduce((n, t) => n + (a[t]?.count ?? 0), 0)
    return {
      check: CHECK,
      pass: differing.length === 0 && dupKeys === 0 && killedMidRun === KILLS && populated.length > 0,
      figure: `${killedMidRun}/${KILLS} SIGKILLs mid-run + restarts: ${tables.length - differing.length}/${tables.length} tables identical (${rows} rows in ${populated.length} populated), ${dupKeys} duplicate keys`,
      details: { cleanMs, killAfterPages: kills, clean: a, crashed: b, differing }
    }
  } finally {
    sandbox.kill("SIGTERM")
  }
})
