/**
 * Where batches of accepted webhook deliveries land. The warehouse adapter
 * (`WarehouseWebhookSink`) writes one lake object, one raw-table load and one canonical upsert per
 * table per batch; the in-memory one is for tests. Landing must be idempotent for a given
 * `batchId`: a batch whose landing failed half-way is landed again with the same id.
 */
import { Context, Effect, Layer } from "effect"
import { type WebhookDelivery, WebhookSinkError } from "../WebhookSink.js"

/** One batch: the records of one write-ahead segment. */
export interface WebhookBatch {
  /** Stable across retries and restarts (the segment id). */
  readonly batchId: string
  readonly deliveries: ReadonlyArray<WebhookDelivery>
}

/** What landing a batch did. */
export interface LandedBatch {
  readonly raw: number
  /** Canonical rows upserted, per table. */
  readonly rows: Readonly<Record<string, number>>
  readonly deleted: number
  readonly deadLettered: number
}

/** An accepted event remembered for de-duplication. */
export interface SeenEvent {
  readonly key: string
  readonly at: number
}

/** The batch sink port. */
export class WebhookBatchSink extends Context.Service<
  WebhookBatchSink,
  {
    readonly landBatch: (batch: WebhookBatch) => Effect.Effect<LandedBatch, WebhookSinkError>
    /** Events landed since `sinceMs` (newest first, at most `limit`): de-duplication across restarts. */
    readonly recentEvents: (
      sinceMs: number,
      limit: number
    ) => Effect.Effect<ReadonlyArray<SeenEvent>, WebhookSinkError>
  }
>()("@kura/sync-runner/WebhookBatchSink") {
  /** Keeps batches in an array that tests can inspect; `fail` makes landings fail while it returns true. */
  static readonly makeMemory = (options: { readonly fail?: () => boolean } = {}) => {
    const batches: Array<WebhookBatch> = []
    return {
      batches,
      sink: WebhookBatchSink.of({
        landBatch: (batch) =>
          Effect.suspend(() => {
            if (options.fail?.() === true)
              return Effect.fail(new WebhookSinkError({ reason: "Warehouse", message: "injected failure" }))
            const i = batches.findIndex((b) => b.batchId === batch.batchId)
            if (i >= 0) batches[i] = batch
            else batches.push(batch)
            return Effect.succeed({ raw: batch.deliveries.length, rows: {}, deleted: 0, deadLettered: 0 })
          }),
        recentEvents: () => Effect.succeed([])
      })
    }
  }

  /** An in-memory layer. */
  static readonly layerMemory = Layer.sync(WebhookBatchSink, () => WebhookBatchSink.makeMemory().sink)
}
