import { gunzipSync } from "node:zlib"
import { assert, describe, it } from "@effect/vitest"
import { Storage } from "@google-cloud/storage"
import { Effect, Layer, Stream } from "effect"
import { GcsObjectStore, ObjectStore, RawLake } from "../src/index.js"
import { type FakeGcs, startFakeGcs } from "./fakeGcs.js"

const key = { source: "lightspeed", account: "business-42", stream: "sales" }

const withFake = <A, E>(
  resumable: boolean,
  f: (fake: FakeGcs) => Effect.Effect<A, E, RawLake | ObjectStore>
) =>
  Effect.acquireUseRelease(
    Effect.promise(() => startFakeGcs("kura-lake")),
    (fake) => {
      const storage = new Storage({ apiEndpoint: fake.endpoint, projectId: "demo-test" })
      const store = GcsObjectStore.layer({ bucket: "kura-lake", prefix: "prod/lake", storage, resumable })
      return Effect.provide(f(fake), RawLake.layer.pipe(Layer.provideMerge(store)))
    },
    (fake) => Effect.promise(() => fake.close())
  )

describe("GcsObjectStore against a fake GCS JSON API", () => {
  for (const resumable of [true, false]) {
    it.live(
      `writes, lists, reads and deletes lake batches (${resumable ? "resumable" : "multipart"} upload)`,
      () =>
        withFake(resumable, (fake) =>
          Effect.gen(function* () {
            const lake = yield* RawLake
            const store = yield* ObjectStore
            const lines = Array.from({ length: 5000 }, (_, i) => JSON.stringify({ id: i, total: `${i}.50` }))
            const obj = yield* lake.writeBatch({
              key,
              batchId: "run-7",
              dt: "2026-02-01",
              lines: Stream.fromIterable(lines)
            })
            const name =
              "prod/lake/source=lightspeed/account=business-42/stream=sales/dt=2026-02-01/run-7.ndjson.gz"
            // The object landed under the prefix, gzip-compressed, with the exact lines.
            const stored = fake.objects.get(name)
            assert.isDefined(stored)
            assert.strictEqual(gunzipSync(stored!.data).toString("utf8"), `${lines.join("\n")}\n`)
            assert.strictEqual(stored!.contentType, "application/x-ndjson")
            assert.strictEqual(obj.storedBytes, stored!.data.length)
            const uploads = fake.requests.filter((r) => r.path === "/upload/storage/v1/b/kura-lake/o")
            assert.strictEqual(uploads[0]?.query.get("uploadType"), resumable ? "resumable" : "multipart")
            assert.strictEqual(uploads[0]?.query.get("name"), name)
            assert.strictEqual(store.uri(obj.path), `gs://kura-lake/${name}`)

            const back = yield* Stream.runCollect(lake.readLines(obj.path))
            assert.deepStrictEqual(back, lines)
            const download = fake.requests.find((r) => r.query.get("alt") === "media")
            assert.strictEqual(download?.path, `/storage/v1/b/kura-lake/o/${encodeURIComponent(name)}`)

            const listed = yield* lake.listBatches(key)
            assert.deepStrictEqual(
              listed.map((b) => [b.path, b.batchId]),
              [[obj.path, "run-7"]]
            )
            assert.strictEqual(
              fake.requests
                .find((r) => r.path === "/storage/v1/b/kura-lake/o" && r.method === "GET")
                ?.query.get("prefix"),
              "prod/lake/source=lightspeed/account=business-42/stream=sales/"
            )
            yield* store.delete(obj.path)
            assert.isFalse(fake.objects.has(name))
          })
        )
    )
  }

  it.live("a corrupted download fails the CRC32C check instead of returning bad data", () =>
    withFake(false, (fake) =>
      Effect.gen(function* () {
        const store = yield* ObjectStore
        yield* store.put("x/a.bin", Stream.make(new TextEncoder().encode("hello world")))
        fake.corruptDownloads = true
        const err = yield* Effect.flip(Stream.runCollect(store.get("x/a.bin")))
        assert.strictEqual(err.reason, "Integrity")
      })
    )
  )

  it.live("on a versioned bucket, purge deletes every generation; keepLive spares the current one", () =>
    withFake(false, (fake) =>
      Effect.gen(function* () {
        fake.versioning = true
        const store = yield* ObjectStore
        const body = (s: string) => Stream.make(new TextEncoder().encode(s))
        yield* store.put("a/x.bin", body("x1"))
        yield* store.put("a/x.bin", body("x2"))
        yield* store.put("a/x.bin.tmp", body("t"))
        yield* store.put("a/y.bin", body("y1"))
        yield* store.delete("a/y.bin")
        yield* store.put("b/z.bin", body("z1"))
        const text = (o: { readonly data: Buffer }) => o.data.toString("utf8")
        // What GCS keeps: the replaced x1 and the deleted y1 as noncurrent generations, unlisted.
        assert.deepStrictEqual(fake.noncurrent.map(text), ["x1", "y1"])
        assert.deepStrictEqual(
          (yield* store.list("a/")).map((o) => o.path),
          ["a/x.bin", "a/x.bin.tmp"]
        )

        const one = yield* store.purge!({ path: "a/x.bin" }, { keepLive: true })
        assert.deepStrictEqual(one, { paths: ["a/x.bin"], generations: 1 })
        assert.deepStrictEqual(fake.noncurrent.map(text), ["y1"])
        assert.strictEqual(text(fake.objects.get("prod/lake/a/x.bin")!), "x2")
        assert.isTrue(fake.objects.has("prod/lake/a/x.bin.tmp"))

        const all = yield* store.purge!({ prefix: "a/" })
        assert.deepStrictEqual(all, { paths: ["a/x.bin", "a/x.bin.tmp", "a/y.bin"], generations: 3 })
        assert.deepStrictEqual(fake.noncurrent, [])
        assert.deepStrictEqual([...fake.objects.keys()], ["prod/lake/b/z.bin"])
        assert.isTrue(fake.requests.some((r) => r.method === "GET" && r.query.get("versions") === "true"))
        assert.isTrue(
          fake.requests.filter((r) => r.method === "DELETE" && r.query.has("generation")).length === 4
        )
      })
    )
  )

  it.live("missing objects are NotFound", () =>
    withFake(false, () =>
      Effect.gen(function* () {
        const store = yield* ObjectStore
        const err = yield* Effect.flip(Stream.runCollect(store.get("nope.ndjson.gz")))
        assert.strictEqual(err.reason, "NotFound")
      })
    )
  )
})

