/**
 * Opening a warehouse written by an older Kura: `_kura_raw` duplicates left from when its key
 * held the batch id are removed once (the newest fetch stays), and the run ledger gains its
 * `api_usage` column as a nullable column, old rows kept.
 */
import { createHash } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { duckdbDialect } from "../src/Dialect.js"
import { DuckDbWarehouse, RawTable, Sql, Warehouse } from "../src/index.js"
import {
  LIGHTSPEED_VOIDS_MIGRATION,
  RAW_DEDUP_MIGRATION,
  RAW_DEDUP_TAG,
  RAW_INSTANT_DEDUP_MIGRATION,
  RAW_PAYLOAD_HASH_MIGRATION,
  SHIPPING_LINES_CHECK,
  STATUS_VOCABULARY_MIGRATION,
  viewTag
} from "../src/internal/makeWarehouse.js"
import { AllViews, createView } from "../src/Views.js"
import { order } from "./fixtures.js"
import { withBigQuery } from "./withBigQuery.js"

const withDir = <A, E>(use: (dir: string) => Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "kura-migrate-"))),
    use,
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )

/** Opens the DuckDB file (running migrate, as every start does) and runs `use`. */
const opened = <A, E>(dir: string, use: (w: Warehouse["Service"]) => Effect.Effect<A, E>) =>
  Effect.provide(
    Effect.flatMap(Effect.service(Warehouse), use),
    DuckDbWarehouse.layer({ path: join(dir, "kura.duckdb") })
  )

const rawRows = (w: Warehouse["Service"]) =>
  Effect.map(
    w.query(
      `SELECT source_id, CAST(updated_at AS VARCHAR) AS updated_at, _batch_id, CAST(fetched_at AS VARCHAR) AS fetched_at, CAST(payload AS VARCHAR) AS payload FROM "_kura_raw" ORDER BY source_id, _batch_id`
    ),
    (rows) =>
      rows.map((r) => [
        r.source_id,
        r.updated_at === null ? null : String(r.updated_at).slice(0, 10),
        r._batch_id,
        String(r.payload)
      ])
  )

const md5 = (text: string) => createHash("md5").update(text, "utf8").digest("hex")

/** The columns of `_kura_raw` before `payload_hash`: what the old rows below were written with. */
const OLD_RAW_COLUMNS =
  "(source, source_account, stream, source_id, updated_at, payload, fetched_at, _batch_id, lake_path)"

/** What batch-keyed loads left behind: one row per record version and batch. */
const oldRaw = (id: string, updatedAt: string | null, batch: string, fetchedAt: string, payload: string) =>
  `('shopify', 'kura.myshopify.com', 'orders', '${id}', ${updatedAt === null ? "NULL" : `TIMESTAMPTZ '${updatedAt}'`}, '${payload}', TIMESTAMPTZ '${fetchedAt}', '${batch}', NULL)`

