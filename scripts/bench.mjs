#!/usr/bin/env node
// `npm run bench [-- --quick] [-- --only core,incremental] [-- --report FILE] [-- --no-build]
//  [-- --cap-scale 2] [-- --keep-data]`
//
// Runs every benchmark one at a time (benchmarks on a 2-core machine must not compete with each
// other; quick runs use two lanes, see below): each package's `bench` script, then the proof benches in scripts/proof/bench (webhook
// intake, incremental efficiency through `kura-sync run`, the demo's wall time and peak RSS).
// `--quick` sets KURA_BENCH_QUICK=1, which each benchmark reads to shrink its sizes; quick mode
// exists so CI proves the benches still run (`npm test` runs it), never to measure.
//
// Every bench has a time cap (quick and full); a bench that hits it is stopped and reported as
// "capped" (a figure it printed before stays in the report), which does not fail the run: only a
// bench that exits non-zero does. Figures come from `KURA_BENCH_RESULT {json}` lines a bench prints
// ({ figure, value, unit?, target?, met? }) plus a few well-known lines of the package benches.
// The summary table (bench, status, seconds, figure, target, met?) is printed and written to a
// JSON report (default <tmp>/kura-bench-<time>/bench-report.json; every bench's log is beside it).
// The run directory then keeps only those: the benches' working data in it (DuckDB files, lakes,
// sandbox reports, copies of sync states; tens of MB a bench) is deleted, unless `--keep-data`.
import { spawn, spawnSync } from "node:child_process"
import {
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync
} from "node:fs"
import os from "node:os"
import path from "node:path"

const args = process.argv.slice(2)
const quick = args.includes("--quick") || process.env.KURA_BENCH_QUICK === "1"
const noBuild = args.includes("--no-build")
const argValue = (name) => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : undefined
}
const only = argValue("--only")?.split(",")
// `--cap-scale 2` (or KURA_BENCH_CAP_SCALE) stretches every cap, e.g. on a machine known to be busy.
// Without it, a quick run stretches each bench's cap by the load when that bench starts (1-minute
// load average per core, between 1 and 3): quick runs only prove the benches still work, and on a
// shared CI box the neighbours' load would otherwise cap a healthy bench. Full runs keep their caps.
const fixedCapScale = argValue("--cap-scale") ?? process.env.KURA_BENCH_CAP_SCALE
const capScaleNow = () =>
  fixedCapScale !== undefined
    ? Number(fixedCapScale) || 1
    : quick
      ? Math.min(3, Math.max(1, os.loadavg()[0] / os.cpus().length))
      : 1
const root = path.resolve(import.meta.dirname, "..")
const runDir = mkdtempSync(path.join(os.tmpdir(), "kura-bench-"))
mkdirSync(path.join(runDir, "logs"), { recursive: true })
const reportFile = path.resolve(argValue("--report") ?? path.join(runDir, "bench-report.json"))

// The proof benches are TypeScript run by Node 24's type stripping; under `npm run` this is 24.
let node = process.execPath
if (Number(process.versions.node.split(".")[0]) < 23) {
  const found = spawnSync("npx", ["node", "-p", "process.execPath"], { cwd: root, encoding: "utf8" })
  node = found.stdout?.trim() || "node"
}

const machine = `${os.cpus().length}× ${os.cpus()[0]?.model ?? "cpu"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}`
const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")

/**
 * The benches. `quickArgs` narrows a package bench that has no quick mode of its own to one file;
 * caps are seconds. Packages are found from their package.json `bench` script, so a new one runs
 * (with the default cap) without editing this list.
 */
const KNOWN = {
  "@kura/core": { quickArgs: ["bench/queryCost.bench.ts"], cap: [25, 180] },
  "@kura/sandbox": { cap: [25, 300] },
  "@kura/shopify-client": { cap: [30, 600] },
  "@kura/stocky-client": { quickArgs: ["-t", "live paging"], cap: [20, 300] },
  "@kura/lightspeed-client": { cap: [15, 300] },
  // Its bench script rebuilds (cleans) the warehouse dist, which other benches import: run it
  // alone. Under --no-build the dist is current, so its script runs by itself, beside the others.
  "@kura/warehouse": { cap: [30, 900], exclusive: true, noBuildScript: "bench/bulk-load.mjs" },
  "@kura/backfill": { cap: [30, 600] }
}
const readdirSafe = (dir) => {
  try {
    return readdirSync(dir).sort()
  } catch {
    return []
  }
}
const packages = []
for (const dir of ["packages", "apps"]) {
  for (const name of readdirSafe(path.join(root, dir))) {
    let pkg
    try {
      pkg = JSON.parse(readFileSync(path.join(root, dir, name, "package.json"), "utf8"))
    } catch {
      continue
    }
    if (typeof pkg.scripts?.bench !== "string") continue
    const known = KNOWN[pkg.name] ?? { cap: [20, 900] }
    const direct = noBuild && known.noBuildScript !== undefined
    packages.push({
      name: pkg.name,
      cmd: direct
        ? [node, known.noBuildScript]
        : [
            "npm",
            "run",
            "bench",
            "-w",
            pkg.name,
            ...(quick && known.quickArgs ? ["--", ...known.quickArgs] : [])
          ],
      cwd: direct ? path.join(root, dir, name) : root,
      cap: known.cap,
      exclusive: known.exclusive === true && !direct
    })
  }
}
const proof = (name, file, cap) => ({
  name,
  cmd: [
    node,
    "--disable-warning=ExperimentalWarning",
    `scripts/proof/bench/${file}`,
    ...(quick ? ["--quick"] : [])
  ],
  cap
})
const benches = [
  ...packages,
  proof("webhooks", "webhooks.ts", [30, 120]),
  proof("incremental", "incremental.ts", [50, 600]),
  proof("demo", "demo.ts", [50, 400])
].filter((b) => !only || only.some((o) => b.name.includes(o)))

