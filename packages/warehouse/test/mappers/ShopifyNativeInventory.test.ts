/**
 * Shopify's native inventory transfers and purchase orders (the successors of Stocky's) map into
 * the same movements and purchase-order tables as Stocky's records.
 */
import { InventoryPurchaseOrder, InventoryTransfer } from "@kura/shopify-client"
import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import type { MapContext } from "../../src/Mapper.js"
import { makeShopifyPurchaseOrderMapper, makeShopifyTransferMapper } from "../../src/mappers/index.js"

const ctx: MapContext = {
  source: "shopify",
  sourceAccount: "kura-test.myshopify.com",
  syncedAt: "2026-10-05T00:00:00.000Z",
  batchId: "b",
  timeZoneOf: () => "Asia/Tokyo"
}

const transfer = (receivedQuantity: number, dateReceived: string | null) =>
  Schema.decodeUnknownSync(InventoryTransfer)({
    id: "gid://shopify/InventoryTransfer/31",
    name: "#T0031",
    referenceName: null,
    status: receivedQuantity === 6 ? "TRANSFERRED" : "IN_PROGRESS",
    note: "weekly restock",
    tags: [],
    dateCreated: "2026-10-01T00:00:00Z",
    totalQuantity: 6,
    receivedQuantity,
    origin: {
      name: "Warehouse",
      snapshottedAt: "2026-10-01T00:00:00Z",
      location: { id: "gid://shopify/Location/1" }
    },
    destination: {
      name: "Shop",
      snapshottedAt: "2026-10-01T00:00:00Z",
      location: { id: "gid://shopify/Location/2" }
    },
    lineItems: [
      {
        id: "gid://shopify/InventoryTransferLineItem/311",
        title: "Matcha",
        totalQuantity: 4,
        shippedQuantity: 4,
        shippableQuantity: 0,
        processableQuantity: 0,
        pickedForShipmentQuantity: 0,
        inventoryItem: { id: "gid://shopify/InventoryItem/900", sku: "MAT-30" }
      },
      {
        id: "gid://shopify/InventoryTransferLineItem/312",
        title: "Sake",
        totalQuantity: 2,
        shippedQuantity: 2,
        shippableQuantity: 0,
        processableQuantity: 0,
        pickedForShipmentQuantity: 0,
        inventoryItem: { id: "gid://shopify/InventoryItem/901", sku: "SAKE-1" }
      }
    ],
    shipments: [
      {
        id: "gid://shopify/InventoryShipment/41",
        name: "#S1",
        status: dateReceived === null ? "IN_TRANSIT" : "RECEIVED",
        dateCreated: "2026-10-01T01:00:00Z",
        dateShipped: "2026-10-01T02:00:00Z",
        dateReceived,
        lineItemTotalQuantity: 6,
        totalAcceptedQuantity: receivedQuantity,
        totalReceivedQuantity: receivedQuantity,
        totalRejectedQuantity: 0
      }
    ]
  })

describe("Shopify native transfers", () => {
  it("books transfer_out when shipped and transfer_in once fully received", () => {
    const map = makeShopifyTransferMapper()
    const inTransit = map(transfer(0, null), ctx).inventory_movements ?? []
    expect(inTransit.map((m) => [m.kind, m.location_id, m.sku, m.quantity, m.occurred_at])).toEqual([
      ["transfer_out", "1", "MAT-30", -4, "2026-10-01T02:00:00.000Z"],
      ["transfer_out", "1", "SAKE-1", -2, "2026-10-01T02:00:00.000Z"]
    ])
    const done = map(transfer(6, "2026-10-01T08:00:00Z"), ctx).inventory_movements ?? []
    expect(
      done.filter((m) => m.kind === "transfer_in").map((m) => [m.location_id, m.quantity, m.occurred_at])
    ).toEqual([
      ["2", 4, "2026-10-01T08:00:00.000Z"],
      ["2", 2, "2026-10-01T08:00:00.000Z"]
    ])
    // Same keys whether seen in transit or received: a later sync upserts, never duplicates.
    expect(done.filter((m) => m.kind === "transfer_out").map((m) => m.source_id)).toEqual(
      inTransit.map((m) => m.source_id)
    )
  })
})

describe("Shopify native purchase orders", () => {
  it("maps the order, its lines with exact costs, and receipts at the destination", () => {
    const po = Schema.decodeUnknownSync(InventoryPurchaseOrder)({
      id: "gid://shopify/InventoryPurchaseOrder/51",
      name: "PO-00051",
      status: "RECEIVED",
      currency: "JPY",
      dateCreated: "2026-10-01T00:00:00Z",
      orderedAt: "2026-10-01T01:00:00Z",
      archivedAt: null,
      updatedAt: "2026-10-04T00:00:00Z",
      origin: {
        name: "Uji Tea Co.",
        snapshottedAt: "2026-10-01T00:00:00Z",
        supplier: { id: "gid://shopify/Supplier/3", name: "Uji Tea Co." }
      },
      destination: {
        name: "Warehouse",
        snapshottedAt: "2026-10-01T00:00:00Z",
        location: { id: "gid://shopify/Location/1" }
      },
      lineItems: [
        {
          id: "gid://shopify/InventoryPurchaseOrderLineItem/511",
          title: "Matcha",
          variantTitle: "30g",
          supplierSku: "UJ-30",
          totalQuantity: 10,
          receivedQuantity: 10,
          taxPercent: null,
          inventoryItem: { id: "gid://shopify/InventoryItem/900", sku: "MAT-30" },
          unitCost: { amount: "400.125", currencyCode: "JPY" },
          subtotal: { amount: "4001.25", currencyCode: "JPY" },
          totalCost: { amount: "4001.25", currencyCode: "JPY" }
        }
      ]
    })
    const rows = makeShopifyPurchaseOrderMapper()(po, ctx)
    expect(rows.purchase_orders?.[0]).toMatchObject({
      source_id: "51",
      supplier_id: "3",
      number: "PO-00051",
      status: "received",
      location_id: "1",
      total: "4001.25",
      received_at: "2026-10-04T00:00:00.000Z"
    })
    expect(rows.purchase_order_lines?.[0]).toMatchObject({
      sku: "MAT-30",
      quantity_ordered: 10,
      quantity_received: 10,
      unit_cost: "400.125"
    })
    expect(rows.inventory_movements?.map((m) => [m.kind, m.location_id, m.sku, m.quantity])).toEqual([
      ["receipt", "1", "MAT-30", 10]
    ])
  })
})
