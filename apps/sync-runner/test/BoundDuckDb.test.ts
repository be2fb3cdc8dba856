import { DuckDbWarehouse, Warehouse } from "@kura/warehouse"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { boundDuckDb } from "../src/Cli.js"

const SETTINGS =
  "SELECT current_setting('memory_limit') AS m, current_setting('allocator_flush_threshold') AS f, current_setting('allocator_bulk_deallocation_flush_threshold') AS b"

/** The three settings of a fresh in-memory DuckDB, after `boundDuckDb(env)` unless `env` is null. */
const settings = (env: Record<string, string> | null) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const warehouse = yield* Warehouse
      if (env !== null) yield* boundDuckDb(warehouse, env)
      const rows = yield* warehouse.query(SETTINGS)
      return { m: String(rows[0]?.m), f: String(rows[0]?.f), b: String(rows[0]?.b) }
    }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
  )

describe("boundDuckDb", () => {
  it("bounds the buffer pool and hands freed memory back above 8MB by default; the knobs override", async () => {
    const duckdb = await settings(null)
    const byDefault = await settings({})
    const tuned = await settings({ KURA_DUCKDB_MEMORY_LIMIT: "100MB", KURA_DUCKDB_ALLOCATOR_FLUSH: "32MB" })
    // DuckDB's own defaults differ from ours, so equal values would mean a SET did not apply.
    expect(byDefault.f).not.toBe(duckdb.f)
    expect(byDefault.b).not.toBe(duckdb.b)
    expect(byDefault.m).not.toBe(duckdb.m)
    expect(byDefault.f).toBe(byDefault.b)
    expect(tuned.f).not.toBe(byDefault.f)
    expect(tuned.m).not.toBe(byDefault.m)
    // DuckDB prints sizes in binary units: 8MB = 7.6 MiB, 256MB = 244.1 MiB.
    expect(byDefault).toEqual({ m: "244.1 MiB", f: "7.6 MiB", b: "7.6 MiB" })
    expect(tuned).toEqual({ m: "95.3 MiB", f: "30.5 MiB", b: "30.5 MiB" })
  })
})
