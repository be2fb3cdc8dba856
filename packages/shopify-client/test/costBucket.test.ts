import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { makeCostBucket } from "../src/internal/CostBucket.js"

// A bucket that barely restores, so the test reads the model without refill noise.
const RATE = 1e-6
const status = (currentlyAvailable: number) => ({
  maximumAvailable: 300,
  currentlyAvailable,
  restoreRate: RATE
})

describe("CostBucket: answers settled out of server order", () => {
  it("an older figure settled after a newer answer never credits that answer's points back", async () => {
    const available = await Effect.runPromise(
      Effect.gen(function* () {
        const bucket = yield* makeCostBucket("shop", {
          maximumAvailable: 300,
          currentlyAvailable: 300,
          restoreRate: RATE
        })
        // Learn the bucket with one query alone.
        const probe = yield* bucket.acquire(52)
        yield* bucket.settle(probe, status(248), 52, 52)
        // Shopify refills nothing; 248 left. Two queries out at once: j (reserved first) then k.
        const j = yield* bucket.acquire(52)
        const k = yield* bucket.acquire(52)
        // Shopify ran k first (248 → 196), then j (196 → 144), but the client settles j first...
        yield* bucket.settle(j, status(144), 52, 52)
        // ...and then k, whose figure (196) predates j's charge although j is no longer in flight.
        yield* bucket.settle(k, status(196), 52, 52)
        return (yield* bucket.stats).currentlyAvailable
      })
    )
    // The server holds 144; adopting k's 196 would let a 52-point query through at 144 + 52.
    expect(available).toBeLessThanOrEqual(144 + 1e-3)
    // j's own figure (144, already counting k) less k, still out then: the model stays that careful.
    expect(available).toBeGreaterThanOrEqual(92 - 1e-3)
  })

  it("an exact figure (no other answer meanwhile) still raises a pessimistic model", async () => {
    const available = await Effect.runPromise(
      Effect.gen(function* () {
        const bucket = yield* makeCostBucket("shop", {
          maximumAvailable: 300,
          currentlyAvailable: 300,
          restoreRate: RATE
        })
        const probe = yield* bucket.acquire(52)
        yield* bucket.settle(probe, status(248), 52, 52)
        // A query held 100 points but Shopify charged 10 and reports 238.
        const q = yield* bucket.acquire(100)
        yield* bucket.settle(q, status(238), 100, 10)
        return (yield* bucket.stats).currentlyAvailable
      })
    )
    expect(available).toBeCloseTo(238, 2)
  })
})
