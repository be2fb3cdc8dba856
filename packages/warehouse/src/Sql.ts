/**
 * Statement generators. Each takes a table or view definition and a dialect, so DuckDB and
 * BigQuery run SQL from the same source. MERGE is built from named parts so tests can check each
 * part against the BigQuery grammar.
 */
import type { Dialect } from "./Dialect.js"
import { type ColumnDef, isNullable, type TableDef } from "./TableDefinition.js"

/** `CREATE TABLE IF NOT EXISTS`, partitioned and clustered in BigQuery, compressed as declared in DuckDB. */
export const createTable = (d: Dialect, table: TableDef): string => {
  const cols = table.columns
    .map(
      (c) =>
        `${d.ident(c.name)} ${d.type(c.type)}${d.name === "duckdb" && c.compression !== undefined ? ` USING COMPRESSION ${c.compression}` : ""}${isNullable(c) ? "" : " NOT NULL"}`
    )
    .join(", ")
  let sql = `CREATE TABLE IF NOT EXISTS ${d.table(table.name)} (${cols})`
  if (d.name === "bigquery") {
    const part = table.partitionBy ? table.columns.find((c) => c.name === table.partitionBy) : undefined
    if (part)
      sql += ` PARTITION BY ${part.type === "date" ? d.ident(part.name) : `DATE(${d.ident(part.name)})`}`
    if (table.clusterBy && table.clusterBy.length > 0) {
      sql += ` CLUSTER BY ${table.clusterBy.slice(0, 4).map(d.ident).join(", ")}`
    }
  }
  return sql
}

/** Adds one nullable column (schema evolution never adds NOT NULL). */
export const addColumn = (d: Dialect, table: string, column: ColumnDef): string =>
  `ALTER TABLE ${d.table(table)} ADD COLUMN ${d.ident(column.name)} ${d.type(column.type)}`

/** Staging tables hold every value as text; the MERGE casts it once, set-based. */
export const createStaging = (d: Dialect, staging: string, columns: ReadonlyArray<ColumnDef>): string =>
  `CREATE ${d.name === "duckdb" ? "OR REPLACE TEMP " : ""}TABLE ${d.table(staging)} (${columns
    .map((c) => `${d.ident(c.name)} ${d.type("string")}`)
    .join(", ")})`

/** Fills a date column left NULL (e.g. just added) with the UTC date of a timestamp column. */
export const fillUtcDate = (d: Dialect, table: string, column: string, from: string): string =>
  `UPDATE ${d.table(table)} SET ${d.ident(column)} = ${d.utcDate(d.ident(from))} WHERE ${d.ident(column)} IS NULL`

/** Drops a table if present. */
export const dropTable = (d: Dialect, name: string): string => `DROP TABLE IF EXISTS ${d.table(name)}`

/** The expression reading a staged text column as its typed value. */
export const castFromText = (d: Dialect, column: ColumnDef, qualifier?: string): string => {
  const ref = qualifier ? `${qualifier}.${d.ident(column.name)}` : d.ident(column.name)
  if (column.type === "string" || (column.type === "json" && d.name === "bigquery")) return ref
  return `CAST(${ref} AS ${d.type(column.type)})`
}

/** The parts of an upsert MERGE; `renderMerge` assembles them. */
export interface MergeParts {
  readonly target: string
  /** A SELECT yielding one typed, de-duplicated row per key (the newest version). */
  readonly source: string
  /** Join condition between `t` (target) and `s` (source). */
  readonly on: string
  /** Extra condition for updating a matched row (the version check), or null for insert-only. */
  readonly matchedCondition: string | null
  /** `col = s.col` assignments. */
  readonly set: ReadonlyArray<string>
  readonly insertColumns: ReadonlyArray<string>
  readonly insertValues: ReadonlyArray<string>
}

/**
 * A SQL string literal, quotes doubled: for values spliced into generated SQL that a parameter
 * cannot carry (DDL, `read_ndjson` arguments, constants of a generated SELECT). Same form in both
 * dialects.
 */
