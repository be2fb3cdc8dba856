/**
 * The internal scheduler for local `serve`: each stream runs on its own interval. On Cloud Run,
 * Cloud Scheduler calls POST /sync/... instead, and this stays off.
 */
import { Effect, Fiber } from "effect"
import { StreamRunner } from "./StreamRunner.js"

/**
 * Starts one loop per stream in the current scope: run now, then every `intervalMs`. A busy stream
 * (lease held) is simply skipped until its next tick.
 */
export const startScheduler = Effect.fnUntraced(function* () {
  const runner = yield* StreamRunner
  const loops = yield* Effect.forEach(runner.streams, (stream) =>
    Effect.forkDetach(
      Effect.gen(function* () {
        while (!(yield* runner.draining)) {
          yield* runner.start(
            { source: stream.key.source, account: stream.key.account, stream: stream.key.stream },
            "schedule"
          )
          yield* Effect.sleep(stream.intervalMs)
        }
      })
    )
  )
  yield* Effect.addFinalizer(() => Fiber.interruptAll(loops))
  return loops.length
})
