import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { DEMO_MERCHANT_FILE, demoMerchant } from "../../src/demo/DemoMerchant.js"

const DAY = 86_400_000
const NOV_28 = Date.UTC(2026, 10, 28)

describe("demoMerchant", () => {
  const dirs: Array<string> = []
  const dataDir = () => {
    const d = mkdtempSync(join(tmpdir(), "kura-demo-merchant-"))
    dirs.push(d)
    return join(d, "data")
  }
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
  })

  it("a first run anchors on today and records it; a run the next day meets the same merchant", () => {
    const dir = dataDir()
    expect(demoMerchant(dir, { seed: 42, orders: 300 }, NOV_28, false)).toEqual({
      merchant: { anchor: NOV_28, seed: 42, orders: 300 }
    })
    expect(JSON.parse(readFileSync(join(dir, DEMO_MERCHANT_FILE), "utf8")).anchor).toBe(NOV_28)
    expect(demoMerchant(dir, { seed: 42, orders: 300 }, NOV_28 + DAY, true)).toEqual({
      merchant: { anchor: NOV_28, seed: 42, orders: 300 }
    })
    // A first run again (the warehouse was removed) starts over on its own day.
    expect(demoMerchant(dir, { seed: 42, orders: 300 }, NOV_28 + DAY, false).merchant.anchor).toBe(
      NOV_28 + DAY
    )
  })

  it("says why the ground truth will differ: other settings, or a warehouse without a record", () => {
    const dir = dataDir()
    demoMerchant(dir, { seed: 42, orders: 300 }, NOV_28, false)
    const other = demoMerchant(dir, { seed: 7, orders: 300 }, NOV_28 + DAY, true)
    expect(other.merchant).toEqual({ anchor: NOV_28, seed: 7, orders: 300 })
    expect(other.note).toContain("holds the demo of --seed 42 --orders 300")
    rmSync(join(dir, DEMO_MERCHANT_FILE))
    const unrecorded = demoMerchant(dir, { seed: 42, orders: 300 }, NOV_28 + DAY, true)
    expect(unrecorded.merchant.anchor).toBe(NOV_28 + DAY)
    expect(unrecorded.note).toContain("was missing")
  })

  it("refuses a record it cannot read, naming the file and the fix", () => {
    const dir = dataDir()
    demoMerchant(dir, { seed: 42, orders: 300 }, NOV_28, false)
    writeFileSync(
      join(dir, DEMO_MERCHANT_FILE),
      JSON.stringify({ anchor: "yesterday", seed: 42, orders: 300 })
    )
    expect(() => demoMerchant(dir, { seed: 42, orders: 300 }, NOV_28, true)).toThrow(
      /demo-merchant\.json is not a demo merchant record .*remove .*data\/ to start over/
    )
  })
})
