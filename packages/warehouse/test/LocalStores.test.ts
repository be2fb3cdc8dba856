/**
 * `localStoreProblems`: the local DuckDB file's directory and the lake directory are checked (and
 * created) before anything opens them, each problem saying which store and what to do.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { localStoreProblems } from "../src/index.js"

const dir = mkdtempSync(join(tmpdir(), "kura-local-stores-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe("localStoreProblems", () => {
  it("creates missing directories and reports nothing for usable stores", () => {
    const problems = localStoreProblems({
      duckdbFile: join(dir, "new", "kura.duckdb"),
      lakeDir: join(dir, "lake", "raw")
    })
    expect(problems).toEqual([])
    expect(existsSync(join(dir, "new"))).toBe(true)
    expect(existsSync(join(dir, "lake", "raw"))).toBe(true)
  })

  it("names the store, the path and the fix when a file stands where a directory must be", () => {
    const file = join(dir, "not-a-dir")
    writeFileSync(file, "x")
    const problems = localStoreProblems({ duckdbFile: join(file, "kura.duckdb"), lakeDir: file })
    expect(problems.map((p) => p.store)).toEqual(["warehouse", "lake"])
    expect(problems[0]?.message).toContain(file)
    expect(problems[1]?.message).toContain("it is a file, not a directory")
    for (const p of problems) expect(p.fix).toMatch(/point it at a directory/)
  })

  it("leaves remote and in-memory stores alone", () => {
    expect(localStoreProblems({ duckdbFile: ":memory:", lakeDir: null })).toEqual([])
    expect(localStoreProblems({ duckdbFile: null, lakeDir: null })).toEqual([])
  })
})
