/**
 * The engine-independent warehouse: everything the DuckDB and BigQuery adapters share, written
 * once against `SqlEngine`.
 */

import { createHash } from "node:crypto"
import {
  type BulkJobRecord,
  type BulkJobState,
  BulkJobStore,
  type Checkpoint,
  CheckpointStore,
  type DeadLetter,
  DeadLetterSink,
  Decimal,
  StoreError,
  type StreamKey,
  streamKeyToString
} from "@kura/core"
import { Clock, Effect, Option, Result, Semaphore, Stream } from "effect"
import { isValidColumnName } from "../Dialect.js"
import type {
  DailySalesRow,
  InventoryReconciliationRow,
  ReconciliationReport,
  SkuAmbiguityRow,
  SourceReconciliationRow
} from "../Reconciliation.js"
import { parseRunApiUsage, type RunApiUsage } from "../RunApiUsage.js"
import { type ShopifySalesDay, shopifySalesByDaySql } from "../ShopifySalesByDay.js"
import * as Sql from "../Sql.js"
import { type ColumnDef, type ColumnType, isNullable, type TableDef } from "../TableDefinition.js"
import { AllTables, type LoadableTableName, loadableTable, RawTable, StateTables } from "../Tables.js"
import {
  AllViews,
  createView,
  DailySales,
  InventoryReconciliation,
  SkuAmbiguities,
  SourceReconciliation
} from "../Views.js"
import {
  type CommitRunInput,
  type DeadLetterFilter,
  type DeadLetterMark,
  type Lease,
  LOAD_REJECTIONS,
  type LoadOptions,
  type LoadResult,
  type LoadRow,
  type ReplayResult,
  type StoredDeadLetter,
  type SyncRun,
  type TokenRecords,
  type Warehouse
} from "../Warehouse.js"
import { LeaseError, WarehouseError } from "../WarehouseError.js"
import { isDecimalText } from "./decimalText.js"
import { planVoidMigration, voidCandidatesSql, voidMigrationStatements } from "./LightspeedVoidMigration.js"
import { INVALID, inferType, stringifyJson, textOf, toText, whyInvalid } from "./rowText.js"
import type { SqlEngine, SqlParams, SqlRow, SqlStatement } from "./SqlEngine.js"
import { statusVocabularyRewrites } from "./StatusVocabularyMigration.js"

const toStoreError = (store: string, operation: string) => (e: WarehouseError) =>
  new StoreError({ store, operation, message: e.message, cause: e })

const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v))
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v))
const str = (v: unknown): string => String(v ?? "")
/** Decimal text without trailing fraction zeros ("12.500000000" → "12.5"). */
const dec = (v: unknown): string => {
  const s = String(v ?? "0")
  return s.includes(".") ? s.replace(/\.?0+$/, "") || "0" : s
}

let letterSeq = 0
/** Letter ids sort in write order (time, then sequence) and stay unique across processes. */
const letterId = (at: number) =>
  `${String(at).padStart(15, "0")}-${String(letterSeq++ % 1e9).padStart(9, "0")}-${crypto.randomUUID().slice(0, 8)}`

let stagingSeq = 0
const stagingName = (table: string) =>
  `_kura_stg_${table}_${Date.now().toString(36)}_${(stagingSeq++).toString(36)}_${Math.random().toString(36).slice(2, 8)}`