export const stringLiteral = (text: string): string => `'${text.replaceAll("'", "''")}'`

/**
 * The source SELECT of a load: typed columns from staging, newest version per key. Rows with the
 * same key and version within one batch collapse to one (the first in staging order). The key is
 * compared as its typed value, not its staged text: two spellings of one instant
 * (`…T00:00:00Z`, `…T00:00:00.000Z`, `…+00:00`) are one key, as they are to the MERGE's join.
 */
export const dedupedSource = (
  d: Dialect,
  table: TableDef,
  columns: ReadonlyArray<ColumnDef>,
  staging: string,
  staged?: ReadonlySet<string>
): string => {
  // Columns that were all NULL in the batch are not staged at all; they read as typed NULLs.
  const typedValue = (c: ColumnDef): string =>
    staged === undefined || staged.has(c.name) ? castFromText(d, c) : `CAST(NULL AS ${d.type(c.type)})`
  const typed = columns.map((c) => `${typedValue(c)} AS ${d.ident(c.name)}`).join(", ")
  // A window in this SELECT reads the FROM's (staged text) columns, not the aliases above, so
  // the key is cast here again.
  const partition = table.primaryKey
    .map((k) => {
      const col = columns.find((c) => c.name === k)
      return col === undefined ? d.ident(k) : typedValue(col)
    })
    .join(", ")
  const versionCol = table.versionColumn ? columns.find((c) => c.name === table.versionColumn) : undefined
  const order = versionCol ? `${typedValue(versionCol)} DESC` : partition
  return `SELECT ${columns.map((c) => d.ident(c.name)).join(", ")} FROM (SELECT ${typed}, ROW_NUMBER() OVER (PARTITION BY ${partition} ORDER BY ${order}) AS _kura_rn FROM ${d.table(staging)}) AS staged WHERE _kura_rn = 1`
}

/**
 * The join of target `t` and source `s` on the primary key. A nullable key column (raw
 * `updated_at`) matches NULL to NULL, so a keyless version is still one row.
 */
export const keyMatch = (d: Dialect, table: TableDef): string => sameKey(d, table, "t", "s")

const sameKey = (d: Dialect, table: TableDef, a: string, b: string): string =>
  table.primaryKey
    .map((k) => {
      const col = table.columns.find((c) => c.name === k)
      const [x, y] = [`${a}.${d.ident(k)}`, `${b}.${d.ident(k)}`]
      return col !== undefined && isNullable(col) ? d.nullSafeEq(x, y) : `${x} = ${y}`
    })
    .join(" AND ")

/** The upsert of a staged batch: newer versions update, unknown keys insert, the rest is ignored. */
export const mergeParts = (
  d: Dialect,
  table: TableDef,
  columns: ReadonlyArray<ColumnDef>,
  staging: string,
  /** Names of the columns present in staging (default: all). */
  staged?: ReadonlySet<string>
): MergeParts => {
  const keys = new Set(table.primaryKey)
  return {
    target: d.table(table.name),
    source: dedupedSource(d, table, columns, staging, staged),
    on: keyMatch(d, table),
    matchedCondition: table.versionColumn
      ? `s.${d.ident(table.versionColumn)} > t.${d.ident(table.versionColumn)}`
      : table.latestWhenUnversioned
        ? latestWhenUnversioned(d, table.latestWhenUnversioned, columns)
        : null,
    set: columns.filter((c) => !keys.has(c.name)).map((c) => `${d.ident(c.name)} = s.${d.ident(c.name)}`),
    insertColumns: columns.map((c) => d.ident(c.name)),
    insertValues: columns.map((c) => `s.${d.ident(c.name)}`)
  }
}

