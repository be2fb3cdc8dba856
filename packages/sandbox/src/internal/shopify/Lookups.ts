/**
 * Id → record lookups over the merchant. Catalogue arrays are indexed once; orders are found by
 * binary search on the lazy sequence (ids grow with the index), falling back to a bounded scan.
 */
import { IDS } from "../generator/world.js"
import type { Merchant } from "../Merchant.js"
import type {
  Customer,
  Location,
  Order,
  Product,
  PurchaseOrder,
  StockTransfer,
  Supplier,
  Variant
} from "../model.js"

/** Indexed access to the merchant's records by their ids. */
export class Lookups {
  readonly products = new Map<number, Product>()
  readonly variants = new Map<number, Variant>()
  readonly variantsByInventoryItem = new Map<number, Variant>()
  readonly locations = new Map<number, Location>()
  readonly suppliers = new Map<number, Supplier>()
  readonly transfers: ReadonlyArray<StockTransfer>
  readonly purchaseOrders: ReadonlyArray<PurchaseOrder>
  readonly transfersById = new Map<number, StockTransfer>()
  readonly purchaseOrdersById = new Map<number, PurchaseOrder>()
  private customersById: Map<number, number> | null = null
  private readonly orderIndexCache = new Map<number, number>()
  private transferItems: Map<number, StockTransfer> | null = null
  private purchaseOrderLines: Map<number, PurchaseOrder> | null = null

  constructor(readonly merchant: Merchant) {
    for (const p of merchant.products) this.products.set(p.id, p)
    for (const v of merchant.variants) {
      this.variants.set(v.id, v)
      this.variantsByInventoryItem.set(v.inventoryItemId, v)
    }
    for (const l of merchant.locations) this.locations.set(l.id, l)
    for (const s of merchant.suppliers) this.suppliers.set(s.id, s)
    this.transfers = merchant.stockTransfers.filter((t) => t.system === "shopify")
    this.purchaseOrders = merchant.purchaseOrders.filter((p) => p.system === "shopify")
    for (const t of this.transfers) this.transfersById.set(t.id, t)
    for (const p of this.purchaseOrders) this.purchaseOrdersById.set(p.id, p)
  }

  /** The customer with this id, if any. */
  customer(id: number): Customer | undefined {
    const m = this.merchant
    // Customer ids are usually dense: try id − firstId before building the full index.
    const guess = m.customerCount > 0 ? id - m.customerAt(0).id : -1
    if (guess >= 0 && guess < m.customerCount) {
      const c = m.customerAt(guess)
      if (c.id === id) return c
    }
    if (this.customersById === null) {
      this.customersById = new Map()
      for (let i = 0; i < m.customerCount; i++) this.customersById.set(m.customerAt(i).id, i)
    }
    const index = this.customersById.get(id)
    return index === undefined ? undefined : m.customerAt(index)
  }

  /** The order with this id (any channel), if any. */
  order(id: number): Order | undefined {
    const m = this.merchant
    const cached = this.orderIndexCache.get(id)
    if (cached !== undefined) return m.orderAt(cached)
    let lo = 0
    let hi = m.orderCount - 1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      const o = m.orderAt(mid)
      if (o === undefined) break
      if (o.id === id) {
        this.orderIndexCache.set(id, mid)
        return o
      }
      if (o.id < id) lo = mid + 1
      else hi = mid - 1
    }
    return undefined
  }

  /**
   * The order that owns a line item, refund or transaction id. Child ids are allocated in fixed
   * blocks per order index (see the generator's `IDS`), so the owner is found arithmetically and
   * then checked: an id that is not really on that order resolves to nothing.
   */
  orderOf(kind: "line" | "refund" | "transaction", id: number): Order | undefined {
    const base = kind === "line" ? IDS.line : kind === "refund" ? IDS.refund : IDS.transaction
    const stride = kind === "refund" ? 4 : 8
    const index = Math.floor((id - base) / stride)
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.merchant.orderCount) return undefined
    const o = this.merchant.orderAt(index)
    if (o === undefined) return undefined
    const owns =
      kind === "line"
        ? o.lines.some((l) => l.id === id)
        : kind === "refund"
          ? o.refunds.some((r) => r.id === id)
          : o.transactions.some((t) => t.id === id)
    return owns ? o : undefined
  }

  /** The Shopify-native transfer holding this transfer (or shipment) line item id. */
  transferOfItem(itemId: number): StockTransfer | undefined {
    if (this.transferItems === null) {
      this.transferItems = new Map()
      for (const t of this.transfers) for (const i of t.items) this.transferItems.set(i.id, t)
    }
    return this.transferItems.get(itemId)
  }

  /** The Shopify-native purchase order holding this line id. */
  purchaseOrderOfLine(lineId: number): PurchaseOrder | undefined {
    if (this.purchaseOrderLines === null) {
      this.purchaseOrderLines = new Map()
      for (const p of this.purchaseOrders) for (const l of p.lines) this.purchaseOrderLines.set(l.id, p)
    }
    return this.purchaseOrderLines.get(lineId)
  }
}
