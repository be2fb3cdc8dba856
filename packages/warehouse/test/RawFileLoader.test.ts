/**
 * `RawFileLoader.loadRawFiles`: NDJSON files (plain and gzip) straight into `_kura_raw` by DuckDB,
 * keyed as `RawLoader` keys a lake batch, one row per record version whatever the batches.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { gzipSync } from "node:zlib"
import { assert, describe, it } from "@effect/vitest"
import { startSandbox } from "@kura/sandbox"
import { Effect, Stream } from "effect"
import { afterAll } from "vitest"
import {
  AllTables,
  bigQueryDialect,
  DuckDbWarehouse,
  duckdbDialect,
  RawFileLoader,
  RawLoader,
  Sql,
  Warehouse
} from "../src/index.js"
import { bulkExport } from "./sandboxBulkExport.js"

const key = { source: "shopify", account: "kura-matcha.myshopify.com", stream: "orders" }
const dir = mkdtempSync(join(tmpdir(), "kura-rawfile-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const order = (n: number, at: string) =>
  JSON.stringify({ id: `gid://shopify/Order/${n}`, updatedAt: at, name: `#${n}`, note: 'it\'s "quoted"' })
const item = (n: number, parent: number) =>
  JSON.stringify({
    id: `gid://shopify/LineItem/${n}`,
    __parentId: `gid://shopify/Order/${parent}`,
    quantity: 1
  })

const write = (name: string, lines: ReadonlyArray<string>, gzip = false) => {
  const file = join(dir, name)
  const text = `${lines.join("\n")}\n`
  writeFileSync(file, gzip ? gzipSync(text) : text)
  return file
}

const rowsOf = (w: Warehouse["Service"]) =>
  w.query(
    `SELECT source_id, CAST(updated_at AS VARCHAR) AS updated_at, CAST(payload AS VARCHAR) AS payload, _batch_id, lake_path
     FROM _kura_raw WHERE stream = 'orders' ORDER BY source_id, updated_at`
  )

const load = (files: ReadonlyArray<string>, batchId: string, replaceBatch?: boolean) =>
  Effect.gen(function* () {
    const w = yield* Warehouse
    return yield* RawFileLoader.loadRawFiles({
      warehouse: w,
      key,
      files,
      batchId,
      lakePath: `lake/${batchId}.jsonl.gz`,
      fetchedAt: "2026-11-27T00:00:00.000Z",
      ...(replaceBatch === undefined ? {} : { replaceBatch })
    })
  })

describe("RawFileLoader.loadRawFiles", () => {
  it.effect("loads gzip and plain NDJSON files verbatim, one row per line, keyed by id and updatedAt", () =>
    Effect.gen(function* () {
      const w = yield* Warehouse
      const a = write("a.jsonl.gz", [order(1, "2026-01-01T00:00:01Z"), item(11, 1), item(12, 1)], true)
      const b = write("b.jsonl", [order(2, "2026-01-02T00:00:00Z"), "not json", item(21, 2)])
      const r = yield* load([a, b], "batch-1")
      assert.deepStrictEqual(r, { inserted: 5, mode: "append" })
      const rows = yield* rowsOf(w)
      assert.deepStrictEqual(
        rows.map((x) => [x.source_id, x.updated_at]),
        [
          ["gid://shopify/LineItem/11", null],
          ["gid://shopify/LineItem/12", null],
          ["gid://shopify/LineItem/21", null],
          ["gid://shopify/Order/1", "2026-01-01 00:00:01+00"],
          ["gid://shopify/Order/2", "2026-01-02 00:00:00+00"]
        ]
      )
      // The payload is the line as written (quotes, escapes and key order kept).
      assert.deepStrictEqual(
        JSON.parse(String(rows[3]?.payload)),
        JSON.parse(order(1, "2026-01-01T00:00:01Z"))
      )
      assert.strictEqual(rows[3]?.lake_path, "lake/batch-1.jsonl.gz")
    }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
  )

  it.effect("another batch adds only record versions not landed yet; re-running a batch replaces it", () =>
    Effect.gen(function* () {
      const w = yield* Warehouse
      const first = write("c.jsonl", [order(1, "2026-01-01T00:00:01Z"), item(11, 1)])
      yield* load([first], "batch-1")
      // Order 1 again at the same version (already there), a newer version of it, and order 3.
      const second = write(
        "d.jsonl.gz",
        [
          order(1, "2026-01-01T00:00:01Z"),
          item(11, 1),
          order(1, "2026-03-01T00:00:00Z"),
          order(3, "2026-03-02T00:00:00Z")
        ],
        true
      )
      const r = yield* load([second], "batch-2")
      assert.deepStrictEqual(r, { inserted: 2, mode: "anti-join" })
      // Both ways in (append, anti-join) store the md5 of the payload as stored.
      const [hashes] = yield* w.query(
        `SELECT COUNT(*) AS n, COUNT(*) FILTER (WHERE payload_hash IS DISTINCT FROM md5(CAST(payload AS VARCHAR))) AS wrong FROM _kura_raw`
      )
      assert.deepStrictEqual([Number(hashes?.n), Number(hashes?.wrong)], [4, 0])
      const rows = yield* rowsOf(w)
      assert.deepStrictEqual(
        rows.map((x) => [x.source_id, x.updated_at, x._batch_id]),
        [
          ["gid://shopify/LineItem/11", null, "batch-1"],
          ["gid://shopify/Order/1", "2026-01-01 00:00:01+00", "batch-1"],
          ["gid://shopify/Order/1", "2026-03-01 00:00:00+00", "batch-2"],
          ["gid://shopify/Order/3", "2026-03-02 00:00:00+00", "batch-2"]
        ]
      )
      // Re-running batch 2 (as a resumed window does) gives the same table.
      yield* load([second], "batch-2")
      assert.deepStrictEqual(yield* rowsOf(w), rows)
      // Loading a batch file by file: the later files keep the batch's earlier rows.
      const part2 = write("e.jsonl", [order(4, "2026-03-03T00:00:00Z")])
      yield* load([part2], "batch-2", false)
      assert.strictEqual((yield* rowsOf(w)).length, 5)
    }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
  )

  it.live(
    "a window re-run over stored versions stays within kura-backfill's 128MB DuckDB limit (one thread)",
    () =>
      Effect.gen(function* () {
        // The emulator's bulk export of 500 orders, 14 times with shifted ids: ~27k lines, 40 MB,
        // a week of a busy shop. Joined straight from the file, DuckDB built the anti join's hash
        // table on the file side, payloads included, and the second load ran out of memory.
        const sandbox = yield* Effect.acquireRelease(
          Effect.promise(() => startSandbox({ seed: 5, scale: 500, timeScale: 1000 })),
          (s) => Effect.promise(() => s.close())
        )
        const text = yield* Effect.promise(() =>
          bulkExport(sandbox.shopify.baseUrl, sandbox.shopify.credentials.accessToken)
        )
        const copies = Array.from({ length: 14 }, (_, k) =>
          text.replace(
            /(gid:\/\/shopify\/[A-Za-z]+\/)(\d+)/g,
            (_m, p: string, d: string) => p + (BigInt(d) + BigInt(k) * 10n ** 15n)
          )
        )
        const file = join(dir, "week.jsonl")
        writeFileSync(file, copies.map((c) => c.trimEnd()).join("\n"))
        const lines = copies.reduce((n, c) => n + c.trimEnd().split("\n").length, 0)
        const first = yield* load([file], "window-1")
        assert.deepStrictEqual(first, { inserted: lines, mode: "append" })
        const again = yield* load([file], "window-1-recut")
        assert.deepStrictEqual(again, { inserted: 0, mode: "anti-join" })
        const [n] = yield* Effect.flatMap(Effect.service(Warehouse), (w) =>
          w.query("SELECT COUNT(*)::INTEGER AS n FROM _kura_raw")
        )
        assert.strictEqual(n?.n, lines)
      }).pipe(
        Effect.scoped,
        Effect.provide(
          DuckDbWarehouse.layer({
            path: join(dir, "limited.duckdb"),
            config: { memory_limit: "128MB", threads: "1" }
          })
        )
      ),
    120_000
  )

  it.effect("keys rows as RawLoader.loadRawBatch does (the lake path gives the same table)", () =>
    Effect.gen(function* () {
      const lines = [
        order(7, "2026-02-01T00:00:00Z"),
        item(71, 7),
        JSON.stringify({ id: 9, updated_at: "2026-02-02T00:00:00Z" })
      ]
      const viaFile = yield* Effect.gen(function* () {
        const w = yield* Warehouse
        yield* load([write("f.jsonl.gz", lines, true)], "b")
        return (yield* rowsOf(w)).map((x) => [x.source_id, x.updated_at])
      }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
      const viaLines = yield* Effect.gen(function* () {
        const w = yield* Warehouse
        yield* RawLoader.loadRawBatch({
          warehouse: w,
          key,
          batch: { batchId: "b", path: "lake/b.jsonl.gz" },
          lines: Stream.fromIterable(lines),
          fetchedAt: "2026-11-27T00:00:00.000Z"
        })
        return (yield* rowsOf(w)).map((x) => [x.source_id, x.updated_at])
      }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
      assert.deepStrictEqual(viaFile, viaLines)
    })
  )

  it.effect("no files: nothing to do", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* load([], "b"), { inserted: 0, mode: "none" })
    }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
  )
})

describe("_kura_raw payload storage", () => {
  it("declares the payload zstd on DuckDB only", () => {
    const raw = AllTables.find((t) => t.name === "_kura_raw")
    assert.isDefined(raw)
    if (raw === undefined) return
    assert.include(Sql.createTable(duckdbDialect(), raw), `"payload" JSON USING COMPRESSION zstd NOT NULL`)
    assert.notInclude(Sql.createTable(bigQueryDialect("p", "d"), raw), "COMPRESSION")
  })

  it.effect("a new warehouse file stores payloads with zstd, read back verbatim after a checkpoint", () =>
    Effect.gen(function* () {
      const w = yield* Warehouse
      const lines = Array.from({ length: 3_000 }, (_, i) => order(i, "2026-01-01T00:00:01Z"))
      yield* load([write("zstd.jsonl", lines)], "batch-zstd")
      yield* w.exclusive((sql) => sql.run("CHECKPOINT"))
      const storage = yield* w.query(
        "SELECT DISTINCT compression FROM pragma_storage_info('_kura_raw') WHERE column_name = 'payload' AND compression <> 'Constant'"
      )
      assert.deepStrictEqual(
        storage.map((r) => r.compression),
        ["ZSTD"]
      )
      const back = yield* w.query(
        "SELECT CAST(payload AS VARCHAR) AS p, payload ->> 'name' AS name FROM _kura_raw WHERE source_id = 'gid://shopify/Order/2999'"
      )
      assert.deepStrictEqual(JSON.parse(String(back[0]?.p)), JSON.parse(order(2999, "2026-01-01T00:00:01Z")))
      assert.strictEqual(back[0]?.name, "#2999")
    }).pipe(Effect.provide(DuckDbWarehouse.layer({ path: join(dir, "zstd.duckdb") })))
  )
})
