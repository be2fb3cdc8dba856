/**
 * Shared plumbing for the reliability checks run by `scripts/chaos.mjs`: the result protocol,
 * order-independent content hashes, child processes whose output is captured for the secrets
 * check, and the registry of secret values every check configured.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createHash } from "node:crypto"
import { appendFileSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import path from "node:path"

/** Marker the runner looks for on a check's stdout. */
export const RESULT_MARKER = "KURA_PROOF_RESULT "

/** What one check reports. `figure` is the one-line number a reader looks at. */
export interface CheckResult {
  readonly check: string
  readonly pass: boolean
  readonly figure: string
  readonly details?: Readonly<Record<string, unknown>>
  /** The check could not run here (a tool it needs is missing); the runner prints SKIP. */
  readonly skipped?: boolean
}

/** True for `node scripts/chaos.mjs --quick`. */
export const quick = process.env.KURA_PROOF_QUICK === "1"

/** The run's working directory (logs, secrets, temp data); the runner sets it. */
export const proofDir: string = process.env.KURA_PROOF_DIR ?? mkdtempSync(path.join(tmpdir(), "kura-proof-"))
mkdirSync(path.join(proofDir, "logs"), { recursive: true })
mkdirSync(path.join(proofDir, "secrets"), { recursive: true })

/** A fresh directory for one check's data. */
export const workDir = (name: string): string => {
  const dir = path.join(proofDir, "work", name)
  mkdirSync(dir, { recursive: true })
  return dir
}

/** Records secret values a check configured, so the secrets check can search every log for them. */
export const registerSecrets = (check: string, values: ReadonlyArray<string>): void => {
  const file = path.join(proofDir, "secrets", `${check}.txt`)
  appendFileSync(
    file,
    values
      .filter((v) => v.length >= 6)
      .map((v) => `${v}\n`)
      .join("")
  )
}

/** Prints the result line and exits (0 pass, 1 fail). */
export const finish = (result: CheckResult): never => {
  process.stdout.write(`${RESULT_MARKER}${JSON.stringify(result, jsonReplacer)}\n`)
  process.exit(result.pass ? 0 : 1)
}

/** Runs a check body; any exception becomes a FAIL with its message. */
export const runCheck = async (check: string, body: () => Promise<CheckResult>): Promise<never> => {
  const watchdog = setTimeout(
    () => finish({ check, pass: false, figure: "timed out" }),
    Number(process.env.KURA_PROOF_TIMEOUT_MS ?? (quick ? 170_000 : 1_200_000))
  )
  watchdog.unref()
  try {
    return finish(await body())
  } catch (error) {
    const message = error instanceof Error ? `${error.message}\n${error.stack ?? ""}` : String(error)
    process.stderr.write(`${check} crashed: ${message}\n`)
    return finish({ check, pass: false, figure: `crashed: ${message.split("\n")[0]}` })
  }
}

/** JSON replacer that keeps bigints and drops nothing. */
export const jsonReplacer = (_key: string, value: unknown): unknown =>
  typeof value === "bigint" ? `${value}n` : value

/** A canonical text form: keys sorted, `toJSON` honoured (Decimal, DateTime), bigints kept exact. */
export const canonical = (value: unknown): string => {
  const walk = (v: unknown): unknown => {
    if (v !== null && typeof v === "object" && typeof (v as { toJSON?: unknown }).toJSON === "function") {
      v = (v as { toJSON: () => unknown }).toJSON()
    }
    if (typeof v === "bigint") return `${v}n`
    if (Array.isArray(v)) return v.map(walk)
    if (v !== null && typeof v === "object") {
      const out: Record<string, unknown> = {}
      for (const k of Object.keys(v).sort()) out[k] = walk((v as Record<string, unknown>)[k])
      return out
    }
    return v
  }
  return JSON.stringify(walk(value))
}

