/**
 * Errors of the warehouse adapters, with a `reason` callers can match on.
 */
import { Schema } from "effect"

/** Why a warehouse operation failed. */
export const WarehouseErrorReason = Schema.Literals([
  /** Could not open or reach the warehouse (file, network, credentials). */
  "Connection",
  /** A statement failed in the engine. */
  "Query",
  /** A batch could not be staged or loaded. */
  "Load",
  /** The caller passed something unusable (unknown table, bad name). */
  "InvalidInput",
  /** KURA_WAREHOUSE / KURA_LAKE could not be parsed. */
  "Config"
])

/** A warehouse operation failed. `operation` names what was being done. */
export class WarehouseError extends Schema.TaggedError<WarehouseError>()("WarehouseError", {
  reason: WarehouseErrorReason,
  operation: Schema.String,
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

/** Another runner holds the stream's lease, or ours expired (`reason: "lost"`). */
export class LeaseError extends Schema.TaggedError<LeaseError>()("LeaseError", {
  reason: Schema.Literals(["held", "lost"]),
  streamKey: Schema.String,
  holder: Schema.String,
  /** Epoch ms when the current holder's lease ends, when known. */
  expiresAt: Schema.NullOr(Schema.Number),
  message: Schema.String
}) {}
