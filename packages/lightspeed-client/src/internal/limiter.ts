/**
 * An adaptive request pacer for an API that publishes no rate limit (K-Series): additive increase
 * after successes, multiplicative decrease on a 429, an exact pause for `Retry-After`, and an
 * operator ceiling. Reservations are made synchronously, so concurrent fibers never share a slot.
 * (Kept here until @kura/core ships its AdaptiveLimiter; the lead may move it.)
 */
import { MetricNames, Telemetry } from "@kura/core"
import { Clock, Effect } from "effect"

/** Limiter settings. */
export interface AdaptiveLimiterOptions {
  /** Hard ceiling in requests per second; null = only the adaptive limit (capped at `maxRate`). */
  readonly ceiling: number | null
  readonly initialRate?: number
  readonly minRate?: number
  readonly maxRate?: number
  /** Requests per second added after each success. */
  readonly increase?: number
}

/** The pacer. */
export interface AdaptiveLimiter {
  /** Waits for the next slot. */
  readonly acquire: Effect.Effect<void>
  readonly onSuccess: Effect.Effect<void>
  /** A 429 arrived; `retryAfterMillis` pauses every caller that long. */
  readonly onThrottle: (retryAfterMillis: number | null) => Effect.Effect<void>
  /** Current rate (requests per second), for tests and logs. */
  readonly currentRate: () => number
}

/** Builds a limiter. */
export const makeAdaptiveLimiter = (options: AdaptiveLimiterOptions): AdaptiveLimiter => {
  const maxRate = Math.min(options.maxRate ?? 100, options.ceiling ?? Number.POSITIVE_INFINITY)
  const minRate = Math.min(options.minRate ?? 0.2, maxRate)
  const increase = options.increase ?? 0.5
  let rate = Math.min(options.initialRate ?? 10, maxRate)
  let nextSlot = 0
  let pausedUntil = 0

  const acquire = Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const start = Math.max(now, nextSlot, pausedUntil)
    nextSlot = start + 1000 / rate
    const wait = start - now
    if (wait > 0) {
      const registry = yield* Telemetry
      registry.observe(MetricNames.throttleWait, wait / 1000, { kind: "pacing", source: "lightspeed" })
      yield* Effect.sleep(wait)
    }
  })

  const onSuccess = Effect.sync(() => {
    rate = Math.min(maxRate, rate + increase / Math.max(1, rate))
  })

  const onThrottle = (retryAfterMillis: number | null) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.sync(() => {
        rate = Math.max(minRate, rate / 2)
        pausedUntil = Math.max(pausedUntil, now + (retryAfterMillis ?? 1000 / rate))
        nextSlot = Math.max(nextSlot, pausedUntil)
      })
    )

  return { acquire, onSuccess, onThrottle, currentRate: () => rate }
}
