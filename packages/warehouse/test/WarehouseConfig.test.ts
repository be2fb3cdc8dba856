import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Stream } from "effect"
import { RawLake, Warehouse, WarehouseConfig } from "../src/index.js"

const withEnv = (env: Record<string, string>) => ConfigProvider.layer(ConfigProvider.fromEnvRecord(env))

describe("WarehouseConfig", () => {
  it.effect("defaults to a DuckDB file and a local lake", () =>
    Effect.gen(function* () {
      const s = yield* WarehouseConfig.settings
      assert.deepStrictEqual(s.warehouse, { kind: "duckdb", path: "data/kura.duckdb" })
      assert.deepStrictEqual(s.lake, { kind: "file", dir: "data/lake" })
    }).pipe(Effect.provide(withEnv({})))
  )

  it.effect("parses BigQuery and GCS targets", () =>
    Effect.gen(function* () {
      const s = yield* WarehouseConfig.settings
      assert.deepStrictEqual(s.warehouse, {
        kind: "bigquery",
        projectId: "acme-retail",
        dataset: "kura_prod"
      })
      assert.deepStrictEqual(s.lake, { kind: "gcs", bucket: "acme-kura", prefix: "lake/raw" })
      assert.strictEqual(s.lakeRetentionDays._tag, "Some")
    }).pipe(
      Effect.provide(
        withEnv({
          KURA_WAREHOUSE: "bigquery:acme-retail.kura_prod",
          KURA_LAKE: "gs://acme-kura/lake/raw/",
          KURA_LAKE_RETENTION_DAYS: "90"
        })
      )
    )
  )

  it.effect.each([
    [
      { KURA_WAREHOUSE: "postgres://x" },
      /KURA_WAREHOUSE="postgres:\/\/x" must start with "duckdb:" or "bigquery:"/
    ],
    [{ KURA_WAREHOUSE: "bigquery:Acme.kura" }, /is not bigquery:<project>\.<dataset>/],
    [{ KURA_WAREHOUSE: "bigquery:acme-retail" }, /is not bigquery:<project>\.<dataset>/],
    [{ KURA_WAREHOUSE: "duckdb:" }, /has no file path/],
    [{ KURA_LAKE: "s3://bucket" }, /KURA_LAKE="s3:\/\/bucket" must start with "file:" or "gs:\/\/"/],
    [{ KURA_LAKE: "gs://A_B" }, /invalid bucket name/],
    [{ KURA_WAREHOUSE: "bigquery:acme-retail.kura" }, /set KURA_LAKE=gs:\/\//],
    [{ KURA_LAKE_RETENTION_DAYS: "0" }, /must be at least 1/]
  ] as const)("rejects %j with a clear message", ([env, message]) =>
    Effect.gen(function* () {
      const err = yield* Effect.flip(WarehouseConfig.settings)
      assert.match(err.message, message)
    }).pipe(Effect.provide(withEnv(env)))
  )

  it.live("lake retention runs where the lake is opened from settings, unless the caller opts out", () =>
    Effect.acquireUseRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "kura-cfg-retention-"))),
      (dir) =>
        Effect.gen(function* () {
          const s = yield* WarehouseConfig.settings.pipe(
            Effect.provide(
              withEnv({
                KURA_WAREHOUSE: `duckdb:${dir}/kura.duckdb`,
                KURA_LAKE: `file:${dir}/lake`,
                KURA_LAKE_RETENTION_DAYS: "30"
              })
            )
          )
          const key = { source: "shopify", account: "shop", stream: "orders" }
          const batches = Effect.gen(function* () {
            const lake = yield* RawLake
            return (yield* lake.listBatches(key)).map((b) => b.dt)
          })
          // An old partition, then the lake opened again as a read-only command opens it: kept.
          yield* Effect.gen(function* () {
            const lake = yield* RawLake
            yield* lake.writeBatch({ key, batchId: "old", dt: "2020-01-01", lines: Stream.make("{}") })
          }).pipe(Effect.provide(WarehouseConfig.layerFromSettings(s, { retention: false })))
          const kept = yield* Effect.andThen(Effect.sleep("500 millis"), batches).pipe(
            Effect.provide(WarehouseConfig.layerFromSettings(s, { retention: false }))
          )
          assert.deepStrictEqual(kept, ["2020-01-01"])
          // Opened as run and serve open it: the retention pass deletes it.
          const swept = yield* Effect.gen(function* () {
            for (let i = 0; i < 50; i++) {
              const left = yield* batches
              if (left.length === 0) return left
              yield* Effect.sleep("100 millis")
            }
            return yield* batches
          }).pipe(Effect.provide(WarehouseConfig.layerFromSettings(s)))
          assert.deepStrictEqual(swept, [])
        }),
      (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
    )
  )

  it.effect("layerConfig builds a working DuckDB warehouse and local lake", () =>
    Effect.acquireUseRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "kura-cfg-"))),
      (dir) =>
        Effect.gen(function* () {
          const w = yield* Warehouse
          const lake = yield* RawLake
          assert.strictEqual(w.dialect.name, "duckdb")
          const obj = yield* lake.writeBatch({
            key: { source: "stocky", account: "shop", stream: "purchase_orders" },
            batchId: "b1",
            lines: Stream.make('{"id":1}')
          })
          assert.deepStrictEqual(yield* Stream.runCollect(lake.readLines(obj.path)), ['{"id":1}'])
        }).pipe(
          Effect.provide(
            WarehouseConfig.layerConfig.pipe(
              Layer.provide(
                withEnv({ KURA_WAREHOUSE: `duckdb:${dir}/db/kura.duckdb`, KURA_LAKE: `file:${dir}/lake` })
              )
            )
          )
        ),
      (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
    )
  )
})
