/**
 * The refusal rules of `POST /webhooks/shopify`, dependency-free so the intake thread and the
 * in-thread intake apply exactly the same ones: size, content type, shop and HMAC over the raw
 * bytes, JSON, event id. Nothing unverified is parsed or stored.
 */
import { verifyShopifyHmac } from "../internal/hmac.js"
import type { WebhookDelivery } from "../WebhookSink.js"

/** The largest body accepted; Shopify payloads are far smaller, anything bigger is abuse. */
export const MAX_WEBHOOK_BYTES = 1024 * 1024

/** An HTTP-shaped answer. */
export interface IntakeResponse {
  readonly status: number
  readonly body: { readonly ok: boolean; readonly message: string }
  /** Extra response headers (Retry-After on 503). */
  readonly headers?: Readonly<Record<string, string>>
}

/** Lower-cased request headers. */
export type Headers = Readonly<Record<string, string | ReadonlyArray<string> | undefined>>

/** Why a delivery was refused, for the `kura_webhooks_rejected_total` reason label. */
export type RefusalReason = "unsigned" | "hmac"

/** The outcome of verifying one delivery. */
export type Verified =
  | {
      readonly _tag: "Refused"
      readonly response: IntakeResponse
      /** Set for refusals that are counted (and, for `hmac`, logged). */
      readonly reason?: RefusalReason
    }
  | { readonly _tag: "Verified"; readonly delivery: WebhookDelivery }

const header = (headers: Headers, name: string): string | undefined => {
  const v = headers[name]
  return typeof v === "string" ? v : v?.[0]
}

/** An answer with a JSON `{ ok, message }` body. */
export const respond = (status: number, ok: boolean, message: string): IntakeResponse => ({
  status,
  body: { ok, message }
})

/** Checks what can be refused from headers alone (size, content type), before reading the body. */
export const precheckHeaders = (headers: Headers): IntakeResponse | undefined => {
  const length = Number(header(headers, "content-length") ?? "0")
  if (length > MAX_WEBHOOK_BYTES) return respond(413, false, "body larger than 1 MB")
  const type = (header(headers, "content-type") ?? "").split(";")[0]!.trim().toLowerCase()
  if (type !== "application/json") return respond(415, false, "webhooks must be sent as application/json")
  return undefined
}

const refused = (response: IntakeResponse, reason?: RefusalReason): Verified =>
  reason === undefined ? { _tag: "Refused", response } : { _tag: "Refused", response, reason }

/**
 * Verifies one delivery received at `receivedAt`. The body is parsed once to refuse what is not
 * JSON; the parsed value is returned as the delivery's payload.
 */
export const verifyWebhook = (
  headers: Headers,
  body: Uint8Array,
  secretsFor: (shop: string) => ReadonlyArray<string>,
  receivedAt: number
): Verified => {
  const pre = precheckHeaders(headers)
  if (pre !== undefined) return refused(pre)
  if (body.byteLength > MAX_WEBHOOK_BYTES) return refused(respond(413, false, "body larger than 1 MB"))
  const shop = header(headers, "x-shopify-shop-domain")?.toLowerCase()
  const signature = header(headers, "x-shopify-hmac-sha256")
  if (shop === undefined || signature === undefined)
    return refused(respond(401, false, "missing X-Shopify-Shop-Domain or X-Shopify-Hmac-Sha256"), "unsigned")
  const secrets = secretsFor(shop)
  if (secrets.length === 0 || !verifyShopifyHmac(body, signature, secrets))
    return refused(respond(401, false, "HMAC verification failed"), "hmac")
  const rawBody = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8")
  let payload: unknown
  try {
    payload = JSON.parse(rawBody)
  } catch {
    return refused(respond(400, false, "body is not valid JSON"))
  }
  const webhookId = header(headers, "x-shopify-webhook-id") ?? ""
  const eventId = header(headers, "x-shopify-event-id") ?? webhookId
  if (eventId === "") return refused(respond(400, false, "missing X-Shopify-Event-Id"))
  return {
    _tag: "Verified",
    delivery: {
      topic: header(headers, "x-shopify-topic") ?? "unknown",
      shop,
      eventId,
      webhookId,
      apiVersion: header(headers, "x-shopify-api-version") ?? "",
      triggeredAt: header(headers, "x-shopify-triggered-at"),
      receivedAt,
      payload,
      rawBody
    }
  }
}
