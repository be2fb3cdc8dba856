import { afterEach, describe, expect, it } from "vitest"
import { type Json, type Started, start } from "./harness.js"

const ORDERS_WITH_LINES =
  "{ orders(first: 10) { edges { node { id lineItems(first: 5) { edges { node { id } } } } } } }"

describe("Shopify emulator: query cost and the leaky bucket", () => {
  let s: Started | undefined
  afterEach(async () => {
    await s?.handle.close()
    s = undefined
  })

  it("prices nested connections multiplicatively and refunds what was not returned", async () => {
    s = await start()
    const r = await s.gql(ORDERS_WITH_LINES)
    expect(r.body.errors).toBeUndefined()
    // 2 + 10 × (order 1 + lineItems (2 + 5 × 1))
    expect(r.body.extensions.cost.requestedQueryCost).toBe(82)
    const orders: ReadonlyArray<Json> = r.body.data.orders.edges
    const actual = 2 + orders.reduce((sum: number, e: Json) => sum + 1 + 2 + e.node.lineItems.edges.length, 0)
    expect(r.body.extensions.cost.actualQueryCost).toBe(actual)
    expect(actual).toBeLessThan(82)
    expect(r.text).toContain('"maximumAvailable":2000.0')
    expect(r.text).toContain('"restoreRate":100.0')
    expect(Number.isInteger(r.body.extensions.cost.throttleStatus.currentlyAvailable)).toBe(true)
    expect(r.body.extensions.cost.throttleStatus.currentlyAvailable).toBeGreaterThanOrEqual(2000 - actual)
  })

  it("charges 10 per mutation", async () => {
    s = await start()
    const r = await s.gql(
      'mutation { webhookSubscriptionCreate(topic: ORDERS_CREATE, webhookSubscription: { uri: "http://127.0.0.1:9/x" }) { userErrors { message } } }'
    )
    expect(r.body.extensions.cost.requestedQueryCost).toBe(10)
  })

  it("rejects requested cost above 1000 with MAX_COST_EXCEEDED", async () => {
    s = await start()
    const r = await s.gql("{ orders(first: 250) { nodes { id lineItems(first: 250) { nodes { id } } } } }")
    expect(r.status).toBe(200)
    expect(r.body.data).toBeUndefined()
    expect(r.body.errors?.[0].extensions).toEqual({
      code: "MAX_COST_EXCEEDED",
      cost: 2 + 250 * (1 + 2 + 250),
      maxCost: 1000
    })
    expect(r.body.errors?.[0].message).toMatch(
      /^Query cost is 63252, which exceeds the single query max cost limit \(1000\)/
    )
    expect(r.body.extensions.cost.actualQueryCost).toBeNull()
  })

  it("throttles with HTTP 200 by default, actualQueryCost null, and refills at the scaled rate", async () => {
    // 100-point bucket, 10 points/s real, timeScale 10 → 100 points/s reported and applied.
    s = await start({
      timeScale: 10,
      plan: { name: "custom", graphqlBucket: 100, graphqlRestoreRate: 10, restBucket: 40, restLeakRate: 2 }
    })
    const first = await s.gql(ORDERS_WITH_LINES)
    expect(first.text).toContain('"restoreRate":100.0')
    expect(first.text).toContain('"maximumAvailable":100.0')
    const burst = await Promise.all([1, 2, 3, 4].map(() => s!.gql("{ orders(first: 60) { nodes { id } } }")))
    const throttled = burst.filter((r) => r.body.errors?.[0]?.extensions?.code === "THROTTLED")
    expect(throttled.length).toBeGreaterThan(0)
    for (const t of throttled) {
      expect(t.status).toBe(200)
      expect(t.body.data).toBeUndefined()
      expect(t.body.errors?.[0]).toEqual({
        message: "Throttled",
        extensions: { code: "THROTTLED", documentation: "https://shopify.dev/api/usage/rate-limits" }
      })
      expect(t.body.extensions.cost.actualQueryCost).toBeNull()
      expect(t.body.extensions.cost.requestedQueryCost).toBe(62)
    }
    expect(s.handle.stats().throttled).toBe(throttled.length)
    const a0 = performance.now()
    const before = (await s.gql("{ shop { name } }")).body.extensions.cost.throttleStatus.currentlyAvailable
    const a1 = performance.now()
    await new Promise((r) => setTimeout(r, 300))
    const b0 = performance.now()
    const after = (await s.gql("{ shop { name } }")).body.extensions.cost.throttleStatus.currentlyAvailable
    const b1 = performance.now()
    // 100 points/s (0.1 per ms) over the time the server saw between the two answers, which lies in
    // [b0 − a1, b1 − a0] however loaded the machine is; minus 1 for the shop query, ± rounding.
    expect(after - before).toBeGreaterThanOrEqual(Math.min(100 - before, Math.floor((b0 - a1) * 0.1)) - 2)
    expect(after - before).toBeLessThanOrEqual(Math.ceil((b1 - a0) * 0.1) + 1)
    expect(after - before).toBeGreaterThanOrEqual(20)
  })

  it("answers THROTTLED with HTTP 429 when configured", async () => {
    s = await start({
      options: { throttledStatus: 429 },
      plan: { name: "custom", graphqlBucket: 50, graphqlRestoreRate: 1, restBucket: 40, restLeakRate: 2 }
    })
    const r = await s.gql("{ orders(first: 60) { nodes { id } } }")
    expect(r.status).toBe(429)
    // 62 requested, 50 available, 1 point/s → 12 s until it would fit.
    expect(Number(r.headers.get("retry-after"))).toBeCloseTo(12, 1)
    expect(r.body.errors?.[0].extensions.code).toBe("THROTTLED")
    expect(r.body.extensions.cost.actualQueryCost).toBeNull()
    expect(r.body.extensions.cost.throttleStatus.maximumAvailable).toBe(50)
  })

  it("scales every duration it reports by timeScale: THROTTLED 429 Retry-After, restore rate, injected 429s, token lifetime", async () => {
    s = await start({
      timeScale: 100,
      options: { throttledStatus: 429 },
      plan: { name: "custom", graphqlBucket: 50, graphqlRestoreRate: 1, restBucket: 40, restLeakRate: 2 }
    })
    const r = await s.gql("{ orders(first: 60) { nodes { id } } }")
    expect(r.status).toBe(429)
    // 12 missing points at 1 point/s is 12 s of shop time = 0.12 s here, and the restore rate says so.
    expect(Number(r.headers.get("retry-after"))).toBeCloseTo(0.12, 2)
    expect(r.body.extensions.cost.throttleStatus.restoreRate).toBe(100)
    // An injected THROTTLED (the bucket itself is fine) still asks for a scaled wait, never 0.
    s.faults.arm("throttled")
    const injected = await s.gql("{ shop { name } }")
    expect(injected.status).toBe(429)
    expect(injected.body.errors?.[0].extensions.code).toBe("THROTTLED")
    expect(injected.headers.get("retry-after")).toBe("0.01")
    s.faults.arm("http_429")
    const http429 = await s.gql("{ shop { name } }")
    expect(http429.status).toBe(429)
    expect(http429.headers.get("retry-after")).toBe("0.02")
    const tok = await fetch(`${s.handle.baseUrl}/admin/oauth/access_token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        grant_type: "client_credentials",
        client_id: s.handle.credentials.clientId,
        client_secret: s.handle.credentials.clientSecret
      })
    })
    expect(((await tok.json()) as { expires_in: number }).expires_in).toBe(863) // 86 399 s / 100
  })

  it("never answers Retry-After 0, even at extreme time scales", async () => {
    s = await start({ timeScale: 1_000_000, options: { throttledStatus: 429 } })
    s.faults.arm("throttled")
    const r = await s.gql("{ shop { name } }")
    expect(r.status).toBe(429)
    expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0)
  })
})
