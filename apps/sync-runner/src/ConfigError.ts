/**
 * Configuration problems are collected, never thrown one at a time: an operator fixing a Cloud Run
 * deployment should see every mistake in one go instead of redeploying once per missing variable.
 */
import { Schema } from "effect"
import { errorExitCode, errorReported } from "effect/Runtime"

/** One configuration mistake: where it is, what is wrong and how to fix it. */
export const ConfigProblem = Schema.Struct({
  /** The environment variable or config-file field, e.g. `SHOPIFY_SHOP` or `kura.json: shopify[0].shop`. */
  field: Schema.String,
  message: Schema.String,
  fix: Schema.String
})
/** One configuration mistake. */
export type ConfigProblem = typeof ConfigProblem.Type

/** The configuration is invalid; the app exits with code 2 and prints `message`. */
export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  problems: Schema.Array(ConfigProblem)
}) {
  /** Exit code 2, the Unix convention for usage errors. */
  override readonly [errorExitCode] = 2
  /** `main` prints the message itself, so the runtime must not dump a stack trace. */
  override readonly [errorReported] = false

  override get message(): string {
    return formatProblems(this.problems)
  }
}

/** Renders problems as one message, one numbered line per problem. */
export const formatProblems = (problems: ReadonlyArray<ConfigProblem>): string =>
  [
    `Invalid configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):`,
    ...problems.map((p, i) => `  ${i + 1}. ${p.field}: ${p.message}. Fix: ${p.fix}`)
  ].join("\n")
