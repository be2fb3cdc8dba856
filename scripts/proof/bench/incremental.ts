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
 *
 * How kura-sync runs (`--method run|serve|both`). `run` (the headline figures above): a one-off
 * `kura-sync run --force` process per sync, which is what a cron-style deployment pays (every pass
 * opens the warehouse with cold caches and closes it with a checkpoint). `serve`: production's
 * Cloud Run service, a warm `kura-sync serve --scheduler off` process whose warehouse stays open
 * between passes, against a sandbox apart that applies `mutate(0.01)` on demand (sandbox/serve.ts
 * reads commands on stdin); a pass is one `POST /sync` (every stream as one pass; `--triggers
 * per-source`: a `POST /sync/<source>` per source sent together, a pass each; answered 202 at
 * once), timed to the pass's close (its runs' records on /status.json). The full sync runs in a
 * session of its own; then each of `--repeat N` sessions starts from a copy of its end state with
 * a fresh sandbox and serve, runs a pass with nothing changed (the warm-up), then `mutate(0.01)`
 * and the timed pass, so every timed pass reads one mutation and nothing of another pass's (passes
 * of one process seconds apart re-read each other's changes inside Shopify's 5-minute look-back).
 * CPU s and RSS are the serve process's, per pass. `both` (the default of a full run) runs `run`,
 * then `serve`; quick runs `run` only (serve adds a full sync and two sessions: > 15 s here).
 * Usage: `npx node scripts/proof/bench/incremental.ts [--quick] [--scale N] [--repeat N]
 * [--sandbox apart|in-process|both] [--method run|serve|both] [--triggers one|per-source]` (or
 * KURA_BENCH_QUICK=1).
 */

import { randomBytes } from "node:crypto"
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
import type { ServeHandle } from "../lib.ts"
import {
  type CallTally,
  kuraSyncRun,
  kuraSyncRunApart,
  kuraSyncServeApart,
  type RunEnd,
  readSandboxReport,
  rssMiB,
  runEndReader,
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
const methodArg = argOf("--method") ?? (quick ? "run" : "both")
if (!["run", "serve", "both"].includes(methodArg))
  throw new Error(`--method ${methodArg}: use run, serve or both`)
/** One-off `kura-sync run` processes (the headline), a warm `kura-sync serve`, or both in turn. */
const methods: ReadonlyArray<"run" | "serve"> =
  methodArg === "both" ? ["run", "serve"] : [methodArg === "serve" ? "serve" : "run"]

const triggersArg = argOf("--triggers") ?? "one"
if (!["one", "per-source"].includes(triggersArg))
  throw new Error(`--triggers ${triggersArg}: use one (POST /sync) or per-source (POST /sync/<source> each)`)
/**
 * How a warm pass is triggered: one `POST /sync` (every stream in one pass, as `kura-sync run`
 * runs them), or a `POST /sync/<source>` per source sent together (a pass each, as separate
 * Cloud Scheduler jobs firing on the same minute do).
 */
const perSourceTriggers = triggersArg === "per-source"

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

/**
 * A live process's CPU time (utime + stime, in clock ticks: 100 per second on Linux) and minor page
 * faults, all its threads, from one read of /proc/<pid>/stat; null when it is gone. Faults are first
 * touches of memory: on this VM each costs 14–22 µs of CPU, so a count that load does not move says
 * what a timing cannot.
 */
const procStat = (pid: number | undefined): { ticks: number; minorFaults: number } | null => {
  if (pid === undefined) return null
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? []
    return { ticks: Number(fields[11]) + Number(fields[12]), minorFaults: Number(fields[7]) }
  } catch {
    return null
  }
}
const procTicks = (pid: number | undefined): number | null => procStat(pid)?.ticks ?? null

type Run = Awaited<ReturnType<typeof run>>
const sum = (calls: CallTally, api: string, field: "requests" | "cost") =>
  Object.entries(calls)
    .filter(([k]) => k.startsWith(`${api} `))
    .reduce((n, [, v]) => n + v[field], 0)
const apis = ["shopify", "lightspeed", "stocky"] as const
const pct = (a: number, b: number) => (b === 0 ? 0 : (100 * a) / b)

