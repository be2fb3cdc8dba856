/**
 * The Shopify inventory streams read incrementally against the real sandbox: the stock snapshot
 * reads only the levels that changed (a changed level is read, an unchanged one is not) and takes
 * the whole snapshot once per period; transfers re-read only new and open ones, whole once per
 * period; and a pass over all of a shop's streams asks Shopify for the shop once. An incremental
 * pass asks only what it needs: locations again only when their summaries changed, no page where
 * the count says nothing changed, and changed levels by one bulk job without a probe that would
 * cost more than the job.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type Sandbox, startSandbox } from "@kura/sandbox"
import { DuckDbWarehouse, LocalObjectStore, RawLake, Warehouse } from "@kura/warehouse"
import { Effect, Layer, Option, Redacted, Schema } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { runStreamOnce } from "../../src/demo/runDemo.js"
import type { SyncStream } from "../../src/SyncStream.js"
import {
  makeShopifyStreams,
  SHOP_INFO_TTL_MS,
  shopInfoKey,
  wholeReadDue
} from "../../src/sources/ShopifyStreams.js"
import { forwardRequest } from "../support.js"

const root = mkdtempSync(join(tmpdir(), "kura-inv-"))
let sandbox: Sandbox
/** GraphQL operation names seen by the proxy in front of the sandbox's Shopify. */
const operations: Array<string> = []
/** The request bodies, in the same order. */
const bodies: Array<string> = []
let proxyUrl = ""
let closeProxy: () => Promise<void> = async () => {}

