/**
 * `npm run demo`: the first thing a new user runs. Starts the sandbox in-process, syncs all three
 * sources into data/kura.duckdb (raw lake under data/lake), prints the report and exits 0 when every
 * stream ran and reconciled. Run it again and the second pass resumes from the checkpoints (after
 * changing 1% of the orders in the sandbox, so there is something new to pick up).
 */
import { existsSync } from "node:fs"
import { parseArgs } from "node:util"
import { formatDemoReport } from "./demo/formatDemoReport.js"
import { runDemo } from "./demo/runDemo.js"

const { values } = parseArgs({
  options: {
    orders: { type: "string", default: "10000" },
    seed: { type: "string", default: "42" },
    faults: { type: "string", default: "none" },
    data: { type: "string", default: "data" }
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

const warehousePath = `${values.data}/kura.duckdb`
const again = existsSync(warehousePath)
const report = await runDemo({
  warehousePath,
  lakeDir: `${values.data}/lake`,
  scale: orders,
  seed,
  faults,
  ...(again ? { mutateFraction: 0.01 } : {})
})
console.log(formatDemoReport(report))
const failed = report.streams.filter((s) => s.status !== "ok")
process.exit(failed.length === 0 ? 0 : 1)