/** Requests and points per call shape, one column per run or pass: where each one spends. */
const printCallTable = (columns: ReadonlyArray<{ readonly label: string; readonly calls: CallTally }>) => {
  const shapes = [...new Set(columns.flatMap((c) => Object.keys(c.calls)))].sort()
  console.log(`\n| call | ${columns.map((c) => `${c.label} req / points`).join(" | ")} |`)
  console.log(`| --- | ${columns.map(() => "---").join(" | ")} |`)
  for (const shape of shapes)
    console.log(
      `| ${shape} | ${columns.map((c) => `${c.calls[shape]?.requests ?? 0} / ${c.calls[shape]?.cost ?? 0}`).join(" | ")} |`
    )
}

const load = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")
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

/** The one-off method: a `kura-sync run --force` process per sync (the figures of sessions 3–9). */
const runMethod = async () => {
  const loadBefore = load()
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
  printCallTable(
    runs.filter((r) => r.mode === headline).map((r) => ({ label: r.label, calls: r.sandbox.calls }))
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
}

/** The bearer of the warm method's `POST /sync` triggers (KURA_TRIGGER_SECRET). */
const TRIGGER_SECRET = randomBytes(24).toString("hex")

/** `after - before`, per call shape (the counting proxies' tallies are cumulative). */
const tallyDiff = (after: CallTally, before: CallTally): CallTally => {
  const out: CallTally = {}
  for (const [k, a] of Object.entries(after)) {
    const b = before[k] ?? { requests: 0, cost: 0, requested: 0, throttled: 0, bytes: 0 }
    const d = {
      requests: a.requests - b.requests,
      cost: a.cost - b.cost,
      requested: a.requested - b.requested,
      throttled: a.throttled - b.throttled,
      bytes: a.bytes - b.bytes
    }
    if (d.requests > 0) out[k] = d
  }
  return out
}

/**
 * Waits until kura-sync has logged the end of every run in `runIds` (`run succeeded|failed|
 * interrupted`, annotated with its runId): those lines are written after the run's ledger record,
 * and carry the process's own clock in ms, so the pass's end is exact without asking the warehouse
 * anything while it works (a /status.json poll reads the ledger on the same connection).
 */
const runEnds = async (
  serve: ServeHandle,
  runIds: ReadonlySet<string>,
  timeoutMs: number
): Promise<Map<string, RunEnd>> => {
  const ends = new Map<string, RunEnd>()
  const read = runEndReader(serve.captured)
  const deadline = Date.now() + timeoutMs
  while (ends.size < runIds.size) {
    for (const end of read()) if (end.runId !== undefined && runIds.has(end.runId)) ends.set(end.runId, end)
    if (ends.size === runIds.size) break
    if (serve.captured.child.exitCode !== null || serve.captured.child.signalCode !== null)
      throw new Error(`kura-sync serve exited mid-pass:\n${serve.captured.output().slice(-3000)}`)
    if (Date.now() > deadline)
      throw new Error(
        `a pass did not end within ${timeoutMs / 1000} s (${ends.size}/${runIds.size} runs ended)`
      )
    await new Promise((r) => setTimeout(r, 2))
  }
  return ends
}

/** Passes a warm session runs: `pass(label, mutate?)`, timed as `serveMethod` describes. */
interface ServeSession {
  readonly pass: (label: string, mutate?: number) => Promise<WarmPass>
  readonly rssAtStart: number | null
  readonly sources: ReadonlyArray<string>
}

/** One timed warm pass. */
interface WarmPass {
  readonly label: string
  /** From the first trigger to the pass's close (its records on the status page). */
  readonly syncMs: number
  /** From the first trigger to its runs' last end line (before the pass writes their records). */
  readonly runsEndedMs: number
  readonly answeredMs: number
  readonly cpuSeconds: number
  /** Minor page faults of the serve process over the pass. */
  readonly minorFaults: number | null
  readonly rss: number | null
  readonly calls: CallTally
  readonly rows: number
  readonly runs: number
  readonly mutated: number
}

/**
 * A warm session: a fresh sandbox process (the same seed, scale and options every time, so every
 * session serves the same data and `mutate(0.01)` changes the same orders) and one `kura-sync
 * serve --scheduler off` over `syncDir`; `use` runs its passes, then both stop (serve closes its
 * warehouse, with the checkpoint of its close, before the sandbox stops).
 */
const serveSession = async <A>(
  label: string,
  syncDir: string,
  use: (session: ServeSession) => Promise<A>
): Promise<A> => {
  const options: SyncOptions = { ...base, report: path.join(dir, `${label}-sandbox.json`) }
  const sandbox = await startSandboxApart(`bench-incremental-${label}-sandbox`, syncDir, options)
  let serve: ServeHandle | undefined
  try {
    serve = await kuraSyncServeApart(`bench-incremental-${label}`, syncDir, options, sandbox, TRIGGER_SECRET)
    const warm = serve
    const pid = warm.captured.child.pid
    const statusOf = async () =>
      (await (await fetch(`${warm.url}/status.json`)).json()) as {
        streams: ReadonlyArray<{
          stream: string
          lastStatus: string | null
          lastRun?: { runId: string } | null
        }>
      }
    const sources = [...new Set((await statusOf()).streams.map((s) => s.stream.split("/")[0] ?? ""))]
    const tally = async () => (await sandbox.ask("tally")).calls as CallTally
    const rssAtStart = rssMiB(pid)
    const pass = async (passLabel: string, mutate?: number): Promise<WarmPass> => {
      const mutated = mutate === undefined ? 0 : Number((await sandbox.ask(`mutate ${mutate}`)).mutated)
      const before = await tally()
      const statBefore = procStat(pid)
      const ticksBefore = statBefore?.ticks ?? 0
      const started = Date.now()
      // The last 202: each trigger takes its streams' leases and opens their ledger entries first.
      let answeredMs = 0
      const answers = await Promise.all(
        (perSourceTriggers ? sources.map((source) => `/sync/${source}`) : ["/sync"]).map(async (trigger) => {
          const res = await fetch(`${warm.url}${trigger}`, {
            method: "POST",
            headers: { authorization: `Bearer ${TRIGGER_SECRET}` }
          })
          const body = (await res.json()) as {
            runs?: Array<{ stream: string; outcome: string; runId?: string }>
          }
          if (res.status !== 202)
            throw new Error(`POST ${trigger}: HTTP ${res.status} ${JSON.stringify(body)}`)
          answeredMs = Math.max(answeredMs, Date.now() - started)
          return body.runs ?? []
        })
      )
      const started202 = answers.flat()
      const runIds = new Set(started202.flatMap((r) => (r.runId === undefined ? [] : [r.runId])))
      if (runIds.size !== started202.length)
        throw new Error(`${passLabel}: not every stream started: ${JSON.stringify(started202)}`)
      const ends = await runEnds(warm, runIds, quick ? 120_000 : 1_800_000)
      const bad = [...ends.values()].filter((e) => e.status !== "succeeded")
      if (bad.length > 0) {
        console.error(warm.captured.output().slice(-4000))
        throw new Error(`${passLabel}: ${bad.map((e) => `${e.stream} ${e.status}`).join(", ")}`)
      }
      // A pass writes its runs' records when it closes, after their end lines: the pass ends when
      // the status page shows every run of it succeeded (polled only now, so no ledger read waits
      // ahead of the runs on the warehouse connection; the close's re-application of redactions,
      // one ledger read when there is none, may still run).
      const deadline = Date.now() + 60_000
      for (;;) {
        const status = await statusOf()
        const off = [...runIds].filter(
          (id) => !status.streams.some((s) => s.lastRun?.runId === id && s.lastStatus === "succeeded")
        )
        if (off.length === 0) break
        if (Date.now() > deadline)
          throw new Error(`${passLabel}: /status.json does not show runs ${off.join(", ")} succeeded`)
        await new Promise((r) => setTimeout(r, 5))
      }
      const ended = Date.now()
      const statAfter = procStat(pid)
      const cpuTicks = (statAfter?.ticks ?? ticksBefore) - ticksBefore
      const rss = rssMiB(pid)
      const calls = tallyDiff(await tally(), before)
      return {
        label: passLabel,
        syncMs: ended - started,
        runsEndedMs: Math.max(...[...ends.values()].map((e) => e.at)) - started,
        answeredMs,
        cpuSeconds: cpuTicks / 100,
        minorFaults:
          statBefore === null || statAfter === null ? null : statAfter.minorFaults - statBefore.minorFaults,
        rss,
        calls,
        rows: [...ends.values()].reduce((n, e) => n + e.rows, 0),
        runs: runIds.size,
        mutated
      }
    }
    return await use({ pass, rssAtStart, sources })
  } catch (e) {
    if (serve !== undefined) console.error(serve.captured.output().slice(-3000))
    throw e
  } finally {
    await serve?.stop()
    await sandbox.close()
  }
}

/**
 * The warm method (issue 10 bench 3 as production runs it): `kura-sync serve --scheduler off`, its
 * warehouse open between passes, against a sandbox apart. A pass is one `POST /sync` (a Cloud
 * Scheduler job for every source; `--triggers per-source`: a `POST /sync/<source>` per source,
 * sent together; 202 at once, the runs go on in the background), timed from just before the first
 * trigger to the pass's close: its runs' end
 * lines (`runEnds`), then the status page showing every run's record (written at the close).
 *
 * Every timed pass is like-for-like: a session of its own (`serveSession`) from the full sync's
 * end state, so it reads one `mutate(0.01)` and nothing an earlier timed pass changed. (Passes of
 * one process seconds apart re-read each other's changes inside Shopify's 5-minute look-back:
 * 183 → 300 → 415 records in session 10, where Cloud Scheduler spaces them by the stream
 * interval.) Session 0 runs the full sync and stops; its directory is copied. Each of `repeats`
 * sessions restores that copy, starts a fresh sandbox and serve, runs a pass with nothing changed
 * (the warm-up a production pass has had: the previous pass of the same process; it is the
 * "unchanged" figure), then `mutate(0.01)` and the timed incremental pass. The look-back and
 * everything else kura-sync does are as shipped. Points are the counting proxies' tally diffed
 * around the pass; CPU s and minor page faults the serve process's from /proc over the pass, RSS its
 * VmRSS after it.
 */
const serveMethod = async () => {
  const loadBefore = load()
  const syncDir = path.join(dir, "sync-serve")
  const afterFull = path.join(dir, "sync-serve-after-full")
  const first = await serveSession("serve-full", syncDir, async (s) => ({
    full: await s.pass("full (first trigger)"),
    rssAtStart: s.rssAtStart,
    sources: s.sources
  }))
  const full = first.full
  copyDurably(syncDir, afterFull)
  const sessions: Array<{ unchanged: WarmPass; incremental: WarmPass; rssAtStart: number | null }> = []
  for (let i = 0; i < repeats; i++) {
    rmSync(syncDir, { recursive: true, force: true })
    copyDurably(afterFull, syncDir)
    sessions.push(
      await serveSession(`serve-${i + 1}`, syncDir, async (s) => ({
        unchanged: await s.pass(`unchanged ${i + 1}`),
        incremental: await s.pass(`incremental ${i + 1}`, 0.01),
        rssAtStart: s.rssAtStart
      }))
    )
  }
  const loadAfter = load()
  const passes = sessions.map((s) => s.incremental)
  const unchanged = sessions.map((s) => s.unchanged)
  const all = [full, ...sessions.flatMap((s) => [s.unchanged, s.incremental])]
  console.log(
    `\nincremental efficiency, warm serve: ${base.scale} orders, ${base.historyDays} days; \`kura-sync serve --scheduler off\` ` +
      `against a sandbox in its own process; a pass is ${perSourceTriggers ? `POST /sync/<source> for ${first.sources.join(", ")} at once` : `one POST /sync (${first.sources.join(", ")})`}, ` +
      `timed from the first trigger to the pass's close (its records on /status.json); the full sync in a session of its own, ` +
      `then ${repeats} session(s) each from the full sync's end state: a fresh sandbox and serve, a pass with nothing changed, ` +
      `mutate(0.01), the timed incremental pass; serve RSS at start ${first.rssAtStart?.toFixed(0) ?? "?"} MiB; ` +
      `load average ${loadBefore} before, ${loadAfter} after\n`
  )
  console.log(
    "| pass | runs | mutated | sync s | runs ended s | triggers answered s | CPU s | minor faults | RSS MiB after | shopify points | shopify req | lightspeed req | stocky req | records read |"
  )
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
  for (const p of all)
    console.log(
      `| ${p.label} | ${p.runs} | ${p.mutated} | ${(p.syncMs / 1000).toFixed(2)} | ${(p.runsEndedMs / 1000).toFixed(2)} | ${(p.answeredMs / 1000).toFixed(2)} | ${p.cpuSeconds.toFixed(2)} | ${p.minorFaults ?? "?"} | ${p.rss?.toFixed(0) ?? "?"} | ${sum(p.calls, "shopify", "cost")} | ` +
        `${apis.map((a) => sum(p.calls, a, "requests")).join(" | ")} | ${p.rows} |`
    )
  const firstSession = sessions[0]
  printCallTable(
    (firstSession === undefined ? [full] : [full, firstSession.unchanged, firstSession.incremental]).map(
      (p) => ({ label: p.label, calls: p.calls })
    )
  )
  const medianOf = (list: ReadonlyArray<WarmPass>) =>
    [...list].sort((a, b) => a.syncMs - b.syncMs)[Math.floor((list.length - 1) / 2)]
  const median = medianOf(passes)
  const medianUnchanged = medianOf(unchanged)
  if (median === undefined || medianUnchanged === undefined) throw new Error("no warm pass")
  const fullPoints = sum(full.calls, "shopify", "cost")
  const pointShares = passes.map((p) => pct(sum(p.calls, "shopify", "cost"), fullPoints))
  const pointShare = [...pointShares].sort((a, b) => a - b)[Math.floor((pointShares.length - 1) / 2)] ?? 0
  const timeShare = pct(median.syncMs, full.syncMs)
  result({
    figure: `incremental Shopify cost points vs full (warm serve; median of ${passes.length} like-for-like passes: ${pointShares.map((s) => `${s.toFixed(2)}%`).join(" / ")})`,
    value: Number(pointShare.toFixed(2)),
    unit: "%",
    target: "≤ 2%",
    met: pointShare <= 2
  })
  result({
    figure: "records read per warm pass: incrementals / unchanged",
    value: `${passes.map((p) => p.rows).join(" / ")} / ${unchanged.map((p) => p.rows).join(" / ")}`
  })
  result({
    figure: "seconds from the triggers to their last 202, each incremental pass (warm serve)",
    value: passes.map((p) => (p.answeredMs / 1000).toFixed(2)).join(" / ")
  })
  result({
    figure: `incremental sync s to the pass's close (runs' last end line), each of ${passes.length} like-for-like passes, a session each (median used; warm serve)`,
    value: passes
      .map((p) => `${(p.syncMs / 1000).toFixed(2)} (${(p.runsEndedMs / 1000).toFixed(2)})`)
      .join(" / ")
  })
  result({
    figure: "incremental sync time vs full (warm serve)",
    value: Number(timeShare.toFixed(1)),
    unit: "%",
    target: "≤ 5%",
    met: timeShare <= 5
  })
  result({
    figure: "incremental CPU seconds vs full (kura-sync serve process; warm serve)",
    value: `${median.cpuSeconds.toFixed(2)} / ${full.cpuSeconds.toFixed(1)}`
  })
  result({
    figure: "minor page faults of the serve process per incremental pass (each, warm serve)",
    value: passes.map((p) => p.minorFaults ?? "?").join(" / ")
  })
  result({
    figure: "unchanged pass (the warm-up of each session): points / time vs full (warm serve; median)",
    value: `${pct(sum(medianUnchanged.calls, "shopify", "cost"), fullPoints).toFixed(2)}% / ${pct(medianUnchanged.syncMs, full.syncMs).toFixed(1)}%`
  })
  result({
    figure:
      "kura-sync serve RSS MiB: full session at start / after the full sync; each session at start / after its two passes (warm serve)",
    value: [
      `${first.rssAtStart?.toFixed(0) ?? "?"} / ${full.rss?.toFixed(0) ?? "?"}`,
      ...sessions.map(
        (s) =>
          `${s.rssAtStart?.toFixed(0) ?? "?"} / ${s.unchanged.rss?.toFixed(0) ?? "?"} / ${s.incremental.rss?.toFixed(0) ?? "?"}`
      )
    ].join("; ")
  })
  result({
    figure: "load average (1/5/15 min) before / after (warm serve)",
    value: `${loadBefore} / ${loadAfter}`
  })
}

if (methods.includes("run")) await runMethod()
if (methods.includes("serve")) await serveMethod()
