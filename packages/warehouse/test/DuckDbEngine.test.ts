import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { bigQueryDialect, duckdbDialect } from "../src/Dialect.js"
import { DuckDbWarehouse, Warehouse } from "../src/index.js"
import { inlineScript, makeDuckDbEngine } from "../src/internal/duckdbEngine.js"
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
    // The join (ON … WHEN) has no OR form; the unversioned-record condition after it may say IS NULL.
    assert.notInclude(duck.slice(duck.indexOf(") AS s ON "), duck.indexOf(" WHEN ")), "IS NULL AND")
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

  it.effect("a load reports inserted / updated / unchanged from the MERGE itself", () =>
    Effect.gen(function* () {
      const w = yield* Warehouse
      const order = (id: string, updatedAt: string, total: string) => ({
        source: "shopify",
        source_account: "kura-matcha.myshopify.com",
        source_id: id,
        updated_at: updatedAt,
        _synced_at: "2026-11-27T04:00:00Z",
        _batch_id: "b-1",
        order_number: `#${id}`,
        currency: "JPY",
        total,
        created_at: "2026-11-26T09:00:00Z",
        processed_at: "2026-11-26T09:00:00Z",
        channel: "online",
        business_date: "2026-11-26"
      })
      const first = yield* w.load("orders", [
        order("1", "2026-11-26T10:00:00Z", "100"),
        order("2", "2026-11-26T10:00:00Z", "200")
      ])
      assert.deepStrictEqual([first.inserted, first.updated, first.unchanged], [2, 0, 0])
      // One newer version, one the same, one new key.
      const second = yield* w.load("orders", [
        order("1", "2026-11-26T11:00:00Z", "150"),
        order("2", "2026-11-26T10:00:00Z", "200"),
        order("3", "2026-11-26T11:00:00Z", "300")
      ])
      assert.deepStrictEqual([second.inserted, second.updated, second.unchanged], [1, 1, 1])
      const rows = yield* w.query(
        "SELECT source_id, CAST(total AS VARCHAR) AS total FROM orders ORDER BY source_id"
      )
      assert.deepStrictEqual(
        rows.map((r) => [r.source_id, Number(r.total)]),
        [
          ["1", 150],
          ["2", 200],
          ["3", 300]
        ]
      )
      // Small staging tables are dropped with the next load's statement: none piles up.
      for (let i = 0; i < 5; i++) yield* w.load("orders", [order(`x${i}`, "2026-11-26T10:00:00Z", "1")])
      const staging = yield* w.query(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = 'temp' AND table_name LIKE '_kura_stg_%'"
      )
      assert.isAtMost(staging.length, 1)
    }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
  )
})

