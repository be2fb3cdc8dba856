/**
 * Loads NDJSON files straight into the raw table (`_kura_raw`) on DuckDB: the engine reads the
 * files itself (`read_ndjson_objects`), one row per line kept verbatim, keyed as `RawLoader` keys
 * a lake batch (the line's `id` and `updatedAt`/`updated_at`). No line passes through the JS heap,
 * which is what lets a backfill of a large shop keep Node's memory flat. `RawLoader.loadRawBatch`
 * stays the path for BigQuery and for lines already in hand.
 */
import type { StreamKey } from "@kura/core"
import { Effect } from "effect"
import { MAX_LINE_BYTES } from "./bulk/ShopifyOrdersSql.js"
import { withSetting } from "./internal/duckdbSettings.js"
import { stringLiteral } from "./Sql.js"
import type { ExclusiveSql, Warehouse } from "./Warehouse.js"
import { WarehouseError } from "./WarehouseError.js"

/** What `loadRawFiles` did. */
export interface RawFilesResult {
  /** Rows added to `_kura_raw` (lines whose record version was not there yet). */
  readonly inserted: number
  /** How the rows went in: "append" (the stream had no raw row yet) or "anti-join" (new keys only). */
  readonly mode: "append" | "anti-join" | "none"
}

/** Options of `loadRawFiles`. */
export interface RawFilesOptions {
  readonly warehouse: Warehouse["Service"]
  readonly key: StreamKey
  /** Local NDJSON files (plain or gzip: DuckDB reads both), loaded as one batch. */
  readonly files: ReadonlyArray<string>
  readonly batchId: string
  /** The lake object the lines also went to (the row's `lake_path`). */
  readonly lakePath: string
  /** When the lines were fetched (ISO-8601). */
  readonly fetchedAt: string
  /**
   * Removes the batch's earlier rows first, so re-running a batch replaces it (default true).
   * Pass false when a batch is loaded file by file, for every file after the first.
   */
  readonly replaceBatch?: boolean
}

const lit = stringLiteral

let keySeq = 0

const fail = (message: string) =>
  new WarehouseError({ reason: "InvalidInput", operation: "loadRawFiles", message })

/**
 * Loads the lines of `files` into `_kura_raw` as one batch: one row per line (`source_id` the
 * line's `id`, or `line:<md5 of the line>` when it has none; `updated_at` its `updatedAt` or
 * `updated_at` when that is a timestamp). A record version already in the table (same stream,
 * id and `updated_at`, from another batch) is not added again: the table's key. Lines that are
 * not JSON objects are skipped (a bulk result's lines are checked against its object count
 * before this). DuckDB only; a BigQuery warehouse fails with `InvalidInput`.
 */
export const loadRawFiles = Effect.fn("RawFileLoader.loadRawFiles")(function* (options: RawFilesOptions) {
  const w = options.warehouse
  if (w.dialect.name !== "duckdb")
    return yield* fail(
      "loadRawFiles reads local files with DuckDB; on BigQuery load the lake batch with RawLoader.loadRawBatch"
    )
  if (options.files.length === 0) return { inserted: 0, mode: "none" } satisfies RawFilesResult
  const { key } = options
  const scope = (alias: string) =>
    `${alias}source = ${lit(key.source)} AND ${alias}source_account = ${lit(key.account)} AND ${alias}stream = ${lit(key.stream)}`
  const files = `[${options.files.map(lit).join(", ")}]`
  // Lines without an id (none in Shopify's order export so far) are keyed by their content.
  const idOf = `COALESCE(json ->> 'id', 'line:' || md5(CAST(json AS VARCHAR)))`
  const lines = `read_ndjson_objects(${files}, ignore_errors = true, maximum_object_size = ${MAX_LINE_BYTES})`
  const rows = `SELECT ${idOf} AS source_id,
       TRY_CAST(COALESCE(json ->> 'updatedAt', json ->> 'updated_at') AS TIMESTAMPTZ) AS updated_at,
       json AS payload
FROM ${lines}
WHERE json IS NOT NULL`
  const insertFrom = (
    source: string
  ) => `INSERT INTO _kura_raw (source, source_account, stream, source_id, updated_at, payload, fetched_at, _batch_id, lake_path, payload_hash)
SELECT ${lit(key.source)}, ${lit(key.account)}, ${lit(key.stream)}, r.source_id, r.updated_at, r.payload, CAST(${lit(options.fetchedAt)} AS TIMESTAMPTZ), ${lit(options.batchId)}, ${lit(options.lakePath)}, ${w.dialect.jsonMd5("r.payload")}
FROM ${source} r`

  const load = (sql: ExclusiveSql) =>
    Effect.gen(function* () {
      if (options.replaceBatch ?? true)
        yield* sql.run(`DELETE FROM _kura_raw WHERE ${scope("")} AND _batch_id = ${lit(options.batchId)}`)
      const present = yield* sql.query(`SELECT EXISTS (SELECT 1 FROM _kura_raw WHERE ${scope("")}) AS p`)
      // A stream with no raw row yet (a first backfill) cannot hold a line's key: append without
      // a join.
      if (present[0]?.p !== true)
        return { inserted: yield* sql.run(insertFrom(`(${rows})`)), mode: "append" } satisfies RawFilesResult
      // Otherwise skip record versions another batch landed already, joining on the keys only so
      // the payloads never sit in a hash table. The lines are staged in a temporary table first
      // (read once, and a table DuckDB can spill): joined straight from the file, DuckDB guessed
      // the file a few rows, built the hash table on it, payloads included, and a re-run window
      // of 7k orders ran out of 128MB.
      const suffix = `${Date.now().toString(36)}_${(keySeq++).toString(36)}`
      const staged = `_kura_raw_lines_${suffix}`
      const keys = `_kura_raw_keys_${suffix}`
      return yield* Effect.ensuring(
        Effect.gen(function* () {
          yield* sql.run(`CREATE TEMP TABLE ${staged} AS ${rows}`)
          yield* sql.run(
            `CREATE TEMP TABLE ${keys} AS SELECT DISTINCT t.source_id, t.updated_at FROM _kura_raw t
SEMI JOIN ${staged} f ON t.source_id = f.source_id
WHERE ${scope("t.")}`
          )
          const inserted = yield* sql.run(
            `${insertFrom(staged)}\nANTI JOIN ${keys} k ON k.source_id = r.source_id AND k.updated_at IS NOT DISTINCT FROM r.updated_at`
          )
          return { inserted, mode: "anti-join" } satisfies RawFilesResult
        }),
        Effect.andThen(
          Effect.ignore(sql.run(`DROP TABLE IF EXISTS ${keys}`)),
          Effect.ignore(sql.run(`DROP TABLE IF EXISTS ${staged}`))
        )
      )
    })

  // Row order within the batch carries no meaning; keeping it makes DuckDB buffer the scan.
  return yield* w.exclusive((sql) => withSetting(sql, "preserve_insertion_order", "false", null, load(sql)))
})
