/**
 * `kura-backfill` entry point: re-executes itself bounded, then runs the command on Node and maps
 * the outcome to an exit code.
 */
import { spawn } from "node:child_process"
import { enableCompileCache } from "node:module"
import { reexecBounded } from "@kura/core/bounded-launch"

/**
 * V8 old space of `kura-backfill`, MB (`KURA_NODE_HEAP_MB` overrides; 0 keeps Node's default). The
 * live set stays under 100 MB (no window is held in the JS heap); with V8's own sizing, from the
 * machine's RAM, the rest was uncollected garbage.
 */
const KURA_BACKFILL_HEAP_MB = 192

/**
 * The allocator settings of the jemalloc built into DuckDB's library (read once, from
 * `DUCKDB_JE_MALLOC_CONF`, when DuckDB first allocates; a value the caller sets wins, an empty one
 * keeps DuckDB's own). DuckDB starts it with `dirty_decay_ms:1000,muzzy_decay_ms:1000`: pages a
 * load frees stay in the process (dirty, then `MADV_FREE`, still counted in RSS on a machine with
 * memory to spare) long after DuckDB's `duckdb_memory()` has dropped to a few MiB. At 0 they go
 * back to the system on free: one 40k-order window's loads peaked at 308 instead of 372 MiB and
 * ended at 219 instead of 352 MiB, at the same CPU (BENCHMARKS.md §6).
 */
const DUCKDB_JEMALLOC_CONF = "dirty_decay_ms:0,muzzy_decay_ms:0"

// Set in this process's environment (Node's `process.env` writes through), so the re-executed
// process below inherits it and a process that is not re-executed has it too.
if (process.env.DUCKDB_JE_MALLOC_CONF === undefined) process.env.DUCKDB_JE_MALLOC_CONF = DUCKDB_JEMALLOC_CONF

// First, before the app's modules load: the process is replaced by a bounded one (same pid), with
// glibc malloc settings that return DuckDB's freed buffers to the system (see BoundedLaunch).
reexecBounded({ env: process.env, defaultHeapMb: KURA_BACKFILL_HEAP_MB })

// Node's compile cache (in NODE_COMPILE_CACHE, else <tmpdir>/node-compile-cache; off with
// NODE_DISABLE_COMPILE_CACHE=1): compiling Effect's and our modules is a large share of a start's
// CPU, paid again by every task of a Cloud Run Job and every resumed run. Entries are keyed by
// file content; a cache that cannot be written leaves the start as it was.
enableCompileCache()

// The two modules used, not the package's barrel: that one also loads its HTTP server, sockets,
// workers and more, ~13 MB of V8 heap and ~35 MB of RSS for nothing here.
const [NodeRuntime, NodeServices, { Effect }, { Command }, { cli, exitCodeOf }, { layerBackfillLogger }] =
  await Promise.all([
    import("@effect/platform-node/NodeRuntime"),
    import("@effect/platform-node/NodeServices"),
    import("effect"),
    import("effect/cli"),
    import("./Cli.js"),
    import("./BackfillLogger.js")
  ])

/**
 * How long Ctrl-C or SIGTERM waits for the interrupted run to wind down before the process is
 * killed anyway. Interrupting a window mid-load used to hang the process for good (session 7: 2 of
 * 4 SIGINTs; the DuckDB connection was closed behind a statement still running, which then never
 * settled). The warehouse now interrupts its running statement and waits for it before closing
 * (Cli.ts gives it 5 s); this watchdog stays as the last resort, since Cloud Run sends SIGKILL
 * 10 s after SIGTERM in any case and a blocked main thread could not keep a deadline itself. It is
 * a small process started only once a signal came (no cost to a run). Safe: a window's checkpoint
 * is written only once it ties and its batch id is deterministic, so the same command resumes as
 * after a kill (test/Cli.test.ts).
 */
const INTERRUPT_GRACE_MS = 8_000

/** Exit codes of a process stopped by a signal (128 + its number). */
const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const

/** The watchdog: kills `pid` after `ms` unless it is gone; says so on the shared stderr. */
const WATCHDOG = `const [pid, ms, message] = process.argv.slice(1)
setTimeout(() => {
  try { process.kill(Number(pid), 0) } catch { return }
  process.stderr.write(message)
  process.kill(Number(pid), "SIGKILL")
}, Number(ms))`

/** The exit code of the first stop signal: a Cloud Run Job's SIGTERM is 143, Ctrl-C 130. */
let stoppedBy: number | undefined
const onStopSignal = (signal: keyof typeof SIGNAL_EXIT) => {
  if (stoppedBy !== undefined) {
    process.stderr.write(`kura-backfill: ${signal} again, exiting now\n`)
    process.exit(SIGNAL_EXIT[signal])
  }
  stoppedBy = SIGNAL_EXIT[signal]
  process.stderr.write(
    `kura-backfill: stopping (${signal}); finished windows stay checkpointed: run the same command again to resume (a second Ctrl-C exits at once)\n`
  )
  // Spawned now, in this handler: the interruption the runtime starts next may block this thread.
  const message = `kura-backfill: the run did not stop within ${INTERRUPT_GRACE_MS / 1000} s of ${signal}; killed it (run the same command again to resume)\n`
  spawn(process.execPath, ["-e", WATCHDOG, String(process.pid), String(INTERRUPT_GRACE_MS), message], {
    detached: true,
    stdio: ["ignore", "ignore", "inherit"],
    env: {}
  }).unref()
}
process.on("SIGINT", () => onStopSignal("SIGINT"))
process.on("SIGTERM", () => onStopSignal("SIGTERM"))

cli.pipe(
  Command.run({ version: "0.0.0" }),
  Effect.scoped,
  Effect.provide(layerBackfillLogger(process.env)),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({
    disableErrorReporting: true,
    teardown: (exit, onExit) => {
      const code = exitCodeOf(exit)
      onExit(code === 130 && stoppedBy !== undefined ? stoppedBy : code)
    }
  })
)
