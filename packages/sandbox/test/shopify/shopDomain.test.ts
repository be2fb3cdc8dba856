import { request } from "node:http"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Started, start } from "./harness.js"

/** One request with an explicit Host header (fetch cannot set it): status and body. */
const call = (
  s: Started,
  host: string | undefined,
  path: string,
  method = "GET",
  body?: string
): Promise<{ status: number; body: string }> =>
  new Promise((resolve, reject) => {
    const url = new URL(path, s.handle.baseUrl)
    const req = request(
      url,
      {
        method,
        headers: {
          ...(host === undefined ? {} : { host }),
          "Content-Type": "application/json",
          "X-Shopify-Access-Token": s.handle.credentials.accessToken
        }
      },
      (res) => {
        let text = ""
        res.setEncoding("utf8")
        res.on("data", (c: string) => {
          text += c
        })
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }))
      }
    )
    req.on("error", reject)
    req.end(body)
  })

describe("Shopify emulator: a shop it does not host", () => {
  let s: Started
  beforeAll(async () => {
    s = await start({ orders: 5, historyDays: 10 })
  })
  afterAll(async () => {
    await s.handle.close()
  })

  const graphql = (host: string | undefined) =>
    call(s, host, "/admin/api/2026-01/graphql.json", "POST", JSON.stringify({ query: "{ shop { name } }" }))

  it("answers another *.myshopify.com with 404 Not Found on every path, as Shopify does", async () => {
    for (const host of ["someone-else.myshopify.com", "Someone-Else.myshopify.com:443"]) {
      const gql = await graphql(host)
      expect([gql.status, JSON.parse(gql.body)]).toEqual([404, { errors: "Not Found" }])
      const rest = await call(s, host, "/admin/api/2026-01/orders.json")
      expect(rest.status).toBe(404)
      const token = await call(s, host, "/admin/oauth/access_token", "POST", "{}")
      expect(token.status).toBe(404)
    }
  })

  it("serves its own domain (any case, any port) and a plain local host", async () => {
    const own = s.handle.credentials.shopDomain
    for (const host of [own, `${own.toUpperCase()}:8443`, undefined, "localhost"]) {
      const res = await graphql(host)
      expect(res.status, String(host)).toBe(200)
      expect(JSON.parse(res.body).data.shop.name).toBeTypeOf("string")
    }
  })
})
