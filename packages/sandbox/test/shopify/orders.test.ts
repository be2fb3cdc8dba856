import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { defaultMerchantOptions, makeMerchant } from "../../src/internal/generator/makeMerchant.js"
import type { Order } from "../../src/internal/model.js"
import { type Json, STANDARD, type Started, shopifyOrders, start } from "./harness.js"

const DAY = 86_400_000

const gidOf = (o: Order): string => `gid://shopify/Order/${o.id}`

/** Pages a connection to the end and returns the nodes. */
const pageAll = async (
  s: Started,
  args: string,
  select = "id updatedAt",
  version?: string
): Promise<Array<Json>> => {
  const nodes: Array<Json> = []
  let after: string | null = null
  for (let guard = 0; guard < 100; guard++) {
    const r = await s.gql(
      `query($after: String) { orders(first: 250, after: $after${args === "" ? "" : `, ${args}`}) { pageInfo { hasNextPage endCursor } nodes { ${select} } } }`,
      { after },
      version
    )
    expect(r.body.errors).toBeUndefined()
    nodes.push(...r.body.data.orders.nodes)
    if (!r.body.data.orders.pageInfo.hasNextPage) return nodes
    after = r.body.data.orders.pageInfo.endCursor
  }
  throw new Error("pagination did not end")
}

