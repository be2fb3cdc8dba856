/**
 * `_kura_raw.payload_hash`: the md5 of the stored payload text, which every writer keeps true.
 * A re-read of unversioned records (Lightspeed sales re-read per day, items) whose payloads
 * are all stored unchanged is recognised by a probe comparing hashes, and the MERGE is not run
 * at all; a changed payload is written (hashes compared in the MERGE, not payloads); a row
 * without a hash counts as changed. Statements are counted on the real DuckDB connections.
 */
import { createHash } from "node:crypto"
import { DuckDBConnection } from "@duckdb/node-api"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { vi } from "vitest"
import { DuckDbWarehouse, duckdbDialect, Warehouse } from "../src/index.js"
import * as RSql from "../src/internal/redactionSql.js"

const md5 = (text: string) => createHash("md5").update(text, "utf8").digest("hex")
const ACCOUNT = "kura-matcha-ls"

/** A raw row of a record without updated_at (a Lightspeed item), as RawLoader builds it. */
const item = (id: string, price: string, batch: string, fetchedAt: string) => ({
  source: "lightspeed",
  source_account: ACCOUNT,
  stream: "items",
  source_id: id,
  updated_at: null,
  payload: `{"id":"${id}","name":"Sencha 抹茶","price":"${price}"}`,
  fetched_at: fetchedAt,
  _batch_id: batch,
  lake_path: `file:///lake/${batch}.ndjson.gz`
})
const versioned = (batch: string, fetchedAt: string) => ({
  ...item("9", "1", batch, fetchedAt),
  stream: "sales",
  updated_at: "2026-11-01T00:00:00Z"
})

/** `effect`'s result and the SQL of every statement DuckDB ran meanwhile (every connection). */
const traced = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const sql: Array<string> = []
      const original = DuckDBConnection.prototype.run
      const spy = vi.spyOn(DuckDBConnection.prototype, "run").mockImplementation(function (
        this: DuckDBConnection,
        ...args: Parameters<DuckDBConnection["run"]>
      ) {
        sql.push(String(args[0]))
        return original.apply(this, args)
      })
      return { sql, spy }
    }),
    ({ sql }) => Effect.map(effect, (result) => ({ result, sql })),
    ({ spy }) => Effect.sync(() => spy.mockRestore())
  )
const merges = (sql: ReadonlyArray<string>) => sql.filter((s) => s.trimStart().startsWith("MERGE INTO"))

const stored = Effect.flatMap(Effect.service(Warehouse), (w) =>
  w.query(
    `SELECT source_id, CAST(payload AS VARCHAR) AS p, payload_hash AS h, _batch_id AS b FROM "_kura_raw" ORDER BY source_id`
  )
)
/** Rows whose hash is not the md5 of their stored payload text (none, ever). */
const wrongHashes = Effect.flatMap(Effect.service(Warehouse), (w) =>
  Effect.map(
    w.query(
      `SELECT COUNT(*) AS n FROM "_kura_raw" WHERE payload_hash IS DISTINCT FROM md5(CAST(payload AS VARCHAR))`
    ),
    ([row]) => Number(row?.n)
  )
)

