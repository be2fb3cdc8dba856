/**
 * Shopify order backfills through the built CLI (`npm run build` first) against the sandbox at
 * time scale 600: orders/s end to end (bulk export → lake → `_kura_raw` → canonical `orders`),
 * the CLI's peak RSS (its own max RSS, printed at the end of the run; the sandbox runs in this
 * process and is not counted) and its CPU seconds. Each run uses a fresh warehouse and is checked
 * against the sandbox's ground truth: every order once in `_kura_raw` and in `orders`.
 *
 * Runs: `KURA_BENCH_RUNS` (comma-separated `path:orders`, path `fast` = the DuckDB SQL fast path,
 * `js` = the session-2 JS path, `KURA_SHOPIFY_FAST_PATH=0`). Default `fast:100000,fast:1000000,
 * js:100000` (the JS path is the same-run baseline at 100k: at 1M it does not finish in hours).
 * `KURA_BENCH_QUICK=1` (or `npm run bench -- --quick`) runs `fast:5000` only, in 120-day windows (meant for < 25 s idle).
 * `KURA_BENCH_ORDERS=n[,m]` is kept as a shorthand for fast runs of those sizes.
 * `KURA_BENCH_WINDOW=300d` passes `--window 300d` (default 30d; quick 120d). `KURA_BACKFILL_MEMORY_TRACE=<file>`
 * passes through: the CLI writes its memory per window phase there.
 * `KURA_BENCH_CONCURRENCY=n` passes `--concurrency n` (windows at once; default the CLI's 5).
 * Run: `npm run bench -w @kura/backfill`. Each run prints a `KURA_BENCH_RESULT {json}` line.
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

const RUNS = (
  process.env.KURA_BENCH_RUNS ??
  (process.env.KURA_BENCH_ORDERS !== undefined
    ? process.env.KURA_BENCH_ORDERS.split(",")
        .map((n) => `fast:${n}`)
        .join(",")
    : process.env.KURA_BENCH_QUICK === "1"
      ? "fast:5000"
      : "fast:100000,fast:1000000,js:100000")
)
  .split(",")
  .map((r) => {
    const [path, n] = r.split(":")
    return { path: path === "js" ? "js" : "fast", orders: Number(n) }
  })
  .filter((r) => r.orders > 0)
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

const cpuSecondsOf = (pid: number): number => {
  try {
    // utime + stime in clock ticks (100/s on Linux), fields 14 and 15 after the command name.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(f[11]) + Number(f[12])) / 100
  } catch {
    return 0
  }
}

for (const { path, orders } of RUNS) {
  test(`backfill of ${orders} orders (${path} path)`, { timeout: 4 * 3600_000 }, async () => {
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
        [
          "shopify",
          "orders",
          "--from",
          from,
          "--window",
          // KURA_BENCH_WINDOW: window length (default 30d, quick 120d: a quick run only proves the
          // path works, in 7 windows; 300d at 100k gives 1M-sized windows).
          process.env.KURA_BENCH_WINDOW ?? (process.env.KURA_BENCH_QUICK === "1" ? "120d" : "30d"),
          // KURA_BENCH_CONCURRENCY: windows at once (the CLI's default, 5, when unset).
          ...(process.env.KURA_BENCH_CONCURRENCY ? ["--concurrency", process.env.KURA_BENCH_CONCURRENCY] : [])
        ],
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
            KURA_SHOPIFY_FAST_PATH: path === "js" ? "0" : "1",
            // The memory knobs under test pass through (V8 heap, malloc, DuckDB, load size).
            ...Object.fromEntries(
              Object.entries(process.env).filter(
                ([k, v]) =>
                  v !== undefined &&
                  /^(NODE_OPTIONS|MALLOC_\w+|LD_PRELOAD|KURA_NODE_\w+|KURA_DUCKDB_\w+|KURA_ORDERS_PER_LOAD|KURA_RAW_\w+|KURA_BACKFILL_\w+|KURA_PROOF_\w+|DUCKDB_JE_MALLOC_CONF)$/.test(
                    k
                  )
              )
            )
          },
          stdio: ["ignore", "pipe", "inherit"]
        }
      )
      let sampled = 0
      let cpu = 0
      const timer = setInterval(() => {
        if (child.pid === undefined) return
        sampled = Math.max(sampled, rssOf(child.pid))
        cpu = Math.max(cpu, cpuSecondsOf(child.pid))
      }, 250)
      let tail = ""
      // RSS over the run: the current RSS (MiB) as each window finishes, to see growth vs history.
      const series: Array<number> = []
      let partial = ""
      child.stdout?.on("data", (d) => {
        tail = (tail + String(d)).slice(-4000)
        partial += String(d)
        const lines = partial.split("\n")
        partial = lines.pop() ?? ""
        for (const l of lines)
          if (l.startsWith("window ") && child.pid !== undefined)
            series.push(Math.round(rssOf(child.pid) / 2 ** 20))
      })
      const code = await new Promise<number | null>((resolve) => child.on("exit", resolve))
      clearInterval(timer)
      const seconds = (Date.now() - started) / 1000
      const peak = /Peak memory: (\d+) MiB/.exec(tail)?.[1]
      const db = join(dir, "kura.duckdb")
      const raw = await count(
        db,
        // The fast path lands Shopify's lines as they are: order lines are those without __parentId.
        "SELECT COUNT(DISTINCT source_id) AS n FROM _kura_raw WHERE stream = 'orders' AND json_extract_string(payload, '$.__parentId') IS NULL"
      )
      const canonical = await count(db, "SELECT COUNT(*) AS n FROM orders WHERE _deleted_at IS NULL")
      console.log(tail.split("\n").slice(-6).join("\n"))
      const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")
      const duck = /DuckDB memory: (\d+) MiB/.exec(tail)?.[1]
      console.log(
        `KURA_BENCH_RESULT ${JSON.stringify({
          figure: `backfill ${orders} orders (${path} path): orders/s`,
          value: Math.round(truth / seconds),
          unit: "orders/s",
          seconds: Number(seconds.toFixed(1)),
          cpuSeconds: Number(cpu.toFixed(1)),
          peakRssMiB: peak === undefined ? null : Number(peak),
          duckDbPeakMiB: duck === undefined ? null : Number(duck),
          target: "peak RSS ≤ 500 MB",
          met: code === 0 && peak !== undefined && Number(peak) * 2 ** 20 <= 500e6,
          tie: raw === truth && canonical === truth,
          timeScale: TIME_SCALE,
          loadavg: load,
          rssMiBByWindow: series
        })}`
      )
      console.log(`RSS MiB as each window finished: ${series.join(" ")}`)
      console.log(
        `${path} path: exit ${code}; ${truth} orders in ${seconds.toFixed(1)} s = ${Math.round(truth / seconds)} orders/s; CLI peak RSS ${peak ?? "?"} MiB (max RSS; sampled ${(sampled / 2 ** 20).toFixed(0)} MiB); raw ${raw}, orders ${canonical}, ground truth ${truth} (time scale ${TIME_SCALE}); CPU ${cpu.toFixed(1)} s (sampled); load ${load}`
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
