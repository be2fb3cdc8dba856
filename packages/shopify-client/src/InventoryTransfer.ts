/**
 * Inventory transfers and their shipments (Admin API 2025-07 and later), which succeed Stocky
 * transfers.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { Ref } from "./ShopifyMoney.js"

const Snapshot = Schema.NullOr(
  Schema.Struct({ name: Schema.String, snapshottedAt: Schema.String, location: Schema.NullOr(Ref) })
)

/**
 * One line of a transfer.
 *
 * @since 0.1.0
 * @category schemas
 */
export const InventoryTransferLineItem = Schema.Struct({
  id: Schema.String,
  title: Schema.NullOr(Schema.String),
  totalQuantity: Schema.Number,
  shippedQuantity: Schema.Number,
  shippableQuantity: Schema.Number,
  processableQuantity: Schema.Number,
  pickedForShipmentQuantity: Schema.Number,
  inventoryItem: Schema.NullOr(Schema.Struct({ id: Schema.String, sku: Schema.NullOr(Schema.String) }))
})

/**
 * The decoded type of {@link InventoryTransferLineItem}.
 *
 * @since 0.1.0
 * @category models
 */
export type InventoryTransferLineItem = typeof InventoryTransferLineItem.Type

/**
 * A shipment of a transfer (summary; its lines are read per shipment).
 *
 * @since 0.1.0
 * @category schemas
 */
export const InventoryShipment = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  status: Schema.String,
  dateCreated: Schema.NullOr(Schema.String),
  dateShipped: Schema.NullOr(Schema.String),
  dateReceived: Schema.NullOr(Schema.String),
  lineItemTotalQuantity: Schema.Number,
  totalAcceptedQuantity: Schema.Number,
  totalReceivedQuantity: Schema.Number,
  totalRejectedQuantity: Schema.Number
})

/**
 * The decoded type of {@link InventoryShipment}.
 *
 * @since 0.1.0
 * @category models
 */
export type InventoryShipment = typeof InventoryShipment.Type

/**
 * A transfer of stock between two locations.
 *
 * @since 0.1.0
 * @category schemas
 */
export const InventoryTransfer = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  referenceName: Schema.NullOr(Schema.String),
  status: Schema.String,
  note: Schema.NullOr(Schema.String),
  tags: Schema.Array(Schema.String),
  dateCreated: Schema.NullOr(Schema.String),
  totalQuantity: Schema.Number,
  receivedQuantity: Schema.Number,
  origin: Snapshot,
  destination: Snapshot,
  lineItems: Schema.Array(InventoryTransferLineItem),
  shipments: Schema.Array(InventoryShipment)
})

/**
 * The decoded type of {@link InventoryTransfer}.
 *
 * @since 0.1.0
 * @category models
 */
export type InventoryTransfer = typeof InventoryTransfer.Type

/**
 * Transfer statuses after which Shopify no longer changes a transfer (received in full, or
 * cancelled): an incremental read need not look at them again.
 *
 * @since 0.2.0
 * @category constants
 */
export const CLOSED_TRANSFER_STATUSES: ReadonlyArray<string> = ["TRANSFERRED", "CANCELED"]

/**
 * Whether a transfer's status is final (see {@link CLOSED_TRANSFER_STATUSES}).
 *
 * @since 0.2.0
 * @category predicates
 */
export const isClosedTransfer = (status: string): boolean =>
  CLOSED_TRANSFER_STATUSES.includes(status.toUpperCase())

/**
 * The search for an incremental transfer read: transfers created after the last one seen (ids
 * grow), plus, by id, every transfer that was still open when last read. Transfers have no
 * `updatedAt`; asking for the ones open *now* (`status:`) would miss exactly the interesting
 * change, an open transfer that has since been received or cancelled. Only the documented `id`
 * filter is used.
 *
 * @since 0.2.0
 * @category constructors
 */
export const transfersToRecheckQuery = (
  lastSeenLegacyId: bigint | number | string,
  openLegacyIds: ReadonlyArray<bigint | number | string> = []
): string =>
  [`id:>${String(lastSeenLegacyId)}`, ...openLegacyIds.map((id) => `id:${String(id)}`)].join(" OR ")
