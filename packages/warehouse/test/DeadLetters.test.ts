import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { DuckDbWarehouse, Warehouse } from "../src/index.js"
import { withBigQuery } from "./withBigQuery.js"

const orders = { source: "shopify", account: "kura-matcha.myshopify.com", stream: "orders" }
const sales = { source: "lightspeed", account: "kura-ginza", stream: "sales" }

const letter = (key: typeof orders, sourceId: string, at: number, reason = "decode") => ({
  key,
  sourceId,
  payload: JSON.stringify({ id: sourceId }),
  reason,
  detail: `field createdAt of ${sourceId}: expected an ISO time`,
  origin: "test",
  at
})

/**
 * The same selection and bookkeeping on either engine: ids and since narrow the listing and the
 * replay; `markDeadLetters` counts attempts and sets `replayed_at` only on pending letters.
 */
const exercise = Effect.gen(function* () {
  const w = yield* Warehouse
  yield* w.deadLetters.write([
    letter(orders, "1", 1_000),
    letter(orders, "2", 2_000),
    letter(orders, "3", 3_000, "map"),
    letter(sales, "9", 4_000)
  ])
  const all = yield* w.listDeadLetters()
  assert.strictEqual(all.length, 4)
  const idOf = (sourceId: string) => all.find((l) => l.sourceId === sourceId)?.id ?? "missing"

  // ids and since narrow the selection, alone and with the other fields.
  assert.deepStrictEqual(
    (yield* w.listDeadLetters({ ids: [idOf("2"), idOf("9"), idOf("2")] })).map((l) => l.sourceId),
    ["2", "9"]
  )
  assert.deepStrictEqual(yield* w.listDeadLetters({ ids: [] }), [])
  assert.deepStrictEqual(
    (yield* w.listDeadLetters({ since: 2_000 })).map((l) => l.sourceId),
    ["2", "3", "9"]
  )
  assert.deepStrictEqual(
    (yield* w.listDeadLetters({ since: 2_000, key: { source: "shopify" }, reason: "decode" })).map(
      (l) => l.sourceId
    ),
    ["2"]
  )
  const bad = yield* Effect.exit(w.listDeadLetters({ since: Number.NaN }))
  assert.isTrue(Exit.isFailure(bad))

  // The caller's own replay outcome: one failed attempt, then a success.
  assert.strictEqual(yield* w.markDeadLetters([idOf("1")], "failed"), 1)
  assert.strictEqual(yield* w.markDeadLetters([idOf("1"), idOf("2")], "replayed", 5_000), 2)
  // Already replayed: left alone (no second attempt, replayed_at kept).
  assert.strictEqual(yield* w.markDeadLetters([idOf("1")], "replayed", 6_000), 0)
  assert.strictEqual(yield* w.markDeadLetters([], "failed"), 0)
  const after = yield* w.listDeadLetters({ includeReplayed: true, ids: [idOf("1"), idOf("2"), idOf("3")] })
  assert.deepStrictEqual(
    after.map((l) => [l.sourceId, l.attempts, l.replayedAt]),
    [
      ["1", 2, 5_000],
      ["2", 1, 5_000],
      ["3", 0, null]
    ]
  )
  assert.deepStrictEqual(
    (yield* w.listDeadLetters()).map((l) => l.sourceId),
    ["3", "9"]
  )

  // replayDeadLetters honours ids and since and keeps the same bookkeeping.
  const seen: Array<string | null> = []
  const r = yield* w.replayDeadLetters({ since: 3_500 }, (l) => Effect.sync(() => void seen.push(l.sourceId)))
  assert.deepStrictEqual(r, { attempted: 1, replayed: 1, failed: 0 })
  assert.deepStrictEqual(seen, ["9"])
  const f = yield* w.replayDeadLetters({ ids: [idOf("3"), idOf("1")] }, () => Effect.fail("still bad"))
  assert.deepStrictEqual(f, { attempted: 1, replayed: 0, failed: 1 })
  const three = yield* w.listDeadLetters({ ids: [idOf("3")] })
  assert.deepStrictEqual(
    three.map((l) => [l.attempts, l.replayedAt]),
    [[1, null]]
  )
})

describe("dead-letter selection and bookkeeping", () => {
  it.effect("DuckDB: ids, since and markDeadLetters", () =>
    exercise.pipe(Effect.provide(DuckDbWarehouse.layerMemory))
  )

  it.live("BigQuery: the same, every statement checked against the BigQuery grammar", () =>
    withBigQuery(({ bq }) =>
      Effect.gen(function* () {
        yield* exercise
        const marks = bq.queries.filter((q) => q.sql.startsWith("UPDATE `demo-proj.kura._kura_dead_letters`"))
        assert.isTrue(marks.length > 0)
        assert.isTrue(marks.every((q) => q.sql.includes("`replayed_at` IS NULL")))
        assert.isTrue(
          bq.queries.some(
            (q) =>
              q.sql.includes("FROM `demo-proj.kura._kura_dead_letters`") &&
              q.sql.includes("CAST(@since AS INT64)")
          )
        )
      })
    )
  )
})
