/**
 * The one error every persistence port (checkpoints, bulk jobs, tokens, dead letters) may fail
 * with, so that callers of any adapter (DuckDB, BigQuery, memory) handle failures the same way.
 */
import { Schema } from "effect"

/** A persistence port could not read or write its state. */
export class StoreError extends Schema.TaggedError<StoreError>()("StoreError", {
  /** Which port failed, e.g. "CheckpointStore". */
  store: Schema.String,
  /** What it was doing, e.g. "put shopify/orders". */
  operation: Schema.String,
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}
