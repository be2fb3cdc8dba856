/**
 * What the generic warehouse logic needs from an engine (DuckDB or BigQuery): run statements,
 * read rows, bulk-stage text rows and report a table's live columns.
 */
import type { Effect } from "effect"
import type { Dialect } from "../Dialect.js"
import type { ColumnDef, ColumnType } from "../TableDefinition.js"
import type { EngineMemoryUse } from "../Warehouse.js"
import type { WarehouseError } from "../WarehouseError.js"

/** Query parameters are text (or null) and cast in SQL, so both engines bind them the same way. */
export type SqlParams = Readonly<Record<string, string | null>>

/** A result row with JSON-safe values (DECIMAL and BIGINT arrive as strings or numbers). */
export type SqlRow = Readonly<Record<string, unknown>>

/** One statement of an atomic group. */
export interface SqlStatement {
  readonly sql: string
  readonly params?: SqlParams
}

export interface SqlEngine {
  readonly dialect: Dialect
  /** Runs a statement; resolves to the rows it changed (0 when the engine does not say). */
  readonly run: (sql: string, params?: SqlParams) => Effect.Effect<number, WarehouseError>
  readonly query: (sql: string, params?: SqlParams) => Effect.Effect<ReadonlyArray<SqlRow>, WarehouseError>
  /**
   * Runs an upsert MERGE into `target` (a table name) and reports how many rows it inserted and
   * updated, from the engine's own DML statistics (no extra scan of the target).
   */
  readonly merge: (
    sql: string,
    target: string
  ) => Effect.Effect<{ readonly inserted: number; readonly updated: number }, WarehouseError>
  /** Creates `staging` (all text columns) and bulk-loads the rows: no per-row SQL. */
  readonly stage: (
    staging: string,
    columns: ReadonlyArray<ColumnDef>,
    rows: ReadonlyArray<ReadonlyArray<string | null>>
  ) => Effect.Effect<void, WarehouseError>
  /** Removes a staging table (a SQL DROP in DuckDB, a tables.delete call in BigQuery). */
  readonly dropStaging: (staging: string) => Effect.Effect<void, WarehouseError>
  /** Columns of a table as they exist now (after any schema evolution), in table order. */
  readonly liveColumns: (table: string) => Effect.Effect<ReadonlyArray<ColumnDef>, WarehouseError>
  /**
   * Runs the statements atomically: all take effect or none (DuckDB BEGIN/COMMIT on its one
   * connection, holding the connection lock for the whole span; BigQuery one multi-statement
   * transaction script). A crash in between leaves nothing half-written.
   */
  readonly atomically: (statements: ReadonlyArray<SqlStatement>) => Effect.Effect<void, WarehouseError>
  /**
   * Runs `effect` alone: no other statement of the process runs in the warehouse meanwhile (a
   * setting changed for a while, a read-modify-write that must not interleave).
   */
  readonly serialize: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /**
   * Runs a multi-statement sequence (stage → merge → drop) on one connection held for its span,
   * while other spans may run on other connections at once. Absent: `serialize` is used.
   */
  readonly pinned?: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** The engine's memory by tag, answered beside any running statement. Absent: none reported. */
  readonly memory?: Effect.Effect<ReadonlyArray<EngineMemoryUse>, WarehouseError>
}

/** Maps a physical type name reported by an engine back to a logical type (null when unknown). */
export const logicalType = (physical: string): ColumnType | null => {
  const t = physical.toUpperCase()
  if (t === "VARCHAR" || t === "STRING" || t.startsWith("VARCHAR(")) return "string"
  if (t === "BIGINT" || t === "INT64" || t === "INTEGER") return "int"
  if (t === "BOOLEAN" || t === "BOOL") return "bool"
  if (t.startsWith("DECIMAL") || t.startsWith("NUMERIC")) return "decimal"
  if (t === "TIMESTAMP WITH TIME ZONE" || t === "TIMESTAMPTZ" || t === "TIMESTAMP") return "timestamp"
  if (t === "DATE") return "date"
  if (t === "JSON") return "json"
  return null
}
