// A wall-clock step (NTP, a resumed VM) must not move any emulator's rate limit: buckets meter on
// the clock's monotonic `elapsed()`. Before they did, a step back stalled Shopify's bucket until the
// wall caught up, and a run that happened to straddle one failed with THROTTLED out of nowhere.
import { afterEach, describe, expect, it } from "vitest"
import { makeClock } from "../src/internal/clock.js"
import { makeFaultInjector } from "../src/internal/faults/FaultInjector.js"
import { defaultMerchantOptions, makeMerchant } from "../src/internal/generator/makeMerchant.js"
import { startStockyEmulator } from "../src/internal/stocky/startStockyEmulator.js"
import { accessToken, startEmulator } from "./lightspeed/harness.js"
import { STANDARD, start } from "./shopify/harness.js"

const HOUR = 3_600_000

/** A wall clock the test steps by hand, and a monotonic one it advances by hand. */
const steppedClock = () => {
  const t = { wall: Date.now(), elapsed: 0 }
  return {
    t,
    clock: makeClock(
      1,
      () => t.wall,
      () => t.elapsed
    )
  }
}

const merchant = makeMerchant({ ...defaultMerchantOptions(Date.now()), orders: 30, historyDays: 10 })

describe("rate limits across a wall-clock step", () => {
  const closers: Array<() => Promise<void>> = []
  afterEach(async () => {
    for (const close of closers.splice(0)) await close()
  })

  it("Shopify GraphQL: refills by monotonic time whichever way the wall jumps", async () => {
    const { t, clock } = steppedClock()
    const s = await start({
      merchant,
      clock,
      plan: { ...STANDARD, graphqlBucket: 1, graphqlRestoreRate: 1 }
    })
    closers.push(() => s.handle.close())
    const shop = async () => (await s.gql("{ shop { name } }")).body
    const first = await shop()
    expect(first.errors).toBeUndefined()
    expect(first.extensions?.cost.actualQueryCost).toBe(1)
    expect((await shop()).errors?.[0].extensions.code).toBe("THROTTLED")
    t.wall -= HOUR // the wall goes back an hour; a second of real time passes
    t.elapsed += 1000
    expect((await shop()).errors).toBeUndefined()
    t.wall += 2 * HOUR // the wall leaps forward; no real time passes, so no points come back
    expect((await shop()).errors?.[0].extensions.code).toBe("THROTTLED")
    t.elapsed += 1000
    expect((await shop()).errors).toBeUndefined()
  })

  it("Lightspeed: a step back neither stalls nor drains the bucket; a leap forward does not fill it", async () => {
    const { t, clock } = steppedClock()
    const em = await startEmulator(merchant, {
      clock,
      options: { rateLimit: { requestsPerSecond: 1, burst: 1 } }
    })
    closers.push(() => em.close())
    const token = await accessToken(em)
    const call = async () =>
      (await fetch(`${em.baseUrl}/f/data/businesses`, { headers: { authorization: `Bearer ${token}` } }))
        .status
    expect(await call()).toBe(200)
    expect(await call()).toBe(429)
    t.wall -= HOUR
    t.elapsed += 1000
    expect(await call()).toBe(200)
    t.wall += HOUR + 30 * 60_000 // forward half an hour past the start: the access token still lives
    expect(await call()).toBe(429)
    t.elapsed += 1000
    expect(await call()).toBe(200)
  })

  it("Stocky: the same", async () => {
    const { t, clock } = steppedClock()
    const st = await startStockyEmulator({
      merchant,
      faults: makeFaultInjector({ profile: "none", seed: 1 }),
      clock,
      port: 0,
      options: { rateLimit: { requestsPerSecond: 1, burst: 1 } }
    })
    closers.push(() => st.close())
    const call = async () =>
      (
        await fetch(`${st.baseUrl}/api/v2/suppliers.json`, {
          headers: {
            "Store-Name": st.credentials.storeName,
            Authorization: `API KEY=${st.credentials.apiKey}`
          }
        })
      ).status
    expect(await call()).toBe(200)
    expect(await call()).toBe(429)
    t.wall -= HOUR
    t.elapsed += 1000
    expect(await call()).toBe(200)
    t.wall += 2 * HOUR
    expect(await call()).toBe(429)
    t.elapsed += 1000
    expect(await call()).toBe(200)
  })
})
