import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { splitByOrders, trimPartial } from "../src/ShopifyFastPath.js"

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

describe("splitByOrders", () => {
  it("cuts at order boundaries, children stay with their order, nothing lost or repeated", async () => {
    const all = [
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
      line(41, 4)
    ]
    const file = join(dir, "d.jsonl")
    writeFileSync(file, `${all.join("\n")}\n`)
    const parts = await splitByOrders(file, 2)
    expect(parts.map((p) => [p.roots, p.lines])).toEqual([
      [2, 4],
      [2, 4]
    ])
    expect(parts.map((p) => readFileSync(p.file, "utf8")).join("")).toBe(`${all.join("\n")}\n`)
    expect(readFileSync(parts[1]?.file ?? "", "utf8").startsWith(order(3, "2026-01-01T00:00:03Z"))).toBe(true)
  })
})
