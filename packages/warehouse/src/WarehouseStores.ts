/**
 * The core persistence ports (CheckpointStore, BulkJobStore, DeadLetterSink) backed by the
 * warehouse's `_kura_sync_state` and `_kura_dead_letters` tables.
 */
import { BulkJobStore, CheckpointStore, DeadLetterSink } from "@kura/core"
import { Effect, Layer } from "effect"
import { Warehouse } from "./Warehouse.js"

/** Provides the three core ports from the Warehouse in context. */
export const layer: Layer.Layer<CheckpointStore | BulkJobStore | DeadLetterSink, never, Warehouse> =
  Layer.mergeAll(
    Layer.effect(
      CheckpointStore,
      Effect.map(Effect.service(Warehouse), (w) => w.checkpoints)
    ),
    Layer.effect(
      BulkJobStore,
      Effect.map(Effect.service(Warehouse), (w) => w.bulkJobs)
    ),
    Layer.effect(
      DeadLetterSink,
      Effect.map(Effect.service(Warehouse), (w) => w.deadLetters)
    )
  )
