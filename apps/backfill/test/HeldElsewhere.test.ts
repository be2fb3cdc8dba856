/**
 * `countHeldElsewhere` (what `accountBatch` asks when a window loads fewer records than the API
 * counted) on DuckDB and on BigQuery: the fake BigQuery of @kura/warehouse's tests (a DuckDB behind
 * BigQuery's REST API that checks every statement against BigQuery's grammar), so its SQL runs in
 * BigQuery's dialect (`@param`, backquoted names, UNIX_MILLIS) and not only in DuckDB's.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import type { StreamKey } from "@kura/core"
import { DuckDbWarehouse, LocalObjectStore, RawLake, RawLoader, Warehouse } from "@kura/warehouse"
import { Effect, Layer, Stream } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { accountBatch, countHeldElsewhere } from "../src/Landing.js"

const dir = mkdtempSync(join(tmpdir(), "kura-backfill-held-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** The warehouse package's BigQuery test harness (not published: loaded from its test folder). */
type WithBigQuery = <A, E>(
  f: (fakes: {
    readonly bq: { readonly queries: ReadonlyArray<{ readonly sql: string }> }
  }) => Effect.Effect<A, E, Warehouse>
) => Effect.Effect<A, E>
const harness = fileURLToPath(new URL("../../../packages/warehouse/test/withBigQuery.ts", import.meta.url))
const { withBigQuery } = (await import(pathToFileURL(harness).href)) as {
  readonly withBigQuery: WithBigQuery
}

const key: StreamKey = { source: "shopify", account: "kura-test.myshopify.com", stream: "orders" }
const line = (id: number, updatedAt: string) => JSON.stringify({ id, updated_at: updatedAt, name: `#${id}` })

/**
 * An earlier batch holds #1 at 10:00 and #2 at 09:00; the window's batch then fetches #1 and #2 at
 * 10:00 and #3, #4 (new). The raw load skips #1 (the same version is held), so the window loads 3 of
 * the 4 the API counted: #1 is held elsewhere; #2 is not (its older version was replaced by this
 * batch's), nor #3 and #4 (this batch's own).
 */
const scenario = Effect.gen(function* () {
  const warehouse = yield* Warehouse
  const lake = yield* RawLake
  const land = (batchId: string, lines: ReadonlyArray<string>) =>
    Effect.gen(function* () {
      const written = yield* lake.writeBatch({ key, batchId, lines: Stream.fromIterable(lines) })
      yield* RawLoader.loadRawBatch({
        warehouse,
        key,
        batch: { batchId, path: written.path },
        fetchedAt: batchId === "earlier" ? "2026-03-05T00:00:00Z" : "2026-03-06T00:00:00Z",
        lines: lake.readLines(written.path)
      })
      return written.path
    })
  yield* land("earlier", [line(1, "2026-03-04T10:00:00Z"), line(2, "2026-03-04T09:00:00Z")])
  const path = yield* land("window", [
    line(1, "2026-03-04T10:00:00Z"),
    line(2, "2026-03-04T10:00:00.000Z"),
    line(3, "2026-03-04T10:00:00Z"),
    line(4, "2026-03-04T10:00:00Z")
  ])
  const held = yield* countHeldElsewhere({ key, batchId: "window", lakePath: path })
  const account = yield* accountBatch({ key, batchId: "window", lakePath: path, reportedCount: 4 })
  return { held, account }
})

const lakeLayer = (name: string) => RawLake.layer.pipe(Layer.provide(LocalObjectStore.layer(join(dir, name))))

describe("countHeldElsewhere", () => {
  it("DuckDB: counts the records another batch holds at the same or a newer version", async () => {
    const out = await Effect.runPromise(
      scenario.pipe(
        Effect.provide(
          Layer.mergeAll(DuckDbWarehouse.layer({ path: join(dir, "kura.duckdb") }), lakeLayer("lake-d"))
        )
      )
    )
    expect(out).toEqual({ held: 1, account: { loaded: 3, alreadyHeld: 1 } })
  })

  it("BigQuery (the fake): the same answer through BigQuery's SQL", async () => {
    const out = await Effect.runPromise(
      withBigQuery(({ bq }) =>
        Effect.map(scenario.pipe(Effect.provide(lakeLayer("lake-b"))), (r) => ({
          ...r,
          // BigQuery has no default dataset here: a table named without its dataset fails there
          // (the fake, backed by one DuckDB database, would find it all the same).
          unqualified: bq.queries.map((q) => q.sql).filter((sql) => /\b(FROM|JOIN)\s+`?_kura_raw\b/.test(sql))
        }))
      )
    )
    expect(out).toEqual({ held: 1, account: { loaded: 3, alreadyHeld: 1 }, unqualified: [] })
  }, 120_000)
})
