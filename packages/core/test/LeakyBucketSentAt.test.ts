import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { makeLeakyBucket } from "../src/LeakyBucket.js"

const header = (used: number) => ({ "x-shopify-shop-api-call-limit": `${used}/40` })

describe("LeakyBucket.observe with the request's send time", () => {
  it.effect("credits the leak since the send, not since the answer's arrival", () =>
    Effect.gen(function* () {
      const bucket = makeLeakyBucket({ capacity: 40, leakPerSecond: 2 })
      yield* bucket.acquire("shop")
      yield* bucket.acquire("late")
      const sentAt = 0
      // The answer takes 500 ms to come back: the server's 40 has leaked 1 request since.
      yield* TestClock.adjust("500 millis")
      yield* bucket.observe("shop", header(40), 1, sentAt)
      yield* bucket.observe("late", header(40))
      assert.strictEqual((yield* bucket.state("shop")).level, 39)
      // Without a send time the reading is taken as of its arrival (one round trip late).
      assert.strictEqual((yield* bucket.state("late")).level, 40)
    })
  )

  it.effect("keeps the arrival reading when another answer arrived while this request was out", () =>
    Effect.gen(function* () {
      const bucket = makeLeakyBucket({ capacity: 40, leakPerSecond: 2 })
      yield* bucket.acquire("shop")
      yield* bucket.acquire("shop")
      yield* TestClock.adjust("100 millis")
      yield* bucket.observe("shop", header(30), 1, 0)
      yield* TestClock.adjust("400 millis")
      // Sent at 0 too, but an answer (maybe counted after this one) was applied meanwhile.
      yield* bucket.observe("shop", header(40), 1, 0)
      assert.strictEqual((yield* bucket.state("shop")).level, 40)
      // A later request, alone in flight, is credited again (first let one request leak out).
      yield* TestClock.adjust("500 millis")
      yield* bucket.acquire("shop")
      const sent = 1000
      yield* TestClock.adjust("1000 millis")
      yield* bucket.observe("shop", header(40), 1, sent)
      assert.strictEqual((yield* bucket.state("shop")).level, 38)
    })
  )

  it.effect("never credits more than the reading, nor a send time in the future", () =>
    Effect.gen(function* () {
      const bucket = makeLeakyBucket({ capacity: 40, leakPerSecond: 2 })
      yield* bucket.acquire("shop")
      yield* TestClock.adjust("10 seconds")
      yield* bucket.observe("shop", header(3), 1, 0)
      assert.strictEqual((yield* bucket.state("shop")).level, 0)
      yield* bucket.acquire("shop")
      yield* bucket.observe("shop", header(5), 1, 60_000)
      assert.strictEqual((yield* bucket.state("shop")).level, 5)
    })
  )
})
