import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { AdaptiveLimiter, makeAdaptiveLimiter } from "../src/AdaptiveLimiter.js"
import { ApiError, RateLimited } from "../src/ApiError.js"
import { LeakyBucket, makeLeakyBucket, readBucketHeaders } from "../src/LeakyBucket.js"
import { makeQueryCostBucket, QueryCostBucket } from "../src/QueryCostBucket.js"

/** Advances the TestClock in steps, letting forked fibers run in between. */
const advance = (totalMillis: number, stepMillis: number) =>
  Effect.gen(function* () {
    for (let t = 0; t < totalMillis; t += stepMillis) {
      yield* TestClock.adjust(`${stepMillis} millis`)
      yield* Effect.yieldNow
    }
  })

/** Forks `n` copies of `task`, steps the TestClock through `totalMillis`, then joins them all. */
const runConcurrently = <A, E>(
  n: number,
  task: Effect.Effect<A, E>,
  totalMillis: number,
  stepMillis: number
) =>
  Effect.gen(function* () {
    const fibers = yield* Effect.forEach(Array.from({ length: n }), () => Effect.forkChild(task))
    yield* Effect.yieldNow
    yield* advance(totalMillis, stepMillis)
    return yield* Fiber.joinAll(fibers)
  })

/** Asserts that by every admission time t (ms), at most `burst + perSecond * t / 1000` were admitted. */
const assertWithinRate = (times: ReadonlyArray<number>, burst: number, perSecond: number) => {
  for (const t of times) {
    const upTo = times.filter((x) => x <= t).length
    assert.isAtMost(upTo, burst + (perSecond * t) / 1000, `at ${t} ms`)
  }
}

describe("LeakyBucket", () => {
  it.effect("N concurrent fibers never exceed capacity + leaked", () =>
    Effect.gen(function* () {
      const bucket = makeLeakyBucket({ capacity: 10, leakPerSecond: 2 })
      const admitted: Array<number> = []
      yield* runConcurrently(
        25,
        Effect.gen(function* () {
          yield* bucket.acquire("shop-a")
          admitted.push(yield* Clock.currentTimeMillis)
          yield* bucket.release("shop-a")
        }),
        10_000,
        50
      )
      assert.strictEqual(admitted.length, 25)
      assertWithinRate(admitted, 10, 2)
      assert.strictEqual(admitted.filter((t) => t === 0).length, 10)
      assert.strictEqual(Math.max(...admitted), 7_500)
    })
  )

  it.effect("keys have separate budgets", () =>
    Effect.gen(function* () {
      const bucket = makeLeakyBucket({ capacity: 2, leakPerSecond: 1 })
      yield* bucket.acquire("a")
      yield* bucket.acquire("a")
      // "b" is untouched by "a" being full.
      yield* bucket.acquire("b")
      const state = yield* bucket.state("a")
      assert.strictEqual(state.level, 2)
    })
  )

  it("reads Shopify and Lightspeed bucket headers", () => {
    assert.deepStrictEqual(readBucketHeaders({ "X-Shopify-Shop-Api-Call-Limit": "32/40" }), {
      used: 32,
      capacity: 40
    })
    assert.deepStrictEqual(
      readBucketHeaders({ "x-ls-api-bucket-level": "10/60", "x-ls-api-drip-rate": "1.5" }),
      {
        used: 10,
        capacity: 60,
        leakPerSecond: 1.5
      }
    )
    assert.isUndefined(readBucketHeaders({ "x-other": "1/2" }))
    assert.isUndefined(readBucketHeaders({ "x-shopify-shop-api-call-limit": "garbage" }))
  })

  it.effect("learns its level and size from headers", () =>
    Effect.gen(function* () {
      const bucket = makeLeakyBucket({ capacity: 40, leakPerSecond: 2 })
      yield* bucket.acquire("shop")
      // Another app used the same budget: the server says 38 of 40 are used.
      yield* bucket.observe("shop", { "x-shopify-shop-api-call-limit": "38/40" })
      assert.strictEqual((yield* bucket.state("shop")).level, 38)
      const fiber = yield* Effect.forkChild(bucket.acquire("shop", 4))
      yield* Effect.yieldNow
      // 38 + 4 = 42 > 40: 2 must leak out first, at 2/s that is exactly 1 s.
      yield* TestClock.adjust("999 millis")
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(fiber)
      // Plus-plan headers grow the bucket.
      yield* bucket.observe("shop", { "x-shopify-shop-api-call-limit": "10/400" }, 4)
      assert.strictEqual((yield* bucket.state("shop")).capacity, 400)
    })
  )

  it.effect("Shopify REST layer derives the leak rate from the learned bucket size", () =>
    Effect.gen(function* () {
      const bucket = yield* LeakyBucket
      yield* bucket.acquire("plus-shop")
      yield* bucket.observe("plus-shop", { "x-shopify-shop-api-call-limit": "1/400" })
      const state = yield* bucket.state("plus-shop")
      assert.strictEqual(state.capacity, 400)
      assert.strictEqual(state.leakPerSecond, 20)
    }).pipe(Effect.provide(LeakyBucket.layerShopifyRest))
  )

  it.effect("withBucket treats a 429 as a full bucket", () =>
    Effect.gen(function* () {
      const bucket = yield* LeakyBucket
      const error = new ApiError({
        reason: new RateLimited({
          method: "GET",
          url: "u",
          attempt: 1,
          idempotent: true,
          status: 429,
          retryAfterMillis: 2000,
          excerpt: ""
        })
      })
      yield* Effect.exit(bucket.withBucket("s", Effect.fail(error)))
      const state = yield* bucket.state("s")
      assert.strictEqual(state.level, 40)
      assert.strictEqual(state.inFlight, 0)
    }).pipe(Effect.provide(LeakyBucket.layerShopifyRest))
  )
})

