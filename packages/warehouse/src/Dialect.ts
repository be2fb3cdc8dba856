/**
 * The few places DuckDB and BigQuery SQL differ: names, types, parameters and date functions.
 * Every statement generator takes a `Dialect`, so one table or view definition yields both.
 */
import type { ColumnType } from "./TableDefinition.js"

/** A SQL dialect Kura generates statements for. */
export interface Dialect {
  readonly name: "duckdb" | "bigquery"
  /** The fully qualified, quoted reference to a table or view. */
  readonly table: (name: string) => string
  /** A quoted column name. */
  readonly ident: (name: string) => string
  /** Physical type of a logical column type. */
  readonly type: (type: ColumnType) => string
  /** Placeholder for a named query parameter. */
  readonly param: (name: string) => string
  /** UTC calendar date of a timestamp expression. */
  readonly utcDate: (expr: string) => string
  /** Calendar date of a timestamp expression in the IANA zone that `zone` (a SQL expression) names. */
  readonly zonedDate: (expr: string, zone: string) => string
  /** The scalar at top-level `field` of a JSON (or JSON text) expression, as text. */
  readonly jsonField: (expr: string, field: string) => string
  /** A binary floating-point type, for measurements that are not money (seconds, cost points). */
  readonly floatType: string
  /**
   * `a` equals `b`, NULL matching NULL. DuckDB gets `IS NOT DISTINCT FROM`, which it can hash: the
   * `OR … IS NULL` form made a MERGE into `_kura_raw` a nested-loop join (10k rows into 40k took
   * ~2 CPU-s against ~0.03). BigQuery keeps the `OR` form the grammar check in the tests accepts.
   */
  readonly nullSafeEq: (a: string, b: string) => string
  /** A JSON value as comparable text (BigQuery's JSON type has no equality of its own). */
  readonly jsonText: (expr: string) => string
  /**
   * The md5 hex of a JSON (or JSON text) expression's text exactly as stored: the same hex in
   * both engines and node:crypto for the same UTF-8 bytes (`_kura_raw.payload_hash`).
   */
  readonly jsonMd5: (expr: string) => string
}

const duckTypes: Record<ColumnType, string> = {
  string: "VARCHAR",
  int: "BIGINT",
  bool: "BOOLEAN",
  decimal: "DECIMAL(38,9)",
  timestamp: "TIMESTAMPTZ",
  date: "DATE",
  json: "JSON"
}

/**
 * BigQuery types. JSON payloads are kept as STRING (JSON text): it loads from NDJSON without
 * per-value re-encoding and is read with JSON_VALUE/PARSE_JSON.
 */
const bigQueryTypes: Record<ColumnType, string> = {
  string: "STRING",
  int: "INT64",
  bool: "BOOL",
  decimal: "NUMERIC",
  timestamp: "TIMESTAMP",
  date: "DATE",
  json: "STRING"
}

const checkName = (name: string): string => {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw new Error(`invalid SQL identifier "${name}": use letters, digits and underscores only`)
  }
  return name
}

/** DuckDB. `schema` is optional (the main schema by default). */
export const duckdbDialect = (schema?: string): Dialect => ({
  name: "duckdb",
  table: (name) => (schema ? `"${checkName(schema)}"."${checkName(name)}"` : `"${checkName(name)}"`),
  ident: (name) => `"${checkName(name)}"`,
  type: (type) => duckTypes[type],
  param: (name) => `$${checkName(name)}`,
  utcDate: (expr) => `CAST(timezone('UTC', ${expr}) AS DATE)`,
  zonedDate: (expr, zone) => `CAST(timezone(${zone}, ${expr}) AS DATE)`,
  jsonField: (expr, field) => `json_extract_string(${expr}, '$.${checkName(field)}')`,
  floatType: "DOUBLE",
  nullSafeEq: (a, b) => `${a} IS NOT DISTINCT FROM ${b}`,
  jsonText: (expr) => `CAST(${expr} AS VARCHAR)`,
  jsonMd5: (expr) => `md5(CAST(${expr} AS VARCHAR))`
})

/** BigQuery, for one project and dataset. */
export const bigQueryDialect = (project: string, dataset: string): Dialect => {
  if (!/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(project) && !/^[A-Za-z0-9:._-]+$/.test(project)) {
    throw new Error(`invalid BigQuery project id "${project}"`)
  }
  checkName(dataset)
  return {
    name: "bigquery",
    table: (name) => `\`${project}.${dataset}.${checkName(name)}\``,
    ident: (name) => `\`${checkName(name)}\``,
    type: (type) => bigQueryTypes[type],
    param: (name) => `@${checkName(name)}`,
    utcDate: (expr) => `DATE(${expr})`,
    zonedDate: (expr, zone) => `DATE(${expr}, ${zone})`,
    jsonField: (expr, field) => `JSON_VALUE(${expr}, '$.${checkName(field)}')`,
    floatType: "FLOAT64",
    nullSafeEq: (a, b) => `(${a} = ${b} OR (${a} IS NULL AND ${b} IS NULL))`,
    jsonText: (expr) => `TO_JSON_STRING(${expr})`,
    // JSON is kept as STRING here: its text is the value itself.
    jsonMd5: (expr) => `TO_HEX(MD5(${expr}))`
  }
}

/** Whether a field name can become a column without quoting tricks. */
export const isValidColumnName = (name: string): boolean =>
  /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && name.length <= 300
