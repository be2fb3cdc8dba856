/**
 * DuckDB can run the warehouse on a small pool of connections (`connections: 2`), so loads of
 * different streams land at once. What must not change: the tables end exactly as if the loads
 * had run one after another, a temporary staging table stays with its connection, `serialize`
 * still runs alone, and a write conflict between connections is retried, not reported as a failed
 * load.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import type { LoadRow, Warehouse } from "../src/index.js"
import { makeDuckDbEngine } from "../src/internal/duckdbEngine.js"
import { makeWarehouse } from "../src/internal/makeWarehouse.js"
import { line, order } from "./fixtures.js"

type Load = { readonly table: "orders" | "order_lines"; readonly rows: ReadonlyArray<LoadRow> }

const ids = (from: number, count: number) => Array.from({ length: count }, (_, i) => String(from + i))

/**
 * Two streams' pages as a pass lands them: Shopify and Lightspeed orders (the same ids, different
 * sources), big pages (staged) and small ones (written into the MERGE), new rows and newer
 * versions of rows an earlier page wrote, and lines; one page repeats another's keys with older
 * versions, which must lose whichever lands first.
 */
const pages = (): ReadonlyArray<ReadonlyArray<Load>> => {
  const shopify = (id: string, at: string, total = "1100") => order(id, at, { total })
  const pos = (id: string, at: string, total = "900") => ({
    ...order(id, at, { total, channel: "pos" }),
    source: "lightspeed",
    source_account: "default"
  })
  const streamA: Array<Load> = [
    { table: "orders", rows: ids(1, 300).map((id) => shopify(id, "2026-01-05T01:00:00Z")) },
    { table: "order_lines", rows: ids(1, 300).map((id) => line(`l${id}`, id, 2)) },
    { table: "orders", rows: ids(1, 40).map((id) => shopify(id, "2026-01-06T01:00:00Z", "1200")) },
    { table: "orders", rows: ids(301, 5).map((id) => shopify(id, "2026-01-06T02:00:00Z")) }
  ]
  const streamB: Array<Load> = [
    { table: "orders", rows: ids(1, 250).map((id) => pos(id, "2026-01-05T03:00:00Z")) },
    { table: "orders", rows: ids(1, 20).map((id) => shopify(id, "2026-01-04T01:00:00Z", "1")) },
    {
      table: "order_lines",
      rows: ids(1, 250).map((id) => ({ ...line(`p${id}`, id, 1), source: "lightspeed" }))
    },
    { table: "orders", rows: ids(200, 80).map((id) => pos(id, "2026-01-07T03:00:00Z", "950")) }
  ]
  return [streamA, streamB]
}

const snapshot = (w: Warehouse["Service"]) =>
  Effect.gen(function* () {
    const orders = yield* w.query(
      'SELECT source, source_id, CAST(total AS VARCHAR) AS total, CAST(updated_at AS VARCHAR) AS updated_at, channel FROM "orders" ORDER BY source, source_id'
    )
    const lines = yield* w.query(
      'SELECT source, source_id, order_id, quantity FROM "order_lines" ORDER BY source, source_id'
    )
    const duplicates = yield* w.query(
      'SELECT source, source_account, source_id FROM "orders" GROUP BY ALL HAVING COUNT(*) > 1 UNION ALL SELECT source, source_account, source_id FROM "order_lines" GROUP BY ALL HAVING COUNT(*) > 1'
    )
    return { orders, lines, duplicates }
  })

/** A fresh in-memory warehouse on two connections (they share the one database). */
const inDatabase = <A, E>(use: (w: Warehouse["Service"]) => Effect.Effect<A, E>) =>
  Effect.scoped(
    Effect.gen(function* () {
      const w = makeWarehouse(yield* makeDuckDbEngine(":memory:", undefined, { connections: 2 }))
      yield* w.migrate
      return yield* use(w)
    })
  )

