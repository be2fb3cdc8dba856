import { afterEach, describe, expect, it } from "vitest"
import { DEFAULT_SCOPES } from "../../src/internal/shopify/ShopifyEmulatorOptions.js"
import { type Started, start } from "./harness.js"

const SCOPES_QUERY = "query { currentAppInstallation { accessScopes { handle } } }"

describe("Shopify emulator: currentAppInstallation.accessScopes", () => {
  let s: Started | undefined
  afterEach(async () => {
    await s?.handle.close()
    s = undefined
  })

  it("lists every default scope when none is configured", async () => {
    s = await start({ orders: 5, historyDays: 10 })
    const res = await s.gql(SCOPES_QUERY)
    expect(res.status).toBe(200)
    const handles = res.body.data.currentAppInstallation.accessScopes.map((a: { handle: string }) => a.handle)
    expect(handles).toEqual([...DEFAULT_SCOPES])
    expect(res.body.extensions.cost.throttleStatus.maximumAvailable).toBe(2000)
  })

  it("lists only what was granted, and the missing scope is refused elsewhere", async () => {
    s = await start({ orders: 5, historyDays: 10, options: { scopes: ["read_products", "read_locations"] } })
    const res = await s.gql("query { currentAppInstallation { accessScopes { handle description } } }")
    expect(
      res.body.data.currentAppInstallation.accessScopes.map((a: { handle: string }) => a.handle)
    ).toEqual(["read_products", "read_locations"])
    expect(res.body.data.currentAppInstallation.accessScopes[0].description).toContain("products")
    const orders = await s.gql("query { orders(first: 1) { nodes { id } } }")
    expect(JSON.stringify(orders.body.errors)).toContain("read_orders")
  })
})
