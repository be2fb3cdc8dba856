/**
 * Lands webhook deliveries in a local raw lake as NDJSON, one file per topic and day, until the
 * warehouse's lake writer (GCS + canonical upserts) is wired in.
 */
import { appendFile, mkdir } from "node:fs/promises"
import { join } from "node:path"
import { Effect, Layer } from "effect"
import { WebhookSink, WebhookSinkError } from "./WebhookSink.js"

/** A sink appending to `<lake>/shopify/webhooks/topic=<topic>/dt=<day>/part-<pid>.ndjson`. */
export const makeLakeWebhookSink = (lake: string) =>
  WebhookSink.of({
    land: (d) =>
      Effect.tryPromise({
        try: async () => {
          if (lake.includes("://"))
            throw new Error(`${lake}: remote lakes are written by @kura/warehouse (not wired yet)`)
          const day = new Date(d.receivedAt).toISOString().slice(0, 10)
          const dir = join(
            lake,
            "shopify",
            "webhooks",
            `topic=${d.topic.replace(/[^a-z0-9_]/gi, "_")}`,
            `dt=${day}`
          )
          await mkdir(dir, { recursive: true })
          const line = JSON.stringify({
            topic: d.topic,
            shop: d.shop,
            event_id: d.eventId,
            webhook_id: d.webhookId,
            api_version: d.apiVersion,
            triggered_at: d.triggeredAt ?? null,
            received_at: new Date(d.receivedAt).toISOString(),
            raw: d.rawBody
          })
          await appendFile(join(dir, `part-${process.pid}.ndjson`), `${line}\n`)
        },
        catch: (cause) => new WebhookSinkError({ reason: "Lake", message: String(cause), cause })
      })
  })

/** The local-lake webhook sink layer. */
export const layerLakeWebhookSink = (lake: string) => Layer.succeed(WebhookSink, makeLakeWebhookSink(lake))
