/**
 * ObjectStore on the local filesystem (default root `data/lake`). Writes go to a temporary file
 * renamed into place, so readers never see half a batch.
 */
import { createReadStream, createWriteStream } from "node:fs"
import { mkdir, readdir, rename, rm, stat } from "node:fs/promises"
import { dirname, join, relative, resolve, sep } from "node:path"
import { pipeline } from "node:stream/promises"
import { Effect, Layer, Stream } from "effect"
import { streamToNodeReadable } from "./internal/nodeStreams.js"
import { checkPath, type ObjectInfo, ObjectStore, ObjectStoreError } from "./ObjectStore.js"

const ioError = (operation: string, path: string) => (cause: unknown) =>
  new ObjectStoreError({
    reason:
      typeof cause === "object" && cause !== null && "code" in cause && cause.code === "ENOENT"
        ? "NotFound"
        : "Io",
    operation,
    path,
    message: cause instanceof Error ? cause.message : String(cause),
    cause
  })

/** Builds a filesystem store rooted at `dir`. */
export const make = (dir: string): ObjectStore["Service"] => {
  const root = resolve(dir)
  const abs = (path: string) =>
    Effect.suspend(() => {
      const bad = checkPath(path)
      return bad
        ? Effect.fail(
            new ObjectStoreError({ reason: "InvalidPath", operation: "resolve", path, message: bad })
          )
        : Effect.succeed(join(root, ...path.split("/")))
    })

  const walk = async (dirPath: string, out: Array<ObjectInfo>): Promise<void> => {
    let entries: Array<import("node:fs").Dirent>
    try {
      entries = await readdir(dirPath, { withFileTypes: true })
    } catch (e) {
      if (typeof e === "object" && e !== null && "code" in e && e.code === "ENOENT") return
      throw e
    }
    for (const entry of entries) {
      const full = join(dirPath, entry.name)
      if (entry.isDirectory()) await walk(full, out)
      else if (entry.isFile() && !entry.name.includes(".kura-tmp-")) {
        const info = await stat(full)
        out.push({
          path: relative(root, full).split(sep).join("/"),
          size: info.size,
          updatedAt: info.mtimeMs
        })
      }
    }
  }

  return ObjectStore.of({
    root: `file:${root}`,
    uri: (path) => `file:${join(root, ...path.split("/"))}`,
    put: <E>(path: string, body: Stream.Stream<Uint8Array, E>, options?: { readonly contentType?: string }) =>
      Effect.gen(function* () {
        void options
        const target = yield* abs(path)
        const tmp = `${target}.kura-tmp-${process.pid}-${Math.random().toString(36).slice(2)}`
        const readable = yield* streamToNodeReadable(body)
        yield* Effect.tryPromise({
          try: async () => {
            await mkdir(dirname(target), { recursive: true })
            try {
              await pipeline(readable.stream, createWriteStream(tmp))
              await rename(tmp, target)
            } catch (e) {
              await rm(tmp, { force: true })
              throw e
            }
          },
          catch: (cause) => cause
        }).pipe(
          Effect.catch((cause): Effect.Effect<never, E | ObjectStoreError> => {
            const bodyError = readable.failure()
            return bodyError.failed ? Effect.fail(bodyError.error) : Effect.fail(ioError("put", path)(cause))
          })
        )
        const size = yield* Effect.tryPromise({ try: () => stat(target), catch: ioError("stat", path) })
        return { path, size: size.size }
      }),
    get: (path) =>
      Stream.unwrap(
        Effect.map(abs(path), (file) =>
          Stream.fromAsyncIterable(createReadStream(file), ioError("get", path))
        )
      ),
    list: (prefix) =>
      Effect.tryPromise({
        try: async () => {
          const out: Array<ObjectInfo> = []
          await walk(root, out)
          return out.filter((o) => o.path.startsWith(prefix)).sort((a, b) => (a.path < b.path ? -1 : 1))
        },
        catch: ioError("list", prefix)
      }),
    delete: (path) =>
      Effect.flatMap(abs(path), (file) =>
        Effect.tryPromise({ try: () => rm(file, { force: true }), catch: ioError("delete", path) })
      )
  })
}

/** A filesystem ObjectStore rooted at `dir`. */
export const layer = (dir: string): Layer.Layer<ObjectStore> => Layer.sync(ObjectStore, () => make(dir))
