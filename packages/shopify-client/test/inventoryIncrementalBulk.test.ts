/**
 * Changed inventory levels by one bulk job against the real emulator: the same cells and records
 * as the paged read, and a probe that says whether anything changed.
 */
import { BulkJobStore } from "@kura/core"
import { Effect, Option, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type ChangedLevelsPage, changedInventoryLevels } from "../src/InventoryLevelChanges.js"
import {
  anyInventoryLevelChanged,
  CHANGED_LEVELS_BULK_MIN_COST,
  CHANGED_LEVELS_PROBE_QUERY,
  changedInventoryLevelsBulk,
  changedLevelsProbeCost,
  changedLevelsProbePays,
  LocationInventoryLevels
} from "../src/InventoryLevelChangesBulk.js"
import type { ShopifyBulk } from "../src/ShopifyBulk.js"
import { ShopifyClient } from "../src/ShopifyClient.js"
import { bulkLayer, type Sandbox, startSandbox } from "./sandbox.js"

let sb: Sandbox
beforeAll(async () => {
  sb = await startSandbox({ orders: 200, historyDays: 30, fresh: true, seed: 11 })
})
afterAll(async () => {
  await sb?.close()
})

const locationGids = () => sb.merchant.locations.map((l) => `gid://shopify/Location/${l.id}`)

/** Every stocked cell whose level changed in [start, end), as "item:location". */
const expectedCells = (start: number, end: number): Set<string> => {
  const out = new Set<string>()
  for (const v of sb.merchant.variants)
    for (const l of sb.merchant.locations) {
      if (!sb.merchant.stocked(v.id, l.id)) continue
      const at = sb.merchant.inventory(v.id, l.id).updatedAt
      if (at >= start && at < end) out.add(`${v.inventoryItemId}:${l.id}`)
    }
  return out
}

const cellsOf = (pages: ReadonlyArray<ChangedLevelsPage>) => {
  const cells = new Set<string>()
  const quantities: Array<string> = []
  let outside = 0
  for (const p of pages) {
    outside += p.outsideWindow
    for (const item of p.items)
      for (const level of item.inventoryLevels) {
        const cell = `${item.legacyResourceId}:${level.location.id.split("/").pop()}`
        cells.add(cell)
        quantities.push(`${cell}:${JSON.stringify(level.quantities)}:${item.sku}`)
      }
  }
  return { cells, outside, quantities: quantities.sort() }
}

const run = <A, E>(effect: Effect.Effect<A, E, ShopifyBulk | ShopifyClient>) =>
  Effect.runPromise(Effect.provide(effect, bulkLayer(sb, BulkJobStore.layerMemory)))

describe("changed inventory levels by bulk", () => {
  it("probe, then one bulk job: the same levels as the paged read", async () => {
    const before = Math.floor(Date.now() / 1000) * 1000 - 1000
    const window = () => ({ start: before, end: Date.now() + 60_000 })
    const locations = sb.merchant.locations.length
    // Nothing changed yet: the probe says so (one request).
    expect(await run(anyInventoryLevelChanged({ window: window(), locations }))).toEqual(Option.some(false))
    sb.merchant.mutate({ fraction: 0.1, now: Date.now() })
    const expected = expectedCells(before, Date.now() + 60_000)
    expect(expected.size).toBeGreaterThan(3)
    expect(await run(anyInventoryLevelChanged({ window: window(), locations }))).toEqual(Option.some(true))
    const w = window()
    const bulk = cellsOf(
      await run(Stream.runCollect(changedInventoryLevelsBulk({ window: w, locationsPerPage: 1 })))
    )
    const paged = cellsOf(
      await run(Stream.runCollect(changedInventoryLevels({ locationIds: locationGids(), window: w })))
    )
    expect([...bulk.cells].sort()).toEqual([...expected].sort())
    expect(bulk.outside).toBe(0)
    // Field for field the same records as the paged read (item, quantities) — the same rows land.
    expect(bulk.quantities).toEqual(paged.quantities)
    // A shop with more locations than one probe covers is not probed.
    expect(await run(anyInventoryLevelChanged({ window: w, locations: 251 }))).toEqual(Option.none())
  })

  it("probes only where the probe costs less than the bulk job it could spare", async () => {
    // The formula is Shopify's requested cost for the probe document, as the emulator charges it.
    for (const first of [1, 2, 3]) {
      const answer = await run(
        Effect.gen(function* () {
          const client = yield* ShopifyClient
          return yield* client.query(CHANGED_LEVELS_PROBE_QUERY, {
            first,
            query: 'updated_at:>="2000-01-01T00:00:00Z"'
          })
        })
      )
      expect(answer.cost.requested).toBe(changedLevelsProbeCost(first))
    }
    // One or two locations: 6 or 10 points against a job's 11 (mutation + one poll).
    expect(changedLevelsProbePays(1)).toBe(true)
    expect(changedLevelsProbePays(2)).toBe(true)
    // Three and more: the probe alone (14+) costs more than the job.
    expect(changedLevelsProbeCost(3)).toBeGreaterThan(CHANGED_LEVELS_BULK_MIN_COST)
    expect(changedLevelsProbePays(3)).toBe(false)
    expect(changedLevelsProbePays(251)).toBe(false)
  })

  it("the bulk document is a valid bulk query (one top-level connection, two levels deep)", () => {
    const q = LocationInventoryLevels.documents.bulk('updated_at:>="2026-01-01T00:00:00Z"')
    expect(q.startsWith("{ locations { edges { node {")).toBe(true)
    expect(q).toContain('inventoryLevels(query: "updated_at:>=\\"2026-01-01T00:00:00Z\\"")')
    expect(LocationInventoryLevels.documents.bulk(null)).not.toContain("query:")
  })
})
