/**
 * Incremental efficiency (issue 10, bench 3): the real `kura-sync run --force` (built dist,
 * KURA_SANDBOX=1, fixed seed and anchor) does a full sync of every stream; then a second run, whose
 * sandbox (same seed and anchor, so the same data) has had `mutate({ fraction: 0.01 })` applied,
 * picks up the change incrementally; in a full run, a third run with nothing changed shows the
 * fixed cost of an incremental pass. Targets: the incremental spends ≤ 2% of the full sync's
 * Shopify API cost points and ≤ 5% of its time.
 *
 * API usage is counted by a proxy in front of each emulator (sandbox/wrap.ts): requests per call
 * shape (GraphQL root field, REST path) and Shopify's own `actualQueryCost`. The breakdown shows
 * where an incremental run spends. Time is the sync's wall time from the sandbox being up to the
 * process exit (process start, sandbox generation and DuckDB open are reported separately).
 * Usage: `npx node scripts/proof/bench/incremental.ts [--quick]` (or KURA_BENCH_QUICK=1).
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import path from "node:path"
import {
  type CallTally,
  kuraSyncRun,
  readSandboxReport,
  type SandboxReport,
  type SyncOptions,
  streamLines
} from "../syncRun.ts"

const quick = process.argv.includes("--quick") || process.env.KURA_BENCH_QUICK === "1"
const dir = mkdtempSync(path.join(process.env.KURA_BENCH_DIR ?? tmpdir(), "bench-incremental-"))
const base: SyncOptions = {
  scale: quick ? 150 : 10_000,
  historyDays: quick ? 3 : 90
}

const result = (r: Record<string, unknown>) => console.log(`KURA_BENCH_RESULT ${JSON.stringify(r)}`)

const run = async (label: string, extra: Partial<SyncOptions>) => {
  const report = path.join(dir, `${label}-sandbox.json`)
  const started = Date.now()
  const child = kuraSyncRun(`bench-incremental-${label}`, path.join(dir, "sync"), {
    ...base,
    ...extra,
    report
  })
  let up = 0
  const poll = setInterval(() => {
    if (up === 0 && child.output().includes("sandbox started")) up = Date.now()
  }, 5)
  const exit = await child.exited
  clearInterval(poll)
  const ended = Date.now()
  const lines = streamLines(child.output())
  if (exit.code !== 0 || lines.length === 0) {
    console.error(child.output().slice(-4000))
    throw new Error(`kura-sync run (${label}) failed: exit ${exit.code ?? exit.signal}`)
  }
  const sandbox: SandboxReport = readSandboxReport(report)
  return { label, totalMs: ended - started, syncMs: ended - (up || started), lines, sandbox }
}

type Run = Awaited<ReturnType<typeof run>>
const sum = (calls: CallTally, api: string, field: "requests" | "cost") =>
  Object.entries(calls)
    .filter(([k]) => k.startsWith(`${api} `))
    .reduce((n, [, v]) => n + v[field], 0)
const apis = ["shopify", "lightspeed", "stocky"] as const

const full = await run("full", {})
const incremental = await run("incremental", { mutate: 0.01 })
const noop = quick ? undefined : await run("unchanged", {})
const runs: Array<Run> = [full, incremental, ...(noop === undefined ? [] : [noop])]

const pct = (a: number, b: number) => (b === 0 ? 0 : (100 * a) / b)
console.log(
  `\nincremental efficiency: ${base.scale} orders, ${base.historyDays} days, sandbox clock real-time (as KURA_SANDBOX=1 runs it); ` +
    `mutate(0.01) changed ${incremental.sandbox.mutated} orders\n`
)
console.log(
  "| run | sync s | process s | shopify points | shopify req | lightspeed req | stocky req | rows |"
)
console.log("| --- | --- | --- | --- | --- | --- | --- | --- |")
for (const r of runs)
  console.log(
    `| ${r.label} | ${(r.syncMs / 1000).toFixed(1)} | ${(r.totalMs / 1000).toFixed(1)} | ${sum(r.sandbox.calls, "shopify", "cost")} | ` +
      `${apis.map((a) => sum(r.sandbox.calls, a, "requests")).join(" | ")} | ${r.lines.reduce((n, l) => n + l.rows, 0)} |`
  )

// Where the incremental spends: every call shape, full vs incremental (vs unchanged).
const shapes = [...new Set(runs.flatMap((r) => Object.keys(r.sandbox.calls)))].sort()
console.log(`\n| call | ${runs.map((r) => `${r.label} req / points`).join(" | ")} |`)
console.log(`| --- | ${runs.map(() => "---").join(" | ")} |`)
for (const s of shapes)
  console.log(
    `| ${s} | ${runs.map((r) => `${r.sandbox.calls[s]?.requests ?? 0} / ${r.sandbox.calls[s]?.cost ?? 0}`).join(" | ")} |`
  )
console.log("\nrows per stream (incremental):")
for (const l of incremental.lines) if (l.rows > 0) console.log(`  ${l.stream}: ${l.rows}`)

const costShare = pct(
  sum(incremental.sandbox.calls, "shopify", "cost"),
  sum(full.sandbox.calls, "shopify", "cost")
)
const reqFull = apis.reduce((n, a) => n + sum(full.sandbox.calls, a, "requests"), 0)
const reqIncr = apis.reduce((n, a) => n + sum(incremental.sandbox.calls, a, "requests"), 0)
const timeShare = pct(incremental.syncMs, full.syncMs)
result({
  figure: "incremental Shopify cost points vs full",
  value: Number(costShare.toFixed(2)),
  unit: "%",
  target: "≤ 2%",
  met: costShare <= 2
})
result({
  figure: "incremental requests (all APIs) vs full",
  value: Number(pct(reqIncr, reqFull).toFixed(2)),
  unit: "%"
})
result({
  figure: "incremental sync time vs full",
  value: Number(timeShare.toFixed(1)),
  unit: "%",
  target: "≤ 5%",
  met: timeShare <= 5
})
if (noop !== undefined)
  result({
    figure: "unchanged incremental: points / time vs full",
    value: `${pct(sum(noop.sandbox.calls, "shopify", "cost"), sum(full.sandbox.calls, "shopify", "cost")).toFixed(2)}% / ${pct(noop.syncMs, full.syncMs).toFixed(1)}%`
  })
