/**
 * Id → record lookups over the merchant. Catalogue arrays are indexed once; orders are found by
 * binary search on the lazy sequence (ids grow with the index), falling back to a bounded scan.
 */
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
}
