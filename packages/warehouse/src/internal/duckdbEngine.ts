/**
 * The DuckDB engine: one connection, staging through the Appender with 2048-row data chunks (no
 * per-row SQL), timestamps in UTC.
 */
import { mkdirSync } from "node:fs"
import { dirname } from "node:path"
import {
  DECIMAL,
  type DuckDBConnection,
  DuckDBDataChunk,
  type DuckDBDecimalValue,
  DuckDBInstance,
  type DuckDBType,
  decimalValue,
  VARCHAR
} from "@duckdb/node-api"
import { Effect, Exit } from "effect"
import { duckdbDialect } from "../Dialect.js"
import * as Sql from "../Sql.js"
import type { ColumnDef } from "../TableDefinition.js"
import { AllTables } from "../Tables.js"
import { WarehouseError } from "../WarehouseError.js"
import { makeConnectionLock } from "./connectionLock.js"
import { logicalType, type SqlEngine, type SqlParams, type SqlStatement } from "./SqlEngine.js"

const CHUNK_ROWS = 2048
const DECIMAL_38_9 = DECIMAL(38, 9)
const DECIMAL_TEXT = /^([+-])?(\d{1,29})(?:\.(\d{1,9}))?$/

/**
 * Column `index` of `rows` as DECIMAL(38,9) values, or undefined when some text is not a plain
 * decimal (the column is then staged as text and DuckDB's cast reports the problem).
 */
const scaledColumn = (
  rows: ReadonlyArray<ReadonlyArray<string | null>>,
  index: number
): Array<DuckDBDecimalValue | null> | undefined => {
  const out = new Array<DuckDBDecimalValue | null>(rows.length)
  for (let r = 0; r < rows.length; r++) {
    const text = rows[r]![index] ?? null
    if (text === null) {
      out[r] = null
      continue
    }
    const m = DECIMAL_TEXT.exec(text)
    if (m === null) return undefined
    const units = BigInt(`${m[2]}${(m[3] ?? "").padEnd(9, "0")}`)
    out[r] = decimalValue(m[1] === "-" ? -units : units, 38, 9)
  }
  return out
}

const queryError = (operation: string, sql: string) => (cause: unknown) =>
  new WarehouseError({
    reason: "Query",
    operation,
    message: `${cause instanceof Error ? cause.message : String(cause)} (in: ${sql.slice(0, 200)})`,
    cause
  })

/** Opens a DuckDB database (":memory:" or a file path) for the lifetime of the scope. */
export const makeDuckDbEngine = (path: string, config?: Readonly<Record<string, string>>) =>
  Effect.gen(function* () {
    const { instance, connection } = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true })
          const instance = await DuckDBInstance.create(path, config ? { ...config } : undefined)
          const connection = await instance.connect()
          await connection.run("SET TimeZone = 'UTC'")
          return { instance, connection }
        },
        catch: (cause) =>
          new WarehouseError({
            reason: "Connection",
            operation: "open",
            message: `cannot open DuckDB database at ${path}: ${cause instanceof Error ? cause.message : String(cause)}`,
            cause
          })
      }),
      ({ instance, connection }) =>
        Effect.sync(() => {
          connection.closeSync()
          instance.closeSync()
        })
    )
    void instance
    return makeEngineFromConnection(connection)
  })

