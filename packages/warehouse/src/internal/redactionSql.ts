/**
 * The statements of `Redaction`, generated for either dialect from the table registry (the
 * BigQuery grammar test checks every one). Parameters are text, cast in SQL, like the rest of Kura.
 */
import type { Dialect } from "../Dialect.js"
import type { ColumnDef, TableDef } from "../TableDefinition.js"
import { CanonicalTables, RawTable, StateTables } from "../Tables.js"

/** The columns of a table flagged `pii`. */
export const piiColumns = (table: TableDef): ReadonlyArray<ColumnDef> =>
  table.columns.filter((c) => c.pii === true)

/** Named parameters of a list: `prefix0, prefix1, …` (an empty list matches nothing). */
export const listParams = (
  d: Dialect,
  prefix: string,
  values: ReadonlyArray<string>
): { readonly sql: string; readonly params: Record<string, string> } => {
  if (values.length === 0) return { sql: "(NULL)", params: {} }
  const params: Record<string, string> = {}
  values.forEach((v, i) => {
    params[`${prefix}${i}`] = v
  })
  return { sql: `(${values.map((_, i) => d.param(`${prefix}${i}`)).join(", ")})`, params }
}

const account = (d: Dialect, alias = "") =>
  `${alias}${d.ident("source")} = ${d.param("source")} AND ${alias}${d.ident("source_account")} = ${d.param("account")}`

/**
 * Which rows of a canonical table with personal columns belong to the person: `customers` by id
 * (or e-mail), `refunds` (the free-text note) by the customer's orders or the orders named,
 * `suppliers` (a contact's e-mail) by e-mail. Every table with a `pii` column must have a scope
 * here (a test checks it). Lists are SQL `(…)` lists of parameters; e-mails are lower-cased.
 */
export const customerScopes: Readonly<
  Record<string, (d: Dialect, customerIds: string, orderIds: string, emails: string) => string>
> = {
  customers: (d, customerIds, _orderIds, emails) =>
    `${account(d)} AND (${d.ident("source_id")} IN ${customerIds} OR LOWER(${d.ident("email")}) IN ${emails})`,
  refunds: (d, customerIds, orderIds) =>
    `${account(d)} AND (${d.ident("order_id")} IN ${orderIds} OR ${d.ident("order_id")} IN (SELECT o.${d.ident("source_id")} FROM ${d.table(CanonicalTables.orders.name)} o WHERE ${account(d, "o.")} AND o.${d.ident("customer_id")} IN ${customerIds}))`,
  suppliers: (d, _customerIds, _orderIds, emails) =>
    `${account(d)} AND LOWER(${d.ident("email")}) IN ${emails}`
}

/** Nulls the personal columns of the customer's rows that still hold any. */
export const nullPii = (d: Dialect, table: TableDef, scope: string): string => {
  const cols = piiColumns(table).map((c) => d.ident(c.name))
  return `UPDATE ${d.table(table.name)} SET ${cols.map((c) => `${c} = NULL`).join(", ")} WHERE ${scope} AND (${cols.map((c) => `${c} IS NOT NULL`).join(" OR ")})`
}

/**
 * How many rows of each scope (one per person) still hold personal data, in one scan: columns
 * `n0` … `n<k>`. A pass runs the UPDATE only for the scopes with rows, so a re-application that
 * finds nothing costs a read, not a DML job per person.
 */
export const countPii = (d: Dialect, table: TableDef, scopes: ReadonlyArray<string>): string => {
  const cols = piiColumns(table).map((c) => d.ident(c.name))
  return `SELECT ${scopes.map((scope, k) => `SUM(CASE WHEN ${scope} THEN 1 ELSE 0 END) AS n${k}`).join(", ")} FROM ${d.table(table.name)} WHERE ${account(d)} AND (${cols.map((c) => `${c} IS NOT NULL`).join(" OR ")})`
}

/** The customer ids whose stored e-mail is one of these (lower-cased) addresses. */
export const customerIdsByEmail = (d: Dialect, emails: string): string =>
  `SELECT ${d.ident("source_id")} AS id FROM ${d.table(CanonicalTables.customers.name)} WHERE ${account(d)} AND LOWER(${d.ident("email")}) IN ${emails}`

