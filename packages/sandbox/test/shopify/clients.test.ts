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
    s = await start({ orders: 200, timeScale: 100, options: { restLinkHost: "shop" } })
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
    const link = res.headers.get("link") ?? ""
    expect(link).toMatch(
      new RegExp(
        `^<https://${s.handle.credentials.shopDomain}/admin/api/2026-07/orders.json\\?limit=50&page_info=[^>]+>; rel="next"$`
      )
    )
    // The official client follows the shop-domain link through customFetchApi.
    const pageInfo = new URL(link.slice(1, link.indexOf(">"))).searchParams.get("page_info") ?? ""
    const next = await client.get("orders", { searchParams: { limit: 50, page_info: pageInfo } })
    const second = (await next.json()) as Json
    expect(second.orders).toHaveLength(50)
    expect(second.orders[0].id).not.toBe(body.orders[0].id)
  })
})