describe("Shopify emulator: orders", () => {
  let s: Started
  beforeAll(async () => {
    // Plus limits: these tests page the whole history several times without pacing, and are about
    // windows and visibility, not throttling (throttle.test.ts is); on Standard's 2,000-point bucket a
    // fast run could be THROTTLED.
    s = await start({
      orders: 800,
      historyDays: 200,
      timeScale: 100,
      plan: { ...STANDARD, name: "plus", graphqlBucket: 20_000, graphqlRestoreRate: 1_000 }
    })
  })
  afterAll(() => s.handle.close())

  it("pages over all orders exactly once, in creation order", async () => {
    const expected = shopifyOrders(s).map(gidOf)
    const got = (await pageAll(s, "sortKey: CREATED_AT")).map((n) => n.id)
    expect(got).toEqual(expected)
    const reversed = (await pageAll(s, "sortKey: CREATED_AT, reverse: true")).map((n) => n.id)
    expect(reversed).toEqual([...expected].reverse())
  })

  it("pages backwards with last/before", async () => {
    const expected = shopifyOrders(s).map(gidOf)
    const first = await s.gql("{ orders(first: 30) { edges { cursor node { id } } } }")
    const cursor = first.body.data.orders.edges[20].cursor
    const back = await s.gql(
      `{ orders(last: 10, before: "${cursor}") { pageInfo { hasPreviousPage hasNextPage } nodes { id } } }`
    )
    expect(back.body.data.orders.nodes.map((n: Json) => n.id)).toEqual(expected.slice(10, 20))
    expect(back.body.data.orders.pageInfo).toEqual({ hasPreviousPage: true, hasNextPage: true })
  })

  it("renders an order's money bags, lines, refunds and statuses from the model", async () => {
    const o = shopifyOrders(s).find((x) => x.refunds.length > 0 && x.lines.length > 1)
    expect(o).toBeDefined()
    const order = o!
    const r = await s.gql(`{ order(id: "${gidOf(order)}") {
      id legacyResourceId name createdAt currencyCode taxesIncluded displayFinancialStatus
      totalPriceSet { shopMoney { amount currencyCode } presentmentMoney { currencyCode } }
      totalTaxSet { shopMoney { amount } }
      taxLines { title rate priceSet { shopMoney { amount } } }
      lineItems(first: 20) { nodes { id sku quantity originalUnitPriceSet { shopMoney { amount } } } }
      refunds(first: 5) { id createdAt totalRefundedSet { shopMoney { amount } }
        refundLineItems(first: 10) { nodes { quantity restockType lineItem { id } subtotalSet { shopMoney { amount } } } } }
      transactions(first: 10) { kind status amountSet { shopMoney { amount } } }
    } }`)
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined()
    const got = r.body.data.order
    expect(got.legacyResourceId).toBe(String(order.id))
    expect(got.name).toBe(order.name)
    expect(got.createdAt).toBe(`${new Date(order.createdAt).toISOString().slice(0, 19)}Z`)
    expect(got.totalPriceSet.shopMoney).toEqual({ amount: `${order.total}.0`, currencyCode: "JPY" })
    expect(got.totalTaxSet.shopMoney.amount).toBe(`${order.totalTax}.0`)
    expect(got.taxesIncluded).toBe(order.taxesIncluded)
    expect(got.lineItems.nodes.map((l: Json) => l.sku)).toEqual(order.lines.map((l) => l.sku))
    expect(got.lineItems.nodes.map((l: Json) => l.quantity)).toEqual(order.lines.map((l) => l.quantity))
    expect(got.refunds.map((x: Json) => x.id)).toEqual(
      order.refunds.map((x) => `gid://shopify/Refund/${x.id}`)
    )
    const refund = order.refunds[0]!
    expect(got.refunds[0].totalRefundedSet.shopMoney.amount).toBe(`${refund.amount}.0`)
    expect(got.refunds[0].refundLineItems.nodes.map((x: Json) => x.lineItem.id)).toEqual(
      refund.lines.map((l) => `gid://shopify/LineItem/${l.orderLineId}`)
    )
    expect(["PARTIALLY_REFUNDED", "REFUNDED"]).toContain(got.displayFinancialStatus)
    const taxSum = got.taxLines.reduce((a: number, t: Json) => a + Number(t.priceSet.shopMoney.amount), 0)
    const modelTax = order.lines
      .flatMap((l) => l.taxLines)
      .concat(order.shippingTax)
      .reduce((a, t) => a + t.amount, 0)
    expect(taxSum).toBe(modelTax)
  })

  it("filters by updated_at windows (quoted dates, :>= and :<=, AND)", async () => {
    const all = shopifyOrders(s)
    const mid = all[Math.floor(all.length / 2)]!.updatedAt
    const from = Math.floor((mid - 10 * DAY) / 1000) * 1000
    const to = Math.floor((mid + 5 * DAY) / 1000) * 1000
    const iso = (t: number) => new Date(t).toISOString().replace(".000Z", "Z")
    const expected = all
      .filter(
        (o) => Math.floor(o.updatedAt / 1000) * 1000 >= from && Math.floor(o.updatedAt / 1000) * 1000 <= to
      )
      .map(gidOf)
      .sort()
    const got = await pageAll(
      s,
      `query: "updated_at:>='${iso(from)}' AND updated_at:<='${iso(to)}'", sortKey: UPDATED_AT`
    )
    expect(got.map((n) => n.id).sort()).toEqual(expected)
    const times = got.map((n) => Date.parse(n.updatedAt))
    expect(times).toEqual([...times].sort((a, b) => a - b))
    const count = await s.gql(
      `{ ordersCount(query: "updated_at:>='${iso(from)}' AND updated_at:<='${iso(to)}'") { count precision } }`
    )
    expect(count.body.data.ordersCount).toEqual({ count: expected.length, precision: "EXACT" })
    const processed = all.filter((o) => Math.floor(o.processedAt / 1000) * 1000 < from).length
    const byProcessed = await s.gql(
      `{ ordersCount(query: "processed_at:<'${iso(from)}'", limit: null) { count } }`
    )
    expect(byProcessed.body.data.ordersCount.count).toBe(processed)
  })

  it("sorts every order by UPDATED_AT across pages, in both directions", async () => {
    const expected = shopifyOrders(s)
      .sort((a, b) => a.updatedAt - b.updatedAt || a.index - b.index)
      .map(gidOf)
    expect((await pageAll(s, "sortKey: UPDATED_AT")).map((n) => n.id)).toEqual(expected)
    expect((await pageAll(s, "sortKey: UPDATED_AT, reverse: true")).map((n) => n.id)).toEqual(
      [...expected].reverse()
    )
  })

  it("shows mutated orders in later updated_at windows and deletions as events", async () => {
    const now = Date.now()
    const since = new Date(Math.floor(now / 1000) * 1000 - 1000).toISOString().replace(".000Z", "Z")
    const touched = s.merchant.mutate({ fraction: 0.05, now })
    expect(touched.length).toBeGreaterThan(0)
    const live = touched
      .map((i) => s.merchant.orderAt(i)!)
      .filter((o) => o.channel === "online" && o.deletedAt === null)
    const got = (await pageAll(s, `query: "updated_at:>='${since}'", sortKey: UPDATED_AT`)).map((n) => n.id)
    for (const o of live) expect(got).toContain(gidOf(o))
    // Exactly what the merchant says changed since then (the generated history may end a moment ago).
    const expected = shopifyOrders(s).filter(
      (o) => Math.floor(o.updatedAt / 1000) * 1000 >= Date.parse(since)
    )
    expect([...got].sort()).toEqual(expected.map(gidOf).sort())

    const deletions = s.merchant.deletions()
    const ev = await s.gql(
      `{ events(first: 250, query: "action:destroy AND subject_type:ORDER") { nodes { ... on BasicEvent { action subjectType subjectId createdAt } } } }`
    )
    expect(ev.body.errors).toBeUndefined()
    expect(ev.body.data.events.nodes.map((e: Json) => e.subjectId).sort()).toEqual(
      deletions.map((d) => `gid://shopify/Order/${d.orderId}`).sort()
    )
    for (const e of ev.body.data.events.nodes)
      expect(e).toMatchObject({ action: "destroy", subjectType: "ORDER" })
    const deletedIds = new Set(deletions.map((d) => `gid://shopify/Order/${d.orderId}`))
    const everything = await pageAll(s, "", "id")
    expect(everything.some((n) => deletedIds.has(n.id))).toBe(false)
  })

  it("hides orders older than 60 days without read_all_orders and denies explicit requests for them", async () => {
    const scopes = s.handle.credentials.scopes
    s.handle.setScopes(scopes.filter((x) => x !== "read_all_orders"))
    try {
      const windowStart = Date.now() - 60 * DAY
      const expected = shopifyOrders(s)
        .filter((o) => o.createdAt >= windowStart + 5_000)
        .map(gidOf)
      const got = (await pageAll(s, "sortKey: CREATED_AT")).map((n) => n.id)
      expect(got.length).toBeLessThan(shopifyOrders(s).length)
      // Orders within a few seconds of the boundary may fall either side while the test runs.
      expect(got.slice(-expected.length)).toEqual(expected)
      const old = new Date(Date.now() - 100 * DAY).toISOString()
      const denied = await s.gql(`{ orders(first: 5, query: "created_at:<'${old}'") { nodes { id } } }`)
      expect(denied.body.data).toBeNull()
      expect(denied.body.errors?.[0]).toMatchObject({
        path: ["orders"],
        extensions: { code: "ACCESS_DENIED", requiredAccess: "`read_all_orders` access scope." }
      })
      expect(denied.body.errors?.[0].message).toContain("read_all_orders")
    } finally {
      s.handle.setScopes(scopes)
    }
  })

  it("denies a missing read scope", async () => {
    const scopes = s.handle.credentials.scopes
    s.handle.setScopes(scopes.filter((x) => x !== "read_products"))
    try {
      const r = await s.gql("{ products(first: 1) { nodes { id } } }")
      expect(r.body.errors?.[0].extensions.code).toBe("ACCESS_DENIED")
      expect(r.body.errors?.[0].message).toBe(
        "Access denied for products field. Required access: `read_products` access scope."
      )
    } finally {
      s.handle.setScopes(scopes)
    }
  })

  it("renders the generator's malformed orders unparseable, as bad-record injection", async () => {
    const bad = await start({
      merchant: makeMerchant({ ...defaultMerchantOptions(Date.now()), orders: 200, malformedPerSource: 2 })
    })
    try {
      const malformed = shopifyOrders(bad).filter((o) => o.malformed)
      expect(malformed.length).toBe(2)
      const nodes = await pageAll(
        bad,
        "sortKey: CREATED_AT",
        "id createdAt totalPriceSet { shopMoney { amount } }"
      )
      const rendered = nodes.filter((n) => n.createdAt === "0000-00-00T00:00:00Z")
      expect(rendered.map((n) => n.id).sort()).toEqual(malformed.map(gidOf).sort())
      for (const n of rendered) expect(n.totalPriceSet.shopMoney.amount).toBe("NaN")
    } finally {
      await bad.handle.close()
    }
  })
})
