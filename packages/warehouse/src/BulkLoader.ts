/**
 * Streaming JSONL → canonical tables: parse each line, map it, buffer rows per table and load a
 * table whenever its buffer is full. Memory is bounded by `chunkSize` rows per table whatever the
 * file size; there is never per-row SQL. Lines that do not parse or map are dead-lettered.
 */
import type { DeadLetter, StreamKey } from "@kura/core"
import { Clock, Effect, Stream } from "effect"
import { stringifyJson } from "./internal/rowText.js"
import type { CanonicalRows, MapContext } from "./Mapper.js"
import type { CanonicalTableName } from "./Tables.js"
import type { LoadResult, LoadRow, Warehouse } from "./Warehouse.js"
import type { WarehouseError } from "./WarehouseError.js"

/** What a bulk load did. */
export interface BulkLoadResult {
  readonly lines: number
  /** Lines that failed to parse or map (dead-lettered). */
  readonly rejectedLines: number
  readonly tables: Readonly<Partial<Record<CanonicalTableName, LoadResult>>>
}

/** Options of `loadJsonl`. */
export interface BulkLoadOptions<E> {
  readonly warehouse: Warehouse["Service"]
  /** Lines of a JSONL file (e.g. `RawLake.readLines`, or a Shopify bulk operation result). */
  readonly lines: Stream.Stream<string, E>
  /** Maps one parsed record; a thrown error dead-letters the line. */
  readonly mapper: (record: unknown, ctx: MapContext) => CanonicalRows
  readonly context: MapContext
  /** The stream key used on dead letters. */
  readonly key: StreamKey
  /** Where the lines came from (lake path, bulk URL), recorded on dead letters. */
  readonly origin: string
  /** Rows buffered per table before a load (default 20,000). */
  readonly chunkSize?: number
}

const emptyResult = (table: string): LoadResult => ({
  table,
  received: 0,
  inserted: 0,
  updated: 0,
  unchanged: 0,
  deadLettered: 0,
  addedColumns: []
})

/** Loads a JSONL stream through a mapper into the canonical tables. */
export const loadJsonl = <E>(
  options: BulkLoadOptions<E>
): Effect.Effect<BulkLoadResult, E | WarehouseError> =>
  Effect.gen(function* () {
    const chunkSize = options.chunkSize ?? 20_000
    const buffers = new Map<CanonicalTableName, Array<LoadRow>>()
    const results = new Map<CanonicalTableName, LoadResult>()
    let lines = 0
    let rejected = 0
    let letters: Array<DeadLetter> = []
    const w = options.warehouse

    const flush = (table: CanonicalTableName) =>
      Effect.gen(function* () {
        const rows = buffers.get(table)
        if (!rows || rows.length === 0) return
        buffers.set(table, [])
        const r = yield* w.load(table, rows, { origin: options.origin })
        const prev = results.get(table) ?? emptyResult(table)
        results.set(table, {
          table,
          received: prev.received + r.received,
          inserted: prev.inserted + r.inserted,
          updated: prev.updated + r.updated,
          unchanged: prev.unchanged + r.unchanged,
          deadLettered: prev.deadLettered + r.deadLettered,
          addedColumns: [...prev.addedColumns, ...r.addedColumns]
        })
      })
    const flushLetters = Effect.gen(function* () {
      if (letters.length === 0) return
      const batch = letters
      letters = []
      yield* w.deadLetters.write(batch).pipe(Effect.orDie)
    })

    yield* Stream.runForEachArray(options.lines, (chunk) =>
      Effect.gen(function* () {
        const full = new Set<CanonicalTableName>()
        for (const line of chunk) {
          if (line.length === 0) continue
          lines++
          let rows: CanonicalRows
          try {
            rows = options.mapper(JSON.parse(line), options.context)
          } catch (e) {
            rejected++
            letters.push({
              key: options.key,
              sourceId: null,
              payload: line,
              reason: e instanceof SyntaxError ? "decode" : "map",
              detail: e instanceof Error ? e.message : stringifyJson(e),
              origin: options.origin,
              at: yield* Clock.currentTimeMillis
            })
            continue
          }
          for (const table in rows) {
            const name = table as CanonicalTableName
            const produced: ReadonlyArray<LoadRow> | undefined = rows[name]
            if (!produced || produced.length === 0) continue
            let buf = buffers.get(name)
            if (!buf) {
              buf = []
              buffers.set(name, buf)
            }
            for (const row of produced) buf.push(row)
            if (buf.length >= chunkSize) full.add(name)
          }
        }
        for (const table of full) yield* flush(table)
        if (letters.length >= 1_000) yield* flushLetters
      })
    )
    for (const table of [...buffers.keys()]) yield* flush(table)
    yield* flushLetters
    return { lines, rejectedLines: rejected, tables: Object.fromEntries(results) } satisfies BulkLoadResult
  }).pipe(Effect.withSpan("BulkLoader.loadJsonl"))
