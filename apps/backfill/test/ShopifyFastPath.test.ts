import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { gunzipSync } from "node:zlib"
import { Effect, Stream } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { packWindowFiles, trimPartial } from "../src/ShopifyFastPath.js"

const dir = mkdtempSync(join(tmpdir(), "kura-fastpath-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const order = (id: number, at: string) => JSON.stringify({ id: `gid://shopify/Order/${id}`, updatedAt: at })
const line = (id: number, parent: number) =>
  JSON.stringify({ id: `gid://shopify/LineItem/${id}`, __parentId: `gid://shopify/Order/${parent}` })

describe("trimPartial", () => {
  it("keeps the orders before the last second reached, with their children, and resumes at that second", async () => {
    const kept = [
      order(1, "2026-01-01T00:00:01.200Z"),
      line(11, 1),
      order(2, "2026-01-01T00:00:02Z"),
      line(21, 2),
      line(22, 2)
    ]
    const dropped = [
      order(3, "2026-01-01T00:00:03.100Z"),
      line(31, 3),
      order(4, "2026-01-01T00:00:03.900Z"),
      '{"id":"gid://shopify/LineItem/41","__par'
    ]
    const file = join(dir, "a.jsonl")
    writeFileSync(file, `${[...kept, ...dropped].join("\n")}`)
    const r = await trimPartial(file)
    expect(r).toEqual({ lines: 5, roots: 2, resumeAt: Date.parse("2026-01-01T00:00:03Z") })
    expect(readFileSync(file, "utf8")).toBe(`${kept.join("\n")}\n`)
  })

  it("returns null when the roots are not ordered by updatedAt (the prefix marks no point in time)", async () => {
    const file = join(dir, "b.jsonl")
    writeFileSync(
      file,
      `${[order(1, "2026-01-01T00:00:05Z"), order(2, "2026-01-01T00:00:01Z")].join("\n")}\n`
    )
    expect(await trimPartial(file)).toBeNull()
  })

  it("keeps nothing from a file without a complete order", async () => {
    const file = join(dir, "c.jsonl")
    writeFileSync(file, '{"id":"gid://shopify/Order/1","upd')
    expect(await trimPartial(file)).toEqual({ lines: 0, roots: 0, resumeAt: null })
    expect(readFileSync(file, "utf8")).toBe("")
  })
})

describe("packWindowFiles", () => {
  // The gzip stream collected as the lake would store it.
  const collect = (gz: Stream.Stream<Uint8Array, unknown>) =>
    Effect.map(Stream.runCollect(gz), (chunks) => gunzipSync(Buffer.concat([...chunks])).toString("utf8"))

  it("gzips every file once and cuts a big one at order boundaries, children with their order, nothing lost or repeated", async () => {
    const big = [
      order(1, "2026-01-01T00:00:01Z"),
      line(11, 1),
      line(12, 1),
      order(2, "2026-01-01T00:00:02Z"),
      order(3, "2026-01-01T00:00:03Z"),
      line(31, 3),
      // A root whose text mentions __parentId inside a string is still a root.
      JSON.stringify({
        id: "gid://shopify/Order/4",
        note: 'say "__parentId"',
        updatedAt: "2026-01-01T00:00:04Z"
      }),
      line(41, 4),
      order(5, "2026-01-01T00:00:05Z")
    ]
    const small = [order(6, "2026-01-01T00:00:06Z"), line(61, 6)]
    const bigFile = join(dir, "d.jsonl")
    const smallFile = join(dir, "e.jsonl")
    writeFileSync(bigFile, `${big.join("\n")}\n`)
    // No final newline: the lake must still hold it as its own line.
    writeFileSync(smallFile, small.join("\n"))
    const { stored, loads } = await Effect.runPromise(
      packWindowFiles(
        [
          { file: bigFile, jobId: "a", lines: big.length, roots: 5 },
          { file: smallFile, jobId: "b", lines: small.length, roots: 1 }
        ],
        2,
        collect
      )
    )
    expect(stored).toBe(`${big.join("\n")}\n${small.join("\n")}\n`)
    expect(loads.map((p) => [p.roots, p.lines])).toEqual([
      [2, 4],
      [2, 4],
      [1, 1],
      [1, 2]
    ])
    expect(
      loads
        .slice(0, 3)
        .map((p) => readFileSync(p.file, "utf8"))
        .join("")
    ).toBe(`${big.join("\n")}\n`)
    expect(readFileSync(loads[1]?.file ?? "", "utf8").startsWith(order(3, "2026-01-01T00:00:03Z"))).toBe(true)
    // The small file is loaded as it is; the big one's original is gone.
    expect(loads[3]?.file).toBe(smallFile)
    expect(existsSync(bigFile)).toBe(false)
  })

  it("cuts correctly when lines straddle the read chunks (a 3 MB file read in 1 MB chunks)", async () => {
    const lines: Array<string> = []
    let roots = 0
    let size = 0
    for (let i = 0; size < 3 << 20; i++) {
      lines.push(
        JSON.stringify({
          id: `gid://shopify/Order/${i}`,
          updatedAt: "2026-01-01T00:00:00Z",
          pad: "x".repeat(i % 997)
        })
      )
      roots++
      for (let k = 0; k < i % 4; k++) lines.push(line(i * 10 + k, i))
      size = lines.length * 60 + roots * 500
    }
    const file = join(dir, "f.jsonl")
    writeFileSync(file, `${lines.join("\n")}\n`)
    const { stored, loads } = await Effect.runPromise(
      packWindowFiles([{ file, jobId: "a", lines: lines.length, roots }], 1000, collect)
    )
    expect(stored).toBe(`${lines.join("\n")}\n`)
    expect(loads.reduce((n, p) => n + p.roots, 0)).toBe(roots)
    expect(loads.reduce((n, p) => n + p.lines, 0)).toBe(lines.length)
    expect(loads.slice(0, -1).every((p) => p.roots === 1000)).toBe(true)
    const parts = loads.map((p) => readFileSync(p.file, "utf8"))
    expect(parts.join("")).toBe(`${lines.join("\n")}\n`)
    expect(parts.every((t) => t.startsWith('{"id":"gid://shopify/Order/'))).toBe(true)
  })
})
