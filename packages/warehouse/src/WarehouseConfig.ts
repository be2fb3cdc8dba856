/**
 * Selecting the warehouse and the lake from `KURA_WAREHOUSE` and `KURA_LAKE`, read through Effect
 * Config (the library never touches process.env). Bad values fail with a message naming the
 * variable, what was wrong and an example of a valid value.
 */
import { Config, Effect, Layer, Option } from "effect"
import * as BigQueryWarehouse from "./BigQueryWarehouse.js"
import * as DuckDbWarehouse from "./DuckDbWarehouse.js"
import * as GcsObjectStore from "./GcsObjectStore.js"
import * as LocalObjectStore from "./LocalObjectStore.js"
import type { ObjectStore } from "./ObjectStore.js"
import { RawLake } from "./RawLake.js"
import type { Warehouse } from "./Warehouse.js"
import { WarehouseError } from "./WarehouseError.js"

/** Where the warehouse lives. */
export type WarehouseTarget =
  | { readonly kind: "duckdb"; readonly path: string }
  | { readonly kind: "bigquery"; readonly projectId: string; readonly dataset: string }

/** Where the raw lake lives. */
export type LakeTarget =
  | { readonly kind: "file"; readonly dir: string }
  | { readonly kind: "gcs"; readonly bucket: string; readonly prefix: string }

/** Default `KURA_WAREHOUSE`. */
export const DEFAULT_WAREHOUSE = "duckdb:data/kura.duckdb"
/** Default `KURA_LAKE`. */
export const DEFAULT_LAKE = "file:data/lake"

const configError = (message: string) =>
  new WarehouseError({ reason: "Config", operation: "config", message })

/** Parses `KURA_WAREHOUSE`: `duckdb:<path>` (or `duckdb::memory:`) or `bigquery:<project>.<dataset>`. */
export const parseWarehouse = (value: string): Effect.Effect<WarehouseTarget, WarehouseError> => {
  const v = value.trim()
  if (v.startsWith("duckdb:")) {
    const path = v.slice("duckdb:".length)
    if (path.length === 0) {
      return Effect.fail(
        configError(`KURA_WAREHOUSE="${value}" has no file path; use e.g. ${DEFAULT_WAREHOUSE}`)
      )
    }
    return Effect.succeed({ kind: "duckdb", path })
  }
  if (v.startsWith("bigquery:")) {
    const m = /^bigquery:([a-z][a-z0-9-]{4,28}[a-z0-9])\.([A-Za-z_][A-Za-z0-9_]{0,1023})$/.exec(v)
    if (!m) {
      return Effect.fail(
        configError(
          `KURA_WAREHOUSE="${value}" is not bigquery:<project>.<dataset>; the project id is 6-30 lowercase letters, digits or hyphens and the dataset uses letters, digits and underscores, e.g. bigquery:my-project.kura`
        )
      )
    }
    return Effect.succeed({ kind: "bigquery", projectId: m[1]!, dataset: m[2]! })
  }
  return Effect.fail(
    configError(
      `KURA_WAREHOUSE="${value}" must start with "duckdb:" or "bigquery:", e.g. ${DEFAULT_WAREHOUSE} or bigquery:my-project.kura`
    )
  )
}

/** Parses `KURA_LAKE`: `file:<dir>` or `gs://<bucket>[/<prefix>]`. */
export const parseLake = (value: string): Effect.Effect<LakeTarget, WarehouseError> => {
  const v = value.trim()
  if (v.startsWith("file:")) {
    const dir = v.slice("file:".length)
    if (dir.length === 0)
      return Effect.fail(configError(`KURA_LAKE="${value}" has no directory; use e.g. ${DEFAULT_LAKE}`))
    return Effect.succeed({ kind: "file", dir })
  }
  if (v.startsWith("gs://")) {
    const m = /^gs:\/\/([a-z0-9][a-z0-9._-]{1,220}[a-z0-9])(?:\/(.*))?$/.exec(v)
    if (!m) {
      return Effect.fail(
        configError(
          `KURA_LAKE="${value}" has an invalid bucket name; use gs://<bucket>/<prefix>, e.g. gs://acme-kura/lake`
        )
      )
    }
    return Effect.succeed({ kind: "gcs", bucket: m[1]!, prefix: (m[2] ?? "").replace(/\/+$/, "") })
  }
  return Effect.fail(
    configError(
      `KURA_LAKE="${value}" must start with "file:" or "gs://", e.g. ${DEFAULT_LAKE} or gs://acme-kura/lake`
    )
  )
}

