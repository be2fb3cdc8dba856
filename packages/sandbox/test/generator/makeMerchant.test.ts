import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { describe, expect, it } from "vitest"
import { defaultMerchantOptions, makeMerchant } from "../../src/internal/generator/makeMerchant.js"
import type { MerchantOptions } from "../../src/internal/Merchant.js"
import { enumerate } from "./enumerate.js"

const ANCHOR = Date.UTC(2026, 10, 26)
const opts = (over: Partial<MerchantOptions> = {}): MerchantOptions => ({
  ...defaultMerchantOptions(ANCHOR),
  orders: 500,
  discrepancies: 6,
  malformedPerSource: 2,
  ...over
})

describe("makeMerchant: determinism", () => {
  it("same seed and anchor give identical records; another seed differs", () => {
    const a = makeMerchant(opts())
    const b = makeMerchant(opts())
    const c = makeMerchant(opts({ seed: 7 }))
    expect(a.orderCount).toBe(b.orderCount)
    for (const i of [0, 1, 17, 399, a.orderCount - 1]) expect(a.orderAt(i)).toEqual(b.orderAt(i))
    expect(a.customerAt(3)).toEqual(b.customerAt(3))
    expect(a.purchaseOrders).toEqual(b.purchaseOrders)
    expect(a.groundTruth()).toEqual(b.groundTruth())
    let same = 0
    for (let i = 0; i < 50; i++) if (JSON.stringify(a.orderAt(i)) === JSON.stringify(c.orderAt(i))) same++
    expect(same).toBeLessThan(5)
    expect(c.groundTruth().revenueByDay).not.toEqual(a.groundTruth().revenueByDay)
  })

  it("order i does not depend on which orders were generated before", () => {
    const a = makeMerchant(opts())
    const b = makeMerchant(opts())
    const late = a.orderAt(321)
    for (let i = 0; i < 321; i++) b.orderAt(i)
    expect(b.orderAt(321)).toEqual(late)
  })
})

describe("makeMerchant: the order sequence", () => {
  it("has exactly `orders` online orders, createdAt ascending, and binary search by time", () => {
    const m = makeMerchant(opts({ orders: 800 }))
    let online = 0
    let prev = -Infinity
    for (let i = 0; i < m.orderCount; i++) {
      const o = m.orderAt(i)
      if (o === undefined) throw new Error("hole")
      if (o.channel === "online") online++
      expect(m.orderChannelAt(i)).toBe(o.channel)
      expect(o.createdAt).toBeGreaterThanOrEqual(prev)
      expect(o.createdAt).toBeLessThan(ANCHOR)
      expect(o.index).toBe(i)
      prev = o.createdAt
    }
    expect(online).toBe(800)
    expect(m.orderAt(m.orderCount)).toBeUndefined()
    for (const i of [0, 5, 250, m.orderCount - 1]) {
      const t = m.orderAt(i)?.createdAt ?? 0
      const j = m.orderIndexAtOrAfter(t)
      expect(m.orderAt(j)?.createdAt).toBe(t)
      expect(j === 0 || (m.orderAt(j - 1)?.createdAt ?? 0) < t).toBe(true)
    }
    expect(m.orderIndexAtOrAfter(ANCHOR)).toBe(m.orderCount)
  })

  it("keeps money exact: lines, taxes, totals and refunds add up", () => {
    const m = makeMerchant(opts())
    for (let i = 0; i < m.orderCount; i++) {
      const o = m.orderAt(i)
      if (o === undefined) continue
      const lineGross = o.lines.reduce((a, l) => a + l.unitPrice * l.quantity - l.discount, 0)
      expect(o.subtotal).toBe(lineGross)
      expect(o.total).toBe(o.subtotal + o.shipping)
      expect(o.totalDiscounts).toBe(o.lines.reduce((a, l) => a + l.discount, 0))
      const tax =
        o.lines.reduce((a, l) => a + l.taxLines.reduce((b, t) => b + t.amount, 0), 0) +
        o.shippingTax.reduce((a, t) => a + t.amount, 0)
      expect(o.totalTax).toBe(tax)
      const refunded = o.refunds.reduce((a, r) => a + r.amount, 0)
      expect(refunded).toBeLessThanOrEqual(o.total)
      for (const r of o.refunds)
        expect(r.amount).toBe(r.lines.reduce((a, l) => a + l.subtotal, 0) + r.shippingRefund)
      for (const v of [o.total, o.totalTax, o.subtotal]) expect(Number.isInteger(v)).toBe(true)
      expect(o.transactions.filter((t) => t.kind === "refund").length).toBe(o.refunds.length)
    }
  })

  it("baseRefundAt tells a generated refund's time without generating the order", () => {
    const m = makeMerchant(opts({ orders: 3000 }))
    let refunded = 0
    for (let i = 0; i < m.orderCount; i++) {
      const o = m.orderAt(i)
      const at = m.baseRefundAt(i)
      expect(at).toBe(o?.refunds[0]?.createdAt ?? null)
      if (at !== null) refunded++
    }
    expect(refunded).toBeGreaterThan(30)
    expect(m.baseRefundAt(-1)).toBeNull()
  })

  it("dates POS sales after midnight and before the cutover to the previous business day", () => {
    const m = makeMerchant(opts({ orders: 3000 }))
    let lateNight = 0
    for (let i = 0; i < m.orderCount; i++) {
      const o = m.orderAt(i)
      if (o === undefined || o.channel !== "pos") continue
      const localHour = new Date(o.createdAt + 9 * 3_600_000).getUTCHours()
      const localDate = new Date(o.createdAt + 9 * 3_600_000).toISOString().slice(0, 10)
      if (localHour < 5) {
        lateNight++
        expect(o.businessDate < localDate).toBe(true)
        expect(o.locationId).toBe(m.locations[2]?.id)
      } else {
        expect(o.businessDate).toBe(localDate)
      }
    }
    expect(lateNight).toBeGreaterThan(0)
  })

  it("uses EU VAT and EUR when asked", () => {
    const m = makeMerchant(opts({ tax: "eu" }))
    const o = m.orderAt(10)
    expect(o?.currency).toBe("EUR")
    const rates = new Set(m.orderAt(10)?.lines.flatMap((l) => l.taxLines.map((t) => t.rate)))
    for (const r of rates) expect(["0.07", "0.19"]).toContain(r)
  })

  it("rejects bad options with a message naming the field", () => {
    expect(() => makeMerchant(opts({ orders: -1 }))).toThrow(/MerchantOptions\.orders/)
    expect(() => makeMerchant(opts({ cutoverHour: 30 }))).toThrow(/MerchantOptions\.cutoverHour/)
  })
})

