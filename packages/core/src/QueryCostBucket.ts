/**
 * A GraphQL query-cost bucket per shop (Shopify Admin: points restored at `restoreRate` per
 * second up to `maximumAvailable`). It reserves a query's estimated cost before sending, waits
 * exactly as long as the bucket needs to refill (deficit / restoreRate), then settles against the
 * actual cost and `throttleStatus` the server returns, refunding estimate − actual and learning
 * the real bucket size and rate. Queries are never sent when the model predicts a THROTTLED, and
 * the model is corrected on every response so it is not over-conservative either. Until the first
 * `throttleStatus` is known, queries go one at a time; answers processed out of order never roll
 * the model back, and every unanswered query is held against the server's figure.
 */
import { Clock, Context, Deferred, Effect, Layer, Schema } from "effect"
import { isApiError } from "./ApiError.js"
import { makeKeyed, type Slot, sleepOrWake, wakeUp } from "./internal/keyed.js"
import { MetricNames, Telemetry } from "./Telemetry.js"

/** `extensions.cost.throttleStatus` as Shopify sends it (floats for maximum and rate). */
export const ThrottleStatus = Schema.Struct({
  maximumAvailable: Schema.Finite,
  currentlyAvailable: Schema.Finite,
  restoreRate: Schema.Finite
})
/** `extensions.cost.throttleStatus`. */
export type ThrottleStatus = typeof ThrottleStatus.Type

/** `extensions.cost`. `actualQueryCost` is null on a THROTTLED response. */
export const QueryCost = Schema.Struct({
  requestedQueryCost: Schema.optional(Schema.NullOr(Schema.Finite)),
  actualQueryCost: Schema.optional(Schema.NullOr(Schema.Finite)),
  throttleStatus: Schema.optional(Schema.NullOr(ThrottleStatus))
})
/** `extensions.cost`. */
export type QueryCost = typeof QueryCost.Type

/** Initial bucket model (corrected by every `throttleStatus`). */
export interface QueryCostBucketOptions {
  /** Bucket size in points. Default 2000 (Shopify standard plans). */
  readonly maximumAvailable?: number | undefined
  /** Points restored per second. Default 100 (Shopify standard plans). */
  readonly restoreRate?: number | undefined
  /**
   * Queries allowed in flight per key until the first `throttleStatus` teaches the real bucket:
   * the real one may be smaller than assumed, and a burst sized for the guess would be THROTTLED.
   * Default 1 when `maximumAvailable` is not given (the size is a guess), unlimited when it is.
   */
  readonly inFlightUntilLearned?: number | undefined
}

/** A reservation made before sending one query. */
export interface Reservation {
  readonly key: string
  readonly id: number
  /** Points held for the query. */
  readonly cost: number
  readonly operation: string | undefined
}

/** The model of one key's bucket. */
export interface QueryCostState {
  maximumAvailable: number
  restoreRate: number
  /** Points available at `updatedAt`, after in-flight reservations. */
  available: number
  updatedAt: number
  /** Reservation id → held points, for queries sent but not yet settled. */
  readonly inFlight: Map<number, number>
  /** Operation name → last `requestedQueryCost` the server computed for it. */
  readonly learned: Map<string, number>
  nextId: number
  /** Id of the reservation whose `throttleStatus` was last adopted (0: none yet). */
  statusFrom: number
}

/** Exact wait (ms, rounded up) until `cost` points are available, from a throttleStatus. */
export const throttleWaitMillis = (status: ThrottleStatus, cost: number): number =>
  status.restoreRate > 0
    ? Math.max(
        0,
        Math.ceil(
          ((Math.min(cost, status.maximumAvailable) - status.currentlyAvailable) / status.restoreRate) * 1000
        )
      )
    : 0

const EPSILON = 1e-9

