import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Json, type Started, start, UNMETERED } from "./harness.js"

const idNum = (gid: string): number => Number(gid.split("/").pop())

describe("Shopify emulator: search syntax and customer figures", () => {
  let s: Started
  /** Every online order, read once through the API (the independent side of each comparison). */
  let orders: ReadonlyArray<Json> = []
  beforeAll(async () => {
    s = await start({ orders: 240, historyDays: 40, timeScale: 100, plan: UNMETERED })
    let after: string | null = null
    const all: Array<Json> = []
    for (;;) {
      const r = await s.gql(
        `query($after: String) { orders(first: 100, after: $after) { pageInfo { hasNextPage endCursor }
          nodes { id name createdAt cancelledAt displayFinancialStatus customer { id }
            totalPriceSet { shopMoney { amount } } totalRefundedSet { shopMoney { amount } } } } }`,
        { after }
      )
      expect(r.body.errors).toBeUndefined()
      all.push(...r.body.data.orders.nodes)
      if (!r.body.data.orders.pageInfo.hasNextPage) break
      after = r.body.data.orders.pageInfo.endCursor
    }
    orders = all
  })
  afterAll(() => s.handle.close())

  const names = async (query: string): Promise<ReadonlyArray<string>> => {
    const r = await s.gql(`query($q: String) { orders(first: 250, query: $q) { nodes { name } } }`, {
      q: query
    })
    expect(r.body.errors).toBeUndefined()
    return r.body.data.orders.nodes.map((o: Json) => o.name)
  }
  const count = async (query: string): Promise<number> => {
    const r = await s.gql(`query($q: String) { ordersCount(query: $q, limit: null) { count precision } }`, {
      q: query
    })
    expect(r.body.errors).toBeUndefined()
    return r.body.data.ordersCount.count
  }
  const expectedNames = (pred: (o: Json) => boolean) => orders.filter(pred).map((o) => o.name)

  it("OR, parentheses, NOT and - negation select exactly the matching orders", async () => {
    const refunded = (o: Json) => o.displayFinancialStatus !== "PAID"
    expect(expectedNames(refunded).length).toBeGreaterThan(5)
    expect(await names("financial_status:refunded OR financial_status:partially_refunded")).toEqual(
      expectedNames(refunded)
    )
    expect(await names("-financial_status:paid")).toEqual(expectedNames(refunded))
    expect(await names("NOT financial_status:paid")).toEqual(expectedNames(refunded))
    const mid = orders[Math.floor(orders.length / 2)]?.createdAt ?? ""
    const late = (o: Json) => Date.parse(o.createdAt) >= Date.parse(mid)
    expect(
      await names(
        `created_at:>='${mid}' AND (financial_status:refunded OR financial_status:partially_refunded)`
      )
    ).toEqual(expectedNames((o) => late(o) && refunded(o)))
    expect(await names(`-(created_at:>='${mid}' OR financial_status:paid)`)).toEqual(
      expectedNames((o) => !late(o) && refunded(o))
    )
    // AND binds tighter than OR.
    const first = orders[0]?.name ?? ""
    expect(await names(`name:${first} OR created_at:>='${mid}' financial_status:paid`)).toEqual(
      expectedNames((o) => o.name === first || (late(o) && !refunded(o)))
    )
    expect(await count("financial_status:refunded OR financial_status:partially_refunded")).toBe(
      expectedNames(refunded).length
    )
  })

  it("status: and id: ranges", async () => {
    const cancelled = expectedNames((o) => o.cancelledAt !== null)
    expect(cancelled.length).toBeGreaterThan(0)
    expect(await names("status:cancelled")).toEqual(cancelled)
    expect(await names("status:open")).toEqual(expectedNames((o) => o.cancelledAt === null))
    expect(await names("status:closed")).toEqual([])
    expect(await names("status:any")).toEqual(expectedNames(() => true))
    const pivot = idNum(orders[40]?.id ?? "")
    const last = idNum(orders[60]?.id ?? "")
    expect(await names(`id:>${pivot} id:<=${last}`)).toEqual(
      expectedNames((o) => idNum(o.id) > pivot && idNum(o.id) <= last)
    )
    expect(await names(`id:>=gid://shopify/Order/${last}`)).toEqual(expectedNames((o) => idNum(o.id) >= last))
    expect(await count(`-id:<=${pivot}`)).toBe(expectedNames((o) => idNum(o.id) > pivot).length)
  })

  it("ignores an unknown field with Shopify's search warning, or rejects it when configured", async () => {
    const r = await s.gql(
      `{ orders(first: 250, query: "colour:blue OR financial_status:refunded") { nodes { name } } }`
    )
    expect(r.body.data.orders.nodes.map((o: Json) => o.name)).toEqual(
      expectedNames((o) => o.displayFinancialStatus === "REFUNDED")
    )
    expect(r.body.extensions.search).toEqual([
      {
        path: ["orders"],
        query: "colour:blue OR financial_status:refunded",
        warnings: [{ field: "colour", message: "Invalid search field for this query." }]
      }
    ])
    expect(r.body.extensions.cost.requestedQueryCost).toBeGreaterThan(0)
    const neg = await names("-colour:blue")
    expect(neg.length).toBe(orders.length)

    const strict = await start({ orders: 20, options: { unknownSearchFields: "error" } })
    try {
      const bad = await strict.gql(`{ orders(first: 5, query: "colour:blue") { nodes { id } } }`)
      expect(bad.body.errors?.[0].extensions.code).toBe("BAD_REQUEST")
      expect(bad.body.errors?.[0].message).toContain("colour")
      const unbalanced = await strict.gql(`{ orders(first: 5, query: "(status:open") { nodes { id } } }`)
      expect(unbalanced.body.errors?.[0].message).toContain("parenthesis")
    } finally {
      await strict.handle.close()
    }
  })

  it("filters and counts products, variants and customers with the same syntax", async () => {
    const all = await s.gql("{ products(first: 250) { nodes { id title productType vendor } } }")
    const products: ReadonlyArray<Json> = all.body.data.products.nodes
    const types = [...new Set(products.map((p) => p.productType))].slice(0, 2)
    const q = `product_type:${types[0]} OR product_type:${types[1]}`
    const want = products.filter((p) => types.includes(p.productType)).map((p) => p.id)
    const r = await s.gql(
      `query($q: String) { products(first: 250, query: $q) { nodes { id } } productsCount(query: $q) { count precision } }`,
      {
        q
      }
    )
    expect(r.body.data.products.nodes.map((p: Json) => p.id)).toEqual(want)
    expect(r.body.data.productsCount).toEqual({ count: want.length, precision: "EXACT" })
    const nq = `-(${q})`
    const n = await s.gql(`query($q: String) { productsCount(query: $q) { count } }`, { q: nq })
    expect(n.body.data.productsCount.count).toBe(products.length - want.length)
    const prefix = await s.gql(
      `{ productsCount(query: "title:${String(products[0]?.title).slice(0, 4)}*") { count } }`
    )
    expect(prefix.body.data.productsCount.count).toBe(
      products.filter((p) =>
        p.title.toLowerCase().startsWith(String(products[0]?.title).slice(0, 4).toLowerCase())
      ).length
    )
  })

  it("numberOfOrders and amountSpent agree with the orders and with the ground truth; customersCount filters on them", async () => {
    const expected = new Map<string, { orders: number; spent: number }>()
    for (const o of orders) {
      if (o.customer === null) continue
      const e = expected.get(o.customer.id) ?? { orders: 0, spent: 0 }
      e.orders++
      e.spent += Number(o.totalPriceSet.shopMoney.amount) - Number(o.totalRefundedSet.shopMoney.amount)
      expected.set(o.customer.id, e)
    }
    expect(expected.size).toBeGreaterThan(5)
    const r = await s.gql(
      "{ customers(first: 250) { nodes { id numberOfOrders amountSpent { amount currencyCode } } } customersCount { count } }"
    )
    expect(r.body.errors).toBeUndefined()
    const customers: ReadonlyArray<Json> = r.body.data.customers.nodes
    expect(customers.length).toBe(r.body.data.customersCount.count)
    let sumOrders = 0
    let sumSpent = 0
    for (const c of customers) {
      const e = expected.get(c.id) ?? { orders: 0, spent: 0 }
      expect(c.numberOfOrders).toBe(String(e.orders))
      expect(Number(c.amountSpent.amount)).toBe(e.spent)
      expect(c.amountSpent.currencyCode).toBe("JPY")
      sumOrders += e.orders
      sumSpent += e.spent
    }
    const truth = s.merchant.groundTruth().customerTotals
    expect(truth).toEqual({ orders: sumOrders, amountSpent: sumSpent })
    const buyers = customers.filter((c) => Number(c.numberOfOrders) >= 2).length
    const counted = await s.gql(`{ customersCount(query: "orders_count:>=2") { count } }`)
    expect(counted.body.data.customersCount.count).toBe(buyers)
  })
})
