import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { fileMemoryTrace, noMemoryTrace } from "../src/MemoryTrace.js"

const dir = mkdtempSync(join(tmpdir(), "kura-memory-trace-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const MIB = 2 ** 20

describe("MemoryTrace", () => {
  it("charges an RSS rise to the phase that held the memory, not to the one that ran before it", async () => {
    const file = join(dir, "trace.txt")
    const trace = fileMemoryTrace(file, 5)
    let held: Buffer | null = null
    await Effect.runPromise(
      Effect.gen(function* () {
        yield* trace.phase("w1", "quiet", Effect.sleep("30 millis"))
        yield* trace.phase(
          "w1",
          "heavy",
          Effect.gen(function* () {
            // Touched pages count in RSS; an untouched allocation would not.
            held = Buffer.alloc(96 * MIB, 1)
            yield* Effect.sleep("60 millis")
          })
        )
      })
    )
    const summary = trace.finish()
    expect(held).not.toBeNull()
    const rise = (name: string) =>
      Number(new RegExp(`  ${name}: .*largest rise inside (\\d+) MiB`).exec(summary)?.[1])
    expect(rise("heavy")).toBeGreaterThanOrEqual(80)
    expect(rise("quiet")).toBeLessThan(40)
    const lines = readFileSync(file, "utf8").split("\n")
    expect(lines.some((l) => / heavy w1 ms=\d+ rss \d+->\d+ max \d+ hwm \d+/.test(l))).toBe(true)
    expect(lines.some((l) => / quiet w1 /.test(l))).toBe(true)
    expect(summary).toContain("Memory trace: high-water mark")
  })

  it("is a no-op when off: the effect's result and failure pass through", async () => {
    expect(await Effect.runPromise(noMemoryTrace.phase("w", "p", Effect.succeed(7)))).toBe(7)
    const failed = await Effect.runPromise(Effect.flip(noMemoryTrace.phase("w", "p", Effect.fail("boom"))))
    expect(failed).toBe("boom")
    expect(noMemoryTrace.finish()).toBe("")
  })
})
