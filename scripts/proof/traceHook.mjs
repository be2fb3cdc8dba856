/**
 * Traces a real `kura-sync` process for the proof benches: `NODE_OPTIONS="--import <this file's
 * absolute path>"` (the children start in directories of their own) with `KURA_PROOF_TRACE_DIR=dir`
 * appends JSON lines to `dir/trace-<pid>.jsonl`:
 *
 * - `sql`: every DuckDB statement (`run`, `stream`, `createAppender` of @duckdb/node-api), from its
 *   call to its answer (`t0`, `t1`, epoch ms), its first 160 characters, and the WAL file's size
 *   before and after (a size that drops is an automatic checkpoint inside that statement).
 * - `span`: every Effect span that ends (`n` name, `t0`/`t1`, `url` of an HTTP request span).
 * - `gc`: garbage collections (`d` ms); `lag`: the event loop's delay each second (max, p99, mean).
 *
 * Only a process whose argv holds `sync-runner/dist/main.js` or `backfill/dist/main.js` records (the bench and the sandbox
 * load the hook too and ignore it). Nothing kura-sync does changes: the hook only wraps methods
 * to time them. `node scripts/proof/traceReport.mjs dir from to` summarises a window of it; the
 * sandbox's side (each API call as the emulators answered it) is `KURA_PROOF_SANDBOX_TRACE`
 * (sandbox/wrap.ts). Command of the session-11 trace (BENCHMARKS §3):
 * `NODE_OPTIONS="--import $PWD/scripts/proof/traceHook.mjs" KURA_PROOF_TRACE_DIR=/tmp/t
 * KURA_PROOF_SANDBOX_TRACE=/tmp/t/proxy.jsonl npx node scripts/proof/bench/incremental.ts
 * --method serve --repeat 1`.
 */
import { appendFileSync, statSync } from "node:fs"
import { createRequire } from "node:module"
import path from "node:path"
import { monitorEventLoopDelay, PerformanceObserver, performance } from "node:perf_hooks"
import { pathToFileURL } from "node:url"

const out = process.env.KURA_PROOF_TRACE_DIR
const isSync = process.argv.some((a) => /(sync-runner|backfill)\/dist\/main\.js/.test(a))

if (out !== undefined && isSync) {
  const root = path.resolve(import.meta.dirname, "../..")
  const file = path.join(out, `trace-${process.pid}.jsonl`)
  let buffered = []
  const now = () => performance.timeOrigin + performance.now()
  const record = (entry) => buffered.push(JSON.stringify(entry))
  const flush = () => {
    if (buffered.length === 0) return
    appendFileSync(file, `${buffered.join("\n")}\n`)
    buffered = []
  }
  setInterval(flush, 500).unref()
  process.on("exit", flush)

  const require = createRequire(path.join(root, "package.json"))
  const connection = require("@duckdb/node-api").DuckDBConnection.prototype
  const database = (process.env.KURA_WAREHOUSE ?? "").replace(/^duckdb:/, "")
  const walSize = () => {
    try {
      return statSync(`${database}.wal`).size
    } catch {
      return -1
    }
  }
  // runAndReadAll goes through run: wrapping run, stream and createAppender times each once.
  for (const name of ["run", "stream", "createAppender"]) {
    const original = connection[name]
    connection[name] = async function (sql, ...rest) {
      const t0 = now()
      const w0 = walSize()
      try {
        return await original.call(this, sql, ...rest)
      } finally {
        record({
          k: "sql",
          m: name,
          t0,
          t1: now(),
          w0,
          w1: walSize(),
          sql: String(sql).replace(/\s+/g, " ").slice(0, 160)
        })
      }
    }
  }

  const tracer = pathToFileURL(path.join(root, "node_modules/effect/dist/Tracer.js")).href
  const { NativeSpan } = await import(tracer)
  const end = NativeSpan.prototype.end
  NativeSpan.prototype.end = function (endTime, exit) {
    if (this.status._tag !== "Ended")
      record({
        k: "span",
        n: this.name,
        t0: Number(this.status.startTime / 1000n) / 1000,
        t1: Number(endTime / 1000n) / 1000,
        ok: exit?._tag === "Success",
        url: this._attributes?.get?.("url.full")
      })
    return end.call(this, endTime, exit)
  }

  new PerformanceObserver((list) => {
    for (const e of list.getEntries())
      record({ k: "gc", t0: performance.timeOrigin + e.startTime, d: e.duration })
  }).observe({ entryTypes: ["gc"] })
  const delay = monitorEventLoopDelay({ resolution: 10 })
  delay.enable()
  setInterval(() => {
    record({
      k: "lag",
      t0: now(),
      max: delay.max / 1e6,
      p99: delay.percentile(99) / 1e6,
      mean: delay.mean / 1e6
    })
    delay.reset()
  }, 1000).unref()
}
