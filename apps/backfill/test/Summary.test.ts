import { describe, expect, it } from "vitest"
import { makePlan } from "../src/Plan.js"
import { formatSummary } from "../src/Summary.js"
import type { LedgerEntry } from "../src/WindowOutcome.js"

const plan = makePlan({
  source: "shopify",
  streams: ["orders"],
  from: Date.parse("2024-01-01T00:00:00Z"),
  to: Date.parse("2024-03-01T00:00:00Z"),
  windowMillis: 30 * 86_400_000
})
const [a, b, c] = plan.windows
const outcome = (w: NonNullable<typeof a>, reported: number | null, loaded: number) => ({
  window: w,
  reportedCount: reported,
  fetched: loaded,
  loaded,
  canonicalRows: 0,
  points: 21,
  lakePath: "x"
})

describe("Summary", () => {
  it("names every window that does not tie and totals reported against loaded", () => {
    if (a === undefined || b === undefined || c === undefined) throw new Error("plan too short")
    const ledger: ReadonlyArray<LedgerEntry> = [
      { window: a, status: "complete", outcome: outcome(a, 10, 10), detail: null },
      {
        window: b,
        status: "incomplete",
        outcome: outcome(b, 12, 11),
        detail: "API reported 12 records but 11 were loaded"
      },
      { window: c, status: "skipped", outcome: null, detail: "finished by an earlier run" }
    ]
    const text = formatSummary(ledger, new Map([[c.id, 7]]))
    expect(text).toContain(`NOT TIED: ${b.id}: API reported 12 records but 11 were loaded`)
    expect(text).not.toContain(`NOT TIED: ${a.id}`)
    expect(text).toContain("API reported 22")
    expect(text).toContain("28 in this share overall")
  })

  it("says so when every window ties", () => {
    if (a === undefined) throw new Error("plan too short")
    expect(
      formatSummary([{ window: a, status: "complete", outcome: outcome(a, 3, 3), detail: null }], new Map())
    ).toContain("Every window ties.")
  })

  it("says when windows were reconciled by distinct ids (no count endpoint) and how many duplicates were fetched", () => {
    if (a === undefined || b === undefined) throw new Error("plan too short")
    const ledger: ReadonlyArray<LedgerEntry> = [
      {
        window: a,
        status: "complete",
        outcome: { ...outcome(a, 10, 10), fetched: 12, countBasis: "distinct-ids", duplicatesFetched: 2 },
        detail: null
      },
      { window: b, status: "complete", outcome: outcome(b, 5, 5), detail: null }
    ]
    const text = formatSummary(ledger, new Map())
    expect(text).toContain("Count basis: 1 window(s) have no API count")
    expect(text).toContain("2 record(s) fetched more than once were stored once")
    expect(formatSummary([ledger[1] as LedgerEntry], new Map())).not.toContain("Count basis")
  })
})
