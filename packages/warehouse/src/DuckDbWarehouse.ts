/**
 * The DuckDB adapter of the Warehouse port: a local file (or memory) database for laptops, CI and
 * single-machine deployments.
 */
import { Effect, Layer } from "effect"
import { DUCKDB_CONNECTIONS, makeDuckDbEngine } from "./internal/duckdbEngine.js"
import { makeWarehouse } from "./internal/makeWarehouse.js"
import { Warehouse } from "./Warehouse.js"
import { WarehouseError } from "./WarehouseError.js"

/**
 * Connections to the database when `connections` is not given: one, every statement in turn (a
 * second lets two streams' loads run at once; it waits for an idle measurement before it is the
 * default, BENCHMARKS §3).
 */
export const DEFAULT_CONNECTIONS = DUCKDB_CONNECTIONS

/** The most connections `connections` accepts: each more holds its own memory and threads' work. */
export const MAX_CONNECTIONS = 8

/** Options of the DuckDB warehouse. */
export interface DuckDbWarehouseOptions {
  /** Database file, or ":memory:". Parent directories are created. */
  readonly path: string
  /**
   * DuckDB settings, e.g. `{ memory_limit: "300MB", threads: "2" }`; bounding memory_limit keeps
   * big loads flat (DuckDB spills instead of growing).
   */
  readonly config?: Readonly<Record<string, string>>
  /** Create tables and views when the layer starts (default true). */
  readonly migrate?: boolean
  /**
   * How long closing the warehouse (Ctrl-C, SIGTERM, the end of its scope), or interrupting a fiber
   * in the middle of a statement, waits for DuckDB to stop the running statement, ms (default
   * 10,000). The statement is interrupted, never cut off by a close; one still running after this
   * keeps the database open until the process exits rather than blocking the close.
   */
  readonly interruptGraceMs?: number
  /**
   * Connections to the database, 1 to MAX_CONNECTIONS (default DEFAULT_CONNECTIONS). With more
   * than one, loads of different tables run at once, each holding one connection for its whole
   * length; loads of one table, bookkeeping writes and `exclusive` work still take turns.
   */
  readonly connections?: number
}

/** A Warehouse backed by DuckDB; the database closes when the layer's scope ends. */
export const layer = (options: DuckDbWarehouseOptions): Layer.Layer<Warehouse, WarehouseError> =>
  Layer.effect(
    Warehouse,
    Effect.gen(function* () {
      const connections = options.connections ?? DEFAULT_CONNECTIONS
      if (!Number.isSafeInteger(connections) || connections < 1 || connections > MAX_CONNECTIONS)
        return yield* new WarehouseError({
          reason: "Config",
          operation: "open",
          message: `DuckDB connections must be a whole number from 1 to ${MAX_CONNECTIONS}, got ${connections}`
        })
      const engine = yield* makeDuckDbEngine(options.path, options.config, {
        connections,
        ...(options.interruptGraceMs === undefined ? {} : { interruptGraceMs: options.interruptGraceMs })
      })
      const warehouse = makeWarehouse(engine)
      if (options.migrate !== false) yield* warehouse.migrate
      return Warehouse.of(warehouse)
    })
  )

/** An in-memory DuckDB warehouse, migrated: for tests. */
export const layerMemory: Layer.Layer<Warehouse, WarehouseError> = layer({
  path: ":memory:"
})
