/**
 * Drives the REAL built `kura-sync run` (apps/sync-runner/dist/main.js) for the checks and benches:
 * KURA_SANDBOX=1 with a fixed seed and anchor, so every restart's in-process sandbox serves the
 * same data, plus the proof's sandbox options (fault profile, a 1% mutation, a call-counting
 * report; see sandbox/wrap.ts, loaded with `--import sandbox/hook.ts`). Also reads back every
 * canonical table of a DuckDB file as counts, content hashes and duplicate keys.
 */
import { mkdirSync, readFileSync, rmSync } from "node:fs"
import path from "node:path"
import { DuckDbWarehouse, Warehouse } from "@kura/warehouse"
import { Effect } from "effect"
import {
  type Captured,
  duplicates,
  fakeClockEnv,
  proofDir,
  type ServeHandle,
  SYNC_RUNNER,
  serveHandle,
  setHash,
  spawnCaptured
} from "./lib.ts"

/** The `--import` hook that puts the proof's options on the in-process sandbox. */
export const SANDBOX_HOOK = path.resolve(import.meta.dirname, "sandbox/hook.ts")

const TODAY = new Date().toISOString().slice(0, 10)

/** What the sandbox of one `kura-sync run` looks like. */
export interface SyncOptions {
  readonly seed?: number
  /** Online orders. */
  readonly scale: number
  readonly historyDays: number
  /**
   * End of generated history, YYYY-MM-DD; default today (fixed once per process, so restarts see
   * the same data). Stocky shut down on 2026-09-01: only an earlier anchor gives Stocky data, but
   * then Lightspeed's day-by-day sync also walks every empty day up to today.
   */
  readonly anchor?: string
  readonly faults?: "none" | "flaky" | "chaos"
  /** Fraction of orders `mutate` changes right after the sandbox starts. */
  readonly mutate?: number
  /** Records per source the sandbox renders malformed (`malformedPerSource`). */
  readonly malformed?: number
  /** Shopify products the sandbox renders malformed (`malformedProducts`). */
  readonly malformedProducts?: number
  readonly timeScale?: number
  readonly plan?: "standard" | "advanced" | "plus" | "enterprise"
  /** Where the sandbox writes its figures and the per-call tally on close. */
  readonly report?: string
  /** The check whose secrets file gets the sandbox's credentials (for the secrets check). */
  readonly secretsOf?: string
}

/** The environment of a `kura-sync run` over a DuckDB file, lake and state dir in `dir`. */
export const syncEnv = (dir: string, o: SyncOptions): Record<string, string> => ({
  HOME: dir,
  KURA_SANDBOX: "1",
  KURA_SANDBOX_SEED: String(o.seed ?? 42),
  KURA_SANDBOX_SCALE: String(o.scale),
  KURA_SANDBOX_HISTORY_DAYS: String(o.historyDays),
  KURA_SANDBOX_ANCHOR: o.anchor ?? TODAY,
  KURA_WAREHOUSE: `duckdb:${path.join(dir, "kura.duckdb")}`,
  KURA_LAKE: `file:${path.join(dir, "lake")}`,
  KURA_STATE_DIR: path.join(dir, "state"),
  ...(o.faults === undefined ? {} : { KURA_PROOF_SANDBOX_FAULTS: o.faults }),
  ...(o.mutate === undefined ? {} : { KURA_PROOF_SANDBOX_MUTATE: String(o.mutate) }),
  ...(o.malformed === undefined ? {} : { KURA_PROOF_SANDBOX_MALFORMED: String(o.malformed) }),
  ...(o.malformedProducts === undefined
    ? {}
    : { KURA_PROOF_SANDBOX_MALFORMED_PRODUCTS: String(o.malformedProducts) }),
  ...(o.timeScale === undefined ? {} : { KURA_PROOF_SANDBOX_TIME_SCALE: String(o.timeScale) }),
  ...(o.plan === undefined ? {} : { KURA_PROOF_SANDBOX_PLAN: o.plan }),
  ...(o.report === undefined ? {} : { KURA_PROOF_SANDBOX_REPORT: o.report }),
  ...(o.secretsOf === undefined
    ? {}
    : { KURA_PROOF_SECRETS_FILE: path.join(proofDir, "secrets", `${o.secretsOf}.txt`) })
})

/** Starts `kura-sync run --force` (every stream) in `dir`. */
export const kuraSyncRun = (label: string, dir: string, o: SyncOptions): Captured => {
  mkdirSync(dir, { recursive: true })
  return spawnCaptured(label, ["--import", SANDBOX_HOOK, SYNC_RUNNER, "run", "--force"], {
    cwd: dir,
    env: syncEnv(dir, o)
  })
}

