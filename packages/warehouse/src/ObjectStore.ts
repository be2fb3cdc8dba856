/**
 * The ObjectStore port: where the raw lake's files live. Bodies stream in and out so a
 * million-line bulk file never sits in memory.
 */
import { Context, type Effect, Schema, type Stream } from "effect"

/** An object store operation failed. */
export class ObjectStoreError extends Schema.TaggedError<ObjectStoreError>()("ObjectStoreError", {
  reason: Schema.Literals(["NotFound", "Io", "Integrity", "InvalidPath"]),
  operation: Schema.String,
  path: Schema.String,
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

/** One stored object. */
export interface ObjectInfo {
  /** Path relative to the store's root, with "/" separators. */
  readonly path: string
  readonly size: number
  /**
   * When the object was last written (epoch ms), if the store says: what a re-application of the
   * redaction ledger keys on to find files written since it last ran, whatever their day.
   */
  readonly updatedAt?: number
}

/** What a purge deleted. */
export interface PurgeResult {
  /** The objects (paths) of which at least one generation was deleted, sorted. */
  readonly paths: ReadonlyArray<string>
  /** Generations deleted, live and noncurrent. */
  readonly generations: number
}

/** The object store service. Paths are relative, "/"-separated, without "..". */
export class ObjectStore extends Context.Service<
  ObjectStore,
  {
    /** Where the store points, e.g. "file:/data/lake" or "gs://bucket/prefix". */
    readonly root: string
    /** The absolute URI of a path (gs:// URIs are what BigQuery load jobs read). */
    readonly uri: (path: string) => string
    /** Streams a body into `path`; the object appears only once fully written. */
    readonly put: <E>(
      path: string,
      body: Stream.Stream<Uint8Array, E>,
      options?: { readonly contentType?: string }
    ) => Effect.Effect<ObjectInfo, ObjectStoreError | E>
    /** Streams an object's bytes. */
    readonly get: (path: string) => Stream.Stream<Uint8Array, ObjectStoreError>
    /** Lists objects under a prefix, sorted by path. */
    readonly list: (prefix: string) => Effect.Effect<ReadonlyArray<ObjectInfo>, ObjectStoreError>
    readonly delete: (path: string) => Effect.Effect<void, ObjectStoreError>
    /**
     * Erasure: deletes every stored generation of the object at `path`, or of every object under
     * `prefix`, including the noncurrent ones a bucket with object versioning keeps when an object
     * is replaced or deleted (they would still hold the erased bytes). `keepLive` spares the
     * current generations (a redaction that just rewrote a file keeps the new one). Resolves to
     * how many generations were deleted. Absent on a store that keeps no versions: `delete` is then
     * the whole erasure.
     */
    readonly purge?: (
      target: { readonly path: string } | { readonly prefix: string },
      options?: { readonly keepLive?: boolean }
    ) => Effect.Effect<PurgeResult, ObjectStoreError>
  }
>()("@kura/warehouse/ObjectStore") {}

/** Rejects absolute paths and ".." so a store can never write outside its root. */
export const checkPath = (path: string): string | undefined => {
  if (path.length === 0) return "path is empty"
  if (path.startsWith("/")) return "path must be relative"
  if (path.split("/").some((s) => s === ".." || s === "."))
    return "path must not contain '.' or '..' segments"
  return undefined
}