const refill = (state: QueryCostState, now: number) => {
  if (Number.isNaN(state.updatedAt)) state.updatedAt = now
  const elapsed = Math.max(0, now - state.updatedAt) / 1000
  state.available = Math.min(state.maximumAvailable, state.available + elapsed * state.restoreRate)
  state.updatedAt = now
}

/** The query-cost limiter, keyed by shop. */
export class QueryCostBucket extends Context.Service<
  QueryCostBucket,
  {
    /**
     * Holds `estimate` points (or the cost the server last computed for `operation`) in `key`'s
     * bucket, waiting exactly as long as the bucket needs to refill.
     */
    readonly reserve: (key: string, estimate: number, operation?: string) => Effect.Effect<Reservation>
    /** Settles a reservation against the server's `extensions.cost` (null when the response had none). */
    readonly settle: (reservation: Reservation, cost: QueryCost | null | undefined) => Effect.Effect<void>
    /** Returns all held points: the query was never sent. */
    readonly cancel: (reservation: Reservation) => Effect.Effect<void>
    /**
     * reserve → run → settle with `costOf(result)`. The effect should *return* THROTTLED responses
     * (with their cost) rather than fail, so the bucket learns from them; on failure the reservation
     * is cancelled if the request provably never left, else kept (the server may have charged it).
     */
    readonly withCost: <A, E, R>(
      key: string,
      estimate: number,
      effect: Effect.Effect<A, E, R>,
      costOf: (result: A) => QueryCost | null | undefined,
      operation?: string
    ) => Effect.Effect<A, E, R>
    /** How long a query of `cost` would wait now (ms), without reserving. */
    readonly waitMillis: (key: string, cost: number) => Effect.Effect<number>
    /** A copy of the key's model. */
    readonly state: (
      key: string
    ) => Effect.Effect<Omit<QueryCostState, "inFlight" | "learned"> & { readonly inFlightPoints: number }>
  }
>()("@kura/core/QueryCostBucket") {
  /** Buckets starting from `options` (defaults: 2000 points, 100/s). */
  static readonly layer = (options: QueryCostBucketOptions = {}): Layer.Layer<QueryCostBucket> =>
    Layer.sync(QueryCostBucket, () => makeQueryCostBucket(options))
}

