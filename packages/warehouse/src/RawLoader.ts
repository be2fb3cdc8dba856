/**
 * Loads lake batches into the raw table (`_kura_raw`): one row per record with its source, stream,
 * account, id, `updated_at`, payload (verbatim JSON text), fetch time and batch id. This table is
 * the replay source for re-modelling.
 */
import { createHash } from "node:crypto"
import type { DeadLetter, StreamKey } from "@kura/core"
import { Effect, Result, Schema, Stream } from "effect"
import type { LakeObject } from "./RawLake.js"
import type { LoadResult, LoadRow, Warehouse } from "./Warehouse.js"
import type { WarehouseError } from "./WarehouseError.js"

/** Reads a record's id and last-modified time; a null id names the record by its content (`line:<md5>`). */
export type Identify = (record: unknown) => { readonly id: string | null; readonly updatedAt: string | null }

const Identifiable = Schema.Struct({
  id: Schema.optional(Schema.Union([Schema.String, Schema.Number])),
  updated_at: Schema.optional(Schema.NullOr(Schema.String)),
  updatedAt: Schema.optional(Schema.NullOr(Schema.String))
})
const decodeIdentifiable = Schema.decodeUnknownOption(Identifiable)

/** Default identification: `id` plus `updated_at` or `updatedAt` (Shopify, Lightspeed and Stocky all have these). */
export const defaultIdentify: Identify = (record) => {
  const r = decodeIdentifiable(record)
  if (r._tag === "None") return { id: null, updatedAt: null }
  const id = r.value.id === undefined ? null : String(r.value.id)
  return { id, updatedAt: r.value.updated_at ?? r.value.updatedAt ?? null }
}

/** Loads the lines of one lake batch into `_kura_raw`. */
export const loadRawBatch = <E>(options: {
  readonly warehouse: Warehouse["Service"]
  readonly key: StreamKey
  readonly batch: Pick<LakeObject, "batchId" | "path">
  readonly lines: Stream.Stream<string, E>
  /** When the batch was fetched (ISO-8601). */
  readonly fetchedAt: string
  readonly identify?: Identify
  readonly chunkSize?: number
  /**
   * A line replaces the stored row of the same record version (same id and `updated_at`) instead
   * of leaving the first copy in place: for a record the operator corrected (a dead-letter
   * replay), which is then what re-modelling reads. The batch's lines are held in memory, so
   * this is for small batches. Default false: a re-landed batch keeps the first copy.
   */
  readonly supersede?: boolean
}): Effect.Effect<LoadResult, E | WarehouseError> => {
  const identify = options.identify ?? defaultIdentify
  let lineNo = 0
  const invalid: Array<DeadLetter> = []
  const rows = options.lines.pipe(
    Stream.filterMap((line): Result.Result<LoadRow, void> => {
      lineNo++
      let parsed: unknown
      try {
        parsed = JSON.parse(line)
      } catch (e) {
        // The payload column is JSON: a line that is not JSON is kept as a dead letter instead.
        invalid.push({
          key: options.key,
          sourceId: null,
          payload: line,
          reason: "decode",
          detail: `line ${lineNo} is not JSON: ${e instanceof Error ? e.message : String(e)}`,
          origin: options.batch.path,
          at: Date.parse(options.fetchedAt) || 0
        })
        return Result.failVoid
      }
      const { id, updatedAt } = identify(parsed)
      const validUpdatedAt = updatedAt !== null && !Number.isNaN(Date.parse(updatedAt)) ? updatedAt : null
      return Result.succeed({
        source: options.key.source,
        source_account: options.key.account,
        stream: options.key.stream,
        // A record without an id is named by its content, as RawFileLoader does: a line number
        // would collide with another batch's line of the same number (insert-only table).
        source_id: id ?? `line:${createHash("md5").update(line).digest("hex")}`,
        updated_at: validUpdatedAt,
        payload: line,
        fetched_at: options.fetchedAt,
        _batch_id: options.batch.batchId,
        lake_path: options.batch.path
      })
    })
  )
  const load =
    options.supersede === true
      ? Effect.flatMap(Stream.runCollect(rows), (collected) =>
          Effect.andThen(
            removeVersions(options.warehouse, collected),
            options.warehouse.load("_kura_raw", collected, { origin: options.batch.path })
          )
        )
      : options.warehouse.loadStream("_kura_raw", rows, {
          origin: options.batch.path,
          ...(options.chunkSize ? { chunkSize: options.chunkSize } : {})
        })
  return load.pipe(
    Effect.tap(() =>
      invalid.length > 0 ? Effect.orDie(options.warehouse.deadLetters.write(invalid)) : Effect.void
    ),
    Effect.map((r) => ({
      ...r,
      received: r.received + invalid.length,
      deadLettered: r.deadLettered + invalid.length
    }))
  )
}

/**
 * Deletes the stored `_kura_raw` rows of these rows' record versions (NULL `updated_at` matches
 * NULL). A record without an id is named by its content, so it has no other version to replace.
 */
const removeVersions = (warehouse: Warehouse["Service"], all: ReadonlyArray<LoadRow>) => {
  const rows = all.filter((r) => typeof r.source_id === "string" && !r.source_id.startsWith("line:"))
  const d = warehouse.dialect
  const col = d.ident
  const sql = `DELETE FROM ${d.table("_kura_raw")} WHERE ${col("source")} = ${d.param("source")} AND ${col("source_account")} = ${d.param("account")} AND ${col("stream")} = ${d.param("stream")} AND ${col("source_id")} = ${d.param("id")} AND ${d.nullSafeEq(col("updated_at"), `CAST(${d.param("updated_at")} AS ${d.type("timestamp")})`)}`
  const text = (v: unknown): string | null => (typeof v === "string" ? v : null)
  return rows.length === 0
    ? Effect.void
    : warehouse.exclusive((x) =>
        Effect.forEach(
          rows,
          (r) =>
            x.run(sql, {
              source: text(r.source),
              account: text(r.source_account),
              stream: text(r.stream),
              id: text(r.source_id),
              updated_at: text(r.updated_at)
            }),
          { discard: true }
        )
      )
}
