/**
 * Shopify webhook intake: verify the HMAC over the raw bytes, refuse anything unverified before it is
 * parsed or stored, de-duplicate by event id, and hand accepted deliveries on (to the batching
 * write-ahead path, or to the per-delivery queue) so the HTTP answer goes back well inside
 * Shopify's 5-second limit.
 */
import { Cause, Clock, Context, Effect, Fiber, Layer, Option, Queue, Schedule } from "effect"
import { Metrics } from "./Metrics.js"
import { type WebhookDelivery, WebhookSink } from "./WebhookSink.js"
import { DedupSet, dedupKey } from "./webhooks/DedupSet.js"
import { webhookStreamName } from "./webhooks/envelope.js"
import {
  type Headers,
  type IntakeResponse,
  MAX_WEBHOOK_BYTES,
  precheckHeaders,
  respond,
  verifyWebhook
} from "./webhooks/verifyWebhook.js"
import { WebhookBatcher } from "./webhooks/WebhookBatcher.js"

export { type Headers, type IntakeResponse, MAX_WEBHOOK_BYTES }

/** Options for the intake. */
export interface WebhookIntakeOptions {
  /** Secrets per shop domain (webhook secret and/or app client secret); several allow rotation. */
  readonly secretsFor: (shop: string) => ReadonlyArray<string>
  readonly queueCapacity?: number
  /** How many event ids to remember for de-duplication (per-delivery intake). */
  readonly dedupCapacity?: number
  /** Deliveries landed at once (per-delivery intake). */
  readonly workers?: number
}

/** Checks what can be refused from headers alone (size, content type), before reading the body. */
export const precheckWebhook = (headers: Headers): Option.Option<IntakeResponse> =>
  Option.fromNullishOr(precheckHeaders(headers))

/**
 * Verifies one delivery (the shared rules of `verifyWebhook`), counting and logging refusals.
 * Answers with the refusal, or the delivery to store.
 */
const verifier = (options: WebhookIntakeOptions, metrics: Metrics["Service"]) =>
  Effect.fnUntraced(function* (headers: Headers, body: Uint8Array) {
    const verified = verifyWebhook(headers, body, options.secretsFor, yield* Clock.currentTimeMillis)
    if (verified._tag === "Verified") return verified.delivery
    if (verified.reason !== undefined)
      yield* metrics.increment("kura_webhooks_rejected_total", "Refused webhook deliveries.", {
        reason: verified.reason
      })
    if (verified.reason === "hmac")
      yield* Effect.logWarning(`webhook refused: bad HMAC for ${shopOf(headers)}`)
    return verified.response
  })

const shopOf = (headers: Headers): string => {
  const v = headers["x-shopify-shop-domain"]
  return (typeof v === "string" ? v : (v?.[0] ?? "")).toLowerCase()
}

const isResponse = (v: IntakeResponse | WebhookDelivery): v is IntakeResponse => "status" in v

/** The intake service. */
export class WebhookIntake extends Context.Service<
  WebhookIntake,
  {
    /** Checks what can be refused from headers alone (size, content type), before reading the body. */
    readonly precheck: (headers: Headers) => Option.Option<IntakeResponse>
    /** Verifies, de-duplicates and stores (or enqueues) one delivery. */
    readonly accept: (headers: Headers, body: Uint8Array) => Effect.Effect<IntakeResponse>
    /** Deliveries waiting to be landed. */
    readonly pending: Effect.Effect<number>
  }
