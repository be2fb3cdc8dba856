/**
 * The BigQuery engine: statements through jobs.query with named STRING parameters, and staging
 * through load jobs (NDJSON written to Cloud Storage, then loaded into a staging table) — never
 * streaming inserts.
 */
import type { BigQuery } from "@google-cloud/bigquery"
import type { Storage } from "@google-cloud/storage"
import { Effect, Schema, Semaphore } from "effect"
import { bigQueryDialect } from "../Dialect.js"
import type { ColumnDef } from "../TableDefinition.js"
import { AllTables } from "../Tables.js"
import { WarehouseError } from "../WarehouseError.js"
import { logicalType, type SqlEngine, type SqlParams, type SqlRow, type SqlStatement } from "./SqlEngine.js"

/** Where and how the BigQuery engine runs. */
export interface BigQueryEngineOptions {
  readonly bigquery: BigQuery
  readonly projectId: string
  readonly dataset: string
  /** Dataset location, e.g. "US" or "asia-northeast1". */
  readonly location?: string
  /** Bucket (and folder) where staging NDJSON files are written for load jobs. */
  readonly staging: { readonly storage: Storage; readonly bucket: string; readonly prefix?: string }
}

const message = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

const DmlStats = Schema.Struct({ numDmlAffectedRows: Schema.optional(Schema.String) })
const MergeJob = Schema.Struct({
  statistics: Schema.optional(
    Schema.Struct({
      query: Schema.optional(
        Schema.Struct({
          dmlStats: Schema.optional(
            Schema.Struct({
              insertedRowCount: Schema.optional(Schema.String),
              updatedRowCount: Schema.optional(Schema.String)
            })
          )
        })
      )
    })
  )
})
const TableMeta = Schema.Struct({
  schema: Schema.optional(
    Schema.Struct({
      fields: Schema.optional(
        Schema.Array(
          Schema.Struct({ name: Schema.String, type: Schema.String, mode: Schema.optional(Schema.String) })
        )
      )
    })
  )
})
const LoadStatus = Schema.Struct({
  status: Schema.optional(
    Schema.Struct({
      state: Schema.optional(Schema.String),
      errorResult: Schema.optional(Schema.Struct({ message: Schema.optional(Schema.String) }))
    })
  )
})

const isNotFound = (cause: unknown) =>
  typeof cause === "object" && cause !== null && "code" in cause && cause.code === 404

/** The BigQuery transaction script of some statements (one statement per line, `;`-terminated). */
export const transactionScript = (statements: ReadonlyArray<string>): string =>
  ["BEGIN TRANSACTION;", ...statements.map((sql) => `${sql};`), "COMMIT TRANSACTION;"].join("\n")

