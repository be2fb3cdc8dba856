/**
 * The demo (issue 10, bench 5): wall time and peak RSS of the demo at its default scale (10,000
 * online orders, 90 days, all three sources), run twice on one data dir as a new user would: the
 * first run is the full sync, the second resumes from the checkpoints after the sandbox changed 1%
 * of the orders. Measures `node apps/sync-runner/dist/demo.js` (what `npm run demo` runs after its
 * cached build). Peak RSS is the kernel's high-water mark (VmHWM) of the demo process, sampled
 * every 20 ms until it exits. Target (issue 8): the first run under a minute.
 * Usage: `npx node scripts/proof/bench/demo.ts [--quick]` (quick: 500 orders, first run only).
 */
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import path from "node:path"

const quick = process.argv.includes("--quick") || process.env.KURA_BENCH_QUICK === "1"
const orders = quick ? 500 : 10_000
const root = path.resolve(import.meta.dirname, "../../..")
const demo = path.join(root, "apps/sync-runner/dist/demo.js")
const dir = mkdtempSync(path.join(process.env.KURA_BENCH_DIR ?? tmpdir(), "bench-demo-"))

const result = (r: Record<string, unknown>) => console.log(`KURA_BENCH_RESULT ${JSON.stringify(r)}`)

const hwm = (pid: number): number => {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
    return m === null ? 0 : Number(m[1]) * 1024
  } catch {
    return 0
  }
}

const runDemo = (label: string) =>
  new Promise<{ seconds: number; peakRss: number; code: number | null; output: string }>((resolve) => {
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
    const poll = setInterval(() => {
      if (child.pid !== undefined) peak = Math.max(peak, hwm(child.pid))
    }, 20)
    child.on("exit", (code) => {
      clearInterval(poll)
      const seconds = (Date.now() - started) / 1000
      console.log(
        `--- demo ${label} run (exit ${code}) ---\n${output.trim().split("\n").slice(-45).join("\n")}`
      )
      resolve({ seconds, peakRss: peak, code, output })
    })
  })

const mb = (b: number) => Math.round(b / 2 ** 20)
const first = await runDemo("first")
// Quick mode (CI) only proves the bench runs: one pass.
const second = quick ? undefined : await runDemo("second")
console.log(
  `\ndemo at ${orders} orders: first run ${first.seconds.toFixed(1)} s, peak RSS ${mb(first.peakRss)} MiB` +
    (second === undefined
      ? ""
      : `; second (1% mutated, incremental) ${second.seconds.toFixed(1)} s, peak RSS ${mb(second.peakRss)} MiB`)
)
result({
  figure: `demo first run (${orders} orders): wall time`,
  value: Number(first.seconds.toFixed(1)),
  unit: "s",
  target: "< 60 s",
  met: first.seconds < 60
})
result({ figure: "demo first run: peak RSS", value: mb(first.peakRss), unit: "MiB" })
if (second !== undefined)
  result({
    figure: "demo second run (incremental after mutate 0.01)",
    value: `${second.seconds.toFixed(1)} s, ${mb(second.peakRss)} MiB`
  })
if (first.code !== 0 || (second !== undefined && second.code !== 0)) {
  console.error(`the demo failed (exit ${first.code} / ${second?.code})`)
  process.exit(1)
}