/** Builds the Warehouse service over an engine. */
export const makeWarehouse = (engine: SqlEngine): Warehouse["Service"] => {
  const d = engine.dialect
  const T = d.table
  const I = d.ident
  const P = d.param
  const S = d.type("string")

  // ---------- generic single-row upsert for the bookkeeping tables ----------

  /** MERGE one row given as text params; `when` adds a condition for updating an existing row. */
  const upsertOneSql = (table: TableDef, keys: ReadonlyArray<string>, when?: string): string => {
    const cols = table.columns
    const source = `SELECT ${cols.map((c) => `${c.type === "string" ? P(c.name) : `CAST(${P(c.name)} AS ${d.type(c.type)})`} AS ${I(c.name)}`).join(", ")}`
    const parts: Sql.MergeParts = {
      target: T(table.name),
      source,
      on: keys.map((k) => `t.${I(k)} = s.${I(k)}`).join(" AND "),
      matchedCondition: when ?? "TRUE",
      set: cols.filter((c) => !keys.includes(c.name)).map((c) => `${I(c.name)} = s.${I(c.name)}`),
      insertColumns: cols.map((c) => I(c.name)),
      insertValues: cols.map((c) => `s.${I(c.name)}`)
    }
    return Sql.renderMerge(parts)
  }
  /**
   * MERGE `n` rows at once (params `<column>_<i>`), one statement for what `upsertOneSql` does
   * row by row: the bookkeeping of a whole pass (leases, run costs) in one write. Keys must differ.
   */
  const upsertManySql = (
    table: TableDef,
    keys: ReadonlyArray<string>,
    n: number,
    options: { readonly when?: string } = {}
  ): string => {
    const cols = table.columns
    const row = (i: number) =>
      `SELECT ${cols.map((c) => `${c.type === "string" ? P(`${c.name}_${i}`) : `CAST(${P(`${c.name}_${i}`)} AS ${d.type(c.type)})`} AS ${I(c.name)}`).join(", ")}`
    const source = Array.from({ length: n }, (_, i) => row(i)).join(" UNION ALL ")
    const on = keys.map((k) => `t.${I(k)} = s.${I(k)}`).join(" AND ")
    const set = cols.filter((c) => !keys.includes(c.name)).map((c) => `${I(c.name)} = s.${I(c.name)}`)
    const matched = ` WHEN MATCHED AND ${options.when ?? "TRUE"} THEN UPDATE SET ${set.join(", ")}`
    const insert = ` WHEN NOT MATCHED THEN INSERT (${cols.map((c) => I(c.name)).join(", ")}) VALUES (${cols.map((c) => `s.${I(c.name)}`).join(", ")})`
    return `MERGE INTO ${T(table.name)} AS t USING (${source}) AS s ON ${on}${matched}${insert}`
  }
  /** The params of `upsertManySql` for `rows`. */
  const manyParams = (rows: ReadonlyArray<Record<string, string | number | null | undefined>>): SqlParams =>
    params(
      Object.fromEntries(rows.flatMap((r, i) => Object.entries(r).map(([k, v]) => [`${k}_${i}`, v] as const)))
    )
  const params = (values: Record<string, string | number | null | undefined>): SqlParams => {
    const out: Record<string, string | null> = {}
    for (const [k, v] of Object.entries(values)) out[k] = v === null || v === undefined ? null : String(v)
    return out
  }

  // ---------- schema: migrate and evolve ----------

  const liveCache = new Map<string, ReadonlyArray<ColumnDef>>()
  const live = (table: string) =>
    liveCache.has(table)
      ? Effect.succeed(liveCache.get(table)!)
      : Effect.tap(engine.liveColumns(table), (cols) => Effect.sync(() => void liveCache.set(table, cols)))

  /**
   * DuckDB's catalogue read at once: every column of every table in the main schema (on an
   * up-to-date database the migration is then one read instead of a CREATE and a column read per
   * table: 46 statements, ~0.3 s of every `kura-sync run`), and the tag each view and table carries
   * in its comment (see `viewTag`, `RAW_DEDUP_TAG`). Null elsewhere (per-table reads, views always
   * re-created).
   */
  const readCatalogue = (): Effect.Effect<Catalogue | null, WarehouseError> =>
    d.name !== "duckdb"
      ? Effect.succeed(null)
      : Effect.map(
          engine.query(
            "SELECT 'c' AS kind, table_name AS name, column_name AS detail, column_index AS pos FROM duckdb_columns() WHERE schema_name = 'main' AND database_name = current_database() UNION ALL SELECT 'v', view_name, comment, 0 FROM duckdb_views() WHERE schema_name = 'main' AND database_name = current_database() AND NOT internal UNION ALL SELECT 't', table_name, comment, 0 FROM duckdb_tables() WHERE schema_name = 'main' AND database_name = current_database() ORDER BY kind, name, pos"
          ),
          (rows) => {
            const columns = new Map<string, Array<string>>()
            const tags = new Map<string, string | null>()
            for (const r of rows) {
              const name = str(r.name)
              if (r.kind === "c") {
                const names = columns.get(name) ?? []
                names.push(str(r.detail))
                columns.set(name, names)
              } else tags.set(`${str(r.kind)}:${name}`, strOrNull(r.detail))
            }
            return { columns, tags }
          }
        )

  const migrate = Effect.gen(function* () {
    const catalogue = yield* readCatalogue()
    const listed = catalogue?.columns ?? null
    const known = listed === null ? null : new Map([...listed].map(([t, cols]) => [t, new Set(cols)]))
    for (const table of AllTables)
      if (known?.has(table.name) !== true) yield* engine.run(Sql.createTable(d, table))
    // Tables created by an older Kura lack columns added since: add them (nullable, as schema
    // evolution does) and fill derived ones, so old databases keep loading and reconciling.
    for (const table of AllTables) {
      const have =
        known?.get(table.name) ?? new Set((yield* engine.liveColumns(table.name)).map((c) => c.name))
      for (const c of table.columns) {
        if (have.has(c.name)) continue
        yield* engine.run(Sql.addColumn(d, table.name, c))
        if (c.utcDateOf !== undefined) yield* engine.run(Sql.fillUtcDate(d, table.name, c.name, c.utcDateOf))
      }
    }
    yield* dedupeRawOnce(catalogue)
    // A view is re-created only when its definition changed (its tag, a hash of the statement,
    // is kept in its comment): re-creating all 8 at every open rewrote the catalogue at every
    // close's checkpoint (measured ~100-150 ms of an incremental run's close, plus the statements).
    for (const view of AllViews) {
      const sql = createView(d, view)
      const tag = viewTag(sql)
      if (catalogue !== null && catalogue.tags.get(`v:${view.name}`) === tag) continue
      yield* engine.run(sql)
      if (catalogue !== null)
        yield* engine.run(`COMMENT ON VIEW ${T(view.name)} IS ${Sql.stringLiteral(tag)}`)
    }
    liveCache.clear()
    // A table whose columns are exactly the declared ones, in order, needs no column read before
    // its first load (one statement per table and run saved); drifted tables are read as before.
    for (const table of AllTables) {
      const names = listed?.get(table.name)
      if (names !== undefined && names.join("\u0000") === table.columns.map((c) => c.name).join("\u0000"))
        liveCache.set(table.name, table.columns)
    }
  }).pipe(Effect.withSpan("Warehouse.migrate"))

  /**
   * The one-time data migrations and checks (`RAW_MIGRATIONS`), each marked by a row in
   * `_kura_sync_state` (kind `migration`, meta: what it found) that spares every later open the
   * scan:
   * - `raw_dedup_by_version`: the table used to be keyed with its batch id, so a re-cut window
   *   landed the same record version again under a new batch.
   * - `raw_dedup_by_instant`: before a41c63d a batch was de-duplicated on the staged key TEXT, so
   *   one version whose updated_at came in two spellings of one instant (`…00Z`, `…00.000Z`,
   *   `…+00:00`) was inserted twice, usually with the same fetch time and batch.
   * Both leave one row per (source, source_account, stream, source_id, typed updated_at): the
   * newest fetch (`Sql.keepNewestDuplicates`, which also covers the first, so a warehouse missing
   * both is scanned once). Idempotent: a second run, or two processes opening at once, removes
   * nothing more; a crash in between leaves the table as it was (one transaction).
   * - `shopify_bulk_shipping_lines`: a check, not a repair (`checkShippingLines`).
   * - `status_vocabulary`: canonical rows an older Kura wrote with a source's own status words
   *   are rewritten into the one vocabulary (`unifyStatuses`).
   * - `lightspeed_voids_as_refunds`: Lightspeed voids an older Kura wrote as cancelled orders of
   *   their own become refunds of the sales they void, and refunded lines with a spoilage reason
   *   stop being restocked (`remodelLightspeedVoids`).
   * - `raw_payload_hash`: rows written before `payload_hash` existed get the md5 of their payload
   *   (`Sql.fillContentHash`), so a re-read of them unchanged is recognised without reading it.
   */
  const dedupeRawOnce = (catalogue: Catalogue | null) =>
    Effect.gen(function* () {
      // DuckDB: the migrations done are also kept as `_kura_raw`'s comment, read with the
      // catalogue, which spares every later open the marker query.
      if (catalogue?.tags.get(`t:${RawTable.name}`) === RAW_DEDUP_TAG) return
      const tagRaw =
        catalogue === null
          ? Effect.void
          : Effect.asVoid(
              engine.run(`COMMENT ON TABLE ${T(RawTable.name)} IS ${Sql.stringLiteral(RAW_DEDUP_TAG)}`)
            )
      const done = yield* engine.query(
        `SELECT ${I("id")} FROM ${T(StateTables.syncState.name)} WHERE ${I("kind")} = ${P("kind")} AND ${I("id")} IN (${RAW_MIGRATIONS.map((_, i) => P(`id${i}`)).join(", ")})`,
        { kind: "migration", ...Object.fromEntries(RAW_MIGRATIONS.map((id, i) => [`id${i}`, id])) }
      )
      const doneIds = new Set(done.map((r) => str(r.id)))
      const pending = RAW_MIGRATIONS.filter((id) => !doneIds.has(id))
      if (pending.length === 0) return yield* tagRaw
      const metas = new Map<string, Record<string, unknown>>()
      const dedupe = pending.filter(
        (id) =>
          id !== SHIPPING_LINES_CHECK &&
          id !== STATUS_VOCABULARY_MIGRATION &&
          id !== LIGHTSPEED_VOIDS_MIGRATION &&
          id !== RAW_PAYLOAD_HASH_MIGRATION
      )
      if (dedupe.length > 0) {
        // One grouped read of the key columns first: a table without duplicates (most) is not
        // rewritten at all.
        const [count] = yield* engine.query(Sql.duplicateKeyCount(d, RawTable))
        const removed = Number(count?.rows ?? 0) - Number(count?.groups ?? 0)
        if (removed > 0)
          yield* engine.atomically(
            Sql.keepNewestDuplicates(d, RawTable, ["fetched_at", "_batch_id"]).map((sql) => ({ sql }))
          )
        // Both ran as one rewrite: each marker carries its count.
        for (const id of dedupe) metas.set(id, { removedDuplicates: removed })
        if (removed > 0)
          yield* Effect.logInfo(
            `_kura_raw: removed ${removed} duplicate record versions (${dedupe.join(", ")}): one row per record version and typed updated_at, the newest fetch kept`
          )
      }
      if (pending.includes(SHIPPING_LINES_CHECK)) metas.set(SHIPPING_LINES_CHECK, yield* checkShippingLines)
      if (pending.includes(STATUS_VOCABULARY_MIGRATION))
        metas.set(STATUS_VOCABULARY_MIGRATION, yield* unifyStatuses)
      if (pending.includes(LIGHTSPEED_VOIDS_MIGRATION))
        metas.set(LIGHTSPEED_VOIDS_MIGRATION, yield* remodelLightspeedVoids)
      if (pending.includes(RAW_PAYLOAD_HASH_MIGRATION))
        metas.set(RAW_PAYLOAD_HASH_MIGRATION, {
          filled: yield* engine.run(Sql.fillContentHash(d, RawTable))
        })
      const now = yield* Clock.currentTimeMillis
      for (const id of pending)
        yield* engine.run(
          upsertOneSql(StateTables.syncState, ["kind", "id"]),
          params({
            kind: "migration",
            id,
            source: "kura",
            source_account: "",
            stream: RawTable.name,
            cursor: null,
            meta: JSON.stringify(metas.get(id) ?? {}),
            window_start: null,
            window_end: null,
            state: "done",
            remote_status: null,
            object_count: null,
            created_at: now,
            updated_at: now
          })
        )
      yield* tagRaw
    })

  /**
   * A check, not a repair: Shopify orders that a Kura before 428a975 read by bulk export lost
   * their shipping lines (the API was read again, the data is not in the warehouse), so their
   * shipping tax lines are missing. Says so once, loudly, with the orders' dates to re-read, and
   * keeps the finding in the marker's meta (`{ ordersMissingShippingLines, from, to }`).
   */
  const checkShippingLines = Effect.gen(function* () {
    const sql = Sql.missingShippingLines(d)
    const [candidates] = yield* engine.query(sql.candidates)
    if (Number(candidates?.orders ?? 0) === 0) return { ordersMissingShippingLines: 0 }
    const [found] = yield* engine.query(sql.confirmed)
    const orders = Number(found?.orders ?? 0)
    if (orders === 0) return { ordersMissingShippingLines: 0 }
    const [from, to] = [str(found?.first).slice(0, 10), str(found?.last).slice(0, 10)]
    // kura-backfill's --to is exclusive: the day after the last order's.
    const until = new Date(Date.parse(`${to}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10)
    yield* Effect.logWarning(
      `${orders} Shopify orders created ${from} to ${to} were read by the bulk export of an older Kura (shopify-client before 428a975, 2026-11-26), which dropped their shipping lines: their shipping tax lines are missing from tax_lines (order totals, shipping included, are intact). Re-read them to restore the lines: kura-backfill shopify orders --from ${from} --to ${until} --restart`
    )
    return { ordersMissingShippingLines: orders, from, to }
  })

  /**
   * Rewrites status values an older Kura wrote in a source's own words (POS `paid`, REST
   * `partial`, …) into the canonical vocabulary (`StatusVocabulary`), in one transaction. The
   * marker's meta counts the rows per table (`{ orders, purchase_orders }`).
   */
  const unifyStatuses = Effect.gen(function* () {
    const rewrites = statusVocabularyRewrites(d)
    const counts: Record<string, number> = {}
    const due: Array<SqlStatement> = []
    for (const r of rewrites) {
      const [row] = yield* engine.query(r.count)
      const n = Number(row?.n ?? 0)
      counts[r.table] = (counts[r.table] ?? 0) + n
      if (n > 0) due.push({ sql: r.update })
    }
    if (due.length > 0) {
      yield* engine.atomically(due)
      yield* Effect.logInfo(
        `status vocabulary: rewrote ${Object.entries(counts)
          .map(([t, n]) => `${n} ${t}`)
          .join(
            ", "
          )} rows written in a source's own status words into the canonical ones (docs/data-dictionary.md)`
      )
    }
    return counts
  })

  /**
   * Re-models what an older Kura wrote for Lightspeed voids and refund reasons
   * (`LightspeedVoidMigration`), in one transaction. The marker's meta counts what it found
   * (`{ voids, refundLinesWithReason }`).
   */
  const remodelLightspeedVoids = Effect.gen(function* () {
    const plans = planVoidMigration(yield* engine.query(voidCandidatesSql(d)))
    const now = new Date(yield* Clock.currentTimeMillis).toISOString()
    const statements = plans.flatMap((p) => voidMigrationStatements(d, p, now))
    const voids = plans.reduce((n, p) => n + p.voids.length, 0)
    const refundLinesWithReason = plans.reduce((n, p) => n + p.refundLines.length, 0)
    if (statements.length > 0) {
      yield* engine.atomically(statements.map((sql) => ({ sql })))
      yield* Effect.logInfo(
        `lightspeed: re-modelled ${voids} voids of earlier sales as refunds of those sales (their old cancelled orders soft-deleted) and ${refundLinesWithReason} refunded lines with a reason (a spoilage reason is not restocked)`
      )
    }
    return { voids, refundLinesWithReason }
  })

  // ---------- loading ----------

  interface Rejected {
    readonly row: LoadRow
    readonly reason: string
    readonly detail: string
  }

  /** Fills `utcDateOf` columns a row omits (rows built before the column existed). */
  const withDerived = (table: TableDef, rows: ReadonlyArray<LoadRow>): ReadonlyArray<LoadRow> => {
    const derived = table.columns.filter((c) => c.utcDateOf !== undefined)
    if (derived.length === 0) return rows
    return rows.map((row) => {
      let out: Record<string, unknown> | undefined
      for (const c of derived) {
        if (row[c.name] !== undefined && row[c.name] !== null) continue
        const from = row[c.utcDateOf!]
        const ms = typeof from === "string" ? Date.parse(from) : Number.NaN
        if (Number.isNaN(ms)) continue
        out ??= { ...row }
        out[c.name] = new Date(ms).toISOString().slice(0, 10)
      }
      return out ?? row
    })
  }

  const loadChunk = (table: TableDef, input: ReadonlyArray<LoadRow>) =>
    Effect.gen(function* () {
      const rows = withDerived(table, input)
      const existing = yield* live(table.name)
      const byName = new Map(existing.map((c) => [c.name, c]))
      const added = new Map<string, ColumnType>()
      const rejected: Array<Rejected> = []

      // One pass: each row becomes its staged text for the known columns, or a rejection. Fields
      // the table does not have yet are collected and become nullable columns.
      const width = existing.length
      const texts: Array<Array<string | null>> = []
      const textRows: Array<LoadRow> = []
      for (const row of rows) {
        let problem: Rejected | undefined
        const out = new Array<string | null>(width)
        let present = 0
        for (let i = 0; i < width; i++) {
          const col = existing[i]!
          const value = row[col.name]
          if (value === undefined) {
            out[i] = null
            if (!isNullable(col)) {
              problem = {
                row,
                reason: "missing_field",
                detail: `required field "${col.name}" is missing or null`
              }
              break
            }
            continue
          }
          present++
          const text = textOf(col.type, value)
          if (text === INVALID) {
            problem = {
              row,
              reason: "type_changed",
              detail: `field "${col.name}": ${whyInvalid(col.type, value)} (column type ${col.type})`
            }
            break
          }
          if (text === null && !isNullable(col)) {
            problem = {
              row,
              reason: "missing_field",
              detail: `required field "${col.name}" is missing or null`
            }
            break
          }
          out[i] = text
        }
        if (problem === undefined) {
          let keys = 0
          for (const _ in row) keys++
          if (keys > present) {
            // Rare path: the row has fields the table lacks.
            for (const key in row) {
              if (byName.has(key)) continue
              const value = row[key]
              const known = added.get(key)
              if (known !== undefined) {
                if (textOf(known, value) === INVALID) {
                  problem = {
                    row,
                    reason: "type_changed",
                    detail: `field "${key}": ${whyInvalid(known, value)} (column type ${known})`
                  }
                  break
                }
                continue
              }
              const inferred = inferType(value)
              if (inferred === null) continue
              if (!isValidColumnName(key)) {
                problem = {
                  row,
                  reason: "invalid_field",
                  detail: `field "${key}" cannot become a column: use letters, digits and underscores`
                }
                break
              }
              added.set(key, inferred)
            }
          }
        }
        if (problem) rejected.push(problem)
        else {
          texts.push(out)
          textRows.push(row)
        }
      }

      const addedColumns = [...added].map(([name, type]) => ({ name, type }))
      for (const c of addedColumns) yield* engine.run(Sql.addColumn(d, table.name, c))
      if (addedColumns.length > 0) liveCache.delete(table.name)
      const columns: ReadonlyArray<ColumnDef> = [...existing, ...addedColumns]
      if (addedColumns.length > 0) {
        for (let r = 0; r < texts.length; r++) {
          const row = textRows[r]!
          for (const c of addedColumns) {
            const t = textOf(c.type, row[c.name])
            texts[r]!.push(t === INVALID ? null : t)
          }
        }
      }
      const accepted = texts
      withContentHashes(table, columns, texts)

      let inserted = 0
      let updated = 0
      if (accepted.length > 0) {
        // Only columns with at least one value are staged: canonical rows are sparse, and every
        // staged text vector costs appender time (the rest are typed NULLs in the MERGE).
        const keep: Array<number> = []
        for (let c = 0; c < columns.length; c++) {
          for (let r = 0; r < texts.length; r++) {
            if (texts[r]![c] !== null) {
              keep.push(c)
              break
            }
          }
        }
        // DuckDB: a batch whose keys are all distinct (the usual bulk case) needs no
        // newest-per-key window, which costs about half of the MERGE there; and columns holding
        // one value in every row (source, account, batch id, currency…) become SQL literals
        // instead of staged text vectors.
        const distinct = d.name === "duckdb" && keysDistinct(table, columns, texts)
        const constants = new Map<string, string>()
        if (distinct && texts.length > 1) {
          for (const c of keep) {
            const first = texts[0]![c] ?? null
            if (first === null) continue
            let same = true
            for (let r = 1; r < texts.length && same; r++) same = texts[r]![c] === first
            if (same) constants.set(columns[c]!.name, first)
          }
          if (constants.size === keep.length) constants.clear()
        }
        const stagedIdx = constants.size === 0 ? keep : keep.filter((c) => !constants.has(columns[c]!.name))
        const stagedColumns = stagedIdx.map((c) => columns[c]!)
        const stagedTexts =
          stagedIdx.length === columns.length
            ? texts
            : texts.map((row) => stagedIdx.map((c) => row[c] ?? null))
        const staged = new Set(stagedColumns.map((c) => c.name))
        const staging = stagingName(table.name)
        // A small batch of distinct keys (most loads of an incremental run) is written into the
        // MERGE itself as a VALUES list: one statement instead of staging it first (a CREATE, an
        // appender and a DROP on the one connection).
        const inline = distinct ? valuesRelation(stagedColumns, stagedTexts) : undefined
        if (inline !== undefined) {
          const merged = Sql.mergeParts(d, table, columns, staging, staged)
          const parts = yield* mergeToRun(table, columns, texts, {
            ...merged,
            source: plainSource(columns, inline, staged, constants)
          })
          const counts =
            parts === null ? NOTHING_WRITTEN : yield* engine.merge(Sql.renderMerge(parts), table.name)
          return {
            accepted: accepted.length,
            inserted: counts.inserted,
            updated: counts.updated,
            rejected,
            addedColumns
          }
        }
        yield* Effect.acquireUseRelease(
          engine.stage(staging, stagedColumns, stagedTexts),
          () =>
            Effect.gen(function* () {
              const merged = Sql.mergeParts(d, table, columns, staging, staged)
              const parts = yield* mergeToRun(
                table,
                columns,
                texts,
                distinct ? { ...merged, source: plainSource(columns, T(staging), staged, constants) } : merged
              )
              const counts =
                parts === null ? NOTHING_WRITTEN : yield* engine.merge(Sql.renderMerge(parts), table.name)
              inserted = counts.inserted
              updated = counts.updated
            }),
          () => Effect.ignore(engine.dropStaging(staging))
        )
      }
      return { accepted: accepted.length, inserted, updated, rejected, addedColumns }
    })

  /**
   * Sets each row's content hash (`latestWhenUnversioned.contentHash`: `_kura_raw.payload_hash`)
   * to the md5 of the content text it stages, which is the text stored (DuckDB keeps JSON text
   * verbatim, BigQuery keeps it as STRING). A hash the row carried itself is replaced.
   */
  const withContentHashes = (
    table: TableDef,
    columns: ReadonlyArray<ColumnDef>,
    texts: Array<Array<string | null>>
  ): void => {
    const rule = table.latestWhenUnversioned
    if (rule?.contentHash === undefined) return
    const hashAt = columns.findIndex((c) => c.name === rule.contentHash)
    const contentAt = columns.findIndex((c) => c.name === rule.content)
    if (hashAt < 0 || contentAt < 0) return
    for (const row of texts) {
      const content = row[contentAt] ?? null
      row[hashAt] = content === null ? null : createHash("md5").update(content, "utf8").digest("hex")
    }
  }

  /**
   * DuckDB: `parts` of a load into a table keeping the latest copy of unversioned records
   * (`latestWhenUnversioned`: `_kura_raw`) cut to what can write anything, or null when nothing
   * can (the MERGE is not run). A batch without a NULL in the null key (orders, levels: always
   * versioned) runs insert-only, unprobed. Otherwise one probe (`Sql.mergeProbe`: a LEFT JOIN of
   * the batch on the stored keys, comparing content hashes, never the content) counts the batch
   * rows not stored and the stored rows the matched condition would update: none of either (a
   * re-read of unchanged Lightspeed sales or items: 5 MERGEs of ~0.4 s each per idle pass,
   * session 12) and nothing runs; no update and the MERGE runs insert-only; else as is (hashes
   * compared again in the MERGE, against the rows as they are then). A row another connection
   * rewrites between the probe and the MERGE ends as if this load had run at the probe.
   */
  const mergeToRun = (
    table: TableDef,
    columns: ReadonlyArray<ColumnDef>,
    texts: ReadonlyArray<ReadonlyArray<string | null>>,
    parts: Sql.MergeParts
  ): Effect.Effect<Sql.MergeParts | null, WarehouseError> => {
    const rule = table.latestWhenUnversioned
    if (d.name !== "duckdb" || rule === undefined || parts.matchedCondition === null)
      return Effect.succeed(parts)
    const insertOnly = { ...parts, matchedCondition: null }
    const at = columns.findIndex((c) => c.name === rule.nullKey)
    if (at >= 0 && texts.every((row) => row[at] !== null)) return Effect.succeed(insertOnly)
    return Effect.map(engine.query(Sql.mergeProbe(d, table, parts)), ([probe]) => {
      const missing = Number(probe?.missing ?? Number.NaN)
      const changed = Number(probe?.changed ?? Number.NaN)
      // An unreadable answer changes nothing: the MERGE runs whole.
      if (!Number.isFinite(missing) || !Number.isFinite(changed) || changed > 0) return parts
      return missing === 0 ? null : insertOnly
    })
  }

  const keysDistinct = (
    table: TableDef,
    columns: ReadonlyArray<ColumnDef>,
    texts: ReadonlyArray<ReadonlyArray<string | null>>
  ): boolean => {
    const idx = table.primaryKey.map((k) => columns.findIndex((c) => c.name === k))
    // Only text keys compare exactly as text ("01" and "1" are one BIGINT key); dates too, as
    // they are staged only in their one strict YYYY-MM-DD form (inventory snapshot days).
    // Timestamps (`_kura_raw`'s version) compare as the millisecond they name: two texts of one
    // instant ("…Z" and "…+00:00") are one key, and instants within one millisecond count as a
    // repeat too (the batch then takes the de-duplicating path: never a wrong "distinct").
    const kinds = idx.map((i) => (i < 0 ? undefined : columns[i]!.type))
    if (kinds.some((k) => k !== "string" && k !== "date" && k !== "timestamp")) return false
    const seen = new Set<string>()
    for (const row of texts) {
      let key = ""
      for (const [n, i] of idx.entries()) {
        const text = row[i] ?? null
        if (text === null) key += "\u0001\u0000"
        else if (kinds[n] === "timestamp") {
          const ms = Date.parse(text)
          if (Number.isNaN(ms)) return false
          key += `${ms}\u0000`
        } else key += `${text}\u0000`
      }
      if (seen.has(key)) return false
      seen.add(key)
    }
    return true
  }
  /**
   * `(VALUES (…), …) AS s(…)` of staged text rows, as literals, when the batch is small enough to
   * be written into a statement: at most `INLINE_ROWS` rows and `INLINE_CHARS` characters, no NUL
   * character (DuckDB only; undefined otherwise, and the batch is staged).
   */
  const valuesRelation = (
    stagedColumns: ReadonlyArray<ColumnDef>,
    rows: ReadonlyArray<ReadonlyArray<string | null>>
  ): string | undefined => {
    if (d.name !== "duckdb" || rows.length === 0 || rows.length > INLINE_ROWS || stagedColumns.length === 0)
      return undefined
    let chars = 0
    const tuples: Array<string> = []
    for (const row of rows) {
      const values: Array<string> = []
      for (let c = 0; c < stagedColumns.length; c++) {
        const v = row[c] ?? null
        if (v === null) {
          values.push("NULL")
          continue
        }
        chars += v.length
        if (chars > INLINE_CHARS || v.includes("\u0000")) return undefined
        values.push(Sql.stringLiteral(v))
      }
      tuples.push(`(${values.join(", ")})`)
    }
    return `(VALUES ${tuples.join(", ")}) AS ${I("v")}(${stagedColumns.map((c) => I(c.name)).join(", ")})`
  }
  const plainSource = (
    columns: ReadonlyArray<ColumnDef>,
    from: string,
    staged: ReadonlySet<string>,
    constants: ReadonlyMap<string, string>
  ): string =>
    `SELECT ${columns
      .map((c) => {
        const constant = constants.get(c.name)
        if (constant !== undefined) {
          const literal = Sql.stringLiteral(constant)
          return `${c.type === "string" ? literal : `CAST(${literal} AS ${d.type(c.type)})`} AS ${I(c.name)}`
        }
        return staged.has(c.name)
          ? `${Sql.castFromText(d, c)} AS ${I(c.name)}`
          : `CAST(NULL AS ${d.type(c.type)}) AS ${I(c.name)}`
      })
      .join(", ")} FROM ${from}`

  const writeRejected = (table: TableDef, rejected: ReadonlyArray<Rejected>, options?: LoadOptions) =>
    Effect.gen(function* () {
      if (rejected.length === 0) return
      const at = yield* Clock.currentTimeMillis
      yield* writeLetters(
        rejected.map((r) => ({
          key: {
            source: strOrNull(r.row.source) ?? "unknown",
            account: strOrNull(r.row.source_account) ?? "unknown",
            stream: table.name
          },
          sourceId: strOrNull(r.row.source_id),
          payload: stringifyJson(r.row),
          reason: r.reason,
          detail: r.detail,
          origin: options?.origin ?? strOrNull(r.row._batch_id) ?? "load",
          at
        }))
      )
    })

  // Loads of different tables run at once where the engine has more than one connection (DuckDB):
  // the pass's two long chains of loads (Shopify orders, Lightspeed sales) no longer wait for each
  // other's MERGEs. Loads of one table still go one at a time: two MERGEs inserting one new key
  // at once would both insert it (no unique index stops the second), and a column added by one
  // load must be there before the next stages.
  const pinned = engine.pinned ?? engine.serialize
  const tableLocks = new Map<string, Semaphore.Semaphore>()
  const oneLoadPerTable = (table: string) => {
    let lock = tableLocks.get(table)
    if (lock === undefined) {
      lock = Semaphore.makeUnsafe(1)
      tableLocks.set(table, lock)
    }
    return lock.withPermits(1)
  }
  const loadInternal = (tableName: LoadableTableName, rows: ReadonlyArray<LoadRow>) =>
    // The connection first, then the table: a span holding every connection (`exclusive`) may load
    // too, and a load waiting for a connection while holding its table would deadlock against it.
    pinned(
      oneLoadPerTable(String(tableName))(
        Effect.gen(function* () {
          if (!isLoadableName(tableName)) {
            return yield* new WarehouseError({
              reason: "InvalidInput",
              operation: "load",
              message: `"${String(tableName)}" is not a loadable table: use a canonical table name (orders, order_lines, …) or _kura_raw`
            })
          }
          const table = loadableTable(tableName)
          const r = yield* loadChunk(table, rows)
          return {
            result: {
              table: table.name,
              received: rows.length,
              inserted: r.inserted,
              updated: r.updated,
              unchanged: r.accepted - r.inserted - r.updated,
              deadLettered: r.rejected.length,
              addedColumns: r.addedColumns
            } satisfies LoadResult,
            rejected: r.rejected,
            table
          }
        })
      )
    )

  const load = Effect.fn("Warehouse.load")(function* (
    tableName: LoadableTableName,
    rows: ReadonlyArray<LoadRow>,
    options?: LoadOptions
  ) {
    const { result, rejected, table } = yield* loadInternal(tableName, rows)
    yield* writeRejected(table, rejected, options)
    return result
  })

  const emptyResult = (table: string): LoadResult => ({
    table,
    received: 0,
    inserted: 0,
    updated: 0,
    unchanged: 0,
    deadLettered: 0,
    addedColumns: []
  })
  const combine = (a: LoadResult, b: LoadResult): LoadResult => ({
    table: a.table,
    received: a.received + b.received,
    inserted: a.inserted + b.inserted,
    updated: a.updated + b.updated,
    unchanged: a.unchanged + b.unchanged,
    deadLettered: a.deadLettered + b.deadLettered,
    addedColumns: [...a.addedColumns, ...b.addedColumns]
  })

  const loadStream = <E, R>(
    tableName: LoadableTableName,
    rows: Stream.Stream<LoadRow, E, R>,
    options?: LoadOptions & { readonly chunkSize?: number }
  ) =>
    rows.pipe(
      Stream.grouped(options?.chunkSize ?? 50_000),
      Stream.runFoldEffect(
        () => emptyResult(tableName),
        (acc, chunk) => Effect.map(load(tableName, chunk, options), (r) => combine(acc, r))
      ),
      Effect.withSpan("Warehouse.loadStream")
    )

  const markDeleted = Effect.fn("Warehouse.markDeleted")(function* (
    tableName: LoadableTableName,
    keys: ReadonlyArray<{
      readonly source: string
      readonly source_account: string
      readonly source_id: string
    }>,
    deletedAt: string
  ) {
    if (keys.length === 0) return 0
    const at = toText("timestamp", deletedAt)
    if (!at.ok || at.text === null) {
      return yield* new WarehouseError({
        reason: "InvalidInput",
        operation: "markDeleted",
        message: `deletedAt must be an ISO-8601 timestamp, got ${JSON.stringify(deletedAt)}`
      })
    }
    const table = loadableTable(tableName)
    const cols = table.columns.filter((c) => ["source", "source_account", "source_id"].includes(c.name))
    const staging = stagingName(table.name)
    return yield* engine.serialize(
      Effect.acquireUseRelease(
        engine.stage(
          staging,
          cols,
          keys.map((k) => [k.source, k.source_account, k.source_id])
        ),
        () => engine.run(Sql.softDelete(d, table.name, staging, "deleted_at"), { deleted_at: at.text }),
        () => Effect.ignore(engine.dropStaging(staging))
      )
    )
  })

  const markDeletedEach = Effect.fn("Warehouse.markDeletedEach")(function* (
    tableName: LoadableTableName,
    entries: ReadonlyArray<{
      readonly key: { readonly source: string; readonly source_account: string; readonly source_id: string }
      readonly deletedAt: string
    }>
  ) {
    if (entries.length === 0) return 0
    const table = loadableTable(tableName)
    const times: Array<string> = []
    for (const e of entries) {
      const at = toText("timestamp", e.deletedAt)
      if (!at.ok || at.text === null) {
        return yield* new WarehouseError({
          reason: "InvalidInput",
          operation: "markDeletedEach",
          message: `deletedAt must be an ISO-8601 timestamp, got ${JSON.stringify(e.deletedAt)} (key ${e.key.source_id})`
        })
      }
      times.push(at.text)
    }
    const tuples = entries.map((e, i) =>
      [e.key.source, e.key.source_account, e.key.source_id, times[i]!, String(i)]
        .map(Sql.stringLiteral)
        .join(", ")
    )
    if (d.name === "duckdb" && entries.length <= INLINE_ROWS && !tuples.some((t) => t.includes("\u0000"))) {
      // One UPDATE for the page: a soft delete was a staging table, an appender and an UPDATE per
      // event (two events of one page: 2 × ≈ 12 ms on the 30k-row orders table, load 4).
      const [src, acct, id] = ["source", "source_account", "source_id"].map(I) as [string, string, string]
      const keys = `(VALUES (${tuples.join("), (")})) AS v(${src}, ${acct}, ${id}, ${I("deleted_at")}, ${I("ord")})`
      // The first time listed for a key wins, as it would over repeated markDeleted calls.
      const first = `SELECT ${src}, ${acct}, ${id}, arg_min(CAST(${I("deleted_at")} AS ${d.type("timestamp")}), CAST(${I("ord")} AS BIGINT)) AS ${I("deleted_at")} FROM ${keys} GROUP BY ${src}, ${acct}, ${id}`
      return yield* engine.run(
        `UPDATE ${T(table.name)} AS t SET ${I("_deleted_at")} = k.${I("deleted_at")} FROM (${first}) AS k WHERE t.${I("_deleted_at")} IS NULL AND k.${src} = t.${src} AND k.${acct} = t.${acct} AND k.${id} = t.${id}`
      )
    }
    let marked = 0
    const byTime = new Map<string, Array<(typeof entries)[number]["key"]>>()
    for (const [i, e] of entries.entries()) {
      const keys = byTime.get(times[i]!)
      if (keys === undefined) byTime.set(times[i]!, [e.key])
      else keys.push(e.key)
    }
    for (const [at, keys] of byTime) marked += yield* markDeleted(tableName, keys, at)
    return marked
  })

  // ---------- checkpoints and bulk jobs (_kura_sync_state) ----------

  const syncState = StateTables.syncState
  const upsertState = upsertOneSql(syncState, ["kind", "id"])
  const stateParams = (v: {
    kind: string
    id: string
    key: StreamKey
    cursor?: string | null
    meta?: string | null
    window_start?: string | null
    window_end?: string | null
    state?: string | null
    remote_status?: string | null
    object_count?: string | null
    created_at: number
    updated_at: number
  }) =>
    params({
      kind: v.kind,
      id: v.id,
      source: v.key.source,
      source_account: v.key.account,
      stream: v.key.stream,
      cursor: v.cursor ?? null,
      meta: v.meta ?? null,
      window_start: v.window_start ?? null,
      window_end: v.window_end ?? null,
      state: v.state ?? null,
      remote_status: v.remote_status ?? null,
      object_count: v.object_count ?? null,
      created_at: v.created_at,
      updated_at: v.updated_at
    })
  const keyOf = (r: SqlRow): StreamKey => ({
    source: str(r.source),
    account: str(r.source_account),
    stream: str(r.stream)
  })
  const toCheckpoint = (r: SqlRow): Checkpoint => {
    const meta = r.meta === null || r.meta === undefined ? undefined : parseMeta(str(r.meta))
    return {
      key: keyOf(r),
      cursor: str(r.cursor),
      updatedAt: Number(r.updated_at),
      ...(meta === undefined ? {} : { meta })
    }
  }
  const stateSelect = `SELECT ${syncState.columns.map((c) => I(c.name)).join(", ")} FROM ${T(syncState.name)}`

  const checkpointStatement = (c: Checkpoint): SqlStatement => ({
    sql: upsertState,
    params: stateParams({
      kind: "checkpoint",
      id: streamKeyToString(c.key),
      key: c.key,
      cursor: c.cursor,
      meta: c.meta === undefined ? null : JSON.stringify(c.meta),
      created_at: c.updatedAt,
      updated_at: c.updatedAt
    })
  })
  const putCheckpoint = (c: Checkpoint) => {
    const st = checkpointStatement(c)
    return engine.run(st.sql, st.params)
  }
  const getCheckpoint = (key: StreamKey) =>
    Effect.map(
      engine.query(`${stateSelect} WHERE ${I("kind")} = 'checkpoint' AND ${I("id")} = ${P("id")}`, {
        id: streamKeyToString(key)
      }),
      (rows) => Option.map(Option.fromNullishOr(rows[0]), toCheckpoint)
    )

  const checkpointsOf = Effect.fn("Warehouse.checkpointsOf")(function* (keys: ReadonlyArray<StreamKey>) {
    const ids = [...new Set(keys.map(streamKeyToString))]
    if (ids.length === 0) return new Map<string, Checkpoint>()
    const rows = yield* engine.query(
      `${stateSelect} WHERE ${I("kind")} = 'checkpoint' AND ${I("id")} IN (${ids.map((_, i) => P(`id_${i}`)).join(", ")})`,
      Object.fromEntries(ids.map((id, i) => [`id_${i}`, id]))
    )
    return new Map(rows.map((r) => [str(r.id), toCheckpoint(r)]))
  })

  const checkpoints = CheckpointStore.of({
    get: (key) => getCheckpoint(key).pipe(Effect.mapError(toStoreError("CheckpointStore", "get"))),
    put: (c) =>
      putCheckpoint(c).pipe(
        Effect.asVoid,
        Effect.mapError(toStoreError("CheckpointStore", `put ${streamKeyToString(c.key)}`))
      ),
    delete: (key) =>
      engine
        .run(
          `DELETE FROM ${T(syncState.name)} WHERE ${I("kind")} = 'checkpoint' AND ${I("id")} = ${P("id")}`,
          {
            id: streamKeyToString(key)
          }
        )
        .pipe(Effect.asVoid, Effect.mapError(toStoreError("CheckpointStore", "delete"))),
    list: (filter) =>
      engine
        .query(
          `${stateSelect} WHERE ${I("kind")} = 'checkpoint'${filter?.source === undefined ? "" : ` AND ${I("source")} = ${P("source")}`} ORDER BY ${I("id")}`,
          filter?.source === undefined ? {} : { source: filter.source }
        )
        .pipe(
          Effect.map((rows) => rows.map(toCheckpoint)),
          Effect.mapError(toStoreError("CheckpointStore", "list"))
        )
  })

  const jobStates: ReadonlyArray<BulkJobState> = ["started", "completed", "loaded", "failed", "canceled"]
  const toJob = (r: SqlRow): BulkJobRecord => ({
    jobId: str(r.id),
    key: keyOf(r),
    windowStart: str(r.window_start),
    windowEnd: str(r.window_end),
    state: jobStates.find((s) => s === r.state) ?? "failed",
    remoteStatus: strOrNull(r.remote_status),
    objectCount: strOrNull(r.object_count),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at)
  })
  const keyFilter = (key?: StreamKey) =>
    key === undefined
      ? { sql: "", params: {} }
      : {
          sql: ` AND ${I("source")} = ${P("source")} AND ${I("source_account")} = ${P("account")} AND ${I("stream")} = ${P("stream")}`,
          params: { source: key.source, account: key.account, stream: key.stream }
        }
  const bulkJobs = BulkJobStore.of({
    put: (j) =>
      engine
        .run(
          upsertState,
          stateParams({
            kind: "bulk_job",
            id: j.jobId,
            key: j.key,
            window_start: j.windowStart,
            window_end: j.windowEnd,
            state: j.state,
            remote_status: j.remoteStatus,
            object_count: j.objectCount,
            created_at: j.createdAt,
            updated_at: j.updatedAt
          })
        )
        .pipe(Effect.asVoid, Effect.mapError(toStoreError("BulkJobStore", `put ${j.jobId}`))),
    get: (jobId) =>
      engine
        .query(`${stateSelect} WHERE ${I("kind")} = 'bulk_job' AND ${I("id")} = ${P("id")}`, { id: jobId })
        .pipe(
          Effect.map((rows) => Option.map(Option.fromNullishOr(rows[0]), toJob)),
          Effect.mapError(toStoreError("BulkJobStore", "get"))
        ),
    listOpen: (key) => {
      const f = keyFilter(key)
      return engine
        .query(
          `${stateSelect} WHERE ${I("kind")} = 'bulk_job' AND ${I("state")} IN ('started', 'completed')${f.sql} ORDER BY ${I("created_at")}, ${I("id")}`,
          f.params
        )
        .pipe(
          Effect.map((rows) => rows.map(toJob)),
          Effect.mapError(toStoreError("BulkJobStore", "listOpen"))
        )
    },
    list: (key) => {
      const f = keyFilter(key)
      return engine
        .query(
          `${stateSelect} WHERE ${I("kind")} = 'bulk_job'${f.sql} ORDER BY ${I("created_at")}, ${I("id")}`,
          f.params
        )
        .pipe(
          Effect.map((rows) => rows.map(toJob)),
          Effect.mapError(toStoreError("BulkJobStore", "list"))
        )
    }
  })

  // ---------- token records (_kura_tokens) ----------

  const tokensTable = StateTables.tokens
  const tokenCols = tokensTable.columns
  const tokenSource = `SELECT ${tokenCols.map((c) => `${c.type === "string" ? P(c.name) : `CAST(${P(c.name)} AS ${d.type(c.type)})`} AS ${I(c.name)}`).join(", ")}`
  const tokenMerge = (conditional: boolean) =>
    Sql.renderMerge({
      target: T(tokensTable.name),
      source: tokenSource,
      on: `t.${I("key")} = s.${I("key")}`,
      // The fingerprint check runs inside the MERGE: one atomic statement, so two writers racing
      // on one refresh token cannot both win.
      matchedCondition: conditional
        ? `(t.${I("refresh_fingerprint")} = ${P("expect")} OR (t.${I("refresh_fingerprint")} IS NULL AND ${P("expect")} IS NULL))`
        : "TRUE",
      set: tokenCols.filter((c) => c.name !== "key").map((c) => `${I(c.name)} = s.${I(c.name)}`),
      insertColumns: tokenCols.map((c) => I(c.name)),
      insertValues: tokenCols.map((c) => `s.${I(c.name)}`)
    })
  const tokenMergeAlways = tokenMerge(false)
  const tokenMergeExpect = tokenMerge(true)
  const tokenRecords: TokenRecords = {
    get: (key) =>
      Effect.map(
        engine.query(
          `SELECT ${I("sealed")}, ${I("refresh_fingerprint")}, ${I("updated_at")} FROM ${T(tokensTable.name)} WHERE ${I("key")} = ${P("key")}`,
          { key }
        ),
        (rows) =>
          Option.map(Option.fromNullishOr(rows[0]), (r) => ({
            sealed: str(r.sealed),
            refreshFingerprint: strOrNull(r.refresh_fingerprint),
            updatedAt: Number(r.updated_at)
          }))
      ).pipe(Effect.withSpan("Warehouse.tokenRecords.get")),
    put: (key, record, options) => {
      const conditional = options?.expectFingerprint !== undefined
      return Effect.map(
        engine.run(conditional ? tokenMergeExpect : tokenMergeAlways, {
          key,
          sealed: record.sealed,
          refresh_fingerprint: record.refreshFingerprint,
          updated_at: String(record.updatedAt),
          ...(conditional ? { expect: options?.expectFingerprint ?? null } : {})
        }),
        (changed) => changed > 0
      ).pipe(Effect.withSpan("Warehouse.tokenRecords.put"))
    }
  }

  // ---------- dead letters ----------

  const dl = StateTables.deadLetters
  /** Letters go in as one staged batch and one insert-only MERGE (one DML job in BigQuery). */
  const writeLetters = (letters: ReadonlyArray<DeadLetter>) =>
    Effect.gen(function* () {
      if (letters.length === 0) return
      const rows = letters.map((l) =>
        [
          letterId(l.at),
          l.key.source,
          l.key.account,
          l.key.stream,
          l.sourceId,
          l.payload,
          l.reason,
          l.detail,
          l.origin,
          String(l.at),
          "0",
          null
        ].map((v) => v ?? null)
      )
      const staging = stagingName(dl.name)
      // One connection from stage to drop: the staging table is temporary to it.
      yield* pinned(
        Effect.acquireUseRelease(
          engine.stage(staging, dl.columns, rows),
          () => engine.run(Sql.renderMerge(Sql.mergeParts(d, dl, dl.columns, staging))),
          () => Effect.ignore(engine.dropStaging(staging))
        )
      )
    })
  const deadLetters = DeadLetterSink.of({
    write: (letters) => writeLetters(letters).pipe(Effect.mapError(toStoreError("DeadLetterSink", "write")))
  })

  const toLetter = (r: SqlRow): StoredDeadLetter => ({
    id: str(r.id),
    key: keyOf(r),
    sourceId: strOrNull(r.source_id),
    payload: str(r.payload),
    reason: str(r.reason),
    detail: str(r.detail),
    origin: str(r.origin),
    at: Number(r.at),
    attempts: Number(r.attempts),
    replayedAt: numOrNull(r.replayed_at)
  })
  /** `col IN (@prefix_0, …)` over `values`, its parameters added to `p`. */
  const inList = (col: string, prefix: string, values: ReadonlyArray<string>, p: Record<string, string>) => {
    values.forEach((v, i) => {
      p[`${prefix}_${i}`] = v
    })
    return `${I(col)} IN (${values.map((_, i) => P(`${prefix}_${i}`)).join(", ")})`
  }
  const listDeadLetters = Effect.fn("Warehouse.listDeadLetters")(function* (filter?: DeadLetterFilter) {
    if (filter?.ids !== undefined && filter.ids.length === 0) return []
    const where: Array<string> = []
    const p: Record<string, string> = {}
    if (!filter?.includeReplayed) where.push(`${I("replayed_at")} IS NULL`)
    if (filter?.reason !== undefined) {
      where.push(`${I("reason")} = ${P("reason")}`)
      p.reason = filter.reason
    }
    if (filter?.since !== undefined) {
      if (!Number.isFinite(filter.since))
        return yield* new WarehouseError({
          reason: "InvalidInput",
          operation: "listDeadLetters",
          message: `DeadLetterFilter.since must be a time in epoch milliseconds (got ${filter.since}); pass Date.parse(…) of an ISO time`
        })
      where.push(`${I("at")} >= CAST(${P("since")} AS ${d.type("int")})`)
      p.since = String(Math.ceil(filter.since))
    }
    if (filter?.ids !== undefined) where.push(inList("id", "id", [...new Set(filter.ids)], p))
    for (const [field, col] of [
      ["source", "source"],
      ["account", "source_account"],
      ["stream", "stream"]
    ] as const) {
      const v = filter?.key?.[field]
      if (v !== undefined) {
        where.push(`${I(col)} = ${P(col)}`)
        p[col] = v
      }
    }
    const rows = yield* engine.query(
      `SELECT ${dl.columns.map((c) => I(c.name)).join(", ")} FROM ${T(dl.name)}${where.length ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY ${I("at")}, ${I("id")}`,
      p
    )
    return rows.map(toLetter)
  })

  const defaultReplay = (letter: StoredDeadLetter) =>
    Effect.gen(function* () {
      const table = AllTables.find((t) => t.name === letter.key.stream)
      const name = letter.key.stream
      // Only load rejections carry a table row; decode/map letters hold API payloads (whose
      // stream may share a table's name) and need the caller's handler.
      if (table === undefined || !isLoadableName(name) || !LOAD_REJECTIONS.has(letter.reason)) {
        return yield* Effect.fail(`no default replay for stream "${name}": pass a handler`)
      }
      const row = yield* Effect.try(() => JSON.parse(letter.payload) as unknown)
      if (!isRecord(row)) return yield* Effect.fail("payload is not a JSON object")
      const out = yield* loadInternal(name, [row])
      const first = out.rejected[0]
      if (first) return yield* Effect.fail(`${first.reason}: ${first.detail}`)
    })

  const replayDeadLetters = <E = never, R = never>(
    filter?: DeadLetterFilter,
    handler?: (letter: StoredDeadLetter) => Effect.Effect<void, E, R>
  ): Effect.Effect<ReplayResult, WarehouseError, R> =>
    Effect.gen(function* () {
      // The operator may have changed the schema since (that is often the fix being replayed).
      liveCache.clear()
      const letters = yield* listDeadLetters({ ...filter, includeReplayed: false })
      let replayed = 0
      let failed = 0
      for (const letter of letters) {
        const run: Effect.Effect<void, unknown, R> = handler ? handler(letter) : defaultReplay(letter)
        const ok = yield* run.pipe(
          Effect.as(true),
          Effect.catchCause(() => Effect.succeed(false))
        )
        if (ok) replayed++
        else failed++
        // Marked one by one: a crash mid-replay leaves the letters done so far marked.
        yield* markDeadLetters([letter.id], ok ? "replayed" : "failed")
      }
      return { attempted: letters.length, replayed, failed }
    }).pipe(Effect.withSpan("Warehouse.replayDeadLetters"))

  const relinkVariants = Effect.fn("Warehouse.relinkVariants")(function* (shop: string) {
    // One variant per inventory item (BigQuery refuses an UPDATE matching two source rows).
    const catalog = `SELECT ${I("inventory_item_id")}, MIN(${I("source_id")}) AS ${I("variant_id")}, MIN(${I("sku")}) AS ${I("sku")} FROM ${T("variants")} WHERE ${I("source")} = 'shopify' AND ${I("source_account")} = ${P("shop")} AND ${I("inventory_item_id")} IS NOT NULL AND ${I("_deleted_at")} IS NULL GROUP BY ${I("inventory_item_id")} HAVING COUNT(*) = 1`
    const relink = (table: "purchase_order_lines" | "inventory_movements") =>
      engine.run(
        `UPDATE ${T(table)} AS t SET ${I("variant_id")} = v.${I("variant_id")}, ${I("sku")} = COALESCE(t.${I("sku")}, v.${I("sku")}) FROM (${catalog}) AS v WHERE t.${I("variant_id")} IS NULL AND t.${I("inventory_item_id")} = v.${I("inventory_item_id")} AND t.${I("source_account")} = ${P("shop")} AND t.${I("source")} IN ('stocky', 'shopify')`,
        { shop }
      )
    return {
      purchase_order_lines: yield* relink("purchase_order_lines"),
      inventory_movements: yield* relink("inventory_movements")
    }
  })

  const markDeadLetters = Effect.fn("Warehouse.markDeadLetters")(function* (
    ids: ReadonlyArray<string>,
    mark: DeadLetterMark,
    at?: number
  ) {
    if (mark !== "replayed" && mark !== "failed")
      return yield* new WarehouseError({
        reason: "InvalidInput",
        operation: "markDeadLetters",
        message: `mark must be "replayed" or "failed" (got ${String(mark)})`
      })
    const now = at ?? (yield* Clock.currentTimeMillis)
    const unique = [...new Set(ids)]
    let marked = 0
    // Chunked so one statement stays well inside BigQuery's parameter limits.
    for (let i = 0; i < unique.length; i += 1_000) {
      const p: Record<string, string> = {}
      const set =
        mark === "replayed"
          ? `${I("replayed_at")} = CAST(${P("now")} AS ${d.type("int")}), ${I("attempts")} = ${I("attempts")} + 1`
          : `${I("attempts")} = ${I("attempts")} + 1`
      if (mark === "replayed") p.now = String(Math.trunc(now))
      const where = inList("id", "id", unique.slice(i, i + 1_000), p)
      marked += yield* engine.run(
        `UPDATE ${T(dl.name)} SET ${set} WHERE ${where} AND ${I("replayed_at")} IS NULL`,
        p
      )
    }
    return marked
  })

  // ---------- the run ledger ----------

  const runs = StateTables.syncRuns
  const upsertRun = upsertOneSql(runs, ["run_id", "source", "source_account", "stream"])
  const runSelect = `SELECT ${runs.columns
    .map((c) =>
      c.type === "decimal" || c.type === "json" ? `CAST(${I(c.name)} AS ${S}) AS ${I(c.name)}` : I(c.name)
    )
    .join(", ")} FROM ${T(runs.name)}`
  const runStatuses = ["running", "complete", "incomplete", "failed"] as const
  const toRun = (r: SqlRow): SyncRun => ({
    runId: str(r.run_id),
    key: keyOf(r),
    startedAt: Number(r.started_at),
    finishedAt: numOrNull(r.finished_at),
    cursorBefore: strOrNull(r.cursor_before),
    cursorAfter: strOrNull(r.cursor_after),
    reportedCount: numOrNull(r.reported_count),
    reportedTotal: r.reported_total === null || r.reported_total === undefined ? null : dec(r.reported_total),
    rowsFetched: numOrNull(r.rows_fetched),
    rowsLoaded: numOrNull(r.rows_loaded),
    loadedTotal: r.loaded_total === null || r.loaded_total === undefined ? null : dec(r.loaded_total),
    status: runStatuses.find((s) => s === r.status) ?? "failed",
    detail: strOrNull(r.detail),
    apiUsage: parseRunApiUsage(r.api_usage)
  })
  const runParams = (r: SyncRun) =>
    params({
      run_id: r.runId,
      source: r.key.source,
      source_account: r.key.account,
      stream: r.key.stream,
      started_at: r.startedAt,
      finished_at: r.finishedAt,
      cursor_before: r.cursorBefore,
      cursor_after: r.cursorAfter,
      reported_count: r.reportedCount,
      reported_total: r.reportedTotal,
      rows_fetched: r.rowsFetched,
      rows_loaded: r.rowsLoaded,
      loaded_total: r.loadedTotal,
      status: r.status,
      detail: r.detail,
      api_usage: r.apiUsage === null ? null : JSON.stringify(r.apiUsage)
    })
  const getRun = (runId: string, key: StreamKey) =>
    Effect.map(
      engine.query(
        `${runSelect} WHERE ${I("run_id")} = ${P("run_id")} AND ${I("source")} = ${P("source")} AND ${I("source_account")} = ${P("account")} AND ${I("stream")} = ${P("stream")}`,
        { run_id: runId, source: key.source, account: key.account, stream: key.stream }
      ),
      (rows) => Option.map(Option.fromNullishOr(rows[0]), toRun)
    )

  /** A ledger entry as a run opens it: nothing fetched or loaded yet. */
  const runningRun = (
    runId: string,
    key: StreamKey,
    cursorBefore: string | null,
    startedAt: number
  ): SyncRun => ({
    runId,
    key,
    startedAt,
    finishedAt: null,
    cursorBefore,
    cursorAfter: null,
    reportedCount: null,
    reportedTotal: null,
    rowsFetched: null,
    rowsLoaded: null,
    loadedTotal: null,
    status: "running",
    detail: null,
    apiUsage: null
  })

  const startRun = Effect.fn("Warehouse.startRun")(function* (input: {
    readonly runId: string
    readonly key: StreamKey
    readonly cursorBefore?: string | null
  }) {
    const cursorBefore =
      input.cursorBefore !== undefined
        ? input.cursorBefore
        : Option.getOrNull(Option.map(yield* getCheckpoint(input.key), (c) => c.cursor))
    const run = runningRun(input.runId, input.key, cursorBefore, yield* Clock.currentTimeMillis)
    yield* engine.run(upsertRun, runParams(run))
    return run
  })

  const startRuns = Effect.fn("Warehouse.startRuns")(function* (
    input: ReadonlyArray<{
      readonly runId: string
      readonly key: StreamKey
      readonly cursorBefore: string | null
      readonly startedAt?: number
    }>
  ) {
    if (input.length === 0) return []
    const now = yield* Clock.currentTimeMillis
    const opened = input.map((r) => runningRun(r.runId, r.key, r.cursorBefore, r.startedAt ?? now))
    yield* engine.run(
      upsertManySql(runs, ["run_id", "source", "source_account", "stream"], opened.length),
      params(
        Object.fromEntries(
          opened.flatMap((r, i) => Object.entries(runParams(r)).map(([k, v]) => [`${k}_${i}`, v] as const))
        )
      )
    )
    return opened
  })

  /** What `commitRun` writes for `input`: the ledger row, the checkpoint if it reconciled, the outcome. */
  const prepareCommit = Effect.fnUntraced(function* (input: CommitRunInput) {
    for (const [field, v] of [
      ["reportedTotal", input.reportedTotal],
      ["loadedTotal", input.loadedTotal]
    ] as const) {
      if (v !== null && !isDecimalText(v)) {
        return yield* new WarehouseError({
          reason: "InvalidInput",
          operation: "commitRun",
          message: `${field} must be a decimal string such as "123.45", got ${JSON.stringify(v)}`
        })
      }
    }
    const existing: Option.Option<Pick<SyncRun, "startedAt" | "cursorBefore" | "apiUsage">> =
      input.opened === undefined
        ? yield* getRun(input.runId, input.key)
        : Option.some({ ...input.opened, apiUsage: null })
    const mismatches: Array<string> = []
    if (input.reportedCount !== null && input.reportedCount !== input.rowsLoaded) {
      mismatches.push(`API reported ${input.reportedCount} records but ${input.rowsLoaded} were loaded`)
    }
    if (
      input.reportedTotal !== null &&
      (input.loadedTotal === null ||
        !Decimal.unsafeFrom(input.reportedTotal).equals(Decimal.unsafeFrom(input.loadedTotal)))
    ) {
      mismatches.push(
        `API reported a total of ${input.reportedTotal} but ${input.loadedTotal ?? "nothing"} was loaded`
      )
    }
    const status = mismatches.length === 0 ? "complete" : "incomplete"
    const now = yield* Clock.currentTimeMillis
    const before = Option.isSome(existing)
      ? existing.value.cursorBefore
      : Option.getOrNull(Option.map(yield* getCheckpoint(input.key), (c) => c.cursor))
    const run: SyncRun = {
      runId: input.runId,
      key: input.key,
      startedAt: Option.isSome(existing) ? existing.value.startedAt : now,
      finishedAt: now,
      cursorBefore: before,
      cursorAfter: input.cursorAfter,
      reportedCount: input.reportedCount,
      reportedTotal: input.reportedTotal,
      rowsFetched: input.rowsFetched,
      rowsLoaded: input.rowsLoaded,
      loadedTotal: input.loadedTotal,
      status,
      detail: mismatches.length ? mismatches.join("; ") : null,
      apiUsage: input.apiUsage ?? (Option.isSome(existing) ? existing.value.apiUsage : null)
    }
    const checkpoint: Checkpoint | null =
      status === "complete"
        ? {
            key: input.key,
            cursor: input.cursorAfter,
            updatedAt: now,
            meta: { runId: input.runId, ...input.meta }
          }
        : null
    return { run, checkpoint, result: { status, cursorAdvanced: status === "complete", mismatches } as const }
  })

  const commitRun = Effect.fn("Warehouse.commitRun")(function* (input: CommitRunInput) {
    const { run, checkpoint, result } = yield* prepareCommit(input)
    // The ledger row and the cursor commit together or not at all: a crash can never leave a
    // "complete" run whose cursor did not move, nor a moved cursor without its ledger row.
    const statements: Array<SqlStatement> = [{ sql: upsertRun, params: runParams(run) }]
    if (checkpoint !== null) statements.push(checkpointStatement(checkpoint))
    yield* engine.atomically(statements)
    return result
  }, engine.serialize)

  const commitRuns = Effect.fn("Warehouse.commitRuns")(function* (inputs: ReadonlyArray<CommitRunInput>) {
    if (inputs.length === 0) return []
    const prepared = yield* Effect.forEach(inputs, prepareCommit)
    const checkpointsToWrite = prepared.flatMap((p) => (p.checkpoint === null ? [] : [p.checkpoint]))
    // As `commitRun`, for many runs in one transaction: every ledger row and every cursor, or none.
    const statements: Array<SqlStatement> = [
      {
        sql: upsertManySql(runs, ["run_id", "source", "source_account", "stream"], prepared.length),
        params: manyParams(prepared.map((p) => ({ ...runParams(p.run) })))
      }
    ]
    if (checkpointsToWrite.length > 0)
      statements.push({
        sql: upsertManySql(syncState, ["kind", "id"], checkpointsToWrite.length),
        params: manyParams(checkpointsToWrite.map((c) => ({ ...checkpointStatement(c).params })))
      })
    yield* engine.atomically(statements)
    return prepared.map((p) => p.result)
  }, engine.serialize)

  const failRun = Effect.fn("Warehouse.failRun")(function* (runId: string, key: StreamKey, detail: string) {
    const existing = yield* getRun(runId, key)
    const now = yield* Clock.currentTimeMillis
    const base: SyncRun = Option.getOrElse(existing, () => runningRun(runId, key, null, now))
    yield* engine.run(upsertRun, runParams({ ...base, finishedAt: now, status: "failed", detail }))
  })

  const listRuns = Effect.fn("Warehouse.listRuns")(function* (key?: StreamKey) {
    const f = keyFilter(key)
    const rows = yield* engine.query(
      `${runSelect} WHERE TRUE${f.sql} ORDER BY ${I("started_at")}, ${I("run_id")}`,
      f.params
    )
    return rows.map(toRun)
  })

  const recordRunUsage = Effect.fn("Warehouse.recordRunUsage")(function* (
    runId: string,
    key: StreamKey,
    usage: RunApiUsage
  ) {
    const changed = yield* engine.run(
      `UPDATE ${T(runs.name)} SET ${I("api_usage")} = CAST(${P("usage")} AS ${d.type("json")}) WHERE ${I("run_id")} = ${P("run_id")} AND ${I("source")} = ${P("source")} AND ${I("source_account")} = ${P("account")} AND ${I("stream")} = ${P("stream")}`,
      {
        usage: JSON.stringify(usage),
        run_id: runId,
        source: key.source,
        account: key.account,
        stream: key.stream
      }
    )
    return changed > 0
  })

  const recordRunUsages = Effect.fn("Warehouse.recordRunUsages")(function* (
    entries: ReadonlyArray<{ readonly runId: string; readonly key: StreamKey; readonly usage: RunApiUsage }>
  ) {
    if (entries.length === 0) return
    // One UPDATE picking each run's figure by key (a CASE), like `recordRunUsage` row by row.
    const match = (i: number) =>
      `(${I("run_id")} = ${P(`run_id_${i}`)} AND ${I("source")} = ${P(`source_${i}`)} AND ${I("source_account")} = ${P(`account_${i}`)} AND ${I("stream")} = ${P(`stream_${i}`)})`
    yield* engine.run(
      `UPDATE ${T(runs.name)} SET ${I("api_usage")} = CASE ${entries.map((_, i) => `WHEN ${match(i)} THEN CAST(${P(`usage_${i}`)} AS ${d.type("json")})`).join(" ")} END WHERE ${entries.map((_, i) => match(i)).join(" OR ")}`,
      Object.fromEntries(
        entries.flatMap((e, i) => [
          [`run_id_${i}`, e.runId],
          [`source_${i}`, e.key.source],
          [`account_${i}`, e.key.account],
          [`stream_${i}`, e.key.stream],
          [`usage_${i}`, JSON.stringify(e.usage)]
        ])
      )
    )
  })

  // ---------- leases ----------

  const leases = StateTables.leases
  const leaseMerge = upsertOneSql(
    leases,
    ["stream_key"],
    "(t.expires_at <= s.acquired_at OR t.holder = s.holder)"
  )
  const readLease = (streamKey: string) =>
    Effect.map(
      engine.query(
        `SELECT ${I("holder")}, ${I("expires_at")} FROM ${T(leases.name)} WHERE ${I("stream_key")} = ${P("k")}`,
        { k: streamKey }
      ),
      (rows) => rows[0]
    )

  const acquireLease = Effect.fn("Warehouse.acquireLease")(function* (
    key: StreamKey,
    holder: string,
    ttlMillis: number
  ) {
    const streamKey = streamKeyToString(key)
    const now = yield* Clock.currentTimeMillis
    const expiresAt = now + ttlMillis
    const row = yield* engine.serialize(
      Effect.andThen(
        engine.run(
          leaseMerge,
          params({ stream_key: streamKey, holder, acquired_at: now, expires_at: expiresAt })
        ),
        readLease(streamKey)
      )
    )
    if (row !== undefined && row.holder === holder && Number(row.expires_at) === expiresAt) {
      return { streamKey, holder, expiresAt } satisfies Lease
    }
    // No row on read-back means another holder released between our MERGE and the read: the
    // stream was contended, so report it as held (the caller retries) rather than die formatting
    // an absent expiry.
    const heldUntil = numOrNull(row?.expires_at)
    return yield* new LeaseError({
      reason: "held",
      streamKey,
      holder: str(row?.holder),
      expiresAt: heldUntil,
      message:
        row === undefined || heldUntil === null || !Number.isFinite(heldUntil)
          ? `stream ${streamKey} changed hands while acquiring its lease; try again`
          : `stream ${streamKey} is leased by ${str(row.holder)} until ${new Date(heldUntil).toISOString()}`
    })
  })

  const renewLease = Effect.fn("Warehouse.renewLease")(function* (lease: Lease, ttlMillis: number) {
    const now = yield* Clock.currentTimeMillis
    const expiresAt = now + ttlMillis
    const row = yield* engine.serialize(
      Effect.andThen(
        engine.run(
          `UPDATE ${T(leases.name)} SET ${I("expires_at")} = CAST(${P("exp")} AS ${d.type("int")}) WHERE ${I("stream_key")} = ${P("k")} AND ${I("holder")} = ${P("h")} AND ${I("expires_at")} > CAST(${P("now")} AS ${d.type("int")})`,
          { exp: String(expiresAt), k: lease.streamKey, h: lease.holder, now: String(now) }
        ),
        readLease(lease.streamKey)
      )
    )
    if (row !== undefined && row.holder === lease.holder && Number(row.expires_at) === expiresAt) {
      return { ...lease, expiresAt } satisfies Lease
    }
    return yield* new LeaseError({
      reason: "lost",
      streamKey: lease.streamKey,
      holder: str(row?.holder),
      expiresAt: numOrNull(row?.expires_at),
      message: `lease on ${lease.streamKey} held by ${lease.holder} expired or was taken over`
    })
  })

  const releaseLease = Effect.fn("Warehouse.releaseLease")(function* (lease: Lease) {
    // Serialized with acquire/renew so a release never lands between their write and read-back.
    yield* engine.serialize(
      engine.run(
        `DELETE FROM ${T(leases.name)} WHERE ${I("stream_key")} = ${P("k")} AND ${I("holder")} = ${P("h")}`,
        { k: lease.streamKey, h: lease.holder }
      )
    )
  })

  const acquireLeases = Effect.fn("Warehouse.acquireLeases")(function* (
    requests: ReadonlyArray<{ readonly key: StreamKey; readonly holder: string }>,
    ttlMillis: number
  ) {
    if (requests.length === 0) return []
    const now = yield* Clock.currentTimeMillis
    const expiresAt = now + ttlMillis
    const rows = requests.map((r) => ({
      stream_key: streamKeyToString(r.key),
      holder: r.holder,
      acquired_at: now,
      expires_at: expiresAt
    }))
    if (new Set(rows.map((r) => r.stream_key)).size !== rows.length)
      return yield* new WarehouseError({
        reason: "InvalidInput",
        operation: "acquireLeases",
        message: "each stream may appear once per call: acquire a stream's lease once"
      })
    const merge = upsertManySql(leases, ["stream_key"], rows.length, {
      when: "(t.expires_at <= s.acquired_at OR t.holder = s.holder)"
    })
    const columns = `${I("stream_key")}, ${I("holder")}, ${I("expires_at")}`
    const readBack = (keys: ReadonlyArray<string>) =>
      engine.query(
        `SELECT ${columns} FROM ${T(leases.name)} WHERE ${I("stream_key")} IN (${keys.map((_, i) => P(`k_${i}`)).join(", ")})`,
        Object.fromEntries(keys.map((k, i) => [`k_${i}`, k]))
      )
    const read = yield* engine.serialize(
      d.name === "duckdb"
        ? // The MERGE returns the rows it wrote, which are the leases taken: one statement per
          // pass's opening instead of two. The others' holders are read only when some are held.
          Effect.gen(function* () {
            const won = yield* engine.query(`${merge} RETURNING ${columns}`, manyParams(rows))
            const taken = new Set(won.map((r) => str(r.stream_key)))
            const held = rows.filter((r) => !taken.has(r.stream_key)).map((r) => r.stream_key)
            return held.length === 0 ? won : [...won, ...(yield* readBack(held))]
          })
        : Effect.andThen(engine.run(merge, manyParams(rows)), readBack(rows.map((r) => r.stream_key)))
    )
    const byKey = new Map(read.map((r) => [str(r.stream_key), r]))
    return rows.map((r): Result.Result<Lease, LeaseError> => {
      const row = byKey.get(r.stream_key)
      if (row !== undefined && row.holder === r.holder && Number(row.expires_at) === expiresAt)
        return Result.succeed({ streamKey: r.stream_key, holder: r.holder, expiresAt })
      const heldUntil = numOrNull(row?.expires_at)
      return Result.fail(
        new LeaseError({
          reason: "held",
          streamKey: r.stream_key,
          holder: str(row?.holder),
          expiresAt: heldUntil,
          message:
            row === undefined || heldUntil === null || !Number.isFinite(heldUntil)
              ? `stream ${r.stream_key} changed hands while acquiring its lease; try again`
              : `stream ${r.stream_key} is leased by ${str(row.holder)} until ${new Date(heldUntil).toISOString()}`
        })
      )
    })
  })

  const releaseLeases = Effect.fn("Warehouse.releaseLeases")(function* (held: ReadonlyArray<Lease>) {
    if (held.length === 0) return
    yield* engine.serialize(
      engine.run(
        `DELETE FROM ${T(leases.name)} WHERE ${held.map((_, i) => `(${I("stream_key")} = ${P(`k_${i}`)} AND ${I("holder")} = ${P(`h_${i}`)})`).join(" OR ")}`,
        Object.fromEntries(
          held.flatMap((l, i) => [[`k_${i}`, l.streamKey] as const, [`h_${i}`, l.holder] as const])
        )
      )
    )
  })

  // ---------- reconciliation ----------

  const salesByDaySql = shopifySalesByDaySql(d)
  const shopifySalesByDay = Effect.fn("Warehouse.shopifySalesByDay")(function* (input: {
    readonly account: string
    readonly zone: string
    readonly since: string
    readonly until: string
  }) {
    const rows = yield* engine.query(salesByDaySql, {
      account: input.account,
      zone: input.zone,
      since: input.since,
      until: input.until
    })
    return rows.map(
      (r): ShopifySalesDay => ({
        day: str(r.day),
        orders: Number(r.orders),
        sales: dec(r.sales),
        refunds: dec(r.refunds),
        cancellations: dec(r.cancellations),
        totalSales: dec(r.total_sales)
      })
    )
  })

  const reconcile = Effect.gen(function* () {
    const generatedAt = yield* Clock.currentTimeMillis
    const sales = yield* engine.query(
      `SELECT CAST(business_date AS ${S}) AS business_date, channel, location_id, currency, CAST(revenue AS ${S}) AS revenue, orders, units, CAST(tax AS ${S}) AS tax, CAST(refunds AS ${S}) AS refunds, CAST(net_revenue AS ${S}) AS net_revenue FROM ${T(DailySales.name)} ORDER BY business_date, channel, location_id, currency`
    )
    const dailySales: Array<DailySalesRow> = sales.map((r) => ({
      businessDate: str(r.business_date),
      channel: str(r.channel),
      locationId: strOrNull(r.location_id),
      currency: strOrNull(r.currency),
      revenue: dec(r.revenue),
      orders: Number(r.orders),
      units: Number(r.units),
      tax: dec(r.tax),
      refunds: dec(r.refunds),
      netRevenue: dec(r.net_revenue)
    }))
    const src = yield* engine.query(
      `SELECT run_id, source, source_account, stream, status, cursor_before, cursor_after, reported_count, rows_fetched, rows_loaded, CAST(reported_total AS ${S}) AS reported_total, CAST(loaded_total AS ${S}) AS loaded_total, count_matches, total_matches, detail, CAST(api_usage AS ${S}) AS api_usage FROM ${T(SourceReconciliation.name)} ORDER BY started_at, run_id, stream`
    )
    const sourceReconciliation: Array<SourceReconciliationRow> = src.map((r) => ({
      runId: str(r.run_id),
      source: str(r.source),
      sourceAccount: str(r.source_account),
      stream: str(r.stream),
      status: str(r.status),
      cursorBefore: strOrNull(r.cursor_before),
      cursorAfter: strOrNull(r.cursor_after),
      reportedCount: numOrNull(r.reported_count),
      rowsFetched: numOrNull(r.rows_fetched),
      rowsLoaded: numOrNull(r.rows_loaded),
      reportedTotal:
        r.reported_total === null || r.reported_total === undefined ? null : dec(r.reported_total),
      loadedTotal: r.loaded_total === null || r.loaded_total === undefined ? null : dec(r.loaded_total),
      countMatches: r.count_matches === true,
      totalMatches: r.total_matches === true,
      detail: strOrNull(r.detail),
      apiUsage: parseRunApiUsage(r.api_usage)
    }))
    const inv = yield* engine.query(
      `SELECT source, source_account, sku, location_id, CAST(snapshot_date AS ${S}) AS snapshot_date, previous_quantity, net_movement, expected_quantity, observed_quantity, discrepancy, status, likely_cause, deleted_before_read, open_tickets, expected_quantity_at_close, voided_sales FROM ${T(InventoryReconciliation.name)} ORDER BY source, source_account, sku, location_id, snapshot_date`
    )
    const inventory: Array<InventoryReconciliationRow> = inv.map((r) => ({
      source: str(r.source),
      sourceAccount: str(r.source_account),
      sku: str(r.sku),
      locationId: str(r.location_id),
      snapshotDate: str(r.snapshot_date),
      previousQuantity: numOrNull(r.previous_quantity),
      netMovement: Number(r.net_movement),
      expectedQuantity: numOrNull(r.expected_quantity),
      observedQuantity: Number(r.observed_quantity),
      discrepancy: numOrNull(r.discrepancy),
      status:
        r.status === "reconciled" ? "reconciled" : r.status === "discrepancy" ? "discrepancy" : "baseline",
      likelyCause: strOrNull(r.likely_cause),
      deletedBeforeRead: Number(r.deleted_before_read ?? 0),
      openTickets: Number(r.open_tickets ?? 0),
      expectedQuantityAtClose: numOrNull(r.expected_quantity_at_close),
      voidedSales: Number(r.voided_sales ?? 0)
    }))
    // Accuracy looks at each SKU-location's latest checked day (the current state of the stock).
    const latest = new Map<string, InventoryReconciliationRow>()
    for (const row of inventory) {
      if (row.status === "baseline") continue
      latest.set(`${row.source}|${row.sourceAccount}|${row.sku}|${row.locationId}`, row)
    }
    const checked = [...latest.values()]
    const incompleteRuns = sourceReconciliation.filter(
      (r) => !r.countMatches || !r.totalMatches || r.status === "incomplete"
    )
    const failedRuns = sourceReconciliation.filter((r) => r.status === "failed")
    const inventoryDiscrepancies = inventory.filter((r) => r.status === "discrepancy")
    const isDeletedBeforeRead = (r: InventoryReconciliationRow) =>
      r.likelyCause?.startsWith("deleted_before_read:") === true
    const inventoryDeletedBeforeRead = inventoryDiscrepancies.filter(isDeletedBeforeRead)
    const isOpenTicket = (r: InventoryReconciliationRow) =>
      r.likelyCause?.startsWith("open_ticket_at_snapshot:") === true
    const inventoryOpenTickets = inventoryDiscrepancies.filter(isOpenTicket)
    const isVoidedSale = (r: InventoryReconciliationRow) => r.likelyCause?.startsWith("voided_sale:") === true
    const inventoryVoidedSales = inventoryDiscrepancies.filter(isVoidedSale)
    const inventoryUnexplained = inventoryDiscrepancies.filter(
      (r) => !isDeletedBeforeRead(r) && !isOpenTicket(r) && !isVoidedSale(r)
    )
    const amb = yield* engine.query(
      `SELECT source, source_account, sku, variant_count, first_variant_id, last_variant_id FROM ${T(SkuAmbiguities.name)} ORDER BY source, source_account, sku`
    )
    const ambiguousSkus: Array<SkuAmbiguityRow> = amb.map((r) => ({
      source: str(r.source),
      sourceAccount: str(r.source_account),
      sku: str(r.sku),
      variantCount: Number(r.variant_count),
      firstVariantId: str(r.first_variant_id),
      lastVariantId: str(r.last_variant_id)
    }))
    const streamOf = (r: SourceReconciliationRow) =>
      `${r.source}/${r.sourceAccount}/${r.stream} run ${r.runId}`
    const problems = [
      ...incompleteRuns.map(
        (r) =>
          `incomplete: ${streamOf(r)}: ${r.detail ?? `API reported ${r.reportedCount ?? "-"} records (total ${r.reportedTotal ?? "-"}), loaded ${r.rowsLoaded ?? "-"} (total ${r.loadedTotal ?? "-"})`}; cursor not advanced`
      ),
      ...failedRuns.map((r) => `failed: ${streamOf(r)}: ${r.detail ?? "no detail"}; cursor not advanced`),
      ...ambiguousSkus.map(
        (a) =>
          `ambiguous SKU: ${a.source}/${a.sourceAccount} ${a.sku} is claimed by ${a.variantCount} variants (${a.firstVariantId} … ${a.lastVariantId}); linked to nothing until a manual sku_map override names the variant`
      ),
      ...inventoryDiscrepancies.map(
        (r) =>
          `inventory: ${r.source}/${r.sourceAccount} SKU ${r.sku} at location ${r.locationId} on ${r.snapshotDate}: expected ${r.expectedQuantity}, observed ${r.observedQuantity} (${(r.discrepancy ?? 0) > 0 ? "+" : ""}${r.discrepancy}): ${r.likelyCause ?? "unknown cause"}`
      )
    ]
    return {
      generatedAt,
      dailySales,
      sourceReconciliation,
      incompleteRuns,
      failedRuns,
      problems,
      inventory,
      inventoryDiscrepancies,
      inventoryDeletedBeforeRead,
      inventoryOpenTickets,
      inventoryVoidedSales,
      inventoryUnexplained,
      ambiguousSkus,
      inventoryAccuracy:
        checked.length === 0 ? null : checked.filter((r) => r.status === "reconciled").length / checked.length
    } satisfies ReconciliationReport
  }).pipe(Effect.withSpan("Warehouse.reconcile"))

  return {
    dialect: d,
    migrate,
    load,
    loadStream,
    markDeleted,
    markDeletedEach,
    query: (sql, p) => engine.query(sql, p),
    engineMemory: engine.memory ?? Effect.succeed([]),
    checkpoints,
    bulkJobs,
    tokenRecords,
    deadLetters,
    listDeadLetters,
    replayDeadLetters,
    markDeadLetters,
    relinkVariants,
    startRun,
    commitRun,
    failRun,
    listRuns,
    recordRunUsage,
    recordRunUsages,
    checkpointsOf,
    startRuns,
    commitRuns,
    acquireLease,
    acquireLeases,
    releaseLeases,
    renewLease,
    releaseLease,
    exclusive: (use) => engine.serialize(use({ run: engine.run, query: engine.query })),
    reconcile,
    shopifySalesByDay
  }
}