beforeAll(async () => {
  // Real-time clock: the levels `mutate` touches are stamped with the time the streams read at.
  sandbox = await startSandbox({ seed: 5, scale: 60, historyDays: 21, timeScale: 1 })
  const upstream = new URL(sandbox.shopify.baseUrl)
  const proxy = createServer(async (req, res) => {
    const { body, answer } = await forwardRequest(upstream.origin, req)
    const op = /(?:query|mutation) (Kura\w+)/.exec(body.toString("utf8"))?.[1]
    if (op !== undefined) {
      operations.push(op)
      bodies.push(body.toString("utf8"))
    }
    res.writeHead(answer.status, { "content-type": answer.headers.get("content-type") ?? "application/json" })
    res.end(Buffer.from(await answer.arrayBuffer()))
  })
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r))
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`
  closeProxy = () => new Promise<void>((r) => proxy.close(() => r()))
})
afterAll(async () => {
  await closeProxy()
  await sandbox?.close()
  rmSync(root, { recursive: true, force: true })
})

let dirs = 0
const target = () => {
  const dir = join(root, `t${dirs++}`)
  return Layer.mergeAll(
    DuckDbWarehouse.layer({ path: join(dir, "kura.duckdb") }),
    RawLake.layer.pipe(Layer.provide(LocalObjectStore.layer(join(dir, "lake"))))
  )
}

const streamsOf = (paged = true, bulkMinRecords?: number) =>
  Effect.gen(function* () {
    const warehouse = yield* Warehouse
    const lake = yield* RawLake
    const streams = makeShopifyStreams(
      {
        shop: sandbox.shopify.credentials.shopDomain,
        auth: { _tag: "AccessToken", accessToken: Redacted.make(sandbox.shopify.credentials.accessToken) },
        apiVersion: sandbox.shopify.credentials.apiVersion,
        apiBaseUrl: Option.some(proxyUrl),
        webhookSecret: Option.none()
      },
      {
        warehouse,
        lake,
        sandbox: true,
        ...(paged
          ? {
              shopifyBulkThresholdMs: Number.MAX_SAFE_INTEGER,
              shopifyBulkMinRecords: Number.MAX_SAFE_INTEGER
            }
          : bulkMinRecords === undefined
            ? {}
            : { shopifyBulkMinRecords: bulkMinRecords })
      },
      () => 60_000
    )
    const byName = (name: string): SyncStream => {
      const s = streams.find((x) => x.key.stream === name)
      if (s === undefined) throw new Error(`no ${name} stream`)
      return s
    }
    const run = (name: string) =>
      Effect.gen(function* () {
        const { result } = yield* runStreamOnce(warehouse, byName(name))
        if ("_tag" in result) throw new Error(`${name}: ${result.message}`)
        return result
      })
    const Cursor = Schema.fromJsonString(
      Schema.Struct({
        since: Schema.Number,
        fullAt: Schema.optional(Schema.Number),
        lastId: Schema.optional(Schema.String),
        open: Schema.optional(Schema.Array(Schema.String)),
        filterIgnored: Schema.optional(Schema.Boolean),
        seen: Schema.optional(Schema.String)
      })
    )
    const cursor = (name: string) =>
      Effect.gen(function* () {
        const c = yield* warehouse.checkpoints.get(byName(name).key)
        return yield* Schema.decodeUnknownEffect(Cursor)(Option.getOrThrow(c).cursor)
      })
    /** Rewrites a stream's cursor (simulates what an earlier run saw). */
    const editCursor = (name: string, f: (c: typeof Cursor.Type) => object) =>
      Effect.gen(function* () {
        const key = byName(name).key
        const c = Option.getOrThrow(yield* warehouse.checkpoints.get(key))
        const parsed = yield* Schema.decodeUnknownEffect(Cursor)(c.cursor)
        yield* warehouse.checkpoints.put({ ...c, cursor: JSON.stringify(f(parsed)) })
      })
    /** Moves a stream's last whole read into the previous day, as if the day had turned. */
    const ageWholeRead = (name: string) =>
      Effect.gen(function* () {
        const key = byName(name).key
        const c = Option.getOrThrow(yield* warehouse.checkpoints.get(key))
        const parsed = yield* Schema.decodeUnknownEffect(Cursor)(c.cursor)
        yield* warehouse.checkpoints.put({
          ...c,
          cursor: JSON.stringify({ ...parsed, fullAt: (parsed.fullAt ?? 0) - 86_400_000 })
        })
      })
    /** The (item, location) cells written at or after `at`. */
    const cellsWrittenSince = (at: number) =>
      Effect.map(
        warehouse.query(
          `SELECT DISTINCT inventory_item_id AS item, location_id AS loc FROM inventory_levels WHERE epoch_ms(observed_at) >= ${at}`
        ),
        (rows) => new Set(rows.map((r) => `${String(r.item)}:${String(r.loc)}`))
      )
    return { streams, run, cursor, editCursor, ageWholeRead, cellsWrittenSince, warehouse }
  })

/** Stocked cells whose level changed at or after `from`, from the sandbox's own model. */
const cellsChangedSince = (from: number) => {
  const out = new Set<string>()
  for (const v of sandbox.merchant.variants)
    for (const l of sandbox.merchant.locations)
      if (sandbox.merchant.stocked(v.id, l.id) && sandbox.merchant.inventory(v.id, l.id).updatedAt >= from)
        out.add(`${v.inventoryItemId}:${l.id}`)
  return out
}

const sleep = (ms: number) => Effect.promise(() => new Promise((r) => setTimeout(r, ms)))

describe("Shopify inventory streams, incrementally", () => {
  it("the whole-read period turns over on the period boundary (daily: the first run of each UTC day)", () => {
    const day = 86_400_000
    const t = Date.parse("2026-11-27T10:00:00Z")
    expect(wholeReadDue(undefined, t, day)).toBe(true)
    expect(wholeReadDue(t - 3_600_000, t, day)).toBe(false)
    expect(wholeReadDue(Date.parse("2026-11-26T23:59:00Z"), Date.parse("2026-11-27T00:01:00Z"), day)).toBe(
      true
    )
    expect(wholeReadDue(t, t + 1, 0)).toBe(true)
  })

  it("stock: a changed level is read, an unchanged one is not; the periodic whole snapshot reads all", async () => {
    await Effect.runPromise(
      Effect.gen(function* () {
        const s = yield* streamsOf()
        yield* s.run("locations")
        yield* s.run("products")
        const all = cellsChangedSince(0)
        const t0 = Date.now()
        yield* s.run("inventory_levels")
        expect(yield* s.cellsWrittenSince(t0)).toEqual(all)
        const first = yield* s.cursor("inventory_levels")
        expect(first.fullAt).toBeGreaterThanOrEqual(t0)

        yield* sleep(1100)
        sandbox.mutate({ fraction: 0.1 })
        const t1 = Date.now()
        const touched = cellsChangedSince(t1 - 1000)
        expect(touched.size).toBeGreaterThan(0)
        yield* sleep(1100)
        const t2 = Date.now()
        yield* s.run("inventory_levels")
        // The window starts at the last cursor less the 5-minute look-back, in whole seconds.
        const from = Math.floor((first.since - 300_000) / 1000) * 1000
        const expected = cellsChangedSince(from)
        const written = yield* s.cellsWrittenSince(t2)
        expect([...written].sort()).toEqual([...expected].sort())
        for (const cell of touched) expect(written.has(cell)).toBe(true)
        expect(written.size).toBeLessThan(all.size)
        const second = yield* s.cursor("inventory_levels")
        expect(second.fullAt).toBe(first.fullAt)
        expect(second.filterIgnored).toBeUndefined()
        // A changed quantity landed with its new value.
        const [cell] = [...touched]
        const [item, loc] = (cell ?? ":").split(":")
        const v = sandbox.merchant.variants.find((x) => String(x.inventoryItemId) === item)
        const rows = yield* s.warehouse.query(
          `SELECT quantity FROM inventory_levels WHERE inventory_item_id = '${item}' AND location_id = '${loc}' AND quantity_name = 'on_hand' ORDER BY observed_at DESC LIMIT 1`
        )
        expect(Number(rows[0]?.quantity)).toBe(sandbox.merchant.inventory(v?.id ?? -1, Number(loc)).onHand)

        // The day turns: the next run takes the whole snapshot again.
        yield* s.ageWholeRead("inventory_levels")
        const t3 = Date.now()
        yield* s.run("inventory_levels")
        expect((yield* s.cellsWrittenSince(t3)).size).toBe(all.size)
        expect((yield* s.cursor("inventory_levels")).fullAt).toBeGreaterThanOrEqual(t3)
      }).pipe(Effect.provide(target()))
    )
  })

  it("transfers: re-read only new and open ones; whole again once per period", async () => {
    await Effect.runPromise(
      Effect.gen(function* () {
        const s = yield* streamsOf()
        yield* s.run("locations")
        yield* s.run("products")
        const shopifyTransfers = sandbox.merchant.stockTransfers.filter((t) => t.system === "shopify")
        const open = shopifyTransfers.filter((t) => t.receivedAt === null)
        // The sandbox receives transfers 6 hours after sending: only the newest can still be open.
        expect(open.length).toBeLessThan(shopifyTransfers.length)
        const whole = yield* s.run("inventory_transfers")
        expect(whole.rows).toBe(shopifyTransfers.length)
        const c = yield* s.cursor("inventory_transfers")
        expect(c.lastId).toBe(String(Math.max(...shopifyTransfers.map((t) => t.id))))
        expect([...(c.open ?? [])].sort()).toEqual(open.map((t) => String(t.id)).sort())
        const again = yield* s.run("inventory_transfers")
        expect(again.rows).toBe(open.length)
        expect((yield* s.cursor("inventory_transfers")).filterIgnored).toBeUndefined()
        // A transfer last seen open is re-read by id even though it has closed since (a filter on
        // the current status would miss exactly that change); once read closed it is dropped.
        const closed = shopifyTransfers.find((t) => t.receivedAt !== null)
        expect(closed).toBeDefined()
        yield* s.editCursor("inventory_transfers", (x) => ({
          ...x,
          open: [...(x.open ?? []), String(closed?.id)]
        }))
        expect((yield* s.run("inventory_transfers")).rows).toBe(open.length + 1)
        const after = yield* s.cursor("inventory_transfers")
        expect(after.open).not.toContain(String(closed?.id))
        expect(after.filterIgnored).toBeUndefined()
        yield* s.ageWholeRead("inventory_transfers")
        expect((yield* s.run("inventory_transfers")).rows).toBe(shopifyTransfers.length)
      }).pipe(Effect.provide(target()))
    )
  })

  it("a pass over every stream of the shop asks Shopify for the shop once", async () => {
    await Effect.runPromise(
      Effect.gen(function* () {
        // Bulk reads (the default): paging every order at 100 points/s would take minutes.
        const s = yield* streamsOf(false)
        operations.length = 0
        yield* s.run("locations")
        yield* s.run("products")
        yield* Effect.all(
          s.streams
            .filter((x) => !["locations", "products"].includes(x.key.stream))
            .map((x) => s.run(x.key.stream)),
          { concurrency: "unbounded" }
        )
        expect(operations.filter((o) => o === "KuraShop")).toEqual(["KuraShop"])
        // Locations: the locations stream's own read also serves orders and the stock read.
        expect(operations.filter((o) => o === "KuraLocations")).toEqual(["KuraLocations"])
      }).pipe(Effect.provide(target()))
    )
  })

  it("a new process uses the stored shop answer while it is fresh, and asks again once it is old or unreadable", async () => {
    await Effect.runPromise(
      Effect.gen(function* () {
        const shops = () => operations.filter((o) => o === "KuraShop").length
        const key = shopInfoKey(sandbox.shopify.credentials.shopDomain)
        const first = yield* streamsOf()
        expect(first.streams.map((s) => s.key.stream)).not.toContain(key.stream)
        operations.length = 0
        expect((yield* first.run("locations")).rows).toBe(sandbox.merchant.locations.length)
        expect(shops()).toBe(1)
        const stored = Option.getOrThrow(yield* first.warehouse.checkpoints.get(key))
        expect(stored.meta?.locations).toHaveLength(sandbox.merchant.locations.length)

        // Another process on the same warehouse (its own streams, nothing in memory): the stored
        // answer serves, and it is the same answer (the locations' fingerprint still matches).
        const second = yield* streamsOf()
        operations.length = 0
        expect((yield* second.run("locations")).rows).toBe(0)
        expect(shops()).toBe(0)

        // Older than the TTL: asked again, and stored again with the time it was asked.
        yield* first.warehouse.checkpoints.put({ ...stored, updatedAt: stored.updatedAt - SHOP_INFO_TTL_MS })
        const third = yield* streamsOf()
        operations.length = 0
        yield* third.run("customers")
        expect(shops()).toBe(1)
        const again = Option.getOrThrow(yield* first.warehouse.checkpoints.get(key))
        expect(again.updatedAt).toBeGreaterThanOrEqual(stored.updatedAt)

        // A stored copy that no longer decodes (an older shape, a hand edit): asked again.
        yield* first.warehouse.checkpoints.put({ ...again, meta: { shop: "not a shop" } })
        const fourth = yield* streamsOf()
        operations.length = 0
        yield* fourth.run("customers")
        expect(shops()).toBe(1)
        expect(Option.getOrThrow(yield* first.warehouse.checkpoints.get(key)).meta?.shop).toHaveProperty(
          "ianaTimezone"
        )
      }).pipe(Effect.provide(target()))
    )
  })

  it("locations are read again only when their summaries changed, and whole once per period", async () => {
    await Effect.runPromise(
      Effect.gen(function* () {
        const s = yield* streamsOf()
        const first = yield* s.run("locations")
        expect(first.rows).toBe(sandbox.merchant.locations.length)
        const c = yield* s.cursor("locations")
        expect(c.seen).toBeDefined()
        // Nothing changed: the summaries (in the shop query) match, no location is read.
        operations.length = 0
        expect((yield* s.run("locations")).rows).toBe(0)
        expect(operations).not.toContain("KuraLocations")
        // Summaries that differ from the last landed ones (a location updated since): read whole.
        yield* s.editCursor("locations", (x) => ({ ...x, seen: "an older set" }))
        expect((yield* s.run("locations")).rows).toBe(sandbox.merchant.locations.length)
        expect((yield* s.cursor("locations")).seen).toBe(c.seen)
        expect((yield* s.run("locations")).rows).toBe(0)
        // The day turns: read whole again even though nothing changed.
        yield* s.ageWholeRead("locations")
        expect((yield* s.run("locations")).rows).toBe(sandbox.merchant.locations.length)
      }).pipe(Effect.provide(target()))
    )
  })

  it("counted streams with nothing in the window read no page; changed levels go by one bulk job, unprobed", async () => {
    await Effect.runPromise(
      Effect.gen(function* () {
        const s = yield* streamsOf(false)
        yield* s.run("locations")
        yield* s.run("products")
        yield* s.run("customers")
        yield* s.run("inventory_levels")
        const before = yield* s.cursor("inventory_levels")
        // Nothing changed: the counts say 0, no page is read (an empty page costs 2, a count 1).
        operations.length = 0
        expect((yield* s.run("customers")).rows).toBe(0)
        expect((yield* s.run("products")).rows).toBe(0)
        expect(operations.filter((o) => o === "KuraCount")).toHaveLength(2)
        expect(operations).not.toContain("KuraCustomers")
        expect(operations).not.toContain("KuraProducts")

        yield* sleep(1100)
        sandbox.mutate({ fraction: 0.1 })
        yield* sleep(1100)
        const t = Date.now()
        operations.length = 0
        yield* s.run("inventory_levels")
        // Three locations: the probe (14 points) would cost more than the job (11); none is sent.
        expect(sandbox.merchant.locations.length).toBeGreaterThanOrEqual(3)
        expect(operations).not.toContain("KuraChangedLevelsProbe")
        expect(operations).toContain("KuraBulkRunQuery")
        const from = Math.floor((before.since - 300_000) / 1000) * 1000
        const expected = cellsChangedSince(from)
        expect(expected.size).toBeGreaterThan(0)
        expect([...(yield* s.cellsWrittenSince(t))].sort()).toEqual([...expected].sort())
      }).pipe(Effect.provide(target()))
    )
  })

  it("deletions: only destroy events are asked for; none → no page; a burst → one bulk job; each lands", async () => {
    await Effect.runPromise(
      Effect.gen(function* () {
        const s = yield* streamsOf(false, 5)
        yield* s.run("orders")
        operations.length = 0
        bodies.length = 0
        yield* s.run("deletions")
        const first = yield* s.cursor("deletions")
        // Every deletion the emulator has is marked, whichever way it was read.
        const deletedRows = () =>
          Effect.map(
            s.warehouse.query(
              "SELECT source_id FROM orders WHERE source = 'shopify' AND _deleted_at IS NOT NULL ORDER BY 1"
            ),
            (rows) => rows.map((r) => String(r.source_id))
          )
        const ids = () => [...new Set(sandbox.merchant.deletions().map((d) => String(d.orderId)))].sort()
        expect(yield* deletedRows()).toEqual(ids())
        // A pass with no deletion in its window reads no page (the count says 0).
        const from = Math.floor((first.since - 300_000) / 1000) * 1000
        const recent = sandbox.merchant.deletions().filter((d) => d.at >= from).length
        operations.length = 0
        bodies.length = 0
        yield* s.run("deletions")
        expect(operations).toContain("KuraCount")
        expect(operations.includes("KuraEvents") || operations.includes("KuraBulkRunQuery")).toBe(recent > 0)
        // The count and the read search only deletions (the mapper ignores every other event).
        const asked = bodies.filter((b) => b.includes("eventsCount") || b.includes("KuraEvents"))
        expect(asked.length).toBeGreaterThan(0)
        for (const b of asked) expect(b).toContain("(action:destroy OR action:delete)")
        // A burst of deletions (at least shopifyBulkMinRecords): one bulk job instead of pages.
        const deleted = sandbox.merchant.deleteOrders({ count: 6, now: Date.now() })
        expect(deleted).toHaveLength(6)
        yield* sleep(1100)
        operations.length = 0
        bodies.length = 0
        yield* s.run("deletions")
        expect(operations).toContain("KuraBulkRunQuery")
        expect(operations).not.toContain("KuraEvents")
        const job = bodies.find((b) => b.includes("KuraBulkRunQuery") && b.includes("events"))
        expect(job).toContain("action:destroy OR action:delete")
        expect(yield* deletedRows()).toEqual(ids())
      }).pipe(Effect.provide(target()))
    )
  })
})
