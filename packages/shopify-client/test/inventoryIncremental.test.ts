/**
 * Incremental stock and transfer reads against the real emulator: levels changed in a window are
 * read location by location (and nothing else), a backend that ignores the filter is noticed, and
 * the transfer re-check search returns exactly new and open transfers.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { Effect, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { changedInventoryLevels } from "../src/InventoryLevelChanges.js"
import { isClosedTransfer, transfersToRecheckQuery } from "../src/InventoryTransfer.js"
import { Resources } from "../src/Resources.js"
import { ShopifyClient } from "../src/ShopifyClient.js"
import { clientLayer, type Sandbox, startSandbox } from "./sandbox.js"

let sb: Sandbox
beforeAll(async () => {
  sb = await startSandbox({ orders: 200, historyDays: 30, fresh: true, seed: 7 })
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

const read = (window: { start: number; end: number }, baseUrl?: string) =>
  Effect.runPromise(
    Stream.runCollect(changedInventoryLevels({ locationIds: locationGids(), window, pageSize: 50 })).pipe(
      Effect.map((pages) => {
        const cells = new Set<string>()
        let outside = 0
        for (const p of pages) {
          outside += p.outsideWindow
          for (const item of p.items)
            for (const level of item.inventoryLevels)
              cells.add(`${item.legacyResourceId}:${level.location.id.split("/").pop()}`)
        }
        return { cells, outside, pages: pages.length }
      }),
      Effect.provide(clientLayer(sb, baseUrl === undefined ? {} : { baseUrl }))
    )
  )

describe("changed inventory levels", () => {
  it("reads exactly the levels updated in the window, and none of the others", async () => {
    const all = sb.merchant.variants.flatMap((v) =>
      sb.merchant.locations
        .filter((l) => sb.merchant.stocked(v.id, l.id))
        .map((l) => sb.merchant.inventory(v.id, l.id).updatedAt)
    )
    const sorted = [...all].sort((a, b) => a - b)
    // Whole seconds: search dates have no milliseconds.
    const start = Math.floor((sorted[Math.floor(sorted.length * 0.8)] ?? 0) / 1000) * 1000
    const end = Date.now() + 60_000
    const expected = expectedCells(start, end)
    expect(expected.size).toBeGreaterThan(0)
    expect(expected.size).toBeLessThan(all.length)
    const got = await read({ start, end })
    expect(got.outside).toBe(0)
    expect([...got.cells].sort()).toEqual([...expected].sort())
  })

  it("after a mutation, a window from just before it returns only the cells it touched", async () => {
    const before = Math.floor(Date.now() / 1000) * 1000 - 1000
    expect((await read({ start: before, end: Date.now() + 60_000 })).cells.size).toBe(0)
    sb.merchant.mutate({ fraction: 0.1, now: Date.now() })
    const expected = expectedCells(before, Date.now() + 60_000)
    expect(expected.size).toBeGreaterThan(0)
    const got = await read({ start: before, end: Date.now() + 60_000 })
    expect([...got.cells].sort()).toEqual([...expected].sort())
  })

  it("notices a backend that ignores the filter (levels older than the window come back)", async () => {
    // A pass-through proxy that drops the search, as a Shopify that ignored `updated_at` would.
    const upstream = new URL(sb.handle.baseUrl)
    const proxy = http.createServer(async (req, res) => {
      const chunks: Array<Buffer> = []
      for await (const c of req) chunks.push(c as Buffer)
      const body = Buffer.concat(chunks)
        .toString("utf8")
        .replace(/"query":"updated_at[^"]*"/, '"query":null')
      const headers: Record<string, string> = {}
      for (const [k, v] of Object.entries(req.headers))
        if (typeof v === "string" && k !== "host" && k !== "content-length") headers[k] = v
      const answer = await fetch(`${upstream.origin}${req.url}`, {
        method: req.method ?? "POST",
        headers,
        body
      })
      res.writeHead(answer.status, {
        "content-type": answer.headers.get("content-type") ?? "application/json"
      })
      res.end(await answer.text())
    })
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r))
    try {
      const port = (proxy.address() as AddressInfo).port
      const start = Date.now() - 1000
      const got = await read(
        { start, end: Date.now() + 60_000 },
        `http://127.0.0.1:${port}${upstream.pathname === "/" ? "" : upstream.pathname}`
      )
      expect(got.outside).toBeGreaterThan(0)
      // Everything came back: a whole read, so nothing was missed.
      expect(got.cells.size).toBe(expectedCells(0, Date.now() + 60_000).size)
    } finally {
      await new Promise<void>((r) => proxy.close(() => r()))
    }
  })
})

describe("transfers to re-check", () => {
  it("returns the transfers created after the last one seen, plus the ones named as open", async () => {
    const shopify = sb.merchant.stockTransfers.filter((t) => t.system === "shopify")
    expect(shopify.length).toBeGreaterThan(3)
    const ids = shopify.map((t) => t.id).sort((a, b) => a - b)
    const lastSeen = ids[Math.floor(ids.length / 2)] ?? 0
    // Two older transfers the caller last saw open (whatever their status is now).
    const named = [ids[0] ?? 0, ids[1] ?? 0]
    const read = (search?: string) =>
      Effect.runPromise(
        Effect.gen(function* () {
          const client = yield* ShopifyClient
          const pages = yield* Stream.runCollect(
            client.pages(Resources.inventoryTransfers, search === undefined ? {} : { search })
          )
          return pages.flatMap((p) => p.records)
        }).pipe(Effect.provide(clientLayer(sb)))
      )
    const records = await read(transfersToRecheckQuery(lastSeen, named))
    const all = await read()
    const idOf = (gid: string) => Number(gid.split("/").pop())
    const expected = all
      .filter((t) => idOf(t.id) > lastSeen || named.includes(idOf(t.id)))
      .map((t) => t.id)
      .sort()
    expect(records.map((t) => t.id).sort()).toEqual(expected)
    expect(records.length).toBeLessThan(all.length)
    expect(all.filter((t) => named.includes(idOf(t.id))).every((t) => isClosedTransfer(t.status))).toBe(true)
  })
})
