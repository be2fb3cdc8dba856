import { createHmac } from "node:crypto"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { BulkJobStore } from "@kura/core"
import { Effect, Redacted } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Resources } from "../src/Resources.js"
import { ShopifyBulk } from "../src/ShopifyBulk.js"
import { ShopifyClient } from "../src/ShopifyClient.js"
import { parseWebhook, verifyWebhook } from "../src/ShopifyWebhook.js"
import { bulkLayer, type Sandbox, startSandbox } from "./sandbox.js"

const sign = (body: string, secret: string) =>
  createHmac("sha256", secret).update(body, "utf8").digest("base64")

const headers = (topic: string, body: string, secret: string) => ({
  "X-Shopify-Topic": topic,
  "X-Shopify-Hmac-Sha256": sign(body, secret),
  "X-Shopify-Shop-Domain": "kura.myshopify.com",
  "X-Shopify-Webhook-Id": "wh-1",
  "X-Shopify-Event-Id": "ev-1",
  "X-Shopify-Triggered-At": "2026-11-26T10:00:00Z",
  "X-Shopify-API-Version": "2026-10"
})

describe("webhooks", () => {
  it("verifies the HMAC over the raw bytes and rejects any alteration", () => {
    const body = '{"id":1,"admin_graphql_api_id":"gid://shopify/Order/1","total_price":"1100"}'
    const h = headers("orders/create", body, "s3cret")
    expect(verifyWebhook(body, h, "s3cret")).toBe(true)
    expect(verifyWebhook(new TextEncoder().encode(body), h, Redacted.make("s3cret"))).toBe(true)
    expect(verifyWebhook(body.replace("1100", "1101"), h, "s3cret")).toBe(false)
    expect(verifyWebhook(body, h, "other")).toBe(false)
    expect(verifyWebhook(body, h, ["old", "s3cret"])).toBe(true)
    // Re-serialised JSON is not what Shopify signed.
    expect(verifyWebhook(JSON.stringify(JSON.parse(body), null, 1), h, "s3cret")).toBe(false)
    expect(verifyWebhook(body, { ...h, "X-Shopify-Hmac-Sha256": "" }, "s3cret")).toBe(false)
    expect(verifyWebhook(body, { ...h, "X-Shopify-Hmac-Sha256": "AAAA" }, "s3cret")).toBe(false)
  })

  it("parses topic, shop, ids and typed payloads; the event id is the dedup key", async () => {
    const refund = JSON.stringify({
      id: 9,
      order_id: 1,
      refund_line_items: [
        { id: 3, line_item_id: 4, quantity: 1, restock_type: "return", subtotal: 195.66, total_tax: 15.65 }
      ]
    })
    const parsed = await Effect.runPromise(parseWebhook(refund, headers("refunds/create", refund, "k"), "k"))
    expect(parsed.topic).toBe("refunds/create")
    expect(parsed.meta).toMatchObject({
      shop: "kura.myshopify.com",
      webhookId: "wh-1",
      eventId: "ev-1",
      triggeredAt: "2026-11-26T10:00:00Z"
    })
    if (parsed.topic === "refunds/create") {
      expect(parsed.payload.refund_line_items?.[0]?.subtotal?.toString()).toBe("195.66")
    }
    const bad = JSON.stringify({ inventory_item_id: "x" })
    const exit = await Effect.runPromiseExit(
      parseWebhook(bad, headers("inventory_levels/update", bad, "k"), "k")
    )
    expect(JSON.stringify(exit)).toContain("Decode")
    const forged = await Effect.runPromiseExit(
      parseWebhook(refund, headers("refunds/create", refund, "wrong"), "k")
    )
    expect(JSON.stringify(forged)).toContain("Unauthorized")
  })

  describe("bulk_operations/finish from the sandbox", () => {
    let sb: Sandbox
    beforeAll(async () => {
      sb = await startSandbox({ timeScale: 20 })
    })
    afterAll(() => sb.close())

    it("a verified finish webhook ends the poll early", async () => {
      const secret = sb.handle.credentials.webhookSecret
      const topics: Array<string> = []
      const finished = await Effect.runPromise(
        Effect.provide(
          Effect.gen(function* () {
            const bulk = yield* ShopifyBulk
            const client = yield* ShopifyClient
            const server = createServer((req, res) => {
              const chunks: Array<Buffer> = []
              req.on("data", (c: Buffer) => chunks.push(c))
              req.on("end", () => {
                const raw = Buffer.concat(chunks)
                Effect.runPromise(
                  parseWebhook(raw, req.headers, secret).pipe(
                    Effect.tap((w) => Effect.sync(() => topics.push(w.topic))),
                    Effect.flatMap((w) =>
                      w.topic === "bulk_operations/finish"
                        ? bulk.notifyFinished(w.payload.admin_graphql_api_id)
                        : Effect.void
                    )
                  )
                ).then(
                  () => res.writeHead(200).end(),
                  () => res.writeHead(401).end()
                )
              })
            })
            yield* Effect.promise(() => new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r())))
            yield* Effect.addFinalizer(() => Effect.sync(() => server.close()))
            const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`
            yield* client.query(
              `mutation($uri: String!) { webhookSubscriptionCreate(topic: BULK_OPERATIONS_FINISH, webhookSubscription: { uri: $uri }) { userErrors { message } } }`,
              { uri: url }
            )
            const record = yield* bulk.start(Resources.customers, { start: 0, end: Date.now() + 86_400_000 })
            return yield* bulk.await(record)
          }).pipe(Effect.scoped),
          // Polling every minute: only the webhook can finish this test in time.
          bulkLayer(sb, BulkJobStore.layerMemory, {}, { pollMinMillis: 60_000, pollMaxMillis: 60_000 })
        )
      )
      expect(finished.operation.status).toBe("COMPLETED")
      expect(topics).toContain("bulk_operations/finish")
    }, 30_000)
  })
})
