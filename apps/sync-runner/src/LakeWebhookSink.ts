/**
 * Lands every accepted webhook delivery in the raw lake (@kura/warehouse RawLake, on `file:<dir>`
 * or `gs://bucket/prefix`) as its own gzip NDJSON batch, under
 * `source=shopify/account=<shop>/stream=webhook.<topic>/dt=<day>/`. The exact signed body is kept,
 * so deliveries can be re-modelled later without Shopify.
 */
import { RawLake } from "@kura/warehouse"
import { Effect, Layer, Stream } from "effect"
import { WebhookSink, WebhookSinkError } from "./WebhookSink.js"
import { envelopeLine, webhookStreamName } from "./webhooks/envelope.js"

export { envelopeLine, webhookStreamName }

/** A sink over a RawLake. */
export const makeLakeWebhookSink = (lake: RawLake["Service"]) =>
  WebhookSink.of({
    land: (d) =>
      lake
        .writeBatch({
          key: { source: "shopify", account: d.shop, stream: webhookStreamName(d.topic) },
          // Time first so batches list in arrival order; the event id makes a redelivery land as its own batch.
          batchId: `${d.receivedAt}-${d.eventId.replace(/[^A-Za-z0-9._-]+/g, "_")}`.slice(0, 200),
          dt: new Date(d.receivedAt).toISOString().slice(0, 10),
          lines: Stream.make(envelopeLine(d))
        })
        .pipe(
          Effect.asVoid,
          Effect.mapError((e) => new WebhookSinkError({ reason: "Lake", message: e.message, cause: e }))
        )
  })

/** The webhook sink over the RawLake in context (see `WarehouseConfig.layerFromSettings`). */
export const layerLakeWebhookSink: Layer.Layer<WebhookSink, never, RawLake> = Layer.effect(
  WebhookSink,
  Effect.map(Effect.service(RawLake), makeLakeWebhookSink)
)
