/**
 * A request-count leaky bucket per shop/account whose level is corrected from the server's own
 * headers (Shopify REST `X-Shopify-Shop-Api-Call-Limit: 32/40`; Lightspeed R-Series
 * `X-LS-API-Bucket-Level: 10/60` and `X-LS-API-Drip-Rate`). Sending only when the bucket has room
 * avoids 429s instead of reacting to them, and learning from headers keeps it right when another
 * process (or the merchant's other apps) share the same budget.
 */
import { Clock, Context, Effect, Layer } from "effect"
import { headerValue, isApiError } from "./ApiError.js"
import { makeKeyed, type Slot, sleepOrWake, wakeUp } from "./internal/keyed.js"
import { MetricNames, Telemetry } from "./Telemetry.js"

/** Bucket settings (used until headers say otherwise). */
export interface LeakyBucketOptions {
  /** Bucket size in requests (Shopify standard REST: 40). */
  readonly capacity: number
  /** Leak rate in requests per second (Shopify standard REST: 2). */
  readonly leakPerSecond: number
  /** Slots kept free for other clients of the same budget. Default 0. */
  readonly headroom?: number | undefined
  /**
   * Derives the leak rate from a capacity learned from headers, for APIs whose headers carry the
   * size but not the rate. Shopify REST keeps bucket = 20 × leak on every plan (40/2, 80/4, 400/20).
   */
  readonly leakFromCapacity?: ((capacity: number) => number) | undefined
}

/** What a response header says about the bucket. */
export interface BucketReading {
  readonly used: number
  readonly capacity: number
  /** Present when the server states it (Lightspeed `X-LS-API-Drip-Rate`). */
  readonly leakPerSecond?: number | undefined
}

/** The current model of one key's bucket. */
export interface LeakyBucketState {
  capacity: number
  leakPerSecond: number
  /** Requests in the bucket at `updatedAt` (includes in-flight requests). */
  level: number
  updatedAt: number
  inFlight: number
}

type Headers = Readonly<Record<string, string | ReadonlyArray<string> | undefined>>

const USED_OF = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(\d+(?:\.\d+)?)\s*$/

/** Reads Shopify's or Lightspeed's bucket headers; `undefined` when none is present or readable. */
export const readBucketHeaders = (headers: Headers): BucketReading | undefined => {
  const raw =
    headerValue(headers, "x-shopify-shop-api-call-limit") ?? headerValue(headers, "x-ls-api-bucket-level")
  const match = raw === undefined ? null : USED_OF.exec(raw)
  if (!match?.[1] || !match[2]) return undefined
  const capacity = Number(match[2])
  if (!(capacity > 0)) return undefined
  const drip = Number(headerValue(headers, "x-ls-api-drip-rate"))
  return {
    used: Number(match[1]),
    capacity,
    ...(Number.isFinite(drip) && drip > 0 ? { leakPerSecond: drip } : {})
  }
}

const isRateLimited = (error: unknown): boolean => isApiError(error) && error.reason._tag === "RateLimited"

const leak = (state: LeakyBucketState, now: number) => {
  const elapsed = Math.max(0, now - state.updatedAt) / 1000
  state.level = Math.max(0, state.level - elapsed * state.leakPerSecond)
  state.updatedAt = now
}

/** The leaky-bucket limiter, keyed by shop or account. */
export class LeakyBucket extends Context.Service<
  LeakyBucket,
  {
    /** Waits until `cost` requests fit in `key`'s bucket, then counts them in. */
    readonly acquire: (key: string, cost?: number) => Effect.Effect<void>
    /**
     * Corrects the level from a response's headers and ends the in-flight request(s). `sentAt` (the
     * clock time the request was sent) lets the correction credit what the server leaked while the
     * answer travelled; without it the reading is taken as of its arrival (one round trip late).
     */
    readonly observe: (key: string, headers: Headers, cost?: number, sentAt?: number) => Effect.Effect<void>
    /** Ends in-flight request(s) that produced no response (the bucket keeps leaking them out). */
    readonly release: (key: string, cost?: number) => Effect.Effect<void>
    /** acquire → run → observe the response headers (or release on failure). */
    readonly withBucket: <A extends { readonly headers: Headers }, E, R>(
      key: string,
      effect: Effect.Effect<A, E, R>,
      cost?: number
    ) => Effect.Effect<A, E, R>
    /** A copy of the key's model, for logs and tests. */
    readonly state: (key: string) => Effect.Effect<LeakyBucketState>
  }
