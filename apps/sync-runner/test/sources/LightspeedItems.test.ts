/**
 * The Lightspeed items stream against the sandbox. K-Series has no modified-since filter and no
 * item `updated_at`, so every read is whole: it asks for 1000 items per request (the docs say
 * 100, a newer harvest 1000) and remembers in its cursor when the API refused, and it soft-deletes
 * items the whole read no longer lists (never one that is only pending in the dead letters).
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { makeMemoryTokenStore } from "@kura/core"
import { type Sandbox, startSandbox } from "@kura/sandbox"
import { buildSkuMap, DuckDbWarehouse, LocalObjectStore, RawLake, Warehouse } from "@kura/warehouse"
import { Effect, Layer, Option } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { replayLetters } from "../../src/DeadLetterReplay.js"
import { sandboxLightspeedAccount } from "../../src/demo/DemoSandbox.js"
import { runStreamOnce } from "../../src/demo/runDemo.js"
import { allReplayers } from "../../src/internal/replayers.js"
import {
  ITEMS_PAGE_SIZE,
  itemsPageSizeFor,
  makeLightspeedStreams
} from "../../src/sources/LightspeedStreams.js"

const root = mkdtempSync(join(tmpdir(), "kura-ls-items-"))
afterAll(() => rmSync(root, { recursive: true, force: true }))
let dirs = 0

const target = () => {
  const dir = join(root, `t${dirs++}`)
  return Layer.mergeAll(
    DuckDbWarehouse.layer({ path: join(dir, "kura.duckdb") }),
    RawLake.layer.pipe(Layer.provide(LocalObjectStore.layer(join(dir, "lake"))))
  )
}

/** One run of a Lightspeed stream as a fresh process would make it (a new client), sharing tokens. */
const streamRun = (
  sandbox: Sandbox,
  tokens: ReturnType<typeof makeMemoryTokenStore>,
  name: "items" | "locations"
) =>
  Effect.gen(function* () {
    const warehouse = yield* Warehouse
    const lake = yield* RawLake
    const stream = makeLightspeedStreams(
      { ...sandboxLightspeedAccount(sandbox.lightspeed), businessLocations: [] },
      { warehouse, lake, sandbox: true, tokenStore: tokens },
      () => 60_000
    ).find((s) => s.key.stream === name)
    if (stream === undefined) throw new Error(`no ${name} stream`)
    const before = sandbox.stats().lightspeed?.requests ?? 0
    const { result } = yield* runStreamOnce(warehouse, stream)
    if ("_tag" in result) throw new Error(result.message)
    return { stream, before, result }
  })

/** One run of the items stream, with its requests and the cursor it committed. */
const itemsRun = (sandbox: Sandbox, tokens: ReturnType<typeof makeMemoryTokenStore>) =>
  Effect.gen(function* () {
    const warehouse = yield* Warehouse
    const { stream, before, result } = yield* streamRun(sandbox, tokens, "items")
    const cursor = JSON.parse(Option.getOrThrow(yield* warehouse.checkpoints.get(stream.key)).cursor) as {
      pageSize: number
    }
    return { requests: (sandbox.stats().lightspeed?.requests ?? 0) - before, cursor, rows: result.rows }
  })

const liveItems = Effect.gen(function* () {
  const w = yield* Warehouse
  const rows = yield* w.query(
    "SELECT source_id FROM products WHERE source = 'lightspeed' AND _deleted_at IS NULL ORDER BY source_id"
  )
  return rows.map((r) => String(r.source_id))
})

const withSandbox = async <A>(itemsMaxAmount: number, f: (s: Sandbox) => Promise<A>) => {
  const sandbox = await startSandbox({
    seed: 3,
    scale: 40,
    historyDays: 3,
    timeScale: 20,
    lightspeed: { itemsMaxAmount }
  })
  try {
    return await f(sandbox)
  } finally {
    await sandbox.close()
  }
}

