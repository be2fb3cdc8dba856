/**
 * The single definition every table is generated from. DuckDB DDL, BigQuery DDL, staging tables,
 * MERGE statements and the TypeScript row types all derive from these objects, so the two
 * warehouses cannot drift apart and production SQL is never hand-written text.
 */

/** Logical column types; each dialect maps them to its own physical type. */
export type ColumnType = "string" | "int" | "bool" | "decimal" | "timestamp" | "date" | "json"

/** One column. Money columns are `decimal`: DECIMAL(38,9) in DuckDB, NUMERIC in BigQuery. */
export interface ColumnDef {
  readonly name: string
  readonly type: ColumnType
  /** Defaults to true: only key and bookkeeping columns are NOT NULL. */
  readonly nullable?: boolean
  readonly doc?: string
  /**
   * For a `date` column: when a loaded row omits it, it is the UTC date of this timestamp column
   * (keeps rows built before the column existed loadable).
   */
  readonly utcDateOf?: string
  /**
   * DuckDB only: how the column is compressed when DuckDB checkpoints it (`USING COMPRESSION`).
   * Unset: DuckDB picks per segment. `zstd` needs a database file of storage version v1.2.0 or
   * later (the engine's default for new files); an older file keeps the column uncompressed.
   * Takes effect when the table is created.
   */
  readonly compression?: "zstd"
  /**
   * The column holds a customer's personal data (GDPR/CCPA): `Redaction.redactCustomer` nulls it
   * on the customer's rows, and the data dictionary marks it.
   */
  readonly pii?: boolean
}

/** One table: its columns, key, the column that decides which version wins, and BigQuery layout. */
export interface TableDef {
  readonly name: string
  readonly doc: string
  readonly columns: ReadonlyArray<ColumnDef>
  readonly primaryKey: ReadonlyArray<string>
  /**
   * A newer value of this column wins an upsert; equal or older rows are ignored, which makes
   * reloading a batch idempotent. Without it, rows are insert-only (append logs such as raw).
   */
  readonly versionColumn?: string
  /**
   * Insert-only tables whose nullable key column is NULL for records that carry no version
   * (raw Lightspeed items): a stored row whose `nullKey` is NULL takes a later copy whose
   * `content` differs and whose `newer` column is later, so the latest copy is kept instead of
   * the first (unchanged copies write nothing).
   */
  readonly latestWhenUnversioned?: {
    readonly nullKey: string
    readonly content: string
    readonly newer: string
    /**
     * A nullable string column holding the md5 hex of `content`'s stored text, which every
     * writer keeps true (loads compute it from the text they stage): changes are found by
     * comparing it instead of the content. NULL (a row from before the column) counts as changed.
     */
    readonly contentHash?: string
  }
  /** BigQuery: partition by the UTC date of this timestamp/date column. */
  readonly partitionBy?: string
  /** BigQuery: cluster columns (at most four). */
  readonly clusterBy?: ReadonlyArray<string>
}

/** Maps a logical column type to the TypeScript type rows carry (money and timestamps as strings). */
export interface ColumnTsType {
  readonly string: string
  readonly int: number
  readonly bool: boolean
  /** A decimal string such as "12.50"; never a float. */
  readonly decimal: string
  /** ISO-8601 with an offset, e.g. "2026-01-31T09:00:00Z". */
  readonly timestamp: string
  /** YYYY-MM-DD. */
  readonly date: string
  readonly json: unknown
}

type ColumnValue<C extends ColumnDef> = C["nullable"] extends false
  ? ColumnTsType[C["type"]]
  : ColumnTsType[C["type"]] | null

/** The row type of a table definition, derived from its columns. */
export type RowOf<T extends TableDef> = {
  readonly [C in T["columns"][number] as C["name"]]: ColumnValue<C>
}

/** Identity helper that keeps the literal column types needed by `RowOf`. */
export const defineTable = <const T extends TableDef>(table: T): T => {
  const names = new Set(table.columns.map((c) => c.name))
  for (const key of [
    ...table.primaryKey,
    ...(table.versionColumn ? [table.versionColumn] : []),
    ...(table.partitionBy ? [table.partitionBy] : []),
    ...(table.clusterBy ?? [])
  ]) {
    if (!names.has(key)) throw new Error(`table ${table.name}: column "${key}" is referenced but not defined`)
  }
  return table
}

/** Whether a column accepts NULL. */
export const isNullable = (column: ColumnDef): boolean => column.nullable !== false
