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
import { Effect, Exit, Schema } from "effect"
import { duckdbDialect } from "../Dialect.js"
import * as Sql from "../Sql.js"
import type { ColumnDef } from "../TableDefinition.js"
import { AllTables } from "../Tables.js"
import { WarehouseError } from "../WarehouseError.js"
import { makeConnectionLock } from "./connectionLock.js"
import { makePooledEngine } from "./pooledEngine.js"
import { logicalType, type SqlEngine, type SqlParams, type SqlStatement } from "./SqlEngine.js"

const CHUNK_ROWS = 2048
/**
 * Connections per database (see pooledEngine.ts). One: every statement takes its turn, as always.
 * Two let the two long chains of loads of an incremental pass (Shopify orders, Lightspeed sales)
 * run at once; on a loaded 2-core box that was within the noise (BENCHMARKS §3, session 9), so it
 * waits for an idle measurement before it becomes the default.
 */
export const DUCKDB_CONNECTIONS = 1
/**
 * Staging tables of at most this many rows are dropped lazily (see `dropStaging`): small, so a
 * lingering one never holds a bulk load's memory (kura-backfill stages up to 5,000 orders).
 */
const LAZY_DROP_ROWS = 500
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

/**
 * `statements` as one `BEGIN TRANSACTION; …; COMMIT` script with each `$name` parameter written in
 * as a literal: text as a quoted string (it adapts to its context as a bound text parameter
 * does), null as NULL. Parameters inside quoted strings or identifiers are left alone. Undefined
 * when a statement names a parameter it was not given, or a value holds a NUL character (the
 * caller then binds parameters statement by statement).
 */
export const inlineScript = (statements: ReadonlyArray<SqlStatement>): string | undefined => {
  const parts: Array<string> = ["BEGIN TRANSACTION"]
  for (const statement of statements) {
    const sql = inlineParams(statement.sql, statement.params ?? {})
    if (sql === undefined) return undefined
    parts.push(sql)
  }
  parts.push("COMMIT")
  return parts.join(";\n")
}

const PARAM_NAME = /[A-Za-z_][A-Za-z0-9_]*/y

