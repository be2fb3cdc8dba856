/**
 * Generates the dbt package's table-derived files in integrations/dbt/ from the warehouse's own
 * definitions, so the package cannot drift from the tables Kura creates:
 *
 * - models/kura_sources.yml: the `kura` source (every canonical table, the bookkeeping tables a
 *   report needs, every view) with column descriptions (the data dictionary's: a registry `doc`,
 *   else scripts/docs/column-notes.mjs), both dialects' types, key tests and freshness.
 * - models/staging/stg_kura__<table>.sql: one per canonical table, live rows only.
 * - models/staging/stg_kura.yml: the staging models' descriptions and key tests.
 *
 *   npx nx run @kura/warehouse:build && npx node scripts/docs/dbt.mjs           # write
 *   npx node scripts/docs/dbt.mjs --check   # exit 1 if a generated file is stale, missing or extra
 *
 * apps/sync-runner/test/DbtPackage.test.ts runs the check, and proves the SQL on a demo warehouse.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import { DuckDBInstance } from "@duckdb/node-api"
import * as Warehouse from "@kura/warehouse"
import { COLUMN_NOTES } from "./column-notes.mjs"

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..")
const pkg = join(root, "integrations", "dbt")
const stagingDir = join(pkg, "models", "staging")

const { AllTables, AllViews, bigQueryDialect, CanonicalTables, duckdbDialect, isNullable, Sql, StateTables } =
  Warehouse
/** Allowed values of enum-like columns per source, where the registry has them (`StatusVocabulary`). */
const vocabulary = Warehouse.StatusVocabulary ?? {}

const duck = duckdbDialect()
const bq = bigQueryDialect("project", "dataset")

/**
 * Bookkeeping tables a report needs: the run ledger (is the sync alive, did each run tie) and the
 * dead letters (what was not loaded). Left out on purpose: `_kura_raw` (verbatim payloads, for
 * re-modelling inside Kura), `_kura_sync_state` (cursors), `_kura_tokens` (sealed credentials)
 * and `_kura_leases` (runner locks).
 */
const bookkeeping = [StateTables.syncRuns, StateTables.deadLetters]

/**
 * The grain of each view whose rows are unique by construction (a GROUP BY, or one row per live
 * keyed row): tested like a table's key. The registry's ViewDef has no such field yet.
 */
const viewGrain = {
  v_daily_sales: ["business_date", "channel", "location_id", "currency"],
  v_source_reconciliation: ["run_id", "source", "source_account", "stream"],
  v_api_usage: ["run_id", "source", "source_account", "stream"],
  v_sku_ambiguities: ["source", "source_account", "sku"],
  v_stock_movements: ["source", "source_account", "source_id"],
  v_inventory_reconciliation: ["source", "source_account", "sku", "location_id", "snapshot_date"]
}

/**
 * Tables whose newest `_synced_at` says whether data still arrives: new orders, lines and payments
 * come with every busy sync. Catalogue tables (products, locations, suppliers, …) change rarely,
 * so their newest row says nothing about the sync; `_kura_sync_runs` answers that instead.
 */
const dataFreshness = new Set(["orders", "order_lines", "payments"])

