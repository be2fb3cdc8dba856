import { describe, expect, it } from "vitest"
import { eventually, manualGate, shopifyHmac, withServer } from "./support.js"

const SECRET = "whsec-test-0123456789"
const order = JSON.stringify({ id: 820982911946154500, name: "#1001", total_price: "12.34" })

const headers = (body: string, overrides: Record<string, string> = {}) => ({
  "content-type": "application/json",
  "x-shopify-topic": "orders/create",
  "x-shopify-shop-domain": "kura-matcha.myshopify.com",
  "x-shopify-api-version": "2026-01",
  "x-shopify-webhook-id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
  "x-shopify-event-id": "98880550-7158-44d4-b7cd-2c97c8a091b5",
  "x-shopify-triggered-at": "2026-11-26T10:00:00Z",
  "x-shopify-hmac-sha256": shopifyHmac(SECRET, body),
  ...overrides
})

const post = (url: string, body: string, h: Record<string, string>) =>
  fetch(`${url}/webhooks/shopify`, { method: "POST", headers: h, body })

describe("POST /webhooks/shopify", () => {
  it("accepts a correctly signed delivery and lands it with its raw body", () =>
    withServer({ webhookSecret: SECRET }, async ({ url, deliveries }) => {
      const res = await post(url, order, headers(order))
      expect(res.status).toBe(200)
      await eventually(() => deliveries.length === 1)
      expect(deliveries[0]).toMatchObject({
        topic: "orders/create",
        shop: "kura-matcha.myshopify.com",
        rawBody: order,
        apiVersion: "2026-01"
      })
      // The raw bytes are kept exactly (the big id would lose precision through JSON.parse/stringify).
      expect(deliveries[0]!.rawBody).toContain("820982911946154500")
    }))

  it("refuses a bad HMAC with 401 and stores nothing", () =>
    withServer({ webhookSecret: SECRET }, async ({ url, deliveries }) => {
      const res = await post(
        url,
        order,
        headers(order, { "x-shopify-hmac-sha256": shopifyHmac("wrong", order) })
      )
      expect(res.status).toBe(401)
      const tampered = order.replace("12.34", "0.01")
      const res2 = await post(url, tampered, headers(order))
      expect(res2.status).toBe(401)
      const res3 = await post(url, order, headers(order, { "x-shopify-shop-domain": "other.myshopify.com" }))
      expect(res3.status).toBe(401)
      await new Promise((r) => setTimeout(r, 100))
      expect(deliveries).toHaveLength(0)
    }))

  it("de-duplicates by X-Shopify-Event-Id", () =>
    withServer({ webhookSecret: SECRET }, async ({ url, deliveries }) => {
      const first = await post(url, order, headers(order))
      // A retry of the same event arrives with a new webhook id.
      const again = await post(url, order, headers(order, { "x-shopify-webhook-id": "another-delivery" }))
      expect(first.status).toBe(200)
      expect(again.status).toBe(200)
      expect(await again.json()).toMatchObject({ message: "duplicate delivery ignored" })
      const other = await post(url, order, headers(order, { "x-shopify-event-id": "a-different-event" }))
      expect(other.status).toBe(200)
      await eventually(() => deliveries.length === 2)
      await new Promise((r) => setTimeout(r, 100))
      expect(deliveries.map((d) => d.eventId)).toEqual([
        "98880550-7158-44d4-b7cd-2c97c8a091b5",
        "a-different-event"
      ])
    }))

  it("refuses bodies over 1 MB with 413, whether declared or streamed", () =>
    withServer({ webhookSecret: SECRET }, async ({ url, deliveries }) => {
      const big = JSON.stringify({ pad: "x".repeat(1024 * 1024 + 10) })
      const res = await post(url, big, headers(big))
      expect(res.status).toBe(413)
      // Chunked upload with no Content-Length: the limit is enforced while reading.
      const chunks = [Buffer.from('{"pad":"'), Buffer.alloc(1024 * 1024 + 10, 120), Buffer.from('"}')]
      const stream = new ReadableStream({
        start(controller) {
          for (const c of chunks) controller.enqueue(c)
          controller.close()
        }
      })
      const res2 = await fetch(`${url}/webhooks/shopify`, {
        method: "POST",
        headers: headers(big),
        body: stream,
        duplex: "half"
      } as RequestInit)
      expect(res2.status).toBe(413)
      expect(deliveries).toHaveLength(0)
    }))

  it("refuses a wrong content type with 415 and stores nothing", () =>
    withServer({ webhookSecret: SECRET }, async ({ url, deliveries }) => {
      const res = await post(
        url,
        order,
        headers(order, { "content-type": "application/x-www-form-urlencoded" })
      )
      expect(res.status).toBe(415)
      const res2 = await post(
        url,
        order,
        headers(order, { "content-type": "application/json; charset=utf-8" })
      )
      expect(res2.status).toBe(200)
      await eventually(() => deliveries.length === 1)
    }))

  it("answers without waiting for landing (async queue)", async () => {
    // Landing holds until the answers are in, so "did not wait" is a fact, not a wall-clock bound
    // (the earlier "< 1500 ms" and "fewer than 20 landed" could both fail on a loaded box).
    const gate = manualGate()
    try {
      await withServer({ webhookSecret: SECRET, sinkGate: gate.promise }, async ({ url, deliveries }) => {
        const answers = await Promise.all(
          Array.from({ length: 20 }, (_, i) => {
            const body = JSON.stringify({ id: i })
            return post(url, body, headers(body, { "x-shopify-event-id": `evt-${i}` }))
          })
        )
        expect(answers.every((a) => a.status === 200)).toBe(true)
        expect(deliveries).toHaveLength(0)
        gate.open()
        await eventually(() => deliveries.length === 20, 20_000)
      })
    } finally {
      gate.open()
    }
  })

  it("answers 503 when the intake queue is full, and accepts Shopify's retry later", async () => {
    // One worker held on its first delivery and room for two more: the rest of the burst is refused
    // however slowly a loaded box sends it (a 400 ms landing could drain the queue between requests).
    const gate = manualGate()
    try {
      await withServer(
        { webhookSecret: SECRET, sinkGate: gate.promise, queueCapacity: 2, workers: 1 },
        async ({ url, deliveries }) => {
          const send = (i: number) => {
            const body = JSON.stringify({ id: i })
            return post(url, body, headers(body, { "x-shopify-event-id": `burst-${i}` }))
          }
          const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => send(i)))
          const refused = answers.flatMap((a, i) => (a.status === 503 ? [i] : []))
          expect(refused.length).toBeGreaterThan(0)
          expect(answers.every((a) => a.status === 200 || a.status === 503)).toBe(true)
          gate.open()
          await eventually(() => deliveries.length === 8 - refused.length, 20_000)
          // A refused delivery was never marked as seen: its retry is accepted, not ignored as a duplicate.
          const retry = await send(refused[0]!)
          expect(retry.status).toBe(200)
          expect(await retry.json()).toMatchObject({ message: "accepted" })
          await eventually(() => deliveries.length === 9 - refused.length, 20_000)
        }
      )
    } finally {
      gate.open()
    }
  })
})
