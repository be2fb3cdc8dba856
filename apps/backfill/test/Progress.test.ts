import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { makePlan } from "../src/Plan.js"
import { Progress } from "../src/Progress.js"

const plan = makePlan({
  source: "shopify",
  streams: ["orders"],
  from: Date.parse("2024-01-01T00:00:00Z"),
  to: Date.parse("2024-03-01T00:00:00Z"),
  windowMillis: 30 * 86_400_000
})
const w = plan.windows[0]
const outcome = w && {
  window: w,
  reportedCount: 5,
  fetched: 5,
  loaded: 5,
  canonicalRows: 5,
  points: 21,
  lakePath: "x"
}

const drive = (isTTY: boolean) => {
  let text = ""
  const p = new Progress(2, {
    isTTY,
    write: (t) => {
      text += t
    }
  })
  Effect.runSync(
    Effect.gen(function* () {
      yield* p.records(5)
      yield* p.windowFinished(w?.id ?? "", outcome ?? null, "complete")
      yield* p.finish()
    })
  )
  return text
}

describe("Progress", () => {
  it("draws a bar with windows, rows, rows/s, ETA and API budget on a terminal", () => {
    const text = drive(true)
    expect(text).toContain("\r[############------------] 1/2 windows  5 rows")
    expect(text).toMatch(/rows\/s {2}ETA \d+s {2}API ~21 pts/)
    expect(text.endsWith("\n")).toBe(true)
  })

  it("writes one plain line per window when stdout is not a TTY", () => {
    const text = drive(false)
    expect(text).not.toContain("\r")
    expect(text).toMatch(
      /^window 1\/2 complete shopify\/orders\/\S+ rows=5 held=0 fetched=5 reported=5 .*api_points=21\n$/
    )
  })
})
