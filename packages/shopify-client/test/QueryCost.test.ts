import { describe, expect, it } from "vitest"
import { OrdersDocuments } from "../src/internal/documents/index.js"
import { estimateQueryCost, largestAffordablePage } from "../src/QueryCost.js"
import { incrementalWindow, splitWindow, updatedAtQuery } from "../src/UpdatedAtWindow.js"

describe("estimateQueryCost", () => {
  it("follows Shopify's model: objects 1, connections 2 + n × node, nested connections multiply", () => {
    expect(estimateQueryCost("{ shop { id name } }")).toBe(1)
    expect(estimateQueryCost("{ orders(first: 10) { nodes { id } } }")).toBe(2 + 10 * 1)
    expect(estimateQueryCost("{ orders(first: 10) { edges { node { id customer { id } } } } }")).toBe(
      2 + 10 * 2
    )
    expect(
      estimateQueryCost("{ orders(first: 10) { nodes { id lineItems(first: 5) { nodes { id } } } } }")
    ).toBe(2 + 10 * (1 + 2 + 5))
    expect(estimateQueryCost("query($n: Int!) { products(first: $n) { nodes { id } } }", { n: 50 })).toBe(52)
    // nodes(ids:) reads one object per id, literal or variable.
    expect(estimateQueryCost('{ nodes(ids: ["a", "b", "c"]) { id ... on Refund { note } } }')).toBe(3)
    expect(
      estimateQueryCost(
        "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Refund { totalRefundedSet { shopMoney { amount } } } } }",
        {
          ids: ["a", "b"]
        }
      )
    ).toBe(2 * (1 + 2))
    expect(estimateQueryCost('mutation { bulkOperationCancel(id: "x") { userErrors { message } } }')).toBe(10)
  })

  it("picks the largest page that fits the 1000-point ceiling", () => {
    const size = largestAffordablePage(OrdersDocuments.page, {}, { max: 250, budget: 1000 })
    expect(size).toBeGreaterThanOrEqual(1)
    expect(estimateQueryCost(OrdersDocuments.page, { first: size })).toBeLessThanOrEqual(1000)
    if (size < 250) expect(estimateQueryCost(OrdersDocuments.page, { first: size + 1 })).toBeGreaterThan(1000)
  })
})

describe("updated_at windows", () => {
  it("quotes ISO dates and uses >= / <", () => {
    expect(updatedAtQuery({ start: Date.UTC(2026, 0, 1), end: Date.UTC(2026, 0, 2) })).toBe(
      "updated_at:>='2026-01-01T00:00:00Z' AND updated_at:<'2026-01-02T00:00:00Z'"
    )
    expect(updatedAtQuery({ start: 0, end: 1000 }, "status:any")).toBe(
      "updated_at:>='1970-01-01T00:00:00Z' AND updated_at:<'1970-01-01T00:00:01Z' AND status:any"
    )
  })

  it("starts an incremental window one overlap before the checkpoint", () => {
    expect(incrementalWindow({ since: 1_000_000, floor: 0, now: 2_000_000, overlap: 300_000 })).toEqual({
      start: 700_000,
      end: 2_000_000
    })
    expect(incrementalWindow({ since: null, floor: 5, now: 10_000 })).toEqual({ start: 5, end: 10_000 })
    expect(splitWindow({ start: 0, end: 5000 }, 2000)).toEqual([
      { start: 0, end: 2000 },
      { start: 2000, end: 4000 },
      { start: 4000, end: 5000 }
    ])
  })
})