/** The account's customers that still hold an e-mail (matched by its hash in the caller). */
export const customerEmails = (d: Dialect): string =>
  `SELECT ${d.ident("source_id")} AS id, ${d.ident("email")} AS email FROM ${d.table(CanonicalTables.customers.name)} WHERE ${account(d)} AND ${d.ident("email")} IS NOT NULL`

const text = (d: Dialect, expr: string) => `CAST(${expr} AS ${d.type("string")})`

/** Pre-filter: the lower-cased text of `column` contains one of the patterns `t0` … `t<count-1>`. */
const likeAny = (d: Dialect, column: string, count: number): string =>
  count === 0
    ? "FALSE"
    : Array.from(
        { length: count },
        (_, i) => `LOWER(${text(d, d.ident(column))}) LIKE ${d.param(`t${i}`)}`
      ).join(" OR ")

/** The LIKE parameters `t0` … of the pre-filter tokens (`%token%`, lower-cased). */
export const likeParams = (tokens: ReadonlyArray<string>): Record<string, string> =>
  Object.fromEntries(tokens.map((t, i) => [`t${i}`, `%${t.toLowerCase()}%`]))

/**
 * `_kura_raw` rows of the account whose payload text may mention the subject (the caller checks
 * each exactly), optionally only those fetched since a time (`@since`) or of one landed batch
 * (`@batch`, its `_batch_id`).
 */
export const rawCandidates = (d: Dialect, tokenCount: number, since: boolean, batch = false): string =>
  `SELECT ${d.ident("stream")} AS stream, ${d.ident("source_id")} AS source_id, ${text(d, d.ident("updated_at"))} AS updated_at, ${text(d, d.ident("payload"))} AS payload, ${d.ident("lake_path")} AS lake_path FROM ${d.table(RawTable.name)} WHERE ${account(d)} AND (${likeAny(d, "payload", tokenCount)})${since ? ` AND ${d.ident("fetched_at")} >= CAST(${d.param("since")} AS ${d.type("timestamp")})` : ""}${batch ? ` AND ${d.ident("_batch_id")} = ${d.param("batch")}` : ""}`

/**
 * `_kura_raw` rows of the account loaded from these lake files (an SQL `(…)` list of parameters)
 * whose payload may mention the subject, whatever their fetch time: the rows of a file written
 * since the last re-application that names someone erased.
 */
export const rawCandidatesInFiles = (d: Dialect, tokenCount: number, files: string): string =>
  `SELECT ${d.ident("stream")} AS stream, ${d.ident("source_id")} AS source_id, ${text(d, d.ident("updated_at"))} AS updated_at, ${text(d, d.ident("payload"))} AS payload, ${d.ident("lake_path")} AS lake_path FROM ${d.table(RawTable.name)} WHERE ${account(d)} AND (${likeAny(d, "payload", tokenCount)}) AND ${d.ident("lake_path")} IN ${files}`

/**
 * The inlined rows `(col, …)` of a set-based UPDATE: `SELECT CAST(@<prefix><i>_<col> AS type) AS
 * col … UNION ALL …`, one SELECT per row (BigQuery has no VALUES table constructor).
 */
const inlineRows = (
  d: Dialect,
  prefix: string,
  columns: ReadonlyArray<readonly [string, "string" | "timestamp"]>,
  count: number
): string =>
  Array.from(
    { length: count },
    (_, i) =>
      `SELECT ${columns.map(([c, type]) => `CAST(${d.param(`${prefix}${i}_${c}`)} AS ${d.type(type)}) AS ${d.ident(c)}`).join(", ")}`
  ).join(" UNION ALL ")

/**
 * Replaces the payloads of `count` `_kura_raw` rows of one account in one statement (one DML job
 * on BigQuery, however many rows): each row is named by its whole key and its new payload is
 * inlined as parameters `r<i>_stream`, `r<i>_source_id`, `r<i>_updated_at`, `r<i>_payload`.
 * Keys must be distinct (BigQuery refuses a target row matched by two source rows). The
 * payload's hash (`payload_hash`) becomes the new payload's: a later re-read of the record as the
 * source still has it differs, is written, and the ledger's re-apply redacts it again.
 */
