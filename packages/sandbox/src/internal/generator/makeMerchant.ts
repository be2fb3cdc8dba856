/**
 * Builds the lazily generated merchant behind every emulator.
 *
 * Memory stays flat in the number of orders: order i is regenerated on demand from (seed, i); only
 * mutations (an overlay keyed by index), orders created later and the ground-truth aggregates (per
 * day and per stock cell) are kept. The ground truth is computed by one streaming pass on first use
 * and then updated incrementally by `mutate` and `createOrders`.
 *
 * Ground-truth conventions: revenue rows are keyed by the order's business date (Tokyo calendar
 * date online; POS business date with the cutover), `gross` = order total (tax included, after
 * discounts, shipping included), and `refunds` are attributed to the refund's own business date.
 * Deleted and malformed orders are excluded from counts and revenue but their stock movements count.
 */
import type { GroundTruth, Merchant, MerchantOptions, OrderChange } from "../Merchant.js"
import type { Customer, InventoryQuantities, Order, Refund, Transaction } from "../model.js"
import { Ledger } from "./Ledger.js"
import {
  baseRefundPlan,
  baseSlot,
  buildRefund,
  generateOrder,
  isOnlineIndex,
  MAX_BASE_POS_UPDATE_LAG_MS,
  MAX_BASE_UPDATE_LAG_MS,
  type OrderSlot,
  refundTransaction,
  remainingOf
} from "./orders.js"
import { keyOf, mix32, Rng } from "./random.js"
import { buildStockPlan, cellOf } from "./stockPlan.js"
import { buildWorld, customerAt, IDS, WAREHOUSE } from "./world.js"

interface Overlay {
  updatedAt: number
  refunds: Array<Refund>
  transactions: Array<Transaction>
  cancelledAt: number | null
  cancelReason: string | null
  deletedAt: number | null
}

/** K-Series void reasons that mean the goods were spoiled: nothing goes back on the shelf. */
const SPOILED = ["Broken", "Cooking", "Taste", "Unhappy Client", "Waited too long"] as const

/** Sensible defaults: 1,000 online orders over a year, JP taxes, 05:00 cutover. */
export const defaultMerchantOptions = (anchor: number): MerchantOptions => ({
  seed: 42,
  orders: 1000,
  anchor,
  historyDays: 365,
  tax: "jp",
  discrepancies: 5,
  malformedPerSource: 0,
  cutoverHour: 5
})

/** Today 00:00 UTC, the default anchor. */
export const todayUtcMidnight = (now: number = Date.now()): number => now - (now % 86_400_000)

