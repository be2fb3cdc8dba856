/** The backfill's own failures, with a reason callers (and the exit code) can match on. */
import { Schema } from "effect"
import { errorExitCode, errorReported } from "effect/Runtime"

/** Why a backfill stopped or did not tie (`Erased`: the account was erased by shop/redact). */
export const BackfillErrorReason = Schema.Literals(["MissingScope", "Unreconciled", "Failed", "Erased"])

/** A backfill failure; exit code 1 (3 for a missing scope, caught before any work). */
export class BackfillError extends Schema.TaggedError<BackfillError>()("BackfillError", {
  reason: BackfillErrorReason,
  message: Schema.String
}) {
  override get [errorExitCode](): number {
    return this.reason === "MissingScope" ? 3 : 1
  }
  override readonly [errorReported] = false
}
