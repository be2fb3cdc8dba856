/**
 * The lazy order factory: order i is a pure function of (seed, i). Both channels share one index
 * sequence ordered by createdAt; the channel of index i is fixed by an exact Bresenham interleave so
 * that the number of online orders is exactly `options.orders`.
 */
import type { Order, OrderLine, Refund, TaxLine, Transaction } from "../model.js"
import { businessDate, DAY_MS, HOUR_MS, tokyoDate, tokyoHour } from "./calendar.js"
import { keyOf, pickCumulative, Rng } from "./random.js"
import { CAFE, customersBy, IDS, type Rate, SHOP, WAREHOUSE, type World } from "./world.js"

/** Where index i sits: time, channel and per-channel rank (for order names). */
export interface OrderSlot {
  readonly createdAt: number
  readonly online: boolean
  readonly onlineRank: number
  readonly posRank: number
  /** A POS ticket open this long before it closed at createdAt (its lines' `rungUpAt`). */
  readonly ticketMs?: number
}

/** Slot of a base (generated-history) index. */
export const baseSlot = (w: World, i: number): OrderSlot => {
  const n = w.timeline.total
  const before = Math.floor((i * w.onlineCount) / n)
  const online = Math.floor(((i + 1) * w.onlineCount) / n) > before
  return { createdAt: w.timeline.createdAt(i), online, onlineRank: before, posRank: i - before }
}

/** Whether base index i is an online order (cheap: no generation). */
export const isOnlineIndex = (w: World, i: number): boolean => {
  const n = w.timeline.total
  return Math.floor(((i + 1) * w.onlineCount) / n) > Math.floor((i * w.onlineCount) / n)
}

const taxOf = (gross: number, r: Rate): number => Math.round((gross * r.num) / (r.den + r.num))

const qtyOf = (rng: Rng): number => {
  const u = rng.float()
  return u < 0.7 ? 1 : u < 0.9 ? 2 : u < 0.97 ? 3 : rng.range(4, 6)
}

/** Allocates `amount` across `weights` proportionally; the remainder goes to the largest weight. */
const allocate = (amount: number, weights: ReadonlyArray<number>): Array<number> => {
  const total = weights.reduce((a, b) => a + b, 0)
  const out = weights.map((x) => (total === 0 ? 0 : Math.floor((amount * x) / total)))
  let largest = 0
  for (let k = 1; k < weights.length; k++) if ((weights[k] ?? 0) > (weights[largest] ?? 0)) largest = k
  out[largest] = (out[largest] ?? 0) + amount - out.reduce((a, b) => a + b, 0)
  return out
}

/** How much of each line is still refundable after the refunds so far. */
export interface Remaining {
  readonly qty: Array<number>
  readonly gross: Array<number>
  readonly tax: Array<number>
  readonly shipping: number
}

/** Remaining refundable quantities and amounts of an order. */
export const remainingOf = (o: Order): Remaining => {
  const qty = o.lines.map((l) => l.quantity)
  const gross = o.lines.map((l) => l.unitPrice * l.quantity - l.discount)
  const tax = o.lines.map((l) => l.taxLines.reduce((a, t) => a + t.amount, 0))
  let shipping = o.shipping
  for (const r of o.refunds) {
    shipping -= r.shippingRefund
    for (const rl of r.lines) {
      const k = o.lines.findIndex((l) => l.id === rl.orderLineId)
      if (k < 0) continue
      qty[k] = (qty[k] ?? 0) - rl.quantity
      gross[k] = (gross[k] ?? 0) - rl.subtotal
      tax[k] = (tax[k] ?? 0) - rl.tax
    }
  }
  return { qty, gross, tax, shipping }
}

/**
 * Builds refund number `r` of order index `i`. Amounts come out of what remains, and a refund of
 * the last units takes exactly the remainder, so refunds never exceed what was paid.
 */
export const buildRefund = (
  o: Order,
  i: number,
  r: number,
  at: number,
  picks: ReadonlyArray<{ readonly line: number; readonly qty: number }>,
  restock: boolean,
  shippingRefund: number,
  note: string | null,
  remaining: Remaining = remainingOf(o)
): Refund => {
  const refundId = IDS.refund + i * 4 + r
  const lines = picks.map((p, j) => {
    const line = o.lines[p.line]
    const left = remaining.qty[p.line] ?? 0
    const q = Math.min(p.qty, left)
    const subtotal =
      q === left ? (remaining.gross[p.line] ?? 0) : Math.round(((remaining.gross[p.line] ?? 0) * q) / left)
    const tax =
      q === left ? (remaining.tax[p.line] ?? 0) : Math.round(((remaining.tax[p.line] ?? 0) * q) / left)
    return {
      id: IDS.refundLine + refundId * 8 - IDS.refund * 8 + j,
      orderLineId: line?.id ?? 0,
      quantity: q,
      restock,
      locationId: o.locationId,
      subtotal,
      tax
    }
  })
  const amount = lines.reduce((a, l) => a + l.subtotal, 0) + shippingRefund
  return {
    id: refundId,
    createdAt: at,
    note,
    lines: lines.filter((l) => l.quantity > 0),
    shippingRefund,
    amount
  }
}

