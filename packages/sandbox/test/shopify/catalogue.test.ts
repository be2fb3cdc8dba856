import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Json, type Started, start } from "./harness.js"

describe("Shopify emulator: catalogue, customers, inventory and native transfers", () => {
  let s: Started
  beforeAll(async () => {
    s = await start({ orders: 100, timeScale: 100 })
  })
  afterAll(() => s.handle.close())

  it("serves products with their variants and inventory items", async () => {
    const r = await s.gql(
      "{ products(first: 30) { nodes { id title productType vendor variants(first: 4) { nodes { id sku price inventoryItem { id sku unitCost { amount } } } } } } productsCount { count precision } }"
    )
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined()
    const products: ReadonlyArray<Json> = r.body.data.products.nodes
    expect(products.map((p) => p.id)).toEqual(s.merchant.products.map((p) => `gid://shopify/Product/${p.id}`))
    expect(r.body.data.productsCount).toEqual({ count: s.merchant.products.length, precision: "EXACT" })
    for (const [k, p] of s.merchant.products.entries()) {
      const got = products[k]
      expect(got.productType).toBe(p.productType)
      const variants = p.variantIds.map((id) => s.merchant.variants.find((v) => v.id === id)!)
      expect(got.variants.nodes.map((v: Json) => [v.sku, v.price, v.inventoryItem.id])).toEqual(
        variants.map((v) => [v.sku, `${v.price}.0`, `gid://shopify/InventoryItem/${v.inventoryItemId}`])
      )
    }
  })

  it("pages customers and filters by updated_at", async () => {
    const first = await s.gql(
      "{ customers(first: 3) { nodes { id firstName lastName email defaultEmailAddress { emailAddress } } } }"
    )
    expect(first.body.errors).toBeUndefined()
    expect(first.body.data.customers.nodes.map((c: Json) => c.id)).toEqual(
      [0, 1, 2].map((i) => `gid://shopify/Customer/${s.merchant.customerAt(i).id}`)
    )
    const c0 = s.merchant.customerAt(0)
    expect(first.body.data.customers.nodes[0].defaultEmailAddress.emailAddress).toBe(c0.email)
    const at = new Date(c0.updatedAt).toISOString()
    const count = await s.gql(`{ customersCount(query: "updated_at:<='${at}'") { count } }`)
    let expected = 0
    for (let i = 0; i < s.merchant.customerCount; i++) {
      if (Math.floor(s.merchant.customerAt(i).updatedAt / 1000) <= Math.floor(c0.updatedAt / 1000)) expected++
    }
    expect(count.body.data.customersCount.count).toBe(expected)
  })

  it("reports named inventory quantities for stocked item/location pairs only", async () => {
    const r = await s.gql(
      '{ inventoryItems(first: 40) { nodes { id sku inventoryLevels(first: 3) { nodes { id location { id } quantities(names: ["available", "on_hand", "committed", "incoming", "damaged"]) { name quantity } } } } } }'
    )
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined()
    const items: ReadonlyArray<Json> = r.body.data.inventoryItems.nodes
    expect(items).toHaveLength(Math.min(40, s.merchant.variants.length))
    for (const item of items) {
      const v = s.merchant.variants.find(
        (x) => `gid://shopify/InventoryItem/${x.inventoryItemId}` === item.id
      )!
      const stocked = s.merchant.locations.filter((l) => s.merchant.stocked(v.id, l.id))
      expect(item.inventoryLevels.nodes.map((n: Json) => n.location.id)).toEqual(
        stocked.map((l) => `gid://shopify/Location/${l.id}`)
      )
      for (const level of item.inventoryLevels.nodes) {
        const locId = Number(level.location.id.split("/").pop())
        const q = s.merchant.inventory(v.id, locId)
        expect(level.id).toBe(`gid://shopify/InventoryLevel/${locId}?inventory_item_id=${v.inventoryItemId}`)
        expect(level.quantities).toEqual([
          { name: "available", quantity: q.available },
          { name: "on_hand", quantity: q.onHand },
          { name: "committed", quantity: q.committed },
          { name: "incoming", quantity: q.incoming },
          { name: "damaged", quantity: q.damaged }
        ])
      }
    }
    const bad = await s.gql(
      '{ inventoryItems(first: 1) { nodes { inventoryLevels(first: 1) { nodes { quantities(names: ["bogus"]) { quantity } } } } } }'
    )
    expect(bad.body.errors?.[0].message).toMatch(/Invalid quantity name: 'bogus'/)
  })

  it("lists locations by name by default", async () => {
    const r = await s.gql(
      "{ locations(first: 10) { nodes { name fulfillsOnlineOrders } } locationsCount { count } }"
    )
    expect(r.body.data.locations.nodes.map((l: Json) => l.name)).toEqual(
      s.merchant.locations.map((l) => l.name).sort()
    )
    expect(r.body.data.locationsCount.count).toBe(s.merchant.locations.length)
  })

  it("serves native inventory transfers and their shipments", async () => {
    const native = s.merchant.stockTransfers.filter((t) => t.system === "shopify")
    expect(native.length).toBeGreaterThan(0)
    const r = await s.gql(
      "{ inventoryTransfers(first: 20) { nodes { id status totalQuantity receivedQuantity origin { name } destination { name location { id } } lineItems(first: 5) { nodes { totalQuantity inventoryItem { id } } } shipments(first: 1) { nodes { id status dateShipped } } } } }"
    )
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined()
    const nodes: ReadonlyArray<Json> = r.body.data.inventoryTransfers.nodes
    expect(nodes.map((n) => n.id)).toEqual(
      native.slice(0, 20).map((t) => `gid://shopify/InventoryTransfer/${t.id}`)
    )
    for (const [k, t] of native.slice(0, 20).entries()) {
      const n = nodes[k]
      expect(n.totalQuantity).toBe(t.items.reduce((a, i) => a + i.quantity, 0))
      expect(n.status).toBe(
        t.receivedAt !== null ? "TRANSFERRED" : t.sentAt !== null ? "IN_PROGRESS" : "READY_TO_SHIP"
      )
      expect(n.destination.location.id).toBe(`gid://shopify/Location/${t.toLocationId}`)
      expect(n.shipments.nodes).toHaveLength(t.sentAt === null ? 0 : 1)
    }
    const sent = native.find((t) => t.sentAt !== null)!
    const ship = await s.gql(
      `{ inventoryShipment(id: "gid://shopify/InventoryShipment/${sent.id}") { status lineItems(first: 100) { nodes { quantity } } } }`
    )
    expect(ship.body.data.inventoryShipment.lineItems.nodes.map((l: Json) => l.quantity)).toEqual(
      sent.items.map((i) => i.quantity)
    )
  })
})
