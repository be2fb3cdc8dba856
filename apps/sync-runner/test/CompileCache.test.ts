/**
 * kura-sync turns on Node's compile cache itself (main.ts), so a start after the first reads the
 * compiled code of the ~1,800 modules it loads instead of compiling them: cron's one-off `run`
 * pays that on every pass. Driven through the built app, with no NODE_COMPILE_CACHE set, so only
 * the app can have turned it on.
 */
import { execFile } from "node:child_process"
import { mkdtemp, readdir, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { afterAll, describe, expect, inject, it } from "vitest"

const main = join(inject("builtAppDir"), "main.js")
const dirs: Array<string> = []
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))))

/** Runs `kura-sync --help` with its temporary directory in a fresh folder; returns the folder. */
const startOnce = async (extra: Record<string, string> = {}) => {
  const dir = await mkdtemp(join(tmpdir(), "kura-compile-cache-"))
  dirs.push(dir)
  await promisify(execFile)(process.execPath, [main, "--help"], {
    env: { PATH: process.env.PATH ?? "", TMPDIR: dir, ...extra }
  })
  return dir
}

/** Files anywhere under `dir`. */
const filesUnder = async (dir: string) =>
  (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).length

describe("Node's compile cache", () => {
  it("is written under the temporary directory by a start that set nothing", async () => {
    const dir = await startOnce()
    expect(await readdir(dir)).toContain("node-compile-cache")
    // One entry per compiled module: hundreds, not a stray file.
    expect(await filesUnder(join(dir, "node-compile-cache"))).toBeGreaterThan(100)
  })

  it("stays off with NODE_DISABLE_COMPILE_CACHE=1 (the container image sets it)", async () => {
    const dir = await startOnce({ NODE_DISABLE_COMPILE_CACHE: "1" })
    expect(await readdir(dir)).not.toContain("node-compile-cache")
  })
})
