/**
 * `kura-sync check` of the stores: the warehouse (opened read-only; its pending migrations are
 * reported, never applied) and the raw lake (list, then write, read back and delete one probe
 * object under `_kura_check/`).
 */
import { accessSync, constants, existsSync, statSync } from "node:fs"
import { hostname } from "node:os"
import { dirname, resolve } from "node:path"
import {
  bigQueryMigrationStatus,
  duckDbMigrationStatus,
  GcsObjectStore,
  LocalObjectStore,
  type MigrationStatus
} from "@kura/warehouse"
import { Effect, Option, Stream } from "effect"
import type { AppConfig } from "./AppConfig.js"
import { bounded, type CheckOptions, type CheckRow, checkRow, messageOf } from "./Check.js"

/** What the warehouse check learnt that other checks need (Lightspeed's token store lives there). */
export type WarehouseFinding =
  | { readonly kind: "duckdb"; readonly path: string; readonly tokensTable: boolean }
  | { readonly kind: "bigquery"; readonly tokensTable: boolean }

/** The nearest existing directory at or above `dir`, and whether this user may create files in it. */
const writableDir = (dir: string): { readonly at: string; readonly why?: string } => {
  let at = resolve(dir)
  while (!existsSync(at) && dirname(at) !== at) at = dirname(at)
  try {
    if (!statSync(at).isDirectory()) return { at, why: `${at} is a file, not a directory` }
    accessSync(at, constants.W_OK | constants.X_OK)
    return { at }
  } catch (e) {
    return { at, why: messageOf(e) }
  }
}

/** One line naming what the next open would migrate. */
const describePending = (s: MigrationStatus): string => {
  const parts: Array<string> = []
  const list = (xs: ReadonlyArray<string>) =>
    xs.length > 6 ? `${xs.slice(0, 6).join(", ")}, …` : xs.join(", ")
  if (s.missingTables.length > 0)
    parts.push(`${s.missingTables.length} table(s) to create (${list(s.missingTables)})`)
  if (s.missingColumns.length > 0)
    parts.push(
      `${s.missingColumns.length} column(s) to add (${list(s.missingColumns.map((c) => `${c.table}.${c.column}`))})`
    )
  if (s.pendingDataMigrations.length > 0)
    parts.push(`data migration(s) to run: ${s.pendingDataMigrations.join(", ")}`)
  if (s.staleViews.length > 0)
    parts.push(`${s.staleViews.length} view(s) to re-create (${list(s.staleViews)})`)
  return parts.join("; ")
}

const schemaRow = (name: string, s: MigrationStatus, backup: string): CheckRow =>
  s.pending
    ? checkRow(
        name,
        "warn",
        `migrations pending, not applied by check: ${describePending(s)}`,
        `the next kura-sync run or serve applies them when it opens the warehouse; ${backup}`
      )
    : checkRow(name, "ok", "schema up to date with this version (nothing to migrate)")

const duckDbRows = (path: string) =>
  Effect.gen(function* () {
    const file = resolve(path)
    const finding = (tokensTable: boolean): WarehouseFinding => ({ kind: "duckdb", path, tokensTable })
    if (!existsSync(file)) {
      const dir = writableDir(dirname(file))
      return {
        rows: [
          dir.why === undefined
            ? checkRow(
                "warehouse",
                "ok",
                `duckdb:${file} does not exist yet; the first run creates it (${dir.at} is writable)`
              )
            : checkRow(
                "warehouse",
                "FAIL",
                `cannot create duckdb:${file} (${dir.why})`,
                "point KURA_WAREHOUSE at a directory this user can write, e.g. duckdb:data/kura.duckdb"
              ),
          checkRow("warehouse schema", "ok", "created by the first run")
        ],
        finding: finding(false)
      }
    }
    const rows: Array<CheckRow> = []
    try {
      accessSync(file, constants.R_OK | constants.W_OK)
      accessSync(dirname(file), constants.W_OK)
      rows.push(
        checkRow("warehouse", "ok", `duckdb:${file} exists and this user can write it and its directory`)
      )
    } catch (e) {
      rows.push(
        checkRow(
          "warehouse",
          "FAIL",
          `duckdb:${file} is not writable (${messageOf(e)})`,
          "fix its owner or permissions (DuckDB writes the file and a .wal beside it), or point KURA_WAREHOUSE at another file"
        )
      )
    }
    const status = yield* Effect.result(duckDbMigrationStatus(file))
    if (status._tag === "Failure") {
      const held = /lock|conflicting/i.test(status.failure.message)
      rows.push(
        checkRow(
          "warehouse schema",
          held ? "warn" : "FAIL",
          held
            ? `not read: another process holds the DuckDB file (DuckDB allows one writer): ${status.failure.message}`
            : status.failure.message,
          held
            ? "run check while kura-sync is stopped, or against a copy of the file"
            : "check that KURA_WAREHOUSE names a DuckDB database file"
        )
      )
      return { rows, finding: finding(false) }
    }
    rows.push(schemaRow("warehouse schema", status.success, `copy ${file} first to keep a way back`))
    return { rows, finding: finding(!status.success.missingTables.includes("_kura_tokens")) }
  })

