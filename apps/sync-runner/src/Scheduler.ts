/**
 * The internal scheduler for local `serve`: each stream runs on its own interval. On Cloud Run,
 * Cloud Scheduler calls POST /sync/... instead, and this stays off.
 */
import { streamKeyToString } from "@kura/core"
import { Duration, Effect, Fiber, Queue } from "effect"
import { StreamRunner } from "./StreamRunner.js"

/**
 * Ticks of streams sharing an interval that fall within this window start as one pass: such
 * streams tick together (every stream at start), and a pass pays its bookkeeping once (leases,
 * ledger entries, checkpoints, the close: about a dozen warehouse statements) however many streams
 * it runs. Streams of different intervals never share a pass: a pass frees its leases when its
 * last stream ends, so a fast stream joined to a slow one would miss its own ticks.
 */
const COALESCE = Duration.millis(50)

/**
 * Starts one loop per stream in the current scope: due now, then every `intervalMs`. Streams of
 * one interval due together run as one pass (catalogue streams first, as `kura-sync run` orders
 * them). A busy stream (lease held) is simply skipped until its next tick.
 */
export const startScheduler = Effect.fnUntraced(function* () {
  const runner = yield* StreamRunner
  const intervals = [...new Set(runner.streams.map((s) => s.intervalMs))]
  const queues = new Map<number, Queue.Queue<string>>()
  for (const interval of intervals) queues.set(interval, yield* Queue.unbounded<string>())
  const collectors = yield* Effect.forEach([...queues.values()], (due) =>
    Effect.forkDetach(
      Effect.gen(function* () {
        while (!(yield* runner.draining)) {
          const first = yield* Queue.takeAll(due)
          yield* Effect.sleep(COALESCE)
          const rest = yield* Queue.clear(due)
          yield* runner.start({ only: new Set([...first, ...rest]) }, "schedule")
        }
      })
    )
  )
  const loops = yield* Effect.forEach(runner.streams, (stream) =>
    Effect.forkDetach(
      Effect.gen(function* () {
        const due = queues.get(stream.intervalMs)
        while (due !== undefined && !(yield* runner.draining)) {
          yield* Queue.offer(due, streamKeyToString(stream.key))
          yield* Effect.sleep(stream.intervalMs)
        }
      })
    )
  )
  yield* Effect.addFinalizer(() => Fiber.interruptAll([...loops, ...collectors]))
  return loops.length
})
