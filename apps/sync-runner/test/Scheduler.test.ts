import { CheckpointStore } from "@kura/core"
import { Clock, Effect, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import { describe, expect, it } from "vitest"
import { LeaseManager } from "../src/LeaseManager.js"
import { Metrics } from "../src/Metrics.js"
import { RunLedger } from "../src/RunLedger.js"
import { startScheduler } from "../src/Scheduler.js"
import { StreamRunner } from "../src/StreamRunner.js"
import type { SyncStream } from "../src/SyncStream.js"

const counting = (name: string, intervalMs: number, runMs: number) => {
  const stream = {
    key: { source: "demo" as const, account: "test", stream: name },
    intervalMs,
    runs: [] as Array<number>,
    run: () =>
      Effect.gen(function* () {
        stream.runs.push(yield* Clock.currentTimeMillis)
        yield* Effect.sleep(runMs)
        return { rows: 1, reconciliation: "ok" as const }
      })
  }
  return stream
}

/** Counts 1 s of the scheduler on the test clock (as the first test explains), then closes it. */
const runForOneSecond = (streams: ReadonlyArray<SyncStream>, leases: Layer.Layer<LeaseManager>) => {
  const state = Layer.mergeAll(CheckpointStore.layerMemory, RunLedger.layerMemory(), leases, Metrics.layer)
  let pump: Fiber.Fiber<unknown> | undefined
  return Effect.runPromise(
    Effect.gen(function* () {
      yield* startScheduler()
      for (let t = 0; t < 1000; t += 10) {
        yield* TestClock.adjust("10 millis")
        for (let i = 0; i < 20; i++) yield* Effect.yieldNow
      }
      pump = yield* Effect.forkDetach(
        Effect.forever(Effect.andThen(TestClock.adjust("10 millis"), Effect.yieldNow))
      )
    }).pipe(
      Effect.scoped,
      Effect.provide(StreamRunner.layer(streams, 2000).pipe(Layer.provide(state))),
      Effect.ensuring(Effect.suspend(() => (pump === undefined ? Effect.void : Fiber.interrupt(pump)))),
      Effect.provide(TestClock.layer())
    )
  )
}

describe("internal scheduler", () => {
  it("starts streams that are due together as one pass", async () => {
    const a = counting("a", 100, 10)
    const b = counting("b", 100, 10)
    // A pass takes its streams' leases in one acquireMany: one call per pass.
    let passes = 0
    const counted = Layer.effect(
      LeaseManager,
      Effect.gen(function* () {
        const inner = yield* LeaseManager
        return LeaseManager.of({
          ...inner,
          acquireMany: (requests, ttlMs) => {
            passes++
            return inner.acquireMany(requests, ttlMs)
          }
        })
      })
    ).pipe(Layer.provide(LeaseManager.layerMemory))
    await runForOneSecond([a, b], counted)
    expect(a.runs.length).toBeGreaterThanOrEqual(8)
    // Every tick ran both streams, started together; a pass per stream made this 2x the runs.
    expect(b.runs).toEqual(a.runs)
    expect(passes).toBeLessThanOrEqual(a.runs.length + 1)
  })

  it("runs each stream on its own interval and never overlaps a stream with itself", async () => {
    const fast = counting("fast", 100, 10)
    const slow = counting("slow", 400, 10)
    // Runs longer than its interval: ticks that find the lease held are skipped.
    const long = counting("long", 50, 300)
    const streams: ReadonlyArray<SyncStream> = [fast, slow, long]
    const state = Layer.mergeAll(
      CheckpointStore.layerMemory,
      RunLedger.layerMemory(),
      LeaseManager.layerMemory,
      Metrics.layer
    )
    // On the test clock: counting runs in a real second failed whenever a loaded box starved the
    // timers. Time moves in 10 ms steps, each letting the woken fibers run before the next; after the
    // counted second, a pump keeps it moving so closing (which drains the runs in flight) can end.
    let pump: Fiber.Fiber<unknown> | undefined
    const counted = await Effect.runPromise(
      Effect.gen(function* () {
        yield* startScheduler()
        for (let t = 0; t < 1000; t += 10) {
          yield* TestClock.adjust("10 millis")
          for (let i = 0; i < 20; i++) yield* Effect.yieldNow
        }
        const at1s = { fast: fast.runs.length, slow: slow.runs.length, long: [...long.runs] }
        pump = yield* Effect.forkDetach(
          Effect.forever(Effect.andThen(TestClock.adjust("10 millis"), Effect.yieldNow))
        )
        return at1s
      }).pipe(
        Effect.scoped,
        Effect.provide(StreamRunner.layer(streams, 2000).pipe(Layer.provide(state))),
        Effect.ensuring(Effect.suspend(() => (pump === undefined ? Effect.void : Fiber.interrupt(pump)))),
        Effect.provide(TestClock.layer())
      )
    )
    expect(counted.fast).toBeGreaterThanOrEqual(7)
    expect(counted.fast).toBeLessThanOrEqual(11)
    expect(counted.slow).toBeGreaterThanOrEqual(2)
    expect(counted.slow).toBeLessThanOrEqual(3)
    expect(counted.long.length).toBeGreaterThanOrEqual(3)
    expect(counted.long.length).toBeLessThanOrEqual(4)
    for (let i = 1; i < counted.long.length; i++)
      expect(counted.long[i]! - counted.long[i - 1]!).toBeGreaterThanOrEqual(290)
  })
})
