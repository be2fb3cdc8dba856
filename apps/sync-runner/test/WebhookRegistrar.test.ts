import { Effect, Option, Redacted } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { ShopifyShopConfig } from "../src/AppConfig.js"
import { registerWebhooks } from "../src/WebhookRegistrar.js"
import { listen } from "./support.js"

interface Seen {
  readonly path: string
  readonly token: string | undefined
  readonly body: string
}

describe("registerWebhooks", () => {
  let server: Awaited<ReturnType<typeof listen>>
  const seen: Array<Seen> = []
  const existing = new Set<string>(["ORDERS_UPDATED"])
  beforeAll(async () => {
    server = await listen((req, res) => {
      let body = ""
      req.on("data", (d) => {
        body += String(d)
      })
      req.on("end", () => {
        const token = req.headers["x-shopify-access-token"]
        seen.push({ path: req.url ?? "", token: typeof token === "string" ? token : undefined, body })
        res.setHeader("content-type", "application/json")
        if (req.url === "/admin/oauth/access_token") {
          const form = new URLSearchParams(body)
          if (form.get("client_secret") !== "cs-1")
            return void res.writeHead(400).end('{"error":"invalid_client"}')
          return void res.end(
            JSON.stringify({ access_token: "shpat_minted", scope: "read_orders", expires_in: 86399 })
          )
        }
        if (token !== "shpat_static" && token !== "shpat_minted")
          return void res.writeHead(401).end('{"errors":"[API] Invalid API key or access token"}')
        const { variables } = JSON.parse(body)
        const topic = variables.topic as string
        if (existing.has(topic))
          return void res.end(
            JSON.stringify({
              data: {
                webhookSubscriptionCreate: {
                  webhookSubscription: null,
                  userErrors: [{ message: "Address for this topic has already been taken" }]
                }
              }
            })
          )
        existing.add(topic)
        res.end(
          JSON.stringify({
            data: {
              webhookSubscriptionCreate: {
                webhookSubscription: { id: `gid://shopify/WebhookSubscription/${existing.size}` },
                userErrors: []
              }
            }
          })
        )
      })
    })
  })
  afterAll(() => server.close())

  const shop = (auth: ShopifyShopConfig["auth"]): ShopifyShopConfig => ({
    shop: "kura-matcha.myshopify.com",
    auth,
    apiVersion: "2026-01",
    apiBaseUrl: Option.some(server.url),
    webhookSecret: Option.none()
  })

  it("creates subscriptions, reports existing ones, and mints a token for client-credentials shops", async () => {
    const results = await Effect.runPromise(
      registerWebhooks(
        [
          shop({ _tag: "AccessToken", accessToken: Redacted.make("shpat_static") }),
          shop({ _tag: "ClientCredentials", clientId: "cid", clientSecret: Redacted.make("cs-1") })
        ],
        "https://kura.example/webhooks/shopify",
        ["ORDERS_CREATE", "ORDERS_UPDATED"]
      )
    )
    expect(results.map((r) => r.outcome)).toEqual(["created", "exists", "exists", "exists"])
    const graphql = seen.filter((s) => s.path === "/admin/api/2026-01/graphql.json")
    expect(graphql.map((s) => s.token)).toEqual([
      "shpat_static",
      "shpat_static",
      "shpat_minted",
      "shpat_minted"
    ])
    expect(JSON.parse(graphql[0]!.body).variables).toEqual({
      topic: "ORDERS_CREATE",
      sub: { uri: "https://kura.example/webhooks/shopify", format: "JSON" }
    })
  })

  it("reports failures per topic instead of stopping", async () => {
    const results = await Effect.runPromise(
      registerWebhooks(
        [
          shop({ _tag: "AccessToken", accessToken: Redacted.make("wrong") }),
          shop({ _tag: "ClientCredentials", clientId: "cid", clientSecret: Redacted.make("bad") })
        ],
        "https://kura.example/webhooks/shopify",
        ["PRODUCTS_DELETE"]
      )
    )
    expect(results.map((r) => r.outcome)).toEqual(["failed", "failed"])
    expect(results[0]?.detail).toMatch(/HTTP 401/)
    expect(results[1]?.detail).toMatch(/no access token/)
    expect(JSON.stringify(results)).not.toContain("bad")
  })
})