/** Builds the merchant for these options. Throws RangeError naming the field on bad options. */
export const makeMerchant = (options: MerchantOptions): Merchant => {
  const w = buildWorld(options)
  const plan = buildStockPlan(w)
  const base = w.timeline.total
  const L = w.locations.length
  const extras: Array<OrderSlot> = []
  const overlay = new Map<number, Overlay>()
  const deletions: Array<{ orderId: number; at: number }> = []
  /** Every change to an online order, in the order it happened (Shopify's `events`). */
  const changes: Array<OrderChange> = []
  /** Indexes of the POS sales `voidSales` voided, in the order they were voided. */
  const voided: Array<number> = []
  let ledger: Ledger | undefined
  let generation = 0
  let revision = 0

  // Malformed orders: spread evenly over each channel, chosen once (k is small).
  const malformed = new Set<number>()
  const spread = (count: number, online: boolean) => {
    const want = Math.min(options.malformedPerSource, count)
    for (let j = 0; j < want; j++) {
      let i = Math.min(base - 1, Math.floor(((j + 0.5) * base) / want))
      while (i < base && (isOnlineIndex(w, i) !== online || malformed.has(i))) i++
      if (i >= base) {
        i = 0
        while (i < base && (isOnlineIndex(w, i) !== online || malformed.has(i))) i++
      }
      if (i < base) malformed.add(i)
    }
  }
  spread(w.onlineCount, true)
  spread(w.posCount, false)

  const count = () => base + extras.length
  const slotOf = (i: number): OrderSlot | undefined => (i < base ? baseSlot(w, i) : extras[i - base])
  const createdAtOf = (i: number): number =>
    i < base ? w.timeline.createdAt(i) : (extras[i - base]?.createdAt ?? Infinity)

  const orderAt = (index: number): Order | undefined => {
    if (!Number.isInteger(index) || index < 0 || index >= count()) return undefined
    const slot = slotOf(index)
    if (slot === undefined) return undefined
    const o = generateOrder(w, index, slot, malformed.has(index))
    const m = overlay.get(index)
    if (m === undefined) return o
    return {
      ...o,
      updatedAt: m.updatedAt,
      refunds: m.refunds.length === 0 ? o.refunds : [...o.refunds, ...m.refunds],
      transactions: m.transactions.length === 0 ? o.transactions : [...o.transactions, ...m.transactions],
      cancelledAt: m.cancelledAt ?? o.cancelledAt,
      cancelReason: m.cancelReason ?? o.cancelReason,
      deletedAt: m.deletedAt
    }
  }

  const ensureLedger = (): Ledger => {
    if (ledger !== undefined) return ledger
    const l = new Ledger(w)
    const n = count()
    for (let i = 0; i < n; i++) {
      const o = orderAt(i)
      if (o !== undefined) l.add(o, 1)
    }
    ledger = l
    return l
  }

  const overlayOf = (i: number, o: Order): Overlay => {
    let m = overlay.get(i)
    if (m === undefined) {
      m = {
        updatedAt: o.updatedAt,
        refunds: [],
        transactions: [],
        cancelledAt: null,
        cancelReason: null,
        deletedAt: null
      }
      overlay.set(i, m)
    }
    return m
  }

  const change = (i: number, now: number, rng: Rng): void => {
    const before = orderAt(i)
    if (before === undefined || before.deletedAt !== null) return
    ledger?.add(before, -1)
    const m = overlayOf(i, before)
    m.updatedAt = Math.max(now, before.updatedAt)
    const online = before.channel === "online"
    const remaining = remainingOf(before)
    const refundable = remaining.qty.some((q) => q > 0)
    const canRefund = refundable && before.refunds.length < 4
    const u = rng.float()
    if (online && u >= 0.95 && !before.malformed) {
      m.deletedAt = m.updatedAt
      deletions.push({ orderId: before.id, at: m.updatedAt })
      changes.push({ orderId: before.id, at: m.updatedAt, action: "destroy" })
    } else if (online && u >= 0.8 && canRefund && before.cancelledAt === null) {
      const picks = before.lines
        .map((_line, k) => ({ line: k, qty: remaining.qty[k] ?? 0 }))
        .filter((p) => p.qty > 0)
      const r = buildRefund(
        before,
        i,
        before.refunds.length,
        m.updatedAt,
        picks,
        true,
        remaining.shipping,
        "Order cancelled",
        remaining
      )
      m.refunds.push(r)
      m.transactions.push(refundTransaction(before, i, before.refunds.length, r))
      m.cancelledAt = m.updatedAt
      m.cancelReason = "customer"
    } else if (u >= (online ? 0.55 : 0.7) && canRefund) {
      const open = remaining.qty.flatMap((q, k) => (q > 0 ? [k] : []))
      const k = open[rng.int(open.length)] ?? 0
      const qty = rng.range(1, remaining.qty[k] ?? 1)
      const r = buildRefund(
        before,
        i,
        before.refunds.length,
        m.updatedAt,
        [{ line: k, qty }],
        rng.chance(0.8),
        0,
        "Customer return",
        remaining
      )
      m.refunds.push(r)
      m.transactions.push(refundTransaction(before, i, before.refunds.length, r))
    }
    if (online && m.deletedAt === null)
      changes.push({ orderId: before.id, at: m.updatedAt, action: "update" })
    const after = orderAt(i)
    if (after !== undefined) ledger?.add(after, 1)
  }

  // Malformed customers (opt-in), spread over all customers.
  const malformedCustomerIds = new Set<number>()
  const badCustomers = Math.min(options.malformedCustomers ?? 0, w.customerCount)
  for (let j = 0; j < badCustomers; j++)
    malformedCustomerIds.add(customerAt(w, Math.floor(((j + 0.5) * w.customerCount) / badCustomers)).id)

  // Malformed products (opt-in), spread over all products the same way.
  const malformedProductIds = new Set<number>()
  const badProducts = Math.min(options.malformedProducts ?? 0, w.products.length)
  for (let j = 0; j < badProducts; j++) {
    const p = w.products[Math.floor(((j + 0.5) * w.products.length) / badProducts)]
    if (p !== undefined) malformedProductIds.add(p.id)
  }

  const merchant: Merchant = {
    options,
    locations: w.locations,
    products: w.products,
    variants: w.variants,
    suppliers: w.suppliers,
    customerCount: w.customerCount,
    customerAt: (index: number): Customer => customerAt(w, index),
    malformedCustomerIds,
    malformedProductIds,
    get orderCount() {
      return count()
    },
    get revision() {
      return revision
    },
    orderAt,
    orderIndexAtOrAfter(t: number): number {
      let lo = 0
      let hi = count()
      while (lo < hi) {
        const mid = Math.floor((lo + hi) / 2)
        if (createdAtOf(mid) >= t) hi = mid
        else lo = mid + 1
      }
      return lo
    },
    mutatedOrderIndexes(from: number, to: number): ReadonlyArray<number> {
      const out: Array<number> = []
      for (const [i, m] of overlay) if (m.updatedAt >= from && m.updatedAt < to) out.push(i)
      return out.sort((a, b) => a - b)
    },
    maxBaseUpdateLagMs: MAX_BASE_UPDATE_LAG_MS,
    maxBasePosUpdateLagMs: MAX_BASE_POS_UPDATE_LAG_MS,
    purchaseOrders: plan.purchaseOrders,
    stockAdjustments: plan.stockAdjustments,
    stockTransfers: plan.stockTransfers,
    inventory(variantId: number, locationId: number): InventoryQuantities {
      const k = w.variantIndex.get(variantId)
      const l = w.locationIndex.get(locationId)
      if (k === undefined || l === undefined || plan.stocked[cellOf(k, l, L)] !== 1) {
        return {
          available: 0,
          onHand: 0,
          committed: 0,
          incoming: 0,
          reserved: 0,
          damaged: 0,
          safetyStock: 0,
          qualityControl: 0,
          updatedAt: 0
        }
      }
      const led = ensureLedger()
      const c = cellOf(k, l, L)
      const onHand = (plan.movements[c] ?? 0) + (led.sales[c] ?? 0) + (plan.injected[c] ?? 0)
      // Named states other than on_hand/incoming are small and stable per cell; available is
      // what remains, as Shopify computes it (on_hand = available + the other named states).
      const h = mix32(options.seed ^ Math.imul(c + 1, 0x9e3779b1))
      const warehouse = l === WAREHOUSE
      const committed = warehouse ? Math.min(Math.max(0, onHand), h % 4) : 0
      const safetyStock = warehouse ? 2 : 0
      const damaged = (h >>> 8) % 7 === 0 ? 1 : 0
      const qualityControl = warehouse && (h >>> 12) % 11 === 0 ? 1 : 0
      const reserved = 0
      return {
        available: onHand - committed - reserved - damaged - safetyStock - qualityControl,
        onHand,
        committed,
        incoming: plan.incoming[c] ?? 0,
        reserved,
        damaged,
        safetyStock,
        qualityControl,
        updatedAt: Math.max(plan.lastChange[c] ?? 0, led.lastChange[c] ?? 0)
      }
    },
    deletions: () => deletions.slice(),
    orderCreations(from: number, to: number) {
      const out: Array<{ orderId: number; at: number }> = []
      const end = merchant.orderIndexAtOrAfter(to)
      for (let i = merchant.orderIndexAtOrAfter(from); i < end; i++)
        if (i < base ? isOnlineIndex(w, i) : extras[i - base]?.online === true)
          out.push({ orderId: IDS.order + i, at: createdAtOf(i) })
      return out
    },
    orderChanges: () => changes.slice(),
    mutate({ fraction, now }): ReadonlyArray<number> {
      if (!(fraction >= 0 && fraction <= 1))
        throw new RangeError(`mutate: fraction must be in [0, 1]; got ${fraction}`)
      generation++
      const n = count()
      const want = Math.round(fraction * (n - deletions.length))
      const rng = new Rng(keyOf(options.seed, 20, generation))
      // Floyd's sampling: `want` distinct indexes in O(want); deleted picks move to the next live one.
      const picked = new Set<number>()
      for (let j = n - want; j < n; j++) {
        let t = rng.int(j + 1)
        if (picked.has(t)) t = j
        let probe = t
        for (let step = 0; step < n && (picked.has(probe) || overlay.get(probe)?.deletedAt != null); step++)
          probe = (probe + 1) % n
        picked.add(probe)
      }
      const touched = [...picked].sort((a, b) => a - b)
      if (touched.length > 0) revision++
      for (const i of touched) change(i, now, rng)
      return touched
    },
    createOrders({ count: k, now, posTicketMs }): ReadonlyArray<number> {
      if (posTicketMs !== undefined && !(Number.isInteger(posTicketMs) && posTicketMs >= 0))
        throw new RangeError(`createOrders: posTicketMs must be a non-negative integer; got ${posTicketMs}`)
      if (!Number.isInteger(k) || k < 0)
        throw new RangeError(`createOrders: count must be a non-negative integer; got ${k}`)
      const rng = new Rng(keyOf(options.seed, 21, count()))
      const out: Array<number> = []
      let onlineRank = w.onlineCount + extras.filter((s) => s.online).length
      let posRank = w.posCount + extras.filter((s) => !s.online).length
      let t = Math.max(now, createdAtOf(count() - 1) === Infinity ? now : createdAtOf(count() - 1))
      for (let j = 0; j < k; j++) {
        const online = rng.chance(1 / 1.6)
        extras.push({
          createdAt: t,
          online,
          onlineRank,
          posRank,
          ...(!online && posTicketMs !== undefined ? { ticketMs: posTicketMs } : {})
        })
        if (online) onlineRank++
        else posRank++
        const index = count() - 1
        out.push(index)
        revision++
        const o = orderAt(index)
        if (o !== undefined) ledger?.add(o, 1)
        t += 1 + rng.int(1000)
      }
      return out
    },
    deleteOrders({ count: k, now }): ReadonlyArray<number> {
      if (!Number.isInteger(k) || k < 0)
        throw new RangeError(`deleteOrders: count must be a non-negative integer; got ${k}`)
      const n = count()
      const rng = new Rng(keyOf(options.seed, 22, deletions.length))
      const out: Array<number> = []
      for (let tries = 0; out.length < k && tries < k * 50 + 1000; tries++) {
        const i = rng.int(n)
        if (
          !(i < base ? isOnlineIndex(w, i) : extras[i - base]?.online) ||
          malformed.has(i) ||
          out.includes(i)
        )
          continue
        const before = orderAt(i)
        if (before === undefined || before.deletedAt !== null) continue
        ledger?.add(before, -1)
        const m = overlayOf(i, before)
        m.updatedAt = Math.max(now, before.updatedAt)
        m.deletedAt = m.updatedAt
        deletions.push({ orderId: before.id, at: m.updatedAt })
        changes.push({ orderId: before.id, at: m.updatedAt, action: "destroy" })
        const after = orderAt(i)
        if (after !== undefined) ledger?.add(after, 1)
        out.push(i)
        revision++
      }
      return out.sort((a, b) => a - b)
    },
    voidSales({ count: k, now }): ReadonlyArray<number> {
      if (!Number.isInteger(k) || k < 0)
        throw new RangeError(`voidSales: count must be a non-negative integer; got ${k}`)
      const n = count()
      const rng = new Rng(keyOf(options.seed, 23, voided.length))
      const out: Array<number> = []
      for (let tries = 0; out.length < k && tries < k * 50 + 1000; tries++) {
        const i = rng.int(n)
        if (merchant.orderChannelAt(i) !== "pos" || malformed.has(i) || out.includes(i) || voided.includes(i))
          continue
        const before = orderAt(i)
        // A sale keeps room for its refunds' sequence numbers (K-Series accounts seq*5 + 1..4).
        if (before === undefined || before.refunds.length >= 4) continue
        const remaining = remainingOf(before)
        const picks = before.lines
          .map((_line, j) => ({ line: j, qty: remaining.qty[j] ?? 0 }))
          .filter((p) => p.qty > 0)
        if (picks.length === 0) continue
        const reason =
          (voided.length + out.length) % 2 === 0
            ? "User Mistake"
            : (SPOILED[rng.int(SPOILED.length)] ?? "Broken")
        ledger?.add(before, -1)
        const m = overlayOf(i, before)
        m.updatedAt = Math.max(now, before.updatedAt)
        const r = buildRefund(
          before,
          i,
          before.refunds.length,
          m.updatedAt,
          picks,
          reason === "User Mistake",
          0,
          `Void: ${reason}`,
          remaining
        )
        const voidRefund = { ...r, voidReason: reason }
        m.refunds.push(voidRefund)
        m.transactions.push(refundTransaction(before, i, before.refunds.length, voidRefund))
        const after = orderAt(i)
        if (after !== undefined) ledger?.add(after, 1)
        out.push(i)
        revision++
      }
      voided.push(...out)
      return out.sort((a, b) => a - b)
    },
    baseRefundAt(index: number): number | null {
      if (!Number.isInteger(index) || index < 0 || index >= count()) return null
      const online = index < base ? isOnlineIndex(w, index) : (extras[index - base]?.online ?? false)
      return baseRefundPlan(w, index, online, createdAtOf)?.at ?? null
    },
    orderChannelAt(index: number) {
      if (!Number.isInteger(index) || index < 0 || index >= count()) return undefined
      const online = index < base ? isOnlineIndex(w, index) : extras[index - base]?.online
      return online ? "online" : "pos"
    },
    stocked(variantId: number, locationId: number): boolean {
      const k = w.variantIndex.get(variantId)
      const l = w.locationIndex.get(locationId)
      return k !== undefined && l !== undefined && plan.stocked[cellOf(k, l, L)] === 1
    },
    customerStats(customerId: number) {
      return ensureLedger().customer(customerId)
    },
    groundTruth(): GroundTruth {
      const led = ensureLedger()
      const expectedStock: Array<GroundTruth["expectedStock"][number]> = []
      w.variants.forEach((v, k) => {
        w.locations.forEach((loc, l) => {
          const c = cellOf(k, l, L)
          if (plan.stocked[c] !== 1) return
          expectedStock.push({
            sku: v.sku,
            variantId: v.id,
            locationId: loc.id,
            onHand: (plan.movements[c] ?? 0) + (led.sales[c] ?? 0)
          })
        })
      })
      const linesOf = (
        o: {
          readonly lines: ReadonlyArray<{
            readonly id: number
            readonly variantId: number
            readonly sku: string
          }>
        },
        picks: ReadonlyArray<{ readonly orderLineId: number; readonly quantity: number }>
      ) =>
        picks.flatMap((p) => {
          const l = o.lines.find((x) => x.id === p.orderLineId)
          return l === undefined ? [] : [{ variantId: l.variantId, sku: l.sku, quantity: p.quantity }]
        })
      const posTickets: Array<GroundTruth["posTickets"][number]> = []
      extras.forEach((slot, j) => {
        if (slot.ticketMs === undefined) return
        const o = orderAt(base + j)
        if (o === undefined || o.rungUpAt === undefined) return
        posTickets.push({
          orderId: o.id,
          locationId: o.locationId,
          rungUpAt: o.rungUpAt,
          closedAt: o.createdAt,
          stockMovedAt: options.posStockMovesAt === "ringUp" ? o.rungUpAt : o.createdAt,
          lines: linesOf(
            o,
            o.lines.map((l) => ({ orderLineId: l.id, quantity: l.quantity }))
          )
        })
      })
      const voids: Array<GroundTruth["voids"][number]> = []
      for (const i of voided) {
        const o = orderAt(i)
        for (const r of o?.refunds ?? []) {
          if (o === undefined || r.voidReason === undefined) continue
          voids.push({
            orderId: o.id,
            refundId: r.id,
            locationId: o.locationId,
            at: r.createdAt,
            reason: r.voidReason,
            restocked: r.lines.every((l) => l.restock),
            lines: linesOf(o, r.lines)
          })
        }
      }
      return {
        anchor: options.anchor,
        counts: {
          onlineOrders: led.onlineOrders,
          posSales: led.posSales,
          orderLines: led.orderLines,
          refunds: led.refunds,
          customers: w.customerCount,
          products: w.products.length,
          variants: w.variants.length,
          locations: w.locations.length,
          purchaseOrders: plan.purchaseOrders.filter((p) => !p.malformed).length,
          stockAdjustments: plan.stockAdjustments.length,
          stockTransfers: plan.stockTransfers.length,
          suppliers: w.suppliers.length,
          deletedOrders: led.deletedOrders,
          malformed: {
            shopify: led.malformedShopify,
            lightspeed: led.malformedLightspeed,
            stocky: plan.purchaseOrders.filter((p) => p.malformed).length
          },
          malformedCustomers: malformedCustomerIds.size,
          malformedProducts: malformedProductIds.size,
          malformedAdjustments: {
            adjustments: plan.stockAdjustments.filter((a) => a.malformed === true).length,
            items: plan.stockAdjustments
              .filter((a) => a.malformed === true)
              .reduce((n, a) => n + a.items.length, 0)
          },
          transactions: led.transactions,
          inventoryLevels: plan.stocked.reduce((a, b) => a + b, 0),
          purchaseOrderLines: plan.purchaseOrders
            .filter((p) => !p.malformed)
            .reduce((a, p) => a + p.lines.length, 0),
          stockAdjustmentItems: plan.stockAdjustments.reduce((a, x) => a + x.items.length, 0),
          stockTransferItems: plan.stockTransfers.reduce((a, t) => a + t.items.length, 0)
        },
        revenueByDay: led.revenueRows(),
        customerTotals: led.customerTotals(),
        expectedStock,
        discrepancies: plan.discrepancies,
        posTickets,
        voids
      }
    }
  }
  return merchant
}
