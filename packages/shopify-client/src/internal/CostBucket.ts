/**
 * Client-side mirror of Shopify's GraphQL cost bucket (per shop), used to pace requests so the
 * server never has to answer THROTTLED.
 *
 * Why not just retry on THROTTLED: a retry loop runs the bucket dry and then oscillates between
 * bursts and back-offs; pacing from a mirrored bucket keeps throughput at the restore rate.
 *
 * Model: each request pre-debits its estimated cost; the answer's `throttleStatus` re-bases the
 * mirror (server value minus what is still in flight), and the unused part of the estimate is
 * refunded implicitly. Waiters are served one at a time in arrival order (fiber-safe).
 *
 * NOTE: core's QueryCostBucket had not landed when this was written; this is the package-local
 * implementation the lead may move to @kura/core.
 */
import { Clock, Effect, Semaphore } from "effect"

/** What Shopify reports in `extensions.cost.throttleStatus`. */
export interface ThrottleStatus {
  readonly maximumAvailable: number
  readonly currentlyAvailable: number
  readonly restoreRate: number
}

/** Pacing statistics, exposed for benchmarks and logs. */
export interface CostBucketStats {
  readonly maximumAvailable: number
  readonly restoreRate: number
  readonly currentlyAvailable: number
  readonly learned: boolean
  readonly requests: number
  readonly waitedMillis: number
  readonly throttled: number
}

/** A paced bucket. */
export interface CostBucket {
  /** Waits until `cost` points are available, then debits them. Returns a ticket for `settle`. */
  readonly acquire: (cost: number) => Effect.Effect<number>
  /** Re-bases the mirror on the server's status once the request with `ticket` answered. */
  readonly settle: (ticket: number, status: ThrottleStatus | null) => Effect.Effect<void>
  /** Records a THROTTLED answer: re-bases and returns how long to wait before retrying `cost`. */
  readonly throttled: (ticket: number, status: ThrottleStatus | null, cost: number) => Effect.Effect<number>
  readonly stats: Effect.Effect<CostBucketStats>
}

/** Default Standard-plan figures until the first response teaches the real ones. */
export const STANDARD_BUCKET: ThrottleStatus = {
  maximumAvailable: 2000,
  currentlyAvailable: 2000,
  restoreRate: 100
}

/** Builds a bucket; `initial` is used until the first `throttleStatus` arrives. */
export const makeCostBucket = (initial: ThrottleStatus = STANDARD_BUCKET): Effect.Effect<CostBucket> =>
  Effect.gen(function* () {
    const gate = yield* Semaphore.make(1)
    let max = initial.maximumAvailable
    let rate = initial.restoreRate
    let available = initial.currentlyAvailable
    let at = yield* Clock.currentTimeMillis
    let learned = false
    let nextTicket = 1
    const inflight = new Map<number, number>()
    let requests = 0
    let waited = 0
    let throttledCount = 0

    const refill = (now: number) => {
      if (now > at) {
        available = Math.min(max, available + ((now - at) * rate) / 1000)
        at = now
      }
    }
    const inflightSum = () => {
      let s = 0
      for (const v of inflight.values()) s += v
      return s
    }
    const rebase = (ticket: number, status: ThrottleStatus | null, now: number) => {
      inflight.delete(ticket)
      if (status === null) return
      max = status.maximumAvailable
      rate = status.restoreRate > 0 ? status.restoreRate : rate
      learned = true
      available = Math.min(max, status.currentlyAvailable - inflightSum())
      at = now
    }

    const acquire = (cost: number): Effect.Effect<number> =>
      gate.withPermits(1)(
        Effect.gen(function* () {
          // A query above the bucket size could never run; clamp so it waits for a full bucket.
          const need = Math.min(cost, max)
          let now = yield* Clock.currentTimeMillis
          refill(now)
          if (available < need) {
            const wait = Math.ceil(((need - available) * 1000) / rate)
            waited += wait
            yield* Effect.sleep(wait)
            now = yield* Clock.currentTimeMillis
            refill(now)
          }
          available -= need
          requests++
          const ticket = nextTicket++
          inflight.set(ticket, need)
          return ticket
        })
      )

    const settle = (ticket: number, status: ThrottleStatus | null) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => rebase(ticket, status, now)))

    const throttled = (ticket: number, status: ThrottleStatus | null, cost: number) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.sync(() => {
          throttledCount++
          rebase(ticket, status, now)
          const missing = Math.max(0, Math.min(cost, max) - available)
          // Shopify's own advice is to back off at least a second when throttled.
          return Math.max(1000 / Math.max(1, rate / 100), Math.ceil((missing * 1000) / rate))
        })
      )

    const stats = Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.sync((): CostBucketStats => {
        refill(now)
        return {
          maximumAvailable: max,
          restoreRate: rate,
          currentlyAvailable: available,
          learned,
          requests,
          waitedMillis: waited,
          throttled: throttledCount
        }
      })
    )
    return { acquire, settle, throttled, stats }
  })
