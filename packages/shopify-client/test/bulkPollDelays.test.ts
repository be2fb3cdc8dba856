import { describe, expect, it } from "vitest"
import { bulkPollDelays } from "../src/ShopifyBulk.js"

const take = (it: Iterable<number>, n: number): Array<number> => {
  const out: Array<number> = []
  for (const d of it) {
    if (out.length === n) break
    out.push(d)
  }
  return out
}

/** How many polls a job of `millis` needs before one sees it finished. */
const pollsUntil = (it: Iterable<number>, millis: number): { polls: number; seenAt: number } => {
  let at = 0
  let polls = 0
  for (const d of it) {
    // The first poll is immediate (job start); each later one waits its delay.
    polls++
    if (at >= millis) return { polls, seenAt: at }
    at += d
  }
  return { polls, seenAt: at }
}

describe("bulk job poll schedule", () => {
  it("polls fast first, then backs off ×1.5 to the cap", () => {
    const delays = take(bulkPollDelays(), 16)
    expect(delays.slice(0, 4)).toEqual([250, 375, 563, 845])
    for (let i = 1; i < delays.length; i++) expect(delays[i]).toBeGreaterThanOrEqual(delays[i - 1] ?? 0)
    expect(delays.at(-1)).toBe(30_000)
  })

  it("sees a job finishing in 200 ms within 250 ms, and one of 1.5 s within 2.1 s", () => {
    expect(pollsUntil(bulkPollDelays(), 200).seenAt).toBe(250)
    expect(pollsUntil(bulkPollDelays(), 1_500).seenAt).toBeLessThanOrEqual(2_100)
    // The former 1 s first wait saw both at 1.0 s / 2.5 s.
    expect(pollsUntil(bulkPollDelays({ pollMinMillis: 1000 }), 200).seenAt).toBe(1000)
  })

  it("keeps a long export cheap: at most 3 polls more than a 1 s start over an hour", () => {
    const hour = 3_600_000
    const fast = pollsUntil(bulkPollDelays(), hour).polls
    const slow = pollsUntil(bulkPollDelays({ pollMinMillis: 1000 }), hour).polls
    expect(fast - slow).toBeLessThanOrEqual(3)
    // Two a minute at the 30 s cap, plus the fast start.
    expect(fast).toBeLessThan(140)
  })

  it("honours the options, the minimum clamped to the maximum", () => {
    expect(take(bulkPollDelays({ pollMinMillis: 50, pollMaxMillis: 100 }), 4)).toEqual([50, 75, 100, 100])
    expect(take(bulkPollDelays({ pollMinMillis: 5_000, pollMaxMillis: 1_000 }), 2)).toEqual([1_000, 1_000])
  })
})