const inlineParams = (sql: string, params: SqlParams): string | undefined => {
  let out = ""
  let i = 0
  while (i < sql.length) {
    const ch = sql[i]!
    if (ch === "'" || ch === '"') {
      // A quoted string or identifier, copied whole (a doubled quote stays inside it).
      let j = i + 1
      while (j < sql.length) {
        if (sql[j] === ch) {
          if (sql[j + 1] === ch) j += 2
          else break
        } else j++
      }
      out += sql.slice(i, j + 1)
      i = j + 1
      continue
    }
    if (ch === "$") {
      PARAM_NAME.lastIndex = i + 1
      const m = PARAM_NAME.exec(sql)
      if (m !== null) {
        const name = m[0]
        if (!Object.hasOwn(params, name)) return undefined
        const value = params[name] ?? null
        if (value?.includes("\u0000")) return undefined
        out += value === null ? "NULL" : Sql.stringLiteral(value)
        i += 1 + name.length
        continue
      }
    }
    out += ch
    i++
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

/** DuckDB's memory by tag (bytes as DOUBLE: exact far beyond any real size, and a JSON number). */
const MEMORY_SQL =
  "SELECT tag, memory_usage_bytes::DOUBLE AS memory_bytes, temporary_storage_bytes::DOUBLE AS temporary_bytes FROM duckdb_memory() ORDER BY tag"

const MemoryRows = Schema.Array(
  Schema.Struct({ tag: Schema.String, memory_bytes: Schema.Number, temporary_bytes: Schema.Number })
)
const decodeMemoryRows = (rows: unknown) =>
  Effect.map(Schema.decodeUnknownEffect(MemoryRows)(rows), (list) =>
    list.map((r) => ({ tag: r.tag, memoryBytes: r.memory_bytes, temporaryBytes: r.temporary_bytes }))
  )

/** How long a close, or an interrupted fiber, waits for DuckDB to stop a running statement (ms). */
export const DEFAULT_INTERRUPT_GRACE_MS = 10_000

/**
 * The statements DuckDB is running on one connection. A connection closed while one runs leaves
 * that statement stuck for good: its promise never settles, so the process cannot exit by itself,
 * and the synchronous close could block the main thread behind it (kura-backfill hung on Ctrl-C
 * this way). So every statement is tracked, and `stop` interrupts them with DuckDB's own
 * `interrupt()` and waits, up to `graceMs`, until none is left.
 */
const makeInFlight = (connection: DuckDBConnection, graceMs: number) => {
  const running = new Set<Promise<void>>()
  let closing = false
  const track = <A>(promise: Promise<A>): Promise<A> => {
    const settled: Promise<void> = promise.then(
      () => void running.delete(settled),
      () => void running.delete(settled)
    )
    running.add(settled)
    return promise
  }
  /** True once nothing runs; false when something still ran after the grace. */
  const stop = async (): Promise<boolean> => {
    const deadline = Date.now() + graceMs
    while (running.size > 0) {
      // Again every 100 ms: an interrupt that lands before DuckDB has begun the statement is
      // cleared when it begins (an idle connection's interrupt does not carry over).
      connection.interrupt()
      const left = deadline - Date.now()
      if (left <= 0) return false
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(100, left))
        void Promise.all(running).then(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
    return true
  }
  return {
    track,
    stop,
    /** From the close on, no statement starts (a fiber still waiting for the lock gets an error). */
    close: () => {
      closing = true
    },
    get closing() {
      return closing
    },
    get size() {
      return running.size
    }
  }
}

/** Options of the DuckDB engine. */
export interface DuckDbEngineOptions {
  /** Connections to the database (default DUCKDB_CONNECTIONS); 1 runs every statement in turn. */
  readonly connections?: number
  /**
   * How long closing the database, or interrupting a fiber in the middle of a statement, waits for
   * DuckDB to stop the statement, ms (default 10,000). A statement still running after it keeps the
   * database open until the process exits (every committed transaction is in the WAL, replayed at
   * the next open) instead of blocking the close.
   */
  readonly interruptGraceMs?: number
}

/** Opens a DuckDB database (":memory:" or a file path) for the lifetime of the scope. */
export const makeDuckDbEngine = (
  path: string,
  config?: Readonly<Record<string, string>>,
  options: DuckDbEngineOptions = {}
) =>
  Effect.gen(function* () {
    const graceMs = options.interruptGraceMs ?? DEFAULT_INTERRUPT_GRACE_MS
    const connections = Math.max(1, Math.floor(options.connections ?? DUCKDB_CONNECTIONS))
    // Whether the pool's other connections stopped their statements at the close (below).
    let othersStopped = true
    const { instance, connection, inFlight } = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true })
          // A new file in storage format v1.2.0 (DuckDB ≥ 1.2 reads it), so columns declared
          // `compression: "zstd"` (`_kura_raw.payload`) can use it; an existing file keeps its own.
          const instance = await DuckDBInstance.create(path, {
            storage_compatibility_version: "v1.2.0",
            ...config
          })
          const connection = await instance.connect()
          await connection.run("SET TimeZone = 'UTC'")
          return { instance, connection, inFlight: makeInFlight(connection, graceMs) }
        },
        catch: (cause) =>
          new WarehouseError({
            reason: "Connection",
            operation: "open",
            message: `cannot open DuckDB database at ${path}: ${cause instanceof Error ? cause.message : String(cause)}`,
            cause
          })
      }),
      ({ instance, connection, inFlight }) =>
        Effect.flatMap(
          Effect.promise(() => {
            inFlight.close()
            return inFlight.stop()
          }),
          (stopped): Effect.Effect<void> =>
            stopped && othersStopped
              ? Effect.sync(() => {
                  connection.closeSync()
                  instance.closeSync()
                })
              : Effect.logWarning(
                  `DuckDB did not stop ${inFlight.size + others.reduce((n, m) => n + m.inFlight.size, 0)} running statement(s) within ${graceMs} ms of closing ${path}; the database stays open until the process exits (committed work is in its WAL)`
                )
        )
    )
    // The pool's other connections, closed before the first (finalizers run in reverse).
    const others = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          const more: Array<{ connection: DuckDBConnection; inFlight: ReturnType<typeof makeInFlight> }> = []
          for (let i = 1; i < connections; i++) {
            const other = await instance.connect()
            more.push({ connection: other, inFlight: makeInFlight(other, graceMs) })
            await other.run("SET TimeZone = 'UTC'")
          }
          return more
        },
        catch: (cause) =>
          new WarehouseError({
            reason: "Connection",
            operation: "open",
            message: `cannot open another connection to DuckDB database ${path}: ${cause instanceof Error ? cause.message : String(cause)}`,
            cause
          })
      }),
      (more) =>
        Effect.promise(async () => {
          for (const m of more) m.inFlight.close()
          const stopped = await Promise.all(more.map((m) => m.inFlight.stop()))
          othersStopped = stopped.every(Boolean)
          // A connection still running keeps the database open (the first connection's close says so).
          if (othersStopped) for (const m of more) m.connection.closeSync()
        })
    )
    // A connection only for `memory`: a metrics scrape must not queue behind a minutes-long load.
    // Opened by the first scrape (a process that is never scraped holds no extra connection), and
    // closed first (finalizers run in reverse), after its one short statement settles.
    let diagnostics: { connection: DuckDBConnection; inFlight: ReturnType<typeof makeInFlight> } | undefined
    let diagnosticsClosed = false
    const closedError = () =>
      queryError("memory", MEMORY_SQL)(new Error("the DuckDB database is closed or closing"))
    // Two scrapes at once take turns on it, as statements on any one connection do; the first
    // opens it and the close closes it under the same lock, so neither can miss the other.
    const diagnosticsLock = makeConnectionLock()
    yield* Effect.addFinalizer(() =>
      diagnosticsLock(
        Effect.promise(async () => {
          diagnosticsClosed = true
          const d = diagnostics
          if (d === undefined) return
          d.inFlight.close()
          if (await d.inFlight.stop()) d.connection.closeSync()
        })
      )
    )
    const readMemory = diagnosticsLock(
      Effect.suspend(() => {
        if (diagnosticsClosed) return Effect.fail(closedError())
        return Effect.tryPromise({
          try: async () => {
            if (diagnostics === undefined) {
              const c = await instance.connect()
              diagnostics = { connection: c, inFlight: makeInFlight(c, graceMs) }
            }
            const d = diagnostics
            return d.inFlight.track(d.connection.runAndReadAll(MEMORY_SQL).then((r) => r.getRowObjectsJson()))
          },
          catch: queryError("memory", MEMORY_SQL)
        })
      })
    )
    const all = [{ connection, inFlight }, ...others]
    const engine: SqlEngine & {
      /** Statements handed to DuckDB and not yet settled (for tests of the close). */
      readonly running: () => number
    } = {
      ...makePooledEngine(all.map((c) => makeEngineFromConnection(c.connection, c.inFlight))),
      memory: Effect.flatMap(readMemory, (rows) =>
        Effect.mapError(decodeMemoryRows(rows), (e) =>
          queryError("memory", MEMORY_SQL)(new Error(`unexpected duckdb_memory() row: ${e.message}`))
        )
      ),
      running: () => all.reduce((n, c) => n + c.inFlight.size, 0)
    }
    return engine
  })