describe("makeMerchant: ground truth and inventory", () => {
  it("ground-truth counts and revenue match a full enumeration", () => {
    const m = makeMerchant(opts())
    const gt = m.groundTruth()
    const e = enumerate(m)
    expect(gt.counts.onlineOrders).toBe(e.counts.onlineOrders)
    expect(gt.counts.posSales).toBe(e.counts.posSales)
    expect(gt.counts.orderLines).toBe(e.counts.orderLines)
    expect(gt.counts.refunds).toBe(e.counts.refunds)
    expect(gt.counts.transactions).toBe(e.counts.transactions)
    expect(gt.counts.inventoryLevels).toBe(gt.expectedStock.length)
    expect(gt.counts.stockAdjustmentItems).toBe(m.stockAdjustments.reduce((a, x) => a + x.items.length, 0))
    expect(gt.counts.malformed).toEqual({ shopify: 2, lightspeed: 2, stocky: 2 })
    expect(e.counts.malformedShopify).toBe(2)
    expect(e.counts.malformedLightspeed).toBe(2)
    expect(gt.counts.onlineOrders + gt.counts.malformed.shopify).toBe(500)
    expect(gt.revenueByDay.length).toBe(e.revenue.size)
    for (const r of gt.revenueByDay) {
      const x = e.revenue.get(`${r.businessDate}|${r.channel}|${r.locationId}`)
      expect({ orders: r.orders, units: r.units, gross: r.gross, tax: r.tax, refunds: r.refunds }).toEqual(x)
    }
  })

  it("inventory: expected = movements, observed = expected + injected deltas exactly", () => {
    const m = makeMerchant(opts({ discrepancies: 12 }))
    const gt = m.groundTruth()
    const e = enumerate(m)
    expect(gt.discrepancies.length).toBe(12)
    const injected = new Map<string, number>()
    for (const d of gt.discrepancies)
      injected.set(
        `${d.variantId}@${d.locationId}`,
        (injected.get(`${d.variantId}@${d.locationId}`) ?? 0) + d.delta
      )
    let nonZero = 0
    for (const s of gt.expectedStock) {
      const key = `${s.variantId}@${s.locationId}`
      expect(s.onHand).toBe(e.stock.get(key) ?? 0)
      const observed = m.inventory(s.variantId, s.locationId)
      expect(observed.onHand).toBe(s.onHand + (injected.get(key) ?? 0))
      expect(
        observed.available +
          observed.committed +
          observed.reserved +
          observed.damaged +
          observed.safetyStock +
          observed.qualityControl
      ).toBe(observed.onHand)
      if (s.onHand !== 0) nonZero++
      expect(s.onHand).toBeGreaterThanOrEqual(0)
    }
    expect(nonZero).toBeGreaterThan(gt.expectedStock.length / 2)
    for (const d of gt.discrepancies) expect(m.stocked(d.variantId, d.locationId)).toBe(true)
  })

  it("keeps expected stock non-negative across scales, seeds and history lengths", () => {
    const cases: Array<[number, number, number]> = []
    for (const seed of [1, 2, 3])
      for (const historyDays of [1, 30, 365]) cases.push([100, seed, historyDays], [2000, seed, historyDays])
    cases.push([20_000, 1, 1], [20_000, 2, 30])
    for (const [orders, seed, historyDays] of cases) {
      const gt = makeMerchant(opts({ orders, seed, historyDays, malformedPerSource: 0 })).groundTruth()
      const negative = gt.expectedStock.filter((s) => s.onHand < 0)
      expect(negative, `orders=${orders} seed=${seed} days=${historyDays}`).toEqual([])
    }
  })

  it("keeps Stocky records before the shutdown and marks later ones Shopify-native", () => {
    const m = makeMerchant(opts())
    const shutdown = Date.UTC(2026, 8, 1) - 9 * 3_600_000
    expect(m.purchaseOrders.some((p) => p.system === "stocky")).toBe(true)
    expect(m.purchaseOrders.some((p) => p.system === "shopify")).toBe(true)
    for (const p of m.purchaseOrders) expect(p.system).toBe(p.createdAt < shutdown ? "stocky" : "shopify")
    for (const t of m.stockTransfers) expect(t.system).toBe(t.createdAt < shutdown ? "stocky" : "shopify")
  })
})

