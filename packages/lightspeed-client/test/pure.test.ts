import { describe, expect, it } from "@effect/vitest"
import { Decimal } from "@kura/core"
import { Schema } from "effect"
import {
  addDays,
  Business,
  businessDateAt,
  businessDayStart,
  cutoverOf,
  datesBetween,
  Id,
  nextCursorDay,
  normalizeSale,
  Sale,
  SaleWire,
  saleCurrency,
  saleTotals,
  splitWindows,
  TaxRateFromMultiplier,
  taxByRate,
  taxRateFromMultiplier,
  taxRateFromPercent
} from "../src/index.js"
import { rebase } from "../src/internal/http.js"
import { parseJsonLossless, quoteLongIntegers } from "../src/internal/json.js"
import { makeSale } from "./support/FakeLightspeed.js"

const dec = (s: string) => Decimal.unsafeFrom(s)

describe("tax rates", () => {
  it("turns multipliers into percents exactly", () => {
    expect(taxRateFromMultiplier(dec("1.08")).percent.toString()).toBe("8")
    expect(taxRateFromMultiplier(dec("1.2")).percent.toString()).toBe("20")
    expect(taxRateFromMultiplier(dec("1.055")).percent.toString()).toBe("5.5")
    expect(taxRateFromMultiplier(dec("1")).percent.toString()).toBe("0")
  })
  it("turns percents into multipliers exactly", () => {
    expect(taxRateFromPercent(dec("10")).multiplier.toString()).toBe("1.1")
    expect(taxRateFromPercent(dec("8")).multiplier.toString()).toBe("1.08")
    expect(taxRateFromPercent(dec("5.5")).multiplier.toString()).toBe("1.055")
  })
  it("decodes a tax-rate field to both forms and rejects garbage", () => {
    const rate = Schema.decodeUnknownSync(TaxRateFromMultiplier)("1.08")
    expect(rate.multiplier.toString()).toBe("1.08")
    expect(rate.percent.toString()).toBe("8")
    expect(() => Schema.decodeUnknownSync(TaxRateFromMultiplier)("eight")).toThrow()
  })
})

describe("ids and JSON", () => {
  it("keeps int64 ids above 2^53 exact", () => {
    const text =
      '{"blID": 45454565682155123, "small": 12, "amount": "1.5", "f": 0.12345678901234567, "s": "x 12345678901234567890 y", "e": 1e21}'
    const parsed = parseJsonLossless(text)
    expect(Schema.decodeUnknownSync(Schema.Struct({ blID: Id }))(parsed).blID).toBe("45454565682155123")
    expect(Reflect.get(Object(parsed), "small")).toBe(12)
    expect(Reflect.get(Object(parsed), "f")).toBe(Number("0.12345678901234567"))
    expect(Reflect.get(Object(parsed), "s")).toBe("x 12345678901234567890 y")
    expect(quoteLongIntegers('[1234567890123456,"a\\"1234567890123456"]')).toBe(
      '["1234567890123456","a\\"1234567890123456"]'
    )
  })
  it("rebases links from the legacy host onto the configured base", () => {
    expect(
      rebase(
        "http://127.0.0.1:9",
        "https://api.ikentoo.com/f/finance/1/financials/a/b?x=1&nextPageToken=A1.2"
      )
    ).toBe("http://127.0.0.1:9/f/finance/1/financials/a/b?x=1&nextPageToken=A1.2")
    expect(rebase("https://proxy.example/lsk", "/f/data/businesses")).toBe(
      "https://proxy.example/lsk/f/data/businesses"
    )
    expect(rebase("https://proxy.example/lsk", "https://api.ikentoo.com/lsk/f/x")).toBe(
      "https://proxy.example/lsk/f/x"
    )
  })
})

describe("records", () => {
  it("decodes V1 and V2 spellings of a sale to the same shape, amounts exact", () => {
    const v1 = Schema.decodeUnknownSync(Sale)(makeSale("1", "2024-03-01", 2, true))
    const v2 = Schema.decodeUnknownSync(Sale)(makeSale("1", "2024-03-01", 2, false))
    expect(v1.timeClosed).toBe(v2.timeClosed)
    expect(v1.timeClosed).toMatch(/^2024-02-29T20:/)
    expect(v1.salesLines[0]?.timeOfSale).toBe(v2.salesLines[0]?.timeOfSale)
    expect(v1.salesLines[0]?.totalNetAmountWithTax?.toString()).toBe("1020.00")
    const tax = v1.salesLines[0]?.taxLines[0]
    expect(tax?.taxRate.percent.toString()).toBe("8")
    expect(tax?.taxRate.multiplier.toString()).toBe("1.08")
    expect(tax?.taxAmount.toString()).toBe("76.000000")
    expect(v1.payments[0]?.netAmountWithTax.toString()).toBe("1020.00")
    expect(Reflect.has(v1, "timeofCloseAndPaid")).toBe(false)
  })
  it("names the failing field of a bad sale", () => {
    const bad = { ...makeSale("1", "2024-03-01", 0, true), payments: [{ netAmountWithTax: "twelve" }] }
    expect(() => Schema.decodeUnknownSync(Sale)(bad)).toThrow(/netAmountWithTax/)
  })
  it("decodes a business with numeric ids as strings", () => {
    const b = Schema.decodeUnknownSync(Business)({
      businessId: 45454565682155,
      businessName: "X",
      currencyCode: "JPY",
      businessLocations: [{ blID: 141948669132802, blName: "Shop", country: "JP", timezone: "Asia/Tokyo" }]
    })
    expect(b.businessLocations[0]?.blID).toBe("141948669132802")
  })
})

