/**
 * The policy layer's retries: an Effect `Schedule` over `ApiError` with exponential backoff, full
 * jitter ("Exponential Backoff and Jitter", AWS 2015), a cap, and limits on attempts and elapsed
 * time. It honours `Retry-After` exactly, never retries permanent errors (401, 403, 404, other
 * 4xx, decoding) and never repeats a non-idempotent request that may have reached the server. All
 * of that classification lives in `ApiError.isRetryable`.
 */
import { Cause, Duration, Effect, Random, Schedule } from "effect"
import { type ApiError, isRetryable, retryAfterMillis } from "./ApiError.js"
import { MetricNames, Telemetry } from "./Telemetry.js"

/** What a hook learns about a retry that is about to happen. */
export interface RetryInfo {
  readonly error: ApiError
  /** The attempt that just failed (1-based). */
  readonly attempt: number
  /** How long the policy will wait before the next attempt. */
  readonly delayMillis: number
  /** The server-requested wait, when it sent one. */
  readonly retryAfterMillis: number | null
  /** Time since the first attempt started. */
  readonly elapsedMillis: number
}

/** A hook's answer: `false` stops retrying (the error is returned), anything else lets the retry proceed. */
export type RetryHookResult = boolean | undefined

/** Retry settings. Defaults suit a nightly sync: 6 tries within 5 minutes. */
export interface RetryPolicyOptions {
  /** First backoff ceiling in ms; attempt n waits up to base × 2^(n−1). Default 500. */
  readonly baseDelayMillis?: number | undefined
  /** Cap on the backoff ceiling in ms (not on a server's `Retry-After`). Default 30 000. */
  readonly maxDelayMillis?: number | undefined
  /** Total attempts including the first. Default 6. A 429 that says when to come back (`Retry-After`) is not counted: only `maxElapsedMillis` bounds those. */
  readonly maxAttempts?: number | undefined
  /** Give up once the next wait would end later than this many ms after the first attempt. Default 300 000. */
  readonly maxElapsedMillis?: number | undefined
  /** Full jitter (uniform in [0, ceiling]); set false for deterministic backoff. Default true. */
  readonly jitter?: boolean | undefined
  /** Called before every retry of a non-throttle error (5xx, timeouts, connection faults), as in Octokit. */
  readonly onRetry?: ((info: RetryInfo) => RetryHookResult | Effect.Effect<RetryHookResult>) | undefined
  /** Called before every retry caused by a throttle (429, GraphQL THROTTLED), as Octokit's onRateLimit. */
  readonly onThrottle?: ((info: RetryInfo) => RetryHookResult | Effect.Effect<RetryHookResult>) | undefined
}

/** Settings with defaults filled in. */
export interface ResolvedRetryPolicy {
  readonly baseDelayMillis: number
  readonly maxDelayMillis: number
  readonly maxAttempts: number
  readonly maxElapsedMillis: number
  readonly jitter: boolean
}

/** Fills in defaults and rejects nonsensical settings early with a message naming the field. */
export const resolveRetryPolicy = (options: RetryPolicyOptions = {}): ResolvedRetryPolicy => {
  const resolved = {
    baseDelayMillis: options.baseDelayMillis ?? 500,
    maxDelayMillis: options.maxDelayMillis ?? 30_000,
    maxAttempts: options.maxAttempts ?? 6,
    maxElapsedMillis: options.maxElapsedMillis ?? 300_000,
    jitter: options.jitter ?? true
  }
  for (const [name, value] of Object.entries(resolved)) {
    if (typeof value === "number" && !(value >= 0)) {
      throw new RangeError(`RetryPolicy option ${name} must be a number >= 0, got ${value}`)
    }
  }
  if (resolved.maxAttempts < 1) throw new RangeError("RetryPolicy option maxAttempts must be >= 1")
  return resolved
}

/** The backoff ceiling before jitter for the retry after failed attempt `attempt` (1-based). */
export const backoffCeilingMillis = (policy: ResolvedRetryPolicy, attempt: number): number =>
  Math.min(policy.maxDelayMillis, policy.baseDelayMillis * 2 ** Math.max(0, attempt - 1))

