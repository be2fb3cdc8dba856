import { afterAll, describe, expect, it } from "vitest"
import { makeClock } from "../../src/internal/clock.js"
import { makeFaultInjector } from "../../src/internal/faults/FaultInjector.js"
import { defaultMerchantOptions, makeMerchant } from "../../src/internal/generator/makeMerchant.js"
import type { PurchaseOrder } from "../../src/internal/model.js"
import {
  type StockyEmulatorHandle,
  startStockyEmulator
} from "../../src/internal/stocky/startStockyEmulator.js"
import { startSandbox } from "../../src/startSandbox.js"

const ANCHOR = Date.UTC(2026, 10, 26)
const HOUR = 3_600_000

/** "DD/MM/YYYY HH:MM" of an instant shifted by a fixed offset (Tokyo has no DST). */
const local = (t: number, offsetHours: number): string => {
  const d = new Date(t + offsetHours * HOUR)
  const p = (n: number) => String(n).padStart(2, "0")
  return `${p(d.getUTCDate())}/${p(d.getUTCMonth() + 1)}/${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}`
}

describe("Stocky emulator: local timestamps in the store's zone, scaled Retry-After", () => {
  const merchant = makeMerchant({ ...defaultMerchantOptions(ANCHOR), orders: 200 })
  const open: Array<{ close(): Promise<void> }> = []
  afterAll(async () => {
    for (const h of open) await h.close()
  })

  const purchaseOrders = async (baseUrl: string, storeName: string, apiKey: string) => {
    const res = await fetch(`${baseUrl}/api/v2/purchase_orders.json?limit=250`, {
      headers: { "Store-Name": storeName, Authorization: `API KEY=${apiKey}` }
    })
    expect(res.status).toBe(200)
    const body = (await res.json()) as {
      purchase_orders: Array<{
        id: number
        invoice_date: string | null
        purchase_items: Array<{ updated_at: string }>
      }>
    }
    return body.purchase_orders
  }
  const model = (id: number): PurchaseOrder | undefined => merchant.purchaseOrders.find((p) => p.id === id)
  const start = async (timeZone?: string): Promise<StockyEmulatorHandle> => {
    const h = await startStockyEmulator({
      merchant,
      faults: makeFaultInjector({ profile: "none", seed: 1 }),
      clock: makeClock(1),
      port: 0,
      ...(timeZone === undefined ? {} : { options: { timeZone } })
    })
    open.push(h)
    return h
  }

  it("writes purchase_items[].updated_at and date-only fields in the configured zone; the bare default stays UTC", async () => {
    const tokyo = await start("Asia/Tokyo")
    const utc = await start()
    const inTokyo = await purchaseOrders(tokyo.baseUrl, tokyo.credentials.storeName, tokyo.credentials.apiKey)
    const inUtc = await purchaseOrders(utc.baseUrl, utc.credentials.storeName, utc.credentials.apiKey)
    expect(inTokyo.length).toBeGreaterThan(0)
    let shiftedDays = 0
    inTokyo.forEach((po, k) => {
      const p = model(po.id)
      expect(p).toBeDefined()
      if (p === undefined) return
      for (const item of po.purchase_items) expect(item.updated_at).toBe(local(p.updatedAt, 9))
      for (const item of inUtc[k]?.purchase_items ?? []) expect(item.updated_at).toBe(local(p.updatedAt, 0))
      const day = new Date((p.receivedAt ?? p.orderedAt) + 9 * HOUR).toISOString().slice(0, 10)
      expect(po.invoice_date).toBe(day)
      if (day !== inUtc[k]?.invoice_date) shiftedDays++
    })
    // The zone matters for some of them (receipts in the Tokyo morning are the previous UTC day).
    const anyShift = inTokyo.some((po) => {
      const p = model(po.id)
      return p !== undefined && local(p.updatedAt, 9).slice(0, 10) !== local(p.updatedAt, 0).slice(0, 10)
    })
    expect(anyShift || shiftedDays > 0).toBe(true)
  })

  it("startSandbox renders them in the store's zone (Asia/Tokyo)", async () => {
    const sb = await startSandbox({ seed: 42, scale: 100, anchor: ANCHOR })
    open.push(sb)
    const pos = await purchaseOrders(
      sb.stocky.baseUrl,
      sb.stocky.credentials.storeName,
      sb.stocky.credentials.apiKey
    )
    const first = pos.find((p) => p.purchase_items.length > 0)
    const p = first === undefined ? undefined : sb.merchant.purchaseOrders.find((x) => x.id === first.id)
    expect(p).toBeDefined()
    expect(first?.purchase_items[0]?.updated_at).toBe(local(p?.updatedAt ?? 0, 9))
  })

  it("scales Retry-After on its rate limit and on injected 429s", async () => {
    const faults = { armed: 0 }
    const h = await startStockyEmulator({
      merchant,
      faults: {
        profile: "none",
        decide: (_api, kind) => kind === "http_429" && faults.armed-- > 0,
        report: () => ({ shopify: {}, lightspeed: {}, stocky: {} })
      },
      clock: makeClock(100),
      port: 0,
      options: { rateLimit: { requestsPerSecond: 0.1, burst: 1 } }
    })
    open.push(h)
    const get = () =>
      fetch(`${h.baseUrl}/api/v2/suppliers.json`, {
        headers: { "Store-Name": h.credentials.storeName, Authorization: `API KEY=${h.credentials.apiKey}` }
      })
    const burst = await Promise.all([1, 2, 3, 4, 5].map(() => get()))
    const limited = burst.filter((r) => r.status === 429)
    expect(limited.length).toBeGreaterThan(0)
    // One request per 10 real seconds is one per 100 ms here.
    for (const r of limited) {
      const wait = Number(r.headers.get("retry-after"))
      expect(wait).toBeGreaterThan(0)
      expect(wait).toBeLessThanOrEqual(0.1)
    }
    await new Promise((r) => setTimeout(r, 150))
    faults.armed = 1
    const injected = await get()
    expect(injected.status).toBe(429)
    expect(injected.headers.get("retry-after")).toBe("0.02")
  })
})