describe("DuckDB engine transactions", () => {
  it("writes a transaction as one script: parameters become literals, quoted text is left alone", () => {
    const script = inlineScript([
      {
        sql: `UPDATE "t$x" SET a = $a, b = CAST($b AS BIGINT), c = '$a is text' WHERE k = $k`,
        params: { a: "it's", b: "12", k: null }
      },
      { sql: "DELETE FROM t WHERE k = $k_0", params: { k_0: "x" } }
    ])
    assert.strictEqual(
      script,
      `BEGIN TRANSACTION;\nUPDATE "t$x" SET a = 'it''s', b = CAST('12' AS BIGINT), c = '$a is text' WHERE k = NULL;\nDELETE FROM t WHERE k = 'x';\nCOMMIT`
    )
    // Not given, or not writable as a literal: the caller binds statement by statement.
    assert.isUndefined(inlineScript([{ sql: "SELECT $missing", params: {} }]))
    assert.isUndefined(inlineScript([{ sql: "SELECT $a", params: { a: "nul\u0000byte" } }]))
  })

  it.effect("a commit stores text exactly (quotes, dollar signs, semicolons)", () =>
    Effect.gen(function* () {
      const w = yield* Warehouse
      const key = { source: "shopify", account: "kura-matcha.myshopify.com", stream: "orders" }
      const cursor = `2026-11-27T00:00:00Z|it's $cursor_after; DROP TABLE x; --`
      const commit = {
        runId: "r-1",
        key,
        cursorAfter: cursor,
        reportedCount: null,
        reportedTotal: null,
        rowsFetched: 0,
        rowsLoaded: 0,
        loadedTotal: null,
        meta: { note: "quote ' and $dollar" }
      }
      const result = yield* w.commitRun(commit)
      assert.strictEqual(result.status, "complete")
      const saved = yield* w.checkpoints.get(key)
      assert.strictEqual(saved._tag === "Some" ? saved.value.cursor : null, cursor)
      assert.strictEqual(saved._tag === "Some" ? saved.value.meta?.note : null, "quote ' and $dollar")
      const runs = yield* w.listRuns(key)
      assert.deepStrictEqual(
        runs.map((r) => [r.runId, r.status, r.cursorAfter]),
        [["r-1", "complete", cursor]]
      )
    }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
  )

  it.effect("a transaction that fails part-way leaves nothing written and no transaction open", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const engine = yield* makeDuckDbEngine(":memory:")
        yield* engine.run("CREATE TABLE t (a VARCHAR)")
        const failed = yield* Effect.exit(
          engine.atomically([
            { sql: "INSERT INTO t VALUES ($a)", params: { a: "first" } },
            { sql: "INSERT INTO missing_table VALUES ($a)", params: { a: "second" } }
          ])
        )
        assert.strictEqual(failed._tag, "Failure")
        assert.deepStrictEqual(yield* engine.query("SELECT a FROM t"), [])
        yield* engine.atomically([{ sql: "INSERT INTO t VALUES ($a)", params: { a: "after" } }])
        assert.deepStrictEqual(yield* engine.query("SELECT a FROM t"), [{ a: "after" }])
      })
    )
  )

  it.effect("a small batch written into its MERGE stores exactly what a staged batch stores", () =>
    Effect.gen(function* () {
      const w = yield* Warehouse
      const order = (account: string, id: string) => ({
        source: "shopify",
        source_account: account,
        source_id: id,
        updated_at: "2026-11-26T10:00:00.123Z",
        _synced_at: "2026-11-27T04:00:00Z",
        _batch_id: `b-${id}`,
        channel: "online",
        order_number: `#${id} it's "quoted" $x; -- 日本`,
        customer_id: null,
        currency: "JPY",
        total: "1234.5",
        tax: "-0.000000001",
        created_at: "2026-11-26T09:00:00+09:00",
        business_date: "2026-11-26",
        cancelled_at: id === "2" ? "2026-11-26T12:00:00Z" : null
      })
      const ids = ["1", "2", "3"]
      // 3 rows: written into the statement. 3 + 600 rows: staged (over the inline size).
      yield* w.load(
        "orders",
        ids.map((id) => order("inline", id))
      )
      yield* w.load("orders", [
        ...ids.map((id) => order("staged", id)),
        ...Array.from({ length: 600 }, (_, i) => order("staged", `filler-${i}`))
      ])
      const read = (account: string) =>
        w.query(
          `SELECT * EXCLUDE (source_account) FROM orders WHERE source_account = '${account}' AND source_id IN ('1', '2', '3') ORDER BY source_id`
        )
      const inline = yield* read("inline")
      assert.strictEqual(inline.length, 3)
      assert.deepStrictEqual(inline, yield* read("staged"))
      assert.strictEqual(inline[0]?.order_number, `#1 it's "quoted" $x; -- 日本`)
    }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
  )

  it.effect(
    "a raw batch of distinct versions (a key with a timestamp) lands each once, NULL and a millisecond apart included",
    () =>
      Effect.gen(function* () {
        const w = yield* Warehouse
        const r = yield* w.load("_kura_raw", [
          rawRow("t-1", "2026-11-26T19:00:00+09:00", '{"v":1}'),
          rawRow("t-1", "2026-11-26T10:00:00.001Z", '{"v":2}'),
          rawRow("t-2", null),
          rawRow("t-2", "2026-11-26T10:00:00Z")
        ])
        assert.strictEqual(r.inserted, 4)
        // Loaded again (another spelling of a stored version included): nothing new.
        const again = yield* w.load("_kura_raw", [
          rawRow("t-1", "2026-11-26T10:00:00Z", '{"v":1}'),
          rawRow("t-2", null)
        ])
        assert.deepStrictEqual([again.inserted, again.updated], [0, 0])
        const rows = yield* w.query(
          "SELECT source_id, CAST(updated_at AS VARCHAR) AS u FROM _kura_raw WHERE source_id LIKE 't-%' ORDER BY source_id, updated_at NULLS FIRST"
        )
        assert.deepStrictEqual(
          rows.map((x) => [x.source_id, x.u]),
          [
            ["t-1", "2026-11-26 10:00:00+00"],
            ["t-1", "2026-11-26 10:00:00.001+00"],
            ["t-2", null],
            ["t-2", "2026-11-26 10:00:00+00"]
          ]
        )
      }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
  )
})
