import { execFile } from "node:child_process"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..")

describe("docs/data-dictionary.md", () => {
  it("matches the warehouse's tables and views, with every canonical and view column described", async () => {
    // Regenerates the dictionary from @kura/warehouse's registry (built before this app's tests)
    // and compares; the script names the command that refreshes it.
    const result = await promisify(execFile)(
      process.execPath,
      [join(root, "scripts", "docs", "data-dictionary.mjs"), "--check"],
      { cwd: root }
    ).catch((e: { stderr?: string; code?: number }) => ({
      stdout: "",
      stderr: e.stderr ?? String(e),
      code: e.code
    }))
    expect(result.stderr).toBe("")
    expect(result.stdout).toContain("docs/data-dictionary.md is current")
  })
})