describe("GcsObjectStore without a configured client", () => {
  it.live("loads the client library on first use (ADC, here STORAGE_EMULATOR_HOST) and works", () =>
    Effect.acquireUseRelease(
      Effect.promise(() => startFakeGcs("kura-lake")),
      (fake) =>
        Effect.gen(function* () {
          const before = process.env.STORAGE_EMULATOR_HOST
          process.env.STORAGE_EMULATOR_HOST = fake.endpoint
          try {
            // Built without a client: nothing is imported or asked until an operation runs.
            const store = GcsObjectStore.make({ bucket: "kura-lake", prefix: "lazy" })
            assert.strictEqual(fake.requests.length, 0)
            const body = new TextEncoder().encode("one line\n")
            const info = yield* store.put("a/b.ndjson", Stream.make(body))
            assert.strictEqual(info.size, body.length)
            assert.isDefined(fake.objects.get("lazy/a/b.ndjson"))
            assert.deepStrictEqual(
              (yield* store.list("a/")).map((o) => o.path),
              ["a/b.ndjson"]
            )
          } finally {
            if (before === undefined) delete process.env.STORAGE_EMULATOR_HOST
            else process.env.STORAGE_EMULATOR_HOST = before
          }
        }),
      (fake) => Effect.promise(() => fake.close())
    )
  )
})
