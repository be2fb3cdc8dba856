/**
 * Stocky → the same canonical tables as Shopify's native records (purchase_orders,
 * purchase_order_lines, suppliers, inventory_movements), so inventory history continues across
 * Stocky's 2026-08-31 shutdown. Location and variant ids are Shopify's (Stocky carries them), so
 * rows from both systems line up.
 */
import type {
  PurchaseOrder,
  StockAdjustment,
  StockAdjustmentItem,
  StockTransfer,
  Supplier
} from "@kura/stocky-client"
import { lineage, type Mapper } from "../Mapper.js"
import type { CanonicalRow } from "../Tables.js"
import type { InventoryCatalog } from "./InventoryCatalog.js"
import { dec, fromDateTime, latest, nonBlank } from "./internal/values.js"

const idText = (id: number | bigint | null): string | null => (id === null ? null : String(id))

/**
 * A local date (Stocky's `expected_on`, "YYYY-MM-DD") as the UTC midnight the warehouse stores;
 * the day itself is what matters for an expected delivery.
 */
const dateAsInstant = (date: string | null): string | null => (date === null ? null : `${date}T00:00:00.000Z`)

/**
 * Builds the purchase-order mapper: the order, its lines and a `receipt` movement per received
 * line at the receiving location. A line counts as received once it has a `received_at`.
 */
export const makeStockyPurchaseOrderMapper =
  (catalog?: InventoryCatalog): Mapper<PurchaseOrder> =>
  (po, ctx) => {
    const id = String(po.id)
    const updatedAt = fromDateTime(po.updated_at) ?? ctx.syncedAt
    const location = idText(po.shopify_receive_location_id)
    let receivedAt: string | null = null
    let total = po.shipping ?? null
    if (po.adjustments !== null) total = total === null ? po.adjustments : total.add(po.adjustments)
    const lines: Array<CanonicalRow<"purchase_order_lines">> = []
    const movements: Array<CanonicalRow<"inventory_movements">> = []
    for (const item of po.purchase_items) {
      const itemId = String(item.id)
      const inventoryItemId = idText(item.inventory_item_id)
      const known = inventoryItemId === null ? undefined : catalog?.byInventoryItemId(inventoryItemId)
      const sku = nonBlank(item.sku) ?? known?.sku ?? null
      const itemReceived = fromDateTime(item.received_at)
      receivedAt = latest(receivedAt, itemReceived)
      if (item.cost_price !== null) {
        const cost = item.cost_price.times(BigInt(item.quantity))
        total = total === null ? cost : total.add(cost)
      }
      lines.push({
        ...lineage(ctx, itemId, latest(fromDateTime(item.updated_at), updatedAt) ?? updatedAt),
        purchase_order_id: id,
        variant_id: known?.variantId ?? null,
        sku,
        inventory_item_id: inventoryItemId,
        quantity_ordered: item.quantity,
        quantity_received: itemReceived === null ? 0 : item.quantity,
        unit_cost: dec(item.cost_price)
      })
      if (itemReceived !== null && location !== null && item.quantity !== 0) {
        movements.push({
          ...lineage(ctx, `receipt:${itemId}`, updatedAt),
          variant_id: known?.variantId ?? null,
          sku,
          inventory_item_id: inventoryItemId,
          location_id: location,
          kind: "receipt",
          quantity: item.quantity,
          reason: null,
          reference_type: "purchase_order",
          reference_id: id,
          occurred_at: itemReceived
        })
      }
    }
    const allReceived = po.purchase_items.length > 0 && po.purchase_items.every((i) => i.received_at !== null)
    return {
      purchase_orders: [
        {
          ...lineage(ctx, id, updatedAt),
          supplier_id: idText(po.supplier_id),
          number: po.number,
          status: po.archived
            ? "archived"
            : allReceived
              ? "received"
              : receivedAt !== null
                ? "partially_received"
                : po.ordered_at !== null
                  ? "ordered"
                  : "draft",
          location_id: location,
          currency: po.currency,
          total: dec(total),
          ordered_at: fromDateTime(po.ordered_at),
          expected_at: dateAsInstant(po.expected_on),
          received_at: allReceived ? receivedAt : null
        }
      ],
      purchase_order_lines: lines,
      inventory_movements: movements
    }
  }

/** The purchase-order mapper without a catalog (variant ids stay null). */
export const mapStockyPurchaseOrder: Mapper<PurchaseOrder> = makeStockyPurchaseOrderMapper()

/** A stock adjustment with its items (Stocky serves them from two endpoints). */
export interface StockyAdjustmentWithItems {
  readonly adjustment: StockAdjustment
  readonly items: ReadonlyArray<StockAdjustmentItem>
}