/** The `_kura_sync_state` id (kind `migration`) recording that old `_kura_raw` duplicates were removed. */
export const RAW_DEDUP_MIGRATION = "raw_dedup_by_version"

/**
 * The id (kind `migration`) recording that `_kura_raw` rows repeating one record version under
 * two spellings of its updated_at instant were removed.
 */
export const RAW_INSTANT_DEDUP_MIGRATION = "raw_dedup_by_instant"

/**
 * The id (kind `migration`) recording that the warehouse was checked once for Shopify orders
 * whose shipping lines an older bulk export dropped (`Sql.missingShippingLines`).
 */
export const SHIPPING_LINES_CHECK = "shopify_bulk_shipping_lines"

/**
 * The id (kind `migration`) recording that status values written in a source's own words were
 * rewritten into the canonical vocabulary (`statusVocabularyRewrites`).
 */
export const STATUS_VOCABULARY_MIGRATION = "status_vocabulary"

/**
 * The id (kind `migration`) recording that Lightspeed voids written as cancelled orders of their
 * own were re-modelled as refunds of the sales they void (`LightspeedVoidMigration`).
 */
export const LIGHTSPEED_VOIDS_MIGRATION = "lightspeed_voids_as_refunds"

/**
 * The id (kind `migration`) recording that `_kura_raw` rows written before `payload_hash` existed
 * got the md5 of their payload (`Sql.fillContentHash`; meta `{ filled }`).
 */