/** DuckDB type of a view column (as DESCRIBE reports it) to the BigQuery type the same SQL yields. */
const bigQueryOfDuck = (type) => {
  if (/^DECIMAL\(/.test(type)) return "NUMERIC"
  const map = {
    VARCHAR: "STRING",
    BIGINT: "INT64",
    INTEGER: "INT64",
    HUGEINT: "INT64",
    DOUBLE: "FLOAT64",
    BOOLEAN: "BOOL",
    DATE: "DATE",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMP",
    JSON: "STRING"
  }
  const out = map[type]
  if (out === undefined)
    problems.push(
      `scripts/docs/dbt.mjs: no BigQuery type for the DuckDB type ${type}: add it to bigQueryOfDuck`
    )
  return out ?? "?"
}

/** Reads each view's columns back from DuckDB, after creating every table and view for real. */
const viewColumns = async () => {
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

const problems = []

/** The data dictionary's description of a column: the registry's doc, else a column note. */
const describe = (table, column, doc) => {
  const text =
    doc !== undefined && doc !== ""
      ? doc
      : (COLUMN_NOTES[`${table}.${column}`] ?? COLUMN_NOTES[`*.${column}`] ?? "")
  // dbt renders descriptions as Jinja.
  if (/\{[{%#]/.test(text)) problems.push(`${table}.${column}: its description contains Jinja delimiters`)
  return text
}

/** A YAML scalar: JSON strings are valid YAML double-quoted scalars. */
const q = (text) => JSON.stringify(text)
const list = (items) => `[${items.join(", ")}]`

const header = (what) =>
  `Generated by scripts/docs/dbt.mjs from packages/warehouse/src/Tables.ts and Views.ts (${what}). Do not edit: run \`npx node scripts/docs/dbt.mjs\` after a build.`

const keyTests = (indent, key) => [
  `${indent}data_tests:`,
  `${indent}  - kura_unique_key:`,
  `${indent}      arguments:`,
  `${indent}        key_columns: ${list(key)}`
]

/** The lines of one column entry. */
const columnLines = (
  indent,
  name,
  description,
  duckType,
  bqType,
  { nullable, key, accepted, pii, parent }
) => {
  const lines = [
    `${indent}- name: ${name}`,
    `${indent}  description: ${q(description)}`,
    `${indent}  config:`,
    `${indent}    meta: { duckdb_type: ${q(duckType)}, bigquery_type: ${q(bqType)}, nullable: ${nullable}${pii ? ", pii: true" : ""} }`
  ]
  const tests = []
  if (key) tests.push(`${indent}    - not_null`)
  if (accepted)
    tests.push(
      `${indent}    - accepted_values:`,
      `${indent}        arguments:`,
      `${indent}          values:`,
      ...accepted.map((v) => `${indent}            - ${q(v)}`)
    )
  if (parent)
    tests.push(
      `${indent}    - kura_references:`,
      `${indent}        arguments:`,
      `${indent}          to: source('kura', '${parent}')`,
      `${indent}        config:`,
      `${indent}          severity: warn`
    )
  if (tests.length > 0) lines.push(`${indent}  data_tests:`, ...tests)
  return lines
}

/**
 * Columns naming a parent record of the same source and account, tested with kura_references at
 * severity warn: a child can arrive before its parent or outlive the sync window (a POS refund of
 * a sale older than the first synced day). The registry has no such field yet.
 */
const references = {
  "orders.customer_id": "customers",
  "orders.location_id": "locations",
  "order_lines.order_id": "orders",
  "payments.order_id": "orders",
  "refunds.order_id": "orders",
  "refund_lines.refund_id": "refunds",
  "refund_lines.order_id": "orders",
  "refund_lines.order_line_id": "order_lines",
  "tax_lines.order_id": "orders",
  "variants.product_id": "products",
  "purchase_order_lines.purchase_order_id": "purchase_orders"
}

/** Values the registry documents as closed sets, tested with dbt's accepted_values. */
const acceptedValues = (table, column) => {
  if (column === "source" && !table.startsWith("v_")) return ["shopify", "lightspeed", "stocky"]
  if (column === "channel") return ["online", "pos"]
  if (table === "_kura_sync_runs" && column === "status")
    return ["running", "complete", "incomplete", "failed"]
  const bySource = vocabulary[`${table}.${column}`]
  if (bySource !== undefined) return [...new Set(Object.values(bySource).flat())]
  return undefined
}

const freshnessBlock = (indent, warnVar, warnDefault, errorVar, errorDefault, filter) => [
  `${indent}freshness:`,
  `${indent}  warn_after:`,
  `${indent}    count: "{{ var('${warnVar}', ${warnDefault}) | as_number }}"`,
  `${indent}    period: minute`,
  `${indent}  error_after:`,
  `${indent}    count: "{{ var('${errorVar}', ${errorDefault}) | as_number }}"`,
  `${indent}    period: minute`,
  ...(filter ? [`${indent}  filter: ${q(filter)}`] : [])
]

const sourcesYaml = (views) => {
  const lines = [
    `# ${header("the kura source")}`,
    "version: 2",
    "",
    "sources:",
    "  - name: kura",
    "    description: >-",
    "      Kura's warehouse: canonical tables (one row per source record, keyed by source,",
    "      source_account, source_id; soft-deleted rows keep `_deleted_at` set), the run ledger and",
    "      dead letters, and the reconciliation views. Columns: docs/data-dictionary.md.",
    `    database: "{{ var('kura_database', target.database) }}"`,
    `    schema: "{{ var('kura_schema', target.schema) }}"`,
    "    tables:"
  ]
  const canonical = Object.values(CanonicalTables)
  for (const t of [...canonical, ...bookkeeping]) {
    const isCanonical = canonical.includes(t)
    lines.push(
      `      - name: ${t.name}`,
      `        description: ${q(t.doc)}`,
      "        config:",
      "          meta:",
      `            kura_kind: ${isCanonical ? "canonical" : "bookkeeping"}`,
      `            primary_key: ${list(t.primaryKey)}`,
      ...(t.versionColumn ? [`            version_column: ${t.versionColumn}`] : [])
    )
    if (dataFreshness.has(t.name))
      lines.push(
        "          loaded_at_field: _synced_at",
        ...freshnessBlock(
          "          ",
          "kura_data_warn_after_minutes",
          180,
          "kura_data_error_after_minutes",
          1440
        )
      )
    else if (t.name === "_kura_sync_runs")
      lines.push(
        // Epoch milliseconds; the newest COMPLETE run is the sync's heartbeat.
        `          loaded_at_field: "{{ 'TIMESTAMP_MILLIS(finished_at)' if target.type == 'bigquery' else 'to_timestamp(finished_at / 1000)' }}"`,
        ...freshnessBlock(
          "          ",
          "kura_sync_warn_after_minutes",
          45,
          "kura_sync_error_after_minutes",
          120,
          "status = 'complete'"
        )
      )
    lines.push(...keyTests("        ", t.primaryKey), "        columns:")
    for (const c of t.columns)
      lines.push(
        ...columnLines(
          "          ",
          c.name,
          describe(t.name, c.name, c.doc),
          duck.type(c.type),
          bq.type(c.type),
          {
            nullable: isNullable(c),
            key: t.primaryKey.includes(c.name),
            accepted: acceptedValues(t.name, c.name),
            pii: c.pii === true,
            parent: references[`${t.name}.${c.name}`]
          }
        )
      )
  }
  for (const v of AllViews) {
    const grain = viewGrain[v.name]
    lines.push(
      `      - name: ${v.name}`,
      `        description: ${q(v.doc)}`,
      "        config:",
      "          meta:",
      "            kura_kind: view",
      ...(grain ? [`            grain: ${list(grain)}`] : [])
    )
    if (grain) lines.push(...keyTests("        ", grain))
    lines.push("        columns:")
    for (const c of views.get(v.name) ?? [])
      lines.push(
        ...columnLines(
          "          ",
          c.name,
          describe(v.name, c.name, undefined),
          c.type,
          bigQueryOfDuck(c.type),
          {
            nullable: true,
            key: false,
            accepted: acceptedValues(v.name, c.name),
            pii: false
          }
        )
      )
  }
  return `${lines.join("\n")}\n`
}

const stagingName = (table) => `stg_kura__${table}`

/** A staging model: every column, live rows only (nothing renamed, cast or dropped). */
const stagingSql = (t) =>
  [
    `-- ${header(`staging model of ${t.name}`)}`,
    `-- ${t.doc} Live rows only: a row the source deleted keeps \`_deleted_at\` set in ${t.name}.`,
    "select",
    t.columns.map((c) => `    ${c.name}`).join(",\n"),
    `from {{ source('kura', '${t.name}') }}`,
    "where _deleted_at is null",
    ""
  ].join("\n")

const stagingYaml = () => {
  const lines = [`# ${header("the staging models")}`, "version: 2", "", "models:"]
  for (const t of Object.values(CanonicalTables)) {
    lines.push(
      `  - name: ${stagingName(t.name)}`,
      `    description: ${q(`${t.doc} Live rows of source kura.${t.name} (\`_deleted_at\` is null); columns as there.`)}`,
      ...keyTests("    ", t.primaryKey),
      "    columns:"
    )
    for (const c of t.columns)
      lines.push(
        `      - name: ${c.name}`,
        `        description: ${q(describe(t.name, c.name, c.doc))}`,
        ...(t.primaryKey.includes(c.name) ? ["        data_tests:", "          - not_null"] : [])
      )
  }
  return `${lines.join("\n")}\n`
}

const render = async () => {
  for (const [key, parent] of Object.entries(references)) {
    const [table, column] = key.split(".")
    if (!CanonicalTables[table]?.columns.some((c) => c.name === column) || !CanonicalTables[parent])
      problems.push(
        `scripts/docs/dbt.mjs: references names ${key} -> ${parent}, which is not in the registry`
      )
  }
  const views = await viewColumns()
  const files = new Map([[join(pkg, "models", "kura_sources.yml"), sourcesYaml(views)]])
  files.set(join(stagingDir, "stg_kura.yml"), stagingYaml())
  for (const t of Object.values(CanonicalTables))
    files.set(join(stagingDir, `${stagingName(t.name)}.sql`), stagingSql(t))
  return files
}

const files = await render()
if (problems.length > 0) {
  console.error(problems.join("\n"))
  process.exit(1)
}
const generatedInStaging = () => {
  try {
    return readdirSync(stagingDir).map((f) => join(stagingDir, f))
  } catch {
    return []
  }
}
if (process.argv.includes("--check")) {
  const stale = []
  for (const [path, text] of files) {
    let current = ""
    try {
      current = readFileSync(path, "utf8")
    } catch {}
    if (current !== text) stale.push(relative(root, path))
  }
  for (const path of generatedInStaging())
    if (!files.has(path)) stale.push(`${relative(root, path)} (no such table any more)`)
  if (stale.length > 0) {
    console.error(
      `integrations/dbt is out of date with the warehouse's tables and views (${stale.join(", ")}): run \`npx node scripts/docs/dbt.mjs\` and commit it`
    )
    process.exit(1)
  }
  console.log("integrations/dbt is current")
} else {
  mkdirSync(stagingDir, { recursive: true })
  // The staging folder holds generated files only: a table that left the registry loses its model.
  for (const path of generatedInStaging()) if (!files.has(path)) rmSync(path)
  for (const [path, text] of files) writeFileSync(path, text)
  console.log(`wrote ${files.size} files under ${relative(root, pkg)}`)
}
