/**
 * JSONL → canonical tables, two ways:
 * - `loadJsonl`, for any source with a JS mapper: parse each line, map it, buffer rows per table
 *   and load a table whenever its buffer is full. Memory is bounded by `chunkSize` rows per table
 *   whatever the file size; there is never per-row SQL.
 * - `loadShopifyOrdersFile`, the DuckDB fast path for Shopify bulk order files: DuckDB reads the
 *   file itself and the order mapping runs as SQL (`bulk/ShopifyOrdersSql.ts`), in passes of
 *   `ordersPerPass` orders, one INSERT (or MERGE) per table per pass. No JS object per line.
 * Both dead-letter what they cannot parse or map and load the rest.
 */
import type { DeadLetter, StreamKey } from "@kura/core"
import { Clock, Effect, Stream } from "effect"
import { collectRawLines } from "./bulk/rawLines.js"
import {
  MAX_LINE_BYTES,
  ORDER_TABLES,
  type OrderTable,
  readShopifyOrdersSql,
  shopifyOrdersSql
} from "./bulk/ShopifyOrdersSql.js"
import { setForScope, withSetting } from "./internal/duckdbSettings.js"
import { stringifyJson } from "./internal/rowText.js"
import { parseDuckDbBytes, restorableLimit, stagingThreadsFor } from "./internal/stagingThreads.js"
import type { CanonicalRows, MapContext } from "./Mapper.js"
import * as Sql from "./Sql.js"
import { type CanonicalTableName, CanonicalTables } from "./Tables.js"
import type { ExclusiveSql, LoadResult, LoadRow, Warehouse } from "./Warehouse.js"
import { WarehouseError } from "./WarehouseError.js"