/**
 * The matched condition of a `latestWhenUnversioned` table: an unversioned stored row takes a
 * later copy whose content differs. With the content hash column among `columns` (a load fills
 * it), the hashes are compared, not the content: the MERGE reads 32 characters of each stored
 * row it scans instead of its compressed JSON (DuckDB read that column for every row its join
 * scanned, matched or not; BigQuery bills it). A stored NULL hash counts as changed.
 */
const latestWhenUnversioned = (
  d: Dialect,
  rule: NonNullable<TableDef["latestWhenUnversioned"]>,
  columns: ReadonlyArray<ColumnDef>
): string => {
  const [key, content, newer] = [d.ident(rule.nullKey), d.ident(rule.content), d.ident(rule.newer)]
  const hash = rule.contentHash
  const differs =
    hash !== undefined && columns.some((c) => c.name === hash)
      ? `(t.${d.ident(hash)} IS NULL OR s.${d.ident(hash)} IS NULL OR s.${d.ident(hash)} <> t.${d.ident(hash)})`
      : `${d.jsonText(`s.${content}`)} <> ${d.jsonText(`t.${content}`)}`
  return `t.${key} IS NULL AND s.${newer} > t.${newer} AND ${differs}`
}

/**
 * What a load into a `latestWhenUnversioned` table would do, read before its MERGE (`parts`
 * rendered as is): `missing` batch rows whose key is not stored (they insert), `changed` stored
 * rows the matched condition would update. Neither: the MERGE is not run at all; no `changed`:
 * it runs insert-only. One row; counts as text.
 */
export const mergeProbe = (d: Dialect, table: TableDef, parts: MergeParts): string => {
  const S = d.type("string")
  // A NOT NULL key column of the target is NULL only where the LEFT JOIN found no stored row.
  const present = table.columns.find((c) => table.primaryKey.includes(c.name) && !isNullable(c))
  if (present === undefined || parts.matchedCondition === null)
    throw new Error(`mergeProbe: ${table.name} needs a NOT NULL key column and a matched condition`)
  const absent = `t.${d.ident(present.name)} IS NULL`
  return `SELECT CAST(COALESCE(SUM(CASE WHEN ${absent} THEN 1 ELSE 0 END), 0) AS ${S}) AS ${d.ident("missing")}, CAST(COALESCE(SUM(CASE WHEN NOT (${absent}) AND ${parts.matchedCondition} THEN 1 ELSE 0 END), 0) AS ${S}) AS ${d.ident("changed")} FROM (${parts.source}) AS s LEFT JOIN ${parts.target} AS t ON ${parts.on}`
}

/**
 * Fills a content hash column left NULL (just added, or rows an older Kura wrote) with the md5
 * of the content's stored text: the one-time migration of `_kura_raw.payload_hash`.
 */
export const fillContentHash = (d: Dialect, table: TableDef): string => {
  const rule = table.latestWhenUnversioned
  if (rule?.contentHash === undefined) throw new Error(`fillContentHash: ${table.name} has no content hash`)
  const hash = d.ident(rule.contentHash)
  return `UPDATE ${d.table(table.name)} SET ${hash} = ${d.jsonMd5(d.ident(rule.content))} WHERE ${hash} IS NULL`
}

/** Assembles a MERGE statement (the same text for DuckDB ≥ 1.4 and BigQuery). */
export const renderMerge = (p: MergeParts): string => {
  const matched =
    p.matchedCondition === null
      ? ""
      : ` WHEN MATCHED AND ${p.matchedCondition} THEN UPDATE SET ${p.set.join(", ")}`
  return `MERGE INTO ${p.target} AS t USING (${p.source}) AS s ON ${p.on}${matched} WHEN NOT MATCHED THEN INSERT (${p.insertColumns.join(", ")}) VALUES (${p.insertValues.join(", ")})`
}