describe("business days", () => {
  it("computes dates", () => {
    expect(addDays("2024-02-28", 2)).toBe("2024-03-01")
    expect(datesBetween("2024-12-30", "2025-01-02")).toEqual([
      "2024-12-30",
      "2024-12-31",
      "2025-01-01",
      "2025-01-02"
    ])
    expect(datesBetween("2024-01-02", "2024-01-01")).toEqual([])
  })
  it("advances the cursor only over final days", () => {
    const days = [
      { date: "2024-03-01", final: true },
      { date: "2024-03-02", final: true },
      { date: "2024-03-03", final: false },
      { date: "2024-03-04", final: true }
    ]
    expect(nextCursorDay("2024-03-01", days)).toBe("2024-03-03")
    expect(nextCursorDay("2024-03-01", days.slice(0, 2))).toBe("2024-03-03")
    expect(nextCursorDay("2024-03-01", [{ date: "2024-03-01", final: false }])).toBe("2024-03-01")
    expect(nextCursorDay("2024-03-01", [])).toBe("2024-03-01")
    // A gap (missing day) stops the cursor.
    expect(nextCursorDay("2024-03-01", [{ date: "2024-03-02", final: true }])).toBe("2024-03-01")
  })
  it("respects the cutover when finding today's business date", () => {
    // 2024-03-02 03:00 in Tokyo = 2024-03-01T18:00Z: before a 05:00 cutover it is still the 1st.
    const t = Date.parse("2024-03-01T18:00:00Z")
    expect(businessDateAt(t, "Asia/Tokyo", { hour: 5, minute: 0 })).toBe("2024-03-01")
    expect(businessDateAt(t, "Asia/Tokyo")).toBe("2024-03-02")
    expect(cutoverOf("2023-07-28T05:30:00-05:00")).toEqual({ hour: 5, minute: 30 })
  })
  it("renders a business-day start with the local offset, across DST", () => {
    expect(businessDayStart("2024-03-01", "Asia/Tokyo", { hour: 5, minute: 0 })).toBe(
      "2024-03-01T05:00:00+09:00"
    )
    expect(businessDayStart("2024-07-01", "Europe/London", { hour: 4, minute: 30 })).toBe(
      "2024-07-01T04:30:00+01:00"
    )
    expect(businessDayStart("2024-01-01", "Europe/London")).toBe(
      "2024-01-01T00:00:00Z".replace("Z", "+00:00")
    )
  })
  it("splits long ranges into ≤365-day windows that tile exactly", () => {
    const from = Date.parse("2022-01-01T00:00:00Z")
    const to = Date.parse("2024-06-01T00:00:00Z")
    const windows = splitWindows(from, to)
    expect(windows.length).toBe(3)
    expect(windows[0]?.from).toBe(from)
    expect(windows.at(-1)?.to).toBe(to)
    for (let i = 1; i < windows.length; i++) expect(windows[i]?.from).toBe(windows[i - 1]?.to)
    for (const w of windows) expect(w.to - w.from).toBeLessThanOrEqual(365 * 86_400_000)
    expect(splitWindows(from, from)).toEqual([])
  })
})

describe("sale totals", () => {
  it("adds sales exactly as Money and groups tax by rate", () => {
    const sales = [0, 1, 2].map((i) => Schema.decodeUnknownSync(Sale)(makeSale("1", "2024-03-01", i, false)))
    expect(saleCurrency(sales[0]!)).toBe("JPY")
    const totals = saleTotals(sales, "JPY")
    expect(totals.gross.amount.toString()).toBe("3030.00")
    expect(totals.paid.amount.equals(totals.gross.amount)).toBe(true)
    expect(totals.gross.currency).toBe("JPY")
    const byRate = taxByRate(sales, "JPY")
    expect(byRate.length).toBe(1)
    expect(byRate[0]?.rate.percent.toString()).toBe("8")
    expect(byRate[0]?.amount.amount.equals(totals.tax.amount)).toBe(true)
  })
})

describe("sale fast path", () => {
  it("SaleWire + normalizeSale equals the Sale schema", () => {
    for (const v1 of [true, false]) {
      const raw = makeSale("9", "2024-03-02", 4, v1)
      const viaSchema = Schema.decodeUnknownSync(Sale)(raw)
      const viaWire = normalizeSale(Schema.decodeUnknownSync(SaleWire)(raw))
      expect(viaWire).toEqual(viaSchema)
      expect(viaWire.timeClosed).not.toBeNull()
      expect(viaWire.salesLines[0]?.timeOfSale).not.toBeNull()
    }
  })
})