/** Builds the engine. */
export const makeBigQueryEngine = (options: BigQueryEngineOptions): SqlEngine => {
  const dialect = bigQueryDialect(options.projectId, options.dataset)
  const bq = options.bigquery
  const dataset = bq.dataset(options.dataset, options.location ? { location: options.location } : {})
  const bucket = options.staging.storage.bucket(options.staging.bucket)
  const stagingPrefix = (options.staging.prefix ?? "").replace(/^\/+|\/+$/g, "")
  const lock = Semaphore.makeUnsafe(1)

  const execute = (sql: string, params?: SqlParams) =>
    Effect.tryPromise({
      try: async () => {
        const names = Object.keys(params ?? {})
        const response: ReadonlyArray<unknown> = await bq.query({
          query: sql,
          useLegacySql: false,
          ...(options.location ? { location: options.location } : {}),
          ...(names.length > 0
            ? { params: { ...params }, types: Object.fromEntries(names.map((n) => [n, "STRING"])) }
            : {})
        })
        return response
      },
      catch: (cause) =>
        new WarehouseError({
          reason: "Query",
          operation: "query",
          message: `${message(cause)} (in: ${sql.slice(0, 200)})`,
          cause
        })
    })

  const run = (sql: string, params?: SqlParams) =>
    Effect.flatMap(execute(sql, params), (response) =>
      Effect.map(
        Effect.orElseSucceed(Schema.decodeUnknownEffect(DmlStats)(response[2] ?? {}), () => ({
          numDmlAffectedRows: undefined
        })),
        (stats) => Number(stats.numDmlAffectedRows ?? 0)
      )
    )

  // A MERGE runs as a query job so its statistics (inserted/updated) can be read from the job even
  // when it outlives the synchronous jobs.query wait.
  const merge = (sql: string, target: string) =>
    Effect.tryPromise({
      try: async () => {
        const [job] = await bq.createQueryJob({
          query: sql,
          useLegacySql: false,
          ...(options.location ? { location: options.location } : {})
        })
        await job.getQueryResults({ timeoutMs: 60_000 })
        const [meta] = await job.getMetadata()
        return meta
      },
      catch: (cause) =>
        new WarehouseError({
          reason: "Query",
          operation: `merge into ${target}`,
          message: `${message(cause)} (in: ${sql.slice(0, 200)})`,
          cause
        })
    }).pipe(
      Effect.flatMap((meta) =>
        Schema.decodeUnknownEffect(MergeJob)(meta).pipe(
          Effect.mapError(
            (cause) =>
              new WarehouseError({
                reason: "Query",
                operation: `merge into ${target}`,
                message: `unexpected job statistics: ${cause.message}`,
                cause
              })
          )
        )
      ),
      Effect.map((meta) => ({
        inserted: Number(meta.statistics?.query?.dmlStats?.insertedRowCount ?? 0),
        updated: Number(meta.statistics?.query?.dmlStats?.updatedRowCount ?? 0)
      }))
    )

  const query = (sql: string, params?: SqlParams) =>
    Effect.map(execute(sql, params), (response): ReadonlyArray<SqlRow> => {
      const rows = response[0]
      return Array.isArray(rows) ? rows.filter((r): r is SqlRow => typeof r === "object" && r !== null) : []
    })

  // One multi-statement transaction script (one job): BigQuery commits every statement or none.
  // Each statement's parameters are renamed apart (@s0_x, @s1_x) since the script shares one set.
  const atomically = (statements: ReadonlyArray<SqlStatement>) => {
    if (statements.length === 0) return Effect.void
    const params: Record<string, string | null> = {}
    const body = statements.map((st, i) => {
      for (const [name, value] of Object.entries(st.params ?? {})) params[`s${i}_${name}`] = value
      return st.sql.replace(/@([A-Za-z_][A-Za-z0-9_]*)/g, (_, name: string) =>
        st.params !== undefined && name in st.params ? `@s${i}_${name}` : `@${name}`
      )
    })
    return Effect.asVoid(execute(transactionScript(body), params))
  }

  const loadError = (operation: string) => (cause: unknown) =>
    new WarehouseError({ reason: "Load", operation, message: message(cause), cause })

  const stage = (
    staging: string,
    columns: ReadonlyArray<ColumnDef>,
    rows: ReadonlyArray<ReadonlyArray<string | null>>
  ) =>
    Effect.gen(function* () {
      const objectName = `${stagingPrefix ? `${stagingPrefix}/` : ""}_kura_staging/${staging}.ndjson`
      const file = bucket.file(objectName)
      // Bounded by the caller's chunk size (load chunks), so one buffer per chunk is fine.
      const body = rows
        .map((row) => {
          const obj: Record<string, string | null> = {}
          columns.forEach((c, i) => {
            obj[c.name] = row[i] ?? null
          })
          return JSON.stringify(obj)
        })
        .join("\n")
      yield* Effect.tryPromise({
        try: () =>
          file.save(Buffer.from(`${body}\n`, "utf8"), {
            resumable: false,
            validation: "crc32c",
            contentType: "application/x-ndjson"
          }),
        catch: loadError(`upload ${objectName}`)
      })
      yield* Effect.tryPromise({
        try: async () => {
          const [job] = await dataset.table(staging).createLoadJob(file, {
            sourceFormat: "NEWLINE_DELIMITED_JSON",
            writeDisposition: "WRITE_TRUNCATE",
            createDisposition: "CREATE_IF_NEEDED",
            schema: { fields: columns.map((c) => ({ name: c.name, type: "STRING", mode: "NULLABLE" })) }
          })
          await job.promise()
          return job.metadata
        },
        catch: loadError(`load job into ${staging}`)
      }).pipe(
        Effect.flatMap((meta) => Effect.orDie(Schema.decodeUnknownEffect(LoadStatus)(meta ?? {}))),
        Effect.flatMap((meta) =>
          meta.status?.errorResult
            ? Effect.fail(
                loadError(`load job into ${staging}`)(meta.status.errorResult.message ?? "load job failed")
              )
            : Effect.void
        ),
        Effect.ensuring(Effect.ignore(Effect.tryPromise(() => file.delete({ ignoreNotFound: true }))))
      )
    })

  const dropStaging = (staging: string) =>
    Effect.tryPromise({
      try: () => dataset.table(staging).delete({ ignoreNotFound: true }),
      catch: loadError(`drop ${staging}`)
    }).pipe(Effect.asVoid)

  const liveColumns = (table: string) =>
    Effect.tryPromise({
      try: async () => {
        try {
          const [meta] = await dataset.table(table).getMetadata()
          return meta
        } catch (e) {
          if (isNotFound(e)) return {}
          throw e
        }
      },
      catch: (cause) =>
        new WarehouseError({
          reason: "Query",
          operation: `describe ${table}`,
          message: message(cause),
          cause
        })
    }).pipe(
      Effect.flatMap((meta) =>
        Schema.decodeUnknownEffect(TableMeta)(meta).pipe(
          Effect.mapError(
            (cause) =>
              new WarehouseError({
                reason: "Query",
                operation: `describe ${table}`,
                message: `unexpected table metadata: ${cause.message}`,
                cause
              })
          )
        )
      ),
      Effect.map((meta) => {
        const declared = AllTables.find((t) => t.name === table)
        return (meta.schema?.fields ?? []).flatMap((f): ReadonlyArray<ColumnDef> => {
          const type = logicalType(f.type === "INTEGER" ? "INT64" : f.type === "BOOLEAN" ? "BOOL" : f.type)
          if (type === null) return []
          const known = declared?.columns.find((c) => c.name === f.name)
          return [
            known && known.type === type ? known : { name: f.name, type, nullable: f.mode !== "REQUIRED" }
          ]
        })
      })
    )

  return {
    dialect,
    run,
    query,
    merge,
    stage,
    dropStaging,
    liveColumns,
    atomically,
    serialize: lock.withPermits(1)
  }
}
