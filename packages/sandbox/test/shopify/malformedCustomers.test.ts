import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Sandbox, startSandbox } from "../../src/startSandbox.js"
import { sandboxGraphql } from "../sandboxGraphql.js"

describe("malformed Shopify customers (malformedCustomers)", () => {
  let sb: Sandbox
  beforeAll(async () => {
    sb = await startSandbox({ seed: 3, scale: 200, historyDays: 10, malformedCustomers: 2 })
  })
  afterAll(() => sb.close())

  it("renders exactly the requested customers with an impossible createdAt, counted in the ground truth", async () => {
    const res = await sandboxGraphql(sb, "{ customers(first: 250) { nodes { id createdAt } } }")
    const body = (await res.json()) as {
      data: { customers: { nodes: Array<{ id: string; createdAt: string }> } }
    }
    const nodes = body.data.customers.nodes
    const truth = sb.groundTruth().counts
    expect(nodes).toHaveLength(truth.customers)
    const bad = nodes.filter((c) => c.createdAt === "0000-00-00T00:00:00Z")
    expect(bad).toHaveLength(2)
    expect(truth.malformedCustomers).toBe(2)
    expect(
      nodes.filter((c) => c !== bad[0] && c !== bad[1]).every((c) => !Number.isNaN(Date.parse(c.createdAt)))
    ).toBe(true)
    // Opt-in and separate: malformedPerSource's records are unchanged.
    expect(truth.malformed).toEqual({ shopify: 0, lightspeed: 0, stocky: 0 })
  })
})
