/**
 * The BigQuery adapter of the Warehouse port: load jobs into staging tables, then one MERGE into
 * date-partitioned, clustered tables. No streaming inserts.
 */
import type { BigQuery } from "@google-cloud/bigquery"
import type { Storage } from "@google-cloud/storage"
import { Effect, Layer } from "effect"
import type { AuthClient } from "google-auth-library"
import { makeBigQueryEngine } from "./internal/bigqueryEngine.js"
import { loadBigQuery, loadStorage } from "./internal/googleClients.js"
import { makeWarehouse } from "./internal/makeWarehouse.js"
import { Warehouse } from "./Warehouse.js"
import type { WarehouseError } from "./WarehouseError.js"

/** Options of the BigQuery warehouse. */
export interface BigQueryWarehouseOptions {
  readonly projectId: string
  readonly dataset: string
  /** Dataset location, e.g. "US", "EU", "asia-northeast1". */
  readonly location?: string
  /** Bucket (and folder) for load-job staging files; usually the lake's bucket. */
  readonly stagingBucket: string
  readonly stagingPrefix?: string
  /** Pre-built clients (custom endpoints, credentials); otherwise built from the options below. */
  readonly bigquery?: BigQuery
  readonly storage?: Storage
  /** Auth client for both clients; defaults to Application Default Credentials. */
  readonly authClient?: AuthClient
  /** Custom API endpoints (tests, private service connect). */
  readonly bigqueryEndpoint?: string
  readonly storageEndpoint?: string
  /** Create tables and views when the layer starts (default true). */
  readonly migrate?: boolean
}

/** A Warehouse backed by BigQuery. */
export const layer = (options: BigQueryWarehouseOptions): Layer.Layer<Warehouse, WarehouseError> =>
  Layer.effect(
    Warehouse,
    Effect.gen(function* () {
      const bigquery =
        options.bigquery ??
        new (yield* Effect.promise(loadBigQuery)).BigQuery({
          projectId: options.projectId,
          ...(options.location ? { location: options.location } : {}),
          ...(options.authClient ? { authClient: options.authClient } : {}),
          ...(options.bigqueryEndpoint ? { apiEndpoint: options.bigqueryEndpoint } : {})
        })
      const storage =
        options.storage ??
        new (yield* Effect.promise(loadStorage)).Storage({
          projectId: options.projectId,
          ...(options.authClient ? { authClient: options.authClient } : {}),
          ...(options.storageEndpoint ? { apiEndpoint: options.storageEndpoint } : {})
        })
      const engine = makeBigQueryEngine({
        bigquery,
        projectId: options.projectId,
        dataset: options.dataset,
        ...(options.location ? { location: options.location } : {}),
        staging: {
          storage,
          bucket: options.stagingBucket,
          ...(options.stagingPrefix ? { prefix: options.stagingPrefix } : {})
        }
      })
      const warehouse = makeWarehouse(engine)
      if (options.migrate !== false) yield* warehouse.migrate
      return Warehouse.of(warehouse)
    })
  )