export const updateRawPayloads = (d: Dialect, count: number): string =>
  `UPDATE ${d.table(RawTable.name)} AS t SET ${d.ident("payload")} = CAST(s.${d.ident("payload")} AS ${d.type("json")}), ${d.ident("payload_hash")} = ${d.jsonMd5(`s.${d.ident("payload")}`)} FROM (${inlineRows(
    d,
    "r",
    [
      ["stream", "string"],
      ["source_id", "string"],
      ["updated_at", "timestamp"],
      ["payload", "string"]
    ],
    count
  )}) AS s WHERE ${account(d, "t.")} AND t.${d.ident("stream")} = s.${d.ident("stream")} AND t.${d.ident("source_id")} = s.${d.ident("source_id")} AND ${d.nullSafeEq(`t.${d.ident("updated_at")}`, `s.${d.ident("updated_at")}`)}`

const letters = StateTables.deadLetters.name

/** Dead letters of the account whose payload may mention the subject. */
export const deadLetterCandidates = (d: Dialect, tokenCount: number): string =>
  `SELECT ${d.ident("id")} AS id, ${d.ident("stream")} AS stream, ${d.ident("payload")} AS payload FROM ${d.table(letters)} WHERE ${account(d)} AND (${likeAny(d, "payload", tokenCount)})`

/** Replaces the payloads of `count` dead letters in one statement (parameters `l<i>_id`, `l<i>_payload`). */
export const updateDeadLetterPayloads = (d: Dialect, count: number): string =>
  `UPDATE ${d.table(letters)} AS t SET ${d.ident("payload")} = s.${d.ident("payload")} FROM (${inlineRows(
    d,
    "l",
    [
      ["id", "string"],
      ["payload", "string"]
    ],
    count
  )}) AS s WHERE t.${d.ident("id")} = s.${d.ident("id")}`

/** Every table holding an account's rows by `source` and `source_account`, which `shop/redact` empties. */
export const accountTables: ReadonlyArray<string> = [
  ...Object.values(CanonicalTables).map((t) => t.name),
  RawTable.name,
  StateTables.deadLetters.name,
  StateTables.syncState.name,
  StateTables.syncRuns.name
]

/** Deletes every row of one account from a table. */
export const deleteAccount = (d: Dialect, table: string): string =>
  `DELETE FROM ${d.table(table)} WHERE ${account(d)}`

/** Every key of `_kura_tokens` (a handful of rows; `redactShop` picks the account's in code). */
export const selectTokenKeys = (d: Dialect): string =>
  `SELECT ${d.ident("key")} AS ${d.ident("key")} FROM ${d.table(StateTables.tokens.name)}`

/** Deletes the `_kura_tokens` rows of these keys (an SQL `(…)` list of parameters). */
export const deleteTokens = (d: Dialect, keys: string): string =>
  `DELETE FROM ${d.table(StateTables.tokens.name)} WHERE ${d.ident("key")} IN ${keys}`

const ledger = StateTables.redactions

/**
 * Writes `count` ledger rows in one statement (one per request subject: a MERGE on `id`, so a
 * crash never leaves an entry half-written); row i's parameters are `<column>_<i>`.
 */
export const upsertLedgerRows = (d: Dialect, count: number): string => {
  const cols = ledger.columns.map((c) => d.ident(c.name))
  const rows = Array.from(
    { length: count },
    (_, i) =>
      `SELECT ${ledger.columns.map((c) => `CAST(${d.param(`${c.name}_${i}`)} AS ${d.type(c.type)}) AS ${d.ident(c.name)}`).join(", ")}`
  ).join(" UNION ALL ")
  const id = d.ident("id")
  return `MERGE INTO ${d.table(ledger.name)} AS t USING (${rows}) AS s ON t.${id} = s.${id} WHEN MATCHED AND TRUE THEN UPDATE SET ${cols
    .filter((c) => c !== id)
    .map((c) => `${c} = s.${c}`)
    .join(
      ", "
    )} WHEN NOT MATCHED THEN INSERT (${cols.join(", ")}) VALUES (${cols.map((c) => `s.${c}`).join(", ")})`
}

/** The ledger, oldest request first, every column as text; optionally one row by id. */
export const selectLedger = (d: Dialect, byId: boolean): string =>
  `SELECT ${ledger.columns.map((c) => `${text(d, d.ident(c.name))} AS ${d.ident(c.name)}`).join(", ")} FROM ${d.table(ledger.name)}${byId ? ` WHERE ${d.ident("id")} = ${d.param("id")}` : ""} ORDER BY ${d.ident("requested_at")}, ${d.ident("id")}`
