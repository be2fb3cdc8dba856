/**
 * Per-key state for rate limiters: one budget per shop or account, created on first use, with a
 * FIFO mutex so that many fibers sharing a budget queue fairly instead of racing for it, and a
 * wake-up signal so a waiter can re-check early when the budget changes (refunds, header updates).
 */
import { Deferred, Effect, Semaphore } from "effect"

/** Mutable per-key state plus its mutex and wake-up signal. */
export interface Slot<S> {
  readonly state: S
  readonly mutex: Semaphore.Semaphore
  wake: Deferred.Deferred<void>
}

/** Lazily creates one slot per key. */
export const makeKeyed = <S>(init: (key: string) => S) => {
  const slots = new Map<string, Slot<S>>()
  return (key: string): Slot<S> => {
    let slot = slots.get(key)
    if (!slot) {
      slot = { state: init(key), mutex: Semaphore.makeUnsafe(1), wake: Deferred.makeUnsafe<void>() }
      slots.set(key, slot)
    }
    return slot
  }
}

/** Wakes everyone waiting on the slot's signal and arms a new one. */
export const wakeUp = <S>(slot: Slot<S>): void => {
  const previous = slot.wake
  slot.wake = Deferred.makeUnsafe<void>()
  Deferred.doneUnsafe(previous, Effect.void)
}

/** Sleeps `millis`, or less if the slot is woken; returns whether the full time passed. */
export const sleepOrWake = <S>(slot: Slot<S>, millis: number): Effect.Effect<void> =>
  Effect.raceFirst(Effect.sleep(millis), Deferred.await(slot.wake))
