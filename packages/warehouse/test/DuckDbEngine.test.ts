import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { bigQueryDialect, duckdbDialect } from "../src/Dialect.js"
import { DuckDbWarehouse, Warehouse } from "../src/index.js"
import * as Sql from "../src/Sql.js"
import { AllTables } from "../src/Tables.js"

const raw = AllTables.find((t) => t.name === "_kura_raw")!

const rawRow = (id: string, updatedAt: string | null, payload = `{"id":"${id}"}`) => ({
  source: "shopify",
  source_account: "kura-matcha.myshopify.com",
  stream: "webhook.orders_create",
  source_id: id,
  updated_at: updatedAt,
  payload,
  fetched_at: "2026-11-27T04:00:00.000Z",
  _batch_id: "b-1",
  lake_path: "file:///lake/x.ndjson.gz"
})

describe("DuckDB engine MERGE", () => {
  it("joins a nullable key with IS NOT DISTINCT FROM on DuckDB (hashable) and the OR form on BigQuery", () => {
    const duck = Sql.renderMerge(Sql.mergeParts(duckdbDialect(), raw, raw.columns, "stg"))
    assert.include(duck, 't."updated_at" IS NOT DISTINCT FROM s."updated_at"')
    assert.notInclude(duck, "IS NULL AND")
    const bq = Sql.renderMerge(
      Sql.mergeParts(bigQueryDialect("kura-test-1", "kura"), raw, raw.columns, "stg")
    )
    assert.include(
      bq,
      "(t.`updated_at` = s.`updated_at` OR (t.`updated_at` IS NULL AND s.`updated_at` IS NULL))"
    )
  })

  it.effect("raw rows still match NULL to NULL: a reload adds nothing, a new version is its own row", () =>
    Effect.gen(function* () {
      const w = yield* Warehouse
      const rows = [rawRow("e-1", null), rawRow("e-2", "2026-11-26T10:00:00Z"), rawRow("e-3", null)]
      yield* w.load("_kura_raw", rows)
      yield* w.load("_kura_raw", rows)
      const count = () =>
        Effect.map(w.query("SELECT count(*) AS n FROM _kura_raw"), (r) => Number(r[0]?.n ?? -1))
      assert.strictEqual(yield* count(), 3)
      yield* w.load("_kura_raw", [rawRow("e-2", "2026-11-26T11:00:00Z"), rawRow("e-4", null)])
      assert.strictEqual(yield* count(), 5)
    }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
  )
})
