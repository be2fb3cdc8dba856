/**
 * Shopify inventory → inventory_levels (one row per item, location and named quantity),
 * inventory transfers → transfer_out / transfer_in movements, and inventory purchase orders →
 * purchase_orders, purchase_order_lines and receipt movements. Stocky's records map into the
 * same tables, so history continues across the Stocky shutdown.
 */
import type { InventoryItem, InventoryPurchaseOrder, InventoryTransfer } from "@kura/shopify-client"
import { lineage, type Mapper } from "../Mapper.js"
import type { CanonicalRow } from "../Tables.js"
import type { InventoryCatalog } from "./InventoryCatalog.js"
import { dec, gidToId, latest, refId, utc, utcDay, utcOrNull } from "./internal/values.js"

/**
 * Inventory item with levels → inventory_levels. `observed_at` is when Kura fetched the level
 * (`ctx.syncedAt`) and `snapshot_date` its UTC day, so each day's snapshot is kept; `updated_at`
 * is Shopify's change time of the quantity.
 */
export const mapShopifyInventoryItem: Mapper<InventoryItem> = (item, ctx) => {
  const itemId = item.legacyResourceId
  const variantId = refId(item.variant)
  const rows = item.inventoryLevels.flatMap((level) => {
    const locationId = gidToId(level.location.id)
    return level.quantities.map(
      (q): CanonicalRow<"inventory_levels"> => ({
        ...lineage(ctx, `${itemId}:${locationId}:${q.name}`, utc(q.updatedAt ?? level.updatedAt)),
        variant_id: variantId,
        inventory_item_id: itemId,
        sku: item.sku,
        location_id: locationId,
        quantity_name: q.name,
        quantity: q.quantity,
        observed_at: ctx.syncedAt,
        snapshot_date: utcDay(ctx.syncedAt)
      })
    )
  })
  return { inventory_levels: rows }
}

const SHIPPED_STATUSES = new Set([
  "IN_TRANSIT",
  "PARTIALLY_RECEIVED",
  "RECEIVED",
  "READY_TO_SHIP",
  "TRANSFERRED"
])

/**
 * Builds the native-transfer mapper. Shipped quantities leave the origin when the first shipment
 * shipped; they arrive at the destination when the transfer is fully received (the client reads
 * shipment summaries only, so a partial receipt cannot be split per line and is not booked).
 */
export const makeShopifyTransferMapper =
  (catalog?: InventoryCatalog): Mapper<InventoryTransfer> =>
  (t, ctx) => {
    const id = gidToId(t.id)
    const from = refId(t.origin?.location)
    const to = refId(t.destination?.location)
    const firstShipped =
      t.shipments
        .map((s) => utcOrNull(s.dateShipped))
        .filter((x): x is string => x !== null)
        .sort()[0] ?? (SHIPPED_STATUSES.has(t.status.toUpperCase()) ? utcOrNull(t.dateCreated) : null)
    const receivedAt = t.shipments
      .map((s) => utcOrNull(s.dateReceived))
      .reduce<string | null>((a, b) => latest(a, b), null)
    const fullyReceived = t.totalQuantity > 0 && t.receivedQuantity === t.totalQuantity
    const updatedAt = latest(receivedAt, latest(firstShipped, utcOrNull(t.dateCreated))) ?? ctx.syncedAt
    const movements: Array<CanonicalRow<"inventory_movements">> = []
    for (const line of t.lineItems) {
      const lineId = gidToId(line.id)
      const itemId = line.inventoryItem === null ? null : gidToId(line.inventoryItem.id)
      const known = itemId === null ? undefined : catalog?.byInventoryItemId(itemId)
      const variantId = known?.variantId ?? null
      const sku = line.inventoryItem?.sku ?? known?.sku ?? null
      if (from !== null && firstShipped !== null && line.shippedQuantity > 0) {
        movements.push({
          ...lineage(ctx, `transfer_out:${lineId}`, updatedAt),
          variant_id: variantId,
          sku,
          inventory_item_id: itemId,
          location_id: from,
          kind: "transfer_out",
          quantity: -line.shippedQuantity,
          reason: t.note,
          reference_type: "transfer",
          reference_id: id,
          occurred_at: firstShipped
        })
      }
      if (to !== null && fullyReceived && receivedAt !== null) {
        movements.push({
          ...lineage(ctx, `transfer_in:${lineId}`, updatedAt),
          variant_id: variantId,
          sku,
          inventory_item_id: itemId,
          location_id: to,
          kind: "transfer_in",
          quantity: line.totalQuantity,
          reason: t.note,
          reference_type: "transfer",
          reference_id: id,
          occurred_at: receivedAt
        })
      }
    }
    return { inventory_movements: movements }
  }

