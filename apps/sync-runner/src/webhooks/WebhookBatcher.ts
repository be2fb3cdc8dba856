/**
 * The batching webhook path. An accepted delivery is appended to the write-ahead log and answered
 * once it is on disk (group commit, so one fdatasync covers every delivery that arrived meanwhile);
 * a flusher then lands batches, every `maxBatch` records or `flushMs`, through the
 * WebhookBatchSink (one lake object, one raw load, one canonical upsert per table). When more than
 * `capacity` records wait to land, new deliveries get 503 + Retry-After (Shopify retries them);
 * an accepted record is never dropped: a failed landing is retried with backoff, and whatever has
 * not landed at shutdown stays in the log and lands on the next start. Seen event ids survive
 * restarts: they are re-read from `_kura_raw` and from the segments being replayed.
 */
import { Context, Effect, Fiber, Layer } from "effect"
import { Metrics } from "../Metrics.js"
import type { WebhookDelivery } from "../WebhookSink.js"
import { DedupSet, dedupKey } from "./DedupSet.js"
import { envelopeLine, webhookStreamName } from "./envelope.js"
import { landWithRetry } from "./landWithRetry.js"
import { type Segment, SegmentLog, type SyncMode } from "./SegmentLog.js"
import { deliveryFromEnvelope } from "./WarehouseWebhookSink.js"
import { WebhookBatchSink } from "./WebhookBatchSink.js"

/** Options of the batcher. */
export interface WebhookBatcherOptions {
  /** Directory of the write-ahead segments (keep it on a persistent disk where there is one). */
  readonly dir: string
  /** Land once this many records wait (default 5,000). */
  readonly maxBatch?: number
  /** Land at least this often while records wait (default 1,000 ms: larger batches cost less CPU per record). */
  readonly flushMs?: number
  /** Accepted-but-not-landed records above which deliveries are refused with 503 (default 20,000). */
  readonly capacity?: number
  /** When the write-ahead log is fdatasync'ed (`window` default, `ack`, `none`; see SegmentLog). */
  readonly sync?: SyncMode
  /** How long an event id is remembered (default 48 h, longer than Shopify's retry schedule). */
  readonly dedupTtlMs?: number
  /**
   * At most this many event ids are remembered (default 200,000, about 40 MB; a duplicate beyond it
   * only costs an extra `_kura_raw` row, since canonical upserts are idempotent).
   */
  readonly dedupCapacity?: number
  /** Retry-After seconds sent with a 503 (default 5). */
  readonly retryAfterSeconds?: number
  /** How long shutdown keeps retrying a failing landing before leaving it to the next start (default 20 s). */
  readonly drainTimeoutMs?: number
}

/** The outcome of offering a delivery. */
export type OfferResult =
  | { readonly _tag: "Accepted" }
  | { readonly _tag: "Duplicate" }
  | { readonly _tag: "Busy"; readonly retryAfterSeconds: number; readonly reason: string }

/** Counters, for tests and the status page. */
export interface BatcherStats {
  readonly accepted: number
  readonly landed: number
  readonly batches: number
  readonly failures: number
  readonly replayed: number
  readonly pending: number
}

interface Pending {
  /** Resolves once every write to the segment has finished. */
  readonly segment: Promise<Segment>
  readonly deliveries: Array<WebhookDelivery>
}

const keyOf = (d: WebhookDelivery) => dedupKey(d.shop, webhookStreamName(d.topic), d.eventId)

/** The batcher service. */
export class WebhookBatcher extends Context.Service<
  WebhookBatcher,
  {
    /** Durably accepts a verified delivery, or says why not. */
    readonly offer: (delivery: WebhookDelivery) => Effect.Effect<OfferResult>
    /** Records accepted but not yet landed. */
    readonly pending: Effect.Effect<number>
    readonly stats: Effect.Effect<BatcherStats>
  }
