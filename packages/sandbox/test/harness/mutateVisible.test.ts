// `mutate` must be visible through every API that would show it: reading the emulators over plain
// HTTP, the way an incremental pipeline does, must explain the ground truth's change exactly.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { businessDate } from "../../src/internal/generator/calendar.js"
import type { GroundTruth } from "../../src/internal/Merchant.js"
import { type Sandbox, startSandbox } from "../../src/startSandbox.js"

interface KSale {
  accountFiscId: string
  type: string
  timeofCloseAndPaid: string
  salesLines: Array<{
    sku: string
    quantity: string
    totalNetAmountWithTax: string
    voidReason: string | null
  }>
  payments: Array<{ netAmountWithTax: string }>
}
interface RestRefund {
  created_at: string
  refund_line_items: Array<{
    quantity: number
    restock_type: string
    location_id: number | null
    line_item: { sku: string }
  }>
}
interface RestOrder {
  id: number
  refunds: Array<RestRefund>
}

const minor = (s: string) => Math.round(Number(s))
const cellKey = (sku: string, locationId: number) => `${sku}@${locationId}`
const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v)

describe("mutate reaches every API", () => {
  let sb: Sandbox
  let lsToken = ""
  beforeAll(async () => {
    sb = await startSandbox({
      seed: 23,
      scale: 600,
      historyDays: 30,
      malformedPerSource: 0,
      lightspeed: { rateLimit: null },
      shopify: {}
    })
    const res = await fetch(sb.lightspeed.credentials.tokenUrl, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${sb.lightspeed.credentials.clientId}:${sb.lightspeed.credentials.clientSecret}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded"
      },
      body: new URLSearchParams({
        grant_type: "refresh_token",
        refresh_token: sb.lightspeed.credentials.refreshToken
      })
    })
    lsToken = ((await res.json()) as { access_token: string }).access_token
  })
  afterAll(() => sb.close())

  const ls = async (path: string) => {
    const res = await fetch(`${sb.lightspeed.baseUrl}${path}`, {
      headers: { authorization: `Bearer ${lsToken}` }
    })
    expect(res.status).toBe(200)
    return (await res.json()) as { sales: Array<KSale> }
  }
  const shopifyRest = async (path: string) => {
    const c = sb.shopify.credentials
    const res = await fetch(`${sb.shopify.baseUrl}/admin/api/${c.apiVersion}/${path}`, {
      headers: { "x-shopify-access-token": c.accessToken }
    })
    expect(res.status).toBe(200)
    return res
  }
  /** V1 dailyFinancials of one business day at every POS location, keyed by accountFiscId. */
  const kDay = async (date: string) => {
    const out = new Map<string, { sale: KSale; locationId: number }>()
    for (const loc of sb.merchant.locations) {
      if (loc.lightspeedBlId === null) continue
      const body = await ls(`/f/finance/${loc.lightspeedBlId}/dailyFinancials?date=${date}&include=payments`)
      for (const s of body.sales) out.set(s.accountFiscId, { sale: s, locationId: loc.id })
    }
    return out
  }

  it("an incremental read after mutate (K-Series V1 day, Shopify orders and inventory_levels by updated_at) explains the stock and revenue change exactly", async () => {
    const m = sb.merchant
    const cutover = m.options.cutoverHour
    const before: GroundTruth = sb.groundTruth()
    const t0 = Date.now()
    const today = businessDate(Math.max(t0, m.options.anchor), cutover)
    const dayBefore = await kDay(today)
    const touched = sb.mutate({ fraction: 0.3 })
    const after: GroundTruth = sb.groundTruth()
    const posTouched = touched.filter((i) => m.orderAt(i)?.channel === "pos")
    expect(posTouched.length).toBeGreaterThan(10)

    const stock = new Map<string, number>()
    const refunds = new Map<string, number>()
    // K-Series: refunds made today are new REFUND accounts in today's business day.
    const mutateDay = businessDate(Math.max(Date.now(), m.options.anchor), cutover)
    const dayAfter = await kDay(mutateDay)
    let posRefunds = 0
    for (const [id, { sale, locationId }] of dayAfter) {
      if (dayBefore.has(id) && mutateDay === today) continue
      expect(sale.type).toBe("REFUND")
      posRefunds++
      for (const l of sale.salesLines)
        if (l.voidReason === null) add(stock, cellKey(l.sku, locationId), -Number(l.quantity))
      add(
        refunds,
        `${mutateDay}|pos|${locationId}`,
        -sale.payments.reduce((a, p) => a + minor(p.netAmountWithTax), 0)
      )
    }
    expect(posRefunds).toBeGreaterThan(0)
    // Shopify: orders updated since t0 (REST, paged by Link) with the refunds created since t0.
    let next: string | null =
      `orders.json?status=any&limit=250&updated_at_min=${encodeURIComponent(new Date(t0 - 1000).toISOString())}`
    while (next !== null) {
      const res = await shopifyRest(next)
      for (const o of ((await res.json()) as { orders: Array<RestOrder> }).orders)
        for (const r of o.refunds) {
          // REST timestamps carry whole seconds.
          if (Date.parse(r.created_at) < Math.floor(t0 / 1000) * 1000) continue
          for (const rl of r.refund_line_items)
            if (rl.restock_type !== "no_restock" && rl.location_id !== null)
              add(stock, cellKey(rl.line_item.sku, rl.location_id), rl.quantity)
        }
      next =
        /<[^>]*\/admin\/api\/[^/]+\/([^>]+)>; rel="next"/.exec(res.headers.get("link") ?? "")?.[1] ?? null
    }

    // Ground truth: expected stock moved exactly as the APIs say.
    const expectedMove = new Map<string, number>()
    const onHandBefore = new Map(before.expectedStock.map((c) => [cellKey(c.sku, c.locationId), c.onHand]))
    for (const c of after.expectedStock) {
      const d = c.onHand - (onHandBefore.get(cellKey(c.sku, c.locationId)) ?? 0)
      if (d !== 0) expectedMove.set(cellKey(c.sku, c.locationId), d)
    }
    expect(expectedMove.size).toBeGreaterThan(0)
    const observedMove = new Map([...stock].filter(([, v]) => v !== 0))
    expect(Object.fromEntries([...observedMove].sort())).toEqual(Object.fromEntries([...expectedMove].sort()))

    // Shopify's incremental inventory read (updated_at_min) names exactly the cells that moved.
    const skuOfItem = new Map(m.variants.map((v) => [v.inventoryItemId, v.sku]))
    const changedCells = new Set<string>()
    let page: string | null =
      `inventory_levels.json?limit=250&location_ids=${m.locations.map((l) => l.id).join(",")}&updated_at_min=${encodeURIComponent(new Date(Math.floor(t0 / 1000) * 1000).toISOString())}`
    while (page !== null) {
      const res = await shopifyRest(page)
      const body = (await res.json()) as {
        inventory_levels: Array<{ inventory_item_id: number; location_id: number }>
      }
      for (const lvl of body.inventory_levels)
        changedCells.add(cellKey(skuOfItem.get(lvl.inventory_item_id) ?? "?", lvl.location_id))
      page =
        /<[^>]*\/admin\/api\/[^/]+\/([^>]+)>; rel="next"/.exec(res.headers.get("link") ?? "")?.[1] ?? null
    }
    expect([...changedCells].sort()).toEqual([...expectedMove.keys()].sort())

    // Ground truth: the POS refund revenue moved exactly by the new REFUND accounts, on the day made.
    const refundsOf = (gt: GroundTruth) =>
      new Map(gt.revenueByDay.map((r) => [`${r.businessDate}|${r.channel}|${r.locationId}`, r.refunds]))
    const rb = refundsOf(before)
    const ra = refundsOf(after)
    const moved = new Map<string, number>()
    for (const k of new Set([...rb.keys(), ...ra.keys()])) {
      const d = (ra.get(k) ?? 0) - (rb.get(k) ?? 0)
      if (d !== 0 && k.includes("|pos|")) moved.set(k, d)
    }
    const posObserved = new Map([...refunds].filter(([, v]) => v !== 0))
    expect(Object.fromEntries([...posObserved].sort())).toEqual(Object.fromEntries([...moved].sort()))
  })

  it("after mutate, K-Series V1 days tie out to the ground truth's POS revenue per business day", async () => {
    const gt = sb.groundTruth()
    const rows = gt.revenueByDay.filter((r) => r.channel === "pos")
    const dates = [...new Set(rows.map((r) => r.businessDate))]
    const seen = new Map<string, { orders: number; gross: number; refunds: number }>()
    for (const date of dates) {
      for (const { sale, locationId } of (await kDay(date)).values()) {
        const k = `${date}|${locationId}`
        const v = seen.get(k) ?? { orders: 0, gross: 0, refunds: 0 }
        const amount = sale.payments.reduce((a, p) => a + minor(p.netAmountWithTax), 0)
        if (sale.type === "REFUND") v.refunds -= amount
        else if (!Number.isNaN(Number(sale.salesLines[0]?.totalNetAmountWithTax))) {
          v.orders++
          v.gross += amount
        }
        seen.set(k, v)
      }
    }
    for (const r of rows)
      expect({
        key: `${r.businessDate}|${r.locationId}`,
        ...seen.get(`${r.businessDate}|${r.locationId}`)
      }).toEqual({
        key: `${r.businessDate}|${r.locationId}`,
        orders: r.orders,
        gross: r.gross,
        refunds: r.refunds
      })
    expect(rows.length).toBeGreaterThan(10)
  })

  it("after mutate, the observed inventory (what Shopify serves as on_hand) is the expected stock plus the injected discrepancies", () => {
    const gt = sb.groundTruth()
    const injected = new Map<string, number>()
    for (const d of gt.discrepancies) add(injected, cellKey(d.sku, d.locationId), d.delta)
    for (const c of gt.expectedStock) {
      const q = sb.merchant.inventory(c.variantId, c.locationId)
      expect(q.onHand - (injected.get(cellKey(c.sku, c.locationId)) ?? 0)).toBe(c.onHand)
    }
  })
})
