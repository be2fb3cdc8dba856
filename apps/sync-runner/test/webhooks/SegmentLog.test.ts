import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { SegmentLog } from "../../src/webhooks/SegmentLog.js"

const dirs: Array<string> = []
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), "kura-wal-"))
  dirs.push(d)
  return d
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

describe("SegmentLog", () => {
  it.each(["window", "ack", "none"] as const)(
    "%s: writes concurrent appends in order, and rotation splits them between segments",
    async (sync) => {
      const dir = fresh()
      const { log, recovered } = SegmentLog.open({ dir, sync, syncIntervalMs: 5 })
      expect(recovered).toEqual([])
      const first = Array.from({ length: 50 }, (_, i) => log.append(`{"n":${i}}`))
      const sealed = log.rotate()
      const second = Array.from({ length: 5 }, (_, i) => log.append(`{"m":${i}}`))
      await Promise.all([...first, ...second])
      const segment = await sealed
      expect(readFileSync(segment.path, "utf8").trim().split("\n")).toEqual(
        Array.from({ length: 50 }, (_, i) => `{"n":${i}}`)
      )
      const next = await log.rotate()
      expect(next.id > segment.id).toBe(true)
      expect(readFileSync(next.path, "utf8").trim().split("\n")).toHaveLength(5)
      log.remove(segment)
      expect(existsSync(segment.path)).toBe(false)
      log.close()
    }
  )

  it("recovers the segments left behind, dropping a torn last line, and continues after them", async () => {
    const dir = fresh()
    const a = SegmentLog.open({ dir }).log
    await Promise.all([a.append('{"a":1}'), a.append('{"a":2}')])
    const seg = a.currentSegment
    // A crash in the middle of a write leaves a line without its newline (never acknowledged).
    appendFileSync(seg.path, '{"a":3')
    const { log: b, recovered } = SegmentLog.open({ dir, now: () => 1 })
    expect(recovered.map((r) => r.lines)).toEqual([['{"a":1}', '{"a":2}']])
    // Even with a clock behind the old segment, new segments sort after it.
    expect(b.currentSegment.id > seg.id).toBe(true)
  })
})
