import { describe, expect, it } from "vitest"
import {
  decimalAmount,
  isoUtc,
  isoWithOffset,
  restAmount,
  toPresentment
} from "../../src/internal/shopify/format.js"

describe("Shopify emulator: wire formatting", () => {
  it("formats DateTime like toISOString without milliseconds, across days, leap years and before 1970", () => {
    const samples = [
      0,
      -1,
      -86_400_001,
      951_782_400_000,
      1_709_164_799_999,
      Date.UTC(2026, 10, 26, 23, 59, 59, 999)
    ]
    for (let k = 0; k < 2000; k++) samples.push(Math.floor(Math.sin(k) * 4e12))
    for (const t of samples) expect(isoUtc(t)).toBe(`${new Date(t).toISOString().slice(0, 19)}Z`)
  })

  it("formats money minimally for GraphQL and with two decimals for REST", () => {
    expect(decimalAmount(64900, "EUR")).toBe("649.0")
    expect(decimalAmount(1999, "EUR")).toBe("19.99")
    expect(decimalAmount(1990, "EUR")).toBe("19.9")
    expect(decimalAmount(0, "JPY")).toBe("0.0")
    expect(decimalAmount(-1250, "JPY")).toBe("-1250.0")
    expect(restAmount(1000, "JPY")).toBe("1000.00")
    expect(restAmount(1990, "EUR")).toBe("19.90")
    expect(toPresentment(10_000, "JPY", "0.0064", "USD")).toBe(6400)
    expect(toPresentment(155, "JPY", "0.0064", "USD")).toBe(99)
  })

  it("writes REST timestamps with the shop's offset", () => {
    expect(isoWithOffset(Date.UTC(2026, 0, 1, 0, 0, 0), "Asia/Tokyo")).toBe("2026-01-01T09:00:00+09:00")
    expect(isoWithOffset(Date.UTC(2026, 6, 1, 12, 0, 0), "Europe/Berlin")).toBe("2026-07-01T14:00:00+02:00")
    expect(isoWithOffset(Date.UTC(2026, 0, 1, 12, 0, 0), "America/New_York")).toBe(
      "2026-01-01T07:00:00-05:00"
    )
  })
})
