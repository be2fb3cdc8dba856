/**
 * Where a Stocky archive lives: a local directory, or a `gs://bucket/prefix` URL read through the
 * warehouse's GCS object store (the stocky-client ships only the directory reader).
 */
import { Archive, type ArchiveReader, directoryReader, StockyError } from "@kura/stocky-client"
import { GcsObjectStore, type ObjectStore, type ObjectStoreError } from "@kura/warehouse"
import { Effect, Stream } from "effect"

const toStocky = (e: ObjectStoreError) =>
  new StockyError({ reason: new Archive({ file: e.path, detail: `${e.operation}: ${e.message}` }) })

/** An archive reader over any object store (paths relative to the store's root). */
export const objectStoreReader = (store: ObjectStore["Service"]): ArchiveReader => ({
  location: store.root,
  list: (prefix) =>
    store.list(prefix.replace(/\/+$/, "")).pipe(
      Effect.map((objects) => objects.map((o) => o.path)),
      Effect.mapError(toStocky)
    ),
  read: (path) =>
    store.get(path).pipe(
      Stream.runCollect,
      Effect.map((chunks): Uint8Array | null => Buffer.concat([...chunks])),
      Effect.catchTag("ObjectStoreError", (e) =>
        e.reason === "NotFound" ? Effect.succeed(null) : Effect.fail(toStocky(e))
      )
    ),
  stream: (path) => store.get(path).pipe(Stream.mapError(toStocky))
})

/** Parses `gs://bucket/prefix` into its parts, or undefined. */
export const parseGsUrl = (url: string): { readonly bucket: string; readonly prefix: string } | undefined => {
  const m = /^gs:\/\/([a-z0-9][a-z0-9._-]{1,221})(?:\/(.*))?$/.exec(url.trim())
  if (m === null || m[1] === undefined) return undefined
  return { bucket: m[1], prefix: (m[2] ?? "").replace(/^\/+|\/+$/g, "") }
}

/** The reader of an archive at a directory path or a gs:// URL. */
export const archiveReaderOf = (location: string): ArchiveReader => {
  const gs = parseGsUrl(location)
  if (gs === undefined) return directoryReader(location)
  return objectStoreReader(GcsObjectStore.make({ bucket: gs.bucket, prefix: gs.prefix }))
}