/** Marks keys found in a staging table (source, source_account, source_id) as deleted. */
export const softDelete = (d: Dialect, table: string, staging: string, deletedAtParam: string): string => {
  const match = ["source", "source_account", "source_id"]
    .map((c) => `k.${d.ident(c)} = t.${d.ident(c)}`)
    .join(" AND ")
  return `UPDATE ${d.table(table)} AS t SET ${d.ident("_deleted_at")} = CAST(${d.param(deletedAtParam)} AS ${d.type("timestamp")}) WHERE t.${d.ident("_deleted_at")} IS NULL AND EXISTS (SELECT 1 FROM ${d.table(staging)} AS k WHERE ${match})`
}

/**
 * Deletes rows that repeat a newer row's primary key (NULL key columns match NULL), keeping the
 * newest by `newestFirst` (column names, compared in order, all must be NOT NULL): the clean-up
 * for tables whose key was narrowed, such as `_kura_raw` once keyed with its batch id. Running
 * it again deletes nothing.
 */
export const deleteOlderDuplicates = (
  d: Dialect,
  table: TableDef,
  newestFirst: ReadonlyArray<string>
): string => {
  const same = sameKey(d, table, "n", "t")
  // n is newer than t: greater on the first column that differs.
  const newer = newestFirst
    .map((c, i) =>
      [
        ...newestFirst.slice(0, i).map((p) => `n.${d.ident(p)} = t.${d.ident(p)}`),
        `n.${d.ident(c)} > t.${d.ident(c)}`
      ].join(" AND ")
    )
    .map((clause) => `(${clause})`)
    .join(" OR ")
  // BigQuery takes `DELETE target alias` (FROM and AS optional; the grammar our tests check
  // against rejects them with an alias); DuckDB needs both.
  const target = d.name === "bigquery" ? `${d.table(table.name)} t` : `FROM ${d.table(table.name)} AS t`
  return `DELETE ${target} WHERE EXISTS (SELECT 1 FROM ${d.table(table.name)} AS n WHERE ${same} AND (${newer}))`
}

/**
 * Counts the rows of `table` that share their primary key with another row (NULL key columns
 * match NULL) and how many of them would go: the read `keepNewestDuplicates` starts with, so an
 * old table without any pays one grouped scan of its key columns (no payload read) and no write.
 */
export const duplicateKeyCount = (d: Dialect, table: TableDef): string => {
  const keys = table.primaryKey.map(d.ident).join(", ")
  const S = d.type("string")
  return `SELECT CAST(COUNT(*) AS ${S}) AS ${d.ident("groups")}, CAST(COALESCE(SUM(${d.ident("_kura_n")}), 0) AS ${S}) AS ${d.ident("rows")} FROM (SELECT ${keys}, COUNT(*) AS ${d.ident("_kura_n")} FROM ${d.table(table.name)} GROUP BY ${keys} HAVING COUNT(*) > 1) AS g`
}

/**
 * Keeps one row per primary key of `table`, typed values compared (NULL matches NULL): the
 * newest by `newestFirst` (columns, greatest first), then, for rows equal on those, by the other
 * columns' text, so even rows equal in every column collapse to one, which a DELETE of "older"
 * rows cannot do (`deleteOlderDuplicates`). Statements for one transaction: the kept rows of the
 * duplicated keys go to a temporary table, every row of those keys is deleted, the kept rows go
 * back. Only the duplicated keys' rows are read whole. Running it again changes nothing.
 */
