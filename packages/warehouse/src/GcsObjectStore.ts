/**
 * ObjectStore on Google Cloud Storage. Uploads stream through resumable (or multipart) uploads
 * with CRC32C validation, so a torn upload never appears as an object.
 */
import { pipeline } from "node:stream/promises"
import type { Bucket, Storage } from "@google-cloud/storage"
import { Effect, Layer, Stream } from "effect"
import { loadStorage } from "./internal/googleClients.js"
import { streamToNodeReadable } from "./internal/nodeStreams.js"
import { checkPath, type ObjectInfo, ObjectStore, ObjectStoreError, type PurgeResult } from "./ObjectStore.js"

/** Options of the GCS store. */
export interface GcsObjectStoreOptions {
  readonly bucket: string
  /** Folder inside the bucket ("" for the root), without leading or trailing "/". */
  readonly prefix?: string
  /** A configured client (credentials, endpoint); defaults to `new Storage()` (ADC). */
  readonly storage?: Storage
  /** Resumable uploads survive transient faults on big files (default true). */
  readonly resumable?: boolean
}

const gcsError = (operation: string, path: string) => (cause: unknown) =>
  new ObjectStoreError({
    reason:
      typeof cause === "object" && cause !== null && "code" in cause && cause.code === 404
        ? "NotFound"
        : cause instanceof Error && /did not match|checksum|crc32c|md5/i.test(cause.message)
          ? "Integrity"
          : "Io",
    operation,
    path,
    message: cause instanceof Error ? cause.message : String(cause),
    cause
  })

/** A client on Application Default Credentials, its library loaded on first use. */
const defaultStorage = async (): Promise<Storage> => new (await loadStorage()).Storage()

/** Builds a GCS store. */
export const make = (options: GcsObjectStoreOptions): ObjectStore["Service"] => {
  let bucketOnce: Promise<Bucket> | undefined
  const bucket = (): Promise<Bucket> => {
    bucketOnce ??= (options.storage === undefined ? defaultStorage() : Promise.resolve(options.storage)).then(
      (storage) => storage.bucket(options.bucket)
    )
    return bucketOnce
  }
  const prefix = (options.prefix ?? "").replace(/^\/+|\/+$/g, "")
  const full = (path: string) => (prefix ? `${prefix}/${path}` : path)
  const checked = (operation: string, path: string) =>
    Effect.suspend(() => {
      const bad = checkPath(path)
      return bad
        ? Effect.fail(new ObjectStoreError({ reason: "InvalidPath", operation, path, message: bad }))
        : Effect.succeed(full(path))
    })

  return ObjectStore.of({
    root: `gs://${options.bucket}${prefix ? `/${prefix}` : ""}`,
    uri: (path) => `gs://${options.bucket}/${full(path)}`,
    put: <E>(path: string, body: Stream.Stream<Uint8Array, E>, opts?: { readonly contentType?: string }) =>
      Effect.gen(function* () {
        const name = yield* checked("put", path)
        const readable = yield* streamToNodeReadable(body)
        const file = (yield* Effect.tryPromise({ try: bucket, catch: gcsError("put", path) })).file(name)
        yield* Effect.tryPromise({
          try: () =>
            pipeline(
              readable.stream,
              file.createWriteStream({
                resumable: options.resumable ?? true,
                validation: "crc32c",
                contentType: opts?.contentType ?? "application/octet-stream",
                metadata: { cacheControl: "no-store" }
              })
            ),
          catch: (cause) => cause
        }).pipe(
          Effect.catch((cause): Effect.Effect<never, E | ObjectStoreError> => {
            const f = readable.failure()
            return f.failed ? Effect.fail(f.error) : Effect.fail(gcsError("put", path)(cause))
          })
        )
        const [meta] = yield* Effect.tryPromise({
          try: () => file.getMetadata(),
          catch: gcsError("stat", path)
        })
        return { path, size: Number(meta.size ?? 0) } satisfies ObjectInfo
      }),
    get: (path) =>
      Stream.unwrap(
        Effect.flatMap(checked("get", path), (name) =>
          Effect.map(Effect.tryPromise({ try: bucket, catch: gcsError("get", path) }), (b) =>
            Stream.fromAsyncIterable(
              b.file(name).createReadStream({ validation: "crc32c" }),
              gcsError("get", path)
            )
          )
        )
      ),
    list: (listPrefix) =>
      Effect.tryPromise({
        try: async () => {
          const [files] = await (await bucket()).getFiles({ prefix: full(listPrefix), autoPaginate: true })
          const strip = prefix ? `${prefix}/` : ""
          return files
            .map((f) => {
              const updated = Date.parse(String(f.metadata.updated ?? ""))
              return {
                path: f.name.slice(strip.length),
                size: Number(f.metadata.size ?? 0),
                ...(Number.isNaN(updated) ? {} : { updatedAt: updated })
              }
            })
            .sort((a, b) => (a.path < b.path ? -1 : 1))
        },
        catch: gcsError("list", listPrefix)
      }),
    delete: (path) =>
      Effect.flatMap(checked("delete", path), (name) =>
        Effect.tryPromise({
          try: async () => (await bucket()).file(name).delete({ ignoreNotFound: true }),
          catch: gcsError("delete", path)
        }).pipe(Effect.asVoid)
      ),
    // On a bucket with object versioning, `delete` (and `put` over an object) leaves the old bytes
    // as a noncurrent generation: an erasure lists every generation (`versions: true`; a
    // noncurrent one carries `timeDeleted`) and deletes each by its number, which is permanent.
    purge: (target, opts) =>
      Effect.gen(function* () {
        const isPath = "path" in target
        const given = isPath ? target.path : target.prefix
        const name = isPath ? yield* checked("purge", given) : full(given)
        const strip = prefix ? `${prefix}/` : ""
        const [files] = yield* Effect.tryPromise({
          try: async () => (await bucket()).getFiles({ prefix: name, versions: true, autoPaginate: true }),
          catch: gcsError("purge", given)
        })
        const doomed = files.filter(
          (f) =>
            (!isPath || f.name === name) && (opts?.keepLive !== true || f.metadata.timeDeleted !== undefined)
        )
        // Listed with versions, each File is scoped to its generation: delete sends `generation`.
        yield* Effect.forEach(
          doomed,
          (f) =>
            Effect.tryPromise({
              try: () => f.delete({ ignoreNotFound: true }),
              catch: gcsError("purge", f.name.slice(strip.length))
            }),
          { concurrency: 8, discard: true }
        )
        return {
          paths: [...new Set(doomed.map((f) => f.name.slice(strip.length)))].sort(),
          generations: doomed.length
        } satisfies PurgeResult
      })
  })
}

/** A GCS ObjectStore layer. */
export const layer = (options: GcsObjectStoreOptions): Layer.Layer<ObjectStore> =>
  Layer.sync(ObjectStore, () => make(options))
