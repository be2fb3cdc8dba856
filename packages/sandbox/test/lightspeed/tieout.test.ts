import { describe, expect, it } from "vitest"
import { makeFaultInjector } from "../../src/internal/faults/FaultInjector.js"
import { defaultMerchantOptions, makeMerchant } from "../../src/internal/generator/makeMerchant.js"
import { refresh, startEmulator } from "./harness.js"

const ANCHOR = Date.UTC(2026, 10, 26)
// A merchant with refunds at the till and, after mutate, in the back office.
const merchant = makeMerchant({ ...defaultMerchantOptions(ANCHOR), orders: 300, historyDays: 30 })

const start = () =>
  startEmulator(merchant, {
    faults: makeFaultInjector({ profile: "none", seed: 11 }),
    options: { rateLimit: null, slowResponseMs: 5 }
  }).then((em) => ({ em }))

describe("Lightspeed emulator: tie-out to the ground truth", () => {
  it("V2 daily REFUND totals tie out to the ground truth's refunds per business day", async () => {
    merchant.mutate({ fraction: 0.2, now: Date.now() })
    const { em } = await start()
    try {
      const tokens = (await (await refresh(em, em.credentials.refreshToken)).json()) as {
        access_token: string
      }
      const gt = merchant.groundTruth()
      let checked = 0
      for (const bl of em.credentials.businessLocationIds) {
        const loc = merchant.locations.find((l) => l.lightspeedBlId === bl)
        for (const row of gt.revenueByDay.filter(
          (r) => r.channel === "pos" && r.locationId === loc?.id && r.refunds > 0
        )) {
          const res = await fetch(
            `${em.baseUrl}/f/v2/business-location/${bl}/sales-daily?date=${row.businessDate}&include=payments`,
            {
              headers: { authorization: `Bearer ${tokens.access_token}` }
            }
          )
          const body = (await res.json()) as {
            sales: Array<{ type: string; payments: Array<{ netAmountWithTax: string }> }>
          }
          const refunded = body.sales
            .filter((x) => x.type === "REFUND")
            .reduce(
              (a, x) => a - x.payments.reduce((b, p) => b + Math.round(Number(p.netAmountWithTax)), 0),
              0
            )
          expect(refunded).toBe(row.refunds)
          checked++
        }
      }
      expect(checked).toBeGreaterThan(0)
    } finally {
      await em.close()
    }
  })
})
