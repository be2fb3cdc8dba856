/**
 * The GraphQL cost pacing of one shop, over core's `QueryCostBucket` (reserve → send → settle
 * with `extensions.cost`). This adapter adds what the Shopify executor needs on top: the wait
 * after a THROTTLED answer and pacing counters for benchmarks.
 */
import { makeQueryCostBucket, type QueryCostBucket, type Reservation, throttleWaitMillis } from "@kura/core"
import { Effect, Semaphore } from "effect"

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
  Effect.gen(function* () {
    // Until the first throttleStatus arrives the real bucket is unknown (it may be smaller than
    // the default), so requests go one at a time instead of bursting into a THROTTLED.
    const probe = yield* Semaphore.make(1)
    let learned = false
    let probeId: number | null = null
    const core =
      shared ??
      makeQueryCostBucket({ maximumAvailable: initial.maximumAvailable, restoreRate: initial.restoreRate })
    let requests = 0
    let throttledCount = 0
    let actualPoints = 0
    // Reservations sent but not yet answered, by id. Core re-bases on throttleStatus minus the
    // reservations made *after* the answered one; but concurrent requests can reach Shopify out
    // of order, so an *earlier* one may not be in the figure either. Subtracting those too keeps
    // the mirror from ever being optimistic (a THROTTLED) at the price of a little caution.
    const inflight = new Map<number, number>()
    const acquire = (cost: number) =>
      Effect.gen(function* () {
        let probing = false
        if (!learned) {
          yield* probe.take(1)
          if (learned) yield* probe.release(1)
          else probing = true
        }
        const r = yield* core.reserve(key, cost)
        requests++
        inflight.set(r.id, r.cost)
        if (probing) probeId = r.id
        return r
      })
    const endProbe = (ticket: Reservation) =>
      Effect.suspend(() => {
        if (probeId !== ticket.id) return Effect.void
        probeId = null
        return Effect.asVoid(probe.release(1))
      })
    // Answers can also be *processed* out of order: an older figure must not overwrite a newer one.
    let newestRebase = 0
    const adjust = (ticket: Reservation, status: ThrottleStatus | null): ThrottleStatus | null => {
      inflight.delete(ticket.id)
      if (status === null) return null
      learned = true
      if (ticket.id < newestRebase) return null
      newestRebase = ticket.id
      let earlier = 0
      for (const [id, held] of inflight) if (id < ticket.id) earlier += held
      return earlier === 0 ? status : { ...status, currentlyAvailable: status.currentlyAvailable - earlier }
    }
    const settle = (
      ticket: Reservation,
      raw: ThrottleStatus | null,
      requested?: number | null,
      actual?: number | null
    ) =>
      Effect.suspend(() => {
        const status = adjust(ticket, raw)
        if (typeof actual === "number") actualPoints += actual
        const settled =
          status === null && actual == null
            ? core.settle(ticket, null)
            : core.settle(ticket, {
                requestedQueryCost: requested ?? null,
                actualQueryCost: actual ?? null,
                throttleStatus: status
              })
        return Effect.andThen(settled, endProbe(ticket))
      })
    const throttled = (ticket: Reservation, raw: ThrottleStatus | null, cost: number) =>
      Effect.gen(function* () {
        throttledCount++
        const status = adjust(ticket, raw)
        yield* core.settle(ticket, {
          requestedQueryCost: cost,
          actualQueryCost: null,
          throttleStatus: status
        })
        yield* endProbe(ticket)
        const wait = status === null ? yield* core.waitMillis(key, cost) : throttleWaitMillis(status, cost)
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