describe("_kura_raw.payload_hash", () => {
  it.effect(
    "an unchanged re-read runs no MERGE and writes nothing; a changed copy is written with its hash; new keys insert-only",
    () =>
      Effect.gen(function* () {
        const w = yield* Warehouse
        const first = yield* w.load("_kura_raw", [
          item("a", "1", "b1", "2026-11-27T00:00:00Z"),
          item("b", "1", "b1", "2026-11-27T00:00:00Z"),
          versioned("b1", "2026-11-27T00:00:00Z")
        ])
        assert.strictEqual(first.inserted, 3)
        assert.strictEqual(yield* wrongHashes, 0)

        // The same records fetched again later: nothing changed, so no MERGE at all.
        const again = yield* traced(
          w.load("_kura_raw", [
            item("a", "1", "b2", "2026-11-27T01:00:00Z"),
            item("b", "1", "b2", "2026-11-27T01:00:00Z"),
            versioned("b2", "2026-11-27T01:00:00Z")
          ])
        )
        assert.deepStrictEqual(
          [again.result.inserted, again.result.updated, again.result.unchanged],
          [0, 0, 3]
        )
        assert.deepStrictEqual(merges(again.sql), [])
        assert.deepStrictEqual(
          (yield* stored).map((r) => r.b),
          ["b1", "b1", "b1"]
        )

        // "b" changed: written, with the hash of its new payload; the MERGE compares hashes.
        const changed = yield* traced(
          w.load("_kura_raw", [
            item("a", "1", "b3", "2026-11-27T02:00:00Z"),
            item("b", "2", "b3", "2026-11-27T02:00:00Z")
          ])
        )
        assert.deepStrictEqual([changed.result.inserted, changed.result.updated], [0, 1])
        assert.strictEqual(merges(changed.sql).length, 1)
        assert.include(merges(changed.sql)[0], `s."payload_hash" <> t."payload_hash"`)
        assert.notInclude(merges(changed.sql)[0], `CAST(t."payload" AS VARCHAR)`)
        const b = (yield* stored).find((r) => r.source_id === "b")
        assert.deepStrictEqual(
          [b?.p, b?.h, b?.b],
          [item("b", "2", "", "").payload, md5(item("b", "2", "", "").payload), "b3"]
        )

        // Unchanged ones beside a new one: the MERGE runs insert-only.
        const added = yield* traced(
          w.load("_kura_raw", [
            item("a", "1", "b4", "2026-11-27T03:00:00Z"),
            item("c", "1", "b4", "2026-11-27T03:00:00Z")
          ])
        )
        assert.deepStrictEqual([added.result.inserted, added.result.updated], [1, 0])
        assert.strictEqual(merges(added.sql).length, 1)
        assert.notInclude(merges(added.sql)[0], "WHEN MATCHED")

        // More rows than a MERGE takes inline (staged first): the same.
        const many = (batch: string, at: string) =>
          Array.from({ length: 150 }, (_, i) => item(`n${i}`, "1", batch, at))
        const staged = yield* w.load("_kura_raw", many("b5", "2026-11-27T04:00:00Z"))
        assert.strictEqual(staged.inserted, 150)
        const stagedAgain = yield* traced(w.load("_kura_raw", many("b6", "2026-11-27T05:00:00Z")))
        assert.deepStrictEqual([stagedAgain.result.inserted, stagedAgain.result.updated], [0, 0])
        assert.deepStrictEqual(merges(stagedAgain.sql), [])
        const stagedChanged = yield* w.load("_kura_raw", [
          ...many("b7", "2026-11-27T06:00:00Z").slice(1),
          item("n0", "5", "b7", "2026-11-27T06:00:00Z")
        ])
        assert.deepStrictEqual([stagedChanged.inserted, stagedChanged.updated], [0, 1])
        assert.strictEqual(yield* wrongHashes, 0)
      }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
  )

  it.effect(
    "a stored row without a hash is rewritten by a later copy of the same payload, never skipped",
    () =>
      Effect.gen(function* () {
        const w = yield* Warehouse
        yield* w.load("_kura_raw", [
          item("a", "1", "b1", "2026-11-27T00:00:00Z"),
          item("b", "1", "b1", "2026-11-27T00:00:00Z")
        ])
        // As an older Kura (or one that does not know the column) left it.
        yield* w.query(`UPDATE "_kura_raw" SET payload_hash = NULL WHERE source_id = 'a'`)
        // An older copy still does not win back, hash or not.
        const older = yield* w.load("_kura_raw", [item("a", "1", "b0", "2026-11-26T00:00:00Z")])
        assert.deepStrictEqual([older.inserted, older.updated], [0, 0])
        const later = yield* traced(
          w.load("_kura_raw", [
            item("a", "1", "b2", "2026-11-27T01:00:00Z"),
            item("b", "1", "b2", "2026-11-27T01:00:00Z")
          ])
        )
        assert.deepStrictEqual([later.result.inserted, later.result.updated], [0, 1])
        assert.strictEqual(merges(later.sql).length, 1)
        assert.deepStrictEqual(
          (yield* stored).map((r) => [r.source_id, r.h, r.b]),
          [
            ["a", md5(item("a", "1", "", "").payload), "b2"],
            ["b", md5(item("b", "1", "", "").payload), "b1"]
          ]
        )
      }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
  )

  it.effect(
    "a payload redaction rewrote keeps its hash true, so the source's copy re-read differs and is written again",
    () =>
      Effect.gen(function* () {
        const w = yield* Warehouse
        yield* w.load("_kura_raw", [item("a", "1", "b1", "2026-11-27T00:00:00Z")])
        // The statement Redaction runs for _kura_raw (its parameters as it binds them).
        const redacted = '{"id":"a","name":"[redacted]","price":"1"}'
        yield* w.query(RSql.updateRawPayloads(duckdbDialect(), 1), {
          source: "lightspeed",
          account: ACCOUNT,
          r0_stream: "items",
          r0_source_id: "a",
          r0_updated_at: null,
          r0_payload: redacted
        })
        assert.deepStrictEqual(
          (yield* stored).map((r) => [r.p, r.h]),
          [[redacted, md5(redacted)]]
        )
        // The re-read brings the source's copy back (the ledger's re-apply after the pass
        // redacts it again, as before the hash).
        const reread = yield* w.load("_kura_raw", [item("a", "1", "b2", "2026-11-27T01:00:00Z")])
        assert.strictEqual(reread.updated, 1)
        assert.strictEqual(yield* wrongHashes, 0)
      }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
  )
})
