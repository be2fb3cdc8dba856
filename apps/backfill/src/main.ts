/**
 * `kura-backfill` entry point: runs the command on Node and maps the outcome to an exit code.
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { Command } from "effect/cli"
import { cli, exitCodeOf } from "./Cli.js"

cli.pipe(
  Command.run({ version: "0.0.0" }),
  Effect.scoped,
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({
    disableErrorReporting: true,
    teardown: (exit, onExit) => onExit(exitCodeOf(exit))
  })
)
