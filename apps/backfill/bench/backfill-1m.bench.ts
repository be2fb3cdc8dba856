/**
 * A 1M-order Shopify backfill through the built CLI (`npm run build` first) against the sandbox
 * at time scale 600: orders/s end to end (bulk export → lake → `_kura_raw`) and the CLI's peak
 * RSS (sampled from /proc, the sandbox runs in this process and is not counted). Figures are
 * printed, not asserted. `KURA_BENCH_ORDERS` changes the size.
 * Run: `npm run bench -w @kura/backfill`.
 */
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { startSandbox } from "@kura/sandbox"
import { test } from "vitest"

// `npm run bench -- --quick` (KURA_BENCH_QUICK=1) proves the path works on 20k orders; the full run is 1M.
const ORDERS = Number(
  process.env.KURA_BENCH_ORDERS ?? (process.env.KURA_BENCH_QUICK === "1" ? 20_000 : 1_000_000)
)
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

test(`backfill of ${ORDERS} orders`, { timeout: 3 * 3600_000 }, async () => {
  const sandbox = await startSandbox({
    seed: 1,
    scale: ORDERS,
    historyDays: HISTORY_DAYS,
    timeScale: TIME_SCALE
  })
  try {
    const dir = mkdtempSync(join(tmpdir(), "kura-backfill-bench-"))
    const from = new Date(sandbox.groundTruth().anchor - (HISTORY_DAYS + 1) * 86_400_000).toISOString()
    const started = Date.now()
    const child = spawn(
      process.execPath,
      [join(appDir, "dist/main.js"), "shopify", "orders", "--from", from, "--window", "30d"],
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
          ...(process.env.KURA_DUCKDB_MEMORY_LIMIT === undefined
            ? {}
            : { KURA_DUCKDB_MEMORY_LIMIT: process.env.KURA_DUCKDB_MEMORY_LIMIT })
        },
        stdio: ["ignore", "pipe", "inherit"]
      }
    )
    let peak = 0
    const timer = setInterval(() => {
      if (child.pid !== undefined) peak = Math.max(peak, rssOf(child.pid))
    }, 250)
    let tail = ""
    child.stdout?.on("data", (d) => {
      tail = (tail + String(d)).slice(-4000)
    })
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve))
    clearInterval(timer)
    const seconds = (Date.now() - started) / 1000
    const truth = sandbox.groundTruth().counts.onlineOrders
    console.log(tail.split("\n").slice(-4).join("\n"))
    console.log(
      `exit ${code}; ${truth} orders in ${seconds.toFixed(1)} s = ${Math.round(truth / seconds)} orders/s; CLI peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB (time scale ${TIME_SCALE})`
    )
  } finally {
    await sandbox.close()
  }
})
