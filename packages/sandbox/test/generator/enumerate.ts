/**
 * An independent, brute-force recomputation of the ground truth by enumerating every record. The
 * generator's own Ledger is incremental; tests compare the two.
 */
import type { Merchant } from "../../src/internal/Merchant.js"

const DAY = 86_400_000
const tokyo = (t: number, cutover: number) =>
  new Date(Math.floor((t + 9 * 3_600_000 - cutover * 3_600_000) / DAY) * DAY).toISOString().slice(0, 10)

/** Full enumeration of counts, revenue and expected stock. */
export const enumerate = (m: Merchant) => {
  const counts = {
    onlineOrders: 0,
    posSales: 0,
    orderLines: 0,
    refunds: 0,
    transactions: 0,
    deletedOrders: 0,
    malformedShopify: 0,
    malformedLightspeed: 0
  }
  const revenue = new Map<
    string,
    { orders: number; units: number; gross: number; tax: number; refunds: number }
  >()
  const stock = new Map<string, number>()
  const bump = (variantId: number, locationId: number, q: number) => {
    const key = `${variantId}@${locationId}`
    stock.set(key, (stock.get(key) ?? 0) + q)
  }
  const row = (key: string) => {
    let r = revenue.get(key)
    if (r === undefined) {
      r = { orders: 0, units: 0, gross: 0, tax: 0, refunds: 0 }
      revenue.set(key, r)
    }
    return r
  }
  for (const po of m.purchaseOrders)
    for (const l of po.lines) if (l.received) bump(l.variantId, po.locationId, l.quantity)
  for (const a of m.stockAdjustments) for (const it of a.items) bump(it.variantId, a.locationId, it.quantity)
  for (const t of m.stockTransfers) {
    for (const it of t.items) {
      if (t.sentAt !== null) bump(it.variantId, t.fromLocationId, -it.quantity)
      if (t.receivedAt !== null) bump(it.variantId, t.toLocationId, it.quantity)
    }
  }
  for (let i = 0; i < m.orderCount; i++) {
    const o = m.orderAt(i)
    if (o === undefined) throw new Error(`missing order ${i}`)
    for (const l of o.lines) bump(l.variantId, o.locationId, -l.quantity)
    for (const r of o.refunds) {
      for (const rl of r.lines) {
        const line = o.lines.find((l) => l.id === rl.orderLineId)
        if (rl.restock && line) bump(line.variantId, rl.locationId, rl.quantity)
      }
    }
    if (o.malformed) {
      if (o.channel === "online") counts.malformedShopify++
      else counts.malformedLightspeed++
      continue
    }
    if (o.deletedAt !== null) {
      counts.deletedOrders++
      continue
    }
    if (o.channel === "online") counts.onlineOrders++
    else counts.posSales++
    counts.orderLines += o.lines.length
    counts.refunds += o.refunds.length
    counts.transactions += o.transactions.length
    const r = row(`${o.businessDate}|${o.channel}|${o.locationId}`)
    r.orders++
    r.units += o.lines.reduce((a, l) => a + l.quantity, 0)
    r.gross += o.total
    r.tax += o.totalTax
    for (const rf of o.refunds) {
      const date = tokyo(rf.createdAt, o.channel === "pos" ? m.options.cutoverHour : 0)
      row(`${date}|${o.channel}|${o.locationId}`).refunds += rf.amount
    }
  }
  return { counts, revenue, stock }
}
