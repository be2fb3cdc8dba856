/**
 * The delivery model, and the per-delivery sink port of `WebhookIntake.layer` (the session-1 path,
 * kept as the benchmark baseline and for tests): the lake adapter writes one object per delivery,
 * the in-memory one keeps them for tests. `kura-sync serve` uses the batching path instead
 * (`webhooks/WebhookBatcher.ts`, `webhooks/WarehouseWebhookSink.ts`).
 */
import { Context, Effect, Layer, Schema } from "effect"

/** One verified, de-duplicated Shopify webhook delivery. */
export interface WebhookDelivery {
  readonly topic: string
  readonly shop: string
  readonly eventId: string
  readonly webhookId: string
  readonly apiVersion: string
  readonly triggeredAt: string | undefined
  readonly receivedAt: number
  /** The parsed JSON body. */
  readonly payload: unknown
  /** The exact bytes Shopify signed, kept for the raw lake. */
  readonly rawBody: string
  /** The envelope line as the write-ahead log holds it, when read back from there (saves rebuilding it). */
  readonly envelope?: string
}

/** The sink could not store a delivery. */
export class WebhookSinkError extends Schema.TaggedError<WebhookSinkError>()("WebhookSinkError", {
  reason: Schema.Literals(["Lake", "Warehouse"]),
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

/** The webhook sink port. */
export class WebhookSink extends Context.Service<
  WebhookSink,
  {
    readonly land: (delivery: WebhookDelivery) => Effect.Effect<void, WebhookSinkError>
  }
>()("@kura/sync-runner/WebhookSink") {
  /** Keeps deliveries in an array that tests can inspect. */
  static readonly makeMemory = () => {
    const deliveries: Array<WebhookDelivery> = []
    return {
      deliveries,
      sink: WebhookSink.of({ land: (d) => Effect.sync(() => void deliveries.push(d)) })
    }
  }

  /** An in-memory sink layer. */
  static readonly layerMemory = Layer.sync(WebhookSink, () => WebhookSink.makeMemory().sink)
}
