/**
 * What opening a warehouse would migrate, read without changing anything: the tables and columns
 * it would create, the one-time data migrations not yet marked done, and (DuckDB) the views whose
 * definition changed. A preflight (`kura-sync check`) reports it before a deployment opens the
 * warehouse for real; `migrate` itself stays in the adapters.
 */
import { existsSync } from "node:fs"
import { DuckDBInstance } from "@duckdb/node-api"
import type { BigQuery } from "@google-cloud/bigquery"
import { Effect } from "effect"
import { duckdbDialect } from "./Dialect.js"
import { loadBigQuery } from "./internal/googleClients.js"
import { RAW_DEDUP_TAG, RAW_MIGRATIONS, viewTag } from "./internal/makeWarehouse.js"
import { AllTables, RawTable, StateTables } from "./Tables.js"
import { AllViews, createView } from "./Views.js"
import { WarehouseError } from "./WarehouseError.js"

/** The schema state of a warehouse against this version of Kura. */
export interface MigrationStatus {
  /** Whether the database (DuckDB file, BigQuery dataset) exists at all. */
  readonly exists: boolean
  /** Kura tables the next open would create. */
  readonly missingTables: ReadonlyArray<string>
  /** Columns the next open would add to existing tables. */
  readonly missingColumns: ReadonlyArray<{ readonly table: string; readonly column: string }>
  /** One-time data migrations and checks (`_kura_sync_state` kind `migration`) not marked done. */
  readonly pendingDataMigrations: ReadonlyArray<string>
  /** Views missing or (DuckDB) defined differently from this version's; re-created on open. */
  readonly staleViews: ReadonlyArray<string>
  /** True when the next open would change the schema or run a data migration. */
  readonly pending: boolean
}

const statusOf = (s: Omit<MigrationStatus, "pending">): MigrationStatus => ({
  ...s,
  pending:
    s.missingTables.length + s.missingColumns.length + s.pendingDataMigrations.length + s.staleViews.length >
    0
})

/** Compares the tables found (name → column names) with this version's. */
const compare = (columns: ReadonlyMap<string, ReadonlySet<string>>) => ({
  missingTables: AllTables.filter((t) => !columns.has(t.name)).map((t) => t.name),
  missingColumns: AllTables.flatMap((t) => {
    const have = columns.get(t.name)
    return have === undefined
      ? []
      : t.columns.filter((c) => !have.has(c.name)).map((c) => ({ table: t.name, column: c.name }))
  })
})

const text = (v: unknown): string =>
  typeof v === "string" ? v : v === null || v === undefined ? "" : String(v)

/**
 * The status of a DuckDB file, opened READ_ONLY (nothing is written, no WAL replayed into the file,
 * the file's bytes stay as they were). A missing file is reported as not existing, not created.
 * Fails with reason `Connection` when the file cannot be opened, e.g. while a running kura-sync
 * holds DuckDB's write lock on it.
 */
export const duckDbMigrationStatus = (path: string): Effect.Effect<MigrationStatus, WarehouseError> =>
  Effect.gen(function* () {
    if (path === ":memory:" || !existsSync(path))
      return statusOf({
        exists: false,
        missingTables: AllTables.map((t) => t.name),
        missingColumns: [],
        pendingDataMigrations: [...RAW_MIGRATIONS],
        staleViews: AllViews.map((v) => v.name)
      })
    const rows = yield* Effect.acquireUseRelease(
      Effect.tryPromise({
        try: async () => {
          const instance = await DuckDBInstance.create(path, { access_mode: "READ_ONLY" })
          try {
            return { instance, connection: await instance.connect() }
          } catch (e) {
            instance.closeSync()
            throw e
          }
        },
        catch: (cause) =>
          new WarehouseError({
            reason: "Connection",
            operation: "open read-only",
            message: `cannot open DuckDB database at ${path} read-only: ${cause instanceof Error ? cause.message : String(cause)}`,
            cause
          })
      }),
      ({ connection }) =>
        Effect.tryPromise({
          try: async () => {
            const catalogue = await connection.runAndReadAll(
              "SELECT 'c' AS kind, table_name AS name, column_name AS detail FROM duckdb_columns() WHERE schema_name = 'main' AND database_name = current_database() UNION ALL SELECT 'v', view_name, comment FROM duckdb_views() WHERE schema_name = 'main' AND database_name = current_database() AND NOT internal UNION ALL SELECT 't', table_name, comment FROM duckdb_tables() WHERE schema_name = 'main' AND database_name = current_database()"
            )
            const found = catalogue.getRowObjectsJS()
            const hasState = found.some((r) => r.kind === "t" && r.name === StateTables.syncState.name)
            const markers = hasState
              ? (
                  await connection.runAndReadAll(
                    `SELECT id FROM "${StateTables.syncState.name}" WHERE kind = 'migration'`
                  )
                ).getRowObjectsJS()
              : []
            return { found, markers }
          },
          catch: (cause) =>
            new WarehouseError({
              reason: "Query",
              operation: "read the catalogue",
              message: cause instanceof Error ? cause.message : String(cause),
              cause
            })
        }),
      ({ instance, connection }) =>
        Effect.sync(() => {
          connection.closeSync()
          instance.closeSync()
        })
    )
    const columns = new Map<string, Set<string>>()
    const tags = new Map<string, string>()
    for (const r of rows.found) {
      const name = text(r.name)
      if (r.kind === "c") {
        const set = columns.get(name) ?? new Set<string>()
        set.add(text(r.detail))
        columns.set(name, set)
      } else tags.set(`${text(r.kind)}:${name}`, text(r.detail))
    }
    const done = new Set(rows.markers.map((r) => text(r.id)))
    const d = duckdbDialect()
    return statusOf({
      exists: true,
      ...compare(columns),
      pendingDataMigrations:
        tags.get(`t:${RawTable.name}`) === RAW_DEDUP_TAG ? [] : RAW_MIGRATIONS.filter((id) => !done.has(id)),
      staleViews: AllViews.filter((v) => tags.get(`v:${v.name}`) !== viewTag(createView(d, v))).map(
        (v) => v.name
      )
    })
  })

