import { describe, expect, it } from "vitest"
import { parseSourceTuning } from "../../src/sources/SourceTuning.js"

describe("parseSourceTuning", () => {
  it("reads KURA_LIGHTSPEED_FROM_DATE as the first Lightspeed business date", () => {
    expect(parseSourceTuning({ KURA_LIGHTSPEED_FROM_DATE: " 2026-06-01 " })).toEqual({
      tuning: { lightspeedFromDate: "2026-06-01" },
      problems: []
    })
    expect(parseSourceTuning({ KURA_LIGHTSPEED_FROM_DATE: "" }).tuning).toEqual({})
  })

  it("refuses a date that is not a real YYYY-MM-DD day, naming the variable and the fix", () => {
    for (const text of ["2026-02-30", "01/06/2026", "2026-6-1", "yesterday"]) {
      const { tuning, problems } = parseSourceTuning({ KURA_LIGHTSPEED_FROM_DATE: text })
      expect(tuning).toEqual({})
      expect(problems).toEqual([
        expect.objectContaining({ field: "KURA_LIGHTSPEED_FROM_DATE", message: `"${text}" is not a date` })
      ])
      expect(problems[0]?.fix).toContain("KURA_LIGHTSPEED_FROM_DATE=2025-01-01")
    }
  })
})
