/**
 * Incremental efficiency (issue 10, bench 3): the real `kura-sync run --force` (built dist, fixed
 * seed and anchor) does a full sync of every stream; then a second run, whose sandbox (same seed
 * and anchor, so the same data) has had `mutate({ fraction: 0.01 })` applied, picks up the change
 * incrementally; in a full run, a third run with nothing changed shows the fixed cost of an
 * incremental pass. Targets: the incremental spends ≤ 2% of the full sync's Shopify API cost points
 * and ≤ 5% of its time.
 *
 * Where the emulators run (`--sandbox apart|in-process|both`). `apart` (the default, and the
 * headline figures): the sandbox runs in its own process (sandbox/serve.ts, one fresh process per
 * run, so every repeat sees the same data and the same changes) and kura-sync is configured as a
 * real deployment is, by the SHOPIFY_* / LIGHTSPEED_* / STOCKY_* variables: in production the APIs
 * run elsewhere, so their work is neither on kura-sync's event loop nor in its CPU figure.
 * `in-process` is the method of sessions 3–7 (`KURA_SANDBOX=1`: the emulators run inside kura-sync,
 * and each bulk job runs synchronously inside its start request on kura-sync's event loop). `both`
 * (the default of a full run in this release) runs the full and incremental syncs both ways in the
 * same run, so the change of method is visible; unchanged and paged runs go apart only.
 *
 * What is timed ("sync s"): from kura-sync's `run: pass started` log line (printed after the
 * configuration is read, before the warehouse opens; in-process, after the sandbox has started) to
 * the process's exit, the same way for full and incremental runs and in both modes. "process s" is
 * spawn to exit (Node start, the bounded re-exec, module loading; in-process also the emulators'
 * data generation). CPU s is the kura-sync process (user + system from /proc; in-process it
 * includes the emulators); apart, the sandbox process's CPU is printed beside it.
 *
 * API usage is counted by a proxy in front of each emulator (sandbox/wrap.ts): requests per call
 * shape (GraphQL root field, REST path) and Shopify's own `actualQueryCost`. The breakdown shows
 * where an incremental run spends.
 *
 * Two denominators. (a) The real full sync, which reads history by bulk export (≈ 10 points a
 * job): what a first sync actually costs, but cheaper in points than paging even 1% of the orders.
 * (b) A full sync read by pages (`KURA_SHOPIFY_BULK=off`: the read path an incremental run pages
 * with), at a smaller scale so it fits the bench cap (≈ 100 points per order at the Standard
 * plan's 100 points/s would take hours at 10k orders; it runs on the Plus plan's faster restore,
 * which changes its time, not its points), with its own 1% incremental at that scale for a
 * like-for-like ratio. Records read per run are reported too.
 * The incremental pass is timed `--repeat N` times (default 3, quick 1) from the same state (the
 * full sync's directory restored before each): one ≈ 1–2 s pass swings ×2 with a little load, so
 * the ratio uses the median pass and every pass's time is printed.
 * Usage: `npx node scripts/proof/bench/incremental.ts [--quick] [--scale N] [--repeat N]
 * [--sandbox apart|in-process|both]` (or KURA_BENCH_QUICK=1).
 */
import {
  closeSync,
  cpSync,
  fsyncSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync
} from "node:fs"
import { tmpdir } from "node:os"
import path from "node:path"
import {
  type CallTally,
  kuraSyncRun,
  kuraSyncRunApart,
  readSandboxReport,
  type SandboxApart,
  type SandboxReport,
  type SyncOptions,
  startSandboxApart,
  streamLines
} from "../syncRun.ts"

const quick = process.argv.includes("--quick") || process.env.KURA_BENCH_QUICK === "1"
const dir = mkdtempSync(path.join(process.env.KURA_BENCH_DIR ?? tmpdir(), "bench-incremental-"))
const argOf = (name: string): string | undefined => {
  const i = process.argv.indexOf(name)
  return i > 0 ? process.argv[i + 1] : undefined
}
const scaleArg = argOf("--scale")
const base: SyncOptions = {
  scale: scaleArg !== undefined ? Number(scaleArg) : quick ? 150 : 10_000,
  historyDays: quick ? 3 : 90
}
/** Orders for the paged denominator (b): small enough to page whole within the cap. */
const pagedScale = quick ? base.scale : 1_000
/** The quick mode (CI, 50 s cap) leaves (b) out unless asked (`--paged`): it pages every order. */
const withPaged = !quick || process.argv.includes("--paged")
const repeatArg = argOf("--repeat")
/** Incremental passes from the same starting state; the median one is reported. */
const repeats = Math.max(1, Math.floor(repeatArg !== undefined ? Number(repeatArg) : quick ? 1 : 3) || 1)
type Mode = "apart" | "in-process"
const sandboxArg = argOf("--sandbox") ?? (quick ? "apart" : "both")
if (!["apart", "in-process", "both"].includes(sandboxArg))
  throw new Error(`--sandbox ${sandboxArg}: use apart (default), in-process or both`)
