#!/usr/bin/env node
// `npm run bench [-- --quick] [-- --only @kura/core,@kura/sandbox]`: runs every package's `bench`
// target one at a time (benchmarks on a 2-core machine must not compete with each other), never
// from the Nx cache. `--quick` sets KURA_BENCH_QUICK=1, which each benchmark reads to shrink its
// sizes so the whole run finishes in about two minutes. Results are printed by each benchmark with
// its baseline from the same run; BENCHMARKS.md records them with the command and the machine.
import { spawnSync } from "node:child_process"
import os from "node:os"

const args = process.argv.slice(2)
const quick = args.includes("--quick")
const onlyIndex = args.indexOf("--only")
const only = onlyIndex >= 0 ? args[onlyIndex + 1] : undefined

console.log(
  `kura bench: ${quick ? "quick" : "full"} run on ${os.cpus().length}× ${os.cpus()[0]?.model ?? "cpu"}, ` +
    `${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`
)
const nxArgs = ["nx", "run-many", "-t", "bench", "--parallel=1", "--skip-nx-cache", "--outputStyle=stream"]
if (only) nxArgs.push("-p", only)
const env = { ...process.env, KURA_BENCH_QUICK: quick ? "1" : "0", NX_TUI: "false" }
const result = spawnSync("npx", nxArgs, { stdio: "inherit", env })
let status = result.status ?? 1
// The webhook intake benchmark drives the built sync-runner over loopback with autocannon.
if (only === undefined || only.includes("webhooks")) {
  const webhooks = spawnSync(
    "npx",
    ["node", "scripts/proof/bench/webhooks.ts", ...(quick ? ["--quick"] : [])],
    { stdio: "inherit", env }
  )
  status = status || (webhooks.status ?? 1)
}
process.exit(status)
