/**
 * A DuckDB setting changed for a while and given back whatever the outcome: the bulk load's
 * staging threads and mapping memory limit, the raw file load's insertion order. Statements run
 * on the warehouse's one shared connection, so a setting left behind would change every later
 * statement of the process.
 */
import { Effect, type Scope } from "effect"
import type { ExclusiveSql } from "../Warehouse.js"
import type { WarehouseError } from "../WarehouseError.js"

/**
 * `SET name = value` now, and `SET name = restore` (`RESET name` when `restore` is null) when the
 * enclosing scope closes. Values are SQL text (`'150MB'`, `2`, `false`).
 */
export const setForScope = (
  sql: Pick<ExclusiveSql, "run">,
  name: string,
  value: string,
  restore: string | null
): Effect.Effect<void, WarehouseError, Scope.Scope> =>
  // The restore is registered before the SET: a SET that takes effect and still reports a failure
  // (a 1KB memory_limit leaves no memory to answer with) is given back too.
  Effect.andThen(
    Effect.addFinalizer(() =>
      Effect.ignore(sql.run(restore === null ? `RESET ${name}` : `SET ${name} = ${restore}`))
    ),
    Effect.asVoid(sql.run(`SET ${name} = ${value}`))
  )

/** Runs `use` with `name` set to `value`, then gives back `restore` (`RESET` when null). */
export const withSetting = <A, E, R>(
  sql: Pick<ExclusiveSql, "run">,
  name: string,
  value: string,
  restore: string | null,
  use: Effect.Effect<A, E, R>
): Effect.Effect<A, E | WarehouseError, Exclude<R, Scope.Scope>> =>
  Effect.scoped(Effect.andThen(setForScope(sql, name, value, restore), use))
