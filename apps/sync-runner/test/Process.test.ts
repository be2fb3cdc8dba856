import { type ChildProcess, execFile, spawn } from "node:child_process"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { DuckDbWarehouse, Warehouse } from "@kura/warehouse"
import { Effect, Option } from "effect"
import { afterAll, beforeAll, describe, expect, inject, it, onTestFinished } from "vitest"
import { spawnEnv } from "./support.js"

// These tests drive the BUILT app, as Cloud Run would run it (built once per run by globalSetup).
const main = join(inject("builtAppDir"), "main.js")
let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kura-sync-"))
})
afterAll(() => rm(dir, { recursive: true, force: true }))

const cleanEnv = (extra: Record<string, string>) => {
  const env: Record<string, string> = { ...spawnEnv(), HOME: dir }
  return { ...env, ...extra }
}

const exitOf = (child: ChildProcess) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((ok) =>
    child.on("exit", (code, signal) => ok({ code, signal }))
  )

/** A test that fails before stopping its child must not leave it running (it holds ports and files). */
const killIfLeft = (child: ChildProcess) =>
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  })

/** How long a stopped run may take to exit: seconds normally, with slack for a box at load 20. */
const STOP_BOUND_MS = 30_000

/** The built app started with `args`; its output collected, and `waitFor` polls it for a text. */
const started = (args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const child = spawn(process.execPath, [main, ...args], { env: cleanEnv(env), cwd: dir })
  const exited = exitOf(child)
  killIfLeft(child)
  let out = ""
  let err = ""
  child.stdout.on("data", (d) => {
    out += String(d)
  })
  child.stderr.on("data", (d) => {
    err += String(d)
  })
  const waitFor = async (text: string) => {
    const since = Date.now()
    while (!(out + err).includes(text)) {
      if (child.exitCode !== null) throw new Error(`exited ${child.exitCode} before "${text}":\n${out}${err}`)
      if (Date.now() - since > 60_000) throw new Error(`no "${text}" within 60 s:\n${out}${err}`)
      await new Promise((r) => setTimeout(r, 25))
    }
  }
  return { child, exited, waitFor, out: () => out, err: () => err }
}

