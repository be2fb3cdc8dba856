import { execFile } from "node:child_process"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { describe, expect, inject, it } from "vitest"
import { BOUNDED_MARKER, boundedLaunch } from "../src/BoundedRuntime.js"
import { spawnEnv } from "./support.js"

const source = join(import.meta.dirname, "../src/BoundedRuntime.ts")
// Runs in a real Node process (type stripping): prints its pid before and after the re-exec.
const script = `
import v8 from "node:v8"
import { reexecBounded } from ${JSON.stringify(source)}
console.log("start", process.pid)
reexecBounded(160)
console.log("bounded", process.pid, Math.round(v8.getHeapStatistics().heap_size_limit / 2 ** 20), process.env.MALLOC_ARENA_MAX)
`
const run = (env: Record<string, string>) =>
  promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], {
    env: { PATH: process.env.PATH ?? "", ...env }
  })

describe("BoundedRuntime", () => {
  it("re-executes the same process with a bounded V8 heap and two malloc arenas", async () => {
    const { stdout } = await run({})
    const lines = stdout.trim().split("\n")
    // The script ran twice in one pid: once as started, once re-executed.
    expect(lines).toHaveLength(3)
    const pid = lines[0]?.split(" ")[1]
    expect(lines[1]).toBe(`start ${pid}`)
    const [, samePid, limitMb, arenas] = lines[2]?.split(" ") ?? []
    expect(samePid).toBe(pid)
    // The limit is the old space plus the young generation (3 semi-spaces of 16 MB).
    expect(Number(limitMb)).toBeGreaterThanOrEqual(160)
    expect(Number(limitMb)).toBeLessThanOrEqual(160 + 3 * 16 + 8)
    expect(arenas).toBe("2")
  })

  it("takes the heap size from KURA_NODE_HEAP_MB, and 0 keeps Node's default", async () => {
    const limitOf = async (env: Record<string, string>) =>
      (await run(env)).stdout.trim().split("\n").at(-1)?.split(" ") ?? []
    const [defaulted, sized, semi, unbounded] = await Promise.all([
      limitOf({}),
      limitOf({ KURA_NODE_HEAP_MB: "300" }),
      limitOf({ KURA_NODE_SEMI_SPACE_MB: "32" }),
      limitOf({ KURA_NODE_HEAP_MB: "0", KURA_NODE_SEMI_SPACE_MB: "0" })
    ])
    // Same young generation, so the limits differ by the old spaces asked for (300 - 160).
    expect(Math.abs(Number(sized[2]) - Number(defaulted[2]) - 140)).toBeLessThanOrEqual(8)
    // Three semi-spaces of 32 MB instead of 16.
    expect(Math.abs(Number(semi[2]) - Number(defaulted[2]) - 48)).toBeLessThanOrEqual(8)
    // Node's own sizing (a share of this machine's RAM) is larger than either.
    expect(Number(unbounded[2])).toBeGreaterThan(Number(sized[2]))
    expect(unbounded[3]).toBe("2")
  })

  it("refuses an invalid KURA_NODE_HEAP_MB with exit 2 naming the variable", async () => {
    const failed = await run({ KURA_NODE_HEAP_MB: "lots" }).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e
    )
    expect(failed?.code).toBe(2)
    expect(failed?.stderr).toContain("KURA_NODE_HEAP_MB=lots must be a whole number of MB")
  })

  it("keeps explicit V8 flags and does not re-execute twice", () => {
    const base = { execArgv: [], argv: ["/app/main.js", "serve"], defaultHeapMb: 384 }
    const explicit = boundedLaunch({ ...base, env: { NODE_OPTIONS: "--max-old-space-size=1024" } })
    expect(explicit).toMatchObject({
      _tag: "Reexec",
      heapMb: undefined,
      args: ["--max-semi-space-size=16", "/app/main.js", "serve"]
    })
    expect(boundedLaunch({ ...base, env: { [BOUNDED_MARKER]: "1" } })._tag).toBe("Keep")
    const given = ["--max-old-space-size=512", "--max-semi-space-size=8"]
    expect(boundedLaunch({ ...base, execArgv: given, env: { MALLOC_ARENA_MAX: "4" } })._tag).toBe("Keep")
    expect(boundedLaunch({ ...base, env: {} })).toMatchObject({
      _tag: "Reexec",
      args: ["--max-old-space-size=384", "--max-semi-space-size=16", "/app/main.js", "serve"],
      env: { MALLOC_ARENA_MAX: "2", [BOUNDED_MARKER]: "1" }
    })
    expect(boundedLaunch({ ...base, env: { KURA_NODE_SEMI_SPACE_MB: "-1" } })).toMatchObject({
      _tag: "Invalid",
      message: expect.stringContaining("KURA_NODE_SEMI_SPACE_MB=-1")
    })
  })
})

describe("kura-sync (built) memory settings", () => {
  const main = join(inject("builtAppDir"), "main.js")

  it("refuses invalid KURA_DUCKDB_MEMORY_LIMIT / KURA_DUCKDB_ALLOCATOR_FLUSH with exit 2 naming each and the fix", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kura-sync-mem-"))
    try {
      const config = join(dir, "kura.json")
      await writeFile(
        config,
        JSON.stringify({
          lake: `file:${join(dir, "lake")}`,
          warehouse: `duckdb:${join(dir, "kura.duckdb")}`,
          demo: [{ name: "orders", pages: 1, pageDelay: "10ms" }]
        })
      )
      const failed = await promisify(execFile)(process.execPath, [main, "run", "--config", config], {
        env: {
          ...spawnEnv(),
          HOME: dir,
          KURA_DUCKDB_MEMORY_LIMIT: "lots",
          KURA_DUCKDB_ALLOCATOR_FLUSH: "often"
        },
        cwd: dir
      }).then(
        () => undefined,
        (e: { code: number; stderr: string; stdout: string }) => e
      )
      expect(failed?.code).toBe(2)
      expect(`${failed?.stdout}${failed?.stderr}`).toContain("KURA_DUCKDB_MEMORY_LIMIT")
      expect(`${failed?.stdout}${failed?.stderr}`).toContain("KURA_DUCKDB_ALLOCATOR_FLUSH")
      expect(`${failed?.stdout}${failed?.stderr}`).toContain('"often" is not a memory size')
      expect(`${failed?.stdout}${failed?.stderr}`).toContain("set a size such as 8MB")
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
