/**
 * Shopify webhook intake: verify the HMAC over the raw bytes, refuse anything unverified before it is
 * parsed or stored, de-duplicate by event id, and hand accepted deliveries to a bounded queue so the
 * HTTP answer goes back well inside Shopify's 5-second limit.
 */
import { Cause, Clock, Context, Effect, Fiber, Layer, Option, Queue, Schedule } from "effect"
import { verifyShopifyHmac } from "./internal/hmac.js"
import { Metrics } from "./Metrics.js"
import { type WebhookDelivery, WebhookSink } from "./WebhookSink.js"

/** The largest body accepted; Shopify payloads are far smaller, anything bigger is abuse. */
export const MAX_WEBHOOK_BYTES = 1024 * 1024

/** An HTTP-shaped answer. */
export interface IntakeResponse {
  readonly status: number
  readonly body: { readonly ok: boolean; readonly message: string }
}

/** Lower-cased request headers. */
export type Headers = Readonly<Record<string, string | ReadonlyArray<string> | undefined>>

const header = (headers: Headers, name: string): string | undefined => {
  const v = headers[name]
  return typeof v === "string" ? v : v?.[0]
}

/** Options for the intake. */
export interface WebhookIntakeOptions {
  /** Secrets per shop domain (webhook secret and/or app client secret); several allow rotation. */
  readonly secretsFor: (shop: string) => ReadonlyArray<string>
  readonly queueCapacity?: number
  /** How many event ids to remember for de-duplication. */
  readonly dedupCapacity?: number
  /** Deliveries landed at once. */
  readonly workers?: number
}

const respond = (status: number, ok: boolean, message: string): IntakeResponse => ({
  status,
  body: { ok, message }
})

/** The intake service. */
export class WebhookIntake extends Context.Service<
  WebhookIntake,
  {
    /** Checks what can be refused from headers alone (size, content type), before reading the body. */
    readonly precheck: (headers: Headers) => Option.Option<IntakeResponse>
    /** Verifies, de-duplicates and enqueues one delivery. */
    readonly accept: (headers: Headers, body: Uint8Array) => Effect.Effect<IntakeResponse>
    /** Deliveries waiting to be landed. */
    readonly pending: Effect.Effect<number>
  }
>()("@kura/sync-runner/WebhookIntake") {
  /** Builds the intake with its worker fibers; closing the scope lands what is queued, then stops. */
  static readonly make = Effect.fnUntraced(function* (options: WebhookIntakeOptions) {
    const sink = yield* WebhookSink
    const metrics = yield* Metrics
    const queue = yield* Queue.bounded<WebhookDelivery, Cause.Done>(options.queueCapacity ?? 1000)
    const dedupCapacity = options.dedupCapacity ?? 50_000
    // Insertion-ordered, so the oldest ids are forgotten first.
    const seen = new Set<string>()
    let inQueue = 0

    const land = (delivery: WebhookDelivery) =>
      sink.land(delivery).pipe(
        Effect.retry({ schedule: Schedule.exponential(200), times: 4 }),
        Effect.tap(() =>
          metrics.increment("kura_webhooks_landed_total", "Webhook deliveries landed.", {
            topic: delivery.topic
          })
        ),
        Effect.catchCause((cause) =>
          Effect.all([
            // Forget the id so Shopify's own retry of this delivery is accepted again.
            Effect.sync(() => seen.delete(`${delivery.shop}/${delivery.topic}/${delivery.eventId}`)),
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

    const precheck = (headers: Headers): Option.Option<IntakeResponse> => {
      const length = Number(header(headers, "content-length") ?? "0")
      if (length > MAX_WEBHOOK_BYTES) return Option.some(respond(413, false, "body larger than 1 MB"))
      const type = (header(headers, "content-type") ?? "").split(";")[0]!.trim().toLowerCase()
      if (type !== "application/json")
        return Option.some(respond(415, false, "webhooks must be sent as application/json"))
      return Option.none()
    }

    const accept = (headers: Headers, body: Uint8Array): Effect.Effect<IntakeResponse> =>
      Effect.gen(function* () {
        const refused = precheck(headers)
        if (Option.isSome(refused)) return refused.value
        if (body.byteLength > MAX_WEBHOOK_BYTES) return respond(413, false, "body larger than 1 MB")
        const shop = header(headers, "x-shopify-shop-domain")?.toLowerCase()
        const signature = header(headers, "x-shopify-hmac-sha256")
        if (shop === undefined || signature === undefined) {
          yield* metrics.increment("kura_webhooks_rejected_total", "Refused webhook deliveries.", {
            reason: "unsigned"
          })
          return respond(401, false, "missing X-Shopify-Shop-Domain or X-Shopify-Hmac-Sha256")
        }
        const secrets = options.secretsFor(shop)
        if (secrets.length === 0 || !verifyShopifyHmac(body, signature, secrets)) {
          yield* metrics.increment("kura_webhooks_rejected_total", "Refused webhook deliveries.", {
            reason: "hmac"
          })
          yield* Effect.logWarning(`webhook refused: bad HMAC for ${shop}`)
          return respond(401, false, "HMAC verification failed")
        }
        const rawBody = Buffer.from(body).toString("utf8")
        let payload: unknown
        try {
          payload = JSON.parse(rawBody)
        } catch {
          return respond(400, false, "body is not valid JSON")
        }
        const webhookId = header(headers, "x-shopify-webhook-id") ?? ""
        const eventId = header(headers, "x-shopify-event-id") ?? webhookId
        const topic = header(headers, "x-shopify-topic") ?? "unknown"
        if (eventId === "") return respond(400, false, "missing X-Shopify-Event-Id")
        const dedupKey = `${shop}/${topic}/${eventId}`
        if (seen.has(dedupKey)) {
          yield* metrics.increment("kura_webhooks_duplicates_total", "Duplicate deliveries ignored.", {
            topic
          })
          return respond(200, true, "duplicate delivery ignored")
        }
        const delivery: WebhookDelivery = {
          topic,
          shop,
          eventId,
          webhookId,
          apiVersion: header(headers, "x-shopify-api-version") ?? "",
          triggeredAt: header(headers, "x-shopify-triggered-at"),
          receivedAt: yield* Clock.currentTimeMillis,
          payload,
          rawBody
        }
        if (!Queue.offerUnsafe(queue, delivery)) {
          // Shopify retries non-2xx answers, so refusing under overload loses nothing.
          yield* metrics.increment("kura_webhooks_rejected_total", "Refused webhook deliveries.", {
            reason: "busy"
          })
          return respond(503, false, "intake queue full, retry later")
        }
        inQueue++
        seen.add(dedupKey)
        while (seen.size > dedupCapacity) seen.delete(seen.values().next().value!)
        yield* metrics.increment("kura_webhooks_accepted_total", "Accepted webhook deliveries.", { topic })
        return respond(200, true, "accepted")
      })

    return WebhookIntake.of({ precheck, accept, pending: Effect.sync(() => inQueue) })
  })

  /** The intake layer; needs WebhookSink and Metrics. */
  static readonly layer = (options: WebhookIntakeOptions) =>
    Layer.effect(WebhookIntake, WebhookIntake.make(options))
}
