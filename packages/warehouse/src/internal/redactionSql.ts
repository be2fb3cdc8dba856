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
 * each exactly), optionally only those fetched since a time.
 */
export const rawCandidates = (d: Dialect, tokenCount: number, since: boolean): string =>
  `SELECT ${d.ident("stream")} AS stream, ${d.ident("source_id")} AS source_id, ${text(d, d.ident("updated_at"))} AS updated_at, ${text(d, d.ident("payload"))} AS payload, ${d.ident("lake_path")} AS lake_path FROM ${d.table(RawTable.name)} WHERE ${account(d)} AND (${likeAny(d, "payload", tokenCount)})${since ? ` AND ${d.ident("fetched_at")} >= CAST(${d.param("since")} AS ${d.type("timestamp")})` : ""}`

/** Replaces one `_kura_raw` row's payload (the row is named by its whole key). */
export const updateRawPayload = (d: Dialect): string =>
  `UPDATE ${d.table(RawTable.name)} SET ${d.ident("payload")} = CAST(${d.param("payload")} AS ${d.type("json")}) WHERE ${account(d)} AND ${d.ident("stream")} = ${d.param("stream")} AND ${d.ident("source_id")} = ${d.param("id")} AND ${d.nullSafeEq(d.ident("updated_at"), `CAST(${d.param("updated_at")} AS ${d.type("timestamp")})`)}`

const letters = StateTables.deadLetters.name

/** Dead letters of the account whose payload may mention the subject. */
export const deadLetterCandidates = (d: Dialect, tokenCount: number): string =>
  `SELECT ${d.ident("id")} AS id, ${d.ident("stream")} AS stream, ${d.ident("payload")} AS payload FROM ${d.table(letters)} WHERE ${account(d)} AND (${likeAny(d, "payload", tokenCount)})`

/** Replaces one dead letter's payload. */
export const updateDeadLetterPayload = (d: Dialect): string =>
  `UPDATE ${d.table(letters)} SET ${d.ident("payload")} = ${d.param("payload")} WHERE ${d.ident("id")} = ${d.param("id")}`

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

const ledger = StateTables.redactions

/** Removes a ledger row (before writing it again: one row per request subject). */
export const deleteLedgerRow = (d: Dialect): string =>
  `DELETE FROM ${d.table(ledger.name)} WHERE ${d.ident("id")} = ${d.param("id")}`

/** Inserts a ledger row from text parameters named after its columns. */
export const insertLedgerRow = (d: Dialect): string =>
  `INSERT INTO ${d.table(ledger.name)} (${ledger.columns.map((c) => d.ident(c.name)).join(", ")}) VALUES (${ledger.columns
    .map((c) => (c.type === "string" ? d.param(c.name) : `CAST(${d.param(c.name)} AS ${d.type(c.type)})`))
    .join(", ")})`

/** The ledger, oldest request first, every column as text; optionally one row by id. */
export const selectLedger = (d: Dialect, byId: boolean): string =>
  `SELECT ${ledger.columns.map((c) => `${text(d, d.ident(c.name))} AS ${d.ident(c.name)}`).join(", ")} FROM ${d.table(ledger.name)}${byId ? ` WHERE ${d.ident("id")} = ${d.param("id")}` : ""} ORDER BY ${d.ident("requested_at")}, ${d.ident("id")}`