export const keepNewestDuplicates = (
  d: Dialect,
  table: TableDef,
  newestFirst: ReadonlyArray<string>
): ReadonlyArray<string> => {
  const keys = table.primaryKey.map(d.ident).join(", ")
  const cols = table.columns.map((c) => d.ident(c.name)).join(", ")
  const rest = table.columns.filter(
    (c) => !table.primaryKey.includes(c.name) && !newestFirst.includes(c.name)
  )
  const order = [
    ...newestFirst.map((c) => `r.${d.ident(c)} DESC`),
    ...rest.map(
      (c) => `${c.type === "json" ? d.jsonText(`r.${d.ident(c.name)}`) : `r.${d.ident(c.name)}`} DESC`
    )
  ].join(", ")
  // A temporary table is unqualified in both engines (BigQuery refuses a dataset on one).
  const keep = d.ident(`_kura_keep_${table.name.replace(/^_+/, "")}`)
  const duplicated = `SELECT ${keys} FROM ${d.table(table.name)} GROUP BY ${keys} HAVING COUNT(*) > 1`
  const ranked = `SELECT ${table.columns.map((c) => `r.${d.ident(c.name)}`).join(", ")}, ROW_NUMBER() OVER (PARTITION BY ${table.primaryKey.map((k) => `r.${d.ident(k)}`).join(", ")} ORDER BY ${order}) AS _kura_rn FROM ${d.table(table.name)} AS r WHERE EXISTS (SELECT 1 FROM (${duplicated}) AS g WHERE ${sameKey(d, table, "g", "r")})`
  const target = d.name === "bigquery" ? `${d.table(table.name)} t` : `FROM ${d.table(table.name)} AS t`
  return [
    `CREATE TEMP TABLE ${keep} AS SELECT ${cols} FROM (${ranked}) AS x WHERE _kura_rn = 1`,
    `DELETE ${target} WHERE EXISTS (SELECT 1 FROM ${keep} AS k WHERE ${sameKey(d, table, "k", "t")})`,
    `INSERT INTO ${d.table(table.name)} (${cols}) SELECT ${cols} FROM ${keep}`,
    `DROP TABLE ${keep}`
  ]
}

/**
 * Shopify orders stored by a Kura whose bulk export dropped shipping lines (shopify-client before
 * 428a975, 2026-11-26): a shipping charge, no shipping tax line, and the `_kura_raw` payload the
 * row was mapped from holds `"shippingLines":[]`. Their shipping tax lines are missing from
 * `tax_lines`; a re-read restores them. `candidates` is the cheap first step (no payload read):
 * when it counts none, `confirmed` (which reads the candidates' payloads) need not run.
 */
export const missingShippingLines = (
  d: Dialect
): { readonly candidates: string; readonly confirmed: string } => {
  const I = d.ident
  const S = d.type("string")
  // The payload as the text it was stored as (compact JSON): BigQuery keeps it as a STRING already
  // (TO_JSON_STRING would quote and escape it), DuckDB as JSON.
  const payloadText = d.name === "bigquery" ? `r.${I("payload")}` : `CAST(r.${I("payload")} AS VARCHAR)`
  const candidate = `FROM ${d.table("orders")} AS o WHERE o.${I("source")} = 'shopify' AND o.${I("shipping")} <> 0 AND o.${I("_deleted_at")} IS NULL AND NOT EXISTS (SELECT 1 FROM ${d.table("tax_lines")} AS x WHERE x.${I("source")} = o.${I("source")} AND x.${I("source_account")} = o.${I("source_account")} AND x.${I("order_id")} = o.${I("source_id")} AND x.${I("parent_type")} = 'shipping')`
  const emptied = `EXISTS (SELECT 1 FROM ${d.table("_kura_raw")} AS r WHERE r.${I("source")} = o.${I("source")} AND r.${I("source_account")} = o.${I("source_account")} AND r.${I("stream")} = 'orders' AND r.${I("source_id")} = CONCAT('gid://shopify/Order/', o.${I("source_id")}) AND r.${I("updated_at")} = o.${I("updated_at")} AND ${payloadText} LIKE '%"shippingLines":[]%')`
  return {
    candidates: `SELECT CAST(COUNT(*) AS ${S}) AS ${I("orders")} ${candidate}`,
    confirmed: `SELECT CAST(COUNT(*) AS ${S}) AS ${I("orders")}, CAST(MIN(o.${I("created_at")}) AS ${S}) AS ${I("first")}, CAST(MAX(o.${I("created_at")}) AS ${S}) AS ${I("last")} ${candidate} AND ${emptied}`
  }
}
