/**
 * Lands one window of typed records (Lightspeed sales, Stocky records): each chunk is mapped to
 * canonical rows and upserted while its records stream into a gzip NDJSON lake batch; the batch
 * is then loaded into `_kura_raw`. Memory is one chunk per window in flight, whatever the history.
 */
import { createHash } from "node:crypto"
import type { DeadLetter, StreamKey } from "@kura/core"
import {
  type CanonicalRows,
  type CanonicalTableName,
  type LoadRow,
  RawLake,
  RawLoader,
  Warehouse
} from "@kura/warehouse"
import { DateTime, Effect, Stream } from "effect"
import type { PlannedWindow } from "./Plan.js"
import type { WindowOutcome } from "./WindowOutcome.js"

/**
 * One JSON line per record: bigint ids become strings and Effect DateTimes ISO-8601 instants
 * (the decoded form of Stocky's mixed timestamp formats).
 */
export const toJsonLine = (record: unknown): string =>
  JSON.stringify(record, function (this: Record<string, unknown>, key: string, value: unknown) {
    const original = key === "" ? value : this[key]
    if (DateTime.isDateTime(original)) return DateTime.formatIso(DateTime.toUtc(original))
    return typeof value === "bigint" ? value.toString() : value
  })

/** What a chunk of records maps to. */
export interface MappedChunk {
  readonly rows: CanonicalRows
  readonly deadLetters: ReadonlyArray<DeadLetter>
}

/** Input of `landWindow`. */
export interface LandInput<A, E> {
  readonly window: PlannedWindow
  /** The raw key (`_kura_raw` rows and the lake path). */
  readonly key: StreamKey
  readonly batchId: string
  readonly records: Stream.Stream<A, E>
  /** The record's id (what the reconciliation counts), or null when it has none. */
  readonly idOf: (record: A) => string | null
  /** The same id read back from a lake line (parsed JSON), for `_kura_raw`. */
  readonly identify: RawLoader.Identify
  /** Maps a chunk to canonical rows; a record that cannot be mapped becomes a dead letter. */
  readonly map: (records: ReadonlyArray<A>) => MappedChunk
  /** What the lake keeps of a record (default: the record itself). */
  readonly toLine?: (record: A) => unknown
  /** The canonical table whose rows are reported as `canonicalRows`. */
  readonly primaryTable: CanonicalTableName
  /** The API's own count when it gives one; otherwise the distinct ids it returned are reported. */
  readonly reportedCount?: number | null
  readonly onRecords: (n: number) => Effect.Effect<void>
  readonly chunkSize?: number
}

/**
 * The records of a landed lake batch that the batch itself does not hold but `_kura_raw` holds
 * from another batch at the same or a newer `updated_at` (a record without one counts when any
 * copy is held): the versions the raw load skipped because a sync, a webhook or an earlier cut
 * of the window landed them first. A record held only at an older version is not counted (a real
 * gap). Reads the batch back from the lake and asks the warehouse for ids only, 500 at a time;
 * meant for the windows that fall short, not every window. DuckDB and BigQuery.
 */
export const countHeldElsewhere = (input: {
  readonly key: StreamKey
  readonly batchId: string
  readonly lakePath: string
  readonly identify?: RawLoader.Identify
}) =>
  Effect.gen(function* () {
    const warehouse = yield* Warehouse
    const lake = yield* RawLake
    const d = warehouse.dialect
    const identify = input.identify ?? RawLoader.defaultIdentify
    const epochMs = (col: string) => (d.name === "bigquery" ? `UNIX_MILLIS(${col})` : `epoch_ms(${col})`)
    // The newest fetched version of each id (a window may return a record twice).
    const fetched = new Map<string, number | null>()
    yield* lake.readLines(input.lakePath).pipe(
      Stream.runForEach((line) =>
        Effect.sync(() => {
          let parsed: unknown
          try {
            parsed = JSON.parse(line)
          } catch {
            return
          }
          const { id, updatedAt } = identify(parsed)
          const key = id ?? `line:${createHash("md5").update(line).digest("hex")}`
          const at = updatedAt === null ? Number.NaN : Date.parse(updatedAt)
          const ms = Number.isNaN(at) ? null : at
          const prev = fetched.get(key)
          if (prev === undefined || (prev !== null && ms !== null && ms > prev)) fetched.set(key, ms)
        })
      )
    )
    const ids = [...fetched.keys()]
    let held = 0
    for (let i = 0; i < ids.length; i += 500) {
      const part = ids.slice(i, i + 500)
      const params: Record<string, string> = {
        source: input.key.source,
        account: input.key.account,
        stream: input.key.stream
      }
      part.forEach((id, j) => {
        params[`i${j}`] = id
      })
      const col = d.ident
      const rows = yield* warehouse.query(
        `SELECT ${col("source_id")} AS id, ${col("_batch_id")} AS batch, ${epochMs(col("updated_at"))} AS ms FROM ${d.table("_kura_raw")} WHERE ${col("source")} = ${d.param("source")} AND ${col("source_account")} = ${d.param("account")} AND ${col("stream")} = ${d.param("stream")} AND ${col("source_id")} IN (${part.map((_, j) => d.param(`i${j}`)).join(", ")})`,
        params
      )
      const inBatch = new Set<string>()
      const newest = new Map<string, number | null>()
      for (const r of rows) {
        const id = String(r.id)
        if (r.batch === input.batchId) inBatch.add(id)
        else {
          const ms = r.ms === null || r.ms === undefined ? null : Number(r.ms)
          const prev = newest.get(id)
          newest.set(
            id,
            prev === undefined ? ms : prev === null || ms === null ? (prev ?? ms) : Math.max(prev, ms)
          )
        }
      }
      for (const id of part) {
        if (inBatch.has(id) || !newest.has(id)) continue
        const want = fetched.get(id) ?? null
        const have = newest.get(id) ?? null
        if (want === null || (have !== null && have >= want)) held++
      }
    }
    return held
  })