/** The sandbox script that runs the emulators in their own process (see sandbox/serve.ts). */
export const SANDBOX_SERVER = path.resolve(import.meta.dirname, "sandbox/serve.ts")

/** A sandbox in its own process, and the deployment variables that point kura-sync at it. */
export interface SandboxApart {
  readonly process: Captured
  /** SHOPIFY_* / LIGHTSPEED_* / STOCKY_* as a real deployment sets them. */
  readonly env: Record<string, string>
  /** Stops the sandbox (it writes its report first) and waits for its exit. */
  readonly close: () => Promise<void>
  /**
   * Sends a command to the running sandbox (`mutate <fraction>` or `tally`, see sandbox/serve.ts)
   * and resolves with its answer (`{ mutated }`, `{ calls }`); rejects on an `error` answer.
   */
  readonly ask: (command: string) => Promise<Record<string, unknown>>
}

/**
 * Starts the proof's sandbox in its own process with the options `o` (the same seed, anchor,
 * scale, faults, mutation and report a `KURA_SANDBOX=1` run would get) and waits for its endpoints.
 */
export const startSandboxApart = async (
  label: string,
  dir: string,
  o: SyncOptions
): Promise<SandboxApart> => {
  mkdirSync(dir, { recursive: true })
  const {
    HOME: _home,
    KURA_WAREHOUSE: _w,
    KURA_LAKE: _l,
    KURA_STATE_DIR: _s,
    KURA_SANDBOX: _k,
    ...own
  } = syncEnv(dir, o)
  const proc = spawnCaptured(label, [SANDBOX_SERVER], { cwd: dir, env: own, stdin: "pipe" })
  const marker = "KURA_SANDBOX_ENV "
  const env = await new Promise<Record<string, string>>((resolve, reject) => {
    const check = () => {
      const line = proc
        .stdout()
        .split("\n")
        .find((l) => l.startsWith(marker))
      if (line === undefined) return false
      clearInterval(timer)
      resolve(JSON.parse(line.slice(marker.length)) as Record<string, string>)
      return true
    }
    const timer = setInterval(check, 5)
    proc.exited.then((exit) => {
      if (check()) return
      clearInterval(timer)
      reject(
        new Error(`the sandbox process exited (${exit.code ?? exit.signal}): ${proc.output().slice(-2000)}`)
      )
    })
  })
  let asked = 0
  const answerMarker = "KURA_SANDBOX_ANSWER "
  const ask = (command: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const id = `q${++asked}`
      const prefix = `${answerMarker}{"id":"${id}"`
      const timer = setInterval(() => {
        const line = proc
          .stdout()
          .split("\n")
          .find((l) => l.startsWith(prefix))
        if (line === undefined) {
          if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
            clearInterval(timer)
            reject(new Error(`the sandbox process exited before answering "${command}"`))
          }
          return
        }
        clearInterval(timer)
        const answer = JSON.parse(line.slice(answerMarker.length)) as Record<string, unknown>
        if (typeof answer.error === "string") reject(new Error(`sandbox: ${answer.error}`))
        else resolve(answer)
      }, 2)
      proc.child.stdin?.write(`${id} ${command}\n`)
    })
  return {
    process: proc,
    env,
    ask,
    close: async () => {
      proc.child.stdin?.end()
      if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill("SIGTERM")
      await proc.exited
    }
  }
}

/**
 * Starts `kura-sync run --force` in `dir` against a sandbox in its own process, configured as a
 * real deployment is (`env`: the SHOPIFY_* / LIGHTSPEED_* / STOCKY_* variables, no KURA_SANDBOX).
 * Lightspeed starts where a `KURA_SANDBOX=1` run starts it (the sandbox's history, via
 * KURA_LIGHTSPEED_FROM_DATE, not 400 days back), and refresh tokens rotate in a file that is
 * cleared first: each run's sandbox process issues fresh ones, as the in-process sandbox does (whose
 * runs keep them in memory).
 */
export const kuraSyncRunApart = (
  label: string,
  dir: string,
  o: SyncOptions,
  sandbox: SandboxApart
): Captured =>
  spawnCaptured(label, [SYNC_RUNNER, "run", "--force"], { cwd: dir, env: apartEnv(dir, o, sandbox) })

/**
 * The environment of a kura-sync process in `dir` against a sandbox apart, as `kuraSyncRunApart`
 * describes (it clears the rotated refresh tokens of an earlier sandbox process).
 */
