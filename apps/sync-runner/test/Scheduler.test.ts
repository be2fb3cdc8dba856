import { CheckpointStore } from "@kura/core"
import { Effect, Layer } from "effect"
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
        stream.runs.push(Date.now())
        yield* Effect.sleep(runMs)
        return { rows: 1, reconciliation: "ok" as const }
      })
  }
  return stream
}

describe("internal scheduler", () => {
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
    await Effect.runPromise(
      Effect.gen(function* () {
        yield* startScheduler()
        yield* Effect.sleep(1000)
      }).pipe(Effect.scoped, Effect.provide(StreamRunner.layer(streams, 2000).pipe(Layer.provide(state))))
    )
    expect(fast.runs.length).toBeGreaterThanOrEqual(7)
    expect(fast.runs.length).toBeLessThanOrEqual(11)
    expect(slow.runs.length).toBeGreaterThanOrEqual(2)
    expect(slow.runs.length).toBeLessThanOrEqual(3)
    expect(long.runs.length).toBeGreaterThanOrEqual(3)
    expect(long.runs.length).toBeLessThanOrEqual(4)
    for (let i = 1; i < long.runs.length; i++)
      expect(long.runs[i]! - long.runs[i - 1]!).toBeGreaterThanOrEqual(290)
  })
})