/** The parsed selection plus optional settings. */
export interface WarehouseSettings {
  readonly warehouse: WarehouseTarget
  readonly lake: LakeTarget
  /** `KURA_BIGQUERY_LOCATION`, e.g. "US" or "asia-northeast1". */
  readonly bigQueryLocation: Option.Option<string>
  /**
   * `KURA_LAKE_RETENTION_DAYS`: lake partitions older than this are deleted (`layerFromSettings`
   * runs `RawLake.layerRetention`: at start, then daily).
   */
  readonly lakeRetentionDays: Option.Option<number>
  /**
   * Connections to a DuckDB warehouse (`DuckDbWarehouse` option `connections`, 1–8), as the app
   * read it (`KURA_DUCKDB_CONNECTIONS`); absent: the adapter's default. Ignored by BigQuery.
   */
  readonly duckDbConnections?: number
}

/** Reads and validates the settings from Effect Config. */
export const settings: Effect.Effect<WarehouseSettings, WarehouseError | Config.ConfigError> = Effect.gen(
  function* () {
    const warehouse = yield* parseWarehouse(
      yield* Config.String("KURA_WAREHOUSE").pipe(Config.withDefault(DEFAULT_WAREHOUSE))
    )
    const lake = yield* parseLake(yield* Config.String("KURA_LAKE").pipe(Config.withDefault(DEFAULT_LAKE)))
    const bigQueryLocation = yield* Config.option(Config.String("KURA_BIGQUERY_LOCATION"))
    const lakeRetentionDays = yield* Config.option(Config.Int("KURA_LAKE_RETENTION_DAYS"))
    if (Option.isSome(lakeRetentionDays) && lakeRetentionDays.value < 1) {
      return yield* configError(
        `KURA_LAKE_RETENTION_DAYS=${lakeRetentionDays.value} must be at least 1 (days)`
      )
    }
    if (warehouse.kind === "bigquery" && lake.kind !== "gcs") {
      return yield* configError(
        "KURA_WAREHOUSE=bigquery:… loads through Cloud Storage: set KURA_LAKE=gs://<bucket>/<prefix> (load jobs read their staging files from there)"
      )
    }
    return { warehouse, lake, bigQueryLocation, lakeRetentionDays }
  }
)

/**
 * Builds the Warehouse, ObjectStore and RawLake for explicit settings. `retention: false` leaves
 * the lake's retention (`lakeRetentionDays`) to the commands that own the lake: a read-only
 * command (a status or a tie-out) must not delete partitions as a side effect of opening it.
 */
export const layerFromSettings = (
  s: WarehouseSettings,
  options: { readonly retention?: boolean } = {}
): Layer.Layer<Warehouse | ObjectStore | RawLake, WarehouseError> => {
  const store =
    s.lake.kind === "file"
      ? LocalObjectStore.layer(s.lake.dir)
      : GcsObjectStore.layer({ bucket: s.lake.bucket, prefix: s.lake.prefix })
  const warehouse =
    s.warehouse.kind === "duckdb"
      ? DuckDbWarehouse.layer({
          path: s.warehouse.path,
          ...(s.duckDbConnections === undefined ? {} : { connections: s.duckDbConnections })
        })
      : BigQueryWarehouse.layer({
          projectId: s.warehouse.projectId,
          dataset: s.warehouse.dataset,
          stagingBucket: s.lake.kind === "gcs" ? s.lake.bucket : "",
          ...(s.lake.kind === "gcs" && s.lake.prefix ? { stagingPrefix: s.lake.prefix } : {}),
          ...(Option.isSome(s.bigQueryLocation) ? { location: s.bigQueryLocation.value } : {})
        })
  const lake = RawLake.layer.pipe(Layer.provideMerge(store))
  return Layer.mergeAll(
    warehouse,
    Option.isSome(s.lakeRetentionDays) && options.retention !== false
      ? // The setting takes effect wherever the lake is built from settings (kura-sync run/serve).
        RawLake.layerRetention(s.lakeRetentionDays.value).pipe(Layer.provideMerge(lake))
      : lake
  )
}

/** Reads `KURA_WAREHOUSE` / `KURA_LAKE` (and friends) and provides Warehouse, ObjectStore and RawLake. */
export const layerConfig: Layer.Layer<
  Warehouse | ObjectStore | RawLake,
  WarehouseError | Config.ConfigError
> = Layer.unwrap(Effect.map(settings, layerFromSettings))