export const RAW_PAYLOAD_HASH_MIGRATION = "raw_payload_hash"

/** Every one-time data migration and check of an opened warehouse, in order. */
export const RAW_MIGRATIONS: ReadonlyArray<string> = [
  RAW_DEDUP_MIGRATION,
  RAW_INSTANT_DEDUP_MIGRATION,
  SHIPPING_LINES_CHECK,
  STATUS_VOCABULARY_MIGRATION,
  LIGHTSPEED_VOIDS_MIGRATION,
  RAW_PAYLOAD_HASH_MIGRATION
]

/**
 * Rows and characters of text up to which a load's batch is written into its MERGE
 * (`valuesRelation`). Above them staging is cheaper: DuckDB parses and plans a VALUES list at
 * ≈ 0.3 ms per KiB of statement, while staging costs two more round trips (≈ 1–3 ms). Measured
 * on one incremental pass's batches (same MERGE, VALUES vs staged, best of 5): refund_lines 52
 * rows / 9.6 KiB 7.7 vs 6.5 ms, order_lines 196 rows / 36 KiB 33.6 vs 25.6 ms, tax_lines 324
 * rows / 46 KiB 37.4 vs 25.8 ms; a batch of a few rows still goes in one statement.
 */
const INLINE_ROWS = 100
const INLINE_CHARS = 6 * 1024