const bigQueryRows = (config: AppConfig, target: { readonly projectId: string; readonly dataset: string }) =>
  Effect.gen(function* () {
    const wanted = Option.getOrUndefined(config.warehouseSettings.bigQueryLocation)
    const name = `bigquery:${target.projectId}.${target.dataset}`
    const status = yield* Effect.result(
      bigQueryMigrationStatus({
        projectId: target.projectId,
        dataset: target.dataset,
        ...(wanted === undefined ? {} : { location: wanted })
      })
    )
    if (status._tag === "Failure")
      return {
        rows: [
          checkRow(
            "warehouse",
            "FAIL",
            `cannot read ${name}: ${status.failure.message}`,
            "check the project and dataset names, Application Default Credentials (gcloud auth application-default login, or the Cloud Run service account) and roles/bigquery.dataEditor + roles/bigquery.jobUser"
          )
        ],
        finding: { kind: "bigquery", tokensTable: false } as const
      }
    const s = status.success
    if (!s.exists)
      return {
        rows: [
          checkRow(
            "warehouse",
            "FAIL",
            `${name}: the dataset does not exist (Kura creates tables, not the dataset)`,
            `create it: bq mk --dataset --location=${wanted ?? "EU"} ${target.projectId}:${target.dataset}`
          )
        ],
        finding: { kind: "bigquery", tokensTable: false } as const
      }
    const rows: Array<CheckRow> = []
    const where = `location ${s.location ?? "unknown"}`
    if (wanted !== undefined && s.location !== null && s.location.toLowerCase() !== wanted.toLowerCase())
      rows.push(
        checkRow(
          "warehouse",
          "FAIL",
          `${name} exists in ${s.location}, but KURA_BIGQUERY_LOCATION is ${wanted}`,
          `set KURA_BIGQUERY_LOCATION=${s.location}, or unset it`
        )
      )
    else
      rows.push(
        checkRow(
          "warehouse",
          s.writeDryRun === null || s.writeDryRun === "ok" ? "ok" : "FAIL",
          `${name} exists (${where}); ${
            s.writeDryRun === null
              ? "write access not checked (no Kura table yet: the first run creates them)"
              : s.writeDryRun === "ok"
                ? "a dry-run write was accepted"
                : `a dry-run write was refused: ${s.writeDryRun}`
          }; load jobs and table creation are not checked`,
          s.writeDryRun === null || s.writeDryRun === "ok"
            ? ""
            : "grant the service account roles/bigquery.dataEditor on the dataset and roles/bigquery.jobUser on the project"
        )
      )
    rows.push(schemaRow("warehouse schema", s, "BigQuery time travel keeps 7 days of history"))
    return {
      rows,
      finding: { kind: "bigquery", tokensTable: !s.missingTables.includes("_kura_tokens") } as const
    }
  })

/** Checks the warehouse without writing to it. */
export const checkWarehouse = (
  config: AppConfig,
  options: CheckOptions
): Effect.Effect<{ readonly rows: ReadonlyArray<CheckRow>; readonly finding: WarehouseFinding }> => {
  const target = config.warehouseSettings.warehouse
  const fallback: WarehouseFinding =
    target.kind === "duckdb"
      ? { kind: "duckdb", path: target.path, tokensTable: false }
      : { kind: "bigquery", tokensTable: false }
  const work: Effect.Effect<{ rows: ReadonlyArray<CheckRow>; finding: WarehouseFinding }> = Effect.gen(
    function* () {
      let result: { rows: ReadonlyArray<CheckRow>; finding: WarehouseFinding } | undefined
      const rows = yield* bounded(
        "warehouse",
        options.timeoutMs,
        "check that the warehouse is reachable from here",
        Effect.map(target.kind === "duckdb" ? duckDbRows(target.path) : bigQueryRows(config, target), (r) => {
          result = r
          return r.rows
        })
      )
      return { rows, finding: result?.finding ?? fallback }
    }
  )
  return work
}

/** Lists the lake, then writes, reads back and deletes one probe object under `_kura_check/`. */
export const checkLake = (
  config: AppConfig,
  options: CheckOptions
): Effect.Effect<ReadonlyArray<CheckRow>> => {
  const lake = config.warehouseSettings.lake
  const store =
    lake.kind === "file"
      ? LocalObjectStore.make(lake.dir)
      : GcsObjectStore.make({ bucket: lake.bucket, prefix: lake.prefix })
  const fix =
    lake.kind === "file"
      ? "point KURA_LAKE at a directory this user can write (file:data/lake), or fix its permissions"
      : "grant the service account roles/storage.objectAdmin on the bucket (objects are created, listed and deleted), and check the bucket name"
  return bounded(
    "lake",
    options.timeoutMs,
    fix,
    Effect.gen(function* () {
      const probe = `_kura_check/${hostname().replace(/[^A-Za-z0-9._-]/g, "_")}-${process.pid}-${Date.now()}.txt`
      const body = `kura-sync check probe ${new Date().toISOString()}\n`
      const step = <A, E>(what: string, effect: Effect.Effect<A, E>) =>
        Effect.mapError(effect, (e) => new Error(`${store.root}: cannot ${what} (${messageOf(e)})`))
      yield* step("list", store.list("_kura_check/"))
      yield* step("write a probe object", store.put(probe, Stream.make(new TextEncoder().encode(body))))
      const back = yield* step("read the probe back", Stream.runCollect(store.get(probe)))
      const text = new TextDecoder().decode(Buffer.concat([...back]))
      yield* step("delete the probe", store.delete(probe))
      if (text !== body)
        return [
          checkRow("lake", "FAIL", `${store.root}: the probe read back differs from what was written`, fix)
        ]
      return [checkRow("lake", "ok", `${store.root}: listed, wrote, read back and deleted ${probe}`)]
    })
  )
}
