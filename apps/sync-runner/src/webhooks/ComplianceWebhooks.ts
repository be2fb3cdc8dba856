/**
 * Shopify's mandatory compliance topics: `customers/redact` erases a customer's personal data,
 * `shop/redact` (48 hours after an uninstall) every row and lake file of the shop, and
 * `customers/data_request` is recorded in the `_kura_redactions` ledger for the merchant to answer.
 * They are configured in the app's TOML / Partner Dashboard, not by `webhooks register` (the Admin
 * API does not subscribe them); their deliveries are verified and landed like every other topic
 * first, so the request itself is on record before it is carried out.
 */
import type { Redaction } from "@kura/warehouse"
import { Effect, Option, Schema } from "effect"
import type { WebhookDelivery } from "../WebhookSink.js"

/** The compliance topics Kura acts on. */
export const COMPLIANCE_TOPICS: ReadonlySet<string> = new Set([
  "customers/redact",
  "shop/redact",
  "customers/data_request"
])

const Id = Schema.Union([Schema.String, Schema.Number])
const CustomerPayload = Schema.Struct({
  customer: Schema.Struct({
    id: Schema.optional(Schema.NullOr(Id)),
    email: Schema.optional(Schema.NullOr(Schema.String))
  }),
  orders_to_redact: Schema.optional(Schema.NullOr(Schema.Array(Id))),
  orders_requested: Schema.optional(Schema.NullOr(Schema.Array(Id))),
  data_request: Schema.optional(Schema.NullOr(Schema.Struct({ id: Schema.optional(Schema.NullOr(Id)) })))
})
const decodeCustomer = Schema.decodeUnknownOption(CustomerPayload)

const text = (v: string | number | null | undefined): string | undefined =>
  v === null || v === undefined || String(v).trim() === "" ? undefined : String(v)

/**
 * Carries out the compliance deliveries of one shop's batch, in order. A request that cannot be
 * read is logged (its delivery stays in the lake and `_kura_raw`); a redaction that fails fails
 * the batch, so it is landed and tried again.
 */
export const applyCompliance = (
  redaction: Option.Option<Redaction["Service"]>,
  shop: string,
  deliveries: ReadonlyArray<WebhookDelivery>
) =>
  Effect.forEach(
    deliveries.filter((d) => COMPLIANCE_TOPICS.has(d.topic)),
    (d) =>
      Effect.gen(function* () {
        if (Option.isNone(redaction))
          return yield* Effect.logError(
            `webhook ${d.topic} ${d.eventId} for ${shop} not applied: this process has no lake store to redact; run kura-sync redact by hand`
          )
        const r = redaction.value
        const base = {
          source: "shopify",
          sourceAccount: shop,
          trigger: "webhook" as const,
          requestedAt: d.receivedAt
        }
        if (d.topic === "shop/redact") {
          const out = yield* r.redactShop({ ...base, confirm: true, requestId: d.eventId })
          return yield* Effect.logWarning(
            `shop/redact for ${shop}: deleted ${out.rowsChanged} row(s) and ${out.filesChanged} lake file(s); remove the shop from Kura's config`
          )
        }
        const payload = decodeCustomer(d.payload)
        if (Option.isNone(payload))
          return yield* Effect.logError(
            `webhook ${d.topic} ${d.eventId} for ${shop} has no customer object; it is kept in _kura_raw, apply it with kura-sync redact customer`
          )
        const p = payload.value
        const customerId = text(p.customer.id)
        const email = text(p.customer.email)
        const who = {
          ...(customerId === undefined ? {} : { customerId }),
          ...(email === undefined ? {} : { email })
        }
        if (d.topic === "customers/data_request") {
          const requestId = text(p.data_request?.id) ?? d.eventId
          yield* r.recordDataRequest({
            ...base,
            ...who,
            orderIds: (p.orders_requested ?? []).map(String),
            requestId
          })
          return yield* Effect.logWarning(
            `customers/data_request ${requestId} for customer ${customerId ?? "(by e-mail)"} of ${shop}: recorded in _kura_redactions; the merchant must send the customer their data (Kura sends nothing)`
          )
        }
        if (customerId === undefined && email === undefined)
          return yield* Effect.logError(
            `customers/redact ${d.eventId} for ${shop} names no customer id or e-mail`
          )
        const out = yield* r.redactCustomer({
          ...base,
          ...who,
          orderIds: (p.orders_to_redact ?? []).map(String),
          requestId: d.eventId
        })
        yield* Effect.logInfo(
          `customers/redact for customer ${customerId ?? "(by e-mail)"} of ${shop}: ${out.rowsChanged} row(s) and ${out.filesChanged} lake file(s) redacted`
        )
      }),
    { discard: true }
  )
