/**
 * The demo (issue 10, bench 5): wall time and peak RSS of the demo at its default scale (10,000
 * online orders, 90 days, all three sources), run twice on one data dir as a new user would: the
 * first run is the full sync, the second resumes from the checkpoints after the sandbox changed 1%
 * of the orders. Measures `node apps/sync-runner/dist/demo.js` (what `npm run demo` runs after its
 * cached build). The demo re-executes itself with a bounded heap (same pid) and runs the sandbox
 * (the stand-in for the three remote APIs) in a child process, so three figures are reported, all
 * sampled every 20 ms until the demo exits: the sync process's peak RSS (kernel high-water mark,
 * VmHWM), the sandbox process's, and the peak of their sum (VmRSS of the whole process tree at
 * one instant: what the machine had to hold). CPU seconds (user + system of the tree) are printed
 * too, since wall time on a shared machine is noisy. Target (issue 8): the first run under a minute.
 * Usage: `npx node scripts/proof/bench/demo.ts [--quick]` (quick: 500 orders, first run only).
 */
import { spawn } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync } from "node:fs"
import os, { tmpdir } from "node:os"
import path from "node:path"

const quick = process.argv.includes("--quick") || process.env.KURA_BENCH_QUICK === "1"
const orders = quick ? 500 : 10_000
const root = path.resolve(import.meta.dirname, "../../..")
const demo = path.join(root, "apps/sync-runner/dist/demo.js")
const dir = mkdtempSync(path.join(process.env.KURA_BENCH_DIR ?? tmpdir(), "bench-demo-"))

const result = (r: Record<string, unknown>) => console.log(`KURA_BENCH_RESULT ${JSON.stringify(r)}`)

const statusField = (pid: number, field: "VmHWM" | "VmRSS"): number => {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"))
    return m === null ? 0 : Number(m[1]) * 1024
  } catch {
    return 0
  }
}

/** Direct children of `pid` (Linux /proc; threads share the pid's children file). */
const childrenOf = (pid: number): Array<number> => {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8")
        .trim()
        .split(/\s+/)
        .filter((s) => s !== "")
        .map(Number)
    )
  } catch {
    return []
  }
}

/** User + system CPU seconds of one process so far (clock ticks are 100 Hz). */
const cpuSeconds = (pid: number): number => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? []
    return (Number(f[11]) + Number(f[12])) / 100
  } catch {
    return 0
  }
}

const runDemo = (label: string) =>
  new Promise<{
    seconds: number
    peakRss: number
    sandboxPeakRss: number
    treePeakRss: number
    cpu: number
    code: number | null
    output: string
  }>((resolve) => {
    const started = Date.now()
    const child = spawn(
      process.execPath,
      [demo, "--orders", String(orders), "--data", path.join(dir, "data")],
      {
        cwd: dir,
        stdio: ["ignore", "pipe", "pipe"]
      }
    )
    let output = ""
    child.stdout.on("data", (c: Buffer) => {
      output += c.toString("utf8")
    })
    child.stderr.on("data", (c: Buffer) => {
      output += c.toString("utf8")
    })
    let peak = 0
    let sandboxPeak = 0
    let treePeak = 0
    let cpu = 0
    const sandboxCpu = new Map<number, number>()
    const poll = setInterval(() => {
      const pid = child.pid
      if (pid === undefined) return
      peak = Math.max(peak, statusField(pid, "VmHWM"))
      cpu = Math.max(cpu, cpuSeconds(pid))
      let tree = statusField(pid, "VmRSS")
      for (const c of childrenOf(pid)) {
        sandboxPeak = Math.max(sandboxPeak, statusField(c, "VmHWM"))
        sandboxCpu.set(c, Math.max(sandboxCpu.get(c) ?? 0, cpuSeconds(c)))
        tree += statusField(c, "VmRSS")
      }
      treePeak = Math.max(treePeak, tree)
    }, 20)
    child.on("exit", (code) => {
      clearInterval(poll)
      const seconds = (Date.now() - started) / 1000
      for (const c of sandboxCpu.values()) cpu += c
      console.log(
        `--- demo ${label} run (exit ${code}) ---\n${output.trim().split("\n").slice(-45).join("\n")}`
      )
      resolve({
        seconds,
        peakRss: peak,
        sandboxPeakRss: sandboxPeak,
        treePeakRss: Math.max(treePeak, peak),
        cpu,
        code,
        output
      })
    })
  })

const mb = (b: number) => Math.round(b / 2 ** 20)
const load = () => os.loadavg()[0]?.toFixed(1) ?? "?"
const describe = (r: Awaited<ReturnType<typeof runDemo>>) =>
  `${r.seconds.toFixed(1)} s wall, ${r.cpu.toFixed(1)} CPU-s; peak RSS sync process ${mb(r.peakRss)} MiB, sandbox process ${mb(r.sandboxPeakRss)} MiB, both together ${mb(r.treePeakRss)} MiB`
const first = await runDemo("first")
const firstLoad = load()
// Quick mode (CI) only proves the bench runs: one pass.
const second = quick ? undefined : await runDemo("second")
console.log(
  `\ndemo at ${orders} orders: first run ${describe(first)} (load ${firstLoad})` +
    (second === undefined ? "" : `; second (1% mutated, incremental) ${describe(second)} (load ${load()})`)
)
result({
  figure: `demo first run (${orders} orders): wall time`,
  value: Number(first.seconds.toFixed(1)),
  unit: "s",
  target: "< 60 s",
  met: first.seconds < 60
})
result({
  figure: "demo first run: CPU seconds (sync + sandbox)",
  value: Number(first.cpu.toFixed(1)),
  unit: "s"
})
result({
  figure: "demo first run: peak RSS, sync process",
  value: mb(first.peakRss),
  unit: "MiB",
  target: "< 500 MiB",
  met: mb(first.peakRss) < 500
})
result({
  figure: "demo first run: peak RSS, sync + sandbox processes together",
  value: mb(first.treePeakRss),
  unit: "MiB"
})
if (second !== undefined)
  result({
    figure: "demo second run (incremental after mutate 0.01)",
    value: `${second.seconds.toFixed(1)} s, ${second.cpu.toFixed(1)} CPU-s, sync ${mb(second.peakRss)} MiB, together ${mb(second.treePeakRss)} MiB`
  })
if (first.code !== 0 || (second !== undefined && second.code !== 0)) {
  console.error(`the demo failed (exit ${first.code} / ${second?.code})`)
  process.exit(1)
}
