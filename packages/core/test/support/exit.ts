import { Exit } from "effect"

/** The typed failure of an exit (throws when it succeeded or died). */
export const failure = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const error = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (error?._tag !== "Fail") throw new Error(`expected a Fail, got ${String(exit.cause)}`)
  return error.error
}
