/**
 * Shopify order backfills through the built CLI (`npm run build` first) against the sandbox at
 * time scale 600: orders/s end to end (bulk export → lake → `_kura_raw` → canonical `orders`) and
 * the CLI's peak RSS (its own max RSS, printed at the end of the run; the sandbox runs in this
 * process and is not counted). Each size runs in a fresh warehouse and is checked against the
 * sandbox's ground truth: every order once in `_kura_raw` and in `orders`.
 *
 * Sizes: `KURA_BENCH_ORDERS` (comma-separated), default 100k then 1M, so memory is compared at
 * two history lengths in one run. `KURA_BENCH_QUICK=1` (or `npm run bench -- --quick`) runs 20k
 * orders only (< 30 s on an idle machine). The 100k variant is also where the "100k+
 * orders" ground-truth check runs, since `npm test` keeps to a few thousand orders.
 * Run: `npm run bench -w @kura/backfill`.
 */
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { startSandbox } from "@kura/sandbox"
import { DuckDbWarehouse, Warehouse } from "@kura/warehouse"
import { Effect } from "effect"
import { expect, test } from "vitest"

const SIZES = (
  process.env.KURA_BENCH_ORDERS ?? (process.env.KURA_BENCH_QUICK === "1" ? "20000" : "100000,1000000")
)
  .split(",")
  .map(Number)
  .filter((n) => n > 0)
const TIME_SCALE = 600
const HISTORY_DAYS = 730
const appDir = join(dirname(fileURLToPath(import.meta.url)), "..")

const rssOf = (pid: number): number => {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
    return m === null ? 0 : Number(m[1]) * 1024
  } catch {
    return 0
  }
}

const count = (path: string, sql: string) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const w = yield* Warehouse
      const rows = yield* w.query(sql)
      return Number(rows[0]?.n ?? Number.NaN)
    }).pipe(Effect.provide(DuckDbWarehouse.layer({ path })))
  )

for (const orders of SIZES) {
  test(`backfill of ${orders} orders`, { timeout: 4 * 3600_000 }, async () => {
    const sandbox = await startSandbox({
      seed: 1,
      scale: orders,
      historyDays: HISTORY_DAYS,
      timeScale: TIME_SCALE
    })
    const dir = mkdtempSync(join(tmpdir(), "kura-backfill-bench-"))
    try {
      const truth = sandbox.groundTruth().counts.onlineOrders
      const from = new Date(sandbox.groundTruth().anchor - (HISTORY_DAYS + 1) * 86_400_000).toISOString()
      const started = Date.now()
      // Run as a program (not `node main.js`), so the bin's bounded heap applies as for a user.
      const child = spawn(
        join(appDir, "dist/main.js"),
        ["shopify", "orders", "--from", from, "--window", "30d"],
        {
          env: {
            PATH: process.env.PATH ?? "",
            SHOPIFY_SHOP: sandbox.shopify.credentials.shopDomain,
            SHOPIFY_ACCESS_TOKEN: sandbox.shopify.credentials.accessToken,
            SHOPIFY_API_BASE_URL: sandbox.shopify.baseUrl,
            KURA_WAREHOUSE: `duckdb:${join(dir, "kura.duckdb")}`,
            KURA_LAKE: `file:${join(dir, "lake")}`,
            KURA_BULK_POLL_MS: "100",
            KURA_BULK_BUSY_RETRY_MS: "500",
            ...(process.env.NODE_OPTIONS === undefined ? {} : { NODE_OPTIONS: process.env.NODE_OPTIONS }),
            ...(process.env.KURA_NODE_HEAP_MB === undefined
              ? {}
              : { KURA_NODE_HEAP_MB: process.env.KURA_NODE_HEAP_MB }),
            ...(process.env.KURA_DUCKDB_MEMORY_LIMIT === undefined
              ? {}
              : { KURA_DUCKDB_MEMORY_LIMIT: process.env.KURA_DUCKDB_MEMORY_LIMIT })
          },
          stdio: ["ignore", "pipe", "inherit"]
        }
      )
      let sampled = 0
      const timer = setInterval(() => {
        if (child.pid !== undefined) sampled = Math.max(sampled, rssOf(child.pid))
      }, 250)
      let tail = ""
      child.stdout?.on("data", (d) => {
        tail = (tail + String(d)).slice(-4000)
      })
      const code = await new Promise<number | null>((resolve) => child.on("exit", resolve))
      clearInterval(timer)
      const seconds = (Date.now() - started) / 1000
      const peak = /Peak memory: (\d+) MiB/.exec(tail)?.[1]
      const db = join(dir, "kura.duckdb")
      const raw = await count(
        db,
        "SELECT COUNT(DISTINCT source_id) AS n FROM _kura_raw WHERE stream = 'orders'"
      )
      const canonical = await count(db, "SELECT COUNT(*) AS n FROM orders WHERE _deleted_at IS NULL")
      console.log(tail.split("\n").slice(-5).join("\n"))
      console.log(
        `exit ${code}; ${truth} orders in ${seconds.toFixed(1)} s = ${Math.round(truth / seconds)} orders/s; CLI peak RSS ${peak ?? "?"} MiB (max RSS; sampled ${(sampled / 2 ** 20).toFixed(0)} MiB); raw ${raw}, orders ${canonical}, ground truth ${truth} (time scale ${TIME_SCALE})`
      )
      expect(code).toBe(0)
      expect(raw).toBe(truth)
      expect(canonical).toBe(truth)
    } finally {
      await sandbox.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
}
