import { describe, expect, it } from "vitest"
import { CheckpointPacer } from "../src/internal/CheckpointPacer.js"

describe("CheckpointPacer", () => {
  it("lets small windows share a checkpoint once 1,000 orders are held", () => {
    const p = new CheckpointPacer(1000)
    const after = [300, 300, 300, 300].map((n) => {
      const now = p.after(n)
      if (now) p.done()
      return now
    })
    expect(after).toEqual([false, false, false, true])
    expect(p.held).toBe(0)
  })

  it("checkpoints before a large window that small ones left rows for, so it loads with nothing held", () => {
    const p = new CheckpointPacer(1000)
    expect(p.before(200)).toBe(false)
    expect(p.after(200)).toBe(false)
    expect(p.before(999)).toBe(false)
    expect(p.before(5000)).toBe(true)
    p.done()
    expect(p.before(5000)).toBe(false)
    expect(p.after(5000)).toBe(true)
  })

  it("at 1, checkpoints after every window that appended anything, as before it existed", () => {
    const p = new CheckpointPacer(1)
    expect(p.after(0)).toBe(false)
    expect(p.after(1)).toBe(true)
    p.done()
    expect(p.before(10)).toBe(false)
  })

  it("keeps counting when a checkpoint failed (done not called), so the next window tries again", () => {
    const p = new CheckpointPacer(1000)
    expect(p.after(1500)).toBe(true)
    expect(p.held).toBe(1500)
    expect(p.before(1000)).toBe(true)
  })
})
