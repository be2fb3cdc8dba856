import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeClock } from "../../src/internal/clock.js"
import { makeFaultInjector } from "../../src/internal/faults/FaultInjector.js"
import { defaultMerchantOptions, makeMerchant } from "../../src/internal/generator/makeMerchant.js"
import type { Merchant } from "../../src/internal/Merchant.js"
import {
  STOCKY_RETIRED_MESSAGE,
  type StockyEmulatorHandle,
  startStockyEmulator
} from "../../src/internal/stocky/startStockyEmulator.js"

const ANCHOR = Date.UTC(2026, 10, 26)

describe("Stocky emulator", () => {
  let merchant: Merchant
  let st: StockyEmulatorHandle
  const headers = () => ({
    "Store-Name": st.credentials.storeName,
    Authorization: `API KEY=${st.credentials.apiKey}`
  })
  const get = async (path: string, h: Record<string, string> = headers(), base = st.baseUrl) => {
    const res = await fetch(`${base}${path}`, { headers: h })
    return { status: res.status, body: (await res.json()) as Record<string, unknown> }
  }

  beforeAll(async () => {
    merchant = makeMerchant({ ...defaultMerchantOptions(ANCHOR), orders: 300, malformedPerSource: 1 })
    st = await startStockyEmulator({
      merchant,
      faults: makeFaultInjector({ profile: "none", seed: 1 }),
      clock: makeClock(1),
      port: 0
    })
  })
  afterAll(() => st.close())

  it("requires both the Store-Name and the Authorization: API KEY= headers", async () => {
    expect((await get("/api/v2/suppliers.json", {})).status).toBe(401)
    expect((await get("/api/v2/suppliers.json", { "Store-Name": st.credentials.storeName })).status).toBe(401)
    expect(
      (
        await get("/api/v2/suppliers.json", {
          ...headers(),
          Authorization: `Bearer ${st.credentials.apiKey}`
        })
      ).status
    ).toBe(401)
    expect(
      (await get("/api/v2/suppliers.json", { ...headers(), "Store-Name": "other.myshopify.com" })).status
    ).toBe(401)
    const ok = await get("/api/v2/suppliers.json")
    expect(ok.status).toBe(200)
    expect((ok.body.suppliers as Array<unknown>).length).toBe(merchant.suppliers.length)
    expect((await get("/api/v2/suppliers")).status).toBe(404) // .json is mandatory
  })

  it("pages purchase orders in descending id order with since_id meaning id < since_id", async () => {
    const ids: Array<number> = []
    let since: number | undefined
    for (;;) {
      const { body } = await get(
        `/api/v2/purchase_orders.json?limit=40${since === undefined ? "" : `&since_id=${since}`}`
      )
      const page = body.purchase_orders as Array<{ id: number }>
      ids.push(...page.map((p) => p.id))
      if (page.length < 40) break
      since = Math.min(...page.map((p) => p.id))
    }
    const expected = merchant.purchaseOrders
      .filter((p) => p.system === "stocky")
      .map((p) => p.id)
      .sort((a, b) => b - a)
    expect(ids).toEqual(expected)
    expect(expected.length).toBeGreaterThan(40)
    // Shopify-native (post-shutdown) purchase orders are not in Stocky.
    const native = merchant.purchaseOrders.find((p) => p.system === "shopify")
    expect(native).toBeDefined()
    expect((await get(`/api/v2/purchase_orders/${native?.id}.json`)).status).toBe(404)
  })

  it("clamps limit to 250 and defaults to 50", async () => {
    const big = (await get("/api/v2/purchase_orders.json?limit=1000")).body.purchase_orders as Array<unknown>
    const stocky = merchant.purchaseOrders.filter((p) => p.system === "stocky").length
    expect(big.length).toBe(Math.min(250, stocky))
    expect(((await get("/api/v2/purchase_orders.json")).body.purchase_orders as Array<unknown>).length).toBe(
      Math.min(50, stocky)
    )
    expect((await get("/api/v2/purchase_orders.json?limit=abc")).status).toBe(400)
  })

  it("keeps the documented quirks: string supplier_id and prices, DD/MM/YYYY HH:MM item updated_at", async () => {
    const po = merchant.purchaseOrders.find((p) => p.system === "stocky" && !p.malformed)
    const { status, body } = await get(`/api/v2/purchase_orders/${po?.id}.json`)
    expect(status).toBe(200)
    expect(body.id).toBe(po?.id) // show returns the bare object
    expect(body.supplier_id).toBe(String(po?.supplierId))
    const item = (body.purchase_items as Array<Record<string, unknown>>)[0]
    expect(item?.cost_price).toMatch(/^\d+\.\d{2}$/)
    expect(item?.retail_price).toMatch(/^\d+\.\d{2}$/)
    expect(item?.updated_at).toMatch(/^\d{2}\/\d{2}\/\d{4} \d{2}:\d{2}$/)
    expect(body.created_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
    expect(item?.quantity).toBe(po?.lines[0]?.quantity)
    const bad = merchant.purchaseOrders.find((p) => p.malformed)
    const rendered = (await get(`/api/v2/purchase_orders/${bad?.id}.json`)).body
    expect((rendered.purchase_items as Array<Record<string, unknown>>)[0]?.quantity).toBe("abc")
    expect((await get("/api/v2/purchase_orders/999999.json")).body).toEqual({
      errors: "No purchase orders found"
    })
  })

  it("stock adjustments and items page upwards; items join back and carry the real deltas", async () => {
    const adj: Array<{ id: number }> = []
    let since = 0
    for (;;) {
      const page = (await get(`/api/v2/stock_adjustments.json?limit=10&since_id=${since}`)).body
        .stock_adjustments as Array<{ id: number }>
      adj.push(...page)
      if (page.length < 10) break
      since = page[page.length - 1]?.id ?? 0
    }
    const model = merchant.stockAdjustments.filter((a) => a.system === "stocky")
    expect(adj.map((a) => a.id)).toEqual(model.map((a) => a.id))
    const items = (await get("/api/v2/stock_adjustment_items.json?limit=250")).body
      .stock_adjustment_items as Array<{
      stock_adjustment_id: number
      quantity: number
      variant: { shopify_id: number }
    }>
    const first = model[1]
    const mine = items.filter((i) => i.stock_adjustment_id === first?.id)
    expect(mine.map((i) => [i.variant.shopify_id, i.quantity])).toEqual(
      first?.items.map((i) => [i.variantId, i.quantity])
    )
    const cutoff = model[Math.floor(model.length / 2)]?.adjustedAt ?? 0
    const recent = (
      await get(`/api/v2/stock_adjustments.json?limit=250&adjusted_since=${new Date(cutoff).toISOString()}`)
    ).body.stock_adjustments as Array<unknown>
    expect(recent.length).toBe(model.filter((a) => a.adjustedAt >= cutoff).length)
    expect((await get("/api/v2/stock_adjustments.json?updated_since=yesterday")).status).toBe(400)
  })

  it("filters purchase orders by updated_since, pages by offset, and serves tax types", async () => {
    const stocky = merchant.purchaseOrders.filter((p) => p.system === "stocky")
    const cutoff = stocky[Math.floor(stocky.length * 0.8)]?.updatedAt ?? 0
    const recent = (
      await get(`/api/v2/purchase_orders.json?limit=250&updated_since=${new Date(cutoff).toISOString()}`)
    ).body.purchase_orders as Array<{ id: number }>
    expect(recent.map((p) => p.id).sort((a, b) => a - b)).toEqual(
      stocky
        .filter((p) => p.updatedAt >= cutoff)
        .map((p) => p.id)
        .sort((a, b) => a - b)
    )
    const page2 = (await get("/api/v2/suppliers.json?limit=3&offset=3")).body.suppliers as Array<{
      id: number
    }>
    expect(page2.map((x) => x.id)).toEqual([4, 5, 6])
    // since_id wins over offset, as documented.
    const both = (await get("/api/v2/suppliers.json?limit=3&offset=3&since_id=1")).body.suppliers as Array<{
      id: number
    }>
    expect(both.map((x) => x.id)).toEqual([2, 3, 4])
    const taxes = (await get("/api/v2/tax_types.json")).body.tax_types as Array<{
      tax_rate: string
      code: string
    }>
    expect(taxes.map((t) => t.tax_rate)).toEqual(["8.0", "10.0"])
    expect((await get("/api/v2/tax_types/2.json")).body.tax_rate).toBe("10.0")
    const wrapped = await startStockyEmulator({
      merchant,
      faults: makeFaultInjector({ profile: "none", seed: 1 }),
      clock: makeClock(1),
      port: 0,
      options: { singleWrapper: true }
    })
    try {
      const h = {
        "Store-Name": wrapped.credentials.storeName,
        Authorization: `API KEY=${wrapped.credentials.apiKey}`
      }
      expect(Object.keys((await get("/api/v2/suppliers/1.json", h, wrapped.baseUrl)).body)).toEqual([
        "supplier"
      ])
    } finally {
      await wrapped.close()
    }
  })

  it("serves transfers behind a flag, and answers as a discontinued service when retired", async () => {
    const transfers = (await get("/api/v2/stock_transfers.json?limit=250")).body.stock_transfers as Array<{
      stock_transfer_items: Array<unknown>
    }>
    expect(transfers.length).toBe(merchant.stockTransfers.filter((t) => t.system === "stocky").length)
    const off = await startStockyEmulator({
      merchant,
      faults: makeFaultInjector({ profile: "none", seed: 1 }),
      clock: makeClock(1),
      port: 0,
      options: { transfersEnabled: false }
    })
    try {
      const h = {
        "Store-Name": off.credentials.storeName,
        Authorization: `API KEY=${off.credentials.apiKey}`
      }
      expect((await get("/api/v2/stock_transfers.json", h, off.baseUrl)).status).toBe(404)
      expect((await get("/api/v2/suppliers.json", h, off.baseUrl)).status).toBe(200)
      off.setRetired(true)
      const gone = await get("/api/v2/suppliers.json", h, off.baseUrl)
      expect(gone.status).toBe(410)
      expect(gone.body).toEqual({ errors: STOCKY_RETIRED_MESSAGE })
      expect(off.stats().retiredAnswers).toBe(1)
    } finally {
      await off.close()
    }
  })

  it("under chaos faults, a retrying client still reads exactly the clean data; faults are counted", async () => {
    const faults = makeFaultInjector({ profile: "chaos", seed: 5 })
    const chaos = await startStockyEmulator({
      merchant,
      faults,
      clock: makeClock(1),
      port: 0,
      options: { slowResponseMs: 5 }
    })
    try {
      const h = {
        "Store-Name": chaos.credentials.storeName,
        Authorization: `API KEY=${chaos.credentials.apiKey}`
      }
      const fetchRetrying = async (path: string): Promise<Record<string, unknown>> => {
        for (let attempt = 0; attempt < 50; attempt++) {
          try {
            const res = await fetch(`${chaos.baseUrl}${path}`, { headers: h })
            const text = await res.text()
            if (res.status !== 200) continue
            return JSON.parse(text) as Record<string, unknown>
          } catch {
            // connection reset, truncated or malformed body: retry
          }
        }
        throw new Error("gave up")
      }
      for (const path of [
        "/api/v2/purchase_orders.json?limit=250",
        "/api/v2/stock_adjustment_items.json?limit=250",
        "/api/v2/suppliers.json"
      ]) {
        for (let k = 0; k < 3; k++) expect(await fetchRetrying(path)).toEqual((await get(path)).body)
      }
      const report = faults.report().stocky
      const total = Object.values(report).reduce((a, b) => a + (b ?? 0), 0)
      expect(total).toBeGreaterThan(0)
      expect(faults.report().lightspeed).toEqual({})
    } finally {
      await chaos.close()
    }
  })
})
