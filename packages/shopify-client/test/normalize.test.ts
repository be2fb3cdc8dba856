import { describe, expect, it } from "vitest"
import { appendTo, normalizeConnections, type Truncation } from "../src/internal/normalize.js"

// A paged order: its line items are a connection cut short, its refunds a connection that fit.
const pagedOrder = () => ({
  id: "gid://shopify/Order/1",
  name: "#1001",
  totalPriceSet: { shopMoney: { amount: "10.0", currencyCode: "JPY" } },
  lineItems: {
    pageInfo: { hasNextPage: true, endCursor: "c2" },
    nodes: [
      { id: "gid://shopify/LineItem/1", quantity: 1 },
      { id: "gid://shopify/LineItem/2", quantity: 2 }
    ]
  },
  refunds: [
    {
      id: "gid://shopify/Refund/1",
      refundLineItems: { pageInfo: { hasNextPage: false, endCursor: null }, nodes: [{ id: "r1" }] }
    }
  ],
  tags: ["a", "b"]
})

describe("normalizeConnections", () => {
  it("turns connections into arrays and reports the ones cut short, with where they are", () => {
    const truncations: Array<Truncation> = []
    const out = normalizeConnections(pagedOrder(), truncations)
    expect(out).toEqual({
      id: "gid://shopify/Order/1",
      name: "#1001",
      totalPriceSet: { shopMoney: { amount: "10.0", currencyCode: "JPY" } },
      lineItems: [
        { id: "gid://shopify/LineItem/1", quantity: 1 },
        { id: "gid://shopify/LineItem/2", quantity: 2 }
      ],
      refunds: [{ id: "gid://shopify/Refund/1", refundLineItems: [{ id: "r1" }] }],
      tags: ["a", "b"]
    })
    expect(truncations).toEqual([{ path: "lineItems", parentId: "gid://shopify/Order/1", endCursor: "c2" }])
  })

  it("returns a record without connections as it is (a bulk record): no copy", () => {
    const bulk = {
      id: "gid://shopify/Order/2",
      lineItems: [{ id: "gid://shopify/LineItem/3", taxLines: [{ rate: 0.1 }] }],
      customer: { id: "gid://shopify/Customer/1" },
      tags: []
    }
    const truncations: Array<Truncation> = []
    expect(normalizeConnections(bulk, truncations)).toBe(bulk)
    expect(truncations).toEqual([])
  })

  it("copies only the way to a connection and never changes its input", () => {
    const input = pagedOrder()
    const before = structuredClone(input)
    const out = normalizeConnections(input, []) as ReturnType<typeof pagedOrder> & {
      readonly lineItems: ReadonlyArray<unknown>
    }
    expect(input).toEqual(before)
    expect(out).not.toBe(input)
    // Subtrees without a connection are shared, not copied.
    expect(out.totalPriceSet).toBe(input.totalPriceSet)
    expect(out.tags).toBe(input.tags)
    // The refund holding a connection is a copy; the array around it too.
    expect(out.refunds).not.toBe(input.refunds)
    expect(out.refunds[0]).not.toBe(input.refunds[0])
  })

  it("appendTo writes the rest of a cut connection into the copy, not into the input", () => {
    const input = pagedOrder()
    const before = structuredClone(input)
    const truncations: Array<Truncation> = []
    const out = normalizeConnections(input, truncations)
    const t = truncations[0]
    expect(t).toBeDefined()
    expect(
      appendTo(out, t?.parentId ?? "", "lineItems", [{ id: "gid://shopify/LineItem/3", quantity: 3 }])
    ).toBe(true)
    expect(
      (out as { readonly lineItems: ReadonlyArray<{ readonly id: string }> }).lineItems.map((l) => l.id)
    ).toEqual(["gid://shopify/LineItem/1", "gid://shopify/LineItem/2", "gid://shopify/LineItem/3"])
    expect(input).toEqual(before)
  })
})