describe("lightspeed items", () => {
  it("asks for 1000 per request; a refusal is remembered in the cursor, so the next run asks for 100", () =>
    withSandbox(100, (sandbox) =>
      Effect.runPromise(
        Effect.gen(function* () {
          const tokens = makeMemoryTokenStore(new Map())
          const first = yield* itemsRun(sandbox, tokens)
          expect(first.cursor.pageSize).toBe(100)
          const second = yield* itemsRun(sandbox, tokens)
          expect(second.cursor.pageSize).toBe(100)
          // The first run paid one refused request (a token refresh may add one more), the second none.
          expect(first.requests).toBeGreaterThan(second.requests)
          expect(second.rows).toBe(first.rows)
          // Locations list shared items too: one product per distinct item.
          const live = yield* liveItems
          expect(live.length).toBeGreaterThan(0)
          expect(live.length).toBeLessThanOrEqual(first.rows)
        }).pipe(Effect.provide(target()))
      )
    ))

  it("an API taking 1000 keeps it; an item the whole read no longer lists is soft-deleted with its SKU link (both live again once listed), a dead-lettered one is not", () =>
    withSandbox(1000, (sandbox) =>
      Effect.runPromise(
        Effect.gen(function* () {
          const tokens = makeMemoryTokenStore(new Map())
          const first = yield* itemsRun(sandbox, tokens)
          expect(first.cursor.pageSize).toBe(ITEMS_PAGE_SIZE)
          const live = yield* liveItems
          expect(live.length).toBeGreaterThan(0)
          // Two items the warehouse holds that the source no longer lists; one of them is only
          // pending in the dead letters (it did not decode), so it is not known to be deleted.
          const w = yield* Warehouse
          const ghost = (id: string) => ({
            source: "lightspeed",
            source_account: "default",
            source_id: id,
            updated_at: "2026-01-01T00:00:00Z",
            _synced_at: "2026-01-01T00:00:00Z",
            _batch_id: "old",
            title: `gone ${id}`,
            vendor: null,
            product_type: null,
            status: "active",
            created_at: null
          })
          yield* w.load("products", [ghost("9999000001"), ghost("9999000002")])
          // The ghost's variant and SKU link, and a SKU link an older deletion left live.
          const ghostVariant = (id: string) => ({
            source: "lightspeed",
            source_account: "default",
            source_id: id,
            updated_at: "2026-01-01T00:00:00Z",
            _synced_at: "2026-01-01T00:00:00Z",
            _batch_id: "old",
            _deleted_at: null,
            title: `gone ${id}`,
            product_id: id,
            sku: `GHOST-${id}`,
            barcode: null,
            inventory_item_id: null,
            currency: null,
            price: null,
            cost: null
          })
          yield* w.load("variants", [ghostVariant("9999000001")])
          yield* w.load(
            "sku_map",
            buildSkuMap([ghostVariant("9999000001"), ghostVariant("9999000003")], [], {
              syncedAt: "2026-01-01T00:00:00Z",
              batchId: "old"
            })
          )
          // A real item an earlier read missed (deleted then), listed again now.
          const back = live[0]!
          for (const t of ["products", "variants", "sku_map"] as const)
            yield* w.markDeleted(
              t,
              [{ source: "lightspeed", source_account: "default", source_id: back }],
              "2026-01-02T00:00:00Z"
            )
          expect(yield* liveItems).not.toContain(back)
          yield* w.deadLetters.write([
            {
              key: { source: "lightspeed", account: "default", stream: "items" },
              sourceId: "9999000002",
              payload: '{"id":9999000002,"name":42}',
              reason: "decode",
              detail: "name: expected a string",
              origin: "test",
              at: Date.now()
            }
          ])
          yield* itemsRun(sandbox, tokens)
          const after = yield* liveItems
          expect(after).toEqual([...live, "9999000002"].sort())
          const gone = yield* w.query("SELECT _deleted_at FROM products WHERE source_id = '9999000001'")
          expect(gone[0]?._deleted_at).not.toBeNull()
          // The vanished items' SKU links follow them; the item that came back links again.
          const links = yield* w.query(
            "SELECT source_id, _deleted_at IS NULL AS live FROM sku_map WHERE source = 'lightspeed' AND source_id IN ('9999000001', '9999000003', $back) ORDER BY source_id",
            { back }
          )
          expect(links.map((r) => [r.source_id, r.live])).toEqual(
            [
              [back, true],
              ["9999000001", false],
              ["9999000003", false]
            ].sort((a, b) => String(a[0]).localeCompare(String(b[0])))
          )
          for (const t of ["products", "variants"]) {
            const row = yield* w.query(
              `SELECT _deleted_at FROM ${t} WHERE source = 'lightspeed' AND source_id = $back`,
              {
                back
              }
            )
            expect(row[0]?._deleted_at, t).toBeNull()
          }
          const ghostLinks = yield* w.query(
            "SELECT count(*)::INTEGER AS n FROM v_sku_links WHERE source = 'lightspeed' AND sku LIKE 'GHOST-%'"
          )
          expect(Number(ghostLinks[0]?.n)).toBe(0)

          // An item letter replays through the client's Item Schema and the stream's mapper.
          const lake = yield* RawLake
          const replayers = allReplayers({ warehouse: w, lake })
          const still = yield* replayLetters(w, { selection: { stream: "items" }, replayers })
          expect(still.letters[0]?.error).toMatch(/^Decode: /)
          const fixed = yield* replayLetters(w, {
            selection: { stream: "items" },
            replayers,
            payloadOverride:
              '{"id":9999000002,"name":"Matcha whisk","sku":"WHISK-1","prices":[{"amount":"3300.00"}]}'
          })
          expect(fixed).toMatchObject({ attempted: 1, replayed: 1, failed: 0 })
          expect(fixed.letters[0]?.rows).toEqual({ products: 1, variants: 1, sku_map: 1 })
          const variant = yield* w.query(
            "SELECT sku, price::VARCHAR AS price FROM variants WHERE source = 'lightspeed' AND source_id = '9999000002'"
          )
          expect(variant).toEqual([{ sku: "WHISK-1", price: "3300.000000000" }])
        }).pipe(Effect.provide(target()))
      )
    ))

  it("a re-read leaves unchanged items and locations alone (updated_at and batch kept) and rewrites a changed one", () =>
    withSandbox(1000, (sandbox) =>
      Effect.runPromise(
        Effect.gen(function* () {
          const tokens = makeMemoryTokenStore(new Map())
          const w = yield* Warehouse
          const both = Effect.gen(function* () {
            yield* streamRun(sandbox, tokens, "locations")
            yield* itemsRun(sandbox, tokens)
          })
          const written = Effect.map(
            w.query(
              ["products", "variants", "sku_map", "locations"]
                .map(
                  (t) =>
                    `SELECT '${t}' AS t, source_id, CAST(updated_at AS VARCHAR) AS u, _batch_id AS b FROM ${t} WHERE source = 'lightspeed'`
                )
                .join(" UNION ALL ")
                .concat(" ORDER BY t, source_id")
            ),
            (rows) => rows.map((r) => `${String(r.t)} ${String(r.source_id)} ${String(r.u)} ${String(r.b)}`)
          )
          yield* both
          const first = yield* written
          expect(first.filter((r) => r.startsWith("locations ")).length).toBeGreaterThan(0)
          expect(first.filter((r) => r.startsWith("sku_map ")).length).toBeGreaterThan(0)
          // Nothing changed upstream: the second read writes no table row.
          yield* Effect.sleep("5 millis")
          yield* both
          expect(yield* written).toEqual(first)
          // One variant differs from what the API serves (e.g. an edit made through the API since):
          // only that row is rewritten, with the new fetch time, and holds what the API serves.
          const [one] = yield* w.query(
            "SELECT source_id, title FROM variants WHERE source = 'lightspeed' ORDER BY source_id LIMIT 1"
          )
          yield* w.query(
            "UPDATE variants SET title = 'stale title' WHERE source = 'lightspeed' AND source_id = $id",
            {
              id: String(one?.source_id)
            }
          )
          yield* Effect.sleep("5 millis")
          yield* both
          const third = yield* written
          const moved = third.filter((r) => !first.includes(r))
          expect(moved).toHaveLength(1)
          expect(moved[0]).toMatch(new RegExp(`^variants ${String(one?.source_id)} `))
          const [restored] = yield* w.query(
            "SELECT title FROM variants WHERE source = 'lightspeed' AND source_id = $id",
            {
              id: String(one?.source_id)
            }
          )
          expect(restored?.title).toBe(one?.title)
        }).pipe(Effect.provide(target()))
      )
    ))

  it("re-probes the larger size a week after a refusal", () => {
    const now = Date.parse("2026-11-27T00:00:00Z")
    expect(itemsPageSizeFor(undefined, now)).toBe(1000)
    expect(itemsPageSizeFor({ at: "x", pageSize: 1000 }, now)).toBe(1000)
    const refused = (daysAgo: number) => ({
      at: "x",
      pageSize: 100,
      probedAt: new Date(now - daysAgo * 86_400_000).toISOString()
    })
    expect(itemsPageSizeFor(refused(1), now)).toBe(100)
    expect(itemsPageSizeFor(refused(8), now)).toBe(1000)
  })
})
