/**
 * Hand-written SDL for what the 2026-10 Admin API has and the 2026-01 reference schema lacks
 * (native purchase orders, reconstructed from stocky-api.md §8.4). Kept as a TS string so the
 * built package needs no extra asset. Applied only for versions >= 2026-10.
 */
export const SCHEMA_2026_10_EXTENSION = `

extend enum OrderDisplayFulfillmentStatus {
  FULFILLMENT_NOT_REQUIRED
}

enum InventoryPurchaseOrderStatus {
  DRAFT
  ORDERED
}

type InventorySupplier implements Node {
  id: ID!
  name: String!
}

type InventorySupplierSnapshot {
  name: String!
  supplier: InventorySupplier
  snapshottedAt: DateTime!
}

type InventoryPurchaseOrder implements Node {
  id: ID!
  name: String!
  status: InventoryPurchaseOrderStatus!
  currency: CurrencyCode!
  dateCreated: DateTime!
  orderedAt: DateTime
  archivedAt: DateTime
  updatedAt: DateTime!
  origin: InventorySupplierSnapshot
  destination: LocationSnapshot
  lineItems(first: Int, after: String, last: Int, before: String, reverse: Boolean = false): InventoryPurchaseOrderLineItemConnection!
  transfers(first: Int, after: String, last: Int, before: String, reverse: Boolean = false): InventoryTransferConnection!
}

type InventoryPurchaseOrderLineItem implements Node {
  id: ID!
  inventoryItem: InventoryItem
  purchaseOrder: InventoryPurchaseOrder!
  title: String
  variantTitle: String
  supplierSku: String
  totalQuantity: Int!
  receivedQuantity: Int!
  unitCost: MoneyV2
  subtotal: MoneyV2
  totalCost: MoneyV2
  taxPercent: Float
}

type InventoryPurchaseOrderLineItemEdge {
  cursor: String!
  node: InventoryPurchaseOrderLineItem!
}

type InventoryPurchaseOrderLineItemConnection {
  edges: [InventoryPurchaseOrderLineItemEdge!]!
  nodes: [InventoryPurchaseOrderLineItem!]!
  pageInfo: PageInfo!
}

type InventoryPurchaseOrderEdge {
  cursor: String!
  node: InventoryPurchaseOrder!
}

type InventoryPurchaseOrderConnection {
  edges: [InventoryPurchaseOrderEdge!]!
  nodes: [InventoryPurchaseOrder!]!
  pageInfo: PageInfo!
}

extend type QueryRoot {
  inventoryPurchaseOrder(id: ID!): InventoryPurchaseOrder
  inventoryPurchaseOrders(first: Int, after: String, last: Int, before: String, reverse: Boolean = false, query: String): InventoryPurchaseOrderConnection!
}
`