if (argValue("--from") === undefined)
  console.log(
    `kura bench: ${quick ? "quick" : "full"} run, ${benches.length} benches, on ${machine}, Node ${process.version}`
  )
if (argValue("--from") === undefined) console.log(`kura bench: logs in ${runDir}`)

const MARKER = "KURA_BENCH_RESULT "
const ESC = String.fromCharCode(27)
const strip = (s) => s.replaceAll(new RegExp(`${ESC}\\[[0-9;]*m`, "g"), "")

/** Headline figures of package benches that print text, not KURA_BENCH_RESULT lines. */
const known = [
  {
    re: /kura ShopifyClient .*steady-share=([\d.]+)% THROTTLED=(\d+)/,
    out: (m) => [
      {
        figure: "GraphQL pacing: share of restore rate",
        value: Number(m[1]),
        unit: "%",
        target: "≥ 95%",
        met: Number(m[1]) >= 95
      },
      {
        figure: "GraphQL pacing: THROTTLED after first drain",
        value: Number(m[2]),
        target: "0",
        met: Number(m[2]) === 0
      }
    ]
  },
  {
    re: /@shopify\/admin-api-client .*steady-share=([\d.]+)% THROTTLED=(\d+)/,
    out: (m) => [{ figure: "baseline admin-api-client: share / THROTTLED", value: `${m[1]}% / ${m[2]}` }]
  },
  {
    re: /THROTTLED=(\d+) ok=\d+ points=\d+ budget=\d+ utilisation=([\d.]+)%/,
    out: (m) => [{ figure: "core QueryCostBucket utilisation (THROTTLED)", value: `${m[2]}% (${m[1]})` }]
  }
]

/** A bench's figures: its KURA_BENCH_RESULT lines, else the known text lines it printed. */
const figuresOf = (text) => {
  const lines = strip(text).split("\n")
  const marked = []
  for (const line of lines) {
    const at = line.indexOf(MARKER)
    if (at < 0) continue
    try {
      marked.push(JSON.parse(line.slice(at + MARKER.length)))
    } catch {}
  }
  if (marked.length > 0) return marked
  const found = []
  for (const line of lines)
    for (const k of known) {
      const m = k.re.exec(line)
      if (m) found.push(...k.out(m))
    }
  return found
}

// `--from DIR`: re-read a finished run's logs (e.g. after teaching this script a new figure).
const from = argValue("--from")
if (from !== undefined) {
  const report = JSON.parse(readFileSync(path.join(from, "bench-report.json"), "utf8"))
  for (const r of report.results) {
    try {
      r.figures = figuresOf(
        readFileSync(path.join(from, "logs", `${r.bench.replace(/[@/]/g, "_")}.log`), "utf8")
      )
    } catch {}
  }
  printSummary(report.results, report.totalSeconds, report.kind)
  writeFileSync(path.join(from, "bench-report.json"), `${JSON.stringify(report, null, 2)}\n`)
  process.exit(0)
}

if (!noBuild) {
  // Benches import built dists; the build is cached by Nx, so this is quick when nothing changed.
  const build = spawnSync("npx", ["nx", "run-many", "-t", "build", "--outputStyle=static"], {
    cwd: root,
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, NX_TUI: "false" }
  })
  if (build.status !== 0) {
    console.error("kura bench: the build failed; fix it first (npx nx run-many -t build)")
    process.exit(1)
  }
}