/** Builds the limiter (exported for code that assembles services by hand). */
export const makeQueryCostBucket = (options: QueryCostBucketOptions = {}): QueryCostBucket["Service"] => {
  const maximumAvailable = options.maximumAvailable ?? 2000
  const restoreRate = options.restoreRate ?? 100
  if (!(maximumAvailable > 0) || !(restoreRate > 0)) {
    throw new RangeError("QueryCostBucket needs maximumAvailable > 0 and restoreRate > 0")
  }
  const untilLearned =
    options.inFlightUntilLearned ?? (options.maximumAvailable === undefined ? 1 : Number.POSITIVE_INFINITY)
  if (!(untilLearned >= 1)) {
    throw new RangeError("QueryCostBucket needs inFlightUntilLearned >= 1 (or leave it unset)")
  }
  const slots = makeKeyed<QueryCostState>(() => ({
    maximumAvailable,
    restoreRate,
    available: maximumAvailable,
    updatedAt: Number.NaN,
    inFlight: new Map(),
    learned: new Map(),
    nextId: 1,
    statusFrom: 0
  }))

  const costFor = (state: QueryCostState, estimate: number, operation: string | undefined) => {
    const learned = operation === undefined ? undefined : state.learned.get(operation)
    return Math.max(0, learned ?? estimate)
  }

  const take = (slot: Slot<QueryCostState>, key: string, estimate: number, operation: string | undefined) =>
    Effect.gen(function* () {
      const start = yield* Clock.currentTimeMillis
      for (;;) {
        const now = yield* Clock.currentTimeMillis
        const state = slot.state
        if (state.statusFrom === 0 && state.inFlight.size >= untilLearned) {
          // The mutex stays held, so later callers keep their FIFO place behind this one.
          yield* Deferred.await(slot.wake)
          continue
        }
        refill(state, now)
        const cost = costFor(state, estimate, operation)
        // A query dearer than the whole bucket can only ever be sent from a full bucket.
        const need = Math.min(cost, state.maximumAvailable)
        if (state.available + EPSILON >= need) {
          state.available -= cost
          const id = state.nextId++
          state.inFlight.set(id, cost)
          const waited = now - start
          if (waited > 0)
            yield* Telemetry.useSync((r) =>
              r.observe(MetricNames.throttleWait, waited / 1000, { kind: "query-cost" })
            )
          return { key, id, cost, operation } satisfies Reservation
        }
        const waitMillis = Math.ceil(((need - state.available) / state.restoreRate) * 1000 - EPSILON)
        yield* sleepOrWake(slot, Math.max(1, waitMillis))
      }
    })

  const reserve = (key: string, estimate: number, operation?: string) => {
    const slot = slots(key)
    return slot.mutex.withPermits(1)(take(slot, key, estimate, operation))
  }

  const settle = (reservation: Reservation, cost: QueryCost | null | undefined) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.sync(() => {
        const slot = slots(reservation.key)
        const state = slot.state
        if (!state.inFlight.delete(reservation.id)) return
        refill(state, now)
        const requested = cost?.requestedQueryCost
        if (reservation.operation !== undefined && typeof requested === "number") {
          state.learned.set(reservation.operation, requested)
        }
        const status = cost?.throttleStatus
        // An answer older than the figure already adopted would move the model back in time.
        if (status && reservation.id > state.statusFrom) {
          state.statusFrom = reservation.id
          state.maximumAvailable = status.maximumAvailable
          if (status.restoreRate > 0) state.restoreRate = status.restoreRate
          // Concurrent requests reach the server in any order, so every one still unanswered, sent
          // before or after this one, may be missing from its figure: never be optimistic.
          let unanswered = 0
          for (const held of state.inFlight.values()) unanswered += held
          state.available = Math.min(state.maximumAvailable, status.currentlyAvailable - unanswered)
        } else if (typeof cost?.actualQueryCost === "number") {
          state.available = Math.min(
            state.maximumAvailable,
            state.available + reservation.cost - cost.actualQueryCost
          )
        }
        wakeUp(slot)
      })
    )

  const cancel = (reservation: Reservation) =>
    Effect.sync(() => {
      const slot = slots(reservation.key)
      const state = slot.state
      if (!state.inFlight.delete(reservation.id)) return
      state.available = Math.min(state.maximumAvailable, state.available + reservation.cost)
      wakeUp(slot)
    })

  const neverSent = (error: unknown) =>
    isApiError(error) && error.reason._tag === "Transport" && !error.reason.mayHaveReachedServer

  const withCost = <A, E, R>(
    key: string,
    estimate: number,
    effect: Effect.Effect<A, E, R>,
    costOf: (result: A) => QueryCost | null | undefined,
    operation?: string
  ) =>
    Effect.flatMap(reserve(key, estimate, operation), (reservation) =>
      effect.pipe(
        Effect.tap((result) => settle(reservation, costOf(result))),
        Effect.tapError((error) => (neverSent(error) ? cancel(reservation) : settle(reservation, null))),
        Effect.onInterrupt(() => settle(reservation, null))
      )
    )

  const waitMillis = (key: string, cost: number) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.sync(() => {
        const state = slots(key).state
        refill(state, now)
        const need = Math.min(cost, state.maximumAvailable)
        return state.available >= need ? 0 : Math.ceil(((need - state.available) / state.restoreRate) * 1000)
      })
    )

  const state = (key: string) =>
    Effect.sync(() => {
      const { inFlight, learned: _learned, ...rest } = slots(key).state
      let inFlightPoints = 0
      for (const held of inFlight.values()) inFlightPoints += held
      return { ...rest, inFlightPoints }
    })

  return QueryCostBucket.of({ reserve, settle, cancel, withCost, waitMillis, state })
}