describe("kura-sync (built)", () => {
  it("exits 2 with one message listing every configuration problem", async () => {
    const child = spawn(process.execPath, [main, "run"], {
      env: cleanEnv({ SHOPIFY_SHOP: "nope", STOCKY_API_KEY: "k", PORT: "x" }),
      cwd: dir
    })
    let stderr = ""
    child.stderr.on("data", (d) => {
      stderr += String(d)
    })
    const { code } = await exitOf(child)
    expect(code).toBe(2)
    expect(stderr).toMatch(/^Invalid configuration \(4 problems\):/)
    expect(stderr).toContain("SHOPIFY_ACCESS_TOKEN: no credentials for SHOPIFY_SHOP")
    expect(stderr).toContain("STOCKY_STORE_NAME: missing while STOCKY_API_KEY is set")
    expect(stderr).not.toMatch(/at .*\.js:\d+/)
  })

  it("run says which sources are skipped and exits 0 when every stream succeeds", async () => {
    const config = join(dir, "run.json")
    await writeFile(
      config,
      JSON.stringify({
        lake: `file:${join(dir, "lake-run")}`,
        warehouse: `duckdb:${join(dir, "run.duckdb")}`,
        demo: [{ name: "orders", pages: 2, pageDelay: "10ms" }]
      })
    )
    const { stdout } = await promisify(execFile)(process.execPath, [main, "run", "--config", config], {
      env: cleanEnv({}),
      cwd: dir
    })
    expect(stdout).toContain("shopify: skipped (no SHOPIFY_SHOP")
    expect(stdout).toContain("lightspeed: skipped")
    expect(stdout).toContain("demo/demo/orders: succeeded, 200 rows, reconciliation ok")
    // A second pass right away finds nothing due (default interval 15m); --force runs it anyway.
    const again = await promisify(execFile)(process.execPath, [main, "run", "--config", config], {
      env: cleanEnv({}),
      cwd: dir
    })
    expect(again.stdout).toMatch(
      /demo\/demo\/orders: not due \(last success \d+s ago, interval 15m; --force runs it\)/
    )
    const forced = await promisify(execFile)(process.execPath, [main, "run", "--config", config, "--force"], {
      env: cleanEnv({}),
      cwd: dir
    })
    expect(forced.stdout).toContain("demo/demo/orders: succeeded, 200 rows")
    const status = await promisify(execFile)(
      process.execPath,
      [main, "status", "--config", config, "--json"],
      {
        env: cleanEnv({}),
        cwd: dir
      }
    )
    const parsed = JSON.parse(status.stdout)
    expect(parsed.streams[0]).toMatchObject({
      stream: "demo/demo/orders",
      cursor: "4",
      lastStatus: "succeeded"
    })
  })

  it("run as a Cloud Run Job logs Cloud Logging JSON lines labelled with the service and stream; a bad KURA_LOG_FORMAT exits 2", async () => {
    const config = join(dir, "job.json")
    await writeFile(
      config,
      JSON.stringify({
        lake: `file:${join(dir, "lake-job")}`,
        warehouse: `duckdb:${join(dir, "job.duckdb")}`,
        demo: [{ name: "orders", pages: 2, pageDelay: "10ms" }]
      })
    )
    const job = {
      CLOUD_RUN_JOB: "kura-sync-run",
      CLOUD_RUN_TASK_INDEX: "0",
      GOOGLE_CLOUD_PROJECT: "kura-test"
    }
    const { stdout } = await promisify(execFile)(process.execPath, [main, "run", "--config", config], {
      env: cleanEnv(job),
      cwd: dir
    })
    const entries = stdout
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(entries.find((e) => e.message === "run succeeded")).toMatchObject({
      severity: "INFO",
      "logging.googleapis.com/labels": { service: "kura-sync", stream: "demo/demo/orders" }
    })
    expect(entries.map((e) => (e["logging.googleapis.com/labels"] as { service?: string }).service)).toEqual(
      entries.map(() => "kura-sync")
    )
    // The run's report stays plain lines for the job's log: they are output, not log calls.
    expect(stdout).toContain("shopify: skipped (no SHOPIFY_SHOP")
    expect(stdout).toContain("demo/demo/orders: succeeded, 200 rows")
    // Off Cloud Run the same command keeps readable lines.
    const local = await promisify(execFile)(process.execPath, [main, "run", "--config", config, "--force"], {
      env: cleanEnv({}),
      cwd: dir
    })
    expect(local.stdout.split("\n").some((l) => l.startsWith("{"))).toBe(false)
    const bad = spawn(process.execPath, [main, "run", "--config", config], {
      env: cleanEnv({ ...job, KURA_LOG_FORMAT: "xml" }),
      cwd: dir
    })
    let stderr = ""
    bad.stderr.on("data", (d) => {
      stderr += String(d)
    })
    expect((await exitOf(bad)).code).toBe(2)
    expect(stderr).toContain('KURA_LOG_FORMAT: "xml" is not a log format')
  })

  it("a config file with several shops and POS accounts plans all their streams; schedules apply per stream", async () => {
    const config = join(dir, "multi.json")
    await writeFile(
      config,
      JSON.stringify({
        lake: `file:${join(dir, "lake-multi")}`,
        warehouse: `duckdb:${join(dir, "multi.duckdb")}`,
        defaultInterval: "15m",
        schedules: { demo: "2h", "demo/fast": "1m" },
        shopify: [
          { shop: "kura-matcha.myshopify.com", accessToken: "shpat_test" },
          { shop: "kura-tea.myshopify.com", clientId: "client", clientSecret: "secret" }
        ],
        lightspeed: [
          { name: "tokyo", clientId: "a", clientSecret: "b", refreshToken: "c" },
          { name: "osaka", clientId: "d", clientSecret: "e", refreshToken: "f" }
        ],
        stocky: [{ storeName: "kura-matcha.myshopify.com", apiKey: "k" }],
        demo: [
          { name: "slow", pages: 1, pageDelay: "1ms" },
          { name: "fast", pages: 1, pageDelay: "1ms" }
        ]
      })
    )
    const status = await promisify(execFile)(
      process.execPath,
      [main, "status", "--config", config, "--json"],
      {
        env: cleanEnv({}),
        cwd: dir
      }
    )
    const streams: ReadonlyArray<string> = JSON.parse(status.stdout).streams.map(
      (s: { stream: string }) => s.stream
    )
    for (const stream of [
      "shopify/kura-matcha.myshopify.com/orders",
      "shopify/kura-tea.myshopify.com/orders",
      "lightspeed/tokyo/sales",
      "lightspeed/osaka/sales",
      "stocky/kura-matcha.myshopify.com/purchase_orders",
      "demo/demo/slow",
      "demo/demo/fast"
    ])
      expect(streams).toContain(stream)
    // Only the demo source runs here (the others would call real APIs); the second pass shows
    // each stream's own interval: the source-level "demo" and the more specific "demo/fast".
    const run = (args: ReadonlyArray<string>) =>
      promisify(execFile)(process.execPath, [main, "run", "--config", config, "--source", "demo", ...args], {
        env: cleanEnv({}),
        cwd: dir
      })
    const first = await run([])
    expect(first.stdout).toContain("demo/demo/slow: succeeded")
    expect(first.stdout).toContain("demo/demo/fast: succeeded")
    const second = await run([])
    expect(second.stdout).toMatch(/demo\/demo\/slow: not due \(last success \d+s ago, interval 2h 0m;/)
    expect(second.stdout).toMatch(/demo\/demo\/fast: not due \(last success \d+s ago, interval 1m;/)
  })

  it("on SIGTERM drains the run in flight, commits its checkpoint and exits 0", async () => {
    const config = join(dir, "serve.json")
    const lake = join(dir, "lake-serve")
    const database = join(dir, "serve.duckdb")
    await writeFile(
      config,
      JSON.stringify({
        lake: `file:${lake}`,
        warehouse: `duckdb:${database}`,
        demo: [{ name: "orders", pages: 100, rowsPerPage: 10, pageDelay: "100ms" }]
      })
    )
    const secret = "sigterm-test-secret-0123456789"
    const child = spawn(process.execPath, [main, "serve", "--config", config, "--scheduler", "off"], {
      env: cleanEnv({ PORT: "0", KURA_TRIGGER_SECRET: secret, GOOGLE_CLOUD_PROJECT: "kura-test" }),
      cwd: dir
    })
    const exited = exitOf(child)
    killIfLeft(child)
    const lines: Array<Record<string, unknown>> = []
    let buffer = ""
    const port = await new Promise<number>((ok, fail) => {
      child.stdout.on("data", (d) => {
        buffer += String(d)
        let i = buffer.indexOf("\n")
        while (i >= 0) {
          const line = buffer.slice(0, i)
          buffer = buffer.slice(i + 1)
          i = buffer.indexOf("\n")
          const entry = JSON.parse(line) as Record<string, unknown>
          lines.push(entry)
          const m = /^listening on port (\d+)$/.exec(String(entry.message))
          if (m) ok(Number(m[1]))
        }
      })
      // Until it listens, however long a loaded box takes to start Node (32-37 s at load 14-16,
      // past the 20 s bound this had); a process that exits first fails here at once.
      void exited.then((e) => fail(new Error(`serve exited (${e.code ?? e.signal}) before it listened`)))
    })
    const trace = "105445aa7843bc8bf206b12000100000"
    const res = await fetch(`http://127.0.0.1:${port}/sync/demo/orders`, {
      method: "POST",
      headers: { authorization: `Bearer ${secret}`, "x-cloud-trace-context": `${trace}/1;o=1` }
    })
    expect(res.status).toBe(202)
    // Until the run is in flight with at least two pages committed (a fixed wait was too short
    // at load 20); the service's own status page says so.
    const until = Date.now() + 60_000
    for (;;) {
      const page = await fetch(`http://127.0.0.1:${port}/status.json`, {
        headers: { authorization: `Bearer ${secret}` }
      })
      const streams = page.ok
        ? ((await page.json()) as { streams: Array<Record<string, unknown>> }).streams
        : []
      const orders = streams.find((s) => s.stream === "demo/demo/orders")
      if (orders?.lastStatus === "running" && Number(orders.cursor ?? 0) >= 2) break
      if (Date.now() > until) throw new Error(`the run did not get going: ${JSON.stringify(streams)}`)
      await new Promise((r) => setTimeout(r, 50))
    }
    // While serve holds the DuckDB file, `status --url` asks the running service instead.
    const status = await promisify(execFile)(
      process.execPath,
      [main, "status", "--url", `http://127.0.0.1:${port}`, "--json"],
      { env: cleanEnv({}), cwd: dir }
    )
    expect(JSON.parse(status.stdout).streams).toEqual([
      expect.objectContaining({ stream: "demo/demo/orders", lastStatus: "running" })
    ])
    child.kill("SIGTERM")
    const { code } = await exited
    expect(code).toBe(0)
    // The 100-page run (10 s) was cut short at a page boundary, not run to the end: the
    // checkpoint below is under 100 pages and says it stopped early (a wall-clock bound here
    // failed at load 20 without saying anything more).

    // The checkpoint was committed to the warehouse's sync state before exit.
    const key = { source: "demo", account: "demo", stream: "orders" }
    const { checkpoint, runs } = await Effect.runPromise(
      Effect.gen(function* () {
        const w = yield* Warehouse
        return { checkpoint: yield* w.checkpoints.get(key), runs: yield* w.listRuns(key) }
      }).pipe(Effect.provide(DuckDbWarehouse.layer({ path: database })))
    )
    const pages = Number(Option.getOrThrow(checkpoint).cursor)
    expect(pages).toBeGreaterThanOrEqual(2)
    expect(pages).toBeLessThan(100)
    // The run history is the warehouse ledger: the drained run is complete at the committed page.
    expect(runs.at(-1)).toMatchObject({
      status: "complete",
      cursorBefore: null,
      cursorAfter: String(pages),
      rowsLoaded: pages * 10
    })
    expect(Option.getOrThrow(checkpoint).meta).toMatchObject({ stoppedEarly: true })

    // Cloud Run log conventions: severity on every line, the request's trace on its lines.
    expect(lines.every((l) => typeof l.severity === "string")).toBe(true)
    expect(
      lines.some((l) => l["logging.googleapis.com/trace"] === `projects/kura-test/traces/${trace}`)
    ).toBe(true)
    // Two Node processes start in turn (serve, then status): 30-40 s each to start at load
    // 14-16, which with the run and its drain left little of the default 120 s.
  }, 240_000)

  it("a run stopped by Ctrl-C exits 130, not 0 (it did not finish its pass), within seconds; the same command resumes", async () => {
    const config = join(dir, "interrupted.json")
    await writeFile(
      config,
      JSON.stringify({
        lake: `file:${join(dir, "lake-interrupted")}`,
        warehouse: `duckdb:${join(dir, "interrupted.duckdb")}`,
        demo: [{ name: "orders", pages: 30, rowsPerPage: 10, pageDelay: "200ms" }]
      })
    )
    const p = started(["run", "--config", config])
    // Signalled once the warehouse is open and the stream runs (a loaded box takes seconds to get there).
    await p.waitFor("stream(s) running")
    p.child.kill("SIGINT")
    const sentAt = Date.now()
    const { code } = await p.exited
    expect(code).toBe(130)
    // The stream is interrupted and the warehouse closes: seconds, with slack for load 20.
    expect(Date.now() - sentAt).toBeLessThan(STOP_BOUND_MS)
    expect(p.err()).toContain("kura-sync: stopping (SIGINT)")
    expect(p.err()).toContain("run the same command again to resume")
    // Resumed: the pass completes from the checkpoint the interrupted run committed.
    const resumed = await promisify(execFile)(
      process.execPath,
      [main, "run", "--config", config, "--force"],
      {
        env: cleanEnv({}),
        cwd: dir
      }
    )
    expect(resumed.stdout).toContain("demo/demo/orders: succeeded")
  })

  it("a second Ctrl-C exits at once, without waiting for serve's drain", async () => {
    const config = join(dir, "interrupted-twice.json")
    await writeFile(
      config,
      JSON.stringify({
        lake: `file:${join(dir, "lake-interrupted-twice")}`,
        warehouse: `duckdb:${join(dir, "interrupted-twice.duckdb")}`,
        // A page takes a minute: the drain after the first Ctrl-C waits for it.
        demo: [{ name: "orders", pages: 3, rowsPerPage: 10, pageDelay: "60s" }]
      })
    )
    const secret = "second-ctrl-c-secret-0123456789"
    const p = started(["serve", "--config", config, "--scheduler", "off"], {
      PORT: "0",
      KURA_TRIGGER_SECRET: secret,
      KURA_DRAIN_TIMEOUT: "2m"
    })
    await p.waitFor("listening on port")
    const port = Number(/listening on port (\d+)/.exec(p.out())?.[1])
    const res = await fetch(`http://127.0.0.1:${port}/sync/demo/orders`, {
      method: "POST",
      headers: { authorization: `Bearer ${secret}` }
    })
    expect(res.status).toBe(202)
    p.child.kill("SIGINT")
    await p.waitFor("draining 1 run(s)")
    expect(p.child.exitCode).toBeNull()
    p.child.kill("SIGINT")
    const sentAt = Date.now()
    const { code } = await p.exited
    expect(code).toBe(130)
    expect(Date.now() - sentAt).toBeLessThan(STOP_BOUND_MS)
    expect(p.err()).toContain("kura-sync: SIGINT again, exiting now")
  })

  it("status --url names the fix when the status page is protected, and sends KURA_TRIGGER_SECRET", async () => {
    const config = join(dir, "protected.json")
    await writeFile(
      config,
      JSON.stringify({
        lake: `file:${join(dir, "lake-protected")}`,
        warehouse: `duckdb:${join(dir, "protected.duckdb")}`,
        demo: [{ name: "orders", pages: 1 }]
      })
    )
    const secret = "protected-status-secret-0123456789"
    const child = spawn(process.execPath, [main, "serve", "--config", config, "--scheduler", "off"], {
      env: cleanEnv({ PORT: "0", KURA_TRIGGER_SECRET: secret, KURA_STATUS_PUBLIC: "0" }),
      cwd: dir
    })
    const exited = exitOf(child)
    try {
      let buffer = ""
      const port = await new Promise<number>((ok, fail) => {
        child.stdout.on("data", (d) => {
          buffer += String(d)
          const m = /"listening on port (\d+)"/.exec(buffer)
          if (m) ok(Number(m[1]))
        })
        // Until it listens (see the SIGTERM test); a process that exits first fails here at once.
        void exited.then((e) => fail(new Error(`serve exited (${e.code ?? e.signal}) before it listened`)))
      })
      const url = `http://127.0.0.1:${port}`
      const refused = await promisify(execFile)(process.execPath, [main, "status", "--url", url], {
        env: cleanEnv({}),
        cwd: dir
      }).catch((e: { code?: number; stderr?: string }) => e)
      expect("code" in refused ? refused.code : 0).toBe(1)
      expect(String(refused.stderr)).toContain("HTTP 401: the status page is protected")
      expect(String(refused.stderr)).toContain("KURA_TRIGGER_SECRET")
      const allowed = await promisify(execFile)(process.execPath, [main, "status", "--url", url, "--json"], {
        env: cleanEnv({ KURA_TRIGGER_SECRET: secret }),
        cwd: dir
      })
      expect(JSON.parse(allowed.stdout).streams).toEqual([
        expect.objectContaining({ stream: "demo/demo/orders" })
      ])
    } finally {
      child.kill("SIGTERM")
      await exited
    }
  })
})
