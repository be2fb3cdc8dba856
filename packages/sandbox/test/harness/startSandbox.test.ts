import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Sandbox, startSandbox } from "../../src/startSandbox.js"

describe("startSandbox", () => {
  let sb: Sandbox
  beforeAll(async () => {
    sb = await startSandbox({ seed: 7, scale: 300, historyDays: 90, timeScale: 10, malformedPerSource: 1 })
  })
  afterAll(() => sb.close())

  it("starts all three APIs on 127.0.0.1 with working credentials", async () => {
    for (const url of [sb.shopify.baseUrl, sb.lightspeed.baseUrl, sb.stocky.baseUrl])
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const shop = await fetch(
      `${sb.shopify.baseUrl}/admin/api/${sb.shopify.credentials.apiVersion}/graphql.json`,
      {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-shopify-access-token": sb.shopify.credentials.accessToken
        },
        body: JSON.stringify({ query: "{ shop { name currencyCode } }" })
      }
    )
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

  it("rejects bad options with a message naming the option", async () => {
    await expect(startSandbox({ plan: "gold" as "standard" })).rejects.toThrow(/plan must be one of/)
    await expect(startSandbox({ timeScale: -1 })).rejects.toThrow(/timeScale/)
    await expect(startSandbox({ scale: -5 })).rejects.toThrow(/orders/)
  })
})
