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

// First, before the app's modules load: the process is replaced by a bounded one (same pid), with
// glibc malloc settings that return DuckDB's freed buffers to the system (see BoundedLaunch).
reexecBounded({ env: process.env, defaultHeapMb: KURA_BACKFILL_HEAP_MB })

const [{ NodeRuntime, NodeServices }, { Effect }, { Command }, { cli, exitCodeOf }] = await Promise.all([
  import("@effect/platform-node"),
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