const makeEngineFromConnection = (
  connection: DuckDBConnection,
  inFlight: ReturnType<typeof makeInFlight>
): SqlEngine => {
  const dialect = duckdbDialect()
  // A statement on DuckDB's threads, tracked until it settles. An interrupted fiber stops it and
  // waits for that (holding the connection lock meanwhile, so the next statement never starts
  // behind a running one); `atomically` is uninterruptible, so a transaction is never cut here.
  const statement = <A>(start: () => Promise<A>, onError: (cause: unknown) => WarehouseError) =>
    Effect.uninterruptibleMask((restore) =>
      Effect.suspend(() => {
        if (inFlight.closing)
          return Effect.fail(
            onError(new Error("the DuckDB database is closed or closing (its warehouse's scope has ended)"))
          )
        const promise = inFlight.track(new Promise<A>((resolve) => resolve(start())))
        return restore(Effect.tryPromise({ try: () => promise, catch: onError })).pipe(
          Effect.onInterrupt(() => Effect.promise(() => inFlight.stop()))
        )
      })
    )
  // One connection runs one statement sequence at a time: every call below takes this lock, so
  // concurrent fibers (streams landing at once) can never interleave inside a stage → MERGE or a
  // transaction, and callers need no wrapper of their own.
  const locked = makeConnectionLock()
  const run = (sql: string, params?: SqlParams) =>
    locked(
      statement(
        async () => (await connection.run(sql, params ? { ...params } : undefined)).rowsChanged,
        queryError("run", sql)
      )
    )
  const query = (sql: string, params?: SqlParams) =>
    locked(
      statement(
        async () =>
          (await connection.runAndReadAll(sql, params ? { ...params } : undefined)).getRowObjectsJson(),
        queryError("query", sql)
      )
    )
  const atomically = (statements: ReadonlyArray<SqlStatement>) =>
    locked(
      Effect.uninterruptible(
        Effect.gen(function* () {
          // One round trip for the whole transaction (its values written in as literals): a
          // commit on the one connection was BEGIN, each statement (three trips each with
          // parameters: extract, prepare, execute) and COMMIT, on the tail of every run.
          const script = inlineScript(statements)
          if (script !== undefined) {
            const exit = yield* Effect.exit(run(script))
            if (Exit.isSuccess(exit)) return
            // Stopped part-way: whatever it began is undone (no transaction left open).
            yield* Effect.ignore(run("ROLLBACK"))
            return yield* exit
          }
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
        const drops = pendingDrops.map((name) => `${Sql.dropTable(dialect, name)}; `).join("")
        pendingDrops = []
        stagedRows.set(staging, rows.length)
        yield* run(
          `${drops}CREATE OR REPLACE TEMP TABLE ${dialect.table(staging)} (${columns
            .map((c, i) => `${dialect.ident(c.name)} ${decimals[i] ? "DECIMAL(38,9)" : "VARCHAR"}`)
            .join(", ")})`
        )
        yield* statement(
          async () => {
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
          (cause) =>
            new WarehouseError({
              reason: "Load",
              operation: `stage ${staging}`,
              message: cause instanceof Error ? cause.message : String(cause),
              cause
            })
        )
      })
    )
  // Only this database's table: a user's ATTACHed copy (a backup, an old warehouse) has the same
  // table names, and its columns listed too would double every column of a load's staging table.
  const liveColumns = (table: string) =>
    Effect.map(
      query(
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_catalog = current_database() AND table_name = $t AND table_schema = 'main' ORDER BY ordinal_position",
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
  // The MERGE reports what it did itself (`RETURNING merge_action`, one value per row written): a
  // COUNT(*) of the target before and after cost two more statements per load, ~60 of an
  // incremental pass, each a turn on this one connection that every stream waits behind.
  const merge = (sql: string, _target: string) =>
    locked(
      statement(
        async () => {
          const reader = await connection.runAndReadAll(`${sql} RETURNING merge_action`)
          let inserted = 0
          let updated = 0
          for (const action of reader.getColumns()[0] ?? []) {
            if (String(action) === "INSERT") inserted++
            else updated++
          }
          return { inserted, updated }
        },
        queryError("merge", sql)
      )
    )
  // A small staging table is dropped by the next stage's statement instead of one of its own
  // (a round trip per load saved); a big one is dropped at once, so its memory does not linger.
  const stagedRows = new Map<string, number>()
  let pendingDrops: Array<string> = []
  const dropStaging = (staging: string) =>
    Effect.suspend(() => {
      const rows = stagedRows.get(staging)
      stagedRows.delete(staging)
      if (rows !== undefined && rows <= LAZY_DROP_ROWS) {
        pendingDrops.push(staging)
        return Effect.void
      }
      return Effect.asVoid(run(Sql.dropTable(dialect, staging)))
    })
  return {
    dialect,
    run,
    query,
    merge,
    stage,
    dropStaging,
    liveColumns,
    atomically,
    serialize: locked
  }
}
