/**
 * The Google Cloud client libraries, loaded when a GCS store or a BigQuery warehouse first needs a
 * client: importing them with the package (and gaxios, the auth and XML libraries they pull in)
 * cost every `kura-sync` and `kura-backfill` start ~0.17 s, on DuckDB and a local lake too, where
 * they are never used. Node keeps each module once loaded.
 */

/** `@google-cloud/storage`, on first use. */
export const loadStorage = () => import("@google-cloud/storage")

/** `@google-cloud/bigquery`, on first use. */
export const loadBigQuery = () => import("@google-cloud/bigquery")
