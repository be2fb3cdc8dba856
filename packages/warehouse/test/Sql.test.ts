/**
 * `Sql.dedupedSource` collapses a batch to one row per key by the key's TYPED value, not its
 * staged text: two spellings of one instant in a key column (`_kura_raw`'s `updated_at`) are one
 * record version. Partitioning on the text kept both, and both matched (or both inserted as) one
 * target row.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { bigQueryDialect, duckdbDialect } from "../src/Dialect.js"
import { DuckDbWarehouse, Warehouse } from "../src/index.js"
import * as Sql from "../src/Sql.js"
import { RawTable } from "../src/Tables.js"
import { withBigQuery } from "./withBigQuery.js"

const rawRow = (id: string, updatedAt: string | null, payload = `{"id":"${id}"}`) => ({
  source: "shopify",
  source_account: "kura-matcha.myshopify.com",
  stream: "orders",
  source_id: id,
  updated_at: updatedAt,
  payload,
  fetched_at: "2026-11-27T04:00:00.000Z",
  _batch_id: "b-1",
  lake_path: "file:///lake/x.ndjson.gz"
})

const spellings = ["2026-01-01T00:00:00Z", "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00+00:00"]

const stored = Effect.flatMap(Effect.service(Warehouse), (w) =>
  w.query(
    `SELECT source_id, CAST(updated_at AS VARCHAR) AS u, CAST(payload AS VARCHAR) AS p FROM "_kura_raw" ORDER BY source_id, updated_at NULLS FIRST`
  )
)

describe("Sql.dedupedSource", () => {
  it("partitions by the typed key values, in both dialects", () => {
    for (const d of [duckdbDialect(), bigQueryDialect("kura-test-1", "kura")]) {
      const sql = Sql.dedupedSource(d, RawTable, RawTable.columns, "_stg")
      const partition = sql.slice(sql.indexOf("PARTITION BY"), sql.indexOf(" ORDER BY"))
      assert.include(partition, `CAST(${d.ident("updated_at")} AS ${d.type("timestamp")})`)
    }
  })

  it("a key column left unstaged (all NULL in the batch) partitions as a typed NULL", () => {
    const d = duckdbDialect()
    const staged = new Set(RawTable.columns.map((c) => c.name).filter((n) => n !== "updated_at"))
    const sql = Sql.dedupedSource(d, RawTable, RawTable.columns, "_stg", staged)
    const partition = sql.slice(sql.indexOf("PARTITION BY"), sql.indexOf(" ORDER BY"))
    assert.include(partition, `CAST(NULL AS ${d.type("timestamp")})`)
  })

  it.effect("one batch carrying three spellings of one instant lands one row", () =>
    Effect.gen(function* () {
      const w = yield* Warehouse
      const r = yield* w.load(
        "_kura_raw",
        spellings.map((u) => rawRow("7", u))
      )
      assert.strictEqual(r.inserted, 1)
      const rows = yield* stored
      assert.deepStrictEqual(
        rows.map((x) => [x.source_id, x.u]),
        [["7", "2026-01-01 00:00:00+00"]]
      )
    }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
  )

  it.effect("two batches carrying both spellings land one row; the second changes nothing", () =>
    Effect.gen(function* () {
      const w = yield* Warehouse
      const first = yield* w.load("_kura_raw", [rawRow("7", spellings[0]!), rawRow("7", spellings[1]!)])
      assert.strictEqual(first.inserted, 1)
      const second = yield* w.load("_kura_raw", [
        rawRow("7", spellings[1]!),
        rawRow("7", spellings[2]!),
        rawRow("8", spellings[0]!)
      ])
      assert.deepStrictEqual([second.inserted, second.updated], [1, 0])
      const rows = yield* stored
      assert.deepStrictEqual(
        rows.map((x) => [x.source_id, x.u]),
        [
          ["7", "2026-01-01 00:00:00+00"],
          ["8", "2026-01-01 00:00:00+00"]
        ]
      )
    }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
  )

  it.live("on BigQuery (the DuckDB-backed fake), a batch of two spellings of one instant lands one row", () =>
    withBigQuery(() =>
      Effect.gen(function* () {
        const w = yield* Warehouse
        const r = yield* w.load("_kura_raw", [rawRow("7", spellings[0]!), rawRow("7", spellings[2]!)])
        assert.strictEqual(r.inserted, 1)
        const rows = yield* w.query(
          "SELECT source_id, CAST(updated_at AS STRING) AS u FROM `demo-proj.kura._kura_raw`"
        )
        assert.strictEqual(rows.length, 1)
      })
    )
  )
})

describe("Sql.withContentChanged", () => {
  const item = (id: string, v: number, batch: string, fetchedAt: string) => ({
    ...rawRow(id, null, `{"id":"${id}","v":${v}}`),
    stream: "items",
    fetched_at: fetchedAt,
    _batch_id: batch
  })
  /** MERGEs `batch` (staged in a temp table) with the stored content read only at `rowids`. */
  const mergeWith = (
    batch: ReadonlyArray<ReturnType<typeof item>>,
    rowids: (probe: ReadonlyArray<number>) => ReadonlyArray<number>
  ) =>
    Effect.gen(function* () {
      const w = yield* Warehouse
      const d = duckdbDialect()
      const lit = (v: string | null) => (v === null ? "NULL" : Sql.stringLiteral(v))
      const names = RawTable.columns.map((c) => d.ident(c.name)).join(", ")
      yield* w.query(
        `CREATE OR REPLACE TEMP TABLE _stg AS SELECT * FROM (VALUES ${batch
          .map((r) => `(${RawTable.columns.map((c) => lit(r[c.name as keyof typeof r])).join(", ")})`)
          .join(", ")}) AS v(${names})`
      )
      const parts = Sql.mergeParts(d, RawTable, RawTable.columns, "_stg")
      const probe = yield* w.query(
        `SELECT t.rowid AS r FROM ${parts.target} AS t JOIN (${parts.source}) AS s ON ${parts.on} WHERE t.updated_at IS NULL`
      )
      const merged = Sql.withContentChanged(d, RawTable, parts, rowids(probe.map((x) => Number(x.r))))
      assert.include(merged.source, "WHERE rowid BETWEEN ")
      assert.notInclude(merged.matchedCondition ?? "", "t.payload")
      return yield* w.query(`${Sql.renderMerge(merged)} RETURNING merge_action AS action`)
    })
  const itemsStored = Effect.flatMap(Effect.service(Warehouse), (w) =>
    w.query(
      `SELECT source_id, CAST(payload AS VARCHAR) AS p, _batch_id AS b FROM "_kura_raw" ORDER BY source_id`
    )
  )

  it.effect(
    "a stored unversioned copy is replaced only when its content changed, compared at the probed rows; one not among them counts as changed",
    () =>
      Effect.gen(function* () {
        const w = yield* Warehouse
        yield* w.load("_kura_raw", [
          item("a", 1, "b1", "2026-11-27T04:00:00.000Z"),
          item("b", 1, "b1", "2026-11-27T04:00:00.000Z")
        ])
        const second = yield* mergeWith(
          [item("a", 1, "b2", "2026-11-27T05:00:00.000Z"), item("b", 2, "b2", "2026-11-27T05:00:00.000Z")],
          (probe) => probe
        )
        assert.deepStrictEqual(
          second.map((r) => r.action),
          ["UPDATE"]
        )
        assert.deepStrictEqual(
          (yield* itemsStored).map((r) => [r.source_id, r.p, r.b]),
          [
            ["a", '{"id":"a","v":1}', "b1"],
            ["b", '{"id":"b","v":2}', "b2"]
          ]
        )
        // The stored copy of "a" is not among the rows given (as if rewritten meanwhile): its
        // content cannot be compared, so the newer copy is written rather than skipped.
        const bRow = (yield* w.query(`SELECT rowid AS r FROM "_kura_raw" WHERE source_id = 'b'`)).map((x) =>
          Number(x.r)
        )
        const third = yield* mergeWith(
          [item("a", 1, "b3", "2026-11-27T06:00:00.000Z"), item("b", 2, "b3", "2026-11-27T06:00:00.000Z")],
          () => bRow
        )
        assert.deepStrictEqual(
          third.map((r) => r.action),
          ["UPDATE"]
        )
        assert.deepStrictEqual(
          (yield* itemsStored).map((r) => [r.source_id, r.b]),
          [
            ["a", "b3"],
            ["b", "b2"]
          ]
        )
      }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
  )
})
