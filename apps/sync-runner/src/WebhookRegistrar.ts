/**
 * `kura-sync webhooks register`: creates the Admin API webhook subscriptions Kura listens to, for
 * every configured shop. Idempotent: a subscription that already exists is reported, not an error.
 */
import { Effect, Option, Redacted, Schema } from "effect"
import type { ShopifyShopConfig } from "./AppConfig.js"

/** The topics Kura subscribes to (GraphQL enum names). */
export const WEBHOOK_TOPICS = [
  "ORDERS_CREATE",
  "ORDERS_UPDATED",
  "ORDERS_DELETE",
  "REFUNDS_CREATE",
  "INVENTORY_LEVELS_UPDATE",
  "INVENTORY_ITEMS_UPDATE",
  "INVENTORY_ITEMS_DELETE",
  "PRODUCTS_DELETE",
  "APP_UNINSTALLED",
  "BULK_OPERATIONS_FINISH"
] as const

/** The outcome for one shop and topic. */
export interface RegistrationResult {
  readonly shop: string
  readonly topic: string
  readonly outcome: "created" | "exists" | "failed"
  readonly detail?: string
}

const TokenResponse = Schema.Struct({ access_token: Schema.String })
const CreateResponse = Schema.Struct({
  data: Schema.optionalKey(
    Schema.NullOr(
      Schema.Struct({
        webhookSubscriptionCreate: Schema.NullOr(
          Schema.Struct({
            webhookSubscription: Schema.NullOr(Schema.Struct({ id: Schema.String })),
            userErrors: Schema.Array(Schema.Struct({ message: Schema.String }))
          })
        )
      })
    )
  ),
  errors: Schema.optionalKey(Schema.Unknown)
})

const MUTATION = `mutation KuraWebhook($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) { webhookSubscription { id } userErrors { message } }
}`

/** A registration request failed; `message` is safe to print (never contains credentials). */
class RegistrationError extends Schema.TaggedError<RegistrationError>()("RegistrationError", {
  message: Schema.String
}) {}

const postJson = (url: string, headers: Record<string, string>, body: string) =>
  Effect.tryPromise({
    try: async () => {
      const res = await fetch(url, { method: "POST", headers, body })
      const text = await res.text()
      if (!res.ok) throw new Error(`HTTP ${res.status} from ${new URL(url).pathname}: ${text.slice(0, 200)}`)
      return JSON.parse(text) as unknown
    },
    catch: (cause) =>
      new RegistrationError({ message: cause instanceof Error ? cause.message : String(cause) })
  })

const decode =
  <S extends Schema.Decoder<unknown>>(schema: S, what: string) =>
  (value: unknown) =>
    Schema.decodeUnknownEffect(schema)(value).pipe(
      Effect.mapError((e) => new RegistrationError({ message: `unexpected ${what} answer: ${e.message}` }))
    )

const accessToken = (shop: ShopifyShopConfig, base: string) =>
  shop.auth._tag === "AccessToken"
    ? Effect.succeed(Redacted.value(shop.auth.accessToken))
    : postJson(
        `${base}/admin/oauth/access_token`,
        { "content-type": "application/x-www-form-urlencoded" },
        new URLSearchParams({
          grant_type: "client_credentials",
          client_id: shop.auth.clientId,
          client_secret: Redacted.value(shop.auth.clientSecret)
        }).toString()
      ).pipe(
        Effect.flatMap(decode(TokenResponse, "token")),
        Effect.map((t) => t.access_token)
      )

/** Registers `topics` for every shop, pointing at `address`. Never fails: failures are results. */
export const registerWebhooks = Effect.fn("WebhookRegistrar.register")(function* (
  shops: ReadonlyArray<ShopifyShopConfig>,
  address: string,
  topics: ReadonlyArray<string>
) {
  const results: Array<RegistrationResult> = []
  for (const shop of shops) {
    const base = Option.getOrElse(shop.apiBaseUrl, () => `https://${shop.shop}`)
    const token = yield* Effect.result(accessToken(shop, base))
    if (token._tag === "Failure") {
      for (const topic of topics)
        results.push({
          shop: shop.shop,
          topic,
          outcome: "failed",
          detail: `no access token: ${String(token.failure)}`
        })
      continue
    }
    for (const topic of topics) {
      const answer = yield* postJson(
        `${base}/admin/api/${shop.apiVersion}/graphql.json`,
        { "content-type": "application/json", "x-shopify-access-token": token.success },
        JSON.stringify({ query: MUTATION, variables: { topic, sub: { uri: address, format: "JSON" } } })
      ).pipe(Effect.flatMap(decode(CreateResponse, "webhookSubscriptionCreate")), Effect.result)
      if (answer._tag === "Failure") {
        results.push({ shop: shop.shop, topic, outcome: "failed", detail: answer.failure.message })
        continue
      }
      const payload = answer.success.data?.webhookSubscriptionCreate
      const errors = payload?.userErrors.map((e) => e.message) ?? []
      if (payload?.webhookSubscription != null) results.push({ shop: shop.shop, topic, outcome: "created" })
      else if (errors.some((m) => /already been taken|already exists/i.test(m)))
        results.push({ shop: shop.shop, topic, outcome: "exists" })
      else
        results.push({
          shop: shop.shop,
          topic,
          outcome: "failed",
          detail: errors.join("; ") || JSON.stringify(answer.success.errors ?? "no data")
        })
    }
  }
  return results
})