/** What a bulk load did. */
export interface BulkLoadResult {
  readonly lines: number
  /** Lines that failed to parse or map (dead-lettered). */
  readonly rejectedLines: number
  readonly tables: Readonly<Partial<Record<CanonicalTableName, LoadResult>>>
  /**
   * How `loadShopifyOrdersFile` wrote each table: "insert" (the account had no row there, so a
   * plain append) or "merge" (an upsert, newer `updated_at` wins). Absent from `loadJsonl`.
   */
  readonly writes?: Readonly<Partial<Record<CanonicalTableName, "insert" | "merge">>>
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

/**
 * The DuckDB table function `loadShopifyOrdersFile` reads a file with (`read_ndjson` with the
 * typed columns the mapping uses): for benchmarks (the read-only floor) and debugging.
 */
export const shopifyOrdersReader = (file: string): string => readShopifyOrdersSql(file)

/** Options of `loadShopifyOrdersFile`. */
export interface ShopifyOrdersFileOptions {
  readonly warehouse: Warehouse["Service"]
  /**
   * A local Shopify bulk-operation result file for the orders resource (plain or `.gz`), exactly
   * as Shopify wrote it: one line per order, line item, shipping line, refund line and refund
   * transaction, children carrying `__parentId`.
   */
  readonly file: string
  /** The same context the JS mapper would get (`timeZoneOf` is asked for null and `locationId`). */
  readonly context: MapContext
  /** As `makeShopifyOrderMapper({ locationOf: () => locationId })`; null (default) books no location. */
  readonly locationId?: string | null
  /** The stream key used on dead letters. */
  readonly key: StreamKey
  /** Recorded on dead letters (default: the file path). */
  readonly origin?: string
  /**
   * Orders per pass (default 1,000,000): each pass maps and writes its orders with all their
   * lines. DuckDB spills its joins, so one pass is bounded too (1M orders in one pass: the same
   * peak RSS as ten passes, 55% of the CPU, since every pass copies its lines out of the staged
   * file); smaller passes bound the temporary tables of very large files.
   */
  readonly ordersPerPass?: number
  /**
   * DuckDB threads for the staging read only. The read holds about 100 MB per thread whatever the
   * file size (two threads need ~300MB to stage at all), so the default is as many of the
   * connection's threads as `memory_limit` allows at ~145MB each (at least 1): a small limit stages
   * on fewer threads instead of running out of memory. 1 trades wall time for memory. Measured 2026-11-27 on 2 cores: with 1, `memory_limit` 150MB and
   * `MALLOC_ARENA_MAX=2`, 371–387 MB peak RSS at 100k orders and 404 MB at 1M, against 549–575 MB
   * and 638 MB with two threads at 300MB, for 30–50% more wall time at about the same CPU.
   */
  readonly stagingThreads?: number
  /**
   * DuckDB `memory_limit` (a DuckDB size, e.g. "150MB") for everything after the staging read: the
   * mapping's joins and the seven writes; the connection's own limit is given back after, also when
   * the load fails. Default (undefined or null): the connection's limit throughout. A smaller one
   * bounds the peak with two staging threads, at a price that grows with the file: measured
   * 2026-11-27 (2 threads, 300MB, loaded box) 150MB gave 400–424 MB peak RSS at 100k orders
   * (540–574 MB kept) at about the same CPU, but at 1M 441 MB for 287 s and 108 CPU-s against 612 MB,
   * 72 s and 85 CPU-s (its joins spill), and 200MB ran out of memory at 1M.
   */
  readonly mappingMemoryLimit?: string | null
}

const num = (v: unknown): number => Number(v ?? 0)

const text = (v: unknown): string | null => (v === null || v === undefined ? null : String(v))

let loadSeq = 0

/**
 * Loads a Shopify bulk orders file into orders, order_lines, payments, refunds, refund_lines,
 * tax_lines and inventory_movements with DuckDB doing the work: the rows are exactly those of
 * `makeShopifyOrderMapper` (default channel rule, one location for every order), upserted with
 * the same rule as `Warehouse.load` (a row wins only if its `updated_at` is newer). An order any
 * of whose lines cannot be mapped is dead-lettered whole with its exact lines, as are
 * unparseable lines and children whose parent is missing; everything else loads. DuckDB only:
 * other warehouses fail with `InvalidInput` (use `loadJsonl`).
 */
export const loadShopifyOrdersFile = Effect.fn("BulkLoader.loadShopifyOrdersFile")(function* (
  options: ShopifyOrdersFileOptions
) {
  const w = options.warehouse
  if (w.dialect.name !== "duckdb") {
    return yield* new WarehouseError({
      reason: "InvalidInput",
      operation: "loadShopifyOrdersFile",
      message: `the SQL bulk path needs DuckDB, not ${w.dialect.name}: use BulkLoader.loadJsonl with the Shopify order mapper`
    })
  }
  const ctx = options.context
  const locationId = options.locationId ?? null
  const ordersPerPass = Math.max(1, options.ordersPerPass ?? 1_000_000)
  const origin = options.origin ?? options.file
  const statements = shopifyOrdersSql({
    file: options.file,
    prefix: `_kura_bulk_${Date.now().toString(36)}_${(loadSeq++).toString(36)}`,
    sourceAccount: ctx.sourceAccount,
    syncedAt: ctx.syncedAt,
    batchId: ctx.batchId,
    locationId,
    onlineZone: ctx.timeZoneOf(null),
    posZone: ctx.timeZoneOf(locationId)
  })
  if (ctx.source !== "shopify") {
    return yield* new WarehouseError({
      reason: "InvalidInput",
      operation: "loadShopifyOrdersFile",
      message: `context.source is "${ctx.source}": this loader maps Shopify orders only`
    })
  }

  const askedMapping = options.mappingMemoryLimit
  const askedMappingBytes =
    askedMapping === undefined || askedMapping === null ? null : parseDuckDbBytes(askedMapping)
  if (typeof askedMapping === "string" && (askedMappingBytes === null || askedMappingBytes <= 0)) {
    return yield* new WarehouseError({
      reason: "InvalidInput",
      operation: "loadShopifyOrdersFile",
      message: `mappingMemoryLimit "${askedMapping}" is not a DuckDB size: give one like "150MB" or "1GiB", or null to keep the connection's limit`
    })
  }

  const d = w.dialect
  const acct = Sql.stringLiteral(ctx.sourceAccount)
  const columnList = (table: OrderTable) =>
    CanonicalTables[table].columns.map((c) => d.ident(c.name)).join(", ")
  const insertResult = (table: OrderTable, rows: number): LoadResult => ({
    table,
    received: rows,
    inserted: rows,
    updated: 0,
    unchanged: 0,
    deadLettered: 0,
    addedColumns: []
  })
  // Upsert of a staged pass into a table that already holds this account's rows: newer
  // `updated_at` wins, as `Warehouse.load`.
  const mergeTable = (sql: ExclusiveSql, table: OrderTable) =>
    Effect.gen(function* () {
      const def = CanonicalTables[table]
      const staged = statements.canonical[table]
      const rows = num((yield* sql.query(`SELECT count(*) AS n FROM ${d.table(staged)}`))[0]?.n)
      const countTarget = Effect.map(sql.query(`SELECT count(*) AS n FROM ${d.table(def.name)}`), (r) =>
        num(r[0]?.n)
      )
      let inserted = 0
      let changed = 0
      if (rows > 0) {
        const before = yield* countTarget
        const keys = new Set<string>(def.primaryKey)
        changed = yield* sql.run(
          Sql.renderMerge({
            target: d.table(def.name),
            source: `SELECT * FROM ${d.table(staged)}`,
            on: def.primaryKey.map((c) => `t.${d.ident(c)} = s.${d.ident(c)}`).join(" AND "),
            matchedCondition: `s.${d.ident("updated_at")} > t.${d.ident("updated_at")}`,
            set: def.columns
              .filter((c) => !keys.has(c.name))
              .map((c) => `${d.ident(c.name)} = s.${d.ident(c.name)}`),
            insertColumns: def.columns.map((c) => d.ident(c.name)),
            insertValues: def.columns.map((c) => `s.${d.ident(c.name)}`)
          })
        )
        inserted = (yield* countTarget) - before
      }
      const result: LoadResult = {
        table,
        received: rows,
        inserted,
        updated: changed - inserted,
        unchanged: rows - changed,
        deadLettered: 0,
        addedColumns: []
      }
      return result
    })
  const add = (prev: LoadResult | undefined, r: LoadResult): LoadResult =>
    prev === undefined
      ? r
      : {
          table: r.table,
          received: prev.received + r.received,
          inserted: prev.inserted + r.inserted,
          updated: prev.updated + r.updated,
          unchanged: prev.unchanged + r.unchanged,
          deadLettered: 0,
          addedColumns: []
        }

  const loaded = yield* w.exclusive((sql) =>
    Effect.ensuring(
      Effect.scoped(
        Effect.gen(function* () {
          // INSERT fast path: a table holding no row of this account cannot hold a staged key, so
          // its rows are appended without a join (a first load or backfill); otherwise MERGE.
          const present = (yield* sql.query(
            `SELECT ${ORDER_TABLES.map((t) => `EXISTS (SELECT 1 FROM ${d.table(t)} WHERE source = 'shopify' AND source_account = ${acct}) AS ${d.ident(t)}`).join(", ")}`
          ))[0]
          const fresh = new Set<OrderTable>(ORDER_TABLES.filter((t) => present?.[t] !== true))
          const setting = (yield* sql.query(
            "SELECT current_setting('threads')::INTEGER AS n, current_setting('memory_limit') AS m"
          ))[0]
          const threads = Math.max(1, num(setting?.n))
          const limitText = String(setting?.m ?? "")
          const limitBytes = parseDuckDbBytes(limitText)
          const staging =
            options.stagingThreads === undefined
              ? stagingThreadsFor(threads, limitBytes)
              : Math.max(1, Math.floor(options.stagingThreads))
          if (staging === threads) yield* sql.run(statements.stage)
          else yield* withSetting(sql, "threads", String(staging), String(threads), sql.run(statements.stage))
          // Asked for: the mapping runs in less memory than the staging read needs (its joins
          // spill), so the load's peak stays the staging read's; the connection's limit comes back.
          const restore = askedMappingBytes === null ? null : restorableLimit(limitText)
          if (askedMappingBytes !== null && restore !== null)
            yield* setForScope(
              sql,
              "memory_limit",
              `'${Math.floor(askedMappingBytes)} bytes'`,
              `'${restore}'`
            )
          const orders = num((yield* sql.query(statements.orders))[0]?.n)
          // Passes of about `ordersPerPass` orders, each with all its lines: every join, window and
          // MERGE works on one pass of the staged lines, so memory does not grow with the file.
          const passes = Math.max(1, Math.ceil(orders / ordersPerPass))
          if (passes > 1) for (const s of statements.assign) yield* sql.run(s)
          const summary = { lines: 0, invalid: 0, orphans: 0, rejected_lines: 0 }
          const rejected: Array<Readonly<Record<string, unknown>>> = []
          const refunds: Array<Readonly<Record<string, unknown>>> = []
          const tables: Partial<Record<CanonicalTableName, LoadResult>> = {}
          const writes: Partial<Record<CanonicalTableName, "insert" | "merge">> = {}
          for (let k = 0; k < passes; k++) {
            if (k > 0) yield* sql.run(Sql.dropTable(d, statements.view))
            yield* sql.run(statements.pass(k, passes))
            for (const s of statements.prepare) yield* sql.run(s)
            const counts = (yield* sql.query(statements.summary))[0] ?? {}
            summary.lines += num(counts.lines)
            summary.invalid += num(counts.invalid)
            summary.orphans += num(counts.orphans)
            if (num(counts.rejected) > 0) {
              summary.rejected_lines += num((yield* sql.query(statements.rejectedLines))[0]?.n)
              refunds.push(...(yield* sql.query(statements.rejectedRefunds)))
            }
            if (num(counts.rejected) > 0 || num(counts.orphans) > 0)
              rejected.push(...(yield* sql.query(statements.rejected)))
            // An object listed twice in the file can give a key twice: then keep its newest version.
            const dups = num((yield* sql.query(statements.duplicateIds))[0]?.n) > 0
            for (const table of ORDER_TABLES) {
              if (fresh.has(table) && !dups) {
                const n = yield* sql.run(
                  `INSERT INTO ${d.table(table)} (${columnList(table)}) ${statements.select[table]}`
                )
                tables[table] = add(tables[table], insertResult(table, n))
                writes[table] = "insert"
                continue
              }
              yield* sql.run(statements.build[table])
              if (dups) yield* sql.run(statements.dedupe[table])
              if (fresh.has(table)) {
                const n = yield* sql.run(
                  `INSERT INTO ${d.table(table)} (${columnList(table)}) SELECT * FROM ${d.table(statements.canonical[table])}`
                )
                tables[table] = add(tables[table], insertResult(table, n))
                writes[table] = "insert"
              } else {
                tables[table] = add(tables[table], yield* mergeTable(sql, table))
                writes[table] = "merge"
              }
              yield* sql.run(Sql.dropTable(d, statements.canonical[table]))
            }
          }
          return { summary, rejected, refunds, tables, passes, writes }
        })
      ),
      Effect.andThen(
        // The pass is a view or a table: drop whichever it is.
        Effect.andThen(
          Effect.ignore(sql.run(`DROP VIEW IF EXISTS ${d.table(statements.view)}`)),
          Effect.ignore(sql.run(Sql.dropTable(d, statements.view)))
        ),
        Effect.forEach(statements.temps, (t) => Effect.ignore(sql.run(Sql.dropTable(d, t))), {
          discard: true
        })
      )
    )
  )

  const invalid = num(loaded.summary.invalid)
  const letters: Array<DeadLetter> = []
  if (invalid > 0 || loaded.rejected.length > 0) {
    const owners = new Map<string, string>()
    for (const r of loaded.rejected) owners.set(String(r.gid), String(r.gid))
    for (const r of loaded.refunds) owners.set(String(r.refund_gid), String(r.order_gid))
    const raw = yield* Effect.tryPromise({
      try: () =>
        collectRawLines(options.file, {
          owners,
          findUnparseable: invalid > 0,
          maxLineBytes: MAX_LINE_BYTES
        }),
      catch: (cause) =>
        new WarehouseError({
          reason: "Load",
          operation: "loadShopifyOrdersFile",
          message: `cannot re-read ${options.file} for its dead letters: ${cause instanceof Error ? cause.message : String(cause)}`,
          cause
        })
    })
    const at = yield* Clock.currentTimeMillis
    for (const r of loaded.rejected) {
      const gid = String(r.gid)
      letters.push({
        key: options.key,
        sourceId: text(r.source_id) ?? gid,
        payload: (raw.byOwner.get(gid) ?? []).join("\n"),
        reason: r.what === "orphan" ? "decode" : "map",
        detail: String(r.detail),
        origin,
        at
      })
    }
    for (const u of raw.unparseable) {
      letters.push({
        key: options.key,
        sourceId: null,
        payload: u.text,
        reason: "decode",
        detail: `line ${u.line}: ${u.why}`,
        origin,
        at
      })
    }
    for (let i = 0; i < letters.length; i += 1_000) {
      yield* w.deadLetters.write(letters.slice(i, i + 1_000)).pipe(Effect.orDie)
    }
  }
  return {
    lines: num(loaded.summary.lines),
    rejectedLines: invalid + loaded.summary.orphans + loaded.summary.rejected_lines,
    tables: loaded.tables,
    writes: loaded.writes
  } satisfies BulkLoadResult
})
