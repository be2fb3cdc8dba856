/**
 * Live tests against real Google Cloud. They run only when credentials and targets are set:
 *   GOOGLE_APPLICATION_CREDENTIALS=…  KURA_LIVE_GCS_BUCKET=my-bucket
 *   KURA_LIVE_BIGQUERY_DATASET=my-project.kura_test  (also needs KURA_LIVE_GCS_BUCKET for staging)
 * Everything is written under a unique prefix / into the given (test) dataset.
 */
import { randomUUID } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option, Stream } from "effect"
import { BigQueryWarehouse, GcsObjectStore, ObjectStore, RawLake, Warehouse } from "../src/index.js"
import { order } from "./fixtures.js"

const env = process.env
const creds = env.GOOGLE_APPLICATION_CREDENTIALS !== undefined
const bucket = env.KURA_LIVE_GCS_BUCKET
const dataset = env.KURA_LIVE_BIGQUERY_DATASET

describe.skipIf(!creds || bucket === undefined)("live GCS", () => {
  it.live("round-trips a lake batch", () =>
    Effect.gen(function* () {
      const lake = yield* RawLake
      const store = yield* ObjectStore
      const lines = ['{"id":1}', '{"id":2}']
      const obj = yield* lake.writeBatch({
        key: { source: "shopify", account: "live-test", stream: "orders" },
        batchId: "live",
        lines: Stream.fromIterable(lines)
      })
      assert.deepStrictEqual(yield* Stream.runCollect(lake.readLines(obj.path)), lines)
      yield* store.delete(obj.path)
    }).pipe(
      Effect.provide(
        RawLake.layer.pipe(
          Layer.provideMerge(
            GcsObjectStore.layer({ bucket: bucket ?? "", prefix: `kura-live-test/${randomUUID()}` })
          )
        )
      )
    )
  )
})

describe.skipIf(!creds || bucket === undefined || dataset === undefined)("live BigQuery", () => {
  it.live(
    "migrates, loads idempotently and reconciles",
    () =>
      Effect.gen(function* () {
        const w = yield* Warehouse
        const id = randomUUID()
        const first = yield* w.load("orders", [order(id, "2026-01-05T01:00:00Z")])
        assert.strictEqual(first.inserted, 1)
        const again = yield* w.load("orders", [order(id, "2026-01-05T01:00:00Z")])
        assert.strictEqual(again.unchanged, 1)
        yield* w.checkpoints.put({
          key: { source: "live", account: id, stream: "orders" },
          cursor: "c1",
          updatedAt: 1
        })
        const cp = yield* w.checkpoints.get({ source: "live", account: id, stream: "orders" })
        assert.strictEqual(Option.getOrThrow(cp).cursor, "c1")
        yield* w.reconcile
      }).pipe(
        Effect.provide(
          BigQueryWarehouse.layer({
            projectId: (dataset ?? ".").split(".")[0] ?? "",
            dataset: (dataset ?? ".").split(".")[1] ?? "",
            stagingBucket: bucket ?? "",
            stagingPrefix: "kura-live-test",
            ...(env.KURA_BIGQUERY_LOCATION ? { location: env.KURA_BIGQUERY_LOCATION } : {})
          })
        )
      ),
    300_000
  )
})
