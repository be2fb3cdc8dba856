/**
 * Consistency guarantees of the DuckDB adapter: commitRun is atomic (ledger row and cursor
 * together), the adapter serializes concurrent use of its one connection itself, and `_kura_raw`
 * holds one row per record version however often a window is re-cut.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Stream } from "effect"
import { DuckDbWarehouse, RawLoader, Warehouse } from "../src/index.js"
import { order } from "./fixtures.js"

const key = { source: "shopify", account: "kura-matcha.myshopify.com", stream: "orders" }

const provide = <A, E>(effect: Effect.Effect<A, E, Warehouse>) =>
  Effect.provide(effect, DuckDbWarehouse.layerMemory)

describe("commitRun is atomic", () => {
  it.effect("a failing cursor write rolls the ledger row back: no 'complete' run without its cursor", () =>
    provide(
      Effect.gen(function* () {
        const w = yield* Warehouse
        yield* w.checkpoints.put({ key, cursor: "c-1", updatedAt: 1 })
        yield* w.startRun({ runId: "r1", key })
        // Break the cursor write only: the ledger statement before it succeeds on its own.
        yield* w.query(`ALTER TABLE "_kura_sync_state" RENAME TO "_kura_sync_state_away"`)
        const failed = yield* Effect.flip(
          w.commitRun({
            runId: "r1",
            key,
            cursorAfter: "c-2",
            reportedCount: 1,
            reportedTotal: null,
            rowsFetched: 1,
            rowsLoaded: 1,
            loadedTotal: null
          })
        )
        assert.strictEqual(failed._tag, "WarehouseError")
        const [run] = yield* w.listRuns(key)
        assert.strictEqual(run?.status, "running", "the ledger row was rolled back with the cursor")
        assert.strictEqual(run?.cursorAfter, null)

        // The connection is usable again (no transaction left open) and a retry commits both.
        yield* w.query(`ALTER TABLE "_kura_sync_state_away" RENAME TO "_kura_sync_state"`)
        const ok = yield* w.commitRun({
          runId: "r1",
          key,
          cursorAfter: "c-2",
          reportedCount: 1,
          reportedTotal: null,
          rowsFetched: 1,
          rowsLoaded: 1,
          loadedTotal: null
        })
        assert.strictEqual(ok.status, "complete")
        assert.strictEqual(Option.getOrThrow(yield* w.checkpoints.get(key)).cursor, "c-2")
        assert.strictEqual((yield* w.listRuns(key))[0]?.status, "complete")
      })
    )
  )
})

describe("the DuckDB adapter serializes its one connection", () => {
  it.live("concurrent fibers loading, committing and reading never interleave", () =>
    provide(
      Effect.gen(function* () {
        const w = yield* Warehouse
        const streams = 8
        const perStream = 40
        const results = yield* Effect.forEach(
          Array.from({ length: streams }, (_, i) => i),
          (i) =>
            Effect.gen(function* () {
              const k = { ...key, stream: `orders-${i}` }
              yield* w.startRun({ runId: `run-${i}`, key: k })
              let loaded = 0
              for (let page = 0; page < 3; page++) {
                const rows = Array.from({ length: perStream }, (_, j) =>
                  order(`${i}-${page}-${j}`, "2026-01-05T01:00:00Z")
                )
                loaded += (yield* w.load("orders", rows)).inserted
                yield* w.checkpoints.put({ key: k, cursor: `page-${page}`, updatedAt: page })
                yield* w.query(`SELECT COUNT(*) AS n FROM "orders"`)
              }
              return yield* w.commitRun({
                runId: `run-${i}`,
                key: k,
                cursorAfter: `done-${i}`,
                reportedCount: 3 * perStream,
                reportedTotal: null,
                rowsFetched: 3 * perStream,
                rowsLoaded: loaded,
                loadedTotal: null
              })
            }),
          { concurrency: "unbounded" }
        )
        assert.deepStrictEqual(
          results.map((r) => r.status),
          Array.from({ length: streams }, () => "complete")
        )
        const [count] = yield* w.query(`SELECT CAST(COUNT(*) AS VARCHAR) AS n FROM "orders"`)
        assert.strictEqual(count?.n, String(streams * 3 * perStream))
        const cursors = yield* w.checkpoints.list()
        assert.deepStrictEqual(
          cursors.map((c) => c.cursor).sort(),
          Array.from({ length: streams }, (_, i) => `done-${i}`).sort()
        )
      })
    )
  )
})

describe("_kura_raw is keyed by record version, not by batch", () => {
  const rawKey = { source: "shopify", account: "kura-matcha.myshopify.com", stream: "customers" }
  const land = (w: Warehouse["Service"], batchId: string, lines: ReadonlyArray<unknown>) =>
    RawLoader.loadRawBatch({
      warehouse: w,
      key: rawKey,
      batch: { batchId, path: `source=shopify/stream=customers/${batchId}.ndjson.gz` },
      lines: Stream.fromIterable(lines.map((l) => JSON.stringify(l))),
      fetchedAt: "2026-01-10T00:00:00Z"
    })

  it.effect("a re-cut window re-lands overlapping records without duplicating them", () =>
    provide(
      Effect.gen(function* () {
        const w = yield* Warehouse
        const first = yield* land(w, "b1", [
          { id: 1, updated_at: "2026-01-01T00:00:00Z" },
          { id: 2, updated_at: "2026-01-01T00:00:00Z" },
          { id: 9, name: "no updated_at" }
        ])
        assert.strictEqual(first.inserted, 3)
        // The next window overlaps the first: 2 and 9 again, 1 in a newer version, 3 new.
        const second = yield* land(w, "b2", [
          { id: 2, updated_at: "2026-01-01T00:00:00Z" },
          { id: 9, name: "no updated_at" },
          { id: 1, updated_at: "2026-01-02T00:00:00Z" },
          { id: 3, updated_at: "2026-01-02T00:00:00Z" }
        ])
        assert.deepStrictEqual([second.inserted, second.unchanged], [2, 2])
        const again = yield* land(w, "b2", [
          { id: 1, updated_at: "2026-01-02T00:00:00Z" },
          { id: 3, updated_at: "2026-01-02T00:00:00Z" }
        ])
        assert.deepStrictEqual([again.inserted, again.unchanged], [0, 2])
        const rows = yield* w.query(
          `SELECT source_id, CAST(updated_at AS VARCHAR) AS updated_at, _batch_id FROM "_kura_raw" ORDER BY source_id, updated_at NULLS FIRST`
        )
        assert.deepStrictEqual(
          rows.map((r) => [
            r.source_id,
            r.updated_at === null ? null : String(r.updated_at).slice(0, 10),
            r._batch_id
          ]),
          [
            ["1", "2026-01-01", "b1"],
            ["1", "2026-01-02", "b2"],
            ["2", "2026-01-01", "b1"],
            ["3", "2026-01-02", "b2"],
            ["9", null, "b1"]
          ]
        )
      })
    )
  )
})