describe("QueryCostBucket", () => {
  it.effect("waits exactly deficit / restoreRate", () =>
    Effect.gen(function* () {
      const bucket = makeQueryCostBucket({ maximumAvailable: 1000, restoreRate: 50 })
      yield* bucket.reserve("shop", 1000)
      const fiber = yield* Effect.forkChild(bucket.reserve("shop", 100))
      yield* Effect.yieldNow
      assert.strictEqual(yield* bucket.waitMillis("shop", 100), 2000)
      yield* TestClock.adjust("1999 millis")
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      const reservation = yield* Fiber.join(fiber)
      assert.strictEqual(reservation.cost, 100)
    })
  )

  it.effect("refunds estimate − actual and learns throttleStatus", () =>
    Effect.gen(function* () {
      const bucket = yield* QueryCostBucket
      const r = yield* bucket.reserve("shop", 500)
      assert.strictEqual((yield* bucket.state("shop")).available, 1500)
      yield* bucket.settle(r, { requestedQueryCost: 500, actualQueryCost: 120 })
      assert.strictEqual((yield* bucket.state("shop")).available, 1880)
      const r2 = yield* bucket.reserve("shop", 10)
      yield* bucket.settle(r2, {
        requestedQueryCost: 10,
        actualQueryCost: 8,
        throttleStatus: { maximumAvailable: 20000, currentlyAvailable: 19992, restoreRate: 1000 }
      })
      const state = yield* bucket.state("shop")
      assert.strictEqual(state.maximumAvailable, 20000)
      assert.strictEqual(state.restoreRate, 1000)
      assert.strictEqual(state.available, 19992)
      assert.strictEqual(state.inFlightPoints, 0)
    }).pipe(Effect.provide(QueryCostBucket.layer()))
  )

  it.effect("server status is adopted net of the reservations still in flight", () =>
    Effect.gen(function* () {
      const bucket = makeQueryCostBucket({ maximumAvailable: 1000, restoreRate: 50 })
      const first = yield* bucket.reserve("s", 100)
      const _second = yield* bucket.reserve("s", 200)
      yield* bucket.settle(first, {
        actualQueryCost: 100,
        throttleStatus: { maximumAvailable: 1000, currentlyAvailable: 900, restoreRate: 50 }
      })
      // 900 per the server minus the 200 still in flight that it has not seen.
      assert.strictEqual((yield* bucket.state("s")).available, 700)
    })
  )

  it.effect("learns the real cost of an operation and reserves that next time", () =>
    Effect.gen(function* () {
      const bucket = makeQueryCostBucket({ maximumAvailable: 1000, restoreRate: 50 })
      const r = yield* bucket.reserve("s", 10, "orders")
      yield* bucket.settle(r, { requestedQueryCost: 352, actualQueryCost: 300 })
      const next = yield* bucket.reserve("s", 10, "orders")
      assert.strictEqual(next.cost, 352)
    })
  )

  it.effect("a refund wakes a waiter early", () =>
    Effect.gen(function* () {
      const bucket = makeQueryCostBucket({ maximumAvailable: 1000, restoreRate: 10 })
      const big = yield* bucket.reserve("s", 1000)
      const fiber = yield* Effect.forkChild(bucket.reserve("s", 500))
      yield* Effect.yieldNow
      yield* TestClock.adjust("1 second")
      assert.isUndefined(fiber.pollUnsafe())
      yield* bucket.settle(big, { requestedQueryCost: 1000, actualQueryCost: 400 })
      yield* Effect.yieldNow
      yield* TestClock.adjust("1 millis")
      const r = yield* Fiber.join(fiber)
      assert.strictEqual(r.cost, 500)
    })
  )

  it.effect("many fibers never overdraw the bucket and use the full restore rate", () =>
    Effect.gen(function* () {
      const bucket = makeQueryCostBucket({ maximumAvailable: 1000, restoreRate: 100 })
      const sent: Array<number> = []
      yield* runConcurrently(
        40,
        bucket.withCost(
          "shop",
          100,
          Effect.flatMap(Clock.currentTimeMillis, (t) => Effect.sync(() => sent.push(t))),
          () => ({ actualQueryCost: 100 })
        ),
        40_000,
        100
      )
      // Each query costs 100 points: 1000 points are 10 queries, 100 points/s is one query a second.
      assertWithinRate(sent, 10, 1)
      // 10 from the full bucket, then one per second: the last at 30 s (100% of the restore rate).
      assert.strictEqual(Math.max(...sent), 30_000)
    })
  )
})

