/**
 * A self-tuning rate limiter for APIs that publish no limits (Stocky, Lightspeed K-Series). It
 * paces requests at a current rate per key, halves it on a 429 (multiplicative decrease, once per
 * cool-down so one burst of 429s counts once), honours `Retry-After` as a pause, and creeps back
 * up slowly while requests succeed (additive increase: +`increasePerSecond` req/s for every second
 * of saturated success), never above the operator's ceiling.
 */
import { Clock, Config, Context, Effect, Layer, Semaphore } from "effect"
import { isApiError, retryAfterMillis } from "./ApiError.js"
import { makeKeyed, type Slot, sleepOrWake } from "./internal/keyed.js"
import { MetricNames, Telemetry } from "./Telemetry.js"

/** Limiter settings. */
export interface AdaptiveLimiterOptions {
  /** Operator-set ceiling in requests per second; the rate never exceeds it. */
  readonly maxRatePerSecond: number
  /** Starting rate. Default: half the ceiling. */
  readonly initialRatePerSecond?: number | undefined
  /** Floor. Default 0.2 req/s (one request every 5 s). */
  readonly minRatePerSecond?: number | undefined
  /** Additive increase in req/s per second of saturated success. Default 0.1. */
  readonly increasePerSecond?: number | undefined
  /** Multiplicative decrease on a throttle. Default 0.5. */
  readonly decreaseFactor?: number | undefined
  /** Throttles within this many ms after a decrease do not decrease again. Default 1000. */
  readonly cooldownMillis?: number | undefined
  /** Max requests in flight per key. Default unlimited (pacing only). */
  readonly maxConcurrent?: number | undefined
}

/** One key's model. */
export interface AdaptiveLimiterState {
  ratePerSecond: number
  /** Earliest time the next request may start (epoch ms). */
  nextAt: number
  /** No request before this time (from Retry-After). */
  pausedUntil: number
  lastDecreaseAt: number
  throttles: number
}

interface AdaptiveSlot extends AdaptiveLimiterState {
  readonly concurrency: Semaphore.Semaphore | undefined
}