const runOne = (bench) =>
  new Promise((resolve) => {
    const log = createWriteStream(path.join(runDir, "logs", `${bench.name.replace(/[@/]/g, "_")}.log`))
    const started = Date.now()
    const loadBefore = load()
    const child = spawn(bench.cmd[0], bench.cmd.slice(1), {
      cwd: bench.cwd ?? root,
      detached: true,
      env: {
        ...process.env,
        KURA_BENCH_QUICK: quick ? "1" : "0",
        KURA_BENCH_DIR: runDir,
        KURA_PROOF_DIR: runDir,
        NX_TUI: "false",
        FORCE_COLOR: "0",
        NODE_NO_WARNINGS: "1"
      },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    const onData = (stream) => (c) => {
      const s = c.toString("utf8")
      out += s
      log.write(c)
      stream.write(
        s
          .split("\n")
          .map((l, i, a) => (i === a.length - 1 && l === "" ? l : `${bench.name}: ${l}`))
          .join("\n")
      )
    }
    child.stdout.on("data", onData(process.stdout))
    child.stderr.on("data", onData(process.stderr))
    const capSeconds = Math.round(bench.cap[quick ? 0 : 1] * capScaleNow())
    let capped = false
    const timer = setTimeout(() => {
      capped = true
      try {
        process.kill(-child.pid, "SIGTERM")
      } catch {}
      setTimeout(() => {
        try {
          process.kill(-child.pid, "SIGKILL")
        } catch {}
      }, 3000).unref()
    }, capSeconds * 1000)
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      log.end()
      const seconds = (Date.now() - started) / 1000
      const figures = figuresOf(out)
      const status = capped ? "capped" : code === 0 ? "ok" : `failed (exit ${code ?? signal})`
      resolve({
        bench: bench.name,
        status,
        seconds,
        cap: capSeconds,
        load: `${loadBefore} → ${load()}`,
        figures
      })
    })
  })

// Full runs measure, one bench at a time. Quick runs only prove the benches still work, so they
// run two at a time (longest cap first) to stay near two minutes; their figures are not comparable.
const lanes = quick ? 2 : 1
const queue = quick ? [...benches].sort((a, b) => b.cap[0] - a.cap[0]) : [...benches]
const started = Date.now()
const byName = new Map()
for (const bench of queue.filter((b) => b.exclusive && lanes > 1)) {
  queue.splice(queue.indexOf(bench), 1)
  console.log(
    `\n=== ${bench.name} (alone; cap ${Math.round(bench.cap[0] * capScaleNow())} s; load ${load()})`
  )
  byName.set(bench.name, await runOne(bench))
}
await Promise.all(
  Array.from({ length: lanes }, async () => {
    for (let bench = queue.shift(); bench !== undefined; bench = queue.shift()) {
      console.log(
        `\n=== ${bench.name} (cap ${Math.round(bench.cap[quick ? 0 : 1] * capScaleNow())} s; load ${load()})`
      )
      byName.set(bench.name, await runOne(bench))
    }
  })
)
const results = benches.map((b) => byName.get(b.name))
const totalSeconds = (Date.now() - started) / 1000

const failed = results.filter((r) => r.status.startsWith("failed"))
const capped = results.filter((r) => r.status === "capped")
printSummary(results, totalSeconds, quick ? "quick" : "full")
writeFileSync(
  reportFile,
  `${JSON.stringify(
    {
      kind: quick ? "quick" : "full",
      at: new Date().toISOString(),
      machine,
      node: process.versions.node,
      totalSeconds,
      runDir,
      results
    },
    null,
    2
  )}\n`
)
// What the summary points to stays (the report and every bench's log); the rest of the run
// directory is the benches' working data, deleted unless asked to keep it.
if (!args.includes("--keep-data"))
  for (const entry of readdirSync(runDir)) {
    const file = path.join(runDir, entry)
    if (entry !== "logs" && file !== reportFile) rmSync(file, { recursive: true, force: true })
  }
console.log(
  `\nkura bench: ${results.length - failed.length - capped.length} ok, ${capped.length} capped${capped.length > 0 ? ` (${capped.map((r) => r.bench).join(", ")})` : ""}, ${failed.length} failed; ${totalSeconds.toFixed(0)} s; report ${reportFile}`
)
process.exit(failed.length === 0 ? 0 : 1)

/** Prints the summary table: one row per figure, bench status and seconds on its first row. */
function printSummary(results, totalSeconds, kind) {
  const cell = (v) => (v === undefined || v === null ? "" : String(v))
  const lines = [
    "| bench | status | s | figure | value | target | met? |",
    "| --- | --- | --- | --- | --- | --- | --- |"
  ]
  for (const r of results) {
    const figs = r.figures.length > 0 ? r.figures : [{}]
    for (const [i, f] of figs.entries())
      lines.push(
        `| ${i === 0 ? r.bench : ""} | ${i === 0 ? r.status : ""} | ${i === 0 ? r.seconds.toFixed(1) : ""} | ${cell(f.figure)} | ${cell(f.value)}${f.unit && f.value !== undefined ? ` ${f.unit}` : ""} | ${cell(f.target)} | ${f.met === undefined ? "" : f.met ? "yes" : "**no**"} |`
      )
  }
  console.log(`\nkura bench summary (${kind}, ${totalSeconds.toFixed(0)} s, ${machine}):\n`)
  console.log(lines.join("\n"))
}