/** Order-independent hash of a record set: sha256 over the sorted per-record hashes. */
export const setHash = (records: Iterable<unknown>): { count: number; hash: string } => {
  const hashes: Array<string> = []
  for (const r of records) hashes.push(createHash("sha256").update(canonical(r)).digest("hex"))
  hashes.sort()
  const h = createHash("sha256")
  for (const x of hashes) h.update(x)
  return { count: hashes.length, hash: h.digest("hex").slice(0, 16) }
}

/** Keys that occur more than once. */
export const duplicates = (keys: Iterable<string>): Array<string> => {
  const seen = new Set<string>()
  const dup = new Set<string>()
  for (const k of keys) (seen.has(k) ? dup : seen).add(k)
  return [...dup]
}

/** The built sync-runner CLI. */
export const SYNC_RUNNER = path.resolve(import.meta.dirname, "../../apps/sync-runner/dist/main.js")

/** A child process whose stdout/stderr are captured to the run's log directory (and kept in memory). */
export interface Captured {
  readonly child: ChildProcess
  readonly output: () => string
  /** Standard output alone (a command's data, without its log lines on stderr). */
  readonly stdout: () => string
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

let spawnCount = 0

/** Spawns `args` under this Node (24) with captured output. */
export const spawnCaptured = (
  label: string,
  args: ReadonlyArray<string>,
  options: {
    readonly env?: Readonly<Record<string, string>>
    readonly cwd?: string
    /** "pipe": the child's stdin stays open for the caller to write (`child.stdin`); default ignored. */
    readonly stdin?: "pipe"
  } = {}
): Captured => {
  const logFile = path.join(proofDir, "logs", `child-${label}-${process.pid}-${++spawnCount}.log`)
  const stream = createWriteStream(logFile)
  let text = ""
  let out = ""
  const child = spawn(process.execPath, [...args], {
    cwd: options.cwd ?? process.cwd(),
    env: { ...process.env, NODE_NO_WARNINGS: "1", ...options.env },
    stdio: [options.stdin ?? "ignore", "pipe", "pipe"]
  })
  const onData = (chunk: Buffer) => {
    const s = chunk.toString("utf8")
    text += s
    if (text.length > 4_000_000) text = text.slice(-2_000_000)
    stream.write(chunk)
  }
  child.stdout?.on("data", (chunk: Buffer) => {
    out += chunk.toString("utf8")
    if (out.length > 4_000_000) out = out.slice(-2_000_000)
    onData(chunk)
  })
  child.stderr?.on("data", onData)
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on("exit", (code, signal) => {
      stream.end()
      resolve({ code, signal })
    })
  })
  return { child, output: () => text, stdout: () => out, exited }
}

