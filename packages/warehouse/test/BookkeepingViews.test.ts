/**
 * The bookkeeping tables keep times as epoch milliseconds; `v_sync_runs`, `v_sync_state` and
 * `v_dead_letters` give them as UTC timestamps (and a run's duration), on DuckDB and BigQuery.
 * Each timestamp must be the stored instant to the millisecond.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { DuckDbWarehouse, Warehouse } from "../src/index.js"
import { withBigQuery } from "./withBigQuery.js"

const KEY = { source: "shopify", account: "shop.myshopify.com", stream: "orders" } as const
const instant = (v: unknown): number =>
  Date.parse(
    String(v)
      .replace(" ", "T")
      .replace(/\+00(:00)?$/, "Z")
  )

const scenario = Effect.gen(function* () {
  const w = yield* Warehouse
  const d = w.dialect
  const S = d.type("string")
  yield* w.migrate
  yield* w.startRun({ runId: "run-1", key: KEY })
  yield* Effect.sleep("30 millis")
  yield* w.commitRun({
    runId: "run-1",
    key: KEY,
    cursorAfter: "c1",
    reportedCount: 2,
    reportedTotal: null,
    rowsFetched: 2,
    rowsLoaded: 2,
    loadedTotal: null
  })
  yield* w.startRun({ runId: "run-2", key: KEY })
  yield* w.deadLetters.write([
    {
      key: KEY,
      sourceId: "9",
      payload: "{}",
      reason: "decode",
      detail: "total: expected a decimal",
      origin: "lake/x",
      at: 1_767_225_600_123
    }
  ])
  const runs = yield* w.query(
    `SELECT v.run_id, r.started_at AS started_ms, r.finished_at AS finished_ms, CAST(v.started_at AS ${S}) AS started_at, CAST(v.finished_at AS ${S}) AS finished_at, v.duration_seconds, v.status FROM ${d.table("v_sync_runs")} AS v JOIN ${d.table("_kura_sync_runs")} AS r ON r.run_id = v.run_id AND r.stream = v.stream ORDER BY v.run_id`
  )
  const state = yield* w.query(
    `SELECT v.kind, s.updated_at AS updated_ms, CAST(v.updated_at AS ${S}) AS updated_at, v.age_seconds, v.${d.ident("cursor")} AS cur FROM ${d.table("v_sync_state")} AS v JOIN ${d.table("_kura_sync_state")} AS s ON s.kind = v.kind AND s.id = v.id WHERE v.kind = 'checkpoint'`
  )
  const letters = yield* w.query(
    `SELECT CAST(${d.ident("at")} AS ${S}) AS at_text, replayed_at, replayed, reason FROM ${d.table("v_dead_letters")}`
  )
  return { runs, state, letters }
})

const check = ({ runs, state, letters }: Effect.Success<typeof scenario>) => {
  assert.strictEqual(runs.length, 2)
  const [done, running] = runs
  assert.strictEqual(done?.status, "complete")
  assert.strictEqual(instant(done?.started_at), Number(done?.started_ms))
  assert.strictEqual(instant(done?.finished_at), Number(done?.finished_ms))
  assert.strictEqual(
    Number(done?.duration_seconds),
    (Number(done?.finished_ms) - Number(done?.started_ms)) / 1000
  )
  assert.isTrue(Number(done?.duration_seconds) >= 0.03)
  assert.strictEqual(running?.status, "running")
  assert.isNull(running?.finished_at)
  assert.isNull(running?.duration_seconds)
  assert.strictEqual(state.length, 1)
  assert.strictEqual(state[0]?.cur, "c1")
  assert.strictEqual(instant(state[0]?.updated_at), Number(state[0]?.updated_ms))
  assert.isTrue(Number(state[0]?.age_seconds) >= 0 && Number(state[0]?.age_seconds) < 600)
  assert.strictEqual(letters.length, 1)
  assert.strictEqual(instant(letters[0]?.at_text), 1_767_225_600_123)
  assert.isNull(letters[0]?.replayed_at)
  assert.strictEqual(letters[0]?.replayed, false)
}

describe("readable bookkeeping views", () => {
  it.live("DuckDB", () => scenario.pipe(Effect.map(check), Effect.provide(DuckDbWarehouse.layerMemory)))
  it.live("BigQuery (fake)", () => withBigQuery(() => scenario).pipe(Effect.map(check)), 120_000)
})
