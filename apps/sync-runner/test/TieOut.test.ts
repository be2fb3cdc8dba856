/**
 * The comparison behind `kura-sync tie-out`: which days tie, which differ, which are still
 * syncing, and the causes a differing day carries.
 */
import { toDecimal } from "@kura/core"
import type { SalesDay } from "@kura/shopify-client"
import type { ShopifySalesDay } from "@kura/warehouse"
import { describe, expect, it } from "vitest"
import { formatTieOut, type TieOutContext, tieOut } from "../src/TieOut.js"

const shopify = (day: string, orders: number, total: string): SalesDay => ({
  day,
  orders,
  totalSales: toDecimal(total)
})
const ours = (
  day: string,
  orders: number,
  sales: string,
  refunds = "0",
  cancellations = "0"
): ShopifySalesDay => ({
  day,
  orders,
  sales,
  refunds,
  cancellations,
  totalSales: toDecimal(sales).sub(toDecimal(refunds)).sub(toDecimal(cancellations)).toString()
})
const context: TieOutContext = {
  account: "shop.myshopify.com",
  zone: "Asia/Tokyo",
  currency: "JPY",
  since: "2026-03-01",
  until: "2026-03-06",
  syncedDay: "2026-03-06",
  orderDeadLetters: 0
}

describe("tieOut", () => {
  it("ties equal days (zero days on both sides included) and counts them", () => {
    const r = tieOut(
      [shopify("2026-03-01", 2, "3000"), shopify("2026-03-02", 0, "0"), shopify("2026-03-03", 0, "-500")],
      [ours("2026-03-01", 2, "3000"), ours("2026-03-03", 0, "0", "500")],
      context
    )
    expect(r.days.map((d) => [d.day, d.status])).toEqual([
      ["2026-03-01", "tied"],
      ["2026-03-02", "tied"],
      ["2026-03-03", "tied"]
    ])
    expect(r).toMatchObject({ tied: true, tiedDays: 3, differingDays: 0, syncingDays: 0 })
    expect(r.days.every((d) => d.causes.length === 0)).toBe(true)
  })

  it("a missing order differs by its count and total, and names the dead letters when there are any", () => {
    const r = tieOut([shopify("2026-03-02", 3, "5800")], [ours("2026-03-02", 2, "3800")], {
      ...context,
      orderDeadLetters: 1
    })
    const day = r.days[0]
    expect(day).toMatchObject({ status: "differs", ordersDifference: 1, totalSalesDifference: "2000" })
    expect(day?.causes.join("\n")).toMatch(/1 order record\(s\) of this shop are in _kura_dead_letters/)
    expect(day?.causes.join("\n")).toMatch(
      /1 order\(s\) placed this day are in Shopify's report and not in the warehouse/
    )
    expect(r.tied).toBe(false)
    expect(formatTieOut(r)).toContain("(Shopify − warehouse: 1 orders, 2000)")
  })

  it("a difference equal to the day's cancellations names the cancellation convention", () => {
    const r = tieOut([shopify("2026-03-04", 0, "-800")], [ours("2026-03-04", 0, "0", "800", "3000")], context)
    expect(r.days[0]?.totalSalesDifference).toBe("3000")
    expect(r.days[0]?.causes.join("\n")).toMatch(/ties if cancellations no refund paid back \(3000\)/)
  })

  it("a day at or after the last orders sync's start is syncing, and does not fail the tie-out", () => {
    const r = tieOut(
      [shopify("2026-03-05", 1, "100"), shopify("2026-03-06", 4, "900")],
      [ours("2026-03-05", 1, "100"), ours("2026-03-06", 3, "700")],
      context
    )
    expect(r.days.map((d) => d.status)).toEqual(["tied", "syncing"])
    expect(r.days[1]?.causes.join("\n")).toMatch(/ends after the last orders sync began \(2026-03-06\)/)
    expect(r.tied).toBe(true)
    const never = tieOut([shopify("2026-03-05", 1, "100")], [], { ...context, syncedDay: null })
    expect(never.days[0]?.status).toBe("differs")
    expect(never.tied).toBe(false)
    expect(never.days[0]?.causes[0]).toMatch(/no orders sync of this shop has succeeded yet/)
  })

  it("a warehouse day Shopify did not answer is compared with zero; days outside the range are dropped", () => {
    const r = tieOut([], [ours("2026-03-02", 1, "100"), ours("2026-02-28", 1, "100")], context)
    expect(r.days.map((d) => [d.day, d.status, d.ordersDifference])).toEqual([["2026-03-02", "differs", -1]])
    expect(r.days[0]?.causes.join("\n")).toMatch(/Shopify's report has no row for this day/)
  })
})
