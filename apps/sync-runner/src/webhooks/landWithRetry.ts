/**
 * Landing one sealed batch of accepted webhooks, shared by the batcher (main-thread intake) and
 * the intake thread's lander: an accepted record is never dropped, so a failed landing is retried
 * with backoff until it succeeds, or, once shutdown began, until the drain timeout leaves it in
 * the write-ahead log for the next start.
 */
import { Effect } from "effect"
import type { Metrics } from "../Metrics.js"

/** The counters both landers report in their stats. */
export interface LandingCounts {
  landed: number
  batches: number
  failures: number
}

/** What `landWithRetry` needs from its lander. */
export interface LandingOptions<E, R> {
  /** One attempt; succeeds with the records landed. */
  readonly attempt: Effect.Effect<number, E, R>
  readonly batchId: string
  /** Records in the batch (for the log lines). */
  readonly records: number
  readonly closing: () => boolean
  readonly drainTimeoutMs: number
  /** The write-ahead directory (named when records are left for the next start). */
  readonly dir: string
  /** Records accepted and not landed yet (named when shutdown gives up). */
  readonly outstanding: () => number
  readonly counts: LandingCounts
  readonly metrics: Metrics["Service"]
}

/**
 * Lands a batch, retrying with backoff (200 ms doubling to 10 s); interrupts when shutdown's drain
 * timeout passes. On success counts the batch and its records in `counts` and the metrics.
 */
export const landWithRetry = <E extends { readonly message: string }, R>(o: LandingOptions<E, R>) =>
  Effect.gen(function* () {
    let attempt = 0
    let closingSince = 0
    let landed = 0
    while (true) {
      const result = yield* Effect.result(o.attempt)
      if (result._tag === "Success") {
        landed = result.success
        break
      }
      attempt++
      o.counts.failures++
      yield* o.metrics.increment(
        "kura_webhooks_flush_failures_total",
        "Webhook batch landings that failed (retried)."
      )
      yield* Effect.logError(
        `webhooks: landing batch ${o.batchId} (${o.records} records) failed, attempt ${attempt}: ${result.failure.message}`
      )
      if (o.closing()) {
        closingSince ||= Date.now()
        if (Date.now() - closingSince > o.drainTimeoutMs) {
          yield* Effect.logError(
            `webhooks: ${o.outstanding()} record(s) not landed at shutdown; they stay in ${o.dir} and land on the next start`
          )
          return yield* Effect.interrupt
        }
      }
      yield* Effect.sleep(Math.min(200 * 2 ** Math.min(attempt, 8), 10_000))
    }
    o.counts.landed += landed
    o.counts.batches++
    yield* o.metrics.increment(
      "kura_webhooks_landed_total",
      "Webhook records landed in the warehouse.",
      {},
      landed
    )
    yield* o.metrics.increment("kura_webhooks_batches_total", "Webhook batches landed.")
    return landed
  })
