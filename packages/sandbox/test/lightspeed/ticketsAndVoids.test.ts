// Open tickets and voids, as K-Series shows them and as the ground truth knows them: a ticket left
// open has its lines rung up (`timeofSale`) well before the account closes; a void is a new VOID
// account linking back to the sale, whose reason says whether the goods went back on the shelf.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { businessDate } from "../../src/internal/generator/calendar.js"
import { makeMerchant } from "../../src/internal/generator/makeMerchant.js"
import type { GroundTruth } from "../../src/internal/Merchant.js"
import { type Sandbox, startSandbox } from "../../src/startSandbox.js"

interface KSale {
  accountReference: string
  type: string
  voidReason: string | null
  timeofOpening: string
  timeofCloseAndPaid: string
  source: { initialAccountId: string; previousAccountId?: string }
  salesLines: Array<{ sku: string; quantity: string; timeofSale: string; voidReason: string | null }>
}

const TICKET_MS = 40 * 60_000
const cellKey = (sku: string, locationId: number) => `${sku}@${locationId}`

describe("open tickets and voids (K-Series)", () => {
  let sb: Sandbox
  let token = ""
  let before: GroundTruth
  let after: GroundTruth
  const sales = new Map<string, { sale: KSale; locationId: number }>()

  beforeAll(async () => {
    sb = await startSandbox({ seed: 23, scale: 300, historyDays: 10, lightspeed: { rateLimit: null } })
    const c = sb.lightspeed.credentials
    const res = await fetch(c.tokenUrl, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${c.clientId}:${c.clientSecret}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded"
      },
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: c.refreshToken })
    })
    token = ((await res.json()) as { access_token: string }).access_token
    sb.createOrders(30, { posTicketMs: TICKET_MS })
    before = sb.groundTruth()
    sb.voidSales(8)
    after = sb.groundTruth()
    const m = sb.merchant
    const dates = new Set(
      [...after.posTickets.map((t) => t.closedAt), ...after.voids.map((v) => v.at)].map((t) =>
        businessDate(t, m.options.cutoverHour)
      )
    )
    for (const date of dates)
      for (const loc of m.locations) {
        if (loc.lightspeedBlId === null) continue
        const r = await fetch(
          `${sb.lightspeed.baseUrl}/f/finance/${loc.lightspeedBlId}/dailyFinancials?date=${date}`,
          {
            headers: { authorization: `Bearer ${token}` }
          }
        )
        expect(r.status).toBe(200)
        for (const s of ((await r.json()) as { sales: Array<KSale> }).sales)
          sales.set(s.accountReference, { sale: s, locationId: loc.id })
      }
  }, 120_000)
  afterAll(() => sb.close())

  /** The SALE account of an order (ids follow indexes): at its location, closed when it was. */
  const saleOf = (orderId: number) => {
    const m = sb.merchant
    const o = m.orderAt(orderId - (m.orderAt(0)?.id ?? 0))
    return [...sales.values()].find(
      (s) =>
        s.sale.type === "SALE" &&
        s.sale.source.initialAccountId === s.sale.accountReference &&
        s.locationId === o?.locationId &&
        Date.parse(s.sale.timeofCloseAndPaid) === o?.createdAt
    )
  }

  it("a ticket left open has its lines rung up when it opened, not a minute before it closed", () => {
    expect(after.posTickets.length).toBeGreaterThan(3)
    for (const t of after.posTickets) {
      expect(t.closedAt - t.rungUpAt).toBe(TICKET_MS)
      // Stock leaves at the close by default.
      expect(t.stockMovedAt).toBe(t.closedAt)
      const found = saleOf(t.orderId)
      expect(found, `ticket of order ${t.orderId}`).toBeDefined()
      const sale = found!.sale
      expect(Date.parse(sale.timeofCloseAndPaid)).toBe(t.closedAt)
      expect(Date.parse(sale.timeofOpening)).toBeLessThanOrEqual(t.rungUpAt)
      for (const l of sale.salesLines) expect(Date.parse(l.timeofSale)).toBe(t.rungUpAt)
      expect(sale.salesLines.map((l) => [l.sku, Number(l.quantity)]).sort()).toEqual(
        t.lines.map((l) => [l.sku, l.quantity]).sort()
      )
    }
  })

  it("a void is a VOID account linking back to the sale, with its reason; only User Mistake restocks", () => {
    expect(after.voids.length).toBe(8)
    expect(after.voids.some((v) => v.restocked)).toBe(true)
    expect(after.voids.some((v) => !v.restocked)).toBe(true)
    const voidAccounts = [...sales.values()].filter((s) => s.sale.type === "VOID")
    expect(voidAccounts.length).toBe(after.voids.length)
    const expectedMove = new Map<string, number>()
    for (const v of after.voids) {
      expect(v.restocked).toBe(v.reason === "User Mistake")
      const account = voidAccounts.find(
        (s) =>
          Date.parse(s.sale.timeofCloseAndPaid) === v.at &&
          s.sale.voidReason === v.reason &&
          s.locationId === v.locationId &&
          s.sale.salesLines
            .map((l) => [l.sku, -Number(l.quantity)])
            .sort()
            .join() ===
            v.lines
              .map((l) => [l.sku, l.quantity])
              .sort()
              .join()
      )
      expect(account, `void of order ${v.orderId}`).toBeDefined()
      const sale = account!.sale
      // It links back to the voided sale's own account.
      expect(sale.source.initialAccountId).not.toBe(sale.accountReference)
      for (const l of sale.salesLines) {
        expect(l.voidReason).toBe(v.reason)
        expect(Number(l.quantity)).toBeLessThan(0)
      }
      if (v.restocked)
        for (const l of v.lines)
          expectedMove.set(
            cellKey(l.sku, v.locationId),
            (expectedMove.get(cellKey(l.sku, v.locationId)) ?? 0) + l.quantity
          )
    }
    // The ground truth's stock moved by exactly the restocked voids' lines.
    const onHand = new Map(before.expectedStock.map((c) => [cellKey(c.sku, c.locationId), c.onHand]))
    const moved = new Map<string, number>()
    for (const c of after.expectedStock) {
      const d = c.onHand - (onHand.get(cellKey(c.sku, c.locationId)) ?? 0)
      if (d !== 0) moved.set(cellKey(c.sku, c.locationId), d)
    }
    expect(Object.fromEntries([...moved].sort())).toEqual(
      Object.fromEntries([...expectedMove].filter(([, q]) => q !== 0).sort())
    )
  })

  it("with posStockMovesAt ringUp, a ticket's stock moved when its lines were rung up", () => {
    const anchor = Date.parse("2026-06-15T00:00:00Z")
    const m = makeMerchant({
      seed: 5,
      orders: 50,
      anchor,
      historyDays: 5,
      tax: "jp",
      discrepancies: 0,
      malformedPerSource: 0,
      cutoverHour: 5,
      posStockMovesAt: "ringUp"
    })
    m.createOrders({ count: 20, now: anchor + 3_600_000, posTicketMs: 600_000 })
    const tickets = m.groundTruth().posTickets
    expect(tickets.length).toBeGreaterThan(0)
    for (const t of tickets) expect(t.stockMovedAt).toBe(t.rungUpAt)
  })
})