const apartEnv = (dir: string, o: SyncOptions, sandbox: SandboxApart): Record<string, string> => {
  mkdirSync(dir, { recursive: true })
  const own = syncEnv(dir, o)
  rmSync(path.join(own.KURA_STATE_DIR ?? path.join(dir, "state"), "tokens.json"), { force: true })
  const anchor = Date.parse(`${own.KURA_SANDBOX_ANCHOR}T00:00:00Z`)
  const from = new Date(anchor - (o.historyDays + 2) * 86_400_000).toISOString().slice(0, 10)
  const env: Record<string, string> = {
    HOME: dir,
    KURA_WAREHOUSE: own.KURA_WAREHOUSE ?? "",
    KURA_LAKE: own.KURA_LAKE ?? "",
    KURA_STATE_DIR: own.KURA_STATE_DIR ?? "",
    // The bench's own environment must not turn the in-process sandbox back on.
    KURA_SANDBOX: "0",
    KURA_TOKEN_STORE: "file",
    KURA_LIGHTSPEED_FROM_DATE: from,
    ...sandbox.env
  }
  return env
}

/**
 * Starts `kura-sync serve --scheduler off` in `dir` against a sandbox apart, configured as
 * `kuraSyncRunApart` configures `run`, on a port of its own choosing (PORT=0), with `secret` as
 * KURA_TRIGGER_SECRET (the bearer of `POST /sync/<source>`); resolves once /healthz answers. The
 * warm-process method of the incremental bench: one process, its warehouse open between passes,
 * as production's Cloud Run service runs.
 */
export const kuraSyncServeApart = async (
  label: string,
  dir: string,
  o: SyncOptions,
  sandbox: SandboxApart,
  secret: string,
  /** The soak's service: its own scheduler on, and more variables (KURA_CONFIG …). */
  extra: { readonly scheduler?: "on" | "off"; readonly env?: Readonly<Record<string, string>> } = {}
): Promise<ServeHandle> => {
  const env = {
    ...apartEnv(dir, o, sandbox),
    PORT: "0",
    KURA_TRIGGER_SECRET: secret,
    KURA_STATUS_PUBLIC: "1",
    ...extra.env
  }
  // KURA_PROOF_SERVE_NODE_ARGS: Node/V8 flags for the service alone (experiments with flags that
  // NODE_OPTIONS refuses, such as --no-memory-reducer); the bounded re-exec keeps them.
  const nodeArgs = (process.env.KURA_PROOF_SERVE_NODE_ARGS ?? "").split(/\s+/).filter((a) => a !== "")
  // KURA_PROOF_SERVE_FAKETIME: the service alone on a clock off the APIs' (libfaketime, e.g.
  // "+25s" or "-25s"): what a skewed machine clock does to windows and tie-out.
  const skew = process.env.KURA_PROOF_SERVE_FAKETIME
  const skewed = skew === undefined || skew === "" ? {} : fakeClockEnv(skew)
  if (skewed === undefined)
    throw new Error("KURA_PROOF_SERVE_FAKETIME needs libfaketime (apt-get install faketime)")
  const captured = spawnCaptured(
    label,
    [...nodeArgs, SYNC_RUNNER, "serve", "--scheduler", extra.scheduler ?? "off"],
    { cwd: dir, env: { ...env, ...skewed } }
  )
  return serveHandle(captured, path.join(dir, "lake"))
}

/** The end of one run, from kura-sync's `run <status>` log line (JSON, Cloud Logging format). */
export interface RunEnd {
  readonly runId: string | undefined
  readonly stream: string
  readonly status: string
  readonly rows: number
  /** The line's own time (ms): written after the run's ledger record. */
  readonly at: number
}

/**
 * Reads a running kura-sync's run end lines (`run succeeded|failed|interrupted`) as they come:
 * each call returns those written since the last call (complete lines only), from the captured
 * standard output, without asking the service anything.
 */
export const runEndReader = (captured: Captured): (() => Array<RunEnd>) => {
  let offset = 0
  return () => {
    const out = captured.stdout()
    if (out.length < offset) offset = 0 // the capture was trimmed
    const last = out.lastIndexOf("\n")
    if (last < offset) return []
    const ends: Array<RunEnd> = []
    for (const line of out.slice(offset, last).split("\n")) {
      if (!line.includes('"message":"run ')) continue
      try {
        const e = JSON.parse(line) as {
          message?: string
          runId?: string
          stream?: string
          rows?: number
          time?: string
        }
        const status = /^run (succeeded|failed|interrupted)$/.exec(e.message ?? "")?.[1]
        if (status !== undefined)
          ends.push({
            runId: e.runId,
            stream: e.stream ?? "?",
            status,
            rows: e.rows ?? 0,
            at: Date.parse(e.time ?? "")
          })
      } catch {
        // not a JSON log line
      }
    }
    offset = last + 1
    return ends
  }
}