/** The modes whose full and incremental syncs run; the first is the headline. */
const modes: ReadonlyArray<Mode> =
  sandboxArg === "both" ? ["apart", "in-process"] : [sandboxArg === "in-process" ? "in-process" : "apart"]
const headline: Mode = modes[0] ?? "apart"

const result = (r: Record<string, unknown>) => console.log(`KURA_BENCH_RESULT ${JSON.stringify(r)}`)

/** kura-sync's log line that starts the timed window (Cli.ts `run`). */
const PASS_STARTED = /^\[(\d\d):(\d\d):(\d\d)\.(\d{3})\] INFO \([^)]*\): run: pass started$/m

const run = async (
  label: string,
  mode: Mode,
  extra: Partial<SyncOptions>,
  options: { readonly dir?: string; readonly env?: Record<string, string> } = {}
) => {
  const report = path.join(dir, `${label}-sandbox.json`)
  const syncOptions: SyncOptions = { ...base, ...extra, report }
  const syncDir = path.join(dir, options.dir ?? "sync")
  // kura-sync (and the sandbox) inherit this process's environment (the read knobs are read from it).
  const saved = Object.fromEntries(Object.keys(options.env ?? {}).map((k) => [k, process.env[k]]))
  Object.assign(process.env, options.env ?? {})
  let sandbox: SandboxApart | undefined
  let started = 0
  let child: ReturnType<typeof kuraSyncRun>
  try {
    if (mode === "apart")
      sandbox = await startSandboxApart(`bench-incremental-${label}-sandbox`, syncDir, syncOptions)
    started = Date.now()
    child =
      sandbox === undefined
        ? kuraSyncRun(`bench-incremental-${label}`, syncDir, syncOptions)
        : kuraSyncRunApart(`bench-incremental-${label}`, syncDir, syncOptions, sandbox)
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  }
  // The child's CPU seconds (user + system), sampled from /proc while it runs; the last sample
  // before exit is within one poll of the total.
  let cpuTicks = 0
  const pid = child.child.pid
  let seen = 0
  const poll = setInterval(() => {
    if (seen === 0 && PASS_STARTED.test(child.output())) seen = Date.now()
    cpuTicks = procTicks(pid) ?? cpuTicks
  }, 5)
  const exit = await child.exited
  clearInterval(poll)
  const ended = Date.now()
  const sandboxTicks = sandbox === undefined ? null : procTicks(sandbox.process.child.pid)
  await sandbox?.close()
  const lines = streamLines(child.output())
  if (exit.code !== 0 || lines.length === 0) {
    console.error(child.output().slice(-4000))
    if (sandbox !== undefined) console.error(sandbox.process.output().slice(-2000))
    throw new Error(`kura-sync run (${label}, sandbox ${mode}) failed: exit ${exit.code ?? exit.signal}`)
  }
  const marker = passStartedAt(child.output(), seen || started)
  if (marker === undefined) throw new Error(`kura-sync run (${label}) printed no "run: pass started" line`)
  const sandboxReport: SandboxReport = readSandboxReport(report)
  return {
    label,
    mode,
    totalMs: ended - started,
    syncMs: ended - marker,
    lines,
    sandbox: sandboxReport,
    cpuSeconds: cpuTicks / 100,
    sandboxCpuSeconds: sandboxTicks === null ? null : sandboxTicks / 100
  }
}

/**
 * When kura-sync logged `run: pass started`, from the line's own clock time (local, ms), placed on
 * the day of `near` (when the poll saw it; within ms of it unless the day turned in between).
 */
const passStartedAt = (output: string, near: number): number | undefined => {
  const m = PASS_STARTED.exec(output)
  if (m === null) return undefined
  const at = new Date(near)
  at.setHours(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]))
  const t = at.getTime()
  return t - near > 12 * 3_600_000 ? t - 86_400_000 : near - t > 12 * 3_600_000 ? t + 86_400_000 : t
}