describe("AdaptiveLimiter", () => {
  const throttle = new ApiError({
    reason: new RateLimited({
      method: "GET",
      url: "u",
      attempt: 1,
      idempotent: true,
      status: 429,
      retryAfterMillis: 3000,
      excerpt: ""
    })
  })

  it.effect("paces at the current rate, halves on 429, pauses for Retry-After", () =>
    Effect.gen(function* () {
      const limiter = yield* AdaptiveLimiter
      const times: Array<number> = []
      const fiber = yield* Effect.forkChild(
        Effect.forEach(Array.from({ length: 4 }), () =>
          Effect.flatMap(limiter.acquire("acct"), () =>
            Effect.flatMap(Clock.currentTimeMillis, (t) => Effect.sync(() => times.push(t)))
          )
        )
      )
      yield* Effect.yieldNow
      yield* advance(2_000, 50)
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(times, [0, 250, 500, 750])
      yield* Effect.exit(limiter.withLimit("acct", Effect.fail(throttle)))
      const state = yield* limiter.state("acct")
      assert.strictEqual(state.ratePerSecond, 2)
      const t0 = yield* Clock.currentTimeMillis
      const next = yield* Effect.forkChild(
        Effect.flatMap(limiter.acquire("acct"), () => Clock.currentTimeMillis)
      )
      yield* Effect.yieldNow
      yield* advance(5_000, 50)
      assert.strictEqual((yield* Fiber.join(next)) - t0, 3_000)
    }).pipe(Effect.provide(AdaptiveLimiter.layer({ maxRatePerSecond: 8, initialRatePerSecond: 4 })))
  )

  it.effect("a burst of 429s cuts once per cool-down; success grows slowly to the ceiling", () =>
    Effect.gen(function* () {
      const limiter = makeAdaptiveLimiter({
        maxRatePerSecond: 5,
        initialRatePerSecond: 4,
        increasePerSecond: 0.5
      })
      yield* limiter.onThrottle("k", null)
      yield* limiter.onThrottle("k", null)
      yield* limiter.onThrottle("k", null)
      assert.strictEqual((yield* limiter.state("k")).ratePerSecond, 2)
      yield* limiter.onSuccess("k")
      const after = (yield* limiter.state("k")).ratePerSecond
      assert.isAbove(after, 2)
      assert.isBelow(after, 2.5)
      for (let i = 0; i < 1000; i++) yield* limiter.onSuccess("k")
      assert.strictEqual((yield* limiter.state("k")).ratePerSecond, 5)
    })
  )

  it.effect("maxConcurrent bounds requests in flight", () =>
    Effect.gen(function* () {
      const limiter = makeAdaptiveLimiter({
        maxRatePerSecond: 1000,
        initialRatePerSecond: 1000,
        maxConcurrent: 2
      })
      let inFlight = 0
      let peak = 0
      const task = limiter.withLimit(
        "k",
        Effect.gen(function* () {
          inFlight++
          peak = Math.max(peak, inFlight)
          yield* Effect.sleep("100 millis")
          inFlight--
        })
      )
      const fiber = yield* Effect.forkChild(
        Effect.all(
          Array.from({ length: 6 }, () => task),
          { concurrency: "unbounded" }
        )
      )
      yield* Effect.yieldNow
      yield* advance(1_000, 10)
      yield* Fiber.join(fiber)
      assert.strictEqual(peak, 2)
    })
  )
})
