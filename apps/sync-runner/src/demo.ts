/**
 * `npm run demo`: the first thing a new user runs. Starts the sandbox (in a child process: it
 * stands in for the three remote APIs, so its heap stays out of the sync's), syncs all three
 * sources into data/kura.duckdb (raw lake under data/lake), prints the report and exits 0 when every
 * stream ran and reconciled. Run it again and the second pass resumes from the checkpoints (after
 * changing 1% of the orders in the sandbox, so there is something new to pick up).
 * `--sandbox-in-process` keeps the session-2 layout (one process).
 *
 * Memory: the process re-executes itself bounded (`BoundedRuntime`: V8 old space
 * `KURA_NODE_HEAP_MB`, default 256; semi-space `KURA_NODE_SEMI_SPACE_MB`, default 8;
 * `MALLOC_ARENA_MAX=2`) and bounds DuckDB (`KURA_DUCKDB_MEMORY_LIMIT`, default 128MB; it spills
 * to disk beyond that). Measured at 10k orders: same CPU seconds as unbounded, peak RSS of the
 * sync process 394 MiB instead of 983 MiB (BENCHMARKS.md §5).
 */
import { reexecBounded } from "./BoundedRuntime.js"
import { SANDBOX_CHILD_FLAG } from "./demo/DemoSandbox.js"

/**
 * V8 old space of the demo (sync) process, MB (`KURA_NODE_HEAP_MB` overrides). Its live set is
 * mostly under 150 MB but peaks near 300 MB while a large bulk file is mapped; 192 made the
 * collector thrash (2.5× the CPU), 256 costs no measurable CPU.
 */
const DEMO_HEAP_MB = 256
/** The sandbox child's V8 flags: it holds the generated merchant (~100 MB at 10k orders). */
const SANDBOX_NODE_FLAGS = ["--max-old-space-size=256", "--max-semi-space-size=8"]
/** Young generation of the demo: 3 × 8 MB semi-spaces (V8's own sizing grew it to 3 × 64 MB). */
const DEMO_SEMI_SPACE_MB = 8

const child = process.argv.includes(SANDBOX_CHILD_FLAG)
// Before anything heavy loads: the process is replaced by a bounded one (same pid).
if (!child) reexecBounded(DEMO_HEAP_MB, DEMO_SEMI_SPACE_MB)

const main = async () => {
  const { existsSync } = await import("node:fs")
  const { fileURLToPath } = await import("node:url")
  const { parseArgs } = await import("node:util")
  const { formatDemoReport } = await import("./demo/formatDemoReport.js")
  const { DEMO_DUCKDB, runDemo } = await import("./demo/runDemo.js")
  const { demoMerchant } = await import("./demo/DemoMerchant.js")
  const { todayUtcMidnight } = await import("@kura/sandbox")

  const { values } = parseArgs({
    options: {
      orders: { type: "string", default: "10000" },
      seed: { type: "string", default: "42" },
      faults: { type: "string", default: "none" },
      data: { type: "string", default: "data" },
      "sandbox-in-process": { type: "boolean", default: false }
    }
  })

  const orders = Number(values.orders)
  const seed = Number(values.seed)
  const faults = values.faults
  if (!Number.isInteger(orders) || orders < 100) {
    console.error(`--orders must be a whole number of at least 100 (got ${values.orders})`)
    process.exit(2)
  }
  if (!Number.isInteger(seed)) {
    console.error(`--seed must be a whole number (got ${values.seed})`)
    process.exit(2)
  }
  if (faults !== "none" && faults !== "flaky" && faults !== "chaos") {
    console.error(`--faults must be none, flaky or chaos (got ${faults})`)
    process.exit(2)
  }

  // DuckDB's buffer pool; beyond it DuckDB spills to disk (the same knob as kura-backfill's).
  const duckdbMemory = process.env.KURA_DUCKDB_MEMORY_LIMIT ?? DEMO_DUCKDB.memory_limit ?? "128MB"
  const warehousePath = `${values.data}/kura.duckdb`
  const again = existsSync(warehousePath)
  // A second run meets the first one's merchant, whatever the date is now.
  const { merchant, note } = demoMerchant(values.data, { seed, orders }, todayUtcMidnight(), again)
  if (note !== undefined) console.warn(`demo: ${note}`)
  const report = await runDemo({
    warehousePath,
    lakeDir: `${values.data}/lake`,
    scale: orders,
    seed,
    anchor: merchant.anchor,
    faults,
    duckdb: { ...DEMO_DUCKDB, memory_limit: duckdbMemory },
    ...(values["sandbox-in-process"]
      ? {}
      : {
          sandboxProcess: {
            script: fileURLToPath(import.meta.url),
            execArgv: SANDBOX_NODE_FLAGS
          }
        }),
    ...(again ? { mutateFraction: 0.01 } : {})
  })
  console.log(formatDemoReport(report))
  const failed = report.streams.filter((s) => s.status !== "ok")
  process.exit(failed.length === 0 ? 0 : 1)
}

if (child) {
  const { serveSandboxChild } = await import("./demo/SandboxProcess.js")
  serveSandboxChild()
} else await main()
