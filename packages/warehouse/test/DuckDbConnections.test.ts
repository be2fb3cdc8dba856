/**
 * The number of DuckDB connections is a user setting (kura-sync's and kura-backfill's
 * `KURA_DUCKDB_CONNECTIONS`): the apps hand it to `DuckDbWarehouse.layer({ connections })` directly
 * or through `WarehouseConfig.layerFromSettings({ duckDbConnections })`. What DuckDB itself reports
 * (`duckdb_connection_count()`) must follow it, and a value out of range must fail the open
 * instead of being bent into range.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Option } from "effect"
import { DuckDbWarehouse, Warehouse, WarehouseConfig } from "../src/index.js"

/** Connections DuckDB has open on the warehouse's database, read through the warehouse. */
const openConnections = Effect.gen(function* () {
  const w = yield* Warehouse
  const rows = yield* w.query("SELECT * FROM duckdb_connection_count()")
  return Number(Object.values(rows[0] ?? {})[0])
})

const countWith = (layer: Layer.Layer<Warehouse, unknown>) =>
  Effect.scoped(Effect.flatMap(Layer.build(layer), (context) => Effect.provide(openConnections, context)))

describe("DuckDB connections setting", () => {
  it.live("the warehouse opens as many connections as it is given", () =>
    Effect.gen(function* () {
      assert.strictEqual(
        yield* countWith(DuckDbWarehouse.layer({ path: ":memory:" })),
        DuckDbWarehouse.DEFAULT_CONNECTIONS
      )
      assert.strictEqual(yield* countWith(DuckDbWarehouse.layer({ path: ":memory:", connections: 1 })), 1)
      assert.strictEqual(yield* countWith(DuckDbWarehouse.layer({ path: ":memory:", connections: 3 })), 3)
    })
  )

  it.live("layerFromSettings passes duckDbConnections through to the DuckDB warehouse", () =>
    Effect.gen(function* () {
      const settings = (duckDbConnections?: number): WarehouseConfig.WarehouseSettings => ({
        warehouse: { kind: "duckdb", path: ":memory:" },
        lake: { kind: "file", dir: "/tmp/kura-duckdb-connections-test-lake" },
        bigQueryLocation: Option.none(),
        lakeRetentionDays: Option.none(),
        ...(duckDbConnections === undefined ? {} : { duckDbConnections })
      })
      assert.strictEqual(yield* countWith(WarehouseConfig.layerFromSettings(settings(2))), 2)
      assert.strictEqual(
        yield* countWith(WarehouseConfig.layerFromSettings(settings())),
        DuckDbWarehouse.DEFAULT_CONNECTIONS
      )
    })
  )

  it.live("a count outside 1 to MAX_CONNECTIONS fails the open with a Config error naming the range", () =>
    Effect.gen(function* () {
      for (const connections of [0, DuckDbWarehouse.MAX_CONNECTIONS + 1, 1.5, Number.NaN]) {
        const error = yield* Effect.flip(countWith(DuckDbWarehouse.layer({ path: ":memory:", connections })))
        assert.strictEqual((error as { reason?: string }).reason, "Config", String(connections))
        assert.include(String((error as Error).message), `1 to ${DuckDbWarehouse.MAX_CONNECTIONS}`)
      }
    })
  )
  it.live("reading the engine's memory opens one connection of its own, at the first read only", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const context = yield* Layer.build(DuckDbWarehouse.layer({ path: ":memory:", connections: 2 }))
        const w = Context.get(context, Warehouse)
        const count = Effect.provide(openConnections, context)
        assert.strictEqual(yield* count, 2)
        yield* w.engineMemory
        assert.strictEqual(yield* count, 3)
        yield* w.engineMemory
        assert.strictEqual(yield* count, 3)
      })
    )
  )
})
