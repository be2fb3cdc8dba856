/**
 * The envelope line of a delivery (kept in the write-ahead log and, unchanged, in the raw lake)
 * and the lake stream of a topic. Dependency-free, because the intake thread uses them too.
 */
import type { WebhookDelivery } from "../WebhookSink.js"

/** The lake stream a topic's deliveries go to, e.g. `webhook.orders_create`. */
export const webhookStreamName = (topic: string): string => `webhook.${topic.replace(/[^a-z0-9]+/gi, "_")}`

/** The envelope line kept in the lake and the write-ahead log: delivery headers plus the exact body. */
export const envelopeLine = (d: Omit<WebhookDelivery, "payload">): string =>
  JSON.stringify({
    topic: d.topic,
    shop: d.shop,
    event_id: d.eventId,
    webhook_id: d.webhookId,
    api_version: d.apiVersion,
    triggered_at: d.triggeredAt ?? null,
    received_at: new Date(d.receivedAt).toISOString(),
    body: d.rawBody
  })