/** A process's resident memory (MiB) from /proc, or null when it is gone. */
export const rssMiB = (pid: number | undefined): number | null => {
  if (pid === undefined) return null
  try {
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]
    return kb === undefined ? null : Number(kb) / 1024
  } catch {
    return null
  }
}

/** One stream's line of `kura-sync run` output. */
export interface StreamLine {
  readonly stream: string
  readonly status: string
  readonly rows: number
  readonly reconciliation: string
  readonly error?: string
}

/** The per-stream result lines `kura-sync run` prints at the end. */
export const streamLines = (output: string): Array<StreamLine> =>
  [
    ...output.matchAll(
      /^(\S+\/\S+\/\S+): (\w+), (\d+) rows, reconciliation ([\w-]+)(?:, error: (.*?))?(?:; API: .*)?$/gm
    )
  ].map((m) => ({
    stream: m[1] ?? "",
    status: m[2] ?? "",
    rows: Number(m[3]),
    reconciliation: m[4] ?? "",
    ...(m[5] === undefined ? {} : { error: m[5].slice(0, 300) })
  }))

/** Per API call shape: requests, GraphQL cost points, throttled answers, bytes. */
export type CallTally = Record<
  string,
  { requests: number; cost: number; requested: number; throttled: number; bytes: number }
>

/** What the wrapped sandbox wrote on close. */
export interface SandboxReport {
  readonly seconds: number
  readonly mutated: number
  readonly stats: Record<string, Record<string, number>>
  readonly faults: Record<string, Record<string, number>>
  readonly calls: CallTally
  /** The sandbox's ground-truth counts (only when records were rendered malformed). */
  readonly truth?: Record<string, unknown>
}

/** Reads a sandbox report written by wrap.ts. */
export const readSandboxReport = (file: string): SandboxReport =>
  JSON.parse(readFileSync(file, "utf8")) as SandboxReport

/** Per canonical table: count, content hash without the per-run lineage columns, duplicate keys. */
export type TableFigures = Record<string, { count: number; hash: string; duplicateKeys: number }>

/**
 * Columns that differ between two fault-free runs of the same data, so they are left out of the
 * content hash: lineage (`_synced_at`, `_batch_id`), `observed_at` (when a stock level was seen),
 * and `updated_at` of Lightspeed items and locations, which K-Series does not date: the mapper
 * stamps the fetch time (measured: two clean runs differ in exactly these columns, nothing else).
 */
const LIGHTSPEED_STAMPED = new Set(["products", "variants", "sku_map", "locations"])

/** Every canonical table's rows, per-run lineage and stamped columns left out (see above). */
export type TableRows = Record<string, Array<Record<string, unknown>>>

/** Reads every canonical (non-underscore) table of a DuckDB warehouse file, volatile columns left out. */
export const readTableRows = (file: string): Promise<TableRows> =>
  Effect.runPromise(
    Effect.gen(function* () {
      const wh = yield* Warehouse
      const names = (yield* wh.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_type = 'BASE TABLE' AND table_name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY table_name"
      )).map((r) => String(r.table_name))
      const out: TableRows = {}
      for (const name of names) {
        const rows = yield* wh.query(`SELECT * FROM "${name}"`)
        out[name] = rows.map((r) => {
          const { _synced_at: _s, _batch_id: _b, observed_at: _o, ...kept } = r
          const rest: Record<string, unknown> = { ...kept }
          if (r.source === "lightspeed" && LIGHTSPEED_STAMPED.has(name)) delete rest.updated_at
          return rest
        })
      }
      return out
    }).pipe(Effect.provide(DuckDbWarehouse.layer({ path: file, migrate: false })))
  )

/** Reads every canonical (non-underscore) table of a DuckDB warehouse file. */
export const readTables = async (file: string): Promise<TableFigures> => {
  const out: TableFigures = {}
  for (const [name, rows] of Object.entries(await readTableRows(file))) {
    const dup = duplicates(rows.map((r) => `${r.source}|${r.source_account}|${r.source_id}`))
    out[name] = { ...setHash(rows), duplicateKeys: dup.length }
  }
  return out
}

/** Tables whose count or hash differ, and the populated tables' row total. */
export const compareTables = (a: TableFigures, b: TableFigures) => {
  const tables = [...new Set([...Object.keys(a), ...Object.keys(b)])]
  const populated = tables.filter((t) => (a[t]?.count ?? 0) > 0)
  const differing = tables.filter((t) => a[t]?.hash !== b[t]?.hash || a[t]?.count !== b[t]?.count)
  const rows = populated.reduce((n, t) => n + (a[t]?.count ?? 0), 0)
  const duplicateKeys = tables.reduce((n, t) => n + (b[t]?.duplicateKeys ?? 0), 0)
  return { tables, populated, differing, rows, duplicateKeys }
}
