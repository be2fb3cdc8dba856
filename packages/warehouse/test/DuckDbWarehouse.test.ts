import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { BulkJobStore, CheckpointStore, DeadLetterSink } from "@kura/core"
import { Effect, Exit, Layer, Option, Result } from "effect"
import { TestClock } from "effect/testing"
import { DuckDbWarehouse, Warehouse, WarehouseStores } from "../src/index.js"
import { makeDuckDbEngine } from "../src/internal/duckdbEngine.js"
import { makeWarehouse } from "../src/internal/makeWarehouse.js"
import { level, line, movement, order, refund } from "./fixtures.js"

const provide = <A, E>(effect: Effect.Effect<A, E, Warehouse>) =>
  Effect.provide(effect, DuckDbWarehouse.layerMemory)

const key = { source: "shopify", account: "kura-matcha.myshopify.com", stream: "orders" }

const orderRows = (w: Warehouse["Service"]) =>
  w.query(
    'SELECT source_id, CAST(total AS VARCHAR) AS total, financial_status, CAST(updated_at AS VARCHAR) AS updated_at, _batch_id FROM "orders" ORDER BY source_id'
  )

describe("DuckDbWarehouse", () => {
  it.effect("loads a batch and reloading it changes nothing (idempotent)", () =>
    provide(
      Effect.gen(function* () {
        const w = yield* Warehouse
        const batch = [
          order("1", "2026-01-05T01:00:00Z"),
          order("2", "2026-01-05T02:00:00Z", { total: "12.345678901" })
        ]
        const first = yield* w.load("orders", batch)
        assert.deepStrictEqual([first.received, first.inserted, first.updated, first.unchanged], [2, 2, 0, 0])
        const before = yield* orderRows(w)
        const second = yield* w.load("orders", batch)
        assert.deepStrictEqual([second.inserted, second.updated, second.unchanged], [0, 0, 2])
        assert.deepStrictEqual(yield* orderRows(w), before)
        assert.strictEqual(before[1]?.total, "12.345678901", "money keeps 9 decimals exactly")
        const types = yield* w.query(
          "SELECT data_type FROM information_schema.columns WHERE table_name = 'orders' AND column_name IN ('total', 'tax_presentment')"
        )
        assert.deepStrictEqual(
          types.map((r) => r.data_type),
          ["DECIMAL(38,9)", "DECIMAL(38,9)"]
        )
      })
    )
  )

  it.effect("a newer update wins, a late older update is ignored, duplicates in a batch collapse", () =>
    provide(
      Effect.gen(function* () {
        const w = yield* Warehouse
        yield* w.load("orders", [order("1", "2026-01-05T01:00:00Z")])
        const newer = yield* w.load("orders", [
          order("1", "2026-01-05T03:00:00Z", { financial_status: "refunded" })
        ])
        assert.strictEqual(newer.updated, 1)
        const older = yield* w.load("orders", [
          order("1", "2026-01-05T02:00:00Z", { financial_status: "pending" })
        ])
        assert.deepStrictEqual([older.updated, older.unchanged], [0, 1])
        const rows = yield* orderRows(w)
        assert.strictEqual(rows[0]?.financial_status, "refunded")
        // Two versions of one order in one batch: the newest wins, whatever the order.
        yield* w.load("orders", [
          order("2", "2026-01-05T09:00:00Z", { financial_status: "paid" }),
          order("2", "2026-01-05T08:00:00Z", { financial_status: "pending" })
        ])
        const again = yield* orderRows(w)
        assert.strictEqual(again[1]?.financial_status, "paid")
      })
    )
  )

  it.effect("schema drift: a new field becomes a nullable column, a changed type goes to dead letters", () =>
    provide(
      Effect.gen(function* () {
        const w = yield* Warehouse
        yield* w.load("orders", [order("1", "2026-01-05T01:00:00Z")])
        const drift = yield* w.load("orders", [{ ...order("2", "2026-01-05T01:00:00Z"), loyalty_points: 12 }])
        assert.deepStrictEqual(drift.addedColumns, [{ name: "loyalty_points", type: "int" }])
        const cols = yield* w.query(
          "SELECT data_type, is_nullable FROM information_schema.columns WHERE table_name = 'orders' AND column_name = 'loyalty_points'"
        )
        assert.deepStrictEqual(cols, [{ data_type: "BIGINT", is_nullable: "YES" }])
        const pts = yield* w.query('SELECT source_id, loyalty_points FROM "orders" ORDER BY source_id')
        assert.deepStrictEqual(pts, [
          { source_id: "1", loyalty_points: null },
          { source_id: "2", loyalty_points: "12" }
        ])
        // The field changes type: that row is dead-lettered, the others still load.
        const changed = yield* w.load(
          "orders",
          [
            { ...order("3", "2026-01-05T01:00:00Z"), loyalty_points: { tier: "gold" } },
            order("4", "2026-01-05T01:00:00Z"),
            { ...order("5", "2026-01-05T01:00:00Z"), total: 12.3456789012345 }
          ],
          { origin: "lake/batch-7" }
        )
        assert.deepStrictEqual([changed.inserted, changed.deadLettered], [1, 2])
        const letters = yield* w.listDeadLetters({ reason: "type_changed" })
        assert.deepStrictEqual(
          letters.map((l) => [l.sourceId, l.key.stream, l.origin]),
          [
            ["3", "orders", "lake/batch-7"],
            ["5", "orders", "lake/batch-7"]
          ]
        )
        assert.match(letters[0]!.detail, /loyalty_points.*expected int but got an object/)
        assert.deepStrictEqual(JSON.parse(letters[0]!.payload).loyalty_points, { tier: "gold" })
        const ids = yield* w.query('SELECT source_id FROM "orders" ORDER BY source_id')
        assert.deepStrictEqual(
          ids.map((r) => r.source_id),
          ["1", "2", "4"]
        )
      })
    )
  )

  it.effect("a missing required field is dead-lettered; replay after the fix loads it", () =>
    provide(
      Effect.gen(function* () {
        const w = yield* Warehouse
        const bad = { ...order("9", "2026-01-05T01:00:00Z"), loyalty_points: "gold" }
        yield* w.load("orders", [{ ...order("1", "2026-01-05T01:00:00Z"), loyalty_points: 1 }])
        const r = yield* w.load("orders", [bad, { ...order("10", "2026-01-05T01:00:00Z"), channel: null }])
        assert.strictEqual(r.deadLettered, 2)
        const missing = yield* w.listDeadLetters({ reason: "missing_field" })
        assert.match(missing[0]!.detail, /required field "channel"/)
        // Still broken: replay fails and counts the attempt.
        const failed = yield* w.replayDeadLetters({ reason: "type_changed" })
        assert.deepStrictEqual(failed, { attempted: 1, replayed: 0, failed: 1 })
        // The operator widens the column; the replay now loads the row and marks the letter.
        yield* w.query('ALTER TABLE "orders" ALTER loyalty_points TYPE VARCHAR')
        const replayed = yield* w.replayDeadLetters({ reason: "type_changed" })
        assert.deepStrictEqual(replayed, { attempted: 1, replayed: 1, failed: 0 })
        const rows = yield* w.query("SELECT loyalty_points FROM \"orders\" WHERE source_id = '9'")
        assert.deepStrictEqual(rows, [{ loyalty_points: "gold" }])
        const all = yield* w.listDeadLetters({ includeReplayed: true, reason: "type_changed" })
        assert.strictEqual(all[0]!.attempts, 2)
        assert.isNotNull(all[0]!.replayedAt)
        assert.strictEqual((yield* w.listDeadLetters({ reason: "type_changed" })).length, 0)
      })
    )
  )

  it.effect("dead letters through the core DeadLetterSink, replayed with a handler", () =>
    Effect.gen(function* () {
      const sink = yield* DeadLetterSink
      yield* sink.write([
        {
          key,
          sourceId: "gid://shopify/Order/1",
          payload: '{"id":"gid://shopify/Order/1"}',
          reason: "decode",
          detail: "field totalPriceSet: expected object",
          origin: "source=shopify/…/b1.ndjson.gz",
          at: 1
        }
      ])
      const w = yield* Warehouse
      // An API payload cannot be replayed as a table row: without a handler it stays pending.
      assert.deepStrictEqual(yield* w.replayDeadLetters(), { attempted: 1, replayed: 0, failed: 1 })
      const seen: Array<string> = []
      const res = yield* w.replayDeadLetters({ key: { stream: "orders" } }, (l) =>
        Effect.sync(() => void seen.push(l.payload))
      )
      assert.deepStrictEqual(res, { attempted: 1, replayed: 1, failed: 0 })
      assert.deepStrictEqual(seen, ['{"id":"gid://shopify/Order/1"}'])
    }).pipe(Effect.provide(WarehouseStores.layer.pipe(Layer.provideMerge(DuckDbWarehouse.layerMemory))))
  )

  it.effect("soft deletes set _deleted_at and keep the row", () =>
    provide(
      Effect.gen(function* () {
        const w = yield* Warehouse
        yield* w.load("orders", [order("1", "2026-01-05T01:00:00Z"), order("2", "2026-01-05T01:00:00Z")])
        const n = yield* w.markDeleted(
          "orders",
          [{ source: "shopify", source_account: "kura-matcha.myshopify.com", source_id: "2" }],
          "2026-01-07T00:00:00Z"
        )
        assert.strictEqual(n, 1)
        const rows = yield* w.query(
          'SELECT source_id, CAST(_deleted_at AS VARCHAR) AS d FROM "orders" ORDER BY source_id'
        )
        assert.deepStrictEqual(rows, [
          { source_id: "1", d: null },
          { source_id: "2", d: "2026-01-07 00:00:00+00" }
        ])
      })
    )
  )

  it.effect("soft deletes each at its own time in one call: the first time listed for a key wins", () =>
    provide(
      Effect.gen(function* () {
        const w = yield* Warehouse
        yield* w.load(
          "orders",
          ["1", "2", "3", "4"].map((id) => order(id, "2026-01-05T01:00:00Z"))
        )
        const key = (id: string) => ({
          source: "shopify",
          source_account: "kura-matcha.myshopify.com",
          source_id: id
        })
        yield* w.markDeleted("orders", [key("4")], "2026-01-06T00:00:00Z")
        const n = yield* w.markDeletedEach("orders", [
          { key: key("2"), deletedAt: "2026-01-07T00:00:00Z" },
          { key: key("3"), deletedAt: "2026-01-08T09:30:00+09:00" },
          { key: key("2"), deletedAt: "2026-01-09T00:00:00Z" },
          // Already deleted: keeps its time.
          { key: key("4"), deletedAt: "2026-01-10T00:00:00Z" },
          // Not stored: nothing to mark.
          { key: key("9"), deletedAt: "2026-01-10T00:00:00Z" }
        ])
        assert.strictEqual(n, 2)
        const rows = yield* w.query(
          'SELECT source_id, CAST(_deleted_at AS VARCHAR) AS d FROM "orders" ORDER BY source_id'
        )
        assert.deepStrictEqual(rows, [
          { source_id: "1", d: null },
          { source_id: "2", d: "2026-01-07 00:00:00+00" },
          { source_id: "3", d: "2026-01-08 00:30:00+00" },
          { source_id: "4", d: "2026-01-06 00:00:00+00" }
        ])
        const bad = yield* Effect.flip(
          w.markDeletedEach("orders", [{ key: key("1"), deletedAt: "yesterday" }])
        )
        assert.include(bad.message, "deletedAt must be an ISO-8601 timestamp")
      })
    )
  )

  it.effect("leases: racing acquire/release never dies and never has two holders", () =>
    provide(
      Effect.gen(function* () {
        const w = yield* Warehouse
        let holders = 0
        let maxHolders = 0
        let acquired = 0
        const runner = (name: string) =>
          Effect.forEach(
            Array.from({ length: 15 }, (_, i) => i),
            () =>
              Effect.exit(w.acquireLease(key, name, 60_000)).pipe(
                Effect.flatMap((exit) => {
                  if (Exit.isFailure(exit)) return Effect.void
                  acquired++
                  holders++
                  maxHolders = Math.max(maxHolders, holders)
                  return Effect.yieldNow.pipe(
                    Effect.andThen(
                      Effect.sync(() => {
                        holders--
                      })
                    ),
                    Effect.andThen(w.releaseLease(exit.value))
                  )
                })
              ),
            { discard: true }
          )
        // A defect (e.g. formatting an absent expiry) would fail this effect, not just one acquire.
        yield* Effect.all(
          ["a", "b", "c", "d", "e", "f"].map((n) => runner(`runner-${n}`)),
          { concurrency: "unbounded", discard: true }
        )
        assert.isAtMost(maxHolders, 1)
        assert.isAbove(acquired, 0)
      })
    )
  )

  it.effect("leases: one holder at a time, expiry, renew and release", () =>
    provide(
      Effect.gen(function* () {
        const w = yield* Warehouse
        const a = yield* w.acquireLease(key, "runner-a", 60_000)
        const b = yield* Effect.exit(w.acquireLease(key, "runner-b", 60_000))
        assert.isTrue(Exit.isFailure(b))
        const err = yield* Effect.flip(w.acquireLease(key, "runner-b", 60_000))
        assert.strictEqual(err._tag, "LeaseError")
        if (err._tag === "LeaseError") assert.deepStrictEqual([err.reason, err.holder], ["held", "runner-a"])
        // The holder may re-acquire and renew.
        yield* w.acquireLease(key, "runner-a", 60_000)
        yield* TestClock.adjust("30 seconds")
        const renewed = yield* w.renewLease(a, 60_000)
        assert.strictEqual(renewed.expiresAt, a.expiresAt + 30_000)
        // After expiry another runner takes over, and the first loses its lease.
        yield* TestClock.adjust("61 seconds")
        const b2 = yield* w.acquireLease(key, "runner-b", 60_000)
        const lost = yield* Effect.flip(w.renewLease(renewed, 60_000))
        assert.strictEqual(lost._tag === "LeaseError" ? lost.reason : lost._tag, "lost")
        // Releasing someone else's lease does nothing; releasing our own frees the stream.
        yield* w.releaseLease(renewed)
        assert.isTrue(Exit.isFailure(yield* Effect.exit(w.acquireLease(key, "runner-c", 1_000))))
        yield* w.releaseLease(b2)
        const c = yield* w.acquireLease(key, "runner-c", 1_000)
        assert.strictEqual(c.holder, "runner-c")
        // Leases on other streams are independent.
        yield* w.acquireLease({ ...key, stream: "products" }, "runner-a", 1_000)
      })
    )
  )

  it.effect("leases for a pass: one write takes free streams, refuses held ones, and releases together", () =>
    provide(
      Effect.gen(function* () {
        const w = yield* Warehouse
        const products = { ...key, stream: "products" }
        const customers = { ...key, stream: "customers" }
        yield* w.acquireLease(products, "other-runner", 60_000)
        const got = yield* w.acquireLeases(
          [
            { key, holder: "pass-1" },
            { key: products, holder: "pass-2" },
            { key: customers, holder: "pass-3" }
          ],
          60_000
        )
        assert.deepStrictEqual(
          got.map((r) => (Result.isSuccess(r) ? r.success.holder : `held by ${r.failure.holder}`)),
          ["pass-1", "held by other-runner", "pass-3"]
        )
        // Exclusion is the same as one at a time: nobody else gets the granted streams.
        assert.isTrue(Exit.isFailure(yield* Effect.exit(w.acquireLease(key, "intruder", 60_000))))
        assert.isTrue(Exit.isFailure(yield* Effect.exit(w.acquireLease(customers, "intruder", 60_000))))
        const mine = got.flatMap((r) => (Result.isSuccess(r) ? [r.success] : []))
        // Releasing someone else's lease in the batch does nothing.
        yield* w.releaseLeases([...mine, { streamKey: "shopify/x/products", holder: "pass-2", expiresAt: 0 }])
        assert.strictEqual((yield* w.acquireLease(key, "next", 60_000)).holder, "next")
        assert.strictEqual((yield* w.acquireLease(customers, "next", 60_000)).holder, "next")
        const still = yield* Effect.flip(w.acquireLease(products, "next", 60_000))
        assert.strictEqual(still._tag === "LeaseError" ? still.holder : still._tag, "other-runner")
        // An expired lease is taken over in a batch too; a key twice in one call is refused.
        yield* TestClock.adjust("61 seconds")
        const later = yield* w.acquireLeases([{ key: products, holder: "pass-4" }], 1_000)
        assert.isTrue(Result.isSuccess(later[0]!))
        const twice = yield* Effect.flip(
          w.acquireLeases(
            [
              { key, holder: "a" },
              { key, holder: "b" }
            ],
            1_000
          )
        )
        assert.strictEqual(twice._tag === "WarehouseError" ? twice.reason : twice._tag, "InvalidInput")
        assert.deepStrictEqual(yield* w.acquireLeases([], 1_000), [])
      })
    )
  )

  it.effect("a pass takes free leases in one statement; the holders of held ones are read after it", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const engine = yield* makeDuckDbEngine(":memory:")
        // The statements on _kura_leases, counted as they run.
        let statements = 0
        const count =
          <A, E>(run: (sql: string, params?: Record<string, string | null>) => Effect.Effect<A, E>) =>
          (sql: string, params?: Record<string, string | null>) =>
            Effect.suspend(() => {
              if (sql.includes("_kura_leases")) statements++
              return run(sql, params)
            })
        const w = makeWarehouse({ ...engine, run: count(engine.run), query: count(engine.query) })
        yield* w.migrate
        const streams = ["orders", "products", "customers"].map((stream) => ({ ...key, stream }))
        const taken = (n: number) => (r: (typeof got)[number]) => (Result.isSuccess(r) ? r.success.holder : n)
        statements = 0
        const got = yield* w.acquireLeases(
          streams.map((k) => ({ key: k, holder: "pass-1" })),
          60_000
        )
        assert.deepStrictEqual(got.map(taken(0)), ["pass-1", "pass-1", "pass-1"])
        assert.strictEqual(statements, 1)
        yield* w.releaseLeases(got.flatMap((r) => (Result.isSuccess(r) ? [r.success] : [])).slice(0, 2))
        statements = 0
        const again = yield* w.acquireLeases(
          streams.map((k) => ({ key: k, holder: "pass-2" })),
          60_000
        )
        assert.deepStrictEqual(
          again.map((r) => (Result.isSuccess(r) ? r.success.holder : `held by ${r.failure.holder}`)),
          ["pass-2", "pass-2", "held by pass-1"]
        )
        assert.strictEqual(statements, 2)
      })
    )
  )

  it.effect(
    "a pass's checkpoints in one read, its runs' costs in one write, a commit told what it opened",
    () =>
      provide(
        Effect.gen(function* () {
          const w = yield* Warehouse
          const products = { ...key, stream: "products" }
          yield* w.checkpoints.put({ key, cursor: "c-orders", updatedAt: 5, meta: { a: 1 } })
          yield* w.checkpoints.put({ key: products, cursor: "c-products", updatedAt: 6 })
          const read = yield* w.checkpointsOf([key, products, { ...key, stream: "never-ran" }])
          assert.deepStrictEqual([...read.entries()].map(([id, c]) => [id, c.cursor, c.meta]).sort(), [
            ["shopify/kura-matcha.myshopify.com/orders", "c-orders", { a: 1 }],
            ["shopify/kura-matcha.myshopify.com/products", "c-products", undefined]
          ])
          assert.strictEqual((yield* w.checkpointsOf([])).size, 0)
          // A commit given the opened entry writes the same ledger row as one that reads it back.
          const opened = yield* w.startRun({ runId: "r1", key, cursorBefore: "c-orders" })
          yield* TestClock.adjust("2 seconds")
          const commit = {
            key,
            cursorAfter: "c2",
            reportedCount: 3,
            reportedTotal: null,
            rowsFetched: 3,
            rowsLoaded: 3,
            loadedTotal: null
          }
          const result = yield* w.commitRun({
            ...commit,
            runId: "r1",
            opened: { startedAt: opened.startedAt, cursorBefore: opened.cursorBefore }
          })
          assert.strictEqual(result.status, "complete")
          yield* w.startRun({ runId: "r2", key: products })
          yield* w.commitRun({ ...commit, key: products, runId: "r2" })
          const usage = {
            calls: 2,
            costRequested: 10,
            costActual: 4,
            throttled: 0,
            throttleWaits: 0,
            throttleWaitSeconds: 0,
            retries: 0
          }
          yield* w.recordRunUsages([
            { runId: "r1", key, usage },
            { runId: "r2", key: products, usage: { ...usage, calls: 7 } },
            // No ledger row: skipped, never inserted.
            { runId: "nope", key, usage }
          ])
          yield* w.recordRunUsages([])
          const runs = yield* w.listRuns()
          assert.deepStrictEqual(
            runs.map((r) => [
              r.runId,
              r.status,
              r.cursorBefore,
              r.cursorAfter,
              r.startedAt,
              r.apiUsage?.calls
            ]),
            [
              ["r1", "complete", "c-orders", "c2", opened.startedAt, 2],
              ["r2", "complete", "c-products", "c2", runs[1]!.startedAt, 7]
            ]
          )
          assert.strictEqual(Option.getOrThrow(yield* w.checkpoints.get(key)).cursor, "c2")
          // A pass's entries opened in one write, each with its own starting cursor.
          const next = yield* w.startRuns([
            { runId: "r3", key, cursorBefore: "c2" },
            // Opened while it already runs: the time its runner gave it is kept.
            { runId: "r4", key: products, cursorBefore: null, startedAt: 1_700_000_000_000 }
          ])
          assert.deepStrictEqual(
            next.map((r) => [r.runId, r.status, r.cursorBefore]),
            [
              ["r3", "running", "c2"],
              ["r4", "running", null]
            ]
          )
          assert.strictEqual(next[1]?.startedAt, 1_700_000_000_000)
          assert.deepStrictEqual(
            (yield* w.listRuns())
              .filter((r) => r.status === "running")
              .map((r) => [r.runId, r.cursorBefore, r.runId === "r4" ? r.startedAt : null]),
            [
              ["r3", "c2", null],
              ["r4", null, 1_700_000_000_000]
            ]
          )
          assert.deepStrictEqual(yield* w.startRuns([]), [])
          // Runs that fetched nothing commit together; a mismatch in the batch keeps its cursor.
          const outcomes = yield* w.commitRuns([
            {
              ...commit,
              runId: "r3",
              key,
              cursorAfter: "c3",
              reportedCount: 0,
              rowsFetched: 0,
              rowsLoaded: 0,
              opened: { startedAt: next[0]!.startedAt, cursorBefore: "c2" }
            },
            {
              ...commit,
              runId: "r4",
              key: products,
              cursorAfter: "never",
              reportedCount: 2,
              rowsFetched: 0,
              rowsLoaded: 0,
              opened: { startedAt: next[1]!.startedAt, cursorBefore: null }
            }
          ])
          assert.deepStrictEqual(
            outcomes.map((o) => o.status),
            ["complete", "incomplete"]
          )
          const after = yield* w.listRuns()
          assert.deepStrictEqual(
            after
              .filter((r) => r.runId === "r3" || r.runId === "r4")
              .map((r) => [r.runId, r.status, r.cursorBefore, r.cursorAfter]),
            [
              ["r3", "complete", "c2", "c3"],
              ["r4", "incomplete", null, "never"]
            ]
          )
          assert.strictEqual(Option.getOrThrow(yield* w.checkpoints.get(key)).cursor, "c3")
          assert.strictEqual(Option.getOrThrow(yield* w.checkpoints.get(products)).cursor, "c2")
          assert.deepStrictEqual(yield* w.commitRuns([]), [])
        })
      )
  )

  it.effect("state ports round-trip through _kura_sync_state", () =>
    Effect.gen(function* () {
      const cp = yield* CheckpointStore
      const jobs = yield* BulkJobStore
      assert.isTrue(Option.isNone(yield* cp.get(key)))
      yield* cp.put({ key, cursor: "2026-01-05T00:00:00Z", updatedAt: 10, meta: { window: [1, 2] } })
      yield* cp.put({ key, cursor: "2026-01-06T00:00:00Z", updatedAt: 20 })
      yield* cp.put({
        key: { ...key, source: "stocky", stream: "purchase_orders" },
        cursor: "42",
        updatedAt: 5
      })
      const got = yield* cp.get(key)
      assert.deepStrictEqual(Option.getOrNull(got), { key, cursor: "2026-01-06T00:00:00Z", updatedAt: 20 })
      assert.strictEqual((yield* cp.list({ source: "shopify" })).length, 1)
      assert.strictEqual((yield* cp.list()).length, 2)
      yield* cp.delete(key)
      assert.isTrue(Option.isNone(yield* cp.get(key)))

      const job = {
        jobId: "gid://shopify/BulkOperation/1",
        key,
        windowStart: "2026-01-01T00:00:00Z",
        windowEnd: "2026-01-02T00:00:00Z",
        state: "started" as const,
        remoteStatus: "RUNNING",
        objectCount: null,
        createdAt: 1,
        updatedAt: 1
      }
      yield* jobs.put(job)
      yield* jobs.put({ ...job, jobId: "gid://shopify/BulkOperation/2", state: "loaded", objectCount: "10" })
      assert.deepStrictEqual(Option.getOrNull(yield* jobs.get(job.jobId)), job)
      assert.deepStrictEqual(
        (yield* jobs.listOpen(key)).map((j) => j.jobId),
        [job.jobId]
      )
      yield* jobs.put({
        ...job,
        state: "completed",
        remoteStatus: "COMPLETED",
        objectCount: "3",
        updatedAt: 2
      })
      assert.strictEqual((yield* jobs.list(key)).length, 2)
      assert.strictEqual(Option.getOrThrow(yield* jobs.get(job.jobId)).objectCount, "3")
      assert.strictEqual((yield* jobs.listOpen({ ...key, stream: "products" })).length, 0)
    }).pipe(Effect.provide(WarehouseStores.layer.pipe(Layer.provide(DuckDbWarehouse.layerMemory))))
  )

  it.effect("commitRun advances the cursor only when the API's count and total match what was loaded", () =>
    provide(
      Effect.gen(function* () {
        const w = yield* Warehouse
        yield* w.checkpoints.put({ key, cursor: "c0", updatedAt: 0 })
        const run = yield* w.startRun({ runId: "run-1", key })
        assert.strictEqual(run.cursorBefore, "c0")
        const bad = yield* w.commitRun({
          runId: "run-1",
          key,
          cursorAfter: "c1",
          reportedCount: 10,
          reportedTotal: "1000.50",
          rowsFetched: 10,
          rowsLoaded: 9,
          loadedTotal: "900.5"
        })
        assert.deepStrictEqual(
          [bad.status, bad.cursorAdvanced, bad.mismatches.length],
          ["incomplete", false, 2]
        )
        assert.strictEqual(Option.getOrThrow(yield* w.checkpoints.get(key)).cursor, "c0")
        yield* w.startRun({ runId: "run-2", key })
        const good = yield* w.commitRun({
          runId: "run-2",
          key,
          cursorAfter: "c2",
          reportedCount: 10,
          reportedTotal: "1000.50",
          rowsFetched: 10,
          rowsLoaded: 10,
          loadedTotal: "1000.5"
        })
        assert.deepStrictEqual([good.status, good.cursorAdvanced], ["complete", true])
        assert.strictEqual(Option.getOrThrow(yield* w.checkpoints.get(key)).cursor, "c2")
        yield* w.startRun({ runId: "run-3", key })
        yield* w.failRun("run-3", key, "HTTP 500 from Shopify")
        const runs = yield* w.listRuns(key)
        assert.deepStrictEqual(
          runs.map((r) => [r.runId, r.status, r.cursorBefore, r.cursorAfter]),
          [
            ["run-1", "incomplete", "c0", "c1"],
            ["run-2", "complete", "c0", "c2"],
            ["run-3", "failed", "c2", null]
          ]
        )
        const report = yield* w.reconcile
        assert.deepStrictEqual(
          report.incompleteRuns.map((r) => [
            r.runId,
            r.countMatches,
            r.totalMatches,
            r.reportedTotal,
            r.loadedTotal
          ]),
          [["run-1", false, false, "1000.5", "900.5"]]
        )
        const bogus = yield* Effect.flip(
          w.commitRun({
            runId: "x",
            key,
            cursorAfter: "c",
            reportedCount: null,
            reportedTotal: "1,000",
            rowsFetched: 0,
            rowsLoaded: 0,
            loadedTotal: null
          })
        )
        assert.match(bogus.message, /reportedTotal must be a decimal string/)
      })
    )
  )

  it.effect("reconciliation views on a small hand-built dataset", () =>
    provide(
      Effect.gen(function* () {
        const w = yield* Warehouse
        yield* w.load("orders", [
          order("1", "2026-01-05T01:00:00Z"),
          order("2", "2026-01-05T01:00:00Z", { total: "550.25", tax: "50.025" }),
          order("3", "2026-01-05T01:00:00Z", { cancelled_at: "2026-01-05T02:00:00Z" }),
          order("4", "2026-01-05T01:00:00Z", { channel: "pos", location_id: "store-1" })
        ])
        yield* w.load("order_lines", [
          line("l1", "1", 2),
          line("l2", "1", 1),
          line("l3", "2", 4),
          line("l4", "3", 9)
        ])
        yield* w.load("refunds", [refund("r1", "1", "300", "2026-01-06")])
        const report0 = yield* w.reconcile
        assert.deepStrictEqual(
          report0.dailySales.map((r) => [
            r.businessDate,
            r.channel,
            r.locationId,
            r.revenue,
            r.orders,
            r.units,
            r.tax,
            r.refunds,
            r.netRevenue
          ]),
          [
            ["2026-01-05", "online", "loc-1", "1650.25", 2, 7, "150.025", "0", "1650.25"],
            ["2026-01-05", "pos", "store-1", "1100", 1, 0, "100", "0", "1100"],
            ["2026-01-06", "online", "loc-1", "0", 0, 0, "0", "300", "-300"]
          ]
        )

        yield* w.load("inventory_levels", [
          level("A", "loc-1", "2026-01-01T23:00:00Z", 10),
          level("A", "loc-1", "2026-01-02T23:00:00Z", 7),
          level("A", "loc-1", "2026-01-03T23:00:00Z", 4),
          level("B", "loc-1", "2026-01-01T23:00:00Z", 5),
          level("B", "loc-1", "2026-01-02T12:00:00Z", 99),
          level("B", "loc-1", "2026-01-02T23:00:00Z", 8)
        ])
        yield* w.load("inventory_movements", [
          movement("m1", "A", "loc-1", "sale", -2, "2026-01-02T10:00:00Z"),
          movement("m2", "A", "loc-1", "sale", -1, "2026-01-02T11:00:00Z"),
          movement("m3", "A", "loc-1", "sale", -1, "2026-01-03T10:00:00Z"),
          movement("m4", "B", "loc-1", "receipt", 5, "2026-01-02T10:00:00Z"),
          movement("m5", "A", "loc-1", "sale", -5, "2026-01-01T10:00:00Z")
        ])
        const report = yield* w.reconcile
        assert.deepStrictEqual(
          report.inventory.map((r) => [
            r.sku,
            r.snapshotDate,
            r.previousQuantity,
            r.netMovement,
            r.expectedQuantity,
            r.observedQuantity,
            r.discrepancy,
            r.status
          ]),
          [
            ["A", "2026-01-01", null, 0, null, 10, null, "baseline"],
            ["A", "2026-01-02", 10, -3, 7, 7, 0, "reconciled"],
            ["A", "2026-01-03", 7, -1, 6, 4, -2, "discrepancy"],
            ["B", "2026-01-01", null, 0, null, 5, null, "baseline"],
            ["B", "2026-01-02", 5, 5, 10, 8, -2, "discrepancy"]
          ]
        )
        assert.match(report.inventoryDiscrepancies[0]!.likelyCause ?? "", /missing_outflow/)
        assert.strictEqual(report.inventoryAccuracy, 0)
        // A count correction explains SKU A's loss: it now reconciles, accuracy is 1/2.
        yield* w.load("inventory_movements", [
          movement("m6", "A", "loc-1", "count_correction", -2, "2026-01-03T12:00:00Z")
        ])
        const after = yield* w.reconcile
        assert.strictEqual(after.inventoryAccuracy, 0.5)
      })
    )
  )

  it.effect("rejects unknown tables at runtime and applies DuckDB settings", () =>
    Effect.gen(function* () {
      const w = yield* Warehouse
      const err = yield* Effect.flip(w.load("_kura_leases" as "orders", [{ a: 1 }]))
      assert.strictEqual(err.reason, "InvalidInput")
      assert.match(err.message, /"_kura_leases" is not a loadable table/)
      const threads = yield* w.query("SELECT current_setting('threads')::INTEGER AS t")
      assert.deepStrictEqual(threads, [{ t: 1 }])
    }).pipe(Effect.provide(DuckDbWarehouse.layer({ path: ":memory:", config: { threads: "1" } })))
  )

  it.effect(
    "timestamps: offsets and nanoseconds load, impossible dates are dead-lettered instead of failing the batch",
    () =>
      provide(
        Effect.gen(function* () {
          const w = yield* Warehouse
          const r = yield* w.load("orders", [
            order("1", "2026-01-05T10:00:00+09:00"),
            order("2", "2026-01-05T01:00:00.123456789Z"),
            order("3", "2026-02-30T00:00:00Z"),
            order("4", "2026-01-05T01:00:00Z", { business_date: "2026-13-01" })
          ])
          assert.deepStrictEqual([r.inserted, r.deadLettered], [2, 2])
          const rows = yield* w.query(
            'SELECT source_id, CAST(updated_at AS VARCHAR) AS u FROM "orders" ORDER BY source_id'
          )
          assert.deepStrictEqual(rows, [
            { source_id: "1", u: "2026-01-05 01:00:00+00" },
            { source_id: "2", u: "2026-01-05 01:00:00.123+00" }
          ])
        })
      )
  )

  it.effect(
    "a newer version without a field clears it (columns all-NULL in a batch are not staged but still merged)",
    () =>
      provide(
        Effect.gen(function* () {
          const w = yield* Warehouse
          yield* w.load("orders", [
            order("1", "2026-01-05T01:00:00Z", { fulfillment_status: "fulfilled", customer_id: "c1" })
          ])
          yield* w.load("orders", [
            order("1", "2026-01-05T02:00:00Z", { fulfillment_status: null, customer_id: "c1" })
          ])
          const rows = yield* w.query('SELECT fulfillment_status, customer_id FROM "orders"')
          assert.deepStrictEqual(rows, [{ fulfillment_status: null, customer_id: "c1" }])
        })
      )
  )

  it.effect("state survives closing and reopening a DuckDB file (resume after a crash)", () =>
    Effect.acquireUseRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "kura-duck-"))),
      (dir) =>
        Effect.gen(function* () {
          const layer = DuckDbWarehouse.layer({ path: join(dir, "kura.duckdb") })
          yield* Effect.provide(
            Effect.gen(function* () {
              const w = yield* Warehouse
              yield* w.checkpoints.put({ key, cursor: "c-42", updatedAt: 42 })
              yield* w.load("orders", [order("1", "2026-01-05T01:00:00Z")])
            }),
            layer
          )
          const after = yield* Effect.provide(
            Effect.gen(function* () {
              const w = yield* Warehouse
              const cp = yield* w.checkpoints.get(key)
              const again = yield* w.load("orders", [order("1", "2026-01-05T01:00:00Z")])
              return { cursor: Option.getOrThrow(cp).cursor, unchanged: again.unchanged }
            }),
            layer
          )
          assert.deepStrictEqual(after, { cursor: "c-42", unchanged: 1 })
        }),
      (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
    )
  )
})