/** utime + stime of a live process in clock ticks (100 per second on Linux), or null. */
const procTicks = (pid: number | undefined): number | null => {
  if (pid === undefined) return null
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? []
    return Number(fields[11]) + Number(fields[12])
  } catch {
    return null
  }
}

type Run = Awaited<ReturnType<typeof run>>
const sum = (calls: CallTally, api: string, field: "requests" | "cost") =>
  Object.entries(calls)
    .filter(([k]) => k.startsWith(`${api} `))
    .reduce((n, [, v]) => n + v[field], 0)
const apis = ["shopify", "lightspeed", "stocky"] as const

const load = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")
const loadBefore = load()
/**
 * Copies a sync directory and flushes the copy to disk. A fresh copy's pages are dirty in the page
 * cache, so the pass that closes it would pay at its checkpoint's fsync for writing the whole
 * database file (measured: a 7 MB file's fsync 55 ms of a 87 ms close), which a real pass, whose file
 * the previous run left on disk, never does.
 */
const copyDurably = (from: string, to: string) => {
  cpSync(from, to, { recursive: true })
  for (const entry of readdirSync(to, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const fd = openSync(path.join(entry.parentPath, entry.name), "r")
    try {
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
  }
}

/** A full sync, then `repeats` incremental passes each from a copy of its end state, in `mode`. */
const fullAndIncremental = async (mode: Mode) => {
  const suffix = mode === headline ? "" : `-${mode}`
  const syncName = `sync${suffix}`
  const full = await run(`full${suffix}`, mode, {}, { dir: syncName })
  const syncDir = path.join(dir, syncName)
  const afterFull = path.join(dir, `${syncName}-after-full`)
  if (repeats > 1) copyDurably(syncDir, afterFull)
  const passes: Array<Run> = []
  for (let i = 0; i < repeats; i++) {
    if (i > 0) {
      rmSync(syncDir, { recursive: true, force: true })
      copyDurably(afterFull, syncDir)
    }
    passes.push(
      await run(
        `incremental${suffix}${i === 0 ? "" : `-${i + 1}`}`,
        mode,
        { mutate: 0.01 },
        { dir: syncName }
      )
    )
  }
  const median = [...passes].sort((a, b) => a.syncMs - b.syncMs)[Math.floor((repeats - 1) / 2)]
  if (median === undefined) throw new Error("no incremental pass")
  return { mode, syncName, full, passes, incremental: median }
}

const byMode: Array<Awaited<ReturnType<typeof fullAndIncremental>>> = []
for (const mode of modes) byMode.push(await fullAndIncremental(mode))
const main = byMode[0]
if (main === undefined) throw new Error("no mode ran")
const { full, incremental } = main
const noop = quick ? undefined : await run("unchanged", headline, {}, { dir: main.syncName })
// Denominator (b): the same data read whole by pages, then its own 1% incremental.
const paged = { dir: "sync-paged", env: { KURA_SHOPIFY_BULK: "off" } } as const
const pagedFull = withPaged
  ? await run("full-paged", headline, { scale: pagedScale, plan: "plus" }, paged)
  : undefined
const pagedIncremental =
  pagedFull === undefined || pagedScale === base.scale
    ? incremental
    : await run(
        "incremental-at-paged-scale",
        headline,
        { scale: pagedScale, plan: "plus", mutate: 0.01 },
        { dir: "sync-paged" }
      )
const loadAfter = load()
const others = byMode.slice(1).flatMap((m) => [m.full, m.incremental])
const runs: Array<Run> = [
  full,
  incremental,
  ...(noop === undefined ? [] : [noop]),
  ...(pagedFull === undefined ? [] : [pagedFull]),
  ...(pagedIncremental === incremental ? [] : [pagedIncremental]),
  ...others
]

const pct = (a: number, b: number) => (b === 0 ? 0 : (100 * a) / b)
console.log(
  `\nincremental efficiency: ${base.scale} orders, ${base.historyDays} days, sandbox clock real-time (as KURA_SANDBOX=1 runs it); ` +
    `sandbox ${modes.map((m) => (m === "apart" ? "in its own process" : "in kura-sync's process")).join(", then ")}; ` +
    `timed from kura-sync's "run: pass started" line to its exit; ` +
    `mutate(0.01) changed ${incremental.sandbox.mutated} orders; ` +
    (pagedFull === undefined
      ? "paged denominator not run (quick mode; --paged runs it); "
      : `paged denominator at ${pagedScale} orders (mutate changed ${pagedIncremental.sandbox.mutated}); `) +
    `load average ${loadBefore} before, ${loadAfter} after\n`
)
console.log(
  "| run | sandbox | orders | sync s | process s | CPU s | sandbox CPU s | shopify points | shopify req | lightspeed req | stocky req | records read |"
)
console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
const scaleOf = (r: Run) => (r === pagedFull || r === pagedIncremental ? pagedScale : base.scale)
for (const r of runs)
  console.log(
    `| ${r.label} | ${r.mode} | ${scaleOf(r)} | ${(r.syncMs / 1000).toFixed(2)} | ${(r.totalMs / 1000).toFixed(1)} | ${r.cpuSeconds.toFixed(1)} | ${r.sandboxCpuSeconds === null ? "(in CPU s)" : r.sandboxCpuSeconds.toFixed(1)} | ${sum(r.sandbox.calls, "shopify", "cost")} | ` +
      `${apis.map((a) => sum(r.sandbox.calls, a, "requests")).join(" | ")} | ${r.lines.reduce((n, l) => n + l.rows, 0)} |`
  )

// Where the incremental spends: every call shape, full vs incremental (vs unchanged).
const tallied = runs.filter((r) => r.mode === headline)
const shapes = [...new Set(tallied.flatMap((r) => Object.keys(r.sandbox.calls)))].sort()
console.log(`\n| call | ${tallied.map((r) => `${r.label} req / points`).join(" | ")} |`)
console.log(`| --- | ${tallied.map(() => "---").join(" | ")} |`)
for (const s of shapes)
  console.log(
    `| ${s} | ${tallied.map((r) => `${r.sandbox.calls[s]?.requests ?? 0} / ${r.sandbox.calls[s]?.cost ?? 0}`).join(" | ")} |`
  )
console.log("\nrows per stream (incremental):")
for (const l of incremental.lines) if (l.rows > 0) console.log(`  ${l.stream}: ${l.rows}`)

const costShare = pct(
  sum(incremental.sandbox.calls, "shopify", "cost"),
  sum(full.sandbox.calls, "shopify", "cost")
)
const reqFull = apis.reduce((n, a) => n + sum(full.sandbox.calls, a, "requests"), 0)
const reqIncr = apis.reduce((n, a) => n + sum(incremental.sandbox.calls, a, "requests"), 0)
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
for (const m of byMode) {
  const where =
    m.mode === "apart" ? "sandbox in its own process" : "sandbox in-process, the method of sessions 3-7"
  const timeShare = pct(m.incremental.syncMs, m.full.syncMs)
  result({
    figure: `incremental CPU seconds vs full (kura-sync process; ${where})`,
    value: `${m.incremental.cpuSeconds.toFixed(1)} / ${m.full.cpuSeconds.toFixed(1)}`
  })
  result({
    figure: `incremental sync s, each of ${repeats} passes from the same state (median used; ${where})`,
    value: m.passes.map((r) => (r.syncMs / 1000).toFixed(2)).join(" / ")
  })
  result({
    figure: `incremental sync time vs full (${where})`,
    value: Number(timeShare.toFixed(1)),
    unit: "%",
    ...(m.mode === headline ? { target: "≤ 5%", met: timeShare <= 5 } : {})
  })
}
if (pagedFull !== undefined) {
  const pagedShare = pct(
    sum(pagedIncremental.sandbox.calls, "shopify", "cost"),
    sum(pagedFull.sandbox.calls, "shopify", "cost")
  )
  result({
    figure: `incremental Shopify cost points vs a full sync read by pages (${pagedScale} orders)`,
    value: Number(pagedShare.toFixed(2)),
    unit: "%",
    target: "≤ 2%",
    met: pagedShare <= 2
  })
}
result({
  figure: "records read: incremental vs full",
  value: `${incremental.lines.reduce((n, l) => n + l.rows, 0)} / ${full.lines.reduce((n, l) => n + l.rows, 0)}`
})
result({ figure: "load average (1/5/15 min) before / after", value: `${loadBefore} / ${loadAfter}` })
if (noop !== undefined)
  result({
    figure: "unchanged incremental: points / time vs full",
    value: `${pct(sum(noop.sandbox.calls, "shopify", "cost"), sum(full.sandbox.calls, "shopify", "cost")).toFixed(2)}% / ${pct(noop.syncMs, full.syncMs).toFixed(1)}%`
  })
