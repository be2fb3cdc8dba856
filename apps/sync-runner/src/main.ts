/**
 * `kura-sync` entry point: parses the command line, runs the command on Node, and maps the outcome to
 * an exit code (0 ok or drained on SIGTERM, 1 failed run, 2 invalid configuration).
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { Command } from "effect/cli"
import { cli, exitCodeFor } from "./Cli.js"

cli.pipe(
  Command.run({ version: "0.0.0" }),
  Effect.scoped,
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({
    disableErrorReporting: false,
    teardown: (exit, onExit) => onExit(exitCodeFor(exit))
  })
)
