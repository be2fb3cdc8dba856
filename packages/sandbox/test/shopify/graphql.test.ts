import { parse, validate } from "graphql"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { buildShopifySchema } from "../../src/internal/shopify/schema.js"
import { type Json, type Started, start } from "./harness.js"

describe("Shopify emulator: GraphQL basics", () => {
  let s: Started
  beforeAll(async () => {
    s = await start()
  })
  afterAll(() => s.handle.close())

  it("rejects a document invalid against the Admin schema with Shopify-shaped errors", async () => {
    const r = await s.gql("{ shop { name doesNotExist } }")
    expect(r.status).toBe(200)
    expect(r.body.data).toBeUndefined()
    expect(r.body.errors?.[0]).toMatchObject({
      message: "Field 'doesNotExist' doesn't exist on type 'Shop'",
      extensions: { code: "undefinedField", typeName: "Shop", fieldName: "doesNotExist" }
    })
    expect(r.body.errors?.[0].locations[0]).toEqual({ line: 1, column: 15 })
    expect(r.body.extensions.cost.throttleStatus.maximumAvailable).toBe(2000)
    const parseError = await s.gql("{ shop { name }")
    expect(parseError.body.errors?.[0].message).toMatch(/^Parse error/)
    expect(parseError.body.errors?.[0].extensions.code).toBe("parseError")
  })

  it("serves shop facts", async () => {
    const r = await s.gql("{ shop { name currencyCode ianaTimezone myshopifyDomain } }")
    expect(r.body.data.shop).toEqual({
      name: "Kura Sandbox",
      currencyCode: "JPY",
      ianaTimezone: "Asia/Tokyo",
      myshopifyDomain: s.handle.credentials.shopDomain
    })
  })

  it("echoes the serving version and falls forward from retired or unknown versions", async () => {
    for (const v of ["2026-01", "2026-04", "2026-07", "2026-10", "2027-01", "unstable"]) {
      const r = await s.gql("{ shop { name } }", undefined, v)
      expect(r.headers.get("x-shopify-api-version")).toBe(v)
    }
    for (const v of ["2024-10", "2025-07", "1999-01", "banana"]) {
      const r = await s.gql("{ shop { name } }", undefined, v)
      expect(r.status).toBe(200)
      expect(r.headers.get("x-shopify-api-version")).toBe("2026-01")
      expect(r.body.data.shop.name).toBe("Kura Sandbox")
    }
  })

  it("knows InventoryPurchaseOrder only from 2026-10", async () => {
    const q =
      "{ inventoryPurchaseOrders(first: 5) { nodes { id name status lineItems(first: 5) { nodes { totalQuantity unitCost { amount currencyCode } } } } } }"
    const old = await s.gql(q, undefined, "2026-07")
    expect(old.body.errors?.[0].message).toBe(
      "Field 'inventoryPurchaseOrders' doesn't exist on type 'QueryRoot'"
    )
    const r = await s.gql(q, undefined, "2026-10")
    expect(r.body.errors).toBeUndefined()
    const native = s.merchant.purchaseOrders.filter((p) => p.system === "shopify")
    expect(native.length).toBeGreaterThan(0)
    const nodes: ReadonlyArray<Json> = r.body.data.inventoryPurchaseOrders.nodes
    expect(nodes).toHaveLength(Math.min(5, native.length))
    const po = native[0]!
    expect(nodes[0]).toMatchObject({
      id: `gid://shopify/InventoryPurchaseOrder/${po.id}`,
      name: po.number,
      status: "ORDERED"
    })
    expect(nodes[0].lineItems.nodes[0]).toEqual({
      totalQuantity: po.lines[0]!.quantity,
      unitCost: { amount: `${po.lines[0]!.unitCost}.0`, currencyCode: "JPY" }
    })
  })

  it("requires first or last and caps them at 250", async () => {
    const missing = await s.gql("{ orders { nodes { id } } }")
    expect(missing.body.errors?.[0].message).toBe("you must provide one of first or last")
    const lastOnly = await s.gql("{ orders(last: 5) { nodes { id } } }")
    expect(lastOnly.body.errors?.[0].message).toBe("using last without before is not supported")
    const big = await s.gql("{ customers(first: 251) { nodes { id } } }")
    expect(big.body.errors?.[0].message).toMatch(/250/)
  })

  it("resolves node and nodes by gid", async () => {
    const loc = s.merchant.locations[1]!
    const variant = s.merchant.variants[0]!
    const customer = s.merchant.customerAt(2)
    const r = await s.gql(
      `{ node(id: "gid://shopify/Location/${loc.id}") { __typename ... on Location { name } } nodes(ids: ["gid://shopify/ProductVariant/${variant.id}", "gid://shopify/Customer/${customer.id}", "gid://shopify/Order/1"]) { __typename ... on ProductVariant { sku } ... on Customer { firstName } } }`
    )
    expect(r.body.errors).toBeUndefined()
    expect(r.body.data.node).toEqual({ __typename: "Location", name: loc.name })
    expect(r.body.data.nodes).toEqual([
      { __typename: "ProductVariant", sku: variant.sku },
      { __typename: "Customer", firstName: customer.firstName },
      null
    ])
  })

  it("exposes the version-aware schema builder for validating client documents", () => {
    const doc = parse(
      "{ inventoryPurchaseOrders(first: 10) { nodes { id name lineItems(first: 5) { nodes { supplierSku } } } } }"
    )
    expect(validate(buildShopifySchema("2026-10"), doc)).toEqual([])
    expect(validate(buildShopifySchema("2026-07"), doc).length).toBeGreaterThan(0)
    expect(buildShopifySchema("unstable")).toBe(buildShopifySchema("2027-01"))
  })
})