>()("@kura/sync-runner/WebhookBatcher") {
  /** Opens the log, replays what a previous process left, and starts the flusher; closing the scope drains. */
  static readonly make = Effect.fnUntraced(function* (options: WebhookBatcherOptions) {
    const sink = yield* WebhookBatchSink
    const metrics = yield* Metrics
    const maxBatch = options.maxBatch ?? 5_000
    const flushMs = options.flushMs ?? 1_000
    const capacity = options.capacity ?? 20_000
    const retryAfterSeconds = options.retryAfterSeconds ?? 5
    const drainTimeoutMs = options.drainTimeoutMs ?? 20_000
    const dedup = new DedupSet(options.dedupTtlMs ?? 48 * 3_600_000, options.dedupCapacity ?? 200_000)
    const { log, recovered } = SegmentLog.open({ dir: options.dir, sync: options.sync ?? "window" })

    const now0 = Date.now()
    const seen = yield* Effect.result(sink.recentEvents(now0 - dedup.ttlMs, dedup.capacity))
    if (seen._tag === "Success") for (const s of [...seen.success].reverse()) dedup.add(s.key, s.at)
    else yield* Effect.logWarning(`webhook dedup: cannot read recent event ids (${seen.failure.message})`)

    const backlog: Array<Pending> = []
    let replayed = 0
    for (const segment of recovered) {
      const deliveries = segment.lines.flatMap((l) => {
        const d = deliveryFromEnvelope(l)
        return d._tag === "Some" ? [d.value] : []
      })
      for (const d of deliveries) dedup.add(keyOf(d), d.receivedAt)
      backlog.push({ segment: Promise.resolve(segment), deliveries })
      replayed += deliveries.length
    }
    if (replayed > 0)
      yield* Effect.logInfo(
        `webhooks: replaying ${replayed} record(s) from ${recovered.length} write-ahead segment(s)`
      )

    let current: Array<WebhookDelivery> = []
    let currentSince = 0
    let outstanding = replayed
    let closing = false
    const counts = { accepted: 0, landed: 0, batches: 0, failures: 0 }

    const offer = (delivery: WebhookDelivery): Effect.Effect<OfferResult> =>
      Effect.suspend(() => {
        const key = keyOf(delivery)
        if (closing) return Effect.succeed(busy("shutting down"))
        if (dedup.has(key, delivery.receivedAt)) return Effect.succeed({ _tag: "Duplicate" } as const)
        if (outstanding >= capacity) return Effect.succeed(busy("intake buffer full"))
        dedup.add(key, delivery.receivedAt)
        const batch = current
        if (batch.length === 0) currentSince = Date.now()
        batch.push(delivery)
        outstanding++
        const written = log.append(envelopeLine(delivery))
        // A full batch is sealed at once, even while an earlier one is landing, so batches stay bounded.
        if (batch.length >= maxBatch) seal()
        return Effect.promise(() =>
          written.then(
            (): OfferResult => {
              counts.accepted++
              return { _tag: "Accepted" }
            },
            (e: unknown): OfferResult => {
              // Not on disk, so not accepted: take it back out so it neither lands nor blocks a retry.
              const i = batch.indexOf(delivery)
              if (i >= 0) {
                batch.splice(i, 1)
                outstanding--
              }
              dedup.delete(key)
              return busy(`write-ahead log failed: ${e instanceof Error ? e.message : String(e)}`)
            }
          )
        )
      })
    const busy = (reason: string): OfferResult => ({ _tag: "Busy", retryAfterSeconds, reason })

    /** Closes the open batch with its segment (the swap and the rotation happen in one tick). */
    const seal = () => {
      const deliveries = current
      current = []
      backlog.push({ segment: log.rotate(), deliveries })
    }

    const pendingGauge = Effect.suspend(() =>
      metrics.set("kura_webhooks_pending", "Accepted webhook records not yet landed.", {}, outstanding)
    )

    const landNext = Effect.gen(function* () {
      const next = backlog[0]
      if (next === undefined) return
      const segment = yield* Effect.promise(() => next.segment)
      const live = next.deliveries
      yield* landWithRetry({
        attempt: Effect.as(
          live.length === 0 ? Effect.void : sink.landBatch({ batchId: segment.id, deliveries: live }),
          live.length
        ),
        batchId: segment.id,
        records: live.length,
        closing: () => closing,
        drainTimeoutMs,
        dir: options.dir,
        outstanding: () => outstanding,
        counts,
        metrics
      })
      log.remove(segment)
      backlog.shift()
      outstanding -= live.length
      yield* pendingGauge
    })

    const flusher = Effect.gen(function* () {
      while (true) {
        if (backlog.length > 0) {
          yield* landNext
          continue
        }
        if (current.length > 0 && (closing || Date.now() - currentSince >= flushMs)) {
          seal()
          yield* pendingGauge
          continue
        }
        if (closing) return
        yield* Effect.sleep(Math.max(2, Math.min(20, flushMs)))
      }
    })
    const fiber = yield* Effect.forkDetach(flusher)
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        closing = true
        yield* Fiber.awaitAll([fiber])
        log.close()
        yield* Effect.logInfo(`webhooks: drained (${counts.landed} landed, ${outstanding} left in the log)`)
      })
    )

    return WebhookBatcher.of({
      offer,
      pending: Effect.sync(() => outstanding),
      stats: Effect.sync(() => ({ ...counts, replayed, pending: outstanding }))
    })
  })

  /** The batcher layer; needs WebhookBatchSink and Metrics. */
  static readonly layer = (options: WebhookBatcherOptions) =>
    Layer.effect(WebhookBatcher, WebhookBatcher.make(options))
}
