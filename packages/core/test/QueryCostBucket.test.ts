import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { makeQueryCostBucket, QueryCostBucket } from "../src/QueryCostBucket.js"

const status = (currentlyAvailable: number) => ({
  maximumAvailable: 1000,
  currentlyAvailable,
  restoreRate: 50
})

/** Forks `reserve(cost)` and checks it is admitted after exactly `millis` of TestClock time. */
const admittedAfter = (bucket: QueryCostBucket["Service"], cost: number, millis: number) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.forkChild(bucket.reserve("s", cost))
    yield* Effect.yieldNow
    if (millis > 0) {
      yield* TestClock.adjust(`${millis - 1} millis`)
      assert.isUndefined(fiber.pollUnsafe(), `admitted before ${millis} ms`)
      yield* TestClock.adjust("1 millis")
    }
    return yield* Fiber.join(fiber)
  })

describe("QueryCostBucket settle", () => {
  it.effect("subtracts earlier reservations still in flight from the server's figure", () =>
    Effect.gen(function* () {
      const bucket = makeQueryCostBucket({ maximumAvailable: 1000, restoreRate: 50 })
      const _first = yield* bucket.reserve("s", 100)
      const second = yield* bucket.reserve("s", 200)
      // The second request overtook the first: the server's 800 does not include the first's 100.
      yield* bucket.settle(second, { actualQueryCost: 200, throttleStatus: status(800) })
      const state = yield* bucket.state("s")
      assert.strictEqual(state.available, 700)
      assert.strictEqual(state.inFlightPoints, 100)
      // 750 needs 50 more points: exactly one second at 50/s.
      const r = yield* admittedAfter(bucket, 750, 1000)
      assert.strictEqual(r.cost, 750)
    })
  )

  it.effect("ignores a throttleStatus older than the one already adopted", () =>
    Effect.gen(function* () {
      const bucket = makeQueryCostBucket({ maximumAvailable: 1000, restoreRate: 50 })
      const first = yield* bucket.reserve("s", 100)
      const second = yield* bucket.reserve("s", 200)
      yield* bucket.settle(second, { throttleStatus: status(500) })
      assert.strictEqual((yield* bucket.state("s")).available, 400)
      // The first answer is processed last but carries the older, rosier figure.
      yield* bucket.settle(first, { throttleStatus: { ...status(900), restoreRate: 1000 } })
      const state = yield* bucket.state("s")
      assert.strictEqual(state.available, 400)
      assert.strictEqual(state.restoreRate, 50)
      assert.strictEqual(state.inFlightPoints, 0)
      const r = yield* admittedAfter(bucket, 600, 4000)
      assert.strictEqual(r.cost, 600)
    })
  )

  it.effect("a stale answer still refunds estimate − actual", () =>
    Effect.gen(function* () {
      const bucket = makeQueryCostBucket({ maximumAvailable: 1000, restoreRate: 50 })
      const first = yield* bucket.reserve("s", 100)
      const second = yield* bucket.reserve("s", 200)
      yield* bucket.settle(second, { throttleStatus: status(500) })
      yield* bucket.settle(first, { actualQueryCost: 40, throttleStatus: status(900) })
      assert.strictEqual((yield* bucket.state("s")).available, 460)
    })
  )
})

describe("QueryCostBucket before the bucket is known", () => {
  it.effect("sends one query at a time until the first throttleStatus, then bursts", () =>
    Effect.gen(function* () {
      const bucket = yield* QueryCostBucket
      const fibers = yield* Effect.forEach([1, 2, 3, 4], () => Effect.forkChild(bucket.reserve("s", 10)))
      yield* Effect.yieldNow
      const admitted = () => fibers.filter((f) => f.pollUnsafe() !== undefined).length
      assert.strictEqual(admitted(), 1)
      // Time alone does not release the probe: only an answer does.
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(admitted(), 1)
      const probe = yield* Fiber.join(fibers[0]!)
      // An answer without throttleStatus teaches nothing: the next query is again sent alone.
      yield* bucket.settle(probe, { actualQueryCost: 10 })
      yield* Effect.yieldNow
      assert.strictEqual(admitted(), 2)
      const second = yield* Fiber.join(fibers[1]!)
      yield* bucket.settle(second, {
        actualQueryCost: 10,
        throttleStatus: { maximumAvailable: 100, currentlyAvailable: 90, restoreRate: 5 }
      })
      yield* Effect.yieldNow
      assert.strictEqual(admitted(), 4)
      const state = yield* bucket.state("s")
      assert.strictEqual(state.maximumAvailable, 100)
      assert.strictEqual(state.available, 70)
    }).pipe(Effect.provide(QueryCostBucket.layer()))
  )

  it.effect("a cancelled probe lets the next query go", () =>
    Effect.gen(function* () {
      const bucket = makeQueryCostBucket()
      const probe = yield* bucket.reserve("s", 10)
      const next = yield* Effect.forkChild(bucket.reserve("s", 10))
      yield* Effect.yieldNow
      assert.isUndefined(next.pollUnsafe())
      yield* bucket.cancel(probe)
      yield* Effect.yieldNow
      assert.strictEqual((yield* Fiber.join(next)).cost, 10)
    })
  )

  it.effect("a known bucket size (or inFlightUntilLearned) allows concurrency from the start", () =>
    Effect.gen(function* () {
      const known = makeQueryCostBucket({ maximumAvailable: 1000 })
      yield* known.reserve("s", 10)
      yield* known.reserve("s", 10)
      const two = makeQueryCostBucket({ inFlightUntilLearned: 2 })
      yield* two.reserve("s", 10)
      yield* two.reserve("s", 10)
      const third = yield* Effect.forkChild(two.reserve("s", 10))
      yield* Effect.yieldNow
      assert.isUndefined(third.pollUnsafe())
      assert.throws(() => makeQueryCostBucket({ inFlightUntilLearned: 0 }), /inFlightUntilLearned/)
    })
  )
})
