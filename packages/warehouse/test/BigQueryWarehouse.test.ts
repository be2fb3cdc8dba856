import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Option, Redacted } from "effect"
import { Warehouse, WarehouseTokenStore } from "../src/index.js"
import { level, line, movement, order } from "./fixtures.js"
import { withBigQuery } from "./withBigQuery.js"

const key = { source: "shopify", account: "kura-matcha.myshopify.com", stream: "orders" }

describe("BigQueryWarehouse against fake BigQuery and GCS servers", () => {
  it.live(
    "migrates, then loads through a load job, a staging table and one MERGE; reloads are idempotent",
    () =>
      withBigQuery(({ bq, gcs }) =>
        Effect.gen(function* () {
          const w = yield* Warehouse
          const created = bq.queries.filter((q) => q.sql.startsWith("CREATE TABLE")).map((q) => q.sql)
          assert.isTrue(
            created.some((s) => s.startsWith("CREATE TABLE IF NOT EXISTS `demo-proj.kura.orders`"))
          )
          assert.isTrue(created.every((s) => !/FLOAT|DOUBLE/.test(s)))
          bq.queries.length = 0

          const batch = [
            order("1", "2026-01-05T01:00:00Z"),
            order("2", "2026-01-05T02:00:00Z", { total: "99.123456789" })
          ]
          const first = yield* w.load("orders", batch)
          assert.deepStrictEqual([first.inserted, first.updated, first.unchanged], [2, 0, 0])

          // A load job (never insertAll) read the staged NDJSON from GCS into a STRING staging table.
          const job = bq.loadJobs[0] as {
            sourceUris: Array<string>
            sourceFormat: string
            writeDisposition: string
            destinationTable: { projectId: string; datasetId: string; tableId: string }
            schema: { fields: Array<{ type: string }> }
          }
          assert.match(
            job.sourceUris[0]!,
            /^gs:\/\/kura-lake\/prod\/_kura_staging\/_kura_stg_orders_.+\.ndjson$/
          )
          assert.strictEqual(job.sourceFormat, "NEWLINE_DELIMITED_JSON")
          assert.strictEqual(job.writeDisposition, "WRITE_TRUNCATE")
          assert.strictEqual(job.destinationTable.datasetId, "kura")
          assert.isTrue(job.schema.fields.every((f) => f.type === "STRING"))
          assert.isFalse(bq.requests.some((r) => r.path.endsWith("/insertAll")))
          const merge = bq.queries.find((q) => q.sql.startsWith("MERGE INTO `demo-proj.kura.orders`"))
          assert.include(merge?.sql ?? "", `USING (SELECT`)
          assert.include(merge?.sql ?? "", "WHEN MATCHED AND s.`updated_at` > t.`updated_at` THEN UPDATE SET")
          // Staging is cleaned up: the file and the table.
          assert.strictEqual([...gcs.objects.keys()].filter((k) => k.includes("_kura_staging")).length, 0)
          assert.isTrue(
            bq.requests.some((r) => r.method === "DELETE" && r.path.includes("/tables/_kura_stg_orders_"))
          )

          const second = yield* w.load("orders", batch)
          assert.deepStrictEqual([second.inserted, second.updated, second.unchanged], [0, 0, 2])
          const late = yield* w.load("orders", [
            order("1", "2026-01-05T00:30:00Z", { financial_status: "pending" })
          ])
          assert.strictEqual(late.unchanged, 1)
          const rows = yield* Effect.promise(() =>
            bq.duck(
              'SELECT source_id, financial_status, CAST(total AS VARCHAR) AS total FROM "orders" ORDER BY source_id'
            )
          )
          assert.deepStrictEqual(rows, [
            { source_id: "1", financial_status: "paid", total: "1100.000000000" },
            { source_id: "2", financial_status: "paid", total: "99.123456789" }
          ])
        })
      )
  )

  it.live("reports no engine memory, and asks BigQuery nothing for it", () =>
    withBigQuery(({ bq }) =>
      Effect.gen(function* () {
        const w = yield* Warehouse
        const before = bq.requests.length
        assert.deepStrictEqual(yield* w.engineMemory, [])
        assert.strictEqual(bq.requests.length, before)
      })
    )
  )

  it.live("schema drift adds a nullable column; a changed type is dead-lettered", () =>
    withBigQuery(({ bq }) =>
      Effect.gen(function* () {
        const w = yield* Warehouse
        yield* w.load("orders", [{ ...order("1", "2026-01-05T01:00:00Z"), source_name: "web" }])
        assert.isTrue(
          bq.queries.some(
            (q) => q.sql === "ALTER TABLE `demo-proj.kura.orders` ADD COLUMN `source_name` STRING"
          )
        )
        const r = yield* w.load("orders", [
          { ...order("2", "2026-01-05T01:00:00Z"), source_name: ["web", "pos"] }
        ])
        assert.strictEqual(r.deadLettered, 1)
        const letters = yield* w.listDeadLetters()
        assert.deepStrictEqual(
          letters.map((l) => [l.reason, l.sourceId]),
          [["type_changed", "2"]]
        )
      })
    )
  )

  it.live("state, run ledger and leases work through BigQuery SQL", () =>
    withBigQuery(({ bq }) =>
      Effect.gen(function* () {
        const w = yield* Warehouse
        yield* w.checkpoints.put({ key, cursor: "2026-01-01T00:00:00Z", updatedAt: 1 })
        assert.strictEqual(Option.getOrThrow(yield* w.checkpoints.get(key)).cursor, "2026-01-01T00:00:00Z")
        const q = bq.queries.find(
          (x) =>
            x.sql.startsWith("MERGE INTO `demo-proj.kura._kura_sync_state`") && x.params.kind === "checkpoint"
        )
        assert.strictEqual(q?.params.cursor, "2026-01-01T00:00:00Z")
        yield* w.bulkJobs.put({
          jobId: "gid://shopify/BulkOperation/9",
          key,
          windowStart: "a",
          windowEnd: "b",
          state: "started",
          remoteStatus: null,
          objectCount: null,
          createdAt: 1,
          updatedAt: 1
        })
        assert.strictEqual((yield* w.bulkJobs.listOpen()).length, 1)

        yield* w.startRun({ runId: "r1", key })
        const res = yield* w.commitRun({
          runId: "r1",
          key,
          cursorAfter: "2026-01-02T00:00:00Z",
          reportedCount: 3,
          reportedTotal: null,
          rowsFetched: 3,
          rowsLoaded: 2,
          loadedTotal: null
        })
        assert.strictEqual(res.status, "incomplete")
        assert.strictEqual(Option.getOrThrow(yield* w.checkpoints.get(key)).cursor, "2026-01-01T00:00:00Z")

        // A complete run writes its ledger row and its cursor in one transaction script.
        yield* w.startRun({ runId: "r2", key })
        const done = yield* w.commitRun({
          runId: "r2",
          key,
          cursorAfter: "2026-01-03T00:00:00Z",
          reportedCount: 2,
          reportedTotal: "10.5",
          rowsFetched: 2,
          rowsLoaded: 2,
          loadedTotal: "10.50"
        })
        assert.strictEqual(done.status, "complete")
        const script = bq.queries.filter((x) => x.sql.startsWith("BEGIN TRANSACTION;")).at(-1)
        assert.isDefined(script)
        const statements = script!.sql.split(";\n")
        assert.deepStrictEqual(
          [statements[0], statements.at(-1)],
          ["BEGIN TRANSACTION", "COMMIT TRANSACTION;"]
        )
        assert.match(statements[1] ?? "", /^MERGE INTO `demo-proj\.kura\._kura_sync_runs`/)
        assert.match(statements[2] ?? "", /^MERGE INTO `demo-proj\.kura\._kura_sync_state`/)
        assert.strictEqual(script!.params.s0_status, "complete")
        assert.strictEqual(script!.params.s1_cursor, "2026-01-03T00:00:00Z")
        assert.strictEqual(Option.getOrThrow(yield* w.checkpoints.get(key)).cursor, "2026-01-03T00:00:00Z")
        assert.strictEqual((yield* w.listRuns(key)).find((r) => r.runId === "r2")?.status, "complete")

        // The runner stores the run's API cost on its ledger entry; v_api_usage types it.
        const usage = {
          calls: 4,
          costRequested: 120,
          costActual: 96,
          throttled: 1,
          throttleWaits: 1,
          throttleWaitSeconds: 0.5,
          retries: 0
        }
        assert.isTrue(yield* w.recordRunUsage("r2", key, usage))
        assert.isFalse(yield* w.recordRunUsage("no-such-run", key, usage))
        assert.deepStrictEqual((yield* w.listRuns(key)).find((r) => r.runId === "r2")?.apiUsage, usage)
        assert.isNull((yield* w.listRuns(key)).find((r) => r.runId === "r1")?.apiUsage)
        const perRun = yield* w.query(
          "SELECT run_id, CAST(api_calls AS STRING) AS calls, cost_actual, cost_per_row FROM `demo-proj.kura.v_api_usage`"
        )
        assert.deepStrictEqual(perRun, [{ run_id: "r2", calls: "4", cost_actual: "96", cost_per_row: "48" }])
        assert.deepStrictEqual(
          (yield* w.reconcile).sourceReconciliation.map((r) => [r.runId, r.apiUsage?.costActual ?? null]),
          [
            ["r1", null],
            ["r2", 96]
          ]
        )

        yield* w.load("orders", [order("1", "2026-01-05T01:00:00Z"), order("2", "2026-01-05T01:00:00Z")])
        const deleted = yield* w.markDeleted(
          "orders",
          [{ source: "shopify", source_account: "kura-matcha.myshopify.com", source_id: "2" }],
          "2026-01-07T00:00:00Z"
        )
        assert.strictEqual(deleted, 1)
        const live = yield* Effect.promise(() =>
          bq.duck('SELECT source_id FROM "orders" WHERE _deleted_at IS NULL')
        )
        assert.deepStrictEqual(live, [{ source_id: "1" }])
        // Each at its own time: one markDeleted per distinct time on BigQuery.
        yield* w.load("orders", [order("3", "2026-01-05T01:00:00Z"), order("4", "2026-01-05T01:00:00Z")])
        const each = yield* w.markDeletedEach("orders", [
          {
            key: { source: "shopify", source_account: "kura-matcha.myshopify.com", source_id: "3" },
            deletedAt: "2026-01-08T00:00:00Z"
          },
          {
            key: { source: "shopify", source_account: "kura-matcha.myshopify.com", source_id: "4" },
            deletedAt: "2026-01-09T00:00:00Z"
          }
        ])
        assert.strictEqual(each, 2)
        assert.deepStrictEqual(
          yield* Effect.promise(() =>
            bq.duck(
              "SELECT source_id, CAST(_deleted_at AS VARCHAR) AS d FROM \"orders\" WHERE source_id IN ('3', '4') ORDER BY source_id"
            )
          ),
          [
            { source_id: "3", d: "2026-01-08 00:00:00+00" },
            { source_id: "4", d: "2026-01-09 00:00:00+00" }
          ]
        )

        const lease = yield* w.acquireLease(key, "runner-a", 60_000)
        assert.isTrue(Exit.isFailure(yield* Effect.exit(w.acquireLease(key, "runner-b", 60_000))))
        yield* w.releaseLease(lease)
        assert.strictEqual((yield* w.acquireLease(key, "runner-b", 60_000)).holder, "runner-b")
        // A pass's leases, checkpoints and run costs in one statement each (same SQL as DuckDB).
        const products = { ...key, stream: "products" }
        const pass = yield* w.acquireLeases(
          [
            { key, holder: "pass-1" },
            { key: products, holder: "pass-2" }
          ],
          60_000
        )
        assert.deepStrictEqual(
          pass.map((r) => (r._tag === "Success" ? r.success.holder : r.failure.holder)),
          ["runner-b", "pass-2"]
        )
        yield* w.releaseLeases(pass.flatMap((r) => (r._tag === "Success" ? [r.success] : [])))
        assert.strictEqual((yield* w.acquireLease(products, "runner-c", 60_000)).holder, "runner-c")
        yield* w.recordRunUsages([
          {
            runId: "r2",
            key,
            usage: {
              calls: 5,
              costRequested: 1,
              costActual: 1,
              throttled: 0,
              throttleWaits: 0,
              throttleWaitSeconds: 0,
              retries: 0
            }
          }
        ])
        assert.strictEqual((yield* w.listRuns(key)).find((r) => r.runId === "r2")?.apiUsage?.calls, 5)
        yield* w.startRuns([
          { runId: "r8", key, cursorBefore: "x" },
          { runId: "r9", key: products, cursorBefore: null }
        ])
        assert.deepStrictEqual(
          (yield* w.listRuns())
            .filter((r) => r.runId === "r8" || r.runId === "r9")
            .map((r) => [r.runId, r.status, r.cursorBefore]),
          [
            ["r8", "running", "x"],
            ["r9", "running", null]
          ]
        )
        const committed = yield* w.commitRuns([
          {
            runId: "r9",
            key: products,
            cursorAfter: "p1",
            reportedCount: null,
            reportedTotal: null,
            rowsFetched: 0,
            rowsLoaded: 0,
            loadedTotal: null,
            opened: { startedAt: 1, cursorBefore: null }
          }
        ])
        assert.deepStrictEqual(
          committed.map((c) => c.status),
          ["complete"]
        )
        assert.strictEqual(Option.getOrThrow(yield* w.checkpoints.get(products)).cursor, "p1")
        // Both streams have a cursor now.
        assert.deepStrictEqual([...(yield* w.checkpointsOf([key, products])).keys()].sort(), [
          "shopify/kura-matcha.myshopify.com/orders",
          "shopify/kura-matcha.myshopify.com/products"
        ])

        // The durable TokenStore: compare-and-set is one MERGE, decided by BigQuery's DML count.
        const store = WarehouseTokenStore.make(w, { encryptionKey: Redacted.make("k") })
        const set = (refresh: string) => ({
          accessToken: Redacted.make(`access-${refresh}`),
          refreshToken: Redacted.make(refresh),
          expiresAt: null,
          refreshExpiresAt: null,
          issuedAt: 1,
          scope: null
        })
        assert.isTrue(yield* store.put("lightspeed:c:b", set("r1"), { expectRefreshToken: null }))
        assert.isTrue(yield* store.put("lightspeed:c:b", set("r2"), { expectRefreshToken: "r1" }))
        assert.isFalse(yield* store.put("lightspeed:c:b", set("r3"), { expectRefreshToken: "r1" }))
        const stored = Option.getOrThrow(yield* store.get("lightspeed:c:b"))
        assert.strictEqual(Redacted.value(stored.refreshToken!), "r2")
        const tokenWrites = bq.queries.filter((x) =>
          x.sql.startsWith("MERGE INTO `demo-proj.kura._kura_tokens`")
        )
        assert.strictEqual(tokenWrites.length, 3)
        assert.notInclude(JSON.stringify(tokenWrites.map((x) => x.params)), "access-r")
      })
    )
  )

  it.live("reconcile reads the views", () =>
    withBigQuery(() =>
      Effect.gen(function* () {
        const w = yield* Warehouse
        yield* w.load("orders", [order("1", "2026-01-05T01:00:00Z")])
        yield* w.load("order_lines", [line("l1", "1", 3)])
        yield* w.load("inventory_levels", [
          level("A", "loc-1", "2026-01-01T23:00:00Z", 10),
          level("A", "loc-1", "2026-01-02T23:00:00Z", 9)
        ])
        yield* w.load("inventory_movements", [
          movement("m1", "A", "loc-1", "sale", -1, "2026-01-02T10:00:00Z")
        ])
        const report = yield* w.reconcile
        assert.deepStrictEqual(
          report.dailySales.map((r) => [r.businessDate, r.revenue, r.orders, r.units]),
          [["2026-01-05", "1100", 1, 3]]
        )
        assert.strictEqual(report.inventoryAccuracy, 1)
      })
    )
  )
})
