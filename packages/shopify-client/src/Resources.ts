/**
 * The resources this client extracts, each pairing its GraphQL documents with the schema of its
 * decoded records. The same spec drives the incremental (paged) stream and the bulk export, so
 * both yield identical types.
 *
 * @since 0.1.0
 */
import type { Schema } from "effect"
import { Customer } from "./Customer.js"
import { InventoryItem } from "./InventoryItem.js"
import { InventoryPurchaseOrder } from "./InventoryPurchaseOrder.js"
import { InventoryTransfer } from "./InventoryTransfer.js"
import {
  CustomersDocuments,
  EventsDocuments,
  InventoryItemsDocuments,
  InventoryPurchaseOrdersDocuments,
  InventoryTransfersDocuments,
  LocationsDocuments,
  OrdersDocuments,
  ProductsDocuments,
  type ResourceDocuments
} from "./internal/documents/index.js"
import { Location } from "./Location.js"
import { Order } from "./Order.js"
import { Product } from "./Product.js"
import { ShopifyEvent } from "./ShopifyEvent.js"

/**
 * One extractable resource.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResourceSpec<A> {
  readonly name: string
  readonly documents: ResourceDocuments
  readonly schema: Schema.ConstraintDecoder<A>
  /** Maps a bulk child line's `__typename` to the parent field it belongs under. */
  readonly childFieldByType: Readonly<Record<string, string>>
  /** The scope to name when access is denied without detail. */
  readonly scope: string
  /**
   * Inline lists whose items parent bulk child lines (a connection inside a list, e.g. an
   * order's refunds → refundLineItems), with the child fields each item must carry.
   */
  readonly inlineParents: Readonly<Record<string, ReadonlyArray<string>>>
}

const spec = <A>(
  documents: ResourceDocuments,
  schema: Schema.ConstraintDecoder<A>,
  scope: string,
  childFieldByType: Readonly<Record<string, string>> = {},
  inlineParents: Readonly<Record<string, ReadonlyArray<string>>> = {}
): ResourceSpec<A> => ({ name: documents.name, documents, schema, childFieldByType, scope, inlineParents })

/**
 * All resources.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Resources = {
  orders: spec(
    OrdersDocuments,
    Order,
    "read_orders",
    {
      LineItem: "lineItems",
      ShippingLine: "shippingLines",
      RefundLineItem: "refundLineItems",
      OrderTransaction: "transactions"
    },
    { refunds: ["refundLineItems", "transactions"] }
  ),
  customers: spec(CustomersDocuments, Customer, "read_customers"),
  products: spec(ProductsDocuments, Product, "read_products", {
    ProductVariant: "variants"
  }),
  locations: spec(LocationsDocuments, Location, "read_locations"),
  inventoryItems: spec(InventoryItemsDocuments, InventoryItem, "read_inventory", {
    InventoryLevel: "inventoryLevels"
  }),
  inventoryTransfers: spec(InventoryTransfersDocuments, InventoryTransfer, "read_inventory_transfers", {
    InventoryTransferLineItem: "lineItems",
    InventoryShipment: "shipments"
  }),
  inventoryPurchaseOrders: spec(
    InventoryPurchaseOrdersDocuments,
    InventoryPurchaseOrder,
    "read_purchase_orders",
    { InventoryPurchaseOrderLineItem: "lineItems" }
  ),
  events: spec(EventsDocuments, ShopifyEvent, "read_orders")
} as const
