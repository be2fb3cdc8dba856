import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeClock } from "../../src/internal/clock.js"
import { makeFaultInjector } from "../../src/internal/faults/FaultInjector.js"
import { defaultMerchantOptions, makeMerchant } from "../../src/internal/generator/makeMerchant.js"
import type { Merchant } from "../../src/internal/Merchant.js"
import {
  type StockyEmulatorHandle,
  startStockyEmulator
} from "../../src/internal/stocky/startStockyEmulator.js"

const ANCHOR = Date.UTC(2026, 10, 26)

describe("malformed Stocky stock adjustments (malformedAdjustments)", () => {
  let merchant: Merchant
  let st: StockyEmulatorHandle
  const list = async () => {
    const out: Array<Record<string, unknown>> = []
    let since = 0
    for (;;) {
      const res = await fetch(`${st.baseUrl}/api/v2/stock_adjustments.json?limit=50&since_id=${since}`, {
        headers: { "Store-Name": st.credentials.storeName, Authorization: `API KEY=${st.credentials.apiKey}` }
      })
      const page = ((await res.json()) as { stock_adjustments: Array<Record<string, unknown>> })
        .stock_adjustments
      out.push(...page)
      if (page.length < 50) return out
      since = Number(page[page.length - 1]?.id ?? 0)
    }
  }

  beforeAll(async () => {
    merchant = makeMerchant({ ...defaultMerchantOptions(ANCHOR), orders: 300, malformedAdjustments: 3 })
    st = await startStockyEmulator({
      merchant,
      faults: makeFaultInjector({ profile: "none", seed: 1 }),
      clock: makeClock(1),
      port: 0
    })
  })
  afterAll(() => st.close())

  it("renders exactly the requested adjustments with a non-integer sequential_id, counted in the ground truth", async () => {
    const rendered = await list()
    const bad = rendered.filter((a) => a.sequential_id === "abc")
    const model = merchant.stockAdjustments.filter((a) => a.malformed === true)
    expect(bad.map((a) => a.id)).toEqual(model.map((a) => a.id))
    expect(model).toHaveLength(3)
    expect(model.every((a) => a.system === "stocky")).toBe(true)
    // Spread over the Stocky era, not bunched at the start.
    expect(new Set(model.map((a) => a.id)).size).toBe(3)
    const good = rendered.filter((a) => a.sequential_id !== "abc")
    expect(good.every((a) => a.sequential_id === a.id)).toBe(true)
    const truth = merchant.groundTruth().counts
    expect(truth.malformedAdjustments).toEqual({
      adjustments: 3,
      items: model.reduce((n, a) => n + a.items.length, 0)
    })
    // Opt-in and separate: malformedPerSource's records are unchanged.
    expect(truth.malformed).toEqual({ shopify: 0, lightspeed: 0, stocky: 0 })
  })

  it("is off by default", () => {
    const plain = makeMerchant({ ...defaultMerchantOptions(ANCHOR), orders: 300, malformedPerSource: 2 })
    expect(plain.stockAdjustments.some((a) => a.malformed === true)).toBe(false)
    expect(plain.groundTruth().counts.malformedAdjustments).toEqual({ adjustments: 0, items: 0 })
  })
})
