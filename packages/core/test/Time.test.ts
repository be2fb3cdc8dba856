import { assert, describe, it } from "@effect/vitest"
import { formatWindow, isoUtc, splitBusinessDays, splitWindows } from "../src/TimeWindow.js"
import {
  addDays,
  businessDate,
  businessDayRange,
  formatInZone,
  isCalendarDate,
  isValidTimeZone,
  localDate,
  offsetMillis,
  startOfLocalDay
} from "../src/TimeZone.js"

const at = (iso: string) => Date.parse(iso)

describe("TimeZone", () => {
  it("local date of an instant", () => {
    assert.strictEqual(localDate(at("2026-03-01T15:30:00Z"), "Asia/Tokyo"), "2026-03-02")
    assert.strictEqual(localDate(at("2026-03-01T03:00:00Z"), "America/New_York"), "2026-02-28")
    assert.strictEqual(offsetMillis(at("2026-07-01T00:00:00Z"), "Asia/Tokyo"), 9 * 3_600_000)
    assert.isTrue(isValidTimeZone("Europe/Amsterdam"))
    assert.isFalse(isValidTimeZone("Mars/Olympus"))
  })

  it("start of a local day, including DST days", () => {
    assert.strictEqual(isoUtc(startOfLocalDay("2026-03-02", "Asia/Tokyo")), "2026-03-01T15:00:00Z")
    // New York springs forward on 2026-03-08 and falls back on 2026-11-01.
    assert.strictEqual(isoUtc(startOfLocalDay("2026-03-08", "America/New_York")), "2026-03-08T05:00:00Z")
    assert.strictEqual(isoUtc(startOfLocalDay("2026-03-09", "America/New_York")), "2026-03-09T04:00:00Z")
    assert.strictEqual(isoUtc(startOfLocalDay("2026-11-01", "America/New_York")), "2026-11-01T04:00:00Z")
    // Santiago skips midnight when DST starts (2026-09-06): the day starts at 01:00 local.
    const santiago = startOfLocalDay("2026-09-06", "America/Santiago")
    assert.strictEqual(localDate(santiago, "America/Santiago"), "2026-09-06")
    assert.strictEqual(localDate(santiago - 1, "America/Santiago"), "2026-09-05")
  })

  it("business date with a 05:00 cutover (K-Series)", () => {
    const zone = "Europe/Amsterdam"
    // 03:00 local on the 2nd still belongs to the 1st's business day.
    assert.strictEqual(businessDate(at("2026-06-02T01:00:00Z"), zone, { cutoverHour: 5 }), "2026-06-01")
    assert.strictEqual(businessDate(at("2026-06-02T03:00:00Z"), zone, { cutoverHour: 5 }), "2026-06-02")
    assert.strictEqual(businessDate(at("2026-06-02T01:00:00Z"), zone), "2026-06-02")
    const range = businessDayRange("2026-06-01", zone, { cutoverHour: 5 })
    assert.strictEqual(isoUtc(range.start), "2026-06-01T03:00:00Z")
    assert.strictEqual(isoUtc(range.end), "2026-06-02T03:00:00Z")
    // The DST day is 23 hours long.
    const short = businessDayRange("2026-03-28", zone, { cutoverHour: 5 }) // spans the 02:00 DST jump of the 29th
    assert.strictEqual(short.end - short.start, 23 * 3_600_000)
    assert.throws(() => businessDate(0, zone, { cutoverHour: 24 }), /cutover/)
  })

  it("tells real calendar dates from look-alikes", () => {
    assert.isTrue(isCalendarDate("2026-02-28"))
    assert.isTrue(isCalendarDate("2028-02-29"))
    for (const bad of ["2026-02-29", "2026-02-30", "2026-13-01", "2026-1-01", "2026-01-01T00:00:00Z", ""])
      assert.isFalse(isCalendarDate(bad), bad)
  })

  it("formats with the zone offset", () => {
    assert.strictEqual(
      formatInZone(at("2023-07-28T10:30:00Z"), "America/Chicago"),
      "2023-07-28T05:30:00-05:00"
    )
    assert.strictEqual(formatInZone(at("2026-01-01T00:00:00Z"), "Asia/Kolkata"), "2026-01-01T05:30:00+05:30")
    assert.strictEqual(addDays("2026-02-28", 1), "2026-03-01")
    assert.throws(() => addDays("2026-02-30", 1), /YYYY-MM-DD/)
  })
})

describe("TimeWindow", () => {
  it("splits a range into half-open windows without gaps or overlaps", () => {
    const windows = splitWindows("2026-01-01T00:00:00Z", "2026-01-01T10:00:00Z", "4 hours")
    assert.deepStrictEqual(windows.map(formatWindow), [
      "[2026-01-01T00:00:00Z, 2026-01-01T04:00:00Z)",
      "[2026-01-01T04:00:00Z, 2026-01-01T08:00:00Z)",
      "[2026-01-01T08:00:00Z, 2026-01-01T10:00:00Z)"
    ])
    const aligned = splitWindows(at("2026-01-01T01:30:00Z"), at("2026-01-01T03:00:00Z"), "1 hour", {
      align: true
    })
    assert.deepStrictEqual(aligned.map(formatWindow), [
      "[2026-01-01T01:30:00Z, 2026-01-01T02:00:00Z)",
      "[2026-01-01T02:00:00Z, 2026-01-01T03:00:00Z)"
    ])
    assert.deepStrictEqual(splitWindows(5, 5, "1 hour"), [])
    assert.throws(() => splitWindows(10, 5, "1 hour"), /before start/)
    assert.throws(() => splitWindows("yesterday", 5, "1 hour"), /start is not a valid instant/)
  })

  it("splits into business days in a zone", () => {
    const days = splitBusinessDays("2026-06-01T00:00:00Z", "2026-06-03T00:00:00Z", "Europe/Amsterdam", {
      cutoverHour: 5
    })
    assert.deepStrictEqual(
      days.map((d) => [d.date, isoUtc(d.start), isoUtc(d.end)]),
      [
        ["2026-05-31", "2026-06-01T00:00:00Z", "2026-06-01T03:00:00Z"],
        ["2026-06-01", "2026-06-01T03:00:00Z", "2026-06-02T03:00:00Z"],
        ["2026-06-02", "2026-06-02T03:00:00Z", "2026-06-03T00:00:00Z"]
      ]
    )
  })
})