describe("concurrent loads (DuckDB connection pool)", () => {
  it.live("two streams loading orders at once leave the tables a sequential load leaves", () =>
    Effect.gen(function* () {
      const streams = pages()
      const sequential = yield* inDatabase((w) =>
        Effect.andThen(
          Effect.forEach(streams.flat(), (p) => w.load(p.table, p.rows), { discard: true }),
          snapshot(w)
        )
      )
      for (let round = 0; round < 4; round++) {
        const concurrent = yield* inDatabase((w) =>
          Effect.andThen(
            Effect.forEach(
              streams,
              (stream) => Effect.forEach(stream, (p) => w.load(p.table, p.rows), { discard: true }),
              { concurrency: "unbounded", discard: true }
            ),
            snapshot(w)
          )
        )
        assert.deepStrictEqual(concurrent.duplicates, [], "no key stored twice")
        assert.strictEqual(concurrent.orders.length, 305 + 279)
        assert.deepStrictEqual(concurrent, sequential)
      }
      // The newer version won whichever page landed first.
      const first = sequential.orders.find((r) => r.source === "shopify" && r.source_id === "1")
      assert.strictEqual(first?.total, "1200.000000000")
    })
  )

  it.live("a span holds its connection while other calls run beside it; serialize waits for it", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const engine = yield* makeDuckDbEngine(":memory:", undefined, { connections: 2 })
        yield* engine.run("CREATE TABLE t (k VARCHAR, v VARCHAR)")
        const pinned = engine.pinned
        assert.isDefined(pinned)
        if (pinned === undefined) return
        const release = yield* Deferred.make<void>()
        const inside = yield* Deferred.make<void>()
        // A staging table made in the span is seen by the span's later statements (one connection).
        const span = yield* Effect.forkChild(
          pinned(
            Effect.gen(function* () {
              yield* engine.stage("_kura_stg_t", [{ name: "k", type: "string", nullable: true }], [["a"]])
              yield* Deferred.succeed(inside, undefined)
              yield* Deferred.await(release)
              return yield* engine.query('SELECT k FROM "_kura_stg_t"')
            })
          )
        )
        yield* Deferred.await(inside)
        // Another statement runs while the span holds its connection.
        yield* engine.run("INSERT INTO t VALUES ('x', '1')")
        assert.deepStrictEqual(yield* engine.query("SELECT k, v FROM t"), [{ k: "x", v: "1" }])
        // serialize needs every connection: it cannot start before the span ends.
        let ranAlone = false
        const alone = yield* Effect.forkChild(engine.serialize(Effect.sync(() => (ranAlone = true))))
        yield* Effect.sleep("100 millis")
        assert.isFalse(ranAlone, "serialize ran while a span held a connection")
        yield* Deferred.succeed(release, undefined)
        assert.deepStrictEqual(yield* Fiber.join(span), [{ k: "a" }])
        yield* Fiber.join(alone)
        assert.isTrue(ranAlone)
      })
    )
  )

  it.live(
    "serialize waiting for a span goes before spans asked for after it, instead of being overtaken",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const engine = yield* makeDuckDbEngine(":memory:", undefined, { connections: 2 })
          const pinned = engine.pinned
          if (pinned === undefined) return assert.fail("the DuckDB engine pins spans")
          const order: Array<string> = []
          const inA = yield* Deferred.make<void>()
          const releaseA = yield* Deferred.make<void>()
          const a = yield* Effect.forkChild(
            pinned(Effect.andThen(Deferred.succeed(inA, undefined), Deferred.await(releaseA)))
          )
          yield* Deferred.await(inA)
          // Span A holds one connection; serialize (every connection) waits for it...
          const alone = yield* Effect.forkChild(
            engine.serialize(Effect.sync(() => void order.push("serialize"))),
            { startImmediately: true }
          )
          // ...and a span asked for after it waits too, though a connection is free: were it let
          // in, serialize would wait for it as well, and a steady stream of loads (an incremental
          // pass's two chains) could keep a lease renewal or a bulk load waiting for good.
          const b = yield* Effect.forkChild(pinned(Effect.sync(() => void order.push("span B"))), {
            startImmediately: true
          })
          yield* Deferred.succeed(releaseA, undefined)
          yield* Fiber.join(a)
          yield* Fiber.join(alone)
          yield* Fiber.join(b)
          assert.deepStrictEqual(order, ["serialize", "span B"])
        })
      )
  )

  it.live("a write that conflicts with another connection's open transaction is retried, then reported", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const engine = yield* makeDuckDbEngine(":memory:", undefined, { connections: 2 })
        const pinned = engine.pinned
        if (pinned === undefined) return assert.fail("the DuckDB engine pins spans")
        yield* engine.run("CREATE TABLE t (k VARCHAR, v VARCHAR)")
        yield* engine.run("INSERT INTO t VALUES ('x', '0')")
        const release = yield* Deferred.make<void>()
        const open = yield* Deferred.make<void>()
        // A transaction on one connection edits row x and stays open...
        const holder = yield* Effect.forkChild(
          pinned(
            Effect.gen(function* () {
              yield* engine.run("BEGIN TRANSACTION")
              yield* engine.run("UPDATE t SET v = 'held' WHERE k = 'x'")
              yield* Deferred.succeed(open, undefined)
              yield* Deferred.await(release)
              yield* engine.run("COMMIT")
            })
          )
        )
        yield* Deferred.await(open)
        // ...so an edit of the same row on the other connection conflicts every time: retried
        // (with its back-off, ≥ 1.27 s in all) before the conflict is reported.
        const started = Date.now()
        const failed = yield* Effect.flip(engine.run("UPDATE t SET v = 'other' WHERE k = 'x'"))
        assert.isAtLeast(Date.now() - started, 1_200)
        assert.match(failed.message, /conflict/i)
        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(holder)
        // Once the transaction has committed, the same edit lands.
        yield* engine.run("UPDATE t SET v = 'other' WHERE k = 'x'")
        assert.deepStrictEqual(yield* engine.query("SELECT k, v FROM t"), [{ k: "x", v: "other" }])
      })
    )
  )
})
