import { describe, expect, it } from "vitest"
import { bulkSlicing, shopFloor } from "../../src/sources/ShopifyStreams.js"

const DAY = 86_400_000

describe("Shopify first-read window", () => {
  it("starts a day before the shop was created, never below the configured floor", () => {
    const created = Date.parse("2024-03-01T00:00:00Z")
    expect(shopFloor("2024-03-01T00:00:00Z", 0)).toBe(created - DAY)
    expect(shopFloor("2024-03-01T00:00:00Z", created + 5 * DAY)).toBe(created + 5 * DAY)
    // No (or an unreadable) createdAt keeps the configured floor.
    expect(shopFloor(null, 7)).toBe(7)
    expect(shopFloor(undefined, 7)).toBe(7)
    expect(shopFloor("not a date", 7)).toBe(7)
  })

  it("sizes bulk slices by Shopify's count: one job per ~250k records, the client default when unknown", () => {
    const window = { start: 0, end: 1000 * DAY }
    // A small shop's whole history is one job, even beyond the client's 365-day cap.
    expect(bulkSlicing(window, 10_000)).toEqual({ sliceMillis: 1000 * DAY, maxSliceMillis: 1000 * DAY })
    // A million records over the window: four jobs.
    expect(bulkSlicing(window, 1_000_000).sliceMillis).toBe(250 * DAY)
    expect(bulkSlicing(window, null)).toEqual({})
    // Never below an hour, however dense.
    expect(bulkSlicing({ start: 0, end: DAY }, 1e9).sliceMillis).toBe(3_600_000)
  })
})
