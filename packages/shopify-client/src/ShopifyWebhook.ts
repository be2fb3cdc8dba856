/**
 * Webhook verification and typed parsing.
 *
 * `verifyWebhook` checks `X-Shopify-Hmac-Sha256` (base64 HMAC-SHA256 of the raw body, keyed with
 * the app's client secret) in constant time over the raw bytes: never over re-serialized JSON,
 * which would not byte-match what Shopify signed. The event id (`X-Shopify-Event-Id`) is the
 * dedup key: every delivery of one merchant action shares it.
 *
 * @since 0.1.0
 */
import { createHmac, timingSafeEqual } from "node:crypto"
import { DecimalFromNumberOrString } from "@kura/core"
import { Effect, Redacted, Schema } from "effect"
import { Decode, ShopifyError, Unauthorized } from "./ShopifyError.js"

/**
 * Headers as a plain record or a Fetch `Headers`; names are matched case-insensitively.
 *
 * @since 0.1.0
 * @category models
 */
export type WebhookHeaders = Readonly<Record<string, string | ReadonlyArray<string> | undefined>> | Headers

const header = (headers: WebhookHeaders, name: string): string | undefined => {
  if (typeof Headers !== "undefined" && headers instanceof Headers) return headers.get(name) ?? undefined
  const lower = name.toLowerCase()
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() === lower) return typeof v === "string" ? v : v?.[0]
  }
  return undefined
}

const bytesOf = (raw: Uint8Array | string): Buffer =>
  typeof raw === "string" ? Buffer.from(raw, "utf8") : Buffer.from(raw)

/**
 * True when the delivery's HMAC matches `secret` (any of them, to cover a secret rotation).
 *
 * @since 0.1.0
 * @category constructors
 */
export const verifyWebhook = (
  rawBody: Uint8Array | string,
  headers: WebhookHeaders,
  secret: Redacted.Redacted<string> | string | ReadonlyArray<Redacted.Redacted<string> | string>
): boolean => {
  const given = header(headers, "x-shopify-hmac-sha256")
  if (given === undefined || given === "") return false
  const givenBytes = Buffer.from(given, "base64")
  const body = bytesOf(rawBody)
  const secrets: ReadonlyArray<Redacted.Redacted<string> | string> =
    typeof secret === "string" || Redacted.isRedacted(secret) ? [secret] : secret
  let ok = false
  for (const s of secrets) {
    const key = typeof s === "string" ? s : Redacted.value(s)
    const expected = createHmac("sha256", key).update(body).digest()
    // Compare every candidate (no early exit) and only equal-length buffers, in constant time.
    if (expected.length === givenBytes.length && timingSafeEqual(expected, givenBytes)) ok = true
  }
  return ok
}

/**
 * The delivery metadata of a webhook.
 *
 * @since 0.1.0
 * @category models
 */
export interface WebhookMeta {
  readonly topic: string
  readonly shop: string
  readonly webhookId: string
  /** The dedup key: shared by every delivery of one event. */
  readonly eventId: string
  readonly triggeredAt: string | null
  readonly apiVersion: string | null
  readonly subscriptionName: string | null
}

/**
 * An order as a webhook delivers it (REST-shaped, snake_case; money as decimal strings).
 *
 * @since 0.1.0
 * @category schemas
 */
export const WebhookOrder = Schema.Struct({
  id: Schema.Number,
  admin_graphql_api_id: Schema.String,
  name: Schema.optional(Schema.String),
  created_at: Schema.optional(Schema.String),
  updated_at: Schema.optional(Schema.String),
  cancelled_at: Schema.optional(Schema.NullOr(Schema.String)),
  currency: Schema.optional(Schema.String),
  total_price: Schema.optional(DecimalFromNumberOrString),
  financial_status: Schema.optional(Schema.NullOr(Schema.String))
})

/**
 * The payload of `orders/delete`: only the id is available.
 *
 * @since 0.1.0
 * @category schemas
 */
export const WebhookOrderDeleted = Schema.Struct({ id: Schema.Number })

/**
 * The payload of `refunds/create`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const WebhookRefund = Schema.Struct({
  id: Schema.Number,
  order_id: Schema.Number,
  admin_graphql_api_id: Schema.optional(Schema.String),
  created_at: Schema.optional(Schema.String),
  refund_line_items: Schema.optional(
    Schema.Array(
      Schema.Struct({
        id: Schema.Number,
        line_item_id: Schema.Number,
        quantity: Schema.Number,
        restock_type: Schema.optional(Schema.String),
        location_id: Schema.optional(Schema.NullOr(Schema.Number)),
        // REST sends these as JSON numbers (e.g. 195.66); decoded exactly from their text.
        subtotal: Schema.optional(DecimalFromNumberOrString),
        total_tax: Schema.optional(DecimalFromNumberOrString)
      })
    )
  )
})

/**
 * The payload of `inventory_levels/update`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const WebhookInventoryLevel = Schema.Struct({
  inventory_item_id: Schema.Number,
  location_id: Schema.Number,
  available: Schema.NullOr(Schema.Number),
  updated_at: Schema.String,
  admin_graphql_api_id: Schema.optional(Schema.String)
})

/**
 * The payload of `bulk_operations/finish` (lower-case status and type).
 *
 * @since 0.1.0
 * @category schemas
 */
