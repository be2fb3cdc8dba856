/**
 * The local warehouse file and lake directory checked before anything opens them. A read-only or
 * mistyped directory otherwise surfaces as a DuckDB stack trace, or, for the lake, only at the
 * first write, long after the app started. Both apps run this at start and name their own
 * setting (variable or flag) in front of each problem.
 */
import { accessSync, constants, existsSync, mkdirSync, statSync } from "node:fs"
import { dirname, resolve } from "node:path"

/** One local store that cannot be used, with what to do about it. */
export interface LocalStoreProblem {
  /** Which setting it came from: the DuckDB warehouse file or the lake directory. */
  readonly store: "warehouse" | "lake"
  readonly message: string
  readonly fix: string
}

/** Why `dir` cannot hold files (created if missing), or undefined when it can. */
const unwritableDir = (dir: string): string | undefined => {
  try {
    if (existsSync(dir) && !statSync(dir).isDirectory()) return "it is a file, not a directory"
    mkdirSync(dir, { recursive: true })
    accessSync(dir, constants.W_OK | constants.X_OK)
    return undefined
  } catch (cause) {
    return cause instanceof Error ? cause.message : String(cause)
  }
}

/**
 * The problems of a DuckDB file (null: not a local DuckDB warehouse, or in memory) and a lake
 * directory (null: not a local lake). Creates missing directories, as opening them would.
 */
export const localStoreProblems = (stores: {
  readonly duckdbFile: string | null
  readonly lakeDir: string | null
}): ReadonlyArray<LocalStoreProblem> => {
  const problems: Array<LocalStoreProblem> = []
  if (stores.duckdbFile !== null && stores.duckdbFile !== ":memory:") {
    const file = resolve(stores.duckdbFile)
    const why = unwritableDir(dirname(file))
    if (why !== undefined)
      problems.push({
        store: "warehouse",
        message: `cannot create the DuckDB file in ${dirname(file)} (${why})`,
        fix: "point it at a directory this user can write, e.g. duckdb:data/kura.duckdb, or fix its permissions"
      })
    else if (existsSync(file))
      try {
        accessSync(file, constants.R_OK | constants.W_OK)
      } catch {
        problems.push({
          store: "warehouse",
          message: `${file} exists but this user cannot read and write it`,
          fix: "fix its owner or permissions (DuckDB opens it read-write), or point at another file"
        })
      }
  }
  if (stores.lakeDir !== null) {
    const dir = resolve(stores.lakeDir)
    const why = unwritableDir(dir)
    if (why !== undefined)
      problems.push({
        store: "lake",
        message: `cannot write the raw lake directory ${dir} (${why})`,
        fix: "point it at a directory this user can write, e.g. file:data/lake, or fix its permissions"
      })
  }
  return problems
}
