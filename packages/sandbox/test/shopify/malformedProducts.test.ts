import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Sandbox, startSandbox } from "../../src/startSandbox.js"
import { sandboxGraphql } from "../sandboxGraphql.js"

const BAD = "0000-00-00T00:00:00Z"

interface ProductNode {
  readonly id: string
  readonly createdAt: string
  readonly variants: { readonly nodes: Array<{ readonly id: string; readonly createdAt: string }> }
}

describe("malformed Shopify products (malformedProducts)", () => {
  let sb: Sandbox
  const gql = async (query: string, variables: Record<string, unknown> = {}): Promise<unknown> =>
    (await sandboxGraphql(sb, query, variables)).json()
  beforeAll(async () => {
    sb = await startSandbox({ seed: 3, scale: 200, historyDays: 10, malformedProducts: 2 })
  })
  afterAll(() => sb.close())

  it("renders exactly the requested products with an impossible createdAt, counted in the ground truth", async () => {
    const body = (await gql(
      "{ products(first: 100) { nodes { id createdAt variants(first: 5) { nodes { id createdAt } } } } }"
    )) as { data: { products: { nodes: Array<ProductNode> } } }
    const nodes = body.data.products.nodes
    const truth = sb.groundTruth().counts
    expect(nodes).toHaveLength(truth.products)
    const bad = nodes.filter((p) => p.createdAt === BAD)
    expect(bad).toHaveLength(2)
    expect(truth.malformedProducts).toBe(2)
    // Spread over the products, not the first two.
    expect(nodes.indexOf(bad[0]!)).toBeGreaterThan(0)
    expect(nodes.indexOf(bad[1]!)).toBeGreaterThan(nodes.indexOf(bad[0]!) + 1)
    expect(nodes.filter((p) => !bad.includes(p)).every((p) => !Number.isNaN(Date.parse(p.createdAt)))).toBe(
      true
    )
    // Only the product itself is malformed: its variants keep a valid createdAt.
    const variants = bad.flatMap((p) => p.variants.nodes)
    expect(variants.length).toBeGreaterThan(0)
    expect(variants.every((v) => !Number.isNaN(Date.parse(v.createdAt)))).toBe(true)
    // Opt-in and separate: malformedPerSource's records and the malformed customers are unchanged.
    expect(truth.malformed).toEqual({ shopify: 0, lightspeed: 0, stocky: 0 })
    expect(truth.malformedCustomers).toBe(0)
  })

  it("renders the same products malformed in a bulk operation's output", async () => {
    const started = (await gql(
      "mutation($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id } userErrors { message } } }",
      { q: "{ products { edges { node { id createdAt } } } }" }
    )) as {
      data: { bulkOperationRunQuery: { bulkOperation: { id: string }; userErrors: Array<unknown> } }
    }
    expect(started.data.bulkOperationRunQuery.userErrors).toEqual([])
    const id = started.data.bulkOperationRunQuery.bulkOperation.id
    let url: string | null = null
    for (let i = 0; i < 200 && url === null; i++) {
      const polled = (await gql(`{ bulkOperation(id: "${id}") { status url } }`)) as {
        data: { bulkOperation: { status: string; url: string | null } }
      }
      if (polled.data.bulkOperation.status === "COMPLETED") url = polled.data.bulkOperation.url
      else await new Promise((r) => setTimeout(r, 100))
    }
    expect(url).not.toBeNull()
    const text = await (await fetch(url ?? "")).text()
    const lines = text
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as { id: string; createdAt: string })
    expect(lines).toHaveLength(sb.groundTruth().counts.products)
    expect(lines.filter((l) => l.createdAt === BAD)).toHaveLength(2)
  })

  it("renders the same products malformed over REST", async () => {
    const res = await fetch(
      `${sb.shopify.baseUrl}/admin/api/${sb.shopify.credentials.apiVersion}/products.json?limit=250`,
      { headers: { "x-shopify-access-token": sb.shopify.credentials.accessToken } }
    )
    const body = (await res.json()) as { products: Array<{ created_at: string }> }
    expect(body.products).toHaveLength(sb.groundTruth().counts.products)
    expect(body.products.filter((p) => p.created_at === "0000-00-00T00:00:00+00:00")).toHaveLength(2)
  })
})
