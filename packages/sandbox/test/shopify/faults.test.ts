import { afterEach, describe, expect, it } from "vitest"
import type { FaultKind } from "../../src/internal/contracts.js"
import { type Started, start } from "./harness.js"

const QUERY = "{ orders(first: 20) { nodes { id } } }"

/** A plan whose bucket barely refills, so any debit is visible. */
const FROZEN = {
  name: "custom" as const,
  graphqlBucket: 2000,
  graphqlRestoreRate: 0.0001,
  restBucket: 40,
  restLeakRate: 0.0001
}

const available = async (s: Started): Promise<number> => {
  const r = await s.gql("{ shop { name } }")
  // The probe itself costs 1 point, refunded to 1 (object) — report before its debit.
  return r.body.extensions.cost.throttleStatus.currentlyAvailable + r.body.extensions.cost.actualQueryCost
}

const post = (s: Started, query: string) =>
  fetch(`${s.handle.baseUrl}/admin/api/2026-01/graphql.json`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "X-Shopify-Access-Token": s.handle.credentials.accessToken
    },
    body: JSON.stringify({ query })
  })

describe("Shopify emulator: injected faults leave no trace on the server", () => {
  let s: Started | undefined
  afterEach(async () => {
    await s?.handle.close()
    s = undefined
  })

  it("5xx, 429, THROTTLED, truncated and malformed answers debit nothing", async () => {
    s = await start({ orders: 50, plan: FROZEN })
    const before = await available(s)
    const cases: ReadonlyArray<readonly [FaultKind, (r: Response, text: string) => void]> = [
      ["http_5xx", (r) => expect(r.status).toBe(503)],
      [
        "http_429",
        (r) => {
          expect(r.status).toBe(429)
          expect(r.headers.get("retry-after")).toBe("2.0")
        }
      ],
      ["throttled", (_r, text) => expect(JSON.parse(text).errors[0].extensions.code).toBe("THROTTLED")],
      ["malformed_json", (_r, text) => expect(() => JSON.parse(text)).toThrow()]
    ]
    for (const [kind, check] of cases) {
      s.faults.arm(kind)
      const r = await post(s, QUERY)
      check(r, await r.text())
    }
    s.faults.arm("truncated_body")
    await expect(post(s, QUERY).then((r) => r.text().then((t) => JSON.parse(t)))).rejects.toThrow()
    const after = await available(s)
    expect(after).toBe(before - 1)
    expect(s.faults.report().shopify).toEqual({
      http_5xx: 1,
      http_429: 1,
      throttled: 1,
      malformed_json: 1,
      truncated_body: 1
    })
  })

  it("a reset connection or a 5xx before a mutation changes no state", async () => {
    s = await start({ orders: 20 })
    const create =
      'mutation { webhookSubscriptionCreate(topic: ORDERS_CREATE, webhookSubscription: { uri: "http://127.0.0.1:9/x" }) { userErrors { message } } }'
    s.faults.arm("connection_reset")
    await expect(post(s, create)).rejects.toThrow()
    s.faults.arm("http_5xx")
    expect((await post(s, create)).status).toBe(503)
    const list = await s.gql("{ webhookSubscriptions(first: 5) { nodes { id } } }")
    expect(list.body.data.webhookSubscriptions.nodes).toEqual([])
  })

  it("slow responses take the scaled delay and still answer correctly", async () => {
    s = await start({ orders: 20, timeScale: 10, options: { slowResponseMs: 3000 } })
    s.faults.arm("slow_response")
    const t0 = Date.now()
    const r = await s.gql(QUERY)
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290)
    expect(r.body.data.orders.nodes.length).toBeGreaterThan(0)
  })
})