/** The refund transaction for refund number r. */
export const refundTransaction = (o: Order, i: number, r: number, refund: Refund): Transaction => {
  const parent = o.transactions.find((t) => t.kind === "sale" || t.kind === "capture")
  return {
    id: IDS.transaction + i * 8 + 2 + r,
    kind: "refund",
    status: "success",
    gateway: parent?.gateway ?? "manual",
    amount: refund.amount,
    createdAt: refund.createdAt,
    parentId: parent?.id ?? null
  }
}

const ONLINE_LINES = [0.4, 0.7, 0.88, 1]
const POS_LINES = [0.5, 0.8, 1]

/** Generates the order at index i from its slot, before any mutation. */
export const generateOrder = (w: World, i: number, slot: OrderSlot, malformed: boolean): Order => {
  const rng = new Rng(keyOf(w.options.seed, 1, i))
  const anchor = w.options.anchor
  const createdAt = slot.createdAt
  const online = slot.online
  let loc = WAREHOUSE
  if (!online) {
    const h = tokyoHour(createdAt)
    loc = h >= 10 && h < 20 && rng.chance(0.6) ? SHOP : CAFE
  }
  const location = w.locations[loc]
  const cafe = loc === CAFE

  // Lines: distinct variants drawn by popularity.
  const u = rng.float()
  const table = online || loc === SHOP ? ONLINE_LINES : POS_LINES
  let count = 1
  while (count < table.length && u >= (table[count - 1] ?? 1)) count++
  const chosen: Array<number> = []
  for (let tries = 0; chosen.length < count && tries < count * 4; tries++) {
    const k = cafe
      ? (w.cafeVariants[pickCumulative(w.cafeCum, rng.float())] ?? 0)
      : pickCumulative(w.onlineCum, rng.float())
    if (!chosen.includes(k)) chosen.push(k)
  }
  const qtys = chosen.map(() => qtyOf(rng))
  const list = chosen.map((k, j) => (w.variants[k]?.price ?? 0) * (qtys[j] ?? 1))

  // Discounts: codes online, an occasional staff discount at the till.
  let discountCode: string | null = null
  let discounts = chosen.map(() => 0)
  const du = rng.float()
  if (online && du < 0.12) {
    discountCode = "WELCOME10"
    discounts = list.map((x) => Math.floor(x / 10))
  } else if (online && du < 0.18) {
    discountCode = "MATCHA500"
    const listTotal = list.reduce((a, b) => a + b, 0)
    discounts = allocate(Math.min(w.fixedDiscount, listTotal), list)
  } else if (!online && du < 0.05) {
    discounts = list.map((x) => Math.floor(x / 10))
  }

  const lines: Array<OrderLine> = []
  let subtotal = 0
  let lineTax = 0
  let totalDiscounts = 0
  for (let j = 0; j < chosen.length; j++) {
    const variant = w.variants[chosen[j] ?? 0]
    if (variant === undefined) continue
    const qty = qtys[j] ?? 1
    const discount = discounts[j] ?? 0
    const gross = variant.price * qty - discount
    // Eat-in at the café is taxed at the standard rate even for food (Japanese and German rules).
    const rate = cafe || variant.taxClass === "standard" ? w.standard : w.reduced
    const tax = taxOf(gross, rate)
    const taxLines: Array<TaxLine> = [{ title: rate.title, rate: rate.rate, amount: tax }]
    lines.push({
      id: IDS.line + i * 8 + j,
      variantId: variant.id,
      sku: variant.sku,
      title: w.lineTitles[chosen[j] ?? 0] ?? variant.title,
      quantity: qty,
      unitPrice: variant.price,
      discount,
      taxLines
    })
    subtotal += gross
    lineTax += tax
    totalDiscounts += discount
  }

  const shipping = online && subtotal < w.freeShippingFrom ? w.shippingFee : 0
  const shippingTaxAmount = taxOf(shipping, w.standard)
  const shippingTax: ReadonlyArray<TaxLine> =
    shipping > 0 ? [{ title: w.standard.title, rate: w.standard.rate, amount: shippingTaxAmount }] : []
  const total = subtotal + shipping

  let customerId: number | null = null
  if (online && rng.chance(0.9)) {
    const known = customersBy(w, createdAt)
    if (known > 0) customerId = IDS.customer + rng.int(known) + 1
  }

  let presentmentCurrency = w.currency
  let presentmentRate = "1"
  if (online && rng.chance(0.12)) {
    presentmentCurrency = w.currency === "JPY" ? "USD" : "GBP"
    presentmentRate = w.currency === "JPY" ? "0.0067" : "0.86"
  }

  // Payments.
  const transactions: Array<Transaction> = []
  let paymentMethod: string | null = null
  const txBase = IDS.transaction + i * 8
  if (online) {
    const g = rng.float()
    const gateway = g < 0.85 ? "shopify_payments" : g < 0.95 ? "paypal" : "manual"
    if (rng.chance(0.2)) {
      transactions.push({
        id: txBase,
        kind: "authorization",
        status: "success",
        gateway,
        amount: total,
        createdAt,
        parentId: null
      })
      const captureAt = Math.min(createdAt + rng.range(1, 30) * HOUR_MS, Math.max(createdAt, anchor - 1))
      transactions.push({
        id: txBase + 1,
        kind: "capture",
        status: "success",
        gateway,
        amount: total,
        createdAt: captureAt,
        parentId: txBase
      })
    } else {
      transactions.push({
        id: txBase,
        kind: "sale",
        status: "success",
        gateway,
        amount: total,
        createdAt,
        parentId: null
      })
    }
  } else {
    const p = rng.float()
    paymentMethod = p < 0.35 ? "CASH" : p < 0.8 ? "CARD" : "IC"
    transactions.push({
      id: txBase,
      kind: "sale",
      status: "success",
      gateway: paymentMethod.toLowerCase(),
      amount: total,
      createdAt,
      parentId: null
    })
  }

  const fulfilLag = online ? rng.range(10, 36 * 60) * 60_000 : 0
  const updatedAt = Math.min(createdAt + fulfilLag, Math.max(createdAt, anchor - 1))
  const name = online ? `#${1001 + slot.onlineRank}` : `R${String(100001 + slot.posRank)}`
  const base: Order = {
    id: IDS.order + i,
    index: i,
    channel: online ? "online" : "pos",
    locationId: location?.id ?? 0,
    name,
    customerId,
    currency: w.currency,
    presentmentCurrency,
    presentmentRate,
    createdAt,
    processedAt: createdAt,
    ...(!online && slot.ticketMs !== undefined ? { rungUpAt: createdAt - slot.ticketMs } : {}),
    updatedAt,
    cancelledAt: null,
    cancelReason: null,
    businessDate: online ? tokyoDate(createdAt) : businessDate(createdAt, w.options.cutoverHour),
    lines,
    discountCode,
    shipping,
    shippingTax,
    subtotal,
    totalDiscounts,
    totalTax: lineTax + shippingTaxAmount,
    total,
    taxesIncluded: true,
    refunds: [],
    transactions,
    paymentMethod,
    deletedAt: null,
    malformed
  }

  // History already holds a few cancellations and refunds (only those dated before the anchor).
  const plan = baseRefundPlan(w, i, online, createdAt)
  if (plan?.kind === "cancel") {
    const picks = lines.map((l, k) => ({ line: k, qty: l.quantity }))
    const refund = buildRefund(base, i, 0, plan.at, picks, true, shipping, "Cancelled by customer")
    return {
      ...base,
      updatedAt: Math.max(updatedAt, plan.at),
      cancelledAt: plan.at,
      cancelReason: "customer",
      refunds: [refund],
      transactions: [...transactions, refundTransaction(base, i, 0, refund)]
    }
  }
  if (plan?.kind === "refund") {
    const r = plan.rng
    const k = r.int(lines.length)
    const line = lines[k]
    if (line !== undefined) {
      const restock = r.chance(online ? 0.7 : 0.9)
      const refund = buildRefund(
        base,
        i,
        0,
        plan.at,
        [{ line: k, qty: r.range(1, line.quantity) }],
        restock,
        0,
        online ? "Damaged in transit" : null
      )
      return {
        ...base,
        updatedAt: Math.max(updatedAt, plan.at),
        refunds: [refund],
        transactions: [...transactions, refundTransaction(base, i, 0, refund)]
      }
    }
  }
  return base
}

