/**
 * A re-entrant lock around one connection: each engine call takes it, and a fiber that already
 * holds it (a transaction, a stage → MERGE sequence) runs nested calls straight through instead of
 * deadlocking on itself. The held set travels in the fiber's context, so child fibers forked
 * inside a locked span count as holders too (they are part of that span).
 */
import { Context, Effect, Semaphore } from "effect"

const HeldLocks = Context.Reference<ReadonlySet<Semaphore.Semaphore>>("@kura/warehouse/internal/HeldLocks", {
  defaultValue: () => new Set()
})

/** Wraps effects so they run one at a time on the guarded resource (re-entrant per fiber). */
export type ConnectionLock = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

/** Makes a fresh re-entrant lock. */
export const makeConnectionLock = (): ConnectionLock => {
  const semaphore = Semaphore.makeUnsafe(1)
  return <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.flatMap(Effect.service(HeldLocks), (held) =>
      held.has(semaphore)
        ? effect
        : semaphore.withPermits(1)(Effect.provideService(effect, HeldLocks, new Set([...held, semaphore])))
    )
}
