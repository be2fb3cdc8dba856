/**
 * `kura-backfill` entry point: re-executes itself bounded, then runs the command on Node and maps
 * the outcome to an exit code.
 */
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

// The two modules used, not the package's barrel: that one also loads its HTTP server, sockets,
// workers and more, ~13 MB of V8 heap and ~35 MB of RSS for nothing here.
const [NodeRuntime, NodeServices, { Effect }, { Command }, { cli, exitCodeOf }] = await Promise.all([
  import("@effect/platform-node/NodeRuntime"),
  import("@effect/platform-node/NodeServices"),
  import("effect"),
  import("effect/cli"),
  import("./Cli.js")
])

cli.pipe(
  Command.run({ version: "0.0.0" }),
  Effect.scoped,
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({
    disableErrorReporting: true,
    teardown: (exit, onExit) => onExit(exitCodeOf(exit))
  })
)