const runHook = (
  hook: ((info: RetryInfo) => RetryHookResult | Effect.Effect<RetryHookResult>) | undefined,
  info: RetryInfo
): Effect.Effect<boolean> => {
  if (hook === undefined) return Effect.succeed(true)
  return Effect.suspend(() => {
    const result = hook(info)
    return Effect.isEffect(result) ? Effect.map(result, (r) => r !== false) : Effect.succeed(result !== false)
  })
}

/**
 * A ready-made hook for `onRetry`/`onThrottle` that logs each retry as a structured warning
 * (reason, attempt, wait, request id) and lets it proceed.
 */
export const logRetry = (info: RetryInfo): Effect.Effect<RetryHookResult> =>
  Effect.logWarning(`retrying in ${info.delayMillis} ms: ${info.error.message}`).pipe(
    Effect.annotateLogs({
      reason: info.error.reason._tag,
      attempt: info.attempt,
      delayMillis: info.delayMillis,
      ...(info.error.reason.requestId === undefined ? {} : { requestId: info.error.reason.requestId })
    }),
    Effect.as(true)
  )

/**
 * The retry schedule. Its input is the `ApiError` of the failed attempt and its output the delay
 * in ms; it stops (so the error propagates) when the error is permanent, when attempts or elapsed
 * time run out, or when a hook returns false.
 */
export const schedule = (options: RetryPolicyOptions = {}): Schedule.Schedule<number, ApiError> => {
  const policy = resolveRetryPolicy(options)
  return Schedule.fromStepWithMetadata(
    Effect.sync(() => {
      // Throttles that came with the server's own wait: the server pacing us, not the request
      // failing. They do not spend the attempt budget (only maxElapsedMillis bounds them), so a
      // request sharing a saturated limit with busier callers is not given up after a second of
      // short Retry-After waits while the shared limiter is still slowing down.
      let paced = 0
      return (meta: Schedule.InputMetadata<ApiError>) =>
        Effect.gen(function* () {
          const error = meta.input
          const serverWait = retryAfterMillis(error)
          if (error.reason._tag === "RateLimited" && serverWait !== null) paced++
          // meta.attempt counts schedule steps, i.e. failed attempts so far.
          const attempt = meta.attempt
          if (!isRetryable(error) || attempt - paced >= policy.maxAttempts) return yield* Cause.done(0)
          const ceiling = backoffCeilingMillis(policy, attempt)
          const backoff = policy.jitter ? Math.floor((yield* Random.next) * ceiling) : ceiling
          // A server that says when to come back is obeyed exactly; guessing earlier only earns another 429.
          const delayMillis = serverWait ?? backoff
          if (meta.elapsed + delayMillis > policy.maxElapsedMillis) return yield* Cause.done(0)
          const info: RetryInfo = {
            error,
            attempt,
            delayMillis,
            retryAfterMillis: serverWait,
            elapsedMillis: meta.elapsed
          }
          const isThrottle = error.reason._tag === "RateLimited"
          const proceed = yield* runHook(isThrottle ? options.onThrottle : options.onRetry, info)
          if (!proceed) return yield* Cause.done(0)
          const registry = yield* Telemetry
          registry.increment(MetricNames.retries, { reason: error.reason._tag })
          if (isThrottle) {
            registry.increment(MetricNames.throttled, {})
            registry.observe(MetricNames.throttleWait, delayMillis / 1000, { kind: "retry-after" })
          }
          return [delayMillis, Duration.millis(delayMillis)] as [number, Duration.Duration]
        })
    })
  )
}

/**
 * Runs `attempt(n)` (n = 1, 2, ...) until it succeeds or the policy gives up. Pass `n` into the
 * request (`HttpRequest.attempt`) so errors and logs say which try failed.
 */
export const withRetry = <A, R>(
  options: RetryPolicyOptions,
  attempt: (attempt: number) => Effect.Effect<A, ApiError, R>
): Effect.Effect<A, ApiError, R> =>
  Effect.suspend(() => {
    let n = 0
    return Effect.retry(
      Effect.suspend(() => attempt(++n)),
      schedule(options)
    )
  })

/** Retries an effect that fails with `ApiError` under the policy (attempt numbers are not threaded through). */
export const retry =
  (options: RetryPolicyOptions = {}) =>
  <A, R>(effect: Effect.Effect<A, ApiError, R>): Effect.Effect<A, ApiError, R> =>
    Effect.retry(effect, schedule(options))