/** The counts of a MERGE a probe found had nothing to write (`mergeToRun`). */
const NOTHING_WRITTEN = { inserted: 0, updated: 0 } as const

/**
 * `_kura_raw`'s comment once every data migration of it is done (DuckDB; the marker rows stay
 * too). A table tagged by an older Kura (`kura:raw_dedup_by_version`) differs, so the markers are
 * read and the newer migrations run.
 */
export const RAW_DEDUP_TAG = `kura:${RAW_MIGRATIONS.join("+")}`

/** What `readCatalogue` returns: columns per table in order, and comments by `v:view` / `t:table`. */
interface Catalogue {
  readonly columns: ReadonlyMap<string, ReadonlyArray<string>>
  readonly tags: ReadonlyMap<string, string | null>
}

/** The tag a view's comment carries: a hash of its CREATE statement, so a changed definition differs. */
export const viewTag = (createSql: string): string =>
  `kura:${createHash("sha256").update(createSql).digest("hex").slice(0, 16)}`

const loadableNames: ReadonlySet<string> = new Set(
  AllTables.filter((t) => !t.name.startsWith("_kura_") || t.name === "_kura_raw").map((t) => t.name)
)
const isLoadableName = (name: string): name is LoadableTableName => loadableNames.has(name)
const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v)

const parseMeta = (text: string): Readonly<Record<string, unknown>> | undefined => {
  try {
    const v: unknown = JSON.parse(text)
    return isRecord(v) ? v : undefined
  } catch {
    return undefined
  }
}
