/**
 * The GraphQL cost pacing of one shop, over core's `QueryCostBucket` (reserve → send → settle
 * with `extensions.cost`). Core does all the modelling (probe until the bucket is known, in-flight
 * and out-of-order answers); this adapter only adds the wait after a THROTTLED answer and pacing
 * counters for benchmarks.
 */
import { makeQueryCostBucket, type QueryCostBucket, type Reservation } from "@kura/core"
import { Clock, Effect } from "effect"

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
    // Answers settled so far, and the count when each open reservation was made. A figure is exact
    // only if no other answer was settled while its query was out: an answer settled meanwhile may
    // have reached Shopify after this one (so it is missing from this figure) although it is no
    // longer in flight, and adopting the figure would then credit its points twice (the THROTTLED
    // seen under load). Such an ambiguous figure may only lower the model, never raise it.
    let settled = 0
    const settledAtAcquire = new Map<number, number>()
    const acquire = (cost: number) =>
      Effect.tap(core.reserve(key, cost), (ticket) =>
        Effect.sync(() => {
          requests++
          settledAtAcquire.set(ticket.id, settled)
        })
      )
    /** The figure to hand core: `status` when exact, else capped so it cannot raise the model. */
    const figure = (ticket: Reservation, status: ThrottleStatus | null, charged: number) =>
      Effect.gen(function* () {
        const at = settledAtAcquire.get(ticket.id)
        settledAtAcquire.delete(ticket.id)
        const ambiguous = at !== settled
        settled++
        if (status === null || !ambiguous) return status
        const model = yield* core.state(key)
        if (Number.isNaN(model.updatedAt)) return status
        const now = yield* Clock.currentTimeMillis
        const refilled = Math.min(
          model.maximumAvailable,
          model.available + (Math.max(0, now - model.updatedAt) / 1000) * model.restoreRate
        )
        // What core's model will hold once this ticket is settled (its unused points refunded),
        // expressed as a server figure (core subtracts the other unanswered queries from it).
        const othersInFlight = Math.max(0, model.inFlightPoints - ticket.cost)
        const modelAfter = Math.min(model.maximumAvailable, refilled + ticket.cost - charged)
        const capped = Math.min(status.currentlyAvailable, Math.floor(modelAfter + othersInFlight))
        return capped === status.currentlyAvailable ? status : { ...status, currentlyAvailable: capped }
      })
    const settle = (
      ticket: Reservation,
      status: ThrottleStatus | null,
      requested?: number | null,
      actual?: number | null
    ) =>
      Effect.gen(function* () {
        if (typeof actual === "number") actualPoints += actual
        // Unknown charge (no cost block): assume the whole hold was spent.
        const seen = yield* figure(ticket, status, typeof actual === "number" ? actual : ticket.cost)
        return yield* seen === null && actual == null
          ? core.settle(ticket, null)
          : core.settle(ticket, {
              requestedQueryCost: requested ?? null,
              actualQueryCost: actual ?? null,
              throttleStatus: seen
            })
      })
    const throttled = (ticket: Reservation, status: ThrottleStatus | null, cost: number) =>
      Effect.gen(function* () {
        throttledCount++
        // A THROTTLED query was not charged.
        const seen = yield* figure(ticket, status, 0)
        yield* core.settle(ticket, {
          requestedQueryCost: cost,
          actualQueryCost: null,
          throttleStatus: seen
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