export const WebhookBulkOperationFinish = Schema.Struct({
  admin_graphql_api_id: Schema.String,
  status: Schema.String,
  type: Schema.optional(Schema.String),
  error_code: Schema.optional(Schema.NullOr(Schema.String)),
  created_at: Schema.optional(Schema.String),
  completed_at: Schema.optional(Schema.NullOr(Schema.String))
})

/**
 * A parsed webhook of a topic Kura consumes.
 *
 * @since 0.1.0
 * @category models
 */
export type ShopifyWebhook =
  | {
      readonly topic: "orders/create" | "orders/updated"
      readonly meta: WebhookMeta
      readonly payload: typeof WebhookOrder.Type
    }
  | {
      readonly topic: "orders/delete"
      readonly meta: WebhookMeta
      readonly payload: typeof WebhookOrderDeleted.Type
    }
  | {
      readonly topic: "refunds/create"
      readonly meta: WebhookMeta
      readonly payload: typeof WebhookRefund.Type
    }
  | {
      readonly topic: "inventory_levels/update"
      readonly meta: WebhookMeta
      readonly payload: typeof WebhookInventoryLevel.Type
    }
  | {
      readonly topic: "bulk_operations/finish"
      readonly meta: WebhookMeta
      readonly payload: typeof WebhookBulkOperationFinish.Type
    }
  | { readonly topic: "other"; readonly meta: WebhookMeta; readonly payload: unknown }

const fail = (message: string) =>
  new ShopifyError({ operation: "webhook", reason: new Decode({ message, excerpt: "" }) })

/**
 * Reads the delivery headers; fails naming the missing header.
 *
 * @since 0.1.0
 * @category constructors
 */
export const webhookMeta = (headers: WebhookHeaders): Effect.Effect<WebhookMeta, ShopifyError> =>
  Effect.gen(function* () {
    const need = (name: string) => {
      const v = header(headers, name)
      return v === undefined || v === "" ? Effect.fail(fail(`missing header ${name}`)) : Effect.succeed(v)
    }
    const topic = yield* need("x-shopify-topic")
    const shop = yield* need("x-shopify-shop-domain")
    const webhookId = yield* need("x-shopify-webhook-id")
    // Older deliveries lack the event id; the webhook id is then the best available key.
    const eventId = header(headers, "x-shopify-event-id") ?? webhookId
    return {
      topic,
      shop,
      webhookId,
      eventId,
      triggeredAt: header(headers, "x-shopify-triggered-at") ?? null,
      apiVersion: header(headers, "x-shopify-api-version") ?? null,
      subscriptionName: header(headers, "x-shopify-name") ?? null
    }
  })

/**
 * Verifies and parses a delivery. Fails with `Unauthorized` when the HMAC does not match and
 * with `Decode` (naming the field) when the payload does not match its topic's schema.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseWebhook = (
  rawBody: Uint8Array | string,
  headers: WebhookHeaders,
  secret: Redacted.Redacted<string> | string | ReadonlyArray<Redacted.Redacted<string> | string>
): Effect.Effect<ShopifyWebhook, ShopifyError> =>
  Effect.gen(function* () {
    if (!verifyWebhook(rawBody, headers, secret)) {
      return yield* new ShopifyError({
        operation: "webhook",
        reason: new Unauthorized({
          message: "X-Shopify-Hmac-Sha256 does not match the body: wrong secret or altered body"
        })
      })
    }
    const meta = yield* webhookMeta(headers)
    const text = typeof rawBody === "string" ? rawBody : new TextDecoder().decode(rawBody)
    const json = yield* Effect.try({
      try: (): unknown => JSON.parse(text),
      catch: () => fail("the webhook body is not JSON")
    })
    const decode = <S extends Schema.Top>(schema: S) =>
      Schema.decodeUnknownEffect(schema)(json).pipe(
        Effect.mapError(
          (e) =>
            new ShopifyError({
              operation: `webhook ${meta.topic}`,
              reason: new Decode({ message: e.message, excerpt: text.slice(0, 300) })
            })
        )
      )
    switch (meta.topic) {
      case "orders/create":
      case "orders/updated":
        return { topic: meta.topic, meta, payload: yield* decode(WebhookOrder) }
      case "orders/delete":
        return { topic: "orders/delete", meta, payload: yield* decode(WebhookOrderDeleted) }
      case "refunds/create":
        return { topic: "refunds/create", meta, payload: yield* decode(WebhookRefund) }
      case "inventory_levels/update":
        return { topic: "inventory_levels/update", meta, payload: yield* decode(WebhookInventoryLevel) }
      case "bulk_operations/finish":
        return { topic: "bulk_operations/finish", meta, payload: yield* decode(WebhookBulkOperationFinish) }
      default:
        return { topic: "other", meta, payload: json }
    }
  })