const makeEngineFromConnection = (connection: DuckDBConnection): SqlEngine => {
  const dialect = duckdbDialect()
  // One connection runs one statement sequence at a time: every call below takes this lock, so
  // concurrent fibers (streams landing at once) can never interleave inside a stage → MERGE or a
  // transaction, and callers need no wrapper of their own.
  const locked = makeConnectionLock()
  const run = (sql: string, params?: SqlParams) =>
    locked(
      Effect.tryPromise({
        try: async () => (await connection.run(sql, params ? { ...params } : undefined)).rowsChanged,
        catch: queryError("run", sql)
      })
    )
  const query = (sql: string, params?: SqlParams) =>
    locked(
      Effect.tryPromise({
        try: async () =>
          (await connection.runAndReadAll(sql, params ? { ...params } : undefined)).getRowObjectsJson(),
        catch: queryError("query", sql)
      })
    )
  const atomically = (statements: ReadonlyArray<SqlStatement>) =>
    locked(
      Effect.uninterruptible(
        Effect.gen(function* () {
          yield* run("BEGIN TRANSACTION")
          const exit = yield* Effect.exit(
            Effect.forEach(statements, (s) => run(s.sql, s.params), { discard: true })
          )
          if (Exit.isSuccess(exit)) {
            const commit = yield* Effect.exit(run("COMMIT"))
            if (Exit.isSuccess(commit)) return
            yield* Effect.ignore(run("ROLLBACK"))
            return yield* commit
          }
          yield* Effect.ignore(run("ROLLBACK"))
          return yield* exit
        })
      )
    )
  const stage = (
    staging: string,
    columns: ReadonlyArray<ColumnDef>,
    rows: ReadonlyArray<ReadonlyArray<string | null>>
  ) =>
    locked(
      Effect.gen(function* () {
        // Decimal columns are staged typed: DuckDB's VARCHAR → DECIMAL(38,9) cast parses through
        // a 128-bit path at ~30 µs a value, which made it the slowest step of a load. The MERGE's
        // CAST to the same type is then a no-op.
        const decimals = columns.map((c, i) => (c.type === "decimal" ? scaledColumn(rows, i) : undefined))
        yield* run(
          `CREATE OR REPLACE TEMP TABLE ${dialect.table(staging)} (${columns
            .map((c, i) => `${dialect.ident(c.name)} ${decimals[i] ? "DECIMAL(38,9)" : "VARCHAR"}`)
            .join(", ")})`
        )
        yield* Effect.tryPromise({
          try: async () => {
            const appender = await connection.createAppender(staging, "main", "temp")
            try {
              const types: Array<DuckDBType> = columns.map((_, i) => (decimals[i] ? DECIMAL_38_9 : VARCHAR))
              for (let start = 0; start < rows.length; start += CHUNK_ROWS) {
                const end = Math.min(start + CHUNK_ROWS, rows.length)
                const chunk = DuckDBDataChunk.create(types, end - start)
                for (let c = 0; c < columns.length; c++) {
                  const scaled = decimals[c]
                  if (scaled) {
                    chunk.setColumnValues(c, scaled.slice(start, end))
                    continue
                  }
                  const col = new Array<string | null>(end - start)
                  for (let r = start; r < end; r++) col[r - start] = rows[r]![c] ?? null
                  chunk.setColumnValues(c, col)
                }
                appender.appendDataChunk(chunk)
              }
              appender.flushSync()
            } finally {
              appender.closeSync()
            }
          },
          catch: (cause) =>
            new WarehouseError({
              reason: "Load",
              operation: `stage ${staging}`,
              message: cause instanceof Error ? cause.message : String(cause),
              cause
            })
        })
      })
    )
  const liveColumns = (table: string) =>
    Effect.map(
      query(
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = $t AND table_schema = 'main' ORDER BY ordinal_position",
        { t: table }
      ),
      (rows) => {
        const declared = AllTables.find((t) => t.name === table)
        return rows.flatMap((r): ReadonlyArray<ColumnDef> => {
          const name = String(r.column_name)
          const known = declared?.columns.find((c) => c.name === name)
          const type = logicalType(String(r.data_type))
          if (type === null) return []
          return [known && known.type === type ? known : { name, type, nullable: r.is_nullable !== "NO" }]
        })
      }
    )
  // Writes are serialised per process (DuckDB allows one writer), so counting the table around
  // the MERGE is exact and, unlike a join, costs only metadata.
  const count = (target: string) =>
    Effect.map(query(`SELECT COUNT(*) AS n FROM ${dialect.table(target)}`), (rows) => Number(rows[0]?.n ?? 0))
  const merge = (sql: string, target: string) =>
    locked(
      Effect.gen(function* () {
        const before = yield* count(target)
        const changed = yield* run(sql)
        const inserted = (yield* count(target)) - before
        return { inserted, updated: changed - inserted }
      })
    )
  return {
    dialect,
    run,
    query,
    merge,
    stage,
    dropStaging: (staging) => Effect.asVoid(run(Sql.dropTable(dialect, staging))),
    liveColumns,
    atomically,
    serialize: locked
  }
}
