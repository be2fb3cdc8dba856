import { execFile } from "node:child_process"
import { join } from "node:path"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"
import { BOUNDED_MARKER, boundedLaunch, DEFAULT_MALLOC_ENV } from "../src/BoundedLaunch.js"

const source = join(import.meta.dirname, "../src/BoundedLaunch.ts")
// A real Node process (type stripping) that prints its pid, V8 heap limit and malloc settings
// before and after the re-exec.
const script = `
import v8 from "node:v8"
import { reexecBounded } from ${JSON.stringify(source)}
const show = (what) => console.log(what, process.pid, Math.round(v8.getHeapStatistics().heap_size_limit / 2 ** 20), process.env.MALLOC_ARENA_MAX ?? "-", process.env.MALLOC_MMAP_THRESHOLD_ ?? "-", process.env.MALLOC_TRIM_THRESHOLD_ ?? "-")
show("start")
reexecBounded({ env: process.env, defaultHeapMb: 160 })
show("bounded")
`
const run = (env: Record<string, string>) =>
  promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], {
    env: { PATH: process.env.PATH ?? "", ...env }
  })

describe("BoundedLaunch", () => {
  it("re-executes the same process with a bounded V8 heap and the malloc settings", async () => {
    const { stdout } = await run({})
    const lines = stdout.trim().split("\n")
    // The script ran twice in one pid: once as started, once re-executed.
    expect(lines).toHaveLength(3)
    const [, pid, limit0, ...malloc0] = lines[0]?.split(" ") ?? []
    // The re-executed process starts the script again, in the same pid.
    expect(lines[1]?.startsWith(`start ${pid} `)).toBe(true)
    expect(Number(limit0)).toBeGreaterThan(1024)
    expect(malloc0).toEqual(["-", "-", "-"])
    const [, samePid, limitMb, ...malloc] = lines[2]?.split(" ") ?? []
    expect(samePid).toBe(pid)
    // The limit is the old space plus the young generation (3 semi-spaces of 16 MB).
    expect(Number(limitMb)).toBeGreaterThanOrEqual(160)
    expect(Number(limitMb)).toBeLessThanOrEqual(160 + 3 * 16 + 8)
    expect(malloc).toEqual([DEFAULT_MALLOC_ENV.MALLOC_ARENA_MAX, "-", "-"])
  })

  it("takes sizes from KURA_NODE_HEAP_MB / KURA_NODE_SEMI_SPACE_MB (0 keeps Node's) and keeps the caller's malloc values", async () => {
    const of = async (env: Record<string, string>) =>
      (await run(env)).stdout.trim().split("\n").at(-1)?.split(" ") ?? []
    const [defaulted, sized, semi, unbounded, callers, none] = await Promise.all([
      of({}),
      of({ KURA_NODE_HEAP_MB: "300" }),
      of({ KURA_NODE_SEMI_SPACE_MB: "32" }),
      of({ KURA_NODE_HEAP_MB: "0", KURA_NODE_SEMI_SPACE_MB: "0" }),
      of({ MALLOC_ARENA_MAX: "4", MALLOC_MMAP_THRESHOLD_: "262144" }),
      of({ KURA_MALLOC_DEFAULTS: "0" })
    ])
    // Same young generation, so the limits differ by the old spaces asked for (300 - 160).
    expect(Math.abs(Number(sized[2]) - Number(defaulted[2]) - 140)).toBeLessThanOrEqual(8)
    // Three semi-spaces of 32 MB instead of 16.
    expect(Math.abs(Number(semi[2]) - Number(defaulted[2]) - 48)).toBeLessThanOrEqual(8)
    // Node's own sizing (a share of this machine's RAM) is larger than either.
    expect(Number(unbounded[2])).toBeGreaterThan(Number(sized[2]))
    expect(unbounded.slice(3)).toEqual(["2", "-", "-"])
    // The caller's values reach the re-executed process (glibc reads them at its start).
    expect(callers.slice(3)).toEqual(["4", "262144", "-"])
    expect(none.slice(3)).toEqual(["-", "-", "-"])
  })

  it("refuses an invalid knob with exit 2 naming the variable", async () => {
    const failure = (env: Record<string, string>) =>
      run(env).then(
        () => undefined,
        (e: { code: number; stderr: string }) => e
      )
    const [heap, arenas] = await Promise.all([
      failure({ KURA_NODE_HEAP_MB: "lots" }),
      failure({ MALLOC_ARENA_MAX: "two" })
    ])
    expect(heap?.code).toBe(2)
    expect(heap?.stderr).toContain("KURA_NODE_HEAP_MB=lots must be a whole number of MB")
    expect(arenas?.code).toBe(2)
    expect(arenas?.stderr).toContain("MALLOC_ARENA_MAX=two must be a whole number of arenas")
  })

  it("keeps explicit V8 flags, the caller's settings, and does not re-execute twice", () => {
    const base = { execArgv: [], argv: ["/app/main.js", "serve"], defaultHeapMb: 384 }
    expect(boundedLaunch({ ...base, env: { NODE_OPTIONS: "--max-old-space-size=1024" } })).toMatchObject({
      _tag: "Reexec",
      heapMb: undefined,
      args: ["--max-semi-space-size=16", "/app/main.js", "serve"]
    })
    expect(boundedLaunch({ ...base, env: { [BOUNDED_MARKER]: "1" } })._tag).toBe("Keep")
    const flags = ["--max-old-space-size=512", "--max-semi-space-size=8"]
    // Every setting given by the caller: nothing to change.
    expect(
      boundedLaunch({ ...base, execArgv: flags, env: { ...DEFAULT_MALLOC_ENV, MALLOC_ARENA_MAX: "4" } })._tag
    ).toBe("Keep")
    expect(boundedLaunch({ ...base, execArgv: flags, env: { KURA_MALLOC_DEFAULTS: "0" } })._tag).toBe("Keep")
    // Only the missing malloc settings are added (an app may default more of them).
    const more = { MALLOC_ARENA_MAX: "2", MALLOC_TRIM_THRESHOLD_: "131072" }
    expect(
      boundedLaunch({ ...base, execArgv: flags, defaultMalloc: more, env: { MALLOC_ARENA_MAX: "4" } })
    ).toMatchObject({
      _tag: "Reexec",
      args: [...flags, "/app/main.js", "serve"],
      env: { MALLOC_ARENA_MAX: "4", MALLOC_TRIM_THRESHOLD_: "131072", [BOUNDED_MARKER]: "1" }
    })
    expect(boundedLaunch({ ...base, env: {} })).toMatchObject({
      _tag: "Reexec",
      args: ["--max-old-space-size=384", "--max-semi-space-size=16", "/app/main.js", "serve"],
      env: { ...DEFAULT_MALLOC_ENV, [BOUNDED_MARKER]: "1" }
    })
    expect(boundedLaunch({ ...base, env: { KURA_NODE_SEMI_SPACE_MB: "-1" } })).toMatchObject({
      _tag: "Invalid",
      message: expect.stringContaining("KURA_NODE_SEMI_SPACE_MB=-1")
    })
    expect(boundedLaunch({ ...base, env: { MALLOC_MMAP_THRESHOLD_: "128k" } })).toMatchObject({
      _tag: "Invalid",
      message: expect.stringContaining("MALLOC_MMAP_THRESHOLD_=128k must be a whole number of bytes")
    })
  })
})
