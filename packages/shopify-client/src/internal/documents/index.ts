/** Every GraphQL document the client sends, in one place so tests can validate them all. */
import { BULK_CANCEL, BULK_CURRENT, BULK_OPERATION, BULK_RECENT, BULK_RUN_QUERY, SHOP_PING } from "./Bulk.js"
import { CustomersDocuments, LocationsDocuments, ProductsDocuments } from "./Catalog.js"
import { EventsDocuments } from "./Events.js"
import {
  INVENTORY_SHIPMENT_LINES,
  InventoryItemsDocuments,
  InventoryPurchaseOrdersDocuments,
  InventoryTransfersDocuments
} from "./Inventory.js"
import { OrdersDocuments } from "./Orders.js"
import { SHOPIFYQL_QUERY } from "./Reports.js"
import type { ResourceDocuments } from "./Selection.js"

export * from "./Bulk.js"
export * from "./Catalog.js"
export * from "./Events.js"
export * from "./Inventory.js"
export * from "./Orders.js"
export * from "./Reports.js"
export type { ResourceDocuments } from "./Selection.js"

/** Every resource's documents. */
export const RESOURCE_DOCUMENTS: ReadonlyArray<ResourceDocuments> = [
  OrdersDocuments,
  CustomersDocuments,
  ProductsDocuments,
  LocationsDocuments,
  InventoryItemsDocuments,
  InventoryTransfersDocuments,
  InventoryPurchaseOrdersDocuments,
  EventsDocuments
]

/** Standalone operations (not per resource). */
export const OPERATION_DOCUMENTS: Readonly<Record<string, string>> = {
  BULK_RUN_QUERY,
  BULK_OPERATION,
  BULK_CANCEL,
  BULK_RECENT,
  BULK_CURRENT,
  SHOP_PING,
  INVENTORY_SHIPMENT_LINES,
  SHOPIFYQL_QUERY
}
