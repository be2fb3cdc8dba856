/**
 * Durable records of long-running export jobs (Shopify bulk operations). A job is written here
 * *before* it is polled, so that after a crash the next run can resume or cancel it instead of
 * starting a duplicate or losing its results.
 */
import { Context, Effect, Layer, Option } from "effect"
import type { StreamKey } from "./CheckpointStore.js"
import { streamKeyToString } from "./CheckpointStore.js"
import type { StoreError } from "./StoreError.js"

/** Lifecycle of a job as Kura tracks it (the remote status is kept verbatim in `remoteStatus`). */
export type BulkJobState = "started" | "completed" | "loaded" | "failed" | "canceled"

/** One bulk job and the window it covers. */
export interface BulkJobRecord {
  /** Remote job id, e.g. gid://shopify/BulkOperation/123. */
  readonly jobId: string
  readonly key: StreamKey
  /** Inclusive start / exclusive end of the window (ISO-8601 UTC). */
  readonly windowStart: string
  readonly windowEnd: string
  readonly state: BulkJobState
  readonly remoteStatus: string | null
  /** API-reported count (e.g. objectCount), kept for reconciliation. */
  readonly objectCount: string | null
  readonly createdAt: number
  readonly updatedAt: number
}

/** The bulk-job port. */
export class BulkJobStore extends Context.Service<
  BulkJobStore,
  {
    readonly put: (record: BulkJobRecord) => Effect.Effect<void, StoreError>
    readonly get: (jobId: string) => Effect.Effect<Option.Option<BulkJobRecord>, StoreError>
    /** Jobs not yet `loaded`, `failed` or `canceled`: the ones a new run must resume or cancel. */
    readonly listOpen: (key?: StreamKey) => Effect.Effect<ReadonlyArray<BulkJobRecord>, StoreError>
    readonly list: (key?: StreamKey) => Effect.Effect<ReadonlyArray<BulkJobRecord>, StoreError>
  }
>()("@kura/core/BulkJobStore") {
  /** An in-memory store for tests. */
  static readonly layerMemory = Layer.sync(BulkJobStore, () => {
    const jobs = new Map<string, BulkJobRecord>()
    const matches = (record: BulkJobRecord, key?: StreamKey) =>
      key === undefined || streamKeyToString(record.key) === streamKeyToString(key)
    return BulkJobStore.of({
      put: (record) => Effect.sync(() => void jobs.set(record.jobId, record)),
      get: (jobId) => Effect.sync(() => Option.fromNullishOr(jobs.get(jobId))),
      listOpen: (key) =>
        Effect.sync(() =>
          [...jobs.values()].filter(
            (r) => matches(r, key) && (r.state === "started" || r.state === "completed")
          )
        ),
      list: (key) => Effect.sync(() => [...jobs.values()].filter((r) => matches(r, key)))
    })
  })

  /** Alias of `layerMemory`, following the house `layerTest` naming. */
  static readonly layerTest = BulkJobStore.layerMemory
}