describe("makeMerchant: mutations", () => {
  it("mutate changes exactly the requested fraction and the ground truth follows", () => {
    const m = makeMerchant(opts())
    m.groundTruth() // warm the cache so the incremental path is the one under test
    const before = Array.from({ length: m.orderCount }, (_, i) => JSON.stringify(m.orderAt(i)))
    const now = ANCHOR + 3_600_000
    const touched = m.mutate({ fraction: 0.1, now })
    expect(touched.length).toBe(Math.round(0.1 * m.orderCount))
    const set = new Set(touched)
    for (let i = 0; i < m.orderCount; i++) {
      const after = m.orderAt(i)
      if (set.has(i)) {
        expect(after?.updatedAt).toBe(now)
        expect(JSON.stringify(after)).not.toBe(before[i])
      } else {
        expect(JSON.stringify(after)).toBe(before[i])
      }
    }
    expect(m.mutatedOrderIndexes(now, now + 1)).toEqual([...touched].sort((a, b) => a - b))
    expect(m.mutatedOrderIndexes(0, now)).toEqual([])
    const gt = m.groundTruth()
    const e = enumerate(m)
    expect(gt.counts.onlineOrders).toBe(e.counts.onlineOrders)
    expect(gt.counts.refunds).toBe(e.counts.refunds)
    expect(gt.counts.deletedOrders).toBe(e.counts.deletedOrders)
    expect(gt.counts.deletedOrders).toBe(m.deletions().length)
    for (const s of gt.expectedStock)
      expect(s.onHand).toBe(e.stock.get(`${s.variantId}@${s.locationId}`) ?? 0)
    for (const r of gt.revenueByDay) {
      const x = e.revenue.get(`${r.businessDate}|${r.channel}|${r.locationId}`)
      expect({ orders: r.orders, units: r.units, gross: r.gross, tax: r.tax, refunds: r.refunds }).toEqual(x)
    }
    // A fresh merchant mutated the same way reaches the same state (mutations are seeded too).
    const twin = makeMerchant(opts())
    twin.mutate({ fraction: 0.1, now })
    expect(twin.groundTruth()).toEqual(gt)
  })

  it("createOrders appends orders after the history and counts them", () => {
    const m = makeMerchant(opts())
    const n0 = m.orderCount
    const gt0 = m.groundTruth()
    const now = ANCHOR + 7_200_000
    const idx = m.createOrders({ count: 20, now })
    expect(idx).toEqual(Array.from({ length: 20 }, (_, k) => n0 + k))
    expect(m.orderCount).toBe(n0 + 20)
    const created = idx.map((i) => m.orderAt(i))
    for (const o of created) expect(o?.createdAt).toBeGreaterThanOrEqual(now)
    const gt = m.groundTruth()
    expect(gt.counts.onlineOrders + gt.counts.posSales).toBe(
      gt0.counts.onlineOrders + gt0.counts.posSales + 20
    )
    expect(m.orderIndexAtOrAfter(now)).toBe(n0)
    const names = new Set(created.map((o) => o?.name))
    expect(names.size).toBe(20)
  })
})

describe("makeMerchant: lazy memory", () => {
  it("generates 1,000,000 orders via orderAt without the heap growing", () => {
    const m = makeMerchant(opts({ orders: 1_000_000 }))
    // Retained heap, after a full GC: heapUsed alone also counts garbage not yet collected, which
    // varies run to run (CI once saw 66 MiB of it).
    setFlagsFromString("--expose-gc")
    const gc = runInNewContext("gc") as () => void
    gc()
    const heap0 = process.memoryUsage().heapUsed
    let units = 0
    for (let i = 0; i < 1_000_000; i++) units += m.orderAt(i)?.lines.length ?? 0
    gc()
    const grown = process.memoryUsage().heapUsed - heap0
    expect(units).toBeGreaterThan(1_000_000)
    // Retaining the orders would take well over 1 GB; lazily generated they are garbage at once.
    expect(grown).toBeLessThan(64 * 1024 * 1024)
  })
})
