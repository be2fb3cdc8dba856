import { createHmac } from "node:crypto"
import { afterEach, describe, expect, it } from "vitest"
import { eventually, type Json, type Started, start, startReceiver } from "./harness.js"

const subscribe = async (s: Started, topic: string, uri: string): Promise<string> => {
  const r = await s.gql(
    `mutation($uri: String!) { webhookSubscriptionCreate(topic: ${topic}, webhookSubscription: { uri: $uri, format: JSON }) { webhookSubscription { id topic uri } userErrors { field message } } }`,
    { uri }
  )
  expect(r.body.data.webhookSubscriptionCreate.userErrors).toEqual([])
  return r.body.data.webhookSubscriptionCreate.webhookSubscription.id
}

const header = (h: Readonly<Record<string, string | Array<string> | undefined>>, name: string): string => {
  const v = h[name]
  return Array.isArray(v) ? (v[0] ?? "") : (v ?? "")
}

describe("Shopify emulator: webhooks", () => {
  let s: Started | undefined
  afterEach(async () => {
    await s?.handle.close()
    s = undefined
  })

  it("delivers signed order, refund and inventory webhooks with Shopify's headers", async () => {
    s = await start({ orders: 300 })
    const receiver = await startReceiver()
    try {
      for (const t of [
        "ORDERS_CREATE",
        "ORDERS_UPDATED",
        "ORDERS_DELETE",
        "REFUNDS_CREATE",
        "INVENTORY_LEVELS_UPDATE"
      ]) {
        await subscribe(s, t, receiver.url)
      }
      const list = await s.gql("{ webhookSubscriptions(first: 10) { nodes { topic uri } } }")
      expect(list.body.data.webhookSubscriptions.nodes).toHaveLength(5)
      const dup = await s.gql(
        `mutation { webhookSubscriptionCreate(topic: ORDERS_CREATE, webhookSubscription: { uri: "${receiver.url}" }) { userErrors { message } } }`
      )
      expect(dup.body.data.webhookSubscriptionCreate.userErrors[0].message).toMatch(/already been taken/)

      const touched = s.merchant.mutate({ fraction: 0.1, now: Date.now() })
      s.handle.notifyOrdersChanged(touched, "update")
      const created = s.merchant.createOrders({ count: 8, now: Date.now() })
      s.handle.notifyOrdersChanged(created, "create")
      await s.handle.webhooksIdle()

      const byTopic = (t: string) =>
        receiver.received.filter((r) => header(r.headers, "x-shopify-topic") === t)
      const online = (ix: ReadonlyArray<number>) =>
        ix.map((i) => s!.merchant.orderAt(i)!).filter((o) => o.channel === "online")
      const updated = online(touched).filter((o) => o.deletedAt === null)
      const deleted = online(touched).filter((o) => o.deletedAt !== null)
      expect(
        byTopic("orders/updated")
          .map((r) => JSON.parse(r.body).id)
          .sort()
      ).toEqual(updated.map((o) => o.id).sort())
      expect(
        byTopic("orders/delete")
          .map((r) => JSON.parse(r.body))
          .sort((a: Json, b: Json) => a.id - b.id)
      ).toEqual(deleted.map((o) => ({ id: o.id })).sort((a, b) => a.id - b.id))
      expect(
        byTopic("orders/create")
          .map((r) => JSON.parse(r.body).id)
          .sort()
      ).toEqual(
        online(created)
          .map((o) => o.id)
          .sort()
      )
      const newRefunds = updated.flatMap((o) =>
        o.refunds.filter((r) => r.createdAt > o.createdAt + s!.merchant.maxBaseUpdateLagMs)
      )
      expect(
        byTopic("refunds/create")
          .map((r) => JSON.parse(r.body).id)
          .sort()
      ).toEqual(newRefunds.map((r) => r.id).sort())
      const restocks = newRefunds.flatMap((r) => r.lines.filter((l) => l.restock))
      expect(byTopic("inventory_levels/update")).toHaveLength(restocks.length)

      const secret = s.handle.credentials.webhookSecret
      const eventIds = new Set<string>()
      for (const r of receiver.received) {
        expect(header(r.headers, "x-shopify-hmac-sha256")).toBe(
          createHmac("sha256", secret).update(r.body).digest("base64")
        )
        expect(header(r.headers, "x-shopify-shop-domain")).toBe(s.handle.credentials.shopDomain)
        expect(header(r.headers, "x-shopify-api-version")).toBe("2026-01")
        expect(header(r.headers, "x-shopify-webhook-id")).toMatch(/^[0-9a-f-]{36}$/)
        expect(Number.isNaN(Date.parse(header(r.headers, "x-shopify-triggered-at")))).toBe(false)
        eventIds.add(header(r.headers, "x-shopify-event-id"))
      }
      expect(eventIds.size).toBe(receiver.received.length)
      const order = JSON.parse(byTopic("orders/updated")[0]!.body)
      expect(order.total_price).toMatch(/^\d+\.\d{2}$/)
      expect(order.updated_at).toMatch(/\+09:00$/)
    } finally {
      await receiver.close()
    }
  })

  it("retries after a 500 with the same webhook and event ids, and drops a subscription that never succeeds", async () => {
    s = await start({ orders: 100, timeScale: 10_000 })
    const flaky = await startReceiver((n) => (n === 1 ? 500 : 200))
    const dead = await startReceiver(() => 503)
    try {
      await subscribe(s, "ORDERS_CREATE", flaky.url)
      const deadId = await subscribe(s, "ORDERS_UPDATED", dead.url)
      const created = s.merchant.createOrders({ count: 4, now: Date.now() })
      const one = created.find((i) => s!.merchant.orderAt(i)?.channel === "online")
      expect(one).toBeDefined()
      s.handle.notifyOrdersChanged([one!], "create")
      s.handle.notifyOrdersChanged([one!], "update")
      await eventually(async () => (flaky.received.length >= 2 ? true : undefined))
      const [a, b] = flaky.received
      expect(header(a!.headers, "x-shopify-webhook-id")).toBe(header(b!.headers, "x-shopify-webhook-id"))
      expect(header(a!.headers, "x-shopify-event-id")).toBe(header(b!.headers, "x-shopify-event-id"))
      expect(a!.body).toBe(b!.body)
      // 1 attempt + 8 retries over the scaled ~4 h schedule (about 14 s at timeScale 10000 → 1.4 s).
      await eventually(async () => (dead.received.length >= 9 ? true : undefined), 20_000)
      await s.handle.webhooksIdle()
      expect(dead.received).toHaveLength(9)
      const gone = await s.gql(`{ webhookSubscription(id: "${deadId}") { id } }`)
      expect(gone.body.data.webhookSubscription).toBeNull()
      expect(s.handle.stats().webhookDelivered).toBeGreaterThanOrEqual(1)
    } finally {
      await flaky.close()
      await dead.close()
    }
  })

  it("deletes subscriptions", async () => {
    s = await start({ orders: 10 })
    const id = await subscribe(s, "ORDERS_CREATE", "http://127.0.0.1:9/never")
    const r = await s.gql(
      `mutation { webhookSubscriptionDelete(id: "${id}") { deletedWebhookSubscriptionId userErrors { message } } }`
    )
    expect(r.body.data.webhookSubscriptionDelete).toEqual({
      deletedWebhookSubscriptionId: id,
      userErrors: []
    })
    const list = await s.gql("{ webhookSubscriptions(first: 10) { nodes { id } } }")
    expect(list.body.data.webhookSubscriptions.nodes).toEqual([])
  })
})