describe("migrate on a warehouse from an older Kura", () => {
  it.effect(
    "removes _kura_raw duplicates once, keeping the newest fetch; a second open changes nothing",
    () =>
      withDir((dir) =>
        Effect.gen(function* () {
          // An older database: duplicates written under the batch-id key, no migration marker
          // (neither the marker row nor the comment on _kura_raw that newer opens read).
          yield* opened(dir, (w) =>
            Effect.gen(function* () {
              yield* w.query(`DELETE FROM "_kura_sync_state" WHERE kind = 'migration'`)
              yield* w.query(`COMMENT ON TABLE "_kura_raw" IS NULL`)
              yield* w.query(
                `INSERT INTO "_kura_raw" ${OLD_RAW_COLUMNS} VALUES ${[
                  oldRaw(
                    "1",
                    "2026-01-01T00:00:00Z",
                    "b1",
                    "2026-01-02T00:00:00Z",
                    '{"id":1,"v":"first fetch"}'
                  ),
                  oldRaw(
                    "1",
                    "2026-01-01T00:00:00Z",
                    "b2",
                    "2026-01-03T00:00:00Z",
                    '{"id":1,"v":"newest fetch"}'
                  ),
                  oldRaw(
                    "1",
                    "2026-01-01T00:00:00Z",
                    "b0",
                    "2026-01-03T00:00:00Z",
                    '{"id":1,"v":"same time, older batch"}'
                  ),
                  oldRaw(
                    "1",
                    "2026-01-05T00:00:00Z",
                    "b3",
                    "2026-01-06T00:00:00Z",
                    '{"id":1,"v":"a newer version"}'
                  ),
                  oldRaw("2", null, "b1", "2026-01-02T00:00:00Z", '{"id":2,"v":"old"}'),
                  oldRaw("2", null, "b2", "2026-01-03T00:00:00Z", '{"id":2,"v":"new"}'),
                  oldRaw("3", "2026-01-01T00:00:00Z", "b1", "2026-01-02T00:00:00Z", '{"id":3}')
                ].join(", ")}`
              )
            })
          )
          const after = yield* opened(dir, (w) =>
            Effect.gen(function* () {
              const rows = yield* rawRows(w)
              const marker = yield* w.query(
                `SELECT meta FROM "_kura_sync_state" WHERE kind = 'migration' AND id = '${RAW_DEDUP_MIGRATION}'`
              )
              return { rows, marker }
            })
          )
          assert.deepStrictEqual(after.rows, [
            ["1", "2026-01-01", "b2", '{"id":1,"v":"newest fetch"}'],
            ["1", "2026-01-05", "b3", '{"id":1,"v":"a newer version"}'],
            ["2", null, "b2", '{"id":2,"v":"new"}'],
            ["3", "2026-01-01", "b1", '{"id":3}']
          ])
          assert.deepStrictEqual(JSON.parse(String(after.marker[0]?.meta)), { removedDuplicates: 3 })

          // Idempotent: the clean-up itself finds nothing more, and later opens skip it.
          const again = yield* opened(dir, (w) =>
            Effect.gen(function* () {
              const [count] = yield* w.query(
                `SELECT CAST(COUNT(*) AS VARCHAR) AS n FROM (${Sql.deleteOlderDuplicates(w.dialect, RawTable, ["fetched_at", "_batch_id"]).replace(/^DELETE FROM (\S+) AS t WHERE/, "SELECT 1 FROM $1 AS t WHERE")}) AS x`
              )
              return { rows: yield* rawRows(w), wouldDelete: count?.n }
            })
          )
          assert.deepStrictEqual(again.rows, after.rows)
          assert.strictEqual(again.wouldDelete, "0")
        })
      )
  )

  it.effect(
    "removes one record version stored under two spellings of its updated_at once (the newest fetch stays); the marker spares later opens the scan",
    () =>
      withDir((dir) =>
        Effect.gen(function* () {
          const instant = (id: string, spelling: string, batch: string, fetchedAt: string) =>
            oldRaw(id, spelling, batch, fetchedAt, `{"id":${id},"updated_at":"${spelling}"}`)
          // A warehouse of sessions 3-6: the batch-key clean-up done and tagged, the second not;
          // _kura_raw holds what a batch partitioned on the staged text wrote.
          yield* opened(dir, (w) =>
            Effect.gen(function* () {
              yield* w.query(
                `DELETE FROM "_kura_sync_state" WHERE kind = 'migration' AND id = '${RAW_INSTANT_DEDUP_MIGRATION}'`
              )
              yield* w.query(`COMMENT ON TABLE "_kura_raw" IS 'kura:${RAW_DEDUP_MIGRATION}'`)
              yield* w.query(
                `INSERT INTO "_kura_raw" ${OLD_RAW_COLUMNS} VALUES ${[
                  // One batch, three spellings of one instant.
                  instant("10", "2026-01-01T00:00:00Z", "b1", "2026-01-02T00:00:00Z"),
                  instant("10", "2026-01-01T00:00:00.000Z", "b1", "2026-01-02T00:00:00Z"),
                  instant("10", "2026-01-01T09:00:00+09:00", "b1", "2026-01-02T00:00:00Z"),
                  // Two spellings fetched at different times: the later fetch stays.
                  instant("11", "2026-01-01T00:00:00.000Z", "b2", "2026-01-03T00:00:00Z"),
                  instant("11", "2026-01-01T00:00:00Z", "b1", "2026-01-02T00:00:00Z"),
                  // Equal in every column.
                  instant("12", "2026-01-01T00:00:00Z", "b1", "2026-01-02T00:00:00Z"),
                  instant("12", "2026-01-01T00:00:00Z", "b1", "2026-01-02T00:00:00Z"),
                  // Two versions, and a record without updated_at: all stay.
                  instant("13", "2026-01-01T00:00:00Z", "b1", "2026-01-02T00:00:00Z"),
                  instant("13", "2026-01-04T00:00:00Z", "b1", "2026-01-02T00:00:00Z"),
                  oldRaw("14", null, "b1", "2026-01-02T00:00:00Z", '{"id":14}')
                ].join(", ")}`
              )
            })
          )
          const markers = (w: Warehouse["Service"]) =>
            Effect.map(
              w.query(`SELECT id, meta FROM "_kura_sync_state" WHERE kind = 'migration' ORDER BY id`),
              (rows) => rows.map((r) => [r.id, JSON.parse(String(r.meta))])
            )
          const comment = (w: Warehouse["Service"]) =>
            Effect.map(
              w.query(`SELECT comment FROM duckdb_tables() WHERE table_name = '_kura_raw'`),
              (rows) => rows[0]?.comment
            )
          const after = yield* opened(dir, (w) =>
            Effect.all({ rows: rawRows(w), markers: markers(w), comment: comment(w) })
          )
          assert.deepStrictEqual(after.rows, [
            // Equal fetch and batch: the greatest payload text stays (any one would do).
            ["10", "2026-01-01", "b1", '{"id":10,"updated_at":"2026-01-01T09:00:00+09:00"}'],
            ["11", "2026-01-01", "b2", '{"id":11,"updated_at":"2026-01-01T00:00:00.000Z"}'],
            ["12", "2026-01-01", "b1", '{"id":12,"updated_at":"2026-01-01T00:00:00Z"}'],
            ["13", "2026-01-01", "b1", '{"id":13,"updated_at":"2026-01-01T00:00:00Z"}'],
            ["13", "2026-01-04", "b1", '{"id":13,"updated_at":"2026-01-04T00:00:00Z"}'],
            ["14", null, "b1", '{"id":14}']
          ])
          assert.deepStrictEqual(after.markers, [
            [LIGHTSPEED_VOIDS_MIGRATION, { voids: 0, refundLinesWithReason: 0 }],
            [RAW_INSTANT_DEDUP_MIGRATION, { removedDuplicates: 4 }],
            [RAW_DEDUP_MIGRATION, { removedDuplicates: 0 }],
            [RAW_PAYLOAD_HASH_MIGRATION, { filled: 0 }],
            [SHIPPING_LINES_CHECK, { ordersMissingShippingLines: 0 }],
            [STATUS_VOCABULARY_MIGRATION, { orders: 0, purchase_orders: 0 }]
          ])
          assert.strictEqual(after.comment, RAW_DEDUP_TAG)

          // Done once: a duplicate written after it (by hand here) is not looked for again, by
          // the comment (DuckDB) nor, with the comment gone, by the marker rows (BigQuery's way).
          const late = instant("20", "2026-01-01T00:00:00.000Z", "b9", "2026-01-09T00:00:00Z")
          yield* opened(dir, (w) =>
            w.query(
              `INSERT INTO "_kura_raw" ${OLD_RAW_COLUMNS} VALUES ${late}, ${late.replaceAll(".000Z", "Z")}`
            )
          )
          const tagged = yield* opened(dir, (w) => Effect.all({ rows: rawRows(w), markers: markers(w) }))
          assert.strictEqual(tagged.rows.filter((r) => r[0] === "20").length, 2)
          assert.deepStrictEqual(tagged.markers, after.markers)
          yield* opened(dir, (w) => w.query(`COMMENT ON TABLE "_kura_raw" IS NULL`))
          const marked = yield* opened(dir, (w) =>
            Effect.all({ rows: rawRows(w), markers: markers(w), comment: comment(w) })
          )
          assert.strictEqual(marked.rows.filter((r) => r[0] === "20").length, 2)
          assert.deepStrictEqual(marked.markers, after.markers)
          assert.strictEqual(marked.comment, RAW_DEDUP_TAG)

          // Without its marker it runs again and finds only the late pair.
          yield* opened(dir, (w) =>
            Effect.gen(function* () {
              yield* w.query(`DELETE FROM "_kura_sync_state" WHERE id = '${RAW_INSTANT_DEDUP_MIGRATION}'`)
              yield* w.query(`COMMENT ON TABLE "_kura_raw" IS NULL`)
            })
          )
          const rerun = yield* opened(dir, (w) => Effect.all({ rows: rawRows(w), markers: markers(w) }))
          assert.deepStrictEqual(
            rerun.rows.filter((r) => r[0] === "20"),
            [["20", "2026-01-01", "b9", '{"id":20,"updated_at":"2026-01-01T00:00:00Z"}']]
          )
          assert.deepStrictEqual(
            rerun.rows.filter((r) => r[0] !== "20"),
            after.rows
          )
          assert.deepStrictEqual(
            rerun.markers.find((r) => r[0] === RAW_INSTANT_DEDUP_MIGRATION),
            [RAW_INSTANT_DEDUP_MIGRATION, { removedDuplicates: 1 }]
          )
        })
      )
  )

  it.effect(
    "BigQuery (the DuckDB-backed fake): the two-spellings clean-up runs as one transaction script, once",
    () =>
      withBigQuery(({ bq }) =>
        Effect.gen(function* () {
          const w = yield* Warehouse
          // What old loads left (written straight into the fake's tables), marker gone.
          yield* Effect.promise(async () => {
            await bq.duck(`DELETE FROM "_kura_sync_state" WHERE kind = 'migration'`)
            await bq.duck(
              `INSERT INTO "_kura_raw" ${OLD_RAW_COLUMNS} VALUES ${[
                oldRaw("1", "2026-01-01T00:00:00Z", "b1", "2026-01-02T00:00:00Z", '{"id":1,"s":"Z"}'),
                oldRaw("1", "2026-01-01T00:00:00.000Z", "b1", "2026-01-02T00:00:00Z", '{"id":1,"s":"ms"}'),
                oldRaw("1", "2026-01-01T00:00:00+00:00", "b0", "2026-01-01T00:00:00Z", '{"id":1,"s":"old"}'),
                oldRaw("2", "2026-01-01T00:00:00Z", "b1", "2026-01-02T00:00:00Z", '{"id":2}')
              ].join(", ")}`
            )
          })
          const before = bq.queries.length
          yield* w.migrate
          const script = bq.queries.slice(before).filter((q) => q.sql.startsWith("BEGIN TRANSACTION;"))
          const rows = yield* Effect.promise(() =>
            bq.duck(
              `SELECT source_id, CAST(payload AS VARCHAR) AS payload, payload_hash FROM "_kura_raw" ORDER BY source_id`
            )
          )
          assert.deepStrictEqual(
            rows.map((r) => [r.source_id, r.payload, r.payload_hash]),
            [
              // The newest fetch; of the two equal on fetch and batch, the greater payload text.
              // The rows written without a payload hash got the md5 of their payload.
              ["1", '{"id":1,"s":"ms"}', md5('{"id":1,"s":"ms"}')],
              ["2", '{"id":2}', md5('{"id":2}')]
            ]
          )
          assert.isTrue(
            bq.queries
              .slice(before)
              .some((q) =>
                q.sql.startsWith(
                  "UPDATE `demo-proj.kura._kura_raw` SET `payload_hash` = TO_HEX(MD5(`payload`))"
                )
              )
          )
          assert.strictEqual(script.length, 1)
          assert.include(script[0]?.sql ?? "", "CREATE TEMP TABLE `_kura_keep_kura_raw`")
          const markers = yield* w.query(
            "SELECT id, meta FROM `demo-proj.kura._kura_sync_state` WHERE kind = 'migration' ORDER BY id"
          )
          assert.deepStrictEqual(
            markers.map((r) => [r.id, JSON.parse(String(r.meta))]),
            [
              [LIGHTSPEED_VOIDS_MIGRATION, { voids: 0, refundLinesWithReason: 0 }],
              [RAW_INSTANT_DEDUP_MIGRATION, { removedDuplicates: 2 }],
              [RAW_DEDUP_MIGRATION, { removedDuplicates: 2 }],
              [RAW_PAYLOAD_HASH_MIGRATION, { filled: 2 }],
              [SHIPPING_LINES_CHECK, { ordersMissingShippingLines: 0 }],
              [STATUS_VOCABULARY_MIGRATION, { orders: 0, purchase_orders: 0 }]
            ]
          )
          // The shipping-lines check, rerun with an order an old bulk export left without its
          // shipping lines (a charge, no shipping tax line, "shippingLines":[] in its payload),
          // next to one whose payload has its lines (not reported).
          yield* w.load("orders", [
            order("7", "2026-01-05T00:00:00Z", { shipping: "800" }),
            order("8", "2026-01-05T00:00:00Z", { shipping: "800", created_at: "2026-01-09T00:00:00Z" })
          ])
          yield* Effect.promise(async () => {
            await bq.duck(`DELETE FROM "_kura_sync_state" WHERE id = '${SHIPPING_LINES_CHECK}'`)
            await bq.duck(
              `INSERT INTO "_kura_raw" ${OLD_RAW_COLUMNS} VALUES ${[
                `('shopify', 'kura-matcha.myshopify.com', 'orders', 'gid://shopify/Order/7', TIMESTAMPTZ '2026-01-05T00:00:00Z', '{"id":"gid://shopify/Order/7","shippingLines":[]}', TIMESTAMPTZ '2026-01-06T00:00:00Z', 'b1', NULL)`,
                `('shopify', 'kura-matcha.myshopify.com', 'orders', 'gid://shopify/Order/8', TIMESTAMPTZ '2026-01-05T00:00:00Z', '{"id":"gid://shopify/Order/8","shippingLines":[{"id":"s"}]}', TIMESTAMPTZ '2026-01-06T00:00:00Z', 'b1', NULL)`
              ].join(", ")}`
            )
          })
          yield* w.migrate
          const [check] = yield* w.query(
            `SELECT meta FROM \`demo-proj.kura._kura_sync_state\` WHERE kind = 'migration' AND id = '${SHIPPING_LINES_CHECK}'`
          )
          assert.deepStrictEqual(JSON.parse(String(check?.meta)), {
            ordersMissingShippingLines: 1,
            from: "2026-01-05",
            to: "2026-01-05"
          })

          // Marked: the next open reads the markers, not _kura_raw (no duplicate count, no rewrite).
          const next = bq.queries.length
          yield* w.migrate
          const later = bq.queries.slice(next).map((q) => q.sql)
          assert.isTrue(later.some((q) => q.includes("'migration'") || q.includes("`kind` = @kind")))
          assert.deepStrictEqual(
            later.filter((q) => q.includes("HAVING COUNT(*) > 1") || q.startsWith("BEGIN TRANSACTION;")),
            []
          )
        })
      )
  )

  it.effect("the run ledger gains api_usage as a nullable column; old runs keep their rows", () =>
    withDir((dir) =>
      Effect.gen(function* () {
        const key = { source: "shopify", account: "kura.myshopify.com", stream: "orders" }
        yield* opened(dir, (w) =>
          Effect.gen(function* () {
            yield* w.startRun({ runId: "old-run", key, cursorBefore: null })
            // What an older Kura created: no api_usage column.
            yield* w.query(`DROP VIEW IF EXISTS "v_api_usage"`)
            yield* w.query(`DROP VIEW IF EXISTS "v_source_reconciliation"`)
            yield* w.query(`ALTER TABLE "_kura_sync_runs" DROP COLUMN "api_usage"`)
          })
        )
        const out = yield* opened(dir, (w) =>
          Effect.gen(function* () {
            const columns = yield* w.query(
              `SELECT data_type, is_nullable FROM information_schema.columns WHERE table_name = '_kura_sync_runs' AND column_name = 'api_usage'`
            )
            const old = (yield* w.listRuns(key)).find((r) => r.runId === "old-run")
            yield* w.startRun({ runId: "new-run", key, cursorBefore: null })
            yield* w.commitRun({
              runId: "new-run",
              key,
              cursorAfter: "c1",
              reportedCount: 1,
              reportedTotal: null,
              rowsFetched: 1,
              rowsLoaded: 1,
              loadedTotal: null,
              apiUsage: {
                calls: 2,
                costRequested: 20,
                costActual: 12,
                throttled: 0,
                throttleWaits: 0,
                throttleWaitSeconds: 0,
                retries: 0
              }
            })
            // A failed run keeps the cost already recorded on it.
            yield* w.recordRunUsage("old-run", key, {
              calls: 9,
              costRequested: 0,
              costActual: 0,
              throttled: 3,
              throttleWaits: 3,
              throttleWaitSeconds: 4.5,
              retries: 2
            })
            yield* w.failRun("old-run", key, "boom")
            const runs = yield* w.listRuns(key)
            const view = yield* w.query(
              `SELECT run_id, status, CAST(api_calls AS VARCHAR) AS calls, throttle_wait_seconds FROM "v_api_usage" ORDER BY run_id`
            )
            const report = yield* w.reconcile
            return { columns, old, runs, view, report }
          })
        )
        assert.deepStrictEqual(out.columns, [{ data_type: "JSON", is_nullable: "YES" }])
        assert.strictEqual(out.old?.apiUsage, null)
        assert.deepStrictEqual(
          out.runs.map((r) => [r.runId, r.status, r.apiUsage?.calls ?? null]),
          [
            ["new-run", "complete", 2],
            ["old-run", "failed", 9]
          ]
        )
        assert.deepStrictEqual(out.view, [
          { run_id: "new-run", status: "complete", calls: "2", throttle_wait_seconds: 0 },
          { run_id: "old-run", status: "failed", calls: "9", throttle_wait_seconds: 4.5 }
        ])
        // The report names the failed stream and run.
        assert.deepStrictEqual(
          out.report.failedRuns.map((r) => r.runId),
          ["old-run"]
        )
        assert.include(
          out.report.problems[0] ?? "",
          "failed: shopify/kura.myshopify.com/orders run old-run: boom"
        )
        assert.deepStrictEqual(
          out.report.sourceReconciliation.map((r) => r.apiUsage?.retries ?? null),
          [0, 2]
        )
      })
    )
  )
})

