import { startSandbox } from "@kura/sandbox"
import { Effect, Option, Redacted } from "effect"
import { describe, expect, it } from "vitest"
import { registerWebhooks } from "../src/WebhookRegistrar.js"
import { withServer } from "./support.js"

// End to end against the independent oracle: the sandbox's Shopify emulator registers our
// subscriptions, then signs and delivers real webhooks to our intake.
describe("webhooks against the sandbox Shopify emulator", () => {
  it("registers subscriptions, then accepts the deliveries the emulator signs", async () => {
    const sandbox = await startSandbox({ seed: 7, scale: 20, historyDays: 7 })
    try {
      const { shopify } = sandbox
      await withServer(
        { webhookSecret: shopify.credentials.webhookSecret, shop: shopify.credentials.shopDomain },
        async ({ url, deliveries }) => {
          const results = await Effect.runPromise(
            registerWebhooks(
              [
                {
                  shop: shopify.credentials.shopDomain,
                  auth: { _tag: "AccessToken", accessToken: Redacted.make(shopify.credentials.accessToken) },
                  apiVersion: shopify.credentials.apiVersion,
                  apiBaseUrl: Option.some(shopify.baseUrl),
                  webhookSecret: Option.none()
                }
              ],
              `${url}/webhooks/shopify`,
              ["ORDERS_CREATE"]
            )
          )
          expect(results.map((r) => r.outcome)).toEqual(["created"])
          // Only the online share of new orders reaches Shopify (POS sales go to Lightspeed).
          sandbox.createOrders(12)
          const stats = () => sandbox.stats().shopify
          const until = Date.now() + 15_000
          while (Date.now() < until) {
            await new Promise((r) => setTimeout(r, 100))
            const s = stats()
            if ((s.webhookAttempts ?? 0) > 0 && deliveries.length === (s.webhookDelivered ?? -1)) break
          }
          const s = stats()
          expect(s.webhookAttempts).toBeGreaterThanOrEqual(1)
          // Every signed delivery was acknowledged with 2xx and landed.
          expect(s.webhookFailures ?? 0).toBe(0)
          expect(deliveries).toHaveLength(s.webhookDelivered ?? -1)
          expect(new Set(deliveries.map((d) => d.topic))).toEqual(new Set(["orders/create"]))
          expect(deliveries.every((d) => d.shop === shopify.credentials.shopDomain)).toBe(true)
          expect(new Set(deliveries.map((d) => d.eventId)).size).toBe(deliveries.length)
          expect(deliveries.every((d) => JSON.parse(d.rawBody).id !== undefined)).toBe(true)
        }
      )
    } finally {
      await sandbox.close()
    }
  })
})