/** The status of a BigQuery dataset, and what else was learnt about it on the way. */
export interface BigQueryMigrationStatus extends MigrationStatus {
  /** The dataset's location (e.g. "EU"), when it exists. */
  readonly location: string | null
  /**
   * Whether a dry run of a write (a no-op DELETE on `_kura_sync_state`) was accepted: null when
   * not tried (the table does not exist yet), else the refusal's message or "ok".
   */
  readonly writeDryRun: string | null
}

/**
 * The status of a BigQuery dataset, read through metadata calls (free) and one small query of the
 * migration markers; writes are only dry-run. Views are re-created at every BigQuery open, so only
 * missing ones count.
 */
export const bigQueryMigrationStatus = (options: {
  /** A configured client; default one on Application Default Credentials. */
  readonly bigquery?: BigQuery
  readonly projectId: string
  readonly dataset: string
  readonly location?: string
}): Effect.Effect<BigQueryMigrationStatus, WarehouseError> =>
  Effect.tryPromise({
    try: async (): Promise<BigQueryMigrationStatus> => {
      const bigquery =
        options.bigquery ??
        new (await loadBigQuery()).BigQuery({
          projectId: options.projectId,
          ...(options.location === undefined ? {} : { location: options.location })
        })
      const dataset = bigquery.dataset(options.dataset)
      const [exists] = await dataset.exists()
      if (!exists)
        return {
          ...statusOf({
            exists: false,
            missingTables: AllTables.map((t) => t.name),
            missingColumns: [],
            pendingDataMigrations: [...RAW_MIGRATIONS],
            staleViews: AllViews.map((v) => v.name)
          }),
          location: null,
          writeDryRun: null
        }
      const [meta] = await dataset.getMetadata()
      const [tables] = await dataset.getTables()
      const names = new Set(tables.map((t) => t.id ?? ""))
      const columns = new Map<string, Set<string>>()
      await Promise.all(
        AllTables.filter((t) => names.has(t.name)).map(async (t) => {
          const [tm] = await dataset.table(t.name).getMetadata()
          const fields: ReadonlyArray<{ readonly name?: string }> = tm?.schema?.fields ?? []
          columns.set(t.name, new Set(fields.map((f) => f.name ?? "")))
        })
      )
      const state = `\`${options.projectId}.${options.dataset}.${StateTables.syncState.name}\``
      const location = options.location ?? (typeof meta?.location === "string" ? meta.location : undefined)
      let done = new Set<string>()
      let writeDryRun: string | null = null
      if (names.has(StateTables.syncState.name)) {
        const [rows] = await bigquery.query({
          query: `SELECT id FROM ${state} WHERE kind = 'migration'`,
          ...(location === undefined ? {} : { location })
        })
        const list: ReadonlyArray<unknown> = rows
        done = new Set(list.map((r) => (typeof r === "object" && r !== null && "id" in r ? text(r.id) : "")))
        writeDryRun = await bigquery
          .createQueryJob({
            query: `DELETE FROM ${state} WHERE FALSE`,
            dryRun: true,
            ...(location === undefined ? {} : { location })
          })
          .then(
            () => "ok",
            (e: unknown) => (e instanceof Error ? e.message : String(e))
          )
      }
      return {
        ...statusOf({
          exists: true,
          ...compare(columns),
          pendingDataMigrations: RAW_MIGRATIONS.filter((id) => !done.has(id)),
          staleViews: AllViews.filter((v) => !names.has(v.name)).map((v) => v.name)
        }),
        location: typeof meta?.location === "string" ? meta.location : null,
        writeDryRun
      }
    },
    catch: (cause) =>
      new WarehouseError({
        reason: "Connection",
        operation: "read the dataset's metadata",
        message: cause instanceof Error ? cause.message : String(cause),
        cause
      })
  })
