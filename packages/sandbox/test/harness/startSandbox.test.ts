import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Sandbox, startSandbox } from "../../src/startSandbox.js"
import { sandboxGraphql } from "../sandboxGraphql.js"

describe("startSandbox", () => {
  let sb: Sandbox
  beforeAll(async () => {
    sb = await startSandbox({ seed: 7, scale: 300, historyDays: 90, timeScale: 10, malformedPerSource: 1 })
  })
  afterAll(() => sb.close())

  it("starts all three APIs on 127.0.0.1 with working credentials", async () => {
    for (const url of [sb.shopify.baseUrl, sb.lightspeed.baseUrl, sb.stocky.baseUrl])
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const shop = await sandboxGraphql(sb, "{ shop { name currencyCode } }")
    expect(shop.status).toBe(200)
    const token = await fetch(sb.lightspeed.credentials.tokenUrl, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${sb.lightspeed.credentials.clientId}:${sb.lightspeed.credentials.clientSecret}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded"
      },
      body: new URLSearchParams({
        grant_type: "refresh_token",
        refresh_token: sb.lightspeed.credentials.refreshToken
      })
    })
    const body = (await token.json()) as { expires_in: number }
    expect(body.expires_in).toBe(360) // 60 minutes at timeScale 10, reported scaled
    expect(sb.stocky.credentials.storeName).toBe(sb.shopify.credentials.shopDomain)
    const suppliers = await fetch(`${sb.stocky.baseUrl}/api/v2/suppliers.json`, {
      headers: {
        "Store-Name": sb.stocky.credentials.storeName,
        Authorization: `API KEY=${sb.stocky.credentials.apiKey}`
      }
    })
    expect(suppliers.status).toBe(200)
    const stats = sb.stats()
    expect(stats.lightspeed.tokenRefreshes).toBe(1)
    expect(stats.stocky.requests).toBe(1)
    expect(sb.faultReport()).toEqual({ shopify: {}, lightspeed: {}, stocky: {} })
  })

  it("mutate, createOrders and deleteOrders move the ground truth", () => {
    const before = sb.groundTruth().counts
    expect(before.onlineOrders + before.malformed.shopify).toBe(300)
    const touched = sb.mutate({ fraction: 0.05 })
    expect(touched.length).toBe(Math.round(0.05 * sb.merchant.orderCount))
    const afterMutate = sb.groundTruth().counts
    expect(afterMutate.refunds).toBeGreaterThanOrEqual(before.refunds)
    const created = sb.createOrders(10)
    expect(created).toHaveLength(10)
    const deleted = sb.deleteOrders(3)
    expect(deleted).toHaveLength(3)
    const after = sb.groundTruth().counts
    expect(after.onlineOrders + after.posSales).toBe(afterMutate.onlineOrders + afterMutate.posSales + 10 - 3)
    expect(after.deletedOrders).toBe(afterMutate.deletedOrders + 3)
    expect(sb.merchant.deletions().length).toBe(after.deletedOrders)
  })

  it("fires Shopify webhooks for createOrders and deleteOrders", async () => {
    const received: Array<{ topic: string; body: { id: number } }> = []
    const server = createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => {
        received.push({
          topic: String(req.headers["x-shopify-topic"]),
          body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as { id: number }
        })
        res.writeHead(200).end()
      })
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`
    try {
      for (const topic of ["ORDERS_CREATE", "ORDERS_DELETE"]) {
        const res = await fetch(
          `${sb.shopify.baseUrl}/admin/api/${sb.shopify.credentials.apiVersion}/graphql.json`,
          {
            method: "POST",
            headers: {
              "content-type": "application/json",
              "x-shopify-access-token": sb.shopify.credentials.accessToken
            },
            body: JSON.stringify({
              query: `mutation($uri: String!) { webhookSubscriptionCreate(topic: ${topic}, webhookSubscription: { uri: $uri, format: JSON }) { userErrors { message } } }`,
              variables: { uri }
            })
          }
        )
        expect(res.status).toBe(200)
      }
      const created = sb.createOrders(6)
      const deleted = sb.deleteOrders(2)
      await sb.webhooksIdle()
      const onlineCreated = created.map((i) => sb.merchant.orderAt(i)).filter((o) => o?.channel === "online")
      expect(
        received
          .filter((r) => r.topic === "orders/create")
          .map((r) => r.body.id)
          .sort()
      ).toEqual(onlineCreated.map((o) => o?.id).sort())
      expect(
        received
          .filter((r) => r.topic === "orders/delete")
          .map((r) => r.body.id)
          .sort()
      ).toEqual(deleted.map((i) => sb.merchant.orderAt(i)?.id).sort())
    } finally {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })

  it("uses ports N, N+1 and N+2 when a port is given", async () => {
    // Find a free base port (retry if a neighbour happens to be taken).
    for (let attempt = 0; ; attempt++) {
      const probe = createServer()
      await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve))
      const port = (probe.address() as AddressInfo).port
      await new Promise<void>((resolve) => probe.close(() => resolve()))
      if (port > 65000) continue
      try {
        const fixed = await startSandbox({ seed: 1, scale: 100, historyDays: 10, port })
        try {
          expect([fixed.shopify.baseUrl, fixed.lightspeed.baseUrl, fixed.stocky.baseUrl]).toEqual([
            `http://127.0.0.1:${port}`,
            `http://127.0.0.1:${port + 1}`,
            `http://127.0.0.1:${port + 2}`
          ])
        } finally {
          await fixed.close()
        }
        return
      } catch (error) {
        if (attempt >= 3 || !String(error).includes("EADDRINUSE")) throw error
      }
    }
  })

  it("rejects bad options with a message naming the option", async () => {
    await expect(startSandbox({ plan: "gold" as "standard" })).rejects.toThrow(/plan must be one of/)
    await expect(startSandbox({ timeScale: -1 })).rejects.toThrow(/timeScale/)
    await expect(startSandbox({ scale: -5 })).rejects.toThrow(/orders/)
  })
})
