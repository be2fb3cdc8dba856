import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeClock } from "../../src/internal/clock.js"
import {
  defaultMerchantOptions,
  makeMerchant,
  todayUtcMidnight
} from "../../src/internal/generator/makeMerchant.js"
import type {
  LightspeedEmulatorHandle,
  LightspeedEmulatorOptions
} from "../../src/internal/lightspeed/startLightspeedEmulator.js"
import type { Merchant } from "../../src/internal/Merchant.js"
import { refresh, startEmulator } from "./harness.js"

const DAY = 86_400_000
const ANCHOR = todayUtcMidnight()

interface Daily {
  readonly nextStartOfDayAsIso8601: string
  readonly dataComplete: boolean
  readonly sales: ReadonlyArray<unknown>
}

/** Tokyo business date (cutover 05:00) of an instant. */
const businessDate = (ms: number): string =>
  new Date(ms + 9 * 3_600_000 - 5 * 3_600_000).toISOString().slice(0, 10)

describe("Lightspeed K-Series emulator: business days follow the scaled sandbox calendar", () => {
  let merchant: Merchant
  beforeAll(() => {
    merchant = makeMerchant({ ...defaultMerchantOptions(ANCHOR), orders: 200, historyDays: 10 })
  })

  const started: Array<LightspeedEmulatorHandle> = []
  afterAll(async () => {
    for (const s of started) await s.close()
  })

  /** An emulator at timeScale 86 400 (a business day per real second) on a hand-stepped wall clock. */
  const begin = async (options: LightspeedEmulatorOptions = {}) => {
    const wall = { now: Date.now() }
    const ls = await startEmulator(merchant, {
      clock: makeClock(86_400, () => wall.now),
      options: { rateLimit: null, ...options }
    })
    started.push(ls)
    const daily = async (date?: string): Promise<Daily> => {
      // Access tokens last 60 scaled minutes (42 ms here): take a fresh one per call.
      const tok = await refresh(ls, ls.issueRefreshToken())
      const { access_token } = (await tok.json()) as { access_token: string }
      const bl = ls.credentials.businessLocationIds[0] ?? ""
      const res = await fetch(
        `${ls.baseUrl}/f/finance/${bl}/dailyFinancials${date === undefined ? "" : `?date=${date}`}`,
        { headers: { authorization: `Bearer ${access_token}` } }
      )
      expect(res.status).toBe(200)
      return (await res.json()) as Daily
    }
    return { wall, daily }
  }

  it("rolls the current business day over after one real second at timeScale 86400", async () => {
    const { wall, daily } = await begin()
    const today = businessDate(wall.now)
    const first = await daily()
    expect(first.dataComplete).toBe(false)
    // The current day's next start is the following cutover (05:00 Tokyo = 20:00 UTC).
    const nextStart = Date.parse(first.nextStartOfDayAsIso8601)
    expect(first.nextStartOfDayAsIso8601).toMatch(/T05:00:00(\.000)?\+09:00$/)
    expect(businessDate(nextStart - 1)).toBe(today)
    expect(nextStart - wall.now).toBeGreaterThan(0)
    expect(nextStart - wall.now).toBeLessThanOrEqual(DAY)

    wall.now += 1_000 // one scaled day
    const rolled = await daily()
    expect(Date.parse(rolled.nextStartOfDayAsIso8601)).toBe(nextStart + DAY)
    expect(rolled.dataComplete).toBe(false)
    const yesterday = await daily(today)
    expect(yesterday.dataComplete).toBe(true)
    expect(Date.parse(yesterday.nextStartOfDayAsIso8601)).toBe(nextStart)
  })

  it("keeps generated history on its wall-clock dates whatever the scale", async () => {
    const { daily } = await begin()
    const past = businessDate(ANCHOR - 3 * DAY)
    const scaled = await daily(past)
    const { daily: wallDaily } = await begin({ businessDayClock: "wall" })
    const wall = await wallDaily(past)
    expect(scaled.sales.length).toBeGreaterThan(0)
    expect(scaled.sales).toEqual(wall.sales)
    expect(scaled.dataComplete && wall.dataComplete).toBe(true)
  })

  it("businessDayClock: 'wall' keeps the real cutover", async () => {
    const { wall, daily } = await begin({ businessDayClock: "wall" })
    const today = businessDate(wall.now)
    const nextStart = Date.parse((await daily()).nextStartOfDayAsIso8601)
    wall.now += 1_000
    const still = await daily()
    expect(Date.parse(still.nextStartOfDayAsIso8601)).toBe(nextStart)
    expect((await daily(today)).dataComplete).toBe(false)
  })
})
