import { describe, expect, it } from "vitest"
import * as Pkg from "../src/index.js"

describe("scaffold", () => {
  it("exports a version", () => {
    expect(Pkg.VERSION).toMatch(/^\d+\.\d+\.\d+/)
  })
})
