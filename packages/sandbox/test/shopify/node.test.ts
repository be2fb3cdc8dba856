import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Json, type Started, start } from "./harness.js"

const NODE_FIELDS = `
  __typename id
  ... on Refund { createdAt totalRefundedSet { shopMoney { amount } } order { id } refundLineItems(first: 3) { nodes { quantity lineItem { id } } } }
  ... on LineItem { sku quantity }
  ... on OrderTransaction { kind amountSet { shopMoney { amount } } }
  ... on Order { name }
  ... on Customer { firstName }
  ... on Product { title }
  ... on ProductVariant { sku }
  ... on Location { name }
  ... on InventoryItem { sku }
  ... on InventoryLevel { quantities(names: ["available"]) { quantity } }
  ... on InventoryQuantity { name quantity }
  ... on InventoryTransfer { name }
  ... on InventoryTransferLineItem { totalQuantity }
  ... on InventoryShipment { status }
  ... on InventoryShipmentLineItem { quantity }
  ... on Shop { name }
`

describe("Shopify emulator: node(id:) and nodes(ids:)", () => {
  let s: Started
  beforeAll(async () => {
    s = await start({ orders: 400 })
  })
  afterAll(() => s.handle.close())

  const ordersWithRefunds = async (): Promise<ReadonlyArray<Json>> => {
    const r = await s.gql(
      `{ orders(first: 8, query: "financial_status:partially_refunded") { nodes { id name
          refunds(first: 4) { id createdAt totalRefundedSet { shopMoney { amount } } refundLineItems(first: 3) { nodes { quantity lineItem { id } } } }
          lineItems(first: 3) { nodes { id sku quantity } }
          transactions(first: 5) { id kind amountSet { shopMoney { amount } } } } } }`
    )
    expect(r.body.errors).toBeUndefined()
    return r.body.data.orders.nodes
  }

  it("resolves every Refund, LineItem and OrderTransaction of an order exactly as the order shows it", async () => {
    const orders = await ordersWithRefunds()
    expect(orders.length).toBeGreaterThan(3)
    const expected = new Map<string, Json>()
    for (const o of orders.slice(0, 20)) {
      for (const r of o.refunds) expected.set(r.id, { __typename: "Refund", ...r, order: { id: o.id } })
      for (const l of o.lineItems.nodes) expected.set(l.id, { __typename: "LineItem", ...l })
      for (const t of o.transactions) expected.set(t.id, { __typename: "OrderTransaction", ...t })
    }
    const ids = [...expected.keys()]
    expect(ids.filter((id) => id.includes("/Refund/")).length).toBeGreaterThan(3)
    for (let k = 0; k < ids.length; k += 100) {
      const chunk = ids.slice(k, k + 100)
      const r = await s.gql(`query($ids: [ID!]!) { nodes(ids: $ids) { ${NODE_FIELDS} } }`, { ids: chunk })
      expect(r.body.errors).toBeUndefined()
      const nodes: ReadonlyArray<Json> = r.body.data.nodes
      expect(nodes).toEqual(chunk.map((id) => expected.get(id)))
    }
    const one = ids.find((id) => id.includes("/Refund/")) ?? ""
    const single = await s.gql(`query($id: ID!) { node(id: $id) { ${NODE_FIELDS} } }`, { id: one })
    expect(single.body.data.node).toEqual(expected.get(one))
  })

  it("answers null for ids that are not on a visible online order, and ACCESS_DENIED without read_orders", async () => {
    const orders = await ordersWithRefunds()
    const refundId: string = orders[0].refunds[0].id
    const n = Number(refundId.split("/").pop())
    const bogus = [
      `gid://shopify/Refund/${n + 3}`,
      "gid://shopify/LineItem/1",
      "gid://shopify/OrderTransaction/999999999999999",
      "gid://shopify/Refund/0"
    ]
    const r = await s.gql(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { ids: bogus })
    expect(r.body.errors).toBeUndefined()
    expect(r.body.data.nodes).toEqual([null, null, null, null])

    const scopes = s.handle.credentials.scopes
    s.handle.setScopes(scopes.filter((x) => x !== "read_orders"))
    try {
      const denied = await s.gql(`query($id: ID!) { node(id: $id) { id } }`, { id: refundId })
      expect(denied.body.errors?.[0].extensions.code).toBe("ACCESS_DENIED")
    } finally {
      s.handle.setScopes(scopes)
    }
  })

  it("resolves catalogue, location, inventory, transfer and shop nodes by the ids their connections give", async () => {
    const r = await s.gql(`{
      shop { id name }
      customers(first: 2) { nodes { id firstName } }
      products(first: 2) { nodes { id title } }
      productVariants(first: 2) { nodes { id sku } }
      locations(first: 3) { nodes { id name } }
      inventoryItems(first: 2) { nodes { id sku inventoryLevels(first: 1) { nodes { id quantities(names: ["available", "on_hand"]) { id name quantity } } } } }
      inventoryTransfers(first: 2) { nodes { id name lineItems(first: 2) { nodes { id totalQuantity } } shipments(first: 1) { nodes { id status lineItems(first: 2) { nodes { id quantity } } } } } }
    }`)
    expect(r.body.errors).toBeUndefined()
    const d = r.body.data
    const expected = new Map<string, Json>()
    const put = (typename: string, node: Json) => expected.set(node.id, { __typename: typename, ...node })
    put("Shop", d.shop)
    for (const c of d.customers.nodes) put("Customer", c)
    for (const p of d.products.nodes) put("Product", p)
    for (const v of d.productVariants.nodes) put("ProductVariant", v)
    for (const l of d.locations.nodes) put("Location", l)
    for (const i of d.inventoryItems.nodes) {
      put("InventoryItem", { id: i.id, sku: i.sku })
      for (const lv of i.inventoryLevels.nodes) {
        const available = lv.quantities.find((q: Json) => q.name === "available")
        put("InventoryLevel", { id: lv.id, quantities: [{ quantity: available.quantity }] })
        for (const q of lv.quantities) put("InventoryQuantity", q)
      }
    }
    for (const t of d.inventoryTransfers.nodes) {
      put("InventoryTransfer", { id: t.id, name: t.name })
      for (const li of t.lineItems.nodes) put("InventoryTransferLineItem", li)
      for (const sh of t.shipments.nodes) {
        put("InventoryShipment", { id: sh.id, status: sh.status })
        for (const li of sh.lineItems.nodes) put("InventoryShipmentLineItem", li)
      }
    }
    const types = new Set([...expected.values()].map((v) => v.__typename))
    expect(types).toEqual(
      new Set([
        "Shop",
        "Customer",
        "Product",
        "ProductVariant",
        "Location",
        "InventoryItem",
        "InventoryLevel",
        "InventoryQuantity",
        "InventoryTransfer",
        "InventoryTransferLineItem",
        "InventoryShipment",
        "InventoryShipmentLineItem"
      ])
    )
    const ids = [...expected.keys()]
    const n = await s.gql(`query($ids: [ID!]!) { nodes(ids: $ids) { ${NODE_FIELDS} } }`, { ids })
    expect(n.body.errors).toBeUndefined()
    expect(n.body.data.nodes).toEqual(ids.map((id) => expected.get(id)))
  })

  it("resolves purchase-order line items on 2026-10", async () => {
    const r = await s.gql(
      "{ inventoryPurchaseOrders(first: 2) { nodes { lineItems(first: 2) { nodes { id supplierSku totalQuantity } } } } }",
      undefined,
      "2026-10"
    )
    const lines: ReadonlyArray<Json> = r.body.data.inventoryPurchaseOrders.nodes.flatMap(
      (p: Json) => p.lineItems.nodes
    )
    expect(lines.length).toBeGreaterThan(0)
    const n = await s.gql(
      `query($ids: [ID!]!) { nodes(ids: $ids) { __typename id ... on InventoryPurchaseOrderLineItem { supplierSku totalQuantity } } }`,
      { ids: lines.map((l) => l.id) },
      "2026-10"
    )
    expect(n.body.errors).toBeUndefined()
    expect(n.body.data.nodes).toEqual(
      lines.map((l) => ({ __typename: "InventoryPurchaseOrderLineItem", ...l }))
    )
  })
})