/** Joins adjustment items to their adjustments by `stock_adjustment_id` (orphans are returned apart). */
export const joinStockyAdjustments = (
  adjustments: Iterable<StockAdjustment>,
  items: Iterable<StockAdjustmentItem>
): {
  readonly joined: ReadonlyArray<StockyAdjustmentWithItems>
  readonly orphans: ReadonlyArray<StockAdjustmentItem>
} => {
  const byId = new Map<number, Array<StockAdjustmentItem>>()
  const headers = [...adjustments]
  for (const a of headers) byId.set(a.id, [])
  const orphans: Array<StockAdjustmentItem> = []
  for (const item of items) {
    const list = byId.get(item.stock_adjustment_id)
    if (list === undefined) orphans.push(item)
    else list.push(item)
  }
  return {
    joined: headers.map((adjustment) => ({ adjustment, items: byId.get(adjustment.id) ?? [] })),
    orphans
  }
}

const COUNT_REASON = /count|stocktake|stock take|cycle/i

/**
 * An adjustment's items → signed movements at the adjustment's Shopify location. Counts and
 * stocktakes are `count_correction`, anything else `adjustment`; the reason is kept. Items not yet
 * performed (no `adjusted_at` on item or header) move nothing.
 */
export const mapStockyAdjustment: Mapper<StockyAdjustmentWithItems> = ({ adjustment, items }, ctx) => {
  const location = idText(adjustment.location?.shopify_id ?? null)
  const reason = adjustment.stock_adjustment_reason?.reason ?? null
  const kind = reason !== null && COUNT_REASON.test(reason) ? "count_correction" : "adjustment"
  const headerAt = fromDateTime(adjustment.adjusted_at)
  const headerUpdated = fromDateTime(adjustment.updated_at) ?? ctx.syncedAt
  const movements: Array<CanonicalRow<"inventory_movements">> = []
  if (location === null) return { inventory_movements: movements }
  for (const item of items) {
    const at = fromDateTime(item.adjusted_at) ?? headerAt
    if (at === null || item.quantity === 0) continue
    movements.push({
      ...lineage(
        ctx,
        `adjustment:${item.id}`,
        latest(fromDateTime(item.updated_at), headerUpdated) ?? headerUpdated
      ),
      variant_id: idText(item.variant?.shopify_id ?? null),
      sku: nonBlank(item.variant?.sku),
      inventory_item_id: null,
      location_id: location,
      kind,
      quantity: item.quantity,
      reason,
      reference_type: "stock_adjustment",
      reference_id: String(adjustment.id),
      occurred_at: at
    })
  }
  return { inventory_movements: movements }
}

/**
 * Builds the transfer mapper: each line leaves the origin when the transfer was sent and arrives
 * at the destination when it (or the line) was received. Lines name only the inventory item, so
 * the catalog supplies the variant and SKU.
 */
export const makeStockyTransferMapper =
  (catalog?: InventoryCatalog): Mapper<StockTransfer> =>
  (t, ctx) => {
    const id = String(t.id)
    const from = idText(t.from_location_id)
    const to = idText(t.to_location_id)
    const sentAt = fromDateTime(t.sent_at)
    const updatedAt =
      fromDateTime(t.updated_at) ?? latest(fromDateTime(t.received_at), sentAt) ?? ctx.syncedAt
    const movements: Array<CanonicalRow<"inventory_movements">> = []
    for (const item of t.stock_transfer_items) {
      const inventoryItemId = idText(item.inventory_item_id)
      const known = inventoryItemId === null ? undefined : catalog?.byInventoryItemId(inventoryItemId)
      const base = {
        variant_id: known?.variantId ?? null,
        sku: known?.sku ?? null,
        inventory_item_id: inventoryItemId,
        reason: t.stock_transfer_reason ?? t.note,
        reference_type: "transfer",
        reference_id: id
      }
      if (item.quantity === 0) continue
      if (from !== null && sentAt !== null) {
        movements.push({
          ...lineage(ctx, `transfer_out:${item.id}`, updatedAt),
          ...base,
          location_id: from,
          kind: "transfer_out",
          quantity: -item.quantity,
          occurred_at: sentAt
        })
      }
      const receivedAt = fromDateTime(item.received_at) ?? fromDateTime(t.received_at)
      if (to !== null && receivedAt !== null) {
        movements.push({
          ...lineage(ctx, `transfer_in:${item.id}`, updatedAt),
          ...base,
          location_id: to,
          kind: "transfer_in",
          quantity: item.quantity,
          occurred_at: receivedAt
        })
      }
    }
    return { inventory_movements: movements }
  }

/** A supplier → suppliers. */
export const mapStockySupplier: Mapper<Supplier> = (s, ctx) => ({
  suppliers: [
    {
      ...lineage(ctx, String(s.id), fromDateTime(s.updated_at) ?? fromDateTime(s.created_at) ?? ctx.syncedAt),
      name: s.name,
      email: s.contact_email,
      currency: null
    }
  ]
})
