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
