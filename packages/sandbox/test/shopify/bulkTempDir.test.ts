import { spawnSync } from "node:child_process"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { makeBulkTempDir, sweepOrphanBulkDirs } from "../../src/internal/shopify/bulkTempDir.js"

const roots: Array<string> = []
afterEach(() => {
  for (const r of roots.splice(0)) fs.rmSync(r, { recursive: true, force: true })
})
const root = () => {
  const r = fs.mkdtempSync(path.join(os.tmpdir(), "kura-bulk-sweep-"))
  roots.push(r)
  return r
}
/** The pid of a process that has exited. */
const deadPid = () => {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"])
  return Number(child.stdout.toString())
}
const leftover = (dir: string, name: string) => {
  fs.mkdirSync(path.join(dir, name))
  fs.writeFileSync(path.join(dir, name, "bulk-1.jsonl"), '{"id":"gid://shopify/Order/1"}\n')
}

describe("the emulator's bulk output directory", () => {
  it("removes what a killed sandbox left behind, and nothing of a live one", () => {
    const dir = root()
    const dead = deadPid()
    leftover(dir, `kura-shopify-bulk-${dead}-aaaaaa`)
    leftover(dir, `kura-shopify-bulk-${process.pid}-bbbbbb`) // this process: alive
    leftover(dir, `kura-shopify-bulk-${process.ppid}-cccccc`) // the parent: alive
    leftover(dir, "kura-shopify-bulk-dddddd") // an older sandbox's name, without a pid
    leftover(dir, "unrelated-1234-x")
    expect(sweepOrphanBulkDirs(dir)).toEqual([`kura-shopify-bulk-${dead}-aaaaaa`])
    expect(fs.readdirSync(dir).sort()).toEqual(
      [
        `kura-shopify-bulk-${process.pid}-bbbbbb`,
        `kura-shopify-bulk-${process.ppid}-cccccc`,
        "kura-shopify-bulk-dddddd",
        "unrelated-1234-x"
      ].sort()
    )
  })

  it("names a new directory after its process and sweeps before creating it", () => {
    const dir = root()
    leftover(dir, "kura-shopify-bulk-2147483646-eeeeee")
    const made = makeBulkTempDir(dir)
    expect(path.basename(made)).toMatch(new RegExp(`^kura-shopify-bulk-${process.pid}-`))
    expect(fs.readdirSync(dir)).toEqual([path.basename(made)])
  })

  it("a missing root sweeps nothing", () => {
    expect(sweepOrphanBulkDirs(path.join(os.tmpdir(), "kura-no-such-dir-for-sweep"))).toEqual([])
  })
})
