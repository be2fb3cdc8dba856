/**
 * `_kura_raw` identity of the records `RawLoader.loadRawBatch` lands: a record without an id is
 * named by its content, so two batches' id-less records never collide (a line number did, and the
 * insert-only table dropped the later one); `supersede` replaces the stored copy of a record
 * version with a corrected one (a dead-letter replay) instead of keeping the first; a record
 * without updated_at keeps its latest fetched copy.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { DuckDbWarehouse, RawLoader, Warehouse } from "../src/index.js"

const key = { source: "stocky", account: "kura.myshopify.com", stream: "stock_adjustments" }

const land = (
  batchId: string,
  lines: ReadonlyArray<string>,
  supersede = false,
  fetchedAt = "2026-11-27T00:00:00Z"
) =>
  Effect.gen(function* () {
    const w = yield* Warehouse
    return yield* RawLoader.loadRawBatch({
      warehouse: w,
      key,
      batch: { batchId, path: `lake/${batchId}.ndjson.gz` },
      lines: Stream.fromIterable(lines),
      fetchedAt,
      ...(supersede ? { supersede: true } : {})
    })
  })

const rows = Effect.flatMap(Effect.service(Warehouse), (w) =>
  w.query(
    `SELECT source_id, CAST(payload AS VARCHAR) AS p, _batch_id AS b FROM "_kura_raw" ORDER BY _batch_id, source_id`
  )
)

describe("RawLoader identity", () => {
  it.effect("id-less records of two batches are both kept, by content; re-landing one adds nothing", () =>
    Effect.gen(function* () {
      const a = '{"adjustment":{"id":1},"items":[]}'
      const b = '{"adjustment":{"id":2},"items":[]}'
      yield* land("b1", [a])
      yield* land("b2", [b])
      const again = yield* land("b2", [b])
      assert.strictEqual(again.inserted, 0)
      const stored = yield* rows
      assert.deepStrictEqual(
        stored.map((r) => [r.p, r.b]),
        [
          [a, "b1"],
          [b, "b2"]
        ]
      )
      assert.isTrue(stored.every((r) => /^line:[0-9a-f]{32}$/.test(String(r.source_id))))
    }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
  )

  it.effect("supersede replaces the stored copy of the same record version; without it the first stays", () =>
    Effect.gen(function* () {
      const bad = '{"id":7,"updated_at":"2026-11-01T00:00:00Z","sequential_id":"x"}'
      const fixed = '{"id":7,"updated_at":"2026-11-01T00:00:00Z","sequential_id":7}'
      const other = '{"id":8,"updated_at":"2026-11-01T00:00:00Z","sequential_id":8}'
      yield* land("b1", [bad, other])
      yield* land("b2", [fixed])
      assert.deepStrictEqual(
        (yield* rows).map((r) => [r.source_id, r.p]),
        [
          ["7", bad],
          ["8", other]
        ]
      )
      yield* land("replay-1", [fixed], true)
      assert.deepStrictEqual(
        (yield* rows).map((r) => [r.source_id, r.p, r.b]),
        [
          ["8", other, "b1"],
          ["7", fixed, "replay-1"]
        ]
      )
    }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
  )

  it.effect(
    "a record without updated_at keeps its latest fetched copy: a changed copy replaces it, an unchanged or older one does not",
    () =>
      Effect.gen(function* () {
        // Lightspeed items carry no updated_at: (id, NULL) is their only key in _kura_raw.
        const v1 = '{"id":"item-1","name":"Hojicha 100g","price":"1200"}'
        const v2 = '{"id":"item-1","name":"Hojicha 100g","price":"1350"}'
        yield* land("b1", [v1], false, "2026-11-27T00:00:00Z")
        const same = yield* land("b2", [v1], false, "2026-11-27T01:00:00Z")
        assert.strictEqual(same.inserted + same.updated, 0)
        const changed = yield* land("b3", [v2], false, "2026-11-27T02:00:00Z")
        assert.strictEqual(changed.updated, 1)
        // A late re-landing of an older fetch does not win back.
        yield* land("b0", [v1], false, "2026-11-26T23:00:00Z")
        assert.deepStrictEqual(
          (yield* rows).map((r) => [r.source_id, r.p, r.b]),
          [["item-1", v2, "b3"]]
        )
      }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
  )

  it.effect(
    "latest copy in mixed batches: stored unversioned copies that changed are replaced, new ones inserted, versioned ones kept; staged too",
    () =>
      Effect.gen(function* () {
        // The DuckDB MERGE leaves out its content comparison when it can match nothing (a batch
        // with no unversioned record, or none stored yet): every case here must land the same.
        const item = (id: string, price: string) => `{"id":"${id}","name":"Sencha","price":"${price}"}`
        const versioned = '{"id":"9","updated_at":"2026-11-01T00:00:00Z","qty":1}'
        const first = yield* land(
          "b1",
          [item("a", "1"), item("b", "1"), versioned],
          false,
          "2026-11-27T00:00:00Z"
        )
        assert.strictEqual(first.inserted, 3)
        const versionedOnly = yield* land(
          "b2",
          ['{"id":"9","updated_at":"2026-11-01T00:00:00Z","qty":2}'],
          false,
          "2026-11-27T01:00:00Z"
        )
        assert.strictEqual(versionedOnly.inserted + versionedOnly.updated, 0)
        const mixed = yield* land(
          "b3",
          [item("a", "2"), item("b", "1"), item("c", "1"), versioned],
          false,
          "2026-11-27T02:00:00Z"
        )
        assert.deepStrictEqual([mixed.inserted, mixed.updated], [1, 1])
        // More rows than a MERGE takes inline: the batch is staged first.
        const many = Array.from({ length: 600 }, (_, i) => item(`n${i}`, "1"))
        const staged = yield* land("b4", [item("a", "3"), ...many], false, "2026-11-27T03:00:00Z")
        assert.deepStrictEqual([staged.inserted, staged.updated], [600, 1])
        const fresh = yield* land("b5", many.slice(0, 3), false, "2026-11-27T04:00:00Z")
        assert.strictEqual(fresh.inserted + fresh.updated, 0)
        const stored = new Map((yield* rows).map((r) => [String(r.source_id), [r.p, r.b]]))
        assert.strictEqual(stored.size, 604)
        assert.deepStrictEqual(stored.get("a"), [item("a", "3"), "b4"])
        assert.deepStrictEqual(stored.get("b"), [item("b", "1"), "b1"])
        assert.deepStrictEqual(stored.get("c"), [item("c", "1"), "b3"])
        assert.deepStrictEqual(stored.get("9"), [versioned, "b1"])
      }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
  )
})