/** A refund or cancellation generated with the order (before any mutation). */
export interface BaseRefundPlan {
  readonly kind: "cancel" | "refund"
  readonly at: number
  /** The stream the remaining refund details are drawn from. */
  readonly rng: Rng
}

/**
 * Whether order i was refunded or cancelled in the generated history, and when. It has its own
 * random stream so emulators can find refunds in a time window without generating whole orders.
 */
export const baseRefundPlan = (
  w: World,
  i: number,
  online: boolean,
  createdAtOf: number | ((i: number) => number)
): BaseRefundPlan | null => {
  const rng = new Rng(keyOf(w.options.seed, 4, i))
  const anchor = w.options.anchor
  const ru = rng.float()
  // Most orders have no refund: decide that before paying for the creation time.
  const createdAt = () => (typeof createdAtOf === "number" ? createdAtOf : createdAtOf(i))
  if (online && ru < 0.01) {
    const at = createdAt() + rng.range(1, 20) * HOUR_MS
    return at < anchor ? { kind: "cancel", at, rng } : null
  }
  if ((online && ru < 0.06) || (!online && ru < 0.02)) {
    const at =
      createdAt() + (online ? rng.range(2, 12) * DAY_MS : rng.range(1, 72) * HOUR_MS) + rng.int(HOUR_MS)
    return at < anchor ? { kind: "refund", at, rng } : null
  }
  return null
}

/** Largest possible updatedAt − createdAt of an unmutated order (refunds up to 12 days + 1 h). */
export const MAX_BASE_UPDATE_LAG_MS = 13 * DAY_MS

/** The same bound for POS sales (till refunds within 72 h + 1 h). */
export const MAX_BASE_POS_UPDATE_LAG_MS = 4 * DAY_MS