describe("views at open", () => {
  const viewState = (w: Warehouse["Service"]) =>
    Effect.map(
      w.query(
        `SELECT view_name, comment, sql FROM duckdb_views() WHERE NOT internal AND schema_name = 'main' ORDER BY view_name`
      ),
      (rows) => new Map(rows.map((r) => [String(r.view_name), { comment: r.comment, sql: String(r.sql) }]))
    )
  it.effect(
    "are re-created only when missing or their definition changed (the tag in the comment differs)",
    () =>
      withDir((dir) =>
        Effect.gen(function* () {
          const first = yield* opened(dir, viewState)
          assert.strictEqual(first.size, AllViews.length)
          for (const view of AllViews) {
            const tag = viewTag(createView(duckdbDialect(), view))
            assert.strictEqual(first.get(view.name)?.comment, tag, view.name)
          }
          // A stand-in under the current tag is left alone: an unchanged view is not re-created.
          // A stale tag (a definition from another Kura version) and a dropped view are.
          const [kept, stale, dropped] = AllViews.map((v) => v.name)
          yield* opened(dir, (w) =>
            Effect.gen(function* () {
              const tag = first.get(kept!)?.comment
              yield* w.query(`CREATE OR REPLACE VIEW "${kept}" AS SELECT 42 AS stand_in`)
              yield* w.query(`COMMENT ON VIEW "${kept}" IS '${String(tag)}'`)
              yield* w.query(`CREATE OR REPLACE VIEW "${stale}" AS SELECT 1 AS old_definition`)
              yield* w.query(`COMMENT ON VIEW "${stale}" IS 'kura:0000000000000000'`)
              yield* w.query(`DROP VIEW "${dropped}"`)
            })
          )
          const next = yield* opened(dir, viewState)
          assert.include(next.get(kept!)?.sql ?? "", "stand_in")
          assert.strictEqual(next.get(stale!)?.sql, first.get(stale!)?.sql)
          assert.strictEqual(next.get(stale!)?.comment, first.get(stale!)?.comment)
          assert.strictEqual(next.get(dropped!)?.sql, first.get(dropped!)?.sql)
          assert.strictEqual(next.get(dropped!)?.comment, first.get(dropped!)?.comment)
        })
      )
  )
})
