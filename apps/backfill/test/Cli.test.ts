import { type ChildProcess, execFile, spawn } from "node:child_process"
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { CloudLogFilter } from "@kura/core"
import { type Sandbox, startSandbox } from "@kura/sandbox"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  DAY,
  envFor,
  loadedOrders,
  queryWarehouse,
  removeTempStores,
  tempDir,
  tempStore,
  testOrders
} from "./support.js"

const appDir = join(dirname(fileURLToPath(import.meta.url)), "..")
const main = join(appDir, "dist", "main.js")

// 2,000 orders over 8 windows of 20 days: each run is several seconds of windows, so the kills and
// signals below land before, between and inside windows, at a third of the 4,000 × 16 windows' cost.
const SCALE = testOrders(2000)
const HISTORY_DAYS = 150

/**
 * The two tests below each start kura-backfill four or five times, one after the other, and each
 * start loads the app afresh: at load 12 on CI's two cores that sum reached the suite's 120 s
 * default. A bound on the sum, not a wait: both finish as soon as their runs do.
 */
const CLI_RUNS_TIMEOUT_MS = 300_000

let sandbox: Sandbox
let from: string
/**
 * Node's compile cache (NODE_COMPILE_CACHE) for every kura-backfill started here: each start after
 * the first loads Effect's compiled modules instead of compiling them again (about a quarter of a
 * start's CPU). It changes no behaviour of the CLI.
 */
let compileCache: string

beforeAll(async () => {
  await promisify(execFile)(process.execPath, [join(appDir, "../../node_modules/tsup/dist/cli-default.js")], {
    cwd: appDir
  })
  sandbox = await startSandbox({ seed: 11, scale: SCALE, historyDays: HISTORY_DAYS, timeScale: 120 })
  from = new Date(sandbox.groundTruth().anchor - (HISTORY_DAYS + 1) * DAY).toISOString()
  compileCache = tempDir("kura-backfill-compile-cache-")
})
afterAll(async () => {
  await sandbox?.close()
  removeTempStores()
})

const run = (args: ReadonlyArray<string>, env: Record<string, string>) => {
  const child = spawn(process.execPath, [main, ...args], {
    cwd: appDir,
    env: { PATH: process.env.PATH ?? "", NODE_COMPILE_CACHE: compileCache, ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  child.stdout?.on("data", (d) => {
    stdout += String(d)
  })
  child.stderr?.on("data", (d) => {
    stderr += String(d)
  })
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal }))
  )
  return { child, done, out: () => stdout, err: () => stderr }
}

/** The backfill the interrupt-and-resume tests stop and start again: 8 windows, 3 at a time. */
const resumableArgs = () => ["shopify", "orders", "--from", from, "--window", "20d", "--concurrency", "3"]

/** The run's outcome lines among the JSON log lines it wrote to stdout. */
const endLines = (stdout: string) =>
  stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { severity: string; message: string })
    .filter((e) => e.message.startsWith("backfill "))
    .map(({ severity, message }) => ({ severity, message }))

const kill = (child: ChildProcess) => {
  if (child.pid !== undefined && child.exitCode === null) child.kill("SIGKILL")
}

