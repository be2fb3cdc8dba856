import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Json, type Started, start } from "./harness.js"

/** `Location.inventoryLevels(query:)` / `InventoryItem.inventoryLevels(query:)` search, as Shopify's. */
describe("Shopify emulator: inventory level search", () => {
  let s: Started
  let location = ""
  let levels: ReadonlyArray<Json> = []
  beforeAll(async () => {
    s = await start({ orders: 120, historyDays: 30, timeScale: 100 })
    const r = await s.gql("{ locations(first: 10) { nodes { id } } }")
    location = r.body.data.locations.nodes[0].id
    const all = await s.gql(
      `query($id: ID!) { location(id: $id) { inventoryLevels(first: 250) { nodes { id updatedAt item { id } } } } }`,
      { id: location }
    )
    levels = all.body.data.location.inventoryLevels.nodes
  })
  afterAll(() => s.handle.close())

  const ids = async (query: string) => {
    const r = await s.gql(
      `query($id: ID!, $q: String) { location(id: $id) { inventoryLevels(first: 250, query: $q) { nodes { id } } } }`,
      { id: location, q: query }
    )
    return { ids: r.body.data.location.inventoryLevels.nodes.map((l: Json) => l.id), r }
  }

  it("filters by updated_at and inventory_item_id", async () => {
    expect(levels.length).toBeGreaterThan(4)
    const sorted = [...levels].sort((a, b) => Date.parse(a.updatedAt) - Date.parse(b.updatedAt))
    const mid = sorted[Math.floor(sorted.length / 2)]?.updatedAt ?? ""
    const later = levels.filter((l) => Date.parse(l.updatedAt) >= Date.parse(mid)).map((l) => l.id)
    const got = await ids(`updated_at:>='${mid}'`)
    expect(got.ids).toEqual(later)
    expect(got.r.body.extensions.search).toBeUndefined()
    const item = Number(String(levels[0]?.item.id).split("/").pop())
    expect((await ids(`inventory_item_id:${item}`)).ids).toEqual([levels[0]?.id])
  })

  it("ignores an unknown field with a search warning, or rejects it when configured", async () => {
    const got = await ids("colour:blue")
    expect(got.ids.length).toBe(levels.length)
    expect(got.r.body.extensions.search).toEqual([
      {
        path: ["location", "inventoryLevels"],
        query: "colour:blue",
        warnings: [{ field: "colour", message: "Invalid search field for this query." }]
      }
    ])
    const strict = await start({ orders: 20, options: { unknownSearchFields: "error" } })
    try {
      const bad = await strict.gql(
        `query($id: ID!) { location(id: $id) { inventoryLevels(first: 5, query: "colour:blue") { nodes { id } } } }`,
        { id: location }
      )
      expect(bad.body.errors?.[0].message).toContain("colour")
    } finally {
      await strict.handle.close()
    }
  })
})
