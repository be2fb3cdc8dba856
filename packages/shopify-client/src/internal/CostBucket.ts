/**
 * The GraphQL cost pacing of one shop, over core's `QueryCostBucket` (reserve → send → settle
 * with `extensions.cost`). Core does all the modelling (probe until the bucket is known, in-flight
 * and out-of-order answers); this adapter only adds the wait after a THROTTLED answer and pacing
 * counters for benchmarks.
 */
import { makeQueryCostBucket, type QueryCostBucket, type Reservation } from "@kura/core"
import { Effect } from "effect"

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
  readonly requests: number
  readonly throttled: number
  /** Sum of `actualQueryCost` of answered requests. */
  readonly actualPoints: number
}

/** A paced bucket for one shop. */
export interface CostBucket {
  /** Waits until `cost` points are available, then holds them. */
  readonly acquire: (cost: number) => Effect.Effect<Reservation>
  /** Settles a request with the server's figures (null when the response carried none). */
  readonly settle: (
    ticket: Reservation,
    status: ThrottleStatus | null,
    requested?: number | null,
    actual?: number | null
  ) => Effect.Effect<void>
  /** Records a THROTTLED answer and returns how long to wait (ms) before retrying `cost`. */
  readonly throttled: (
    ticket: Reservation,
    status: ThrottleStatus | null,
    cost: number
  ) => Effect.Effect<number>
  readonly stats: Effect.Effect<CostBucketStats>
}

/** Default Standard-plan figures until the first response teaches the real ones. */
export const STANDARD_BUCKET: ThrottleStatus = {
  maximumAvailable: 2000,
  currentlyAvailable: 2000,
  restoreRate: 100
}

/** Builds the adapter over `shared` (a core bucket shared by several clients) or a new one. */
export const makeCostBucket = (
  key: string,
  initial: ThrottleStatus = STANDARD_BUCKET,
  shared?: QueryCostBucket["Service"]
): Effect.Effect<CostBucket> =>
  Effect.sync(() => {
    // The initial figures are a guess until Shopify answers (the real bucket may be smaller), so
    // core sends one query at a time until the first throttleStatus.
    const core =
      shared ??
      makeQueryCostBucket({
        maximumAvailable: initial.maximumAvailable,
        restoreRate: initial.restoreRate,
        inFlightUntilLearned: 1
      })
    let requests = 0
    let throttledCount = 0
    let actualPoints = 0
    const acquire = (cost: number) =>
      Effect.tap(core.reserve(key, cost), () =>
        Effect.sync(() => {
          requests++
        })
      )
    const settle = (
      ticket: Reservation,
      status: ThrottleStatus | null,
      requested?: number | null,
      actual?: number | null
    ) =>
      Effect.suspend(() => {
        if (typeof actual === "number") actualPoints += actual
        return status === null && actual == null
          ? core.settle(ticket, null)
          : core.settle(ticket, {
              requestedQueryCost: requested ?? null,
              actualQueryCost: actual ?? null,
              throttleStatus: status
            })
      })
    const throttled = (ticket: Reservation, status: ThrottleStatus | null, cost: number) =>
      Effect.gen(function* () {
        throttledCount++
        yield* core.settle(ticket, {
          requestedQueryCost: cost,
          actualQueryCost: null,
          throttleStatus: status
        })
        // Core's model now holds the server's figure less every other unanswered query.
        const wait = yield* core.waitMillis(key, cost)
        // Shopify's guidance is to back off at least a little when throttled; 50 ms avoids a hot loop.
        return Math.max(50, wait)
      })
    const stats = Effect.map(core.state(key), (s) => ({
      maximumAvailable: s.maximumAvailable,
      restoreRate: s.restoreRate,
      currentlyAvailable: s.available,
      requests,
      throttled: throttledCount,
      actualPoints
    }))
    return { acquire, settle, throttled, stats }
  })