>()("@kura/sync-runner/WebhookIntake") {
  /**
   * The per-delivery intake: a bounded in-memory queue drained by workers that land each delivery
   * through the WebhookSink on its own (one lake object each). Closing the scope lands what is
   * queued, then stops. Kept as the baseline of the batching intake, and for tests.
   */
  static readonly make = Effect.fnUntraced(function* (options: WebhookIntakeOptions) {
    const sink = yield* WebhookSink
    const metrics = yield* Metrics
    const verify = verifier(options, metrics)
    const queue = yield* Queue.bounded<WebhookDelivery, Cause.Done>(options.queueCapacity ?? 1000)
    const seen = new DedupSet(Number.POSITIVE_INFINITY, options.dedupCapacity ?? 50_000)
    let inQueue = 0

    const land = (delivery: WebhookDelivery) =>
      sink.land(delivery).pipe(
        Effect.retry({ schedule: Schedule.exponential(200), times: 4 }),
        Effect.tap(() =>
          metrics.increment("kura_webhooks_landed_total", "Webhook records landed in the warehouse.", {
            topic: delivery.topic
          })
        ),
        Effect.catchCause((cause) =>
          Effect.all([
            // Forget the id so Shopify's own retry of this delivery is accepted again.
            Effect.sync(() => seen.delete(keyOf(delivery))),
            metrics.increment("kura_webhooks_failed_total", "Webhook deliveries that could not be landed.", {
              topic: delivery.topic
            }),
            Effect.logError(
              `webhook ${delivery.topic} ${delivery.eventId} not landed: ${Cause.pretty(cause)}`
            )
          ])
        ),
        Effect.ensuring(Effect.sync(() => inQueue--))
      )

    const worker = Effect.gen(function* () {
      while (true) {
        const next = yield* Effect.result(Queue.take(queue))
        if (next._tag === "Failure") return
        yield* land(next.success)
      }
    })
    const workers = yield* Effect.forEach(Array.from({ length: options.workers ?? 2 }), () =>
      Effect.forkDetach(worker)
    )
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        yield* Queue.end(queue)
        yield* Fiber.awaitAll(workers)
      })
    )

    const accept = (headers: Headers, body: Uint8Array): Effect.Effect<IntakeResponse> =>
      Effect.gen(function* () {
        const verified = yield* verify(headers, body)
        if (isResponse(verified)) return verified
        const delivery = verified
        const key = keyOf(delivery)
        if (seen.has(key, delivery.receivedAt)) {
          yield* metrics.increment("kura_webhooks_duplicates_total", "Duplicate deliveries ignored.", {
            topic: delivery.topic
          })
          return respond(200, true, "duplicate delivery ignored")
        }
        if (!Queue.offerUnsafe(queue, delivery)) {
          // Shopify retries non-2xx answers, so refusing under overload loses nothing.
          yield* metrics.increment("kura_webhooks_rejected_total", "Refused webhook deliveries.", {
            reason: "busy"
          })
          return { ...respond(503, false, "intake queue full, retry later"), headers: { "retry-after": "5" } }
        }
        inQueue++
        seen.add(key, delivery.receivedAt)
        yield* metrics.increment("kura_webhooks_accepted_total", "Accepted webhook deliveries.", {
          topic: delivery.topic
        })
        return respond(200, true, "accepted")
      })

    return WebhookIntake.of({ precheck: precheckWebhook, accept, pending: Effect.sync(() => inQueue) })
  })

  /**
   * The batching intake: a verified delivery is answered 200 once the WebhookBatcher has it on
   * disk; duplicates (also across restarts) get 200 without being stored again; a full buffer or
   * a draining process gets 503 with Retry-After.
   */
  static readonly makeBatched = Effect.fnUntraced(function* (options: WebhookIntakeOptions) {
    const batcher = yield* WebhookBatcher
    const metrics = yield* Metrics
    const verify = verifier(options, metrics)
    const accept = (headers: Headers, body: Uint8Array): Effect.Effect<IntakeResponse> =>
      Effect.gen(function* () {
        const verified = yield* verify(headers, body)
        if (isResponse(verified)) return verified
        const outcome = yield* batcher.offer(verified)
        switch (outcome._tag) {
          case "Accepted":
            yield* metrics.increment("kura_webhooks_accepted_total", "Accepted webhook deliveries.", {
              topic: verified.topic
            })
            return respond(200, true, "accepted")
          case "Duplicate":
            yield* metrics.increment("kura_webhooks_duplicates_total", "Duplicate deliveries ignored.", {
              topic: verified.topic
            })
            return respond(200, true, "duplicate delivery ignored")
          case "Busy":
            yield* metrics.increment("kura_webhooks_rejected_total", "Refused webhook deliveries.", {
              reason: "busy"
            })
            return {
              ...respond(503, false, `${outcome.reason}, retry later`),
              headers: { "retry-after": String(outcome.retryAfterSeconds) }
            }
        }
      })
    return WebhookIntake.of({ precheck: precheckWebhook, accept, pending: batcher.pending })
  })

  /** The per-delivery intake layer; needs WebhookSink and Metrics. */
  static readonly layer = (options: WebhookIntakeOptions) =>
    Layer.effect(WebhookIntake, WebhookIntake.make(options))

  /** The batching intake layer; needs WebhookBatcher and Metrics. */
  static readonly layerBatched = (options: WebhookIntakeOptions) =>
    Layer.effect(WebhookIntake, WebhookIntake.makeBatched(options))
}

const keyOf = (d: WebhookDelivery) => dedupKey(d.shop, webhookStreamName(d.topic), d.eventId)