>()("@kura/core/LeakyBucket") {
  /** A bucket per key, all starting from `options`. */
  static readonly layer = (options: LeakyBucketOptions): Layer.Layer<LeakyBucket> =>
    Layer.sync(LeakyBucket, () => makeLeakyBucket(options))

  /**
   * Shopify REST: starts at the standard plan (40 requests, 2/s); the call-limit header teaches the
   * real size and the leak follows Shopify's bucket = 20 × leak rule (Plus: 400, 20/s).
   */
  static readonly layerShopifyRest: Layer.Layer<LeakyBucket> = LeakyBucket.layer({
    capacity: 40,
    leakPerSecond: 2,
    leakFromCapacity: (capacity) => capacity / 20
  })
}

/** Builds the limiter (exported for code that assembles services by hand). */
export const makeLeakyBucket = (options: LeakyBucketOptions): LeakyBucket["Service"] => {
  if (!(options.capacity > 0) || !(options.leakPerSecond > 0)) {
    throw new RangeError("LeakyBucket needs capacity > 0 and leakPerSecond > 0")
  }
  const headroom = options.headroom ?? 0
  const slots = makeKeyed<LeakyBucketState>(() => ({
    capacity: options.capacity,
    leakPerSecond: options.leakPerSecond,
    level: 0,
    updatedAt: Number.NaN,
    inFlight: 0
  }))

  const take = (slot: Slot<LeakyBucketState>, cost: number): Effect.Effect<void> =>
    Effect.gen(function* () {
      const start = yield* Clock.currentTimeMillis
      for (;;) {
        const now = yield* Clock.currentTimeMillis
        const state = slot.state
        if (Number.isNaN(state.updatedAt)) state.updatedAt = now
        leak(state, now)
        const room = Math.max(cost, state.capacity - headroom)
        if (state.level + cost <= room) {
          state.level += cost
          state.inFlight += cost
          const waited = now - start
          if (waited > 0)
            yield* Telemetry.useSync((r) =>
              r.observe(MetricNames.throttleWait, waited / 1000, { kind: "leaky-bucket" })
            )
          return
        }
        const waitMillis = Math.ceil(((state.level + cost - room) / state.leakPerSecond) * 1000)
        yield* sleepOrWake(slot, Math.max(1, waitMillis))
      }
    })

  const acquire = (key: string, cost = 1) => {
    const slot = slots(key)
    return slot.mutex.withPermits(1)(take(slot, cost))
  }

  // When each key last observed an answer: a reading is credited with the leak since its send only
  // if no other answer arrived meanwhile (that one's reading may be newer, and is already applied).
  const lastObserved = new Map<string, number>()

  const observe = (key: string, headers: Headers, cost = 1, sentAt?: number) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.sync(() => {
        const slot = slots(key)
        const state = slot.state
        const previous = lastObserved.get(key)
        lastObserved.set(key, now)
        state.inFlight = Math.max(0, state.inFlight - cost)
        const reading = readBucketHeaders(headers)
        if (!reading) return
        leak(state, now)
        state.capacity = reading.capacity
        if (reading.leakPerSecond !== undefined) state.leakPerSecond = reading.leakPerSecond
        else if (options.leakFromCapacity) {
          const derived = options.leakFromCapacity(reading.capacity)
          if (derived > 0) state.leakPerSecond = derived
        }
        // The server counted this request somewhere between its send and now, and has leaked since.
        const exact = sentAt !== undefined && sentAt <= now && (previous === undefined || previous <= sentAt)
        const leaked = exact ? ((now - sentAt) / 1000) * state.leakPerSecond : 0
        // The server's count includes this request; others still in flight are not in it yet.
        state.level = Math.max(0, reading.used - leaked) + state.inFlight
        state.updatedAt = now
        wakeUp(slot)
      })
    )

  const release = (key: string, cost = 1) =>
    Effect.sync(() => {
      const state = slots(key).state
      state.inFlight = Math.max(0, state.inFlight - cost)
    })

  const withBucket = <A extends { readonly headers: Headers }, E, R>(
    key: string,
    effect: Effect.Effect<A, E, R>,
    cost = 1
  ) =>
    Effect.flatMap(acquire(key, cost), () =>
      effect.pipe(
        Effect.tap((response) => observe(key, response.headers, cost)),
        Effect.tapError((error) => (isRateLimited(error) ? markFull(key) : Effect.void)),
        Effect.onError(() => release(key, cost))
      )
    )

  // A 429 proves the bucket is full, whatever the local model believed.
  const markFull = (key: string) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.sync(() => {
        const state = slots(key).state
        state.level = Math.max(state.level, state.capacity)
        state.updatedAt = now
      })
    )

  const state = (key: string) => Effect.sync(() => ({ ...slots(key).state }))

  return LeakyBucket.of({ acquire, observe, release, withBucket, state })
}
