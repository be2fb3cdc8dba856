import { createAdminApiClient, createAdminRestApiClient } from "@shopify/admin-api-client"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Json, type Started, start } from "./harness.js"

/** Shopify's own client talks to https://<shop>/…; rewrite that to the emulator. */
const rewrite =
  (s: Started) =>
  (url: string, init?: RequestInit): Promise<Response> =>
    fetch(url.replace(/^https?:\/\/[^/]+/, s.handle.baseUrl), init)

describe("Shopify emulator: other people's clients (@shopify/admin-api-client)", () => {
  let s: Started
  beforeAll(async () => {
    s = await start({ orders: 200, timeScale: 100 })
  })
  afterAll(() => s.handle.close())

  it("GraphQL client queries orders, reads cost extensions and sees errors", async () => {
    const client = createAdminApiClient({
      storeDomain: s.handle.credentials.shopDomain,
      apiVersion: "2026-07",
      accessToken: s.handle.credentials.accessToken,
      customFetchApi: rewrite(s)
    })
    const r = await client.request<Json>(
      "query($n: Int!) { orders(first: $n, sortKey: CREATED_AT) { nodes { id name totalPriceSet { shopMoney { amount currencyCode } } } } }",
      { variables: { n: 5 } }
    )
    expect(r.errors).toBeUndefined()
    expect(r.data.orders.nodes).toHaveLength(5)
    expect(r.data.orders.nodes[0].totalPriceSet.shopMoney.currencyCode).toBe("JPY")
    expect(r.extensions?.cost).toMatchObject({
      requestedQueryCost: 2 + 5 * 3,
      throttleStatus: { maximumAvailable: 2000 }
    })
    const bad = await client.request("{ shop { nope } }")
    expect(bad.errors?.graphQLErrors?.[0]?.message).toBe("Field 'nope' doesn't exist on type 'Shop'")
  })

  it("REST client follows Link pagination", async () => {
    const client = createAdminRestApiClient({
      storeDomain: s.handle.credentials.shopDomain,
      apiVersion: "2026-07",
      accessToken: s.handle.credentials.accessToken,
      customFetchApi: rewrite(s)
    })
    const res = await client.get("orders", { searchParams: { limit: 50, status: "any" } })
    expect(res.status).toBe(200)
    expect(res.headers.get("x-shopify-api-version")).toBe("2026-07")
    const body = (await res.json()) as Json
    expect(body.orders).toHaveLength(50)
    expect(res.headers.get("link")).toMatch(/rel="next"/)
  })
})