describe("kura-backfill (the built CLI)", () => {
  it("turns on Node's compile cache, in the temporary directory when nothing says where", async () => {
    const dir = tempDir("kura-backfill-tmpdir-")
    await promisify(execFile)(process.execPath, [main, "--help"], {
      env: { PATH: process.env.PATH ?? "", TMPDIR: dir }
    })
    expect(readdirSync(dir)).toContain("node-compile-cache")
    const entries = readdirSync(join(dir, "node-compile-cache"), { recursive: true, withFileTypes: true })
    expect(entries.filter((e) => e.isFile()).length).toBeGreaterThan(100)
  })

  it("invalid configuration lists every problem and exits 2", async () => {
    const p = run(["shopify", "ordrs", "--window", "1 month"], {
      KURA_WAREHOUSE: "nope",
      KURA_DUCKDB_WINDOW_CHECKPOINT: "yes",
      KURA_DUCKDB_CHECKPOINT_ORDERS: "0"
    })
    const { code } = await p.done
    expect(code).toBe(2)
    for (const field of [
      "--from",
      "[streams]",
      "--window",
      "KURA_WAREHOUSE",
      "SHOPIFY_SHOP",
      "SHOPIFY_ACCESS_TOKEN",
      "KURA_DUCKDB_WINDOW_CHECKPOINT",
      "KURA_DUCKDB_CHECKPOINT_ORDERS"
    ])
      expect(p.err()).toContain(`${field}:`)
  })

  it("on Cloud Run a refused configuration is also a `backfill failed` log line, so the job's alert sees it", async () => {
    const p = run(["shopify", "orders", "--from", "2026-01-01"], { CLOUD_RUN_JOB: "kura-backfill-shopify" })
    expect((await p.done).code).toBe(2)
    expect(p.err()).toContain("SHOPIFY_SHOP:")
    const entries = p
      .out()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) =>
        CloudLogFilter.entryOf(l, { type: "cloud_run_job", labels: { job_name: "kura-backfill-shopify" } })
      )
    const policy = JSON.parse(
      readFileSync(join(appDir, "deploy/monitoring/backfill-failed.policy.json"), "utf8")
    )
    const hits = entries.filter((e) =>
      CloudLogFilter.matches(policy.conditions[0].conditionMatchedLog.filter, e)
    )
    expect(hits).toHaveLength(1)
    expect(hits[0]).toMatchObject({
      labels: { service: "kura-backfill", source: "shopify" },
      jsonPayload: { reason: "Config", exitCode: 2, error: expect.stringContaining("SHOPIFY_SHOP:") }
    })
  })

  it("an unknown KURA_LOG_FORMAT stops it at start, naming the variable (exit 2)", async () => {
    const p = run(["--help"], { KURA_LOG_FORMAT: "xml" })
    expect((await p.done).code).toBe(2)
    expect(p.err()).toContain('KURA_LOG_FORMAT: "xml" is not a log format')
  })

  it("a warehouse or lake directory it cannot write stops it at start, naming the variable (exit 2)", async () => {
    const store = tempStore()
    const blocker = join(dirname(store.warehouse.slice("duckdb:".length)), "a-file")
    writeFileSync(blocker, "")
    const p = run(["shopify", "orders", "--from", from], {
      ...envFor(sandbox, store),
      KURA_WAREHOUSE: `duckdb:${join(blocker, "kura.duckdb")}`,
      KURA_LAKE: `file:${blocker}`
    })
    const { code } = await p.done
    expect(code).toBe(2)
    expect(p.err()).toContain("KURA_WAREHOUSE: cannot create the DuckDB file in")
    expect(p.err()).toContain("KURA_LAKE: cannot write the raw lake directory")
    expect(p.err()).not.toContain("    at ")
  })

  it(
    "SIGKILL at random points, then a resume, gives the full table with no duplicates and no finished window re-run",
    async () => {
      const store = tempStore()
      const env = envFor(sandbox, store)
      const args = resumableArgs()
      let seed = 12345
      const random = () => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31
        return seed / 2 ** 31
      }
      let killed = 0
      for (let i = 0; i < 3; i++) {
        const p = run(args, env)
        const delay = 1500 + Math.floor(random() * 3000)
        const timer = setTimeout(() => kill(p.child), delay)
        const { signal } = await p.done
        clearTimeout(timer)
        if (signal === "SIGKILL") killed++
      }
      expect(killed).toBeGreaterThan(0)
      const final = run(args, env)
      const { code } = await final.done
      expect(final.err()).toBe("")
      expect(code).toBe(0)
      expect(final.out()).toContain("Every window ties.")
      const loaded = await loadedOrders(store.warehouse)
      expect(loaded.ids.length).toBe(sandbox.groundTruth().counts.onlineOrders)
      expect(loaded.rows).toBe(loaded.ids.length)
      // A finished window is never run again. The one exception is by design: commitRun writes the
      // ledger before the checkpoint, so a kill between the two re-runs that one window (at most
      // one per kill, and harmless since its batch id is deterministic).
      const twice = await queryWarehouse(
        store.warehouse.slice("duckdb:".length),
        "SELECT stream, COUNT(*) AS n FROM _kura_sync_runs WHERE status = 'complete' GROUP BY 1 HAVING COUNT(*) > 1"
      )
      expect(twice.length).toBeLessThanOrEqual(killed)
      for (const row of twice) expect(Number(row.n)).toBeLessThanOrEqual(2)
    },
    CLI_RUNS_TIMEOUT_MS
  )

  it(
    "Ctrl-C stops the run by itself at any point, and the same command then resumes",
    async () => {
      const store = tempStore()
      // Cloud Logging lines, as a Cloud Run Job's task writes them: each stop must say so.
      const env = envFor(sandbox, store, { KURA_LOG_FORMAT: "json" })
      const args = resumableArgs()
      // The warehouse interrupts its running statement and waits for it before closing, so the
      // process exits by itself (130), never through main.ts's 8 s watchdog (a SIGKILL). The bound
      // is the watchdog's, plus slack for a loaded box.
      const deadlineMs = 8_000 + 12_000
      // Signalled at points inside the work, each announced by a line: the plan printed (windows
      // start counting and downloading), then a window finished (others are downloading and loading).
      // The first stop (always reached: a fresh run prints its plan) is a SIGTERM, as a Cloud Run
      // Job gets: it exits 143; Ctrl-C exits 130.
      for (const [marker, nth, signal, exitCode] of [
        ["in the plan", 1, "SIGTERM", 143],
        [" complete shopify/orders/", 1, "SIGINT", 130],
        [" complete shopify/orders/", 2, "SIGINT", 130]
      ] as const) {
        const p = run(args, env)
        const since = Date.now()
        while (
          p.out().split(marker).length - 1 < nth &&
          p.child.exitCode === null &&
          Date.now() - since < 90_000
        )
          await new Promise((resolve) => setTimeout(resolve, 25))
        // A resumed run may finish before its second window (the earlier ones are checkpointed).
        if (p.child.exitCode !== null) continue
        p.child.kill(signal)
        const sentAt = Date.now()
        const stopped = await Promise.race([
          p.done,
          new Promise<"hung">((resolve) => setTimeout(() => resolve("hung"), deadlineMs))
        ])
        if (stopped === "hung") kill(p.child)
        expect(
          stopped,
          `still running ${deadlineMs} ms after ${signal} (sent after "${marker}" #${nth})`
        ).not.toBe("hung")
        expect(Date.now() - sentAt).toBeLessThan(deadlineMs)
        expect(p.err()).not.toContain("did not stop within")
        expect(stopped).toEqual({ code: exitCode, signal: null })
        expect(p.err()).toContain(`kura-backfill: stopping (${signal})`)
        expect(p.err()).toContain("run the same command again to resume")
        expect(endLines(p.out())).toEqual([{ severity: "WARNING", message: "backfill interrupted" }])
      }
      const final = run(args, env)
      const { code } = await final.done
      expect(code).toBe(0)
      expect(final.out()).toContain("Every window ties.")
      expect(endLines(final.out())).toEqual([{ severity: "INFO", message: "backfill finished" }])
      const loaded = await loadedOrders(store.warehouse)
      expect(loaded.ids.length).toBe(sandbox.groundTruth().counts.onlineOrders)
      expect(loaded.rows).toBe(loaded.ids.length)
    },
    CLI_RUNS_TIMEOUT_MS
  )
})
