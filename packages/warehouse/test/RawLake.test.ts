import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { gunzipSync } from "node:zlib"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option, Stream } from "effect"
import { TestClock } from "effect/testing"
import { LocalObjectStore, parseLakePath, RawLake, WarehouseConfig } from "../src/index.js"

const key = { source: "shopify", account: "kura-matcha.myshopify.com", stream: "orders" }

const withLake = <A, E>(f: (dir: string) => Effect.Effect<A, E, RawLake>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "kura-lake-"))),
    (dir) => Effect.provide(f(dir), RawLake.layer.pipe(Layer.provide(LocalObjectStore.layer(dir)))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )

describe("RawLake on the local filesystem", () => {
  it.effect("writes lines unchanged as gzip NDJSON under the partitioned path and reads them back", () =>
    withLake((dir) =>
      Effect.gen(function* () {
        const lake = yield* RawLake
        const lines = Array.from({ length: 20_000 }, (_, i) =>
          JSON.stringify({ id: `gid://shopify/Order/${i}`, note: i % 7 === 0 ? "multi\\nline ü 蔵" : null })
        )
        const obj = yield* lake.writeBatch({
          key,
          batchId: "run1-page0001",
          lines: Stream.fromIterable(lines),
          dt: "2026-01-05"
        })
        assert.strictEqual(
          obj.path,
          "source=shopify/account=kura-matcha.myshopify.com/stream=orders/dt=2026-01-05/run1-page0001.ndjson.gz"
        )
        assert.strictEqual(obj.lines, 20_000)
        assert.isBelow(obj.storedBytes, obj.bytes)
        // The file on disk is plain gzip NDJSON: any tool can read it.
        const disk = gunzipSync(readFileSync(join(dir, ...obj.path.split("/")))).toString("utf8")
        assert.strictEqual(disk, `${lines.join("\n")}\n`)
        const back = yield* Stream.runCollect(lake.readLines(obj.path))
        assert.deepStrictEqual(back, lines)
        assert.deepStrictEqual(parseLakePath(obj.path), { key, dt: "2026-01-05", batchId: "run1-page0001" })
      })
    )
  )

  it.effect("a failing source leaves no object behind and surfaces its own error", () =>
    withLake((dir) =>
      Effect.gen(function* () {
        const lake = yield* RawLake
        const err = yield* Effect.flip(
          lake.writeBatch({
            key,
            batchId: "broken",
            dt: "2026-01-05",
            lines: Stream.concat(Stream.make('{"id":1}'), Stream.fail("upstream 503" as const))
          })
        )
        assert.strictEqual(err, "upstream 503")
        assert.deepStrictEqual(
          readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith(".gz")),
          []
        )
        const bad = yield* Effect.flip(
          lake.writeBatch({ key, batchId: "../x", dt: "2026-01-05", lines: Stream.empty })
        )
        assert.match(bad.message, /batchId "..\/x" must be/)
      })
    )
  )

  it.effect("lists batches by date range and retention deletes partitions older than the window", () =>
    withLake(() =>
      Effect.gen(function* () {
        const lake = yield* RawLake
        yield* TestClock.setTime(Date.parse("2026-01-10T12:00:00Z"))
        for (const dt of ["2026-01-01", "2026-01-03", "2026-01-09", "2026-01-10"]) {
          yield* lake.writeBatch({ key, batchId: `b-${dt}`, dt, lines: Stream.make(`{"dt":"${dt}"}`) })
        }
        yield* lake.writeBatch({
          key: { ...key, stream: "products" },
          batchId: "p",
          lines: Stream.make("{}")
        })
        const mid = yield* lake.listBatches(key, { fromDt: "2026-01-02", toDt: "2026-01-09" })
        assert.deepStrictEqual(
          mid.map((b) => b.dt),
          ["2026-01-03", "2026-01-09"]
        )
        const deleted = yield* lake.applyRetention(7)
        assert.deepStrictEqual(
          deleted.map((p) => parseLakePath(p)?.dt),
          ["2026-01-01"]
        )
        assert.deepStrictEqual(
          (yield* lake.listBatches(key)).map((b) => b.dt),
          ["2026-01-03", "2026-01-09", "2026-01-10"]
        )
        const products = yield* lake.listBatches({ ...key, stream: "products" })
        assert.deepStrictEqual(
          products.map((b) => b.dt),
          ["2026-01-10"]
        )
        const invalid = yield* Effect.flip(lake.applyRetention(0))
        assert.match(invalid.message, /keepDays must be a whole number/)
      })
    )
  )

  it.live(
    "KURA_LAKE_RETENTION_DAYS takes effect: a lake built from settings deletes old partitions itself",
    () =>
      Effect.acquireUseRelease(
        Effect.sync(() => mkdtempSync(join(tmpdir(), "kura-lake-"))),
        (dir) =>
          Effect.gen(function* () {
            const today = new Date().toISOString().slice(0, 10)
            const write = Effect.gen(function* () {
              const lake = yield* RawLake
              for (const dt of ["2020-01-01", today])
                yield* lake.writeBatch({ key, batchId: `b-${dt}`, dt, lines: Stream.make("{}") })
            })
            yield* Effect.provide(write, RawLake.layer.pipe(Layer.provide(LocalObjectStore.layer(dir))))
            const settings = (days: Option.Option<number>) =>
              Effect.map(
                Effect.all([
                  WarehouseConfig.parseWarehouse("duckdb::memory:"),
                  WarehouseConfig.parseLake(`file:${dir}`)
                ]),
                ([warehouse, lake]) => ({
                  warehouse,
                  lake,
                  bigQueryLocation: Option.none(),
                  lakeRetentionDays: days
                })
              )
            const daysLeft = Effect.gen(function* () {
              const lake = yield* RawLake
              // The retention pass runs in the background from the start: wait for it (bounded; 2.5 s
              // was a guess a loaded box could outlast, 20 s is a deadline).
              const until = Date.now() + 20_000
              while (Date.now() < until) {
                const dts = (yield* lake.listBatches(key)).map((b) => b.dt)
                if (dts.length === 1) return dts
                yield* Effect.sleep(50)
              }
              return (yield* lake.listBatches(key)).map((b) => b.dt)
            })
            // Without the setting nothing is deleted.
            const kept = yield* Effect.provide(
              Effect.andThen(
                Effect.sleep(200),
                Effect.map(Effect.service(RawLake), (l) => l.listBatches(key))
              ).pipe(Effect.flatten),
              Layer.unwrap(Effect.map(settings(Option.none()), WarehouseConfig.layerFromSettings))
            )
            assert.strictEqual(kept.length, 2)
            const left = yield* Effect.provide(
              daysLeft,
              Layer.unwrap(Effect.map(settings(Option.some(30)), WarehouseConfig.layerFromSettings))
            )
            assert.deepStrictEqual(left, [today])
          }),
        (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
      )
  )

  it.effect("a corrupt batch fails with an Integrity error", () =>
    withLake((dir) =>
      Effect.gen(function* () {
        const lake = yield* RawLake
        const store = LocalObjectStore.make(dir)
        const path = "source=shopify/account=a/stream=orders/dt=2026-01-01/bad.ndjson.gz"
        yield* store.put(path, Stream.make(new TextEncoder().encode("not gzip")))
        const err = yield* Effect.flip(Stream.runCollect(lake.readLines(path)))
        assert.strictEqual(err.reason, "Integrity")
      })
    )
  )
})
