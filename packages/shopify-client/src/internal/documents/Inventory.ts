/** Inventory items with their levels and named quantities, transfers with shipments, purchase orders. */
import { connection, followUp, inlineConnection, type Mode, resource } from "./Selection.js"

/** The named quantities Kura reads for every inventory level. */
export const QUANTITY_NAMES = [
  "available",
  "incoming",
  "committed",
  "damaged",
  "on_hand",
  "quality_control",
  "reserved",
  "safety_stock"
] as const

const LEVEL = `id createdAt updatedAt location { id } quantities(names: ${JSON.stringify(QUANTITY_NAMES)}) { name quantity updatedAt }`

/** Inventory items with levels per location, paged and bulk. */
export const InventoryItemsDocuments = resource({
  name: "inventory_items",
  operation: "KuraInventoryItems",
  root: "inventoryItems",
  sortKey: null,
  selection: (mode: Mode) =>
    [
      "__typename id legacyResourceId sku tracked requiresShipping createdAt updatedAt",
      "unitCost { amount currencyCode }",
      "variant { id }",
      connection(mode, "inventoryLevels", 20, LEVEL)
    ].join(" "),
  bulkChildFields: ["inventoryLevels"],
  followUps: { inventoryLevels: followUp("InventoryItem", "inventoryLevels", LEVEL) }
})

const SNAPSHOT = "name snapshottedAt location { id }"

const TRANSFER_LINE =
  "id title totalQuantity shippedQuantity shippableQuantity processableQuantity pickedForShipmentQuantity inventoryItem { id sku }"

const SHIPMENT =
  "id name status dateCreated dateShipped dateReceived lineItemTotalQuantity totalAcceptedQuantity totalReceivedQuantity totalRejectedQuantity"

/** Inventory transfers (2025-07+) with line items and shipment summaries. */
export const InventoryTransfersDocuments = resource({
  name: "inventory_transfers",
  operation: "KuraInventoryTransfers",
  root: "inventoryTransfers",
  sortKey: null,
  selection: (mode: Mode) =>
    [
      "__typename id name referenceName status note tags dateCreated totalQuantity receivedQuantity",
      `origin { ${SNAPSHOT} } destination { ${SNAPSHOT} }`,
      connection(mode, "lineItems", 50, TRANSFER_LINE),
      connection(mode, "shipments", 10, SHIPMENT)
    ].join(" "),
  bulkChildFields: ["lineItems", "shipments"],
  followUps: {
    lineItems: followUp("InventoryTransfer", "lineItems", TRANSFER_LINE),
    shipments: followUp("InventoryTransfer", "shipments", SHIPMENT)
  },
  minVersion: "2025-07",
  cursorField: "updated_at"
})

/** Line items of one inventory shipment (read per shipment; bulk cannot nest this deep). */
export const INVENTORY_SHIPMENT_LINES = `query KuraInventoryShipmentLines($id: ID!, $first: Int!, $after: String) { inventoryShipment(id: $id) { id ${inlineConnection(
  "lineItems",
  50,
  "id quantity acceptedQuantity rejectedQuantity unreceivedQuantity inventoryItem { id sku }"
).replace("first: 50)", "first: $first, after: $after)")} } }`

const PO_LINE =
  "id title variantTitle supplierSku totalQuantity receivedQuantity taxPercent inventoryItem { id sku } unitCost { amount currencyCode } subtotal { amount currencyCode } totalCost { amount currencyCode }"

/** Inventory purchase orders (2026-10+), the successor of Stocky purchase orders. */
export const InventoryPurchaseOrdersDocuments = resource({
  name: "inventory_purchase_orders",
  operation: "KuraInventoryPurchaseOrders",
  root: "inventoryPurchaseOrders",
  sortKey: null,
  selection: (mode: Mode) =>
    [
      "__typename id name status currency dateCreated orderedAt archivedAt updatedAt",
      "origin { name snapshottedAt supplier { id name } } destination { name snapshottedAt location { id } }",
      connection(mode, "lineItems", 50, PO_LINE)
    ].join(" "),
  bulkChildFields: ["lineItems"],
  followUps: { lineItems: followUp("InventoryPurchaseOrder", "lineItems", PO_LINE) },
  minVersion: "2026-10"
})