/** The adaptive (AIMD) limiter, keyed by account. */
export class AdaptiveLimiter extends Context.Service<
  AdaptiveLimiter,
  {
    /** Waits for `key`'s next slot at the current rate (and any Retry-After pause). */
    readonly acquire: (key: string) => Effect.Effect<void>
    /** Reports a request that was not throttled (grows the rate slowly). */
    readonly onSuccess: (key: string) => Effect.Effect<void>
    /** Reports a throttle (429): cuts the rate and pauses for `retryAfterMillis` when given. */
    readonly onThrottle: (key: string, retryAfterMillis: number | null) => Effect.Effect<void>
    /** acquire → run → report; an `ApiError` with reason RateLimited counts as a throttle. */
    readonly withLimit: <A, E, R>(key: string, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
    /** A copy of the key's model. */
    readonly state: (key: string) => Effect.Effect<AdaptiveLimiterState>
  }
>()("@kura/core/AdaptiveLimiter") {
  /** A limiter with the given settings. */
  static readonly layer = (options: AdaptiveLimiterOptions): Layer.Layer<AdaptiveLimiter> =>
    Layer.sync(AdaptiveLimiter, () => makeAdaptiveLimiter(options))

  /** Reads `<PREFIX>_MAX_RPS` (required), `<PREFIX>_INITIAL_RPS` and `<PREFIX>_MAX_CONCURRENT` (optional). */
  static readonly layerConfig = (prefix: string): Layer.Layer<AdaptiveLimiter, Config.ConfigError> =>
    Layer.effect(AdaptiveLimiter, Effect.map(adaptiveLimiterConfig(prefix), makeAdaptiveLimiter))
}

/** The settings `layerConfig` reads, e.g. `adaptiveLimiterConfig("KURA_STOCKY")`. */
export const adaptiveLimiterConfig = (prefix: string): Config.Config<AdaptiveLimiterOptions> =>
  Config.all({
    maxRatePerSecond: Config.Finite(`${prefix}_MAX_RPS`),
    initialRatePerSecond: Config.option(Config.Finite(`${prefix}_INITIAL_RPS`)),
    maxConcurrent: Config.option(Config.Int(`${prefix}_MAX_CONCURRENT`))
  }).pipe(
    Config.map((c) => ({
      maxRatePerSecond: c.maxRatePerSecond,
      initialRatePerSecond: c.initialRatePerSecond._tag === "Some" ? c.initialRatePerSecond.value : undefined,
      maxConcurrent: c.maxConcurrent._tag === "Some" ? c.maxConcurrent.value : undefined
    }))
  )

/** Builds the limiter (exported for code that assembles services by hand). */
export const makeAdaptiveLimiter = (options: AdaptiveLimiterOptions): AdaptiveLimiter["Service"] => {
  const max = options.maxRatePerSecond
  const min = Math.min(max, options.minRatePerSecond ?? 0.2)
  const initial = Math.min(max, Math.max(min, options.initialRatePerSecond ?? max / 2))
  const increase = options.increasePerSecond ?? 0.1
  const factor = options.decreaseFactor ?? 0.5
  const cooldown = options.cooldownMillis ?? 1000
  if (!(max > 0)) throw new RangeError(`AdaptiveLimiter maxRatePerSecond must be > 0, got ${max}`)
  if (!(factor > 0 && factor < 1))
    throw new RangeError(`AdaptiveLimiter decreaseFactor must be in (0, 1), got ${factor}`)
  const slots = makeKeyed<AdaptiveSlot>(() => ({
    ratePerSecond: initial,
    nextAt: 0,
    pausedUntil: 0,
    lastDecreaseAt: Number.NEGATIVE_INFINITY,
    throttles: 0,
    concurrency:
      options.maxConcurrent === undefined
        ? undefined
        : Semaphore.makeUnsafe(Math.max(1, options.maxConcurrent))
  }))

  const take = (slot: Slot<AdaptiveSlot>) =>
    Effect.gen(function* () {
      const start = yield* Clock.currentTimeMillis
      for (;;) {
        const now = yield* Clock.currentTimeMillis
        const state = slot.state
        const at = Math.max(state.nextAt, state.pausedUntil)
        if (now >= at) {
          state.nextAt = Math.max(now, state.nextAt) + 1000 / state.ratePerSecond
          const waited = now - start
          if (waited > 0)
            yield* Telemetry.useSync((r) =>
              r.observe(MetricNames.throttleWait, waited / 1000, { kind: "adaptive" })
            )
          return
        }
        yield* sleepOrWake(slot, Math.ceil(at - now))
      }
    })

  const acquire = (key: string) => {
    const slot = slots(key)
    return slot.mutex.withPermits(1)(take(slot))
  }

  const onSuccess = (key: string) =>
    Effect.sync(() => {
      const state = slots(key).state
      // +increase/rate per success ≈ +increase req/s per second while saturated, nothing while idle.
      state.ratePerSecond = Math.min(max, state.ratePerSecond + increase / state.ratePerSecond)
    })

  const onThrottle = (key: string, wait: number | null) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.gen(function* () {
        const state = slots(key).state
        state.throttles += 1
        if (now - state.lastDecreaseAt >= cooldown) {
          state.ratePerSecond = Math.max(min, state.ratePerSecond * factor)
          state.lastDecreaseAt = now
        }
        // Space the next request by the new, slower rate, and respect the server's pause.
        state.nextAt = Math.max(state.nextAt, now + 1000 / state.ratePerSecond)
        if (wait !== null) state.pausedUntil = Math.max(state.pausedUntil, now + wait)
        yield* Telemetry.useSync((r) => r.increment(MetricNames.throttled, { limiter: "adaptive" }))
      })
    )

  const withLimit = <A, E, R>(key: string, effect: Effect.Effect<A, E, R>) => {
    const slot = slots(key)
    const run = Effect.flatMap(acquire(key), () =>
      effect.pipe(
        Effect.tap(() => onSuccess(key)),
        Effect.tapError((error) =>
          isApiError(error) && error.reason._tag === "RateLimited"
            ? onThrottle(key, retryAfterMillis(error))
            : Effect.void
        )
      )
    )
    return slot.state.concurrency ? slot.state.concurrency.withPermits(1)(run) : run
  }

  const state = (key: string) =>
    Effect.sync(() => {
      const { concurrency: _c, ...rest } = slots(key).state
      return rest
    })

  return AdaptiveLimiter.of({ acquire, onSuccess, onThrottle, withLimit, state })
}
