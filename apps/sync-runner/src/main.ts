/**
 * `kura-sync` entry point: parses the command line, runs the command on Node, and maps the outcome to
 * an exit code (0 ok or drained on SIGTERM, 1 failed run, 2 invalid configuration).
 */
import { reexecBounded } from "./BoundedRuntime.js"

/**
 * V8 old space of `kura-sync`, MB (`KURA_NODE_HEAP_MB` overrides; 0 keeps Node's default). Room for
 * a run's pages and a webhook batch (≤ 5,000 deliveries) with headroom, far below V8's default of
 * a share of the machine's RAM, which let garbage pile up.
 */
const KURA_SYNC_HEAP_MB = 384
/**
 * Semi-space of `kura-sync`, MB (`KURA_NODE_SEMI_SPACE_MB` overrides): webhook intake allocates a
 * short-lived body per request, and 16 MB semi-spaces spent ~1.6× the garbage-collection time of
 * V8's own 64 MB in the webhook bench; 32 keeps the young generation at ≤ 96 MB.
 */
const KURA_SYNC_SEMI_SPACE_MB = 32

// First, before the app's modules load: the process is replaced by a bounded one (same pid).
reexecBounded(KURA_SYNC_HEAP_MB, KURA_SYNC_SEMI_SPACE_MB)

const [{ NodeRuntime, NodeServices }, { Effect }, { Command }, { cli, exitCodeFor }] = await Promise.all([
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
    disableErrorReporting: false,
    teardown: (exit, onExit) => onExit(exitCodeFor(exit))
  })
)