/** Waits until `probe` resolves true, polling. */
export const waitFor = async (
  probe: () => Promise<boolean>,
  timeoutMs: number,
  what: string
): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    try {
      if (await probe()) return
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** Writes a JSON file (bigints as `123n`). */
export const writeJson = (file: string, value: unknown): void => {
  writeFileSync(file, `${JSON.stringify(value, jsonReplacer, 2)}\n`)
}

/** Formats a fault report `{ api: { kind: n } }` as `api.kind=n` pairs, skipping zeros. */
export const faultSummary = (report: Readonly<Record<string, Readonly<Record<string, number>>>>): string => {
  const parts: Array<string> = []
  for (const [api, kinds] of Object.entries(report))
    for (const [kind, n] of Object.entries(kinds)) if (n > 0) parts.push(`${api}.${kind}=${n}`)
  return parts.join(" ")
}

/** A running `kura-sync serve`. */
export interface ServeHandle {
  readonly url: string
  readonly lakeDir: string
  readonly captured: Captured
  readonly stop: () => Promise<void>
}

/**
 * The port a `kura-sync serve` started with PORT=0 bound, read from its "listening on port N" log
 * line. (A port picked by the caller and bound later by the child can be taken in between.)
 */
export const servePort = async (captured: Captured, label: string): Promise<number> => {
  let exited = false
  void captured.exited.then(() => {
    exited = true
  })
  let port = 0
  await waitFor(
    async () => {
      if (exited) throw new Error(`${label} exited early:\n${captured.output().slice(-2000)}`)
      port = Number(/listening on port (\d+)/.exec(captured.output())?.[1] ?? 0)
      return port > 0 && (await fetch(`http://127.0.0.1:${port}/healthz`)).ok
    },
    60_000,
    `${label} /healthz`
  ).catch((e) => {
    if (exited) throw new Error(`${label} exited early:\n${captured.output().slice(-2000)}`)
    throw e
  })
  return port
}

/** Starts `kura-sync serve` on a port of its own choosing over a DuckDB file and a local lake in `dir`. */
export const startServe = async (
  label: string,
  dir: string,
  env: Readonly<Record<string, string>>
): Promise<ServeHandle> => {
  const lakeDir = path.join(dir, "lake")
  const captured = spawnCaptured(label, [SYNC_RUNNER, "serve", "--scheduler", "off"], {
    cwd: dir,
    env: {
      PORT: "0",
      KURA_WAREHOUSE: `duckdb:${path.join(dir, "kura.duckdb")}`,
      KURA_LAKE: `file:${lakeDir}`,
      ...env
    }
  })
  return serveHandle(captured, lakeDir)
}

/**
 * The handle of a started `kura-sync serve`, once it listens: `stop` sends SIGTERM (the drain) and
 * SIGKILLs a serve still running 15 s later.
 */
export const serveHandle = async (captured: Captured, lakeDir: string): Promise<ServeHandle> => {
  const url = `http://127.0.0.1:${await servePort(captured, "kura-sync serve")}`
  return {
    url,
    lakeDir,
    captured,
    stop: async () => {
      captured.child.kill("SIGTERM")
      const timer = setTimeout(() => captured.child.kill("SIGKILL"), 15_000)
      await captured.exited
      clearTimeout(timer)
    }
  }
}

/** Every NDJSON record landed in a local lake directory (gzip or plain), with its file. */
export const lakeRecords = async (dir: string): Promise<Array<{ file: string; line: string }>> => {
  const { readdir, readFile } = await import("node:fs/promises")
  const { gunzipSync } = await import("node:zlib")
  const out: Array<{ file: string; line: string }> = []
  let entries: Array<string>
  try {
    entries = (await readdir(dir, { recursive: true })).map(String)
  } catch {
    return out
  }
  for (const rel of entries) {
    if (!/\.ndjson(\.gz)?$/.test(rel)) continue
    const file = path.join(dir, rel)
    // A write-ahead segment can be landed and deleted between the listing and this read.
    const raw = await readFile(file).catch((e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT") return undefined
      throw e
    })
    if (raw === undefined) continue
    const text = rel.endsWith(".gz") ? gunzipSync(raw).toString("utf8") : raw.toString("utf8")
    for (const line of text.split("\n")) if (line.trim() !== "") out.push({ file: rel, line })
  }
  return out
}

/** Shopify's webhook signature: base64 HMAC-SHA256 of the raw body. */
export const shopifyHmac = async (secret: string, body: string | Uint8Array): Promise<string> => {
  const { createHmac } = await import("node:crypto")
  return createHmac("sha256", secret).update(body).digest("base64")
}

/** Where Debian puts libfaketime (`apt-get install faketime`). */
const LIBFAKETIME = [
  "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
  "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1"
]

/**
 * The environment that runs a process on libfaketime's clock: `spec` is its FAKETIME, an absolute
 * start ("@2026-11-28 23:59:57") or an offset ("+25s"). The library is preloaded into the process
 * itself (the `faketime` wrapper would stand between a stop signal and it), and
 * FAKETIME_DONT_RESET keeps one clock across re-executions and child processes. Undefined where
 * libfaketime is not installed.
 */
export const fakeClockEnv = (spec: string): Readonly<Record<string, string>> | undefined => {
  const lib = LIBFAKETIME.find((f) => existsSync(f))
  return lib === undefined ? undefined : { LD_PRELOAD: lib, FAKETIME: spec, FAKETIME_DONT_RESET: "1" }
}
