import { createHash } from "node:crypto"
import { mkdtemp, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { DuckDBInstance } from "@duckdb/node-api"
import { assert, it as effectIt } from "@effect/vitest"
import { BigQuery } from "@google-cloud/bigquery"
import { Effect, Layer } from "effect"
import { OAuth2Client } from "google-auth-library"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bigQueryMigrationStatus, DuckDbWarehouse, duckDbMigrationStatus } from "../src/index.js"
import { RAW_MIGRATIONS } from "../src/internal/makeWarehouse.js"
import { withBigQuery } from "./withBigQuery.js"

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kura-migration-status-"))
})
afterAll(() => rm(dir, { recursive: true, force: true }))

const open = (path: string) =>
  Effect.runPromise(Effect.scoped(Layer.build(DuckDbWarehouse.layer({ path })).pipe(Effect.asVoid)))
const sql = async (path: string, statements: ReadonlyArray<string>) => {
  const instance = await DuckDBInstance.create(path)
  const c = await instance.connect()
  for (const s of statements) await c.run(s)
  c.closeSync()
  instance.closeSync()
}
const hash = async (path: string) =>
  createHash("sha256")
    .update(await readFile(path))
    .digest("hex")

describe("duckDbMigrationStatus", () => {
  it("a missing file: everything pending, and the file is not created", async () => {
    const path = join(dir, "none", "kura.duckdb")
    const s = await Effect.runPromise(duckDbMigrationStatus(path))
    expect(s.exists).toBe(false)
    expect(s.pending).toBe(true)
    expect(s.missingTables).toContain("orders")
    await expect(readFile(path)).rejects.toThrow()
  })

  it("a migrated file: nothing pending", async () => {
    const path = join(dir, "current.duckdb")
    await open(path)
    const s = await Effect.runPromise(duckDbMigrationStatus(path))
    expect(s).toMatchObject({
      exists: true,
      pending: false,
      missingTables: [],
      missingColumns: [],
      pendingDataMigrations: [],
      staleViews: []
    })
  })

  it("an older file: names the missing table, column, data migration and view; its bytes stay the same", async () => {
    const path = join(dir, "old.duckdb")
    await open(path)
    await sql(path, [
      "DROP VIEW IF EXISTS v_daily_sales",
      "DROP TABLE _kura_leases",
      "ALTER TABLE orders DROP COLUMN _deleted_at",
      "COMMENT ON TABLE _kura_raw IS NULL",
      `DELETE FROM _kura_sync_state WHERE kind = 'migration' AND id = '${RAW_MIGRATIONS[1]}'`,
      "CHECKPOINT"
    ])
    const before = await hash(path)
    const s = await Effect.runPromise(duckDbMigrationStatus(path))
    expect(s.pending).toBe(true)
    expect(s.missingTables).toEqual(["_kura_leases"])
    expect(s.missingColumns).toEqual([{ table: "orders", column: "_deleted_at" }])
    expect(s.pendingDataMigrations).toEqual([RAW_MIGRATIONS[1]])
    expect(s.staleViews).toEqual(["v_daily_sales"])
    expect(await hash(path)).toBe(before)
    // Opening for real migrates it.
    await open(path)
    expect((await Effect.runPromise(duckDbMigrationStatus(path))).pending).toBe(false)
  })
})

describe("bigQueryMigrationStatus (the DuckDB-backed fake BigQuery)", () => {
  const client = (endpoint: string) => {
    const authClient = new OAuth2Client()
    authClient.setCredentials({ access_token: "fake-token", expiry_date: Date.now() + 3_600_000 })
    return new BigQuery({ projectId: "demo-proj", apiEndpoint: endpoint, authClient })
  }

  effectIt.live(
    "a migrated dataset: nothing pending, its location, a dry-run write accepted; then a dropped column is named",
    () =>
      withBigQuery((fakes) =>
        Effect.gen(function* () {
          const bigquery = client(fakes.bq.endpoint)
          const s = yield* bigQueryMigrationStatus({ bigquery, projectId: "demo-proj", dataset: "kura" })
          assert.deepStrictEqual(
            { exists: s.exists, pending: s.pending, location: s.location, writeDryRun: s.writeDryRun },
            { exists: true, pending: false, location: "US", writeDryRun: "ok" }
          )
          yield* Effect.promise(() => fakes.bq.duck('ALTER TABLE orders DROP COLUMN "_deleted_at"'))
          const older = yield* bigQueryMigrationStatus({ bigquery, projectId: "demo-proj", dataset: "kura" })
          assert.deepStrictEqual(older.missingColumns, [{ table: "orders", column: "_deleted_at" }])
          assert.isTrue(older.pending)
          const missing = yield* bigQueryMigrationStatus({
            bigquery,
            projectId: "demo-proj",
            dataset: "nope"
          })
          assert.deepStrictEqual(
            { exists: missing.exists, pending: missing.pending },
            { exists: false, pending: true }
          )
        })
      )
  )
})
