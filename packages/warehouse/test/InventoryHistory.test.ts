/**
 * inventory_levels keeps history: one snapshot per variant, location, quantity name and day, the
 * latest observation of a day winning, so reconciliation has a previous snapshot to start from.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { DuckDbWarehouse, Warehouse } from "../src/index.js"
import { level } from "./fixtures.js"

const snapshots = (w: Warehouse["Service"]) =>
  Effect.map(
    w.query(
      `SELECT source_id, CAST(snapshot_date AS VARCHAR) AS day, quantity, CAST(observed_at AS VARCHAR) AS observed_at FROM "inventory_levels" ORDER BY source_id, snapshot_date`
    ),
    (rows) => rows.map((r) => [r.source_id, r.day, Number(r.quantity), String(r.observed_at).slice(11, 16)])
  )

describe("inventory_levels history", () => {
  it.effect(
    "each day keeps its snapshot; within a day the latest observation wins; reloads change nothing",
    () =>
      Effect.gen(function* () {
        const w = yield* Warehouse
        yield* w.load("inventory_levels", [
          level("A", "loc-1", "2026-01-01T09:00:00Z", 10),
          level("A", "loc-1", "2026-01-02T09:00:00Z", 8)
        ])
        // Later the same day: replaces the day's snapshot. Earlier the same day: ignored.
        const later = yield* w.load("inventory_levels", [level("A", "loc-1", "2026-01-02T18:00:00Z", 7)])
        const earlier = yield* w.load("inventory_levels", [level("A", "loc-1", "2026-01-02T06:00:00Z", 99)])
        assert.deepStrictEqual([later.updated, earlier.unchanged], [1, 1])
        const again = yield* w.load("inventory_levels", [
          level("A", "loc-1", "2026-01-01T09:00:00Z", 10),
          level("A", "loc-1", "2026-01-02T18:00:00Z", 7)
        ])
        assert.deepStrictEqual([again.inserted, again.updated, again.unchanged], [0, 0, 2])
        assert.deepStrictEqual(yield* snapshots(w), [
          ["A:loc-1:on_hand", "2026-01-01", 10, "09:00"],
          ["A:loc-1:on_hand", "2026-01-02", 7, "18:00"]
        ])
        const report = yield* w.reconcile
        assert.deepStrictEqual(
          report.inventory.map((r) => [r.snapshotDate, r.previousQuantity, r.observedQuantity, r.status]),
          [
            ["2026-01-01", null, 10, "baseline"],
            ["2026-01-02", 10, 7, "discrepancy"]
          ]
        )
        assert.strictEqual(report.inventoryAccuracy, 0)
      }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
  )

  it.effect(
    "a row without snapshot_date (built before the column existed) gets the UTC day of observed_at",
    () =>
      Effect.gen(function* () {
        const w = yield* Warehouse
        const { snapshot_date: _, ...old } = level("B", "loc-1", "2026-01-03T23:30:00-02:00", 4)
        const r = yield* w.load("inventory_levels", [old])
        assert.deepStrictEqual([r.inserted, r.deadLettered], [1, 0])
        assert.deepStrictEqual(yield* snapshots(w), [["B:loc-1:on_hand", "2026-01-04", 4, "01:30"]])
      }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
  )

  it.effect("migrate adds snapshot_date to a database from before it existed and fills it", () =>
    Effect.acquireUseRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "kura-inv-"))),
      (dir) =>
        Effect.gen(function* () {
          const layer = DuckDbWarehouse.layer({ path: join(dir, "kura.duckdb") })
          yield* Effect.provide(
            Effect.gen(function* () {
              const w = yield* Warehouse
              yield* w.load("inventory_levels", [level("C", "loc-1", "2026-01-05T10:00:00Z", 3)])
              // What an older Kura created: no snapshot_date column.
              yield* w.query(`ALTER TABLE "inventory_levels" DROP COLUMN "snapshot_date"`)
            }),
            layer
          )
          const rows = yield* Effect.provide(
            Effect.gen(function* () {
              const w = yield* Warehouse
              yield* w.load("inventory_levels", [level("C", "loc-1", "2026-01-06T10:00:00Z", 2)])
              return yield* snapshots(w)
            }),
            layer
          )
          assert.deepStrictEqual(rows, [
            ["C:loc-1:on_hand", "2026-01-05", 3, "10:00"],
            ["C:loc-1:on_hand", "2026-01-06", 2, "10:00"]
          ])
        }),
      (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
    )
  )
})
