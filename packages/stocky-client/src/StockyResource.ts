/**
 * The six documented v2 resources and what differs between them: root keys, paging direction,
 * supported filters, and whether the endpoint may be missing on a live deployment.
 */
import type { Schema } from "effect"
import { PurchaseOrder } from "./PurchaseOrder.js"
import { StockAdjustment } from "./StockAdjustment.js"
import { StockAdjustmentItem } from "./StockAdjustmentItem.js"
import { StockTransfer } from "./StockTransfer.js"
import { Supplier } from "./Supplier.js"
import { TaxType } from "./TaxType.js"

/** The decoded record type of each resource. */
export interface StockyRecords {
  readonly purchase_orders: PurchaseOrder
  readonly stock_adjustments: StockAdjustment
  readonly stock_adjustment_items: StockAdjustmentItem
  readonly stock_transfers: StockTransfer
  readonly suppliers: Supplier
  readonly tax_types: TaxType
}

/** A documented v2 resource name (also its path segment and list root key). */
export type StockyResourceName = keyof StockyRecords

/** Everything the client and the archive need to know about one resource. */
export interface StockyResource<Name extends StockyResourceName = StockyResourceName> {
  readonly name: Name
  /** The key of a singular wrapper on show responses, e.g. "purchase_order". */
  readonly singular: string
  /** Decodes one wire record (needs the store's zone for offset-less timestamps). */
  readonly schema: Schema.Codec<StockyRecords[Name], unknown>
  /** POs are served newest first and paged with since_id = min id ("less than"); the rest ascending. */
  readonly direction: "asc" | "desc"
  readonly supportsUpdatedSince: boolean
  readonly supportsAdjustedSince: boolean
  /** A 404 on the list means "this deployment no longer serves it", not "the API is gone". */
  readonly optional: boolean
}

const make = <Name extends StockyResourceName>(r: StockyResource<Name>): StockyResource<Name> => r

/** The resource table, in the order archives list them. */
export const StockyResources: { readonly [K in StockyResourceName]: StockyResource<K> } = {
  suppliers: make({
    name: "suppliers",
    singular: "supplier",
    schema: Supplier,
    direction: "asc",
    supportsUpdatedSince: true,
    supportsAdjustedSince: false,
    optional: false
  }),
  tax_types: make({
    name: "tax_types",
    singular: "tax_type",
    schema: TaxType,
    direction: "asc",
    supportsUpdatedSince: false,
    supportsAdjustedSince: false,
    optional: false
  }),
  purchase_orders: make({
    name: "purchase_orders",
    singular: "purchase_order",
    schema: PurchaseOrder,
    direction: "desc",
    supportsUpdatedSince: true,
    supportsAdjustedSince: false,
    optional: false
  }),
  stock_adjustments: make({
    name: "stock_adjustments",
    singular: "stock_adjustment",
    schema: StockAdjustment,
    direction: "asc",
    supportsUpdatedSince: true,
    supportsAdjustedSince: true,
    optional: false
  }),
  stock_adjustment_items: make({
    name: "stock_adjustment_items",
    singular: "stock_adjustment_item",
    schema: StockAdjustmentItem,
    direction: "asc",
    supportsUpdatedSince: true,
    supportsAdjustedSince: true,
    optional: false
  }),
  stock_transfers: make({
    name: "stock_transfers",
    singular: "stock_transfer",
    schema: StockTransfer,
    direction: "asc",
    supportsUpdatedSince: true,
    supportsAdjustedSince: false,
    optional: true
  })
}

/** All resource names, in archive order. */
export const STOCKY_RESOURCE_NAMES: ReadonlyArray<StockyResourceName> = [
  "suppliers",
  "tax_types",
  "purchase_orders",
  "stock_adjustments",
  "stock_adjustment_items",
  "stock_transfers"
]

/** Narrows a string to a resource name. */
export const isStockyResourceName = (s: string): s is StockyResourceName => Object.hasOwn(StockyResources, s)