/**
 * Builds the native purchase-order mapper. Receipts book at the destination; the API reports no
 * per-line receipt time, so a receipt is dated at the order's `updatedAt`.
 */
export const makeShopifyPurchaseOrderMapper =
  (catalog?: InventoryCatalog): Mapper<InventoryPurchaseOrder> =>
  (po, ctx) => {
    const id = gidToId(po.id)
    const updatedAt = utc(po.updatedAt)
    const location = refId(po.destination?.location)
    let total = po.lineItems[0]?.totalCost?.amount ?? null
    for (const l of po.lineItems.slice(1))
      if (l.totalCost !== null) total = total === null ? l.totalCost.amount : total.add(l.totalCost.amount)
    const allReceived =
      po.lineItems.length > 0 && po.lineItems.every((l) => l.receivedQuantity >= l.totalQuantity)
    const lines: Array<CanonicalRow<"purchase_order_lines">> = []
    const movements: Array<CanonicalRow<"inventory_movements">> = []
    for (const l of po.lineItems) {
      const lineId = gidToId(l.id)
      const itemId = l.inventoryItem === null ? null : gidToId(l.inventoryItem.id)
      const known = itemId === null ? undefined : catalog?.byInventoryItemId(itemId)
      const sku = l.inventoryItem?.sku ?? known?.sku ?? null
      lines.push({
        ...lineage(ctx, lineId, updatedAt),
        purchase_order_id: id,
        variant_id: known?.variantId ?? null,
        sku,
        inventory_item_id: itemId,
        quantity_ordered: l.totalQuantity,
        quantity_received: l.receivedQuantity,
        unit_cost: dec(l.unitCost?.amount)
      })
      if (location !== null && l.receivedQuantity > 0) {
        movements.push({
          ...lineage(ctx, `receipt:${lineId}`, updatedAt),
          variant_id: known?.variantId ?? null,
          sku,
          inventory_item_id: itemId,
          location_id: location,
          kind: "receipt",
          quantity: l.receivedQuantity,
          reason: null,
          reference_type: "purchase_order",
          reference_id: id,
          occurred_at: updatedAt
        })
      }
    }
    return {
      purchase_orders: [
        {
          ...lineage(ctx, id, updatedAt),
          supplier_id:
            po.origin?.supplier === null || po.origin?.supplier === undefined
              ? null
              : gidToId(po.origin.supplier.id),
          number: po.name,
          // Stocky's lifecycle, the canonical one: Shopify's enum says only DRAFT | ORDERED, so what
          // was received and archiving are read from the lines and archivedAt.
          status:
            po.archivedAt !== null
              ? "archived"
              : allReceived
                ? "received"
                : po.lineItems.some((l) => l.receivedQuantity > 0)
                  ? "partially_received"
                  : po.status.toLowerCase(),
          location_id: location,
          currency: po.currency,
          total: dec(total),
          ordered_at: utcOrNull(po.orderedAt),
          expected_at: null,
          received_at: allReceived ? updatedAt : null
        }
      ],
      purchase_order_lines: lines,
      inventory_movements: movements,
      // Shopify has no supplier list to read: a purchase order is where its supplier appears, so
      // `purchase_orders.supplier_id` always finds its row (name only; Shopify gives no contact).
      suppliers:
        po.origin?.supplier === null || po.origin?.supplier === undefined
          ? []
          : [
              {
                ...lineage(ctx, gidToId(po.origin.supplier.id), updatedAt),
                name: po.origin.supplier.name,
                email: null,
                currency: null
              }
            ]
    }
  }

/** The `inventory_levels/update` webhook payload (as the client decodes it). */
export interface InventoryLevelWebhook {
  readonly inventory_item_id: number
  readonly location_id: number
  readonly available: number | null
  readonly updated_at: string
}

/**
 * Builds the `inventory_levels/update` webhook mapper: the `available` quantity only (the payload
 * carries no other name), keyed like the bulk snapshot so the two upsert the same row. A null
 * `available` (untracked item) produces nothing.
 */
export const makeShopifyInventoryLevelWebhookMapper =
  (catalog?: InventoryCatalog): Mapper<InventoryLevelWebhook> =>
  (payload, ctx) => {
    if (payload.available === null) return {}
    const itemId = String(payload.inventory_item_id)
    const locationId = String(payload.location_id)
    const known = catalog?.byInventoryItemId(itemId)
    return {
      inventory_levels: [
        {
          ...lineage(ctx, `${itemId}:${locationId}:available`, utc(payload.updated_at)),
          variant_id: known?.variantId ?? null,
          inventory_item_id: itemId,
          sku: known?.sku ?? null,
          location_id: locationId,
          quantity_name: "available",
          quantity: payload.available,
          observed_at: ctx.syncedAt,
          snapshot_date: utcDay(ctx.syncedAt)
        }
      ]
    }
  }