/**
 * What a landed batch accounts for: the distinct records it loaded into `_kura_raw`, and, only
 * when that falls short of `reportedCount`, those other batches already hold at the same or a
 * newer version (`countHeldElsewhere`).
 */
export const accountBatch = (input: {
  readonly key: StreamKey
  readonly batchId: string
  readonly lakePath: string
  readonly reportedCount: number | null
  readonly identify?: RawLoader.Identify
  /**
   * Only ids with this prefix are the stream's records. A `--restart` re-runs a window under the
   * same batch id, and Shopify's SQL fast path lands each child line of an order as a row of its
   * own in that batch: without the prefix, a JS-path re-run of a fast-path window counted those
   * children as loaded orders (103 reported, 406 "loaded": NOT TIED).
   */
  readonly idPrefix?: string
}) =>
  Effect.gen(function* () {
    const warehouse = yield* Warehouse
    const p = warehouse.dialect.param
    const params: Record<string, string> = {
      source: input.key.source,
      account: input.key.account,
      stream: input.key.stream,
      batch: input.batchId
    }
    if (input.idPrefix !== undefined) params.prefix = `${input.idPrefix}%`
    // Named with its dataset: BigQuery has no default dataset to find a bare `_kura_raw` in.
    const rows = yield* warehouse.query(
      `SELECT COUNT(DISTINCT source_id) AS n FROM ${warehouse.dialect.table("_kura_raw")} WHERE source = ${p("source")} AND source_account = ${p("account")} AND stream = ${p("stream")} AND _batch_id = ${p("batch")}${input.idPrefix === undefined ? "" : ` AND source_id LIKE ${p("prefix")}`}`,
      params
    )
    const loaded = Number(rows[0]?.n ?? 0)
    const alreadyHeld =
      input.reportedCount !== null && loaded < input.reportedCount
        ? yield* countHeldElsewhere({
            key: input.key,
            batchId: input.batchId,
            lakePath: input.lakePath,
            ...(input.identify === undefined ? {} : { identify: input.identify })
          })
        : 0
    return { loaded, alreadyHeld }
  })

/** Fetches, maps and loads one window; returns the numbers to reconcile. */
export const landWindow = <A, E>(input: LandInput<A, E>) =>
  Effect.gen(function* () {
    const warehouse = yield* Warehouse
    const lake = yield* RawLake
    const seen = new Set<string>()
    let fetched = 0
    let canonical = 0
    const lines = input.records.pipe(
      Stream.rechunk(input.chunkSize ?? 500),
      Stream.chunks,
      Stream.mapEffect((chunk) =>
        Effect.gen(function* () {
          fetched += chunk.length
          for (const r of chunk) {
            const id = input.idOf(r)
            if (id !== null) seen.add(id)
          }
          const mapped = input.map(chunk)
          if (mapped.deadLetters.length > 0) yield* warehouse.deadLetters.write(mapped.deadLetters)
          for (const [table, rows] of Object.entries(mapped.rows) as Array<
            [CanonicalTableName, ReadonlyArray<LoadRow>]
          >) {
            if (rows.length === 0) continue
            const res = yield* warehouse.load(table, rows, { origin: `backfill:${input.window.id}` })
            if (table === input.primaryTable) canonical += res.received
          }
          yield* input.onRecords(chunk.length)
          const toLine = input.toLine
          return toLine === undefined ? chunk.map(toJsonLine) : chunk.map((r) => toJsonLine(toLine(r)))
        })
      ),
      Stream.flattenIterable
    )
    const fetchedAt = new Date().toISOString()
    const object = yield* lake.writeBatch({
      key: input.key,
      batchId: input.batchId,
      lines,
      dt: new Date(input.window.start).toISOString().slice(0, 10)
    })
    yield* RawLoader.loadRawBatch({
      warehouse,
      key: input.key,
      batch: object,
      lines: lake.readLines(object.path),
      fetchedAt,
      identify: input.identify,
      chunkSize: warehouse.dialect.name === "bigquery" ? 20_000 : 1_000
    })
    const reportedCount = input.reportedCount ?? seen.size
    const { loaded, alreadyHeld } = yield* accountBatch({
      key: input.key,
      batchId: input.batchId,
      lakePath: object.path,
      reportedCount,
      identify: input.identify
    })
    const outcome: WindowOutcome = {
      window: input.window,
      // No count from the API: the distinct ids fetched are what must land, each exactly once.
      reportedCount,
      countBasis: input.reportedCount === undefined || input.reportedCount === null ? "distinct-ids" : "api",
      duplicatesFetched: fetched - seen.size,
      fetched,
      loaded,
      alreadyHeld,
      canonicalRows: canonical,
      points: input.window.estimatedCost,
      lakePath: object.path
    }
    return outcome
  })
