/**
 * What the generated docs (data-dictionary.mjs) and the dbt package (dbt.mjs) read from the
 * warehouse registry the same way, so the two cannot describe a column differently.
 */
import { DuckDBInstance } from "@duckdb/node-api"
import { AllTables, AllViews, duckdbDialect, Sql } from "@kura/warehouse"
import { COLUMN_NOTES } from "./column-notes.mjs"

/** Each view's columns and DuckDB types, read back after creating every table and view for real. */
export const viewColumns = async () => {
  const duck = duckdbDialect()
  const instance = await DuckDBInstance.create(":memory:")
  const c = await instance.connect()
  for (const t of AllTables) await c.run(Sql.createTable(duck, t))
  const out = new Map()
  for (const v of AllViews) {
    await c.run(`CREATE OR REPLACE VIEW ${duck.table(v.name)} AS ${v.select(duck)}`)
    const rows = (await c.runAndReadAll(`DESCRIBE ${duck.table(v.name)}`)).getRowObjectsJson()
    out.set(
      v.name,
      rows.map((r) => ({ name: String(r.column_name), type: String(r.column_type) }))
    )
  }
  c.closeSync()
  instance.closeSync()
  return out
}

/**
 * A column's description: the registry's `doc`, else its note in column-notes.mjs (`table.column`
 * first, then `*.column`). `key` names the note used (undefined for a doc or no description).
 */
export const columnDescription = (table, column, doc) => {
  if (doc !== undefined && doc !== "") return { text: doc, key: undefined }
  for (const key of [`${table}.${column}`, `*.${column}`]) {
    const note = COLUMN_NOTES[key]
    if (note !== undefined) return { text: note, key }
  }
  return { text: "", key: undefined }
}
