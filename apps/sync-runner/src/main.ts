/**
 * `kura-sync` entry point: parses the command line, runs the command on Node, and maps the outcome to
 * an exit code (0 ok or `serve` drained on SIGTERM, 1 failed run, 2 invalid configuration, 130 / 143
 * a `run` stopped by SIGINT / SIGTERM).
 */
import { enableCompileCache } from "node:module"
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

// Node's compile cache (in NODE_COMPILE_CACHE, else <tmpdir>/node-compile-cache; off with
// NODE_DISABLE_COMPILE_CACHE=1): a start loads ~1,800 modules of Effect and our packages, and
// compiling them was about a quarter of a start's CPU (3.6 → 2.7 CPU-s a start once cached). A
// one-off `kura-sync run` from cron pays that on every pass. Entries are keyed by file content,
// so an upgrade only recompiles; a cache that cannot be written leaves the start as it was.
enableCompileCache()

// The two modules by their own paths: the package's index loads every Node service it has (HTTP
// server and client, sockets, clusters, workers): 2.1 → 1.6 CPU-s for `--help`, cache warm.
const [NodeRuntime, NodeServices, { Effect }, { Command }, { cli, exitCodeFor }, { layerServiceLogger }] =
  await Promise.all([
    import("@effect/platform-node/NodeRuntime"),
    import("@effect/platform-node/NodeServices"),
    import("effect"),
    import("effect/cli"),
    import("./Cli.js"),
    import("./ServiceLogger.js")
  ])

/**
 * A one-off `run` stopped by Ctrl-C or SIGTERM drains and exits 130 / 143, not 0: some of its
 * streams were interrupted or never started, and a wrapper (cron, CI) must not read that as a
 * finished pass. `serve` keeps exit 0 after draining on SIGTERM (Cloud Run's normal shutdown).
 * The runtime interrupts the command on the first signal (the warehouse interrupts its running
 * statement and waits for it before it closes); a second one exits at once.
 */
const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const
let stoppedBy: number | undefined
const oneOffRun =
  process.argv.slice(2).find((a) => ["run", "serve", "status", "webhooks", "dead-letters"].includes(a)) ===
  "run"
const onStopSignal = (signal: keyof typeof SIGNAL_EXIT) => {
  if (stoppedBy !== undefined) {
    process.stderr.write(`kura-sync: ${signal} again, exiting now\n`)
    process.exit(SIGNAL_EXIT[signal])
  }
  stoppedBy = SIGNAL_EXIT[signal]
  if (oneOffRun)
    process.stderr.write(
      `kura-sync: stopping (${signal}); runs in flight stop and keep their checkpoints: run the same command again to resume (a second Ctrl-C exits at once)\n`
    )
}
process.on("SIGINT", () => onStopSignal("SIGINT"))
process.on("SIGTERM", () => onStopSignal("SIGTERM"))

cli.pipe(
  Command.run({ version: "0.0.0" }),
  Effect.scoped,
  // JSON lines on Cloud Run (a Cloud Run Job's `run` too), so its logs reach the deploy guide's alerts.
  Effect.provide(layerServiceLogger(process.env, "command")),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({
    disableErrorReporting: false,
    teardown: (exit, onExit) => {
      const code = exitCodeFor(exit)
      onExit(code === 0 && oneOffRun && stoppedBy !== undefined ? stoppedBy : code)
    }
  })
)
