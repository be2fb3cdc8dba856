/**
 * Running aggregates for the ground truth: counts, revenue per (business date, channel, location)
 * and net sales movements per stock cell. Sized by days × locations and variants × locations, never
 * by the number of orders. `add(order, -1)` undoes an order's contribution so mutations update it
 * incrementally.
 */
import type { GroundTruth } from "../Merchant.js"
import type { Order } from "../model.js"
import { businessDate, tokyoDate } from "./calendar.js"
import { cellOf } from "./stockPlan.js"
import { IDS, type World } from "./world.js"

interface RevenueRow {
  businessDate: string
  channel: "online" | "pos"
  locationId: number
  orders: number
  units: number
  gross: number
  tax: number
  refunds: number
}

/** Mutable ground-truth aggregates. */
export class Ledger {
  onlineOrders = 0
  posSales = 0
  orderLines = 0
  refunds = 0
  transactions = 0
  deletedOrders = 0
  malformedShopify = 0
  malformedLightspeed = 0
  /** Net on-hand change from sales and restocks, per cell. */
  readonly sales: Float64Array
  readonly lastChange: Float64Array
  private readonly revenue = new Map<string, RevenueRow>()
  /** Per customer index: live online orders (Shopify `numberOfOrders`). */
  readonly customerOrders: Float64Array
  /** Per customer index: Σ (order total − refunds) of those orders, minor units (`amountSpent`). */
  readonly customerSpent: Float64Array

  constructor(private readonly w: World) {
    const cells = w.variants.length * w.locations.length
    this.sales = new Float64Array(cells)
    this.lastChange = new Float64Array(cells)
    this.customerOrders = new Float64Array(w.customerCount)
    this.customerSpent = new Float64Array(w.customerCount)
  }

  /** Shopify's lifetime figures of one customer: orders placed and amount spent net of refunds. */
  customer(customerId: number): { readonly orders: number; readonly spent: number } {
    const i = customerId - IDS.customer - 1
    return { orders: this.customerOrders[i] ?? 0, spent: this.customerSpent[i] ?? 0 }
  }

  /** Sums over every customer (the ground truth of `numberOfOrders` / `amountSpent`). */
  customerTotals(): { readonly orders: number; readonly amountSpent: number } {
    let orders = 0
    let amountSpent = 0
    for (let i = 0; i < this.customerOrders.length; i++) {
      orders += this.customerOrders[i] ?? 0
      amountSpent += this.customerSpent[i] ?? 0
    }
    return { orders, amountSpent }
  }

  private row(date: string, channel: "online" | "pos", locationId: number): RevenueRow {
    const key = `${date}|${channel}|${locationId}`
    let r = this.revenue.get(key)
    if (r === undefined) {
      r = { businessDate: date, channel, locationId, orders: 0, units: 0, gross: 0, tax: 0, refunds: 0 }
      this.revenue.set(key, r)
    }
    return r
  }

  private prune(r: RevenueRow): void {
    if (r.orders === 0 && r.units === 0 && r.gross === 0 && r.tax === 0 && r.refunds === 0) {
      this.revenue.delete(`${r.businessDate}|${r.channel}|${r.locationId}`)
    }
  }

  private stock(variantId: number, locationId: number, qty: number, at: number): void {
    const k = this.w.variantIndex.get(variantId)
    const l = this.w.locationIndex.get(locationId)
    if (k === undefined || l === undefined) return
    const c = cellOf(k, l, this.w.locations.length)
    this.sales[c] = (this.sales[c] ?? 0) + qty
    if (at > (this.lastChange[c] ?? 0)) this.lastChange[c] = at
  }

  /**
   * Adds (sign 1) or removes (sign −1) an order. Stock moves for every order, deleted or malformed
   * included (the goods left the shelf either way); counts and revenue only for live, well-formed
   * orders, which is what a correct pipeline keeps after dead-lettering and deletes.
   */
  add(o: Order, sign: 1 | -1): void {
    const online = o.channel === "online"
    for (const line of o.lines) this.stock(line.variantId, o.locationId, -line.quantity * sign, o.createdAt)
    for (const r of o.refunds) {
      for (const rl of r.lines) {
        if (!rl.restock) continue
        const line = o.lines.find((l) => l.id === rl.orderLineId)
        if (line !== undefined) this.stock(line.variantId, rl.locationId, rl.quantity * sign, r.createdAt)
      }
    }
    // Shopify's customer figures count every order it still has, malformed rendering or not.
    if (online && o.deletedAt === null && o.customerId !== null) {
      const c = o.customerId - IDS.customer - 1
      if (c >= 0 && c < this.customerOrders.length) {
        this.customerOrders[c] = (this.customerOrders[c] ?? 0) + sign
        const refunded = o.refunds.reduce((a, r) => a + r.amount, 0)
        this.customerSpent[c] = (this.customerSpent[c] ?? 0) + (o.total - refunded) * sign
      }
    }
    if (o.malformed) {
      if (online) this.malformedShopify += sign
      else this.malformedLightspeed += sign
      return
    }
    if (o.deletedAt !== null) {
      this.deletedOrders += sign
      return
    }
    if (online) this.onlineOrders += sign
    else this.posSales += sign
    this.orderLines += o.lines.length * sign
    this.refunds += o.refunds.length * sign
    this.transactions += o.transactions.length * sign
    const row = this.row(o.businessDate, o.channel, o.locationId)
    row.orders += sign
    for (const line of o.lines) row.units += line.quantity * sign
    row.gross += o.total * sign
    row.tax += o.totalTax * sign
    this.prune(row)
    for (const r of o.refunds) {
      const date = online ? tokyoDate(r.createdAt) : businessDate(r.createdAt, this.w.options.cutoverHour)
      const rr = this.row(date, o.channel, o.locationId)
      rr.refunds += r.amount * sign
      this.prune(rr)
    }
  }

  /** Revenue rows sorted by date, channel, location. */
  revenueRows(): GroundTruth["revenueByDay"] {
    return [...this.revenue.values()]
      .map((r) => ({ ...r }))
      .sort((a, b) =>
        a.businessDate < b.businessDate
          ? -1
          : a.businessDate > b.businessDate
            ? 1
            : a.channel < b.channel
              ? -1
              : a.channel > b.channel
                ? 1
                : a.locationId - b.locationId
      )
  }
}
