/**
 * The file access an archive needs, kept abstract so the backfill app can plug in GCS (or a ZIP)
 * while this package ships only the local-directory implementation. Paths are relative to the
 * archive root and always use "/".
 */

import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import * as nodePath from "node:path"
import { Effect, Stream } from "effect"
import { Archive, StockyError } from "./StockyError.js"

/** Reads an archive. */
export interface ArchiveReader {
  /** Where the archive lives, for messages (a directory path, a gs:// URL). */
  readonly location: string
  /** Relative paths of every file under `prefix` ("" for all), any order. */
  readonly list: (prefix: string) => Effect.Effect<ReadonlyArray<string>, StockyError>
  /** The file's bytes, or `null` when it does not exist. */
  readonly read: (path: string) => Effect.Effect<Uint8Array | null, StockyError>
  /** The file's bytes as a stream (large CSVs); fails with an Archive error when missing. */
  readonly stream: (path: string) => Stream.Stream<Uint8Array, StockyError>
}

/** Writes an archive. */
export interface ArchiveWriter {
  /** Where the archive is written, for messages. */
  readonly location: string
  /** Writes (or replaces) one file, creating parent folders as needed. */
  readonly write: (path: string, bytes: Uint8Array) => Effect.Effect<void, StockyError>
}

const archiveError = (file: string, detail: string) =>
  new StockyError({ reason: new Archive({ file, detail }) })

const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e))

const safeJoin = (root: string, path: string): string | undefined => {
  const full = nodePath.resolve(root, path)
  return full === root || full.startsWith(root + nodePath.sep) ? full : undefined
}

/** An archive in a local directory (an unpacked stocky-rescue ZIP, or `exportArchive`'s output). */
export const directoryReader = (directory: string): ArchiveReader => {
  const root = nodePath.resolve(directory)
  const resolve = (path: string) =>
    Effect.suspend(() => {
      const full = safeJoin(root, path)
      return full === undefined
        ? Effect.fail(archiveError(path, "path escapes the archive root"))
        : Effect.succeed(full)
    })
  return {
    location: root,
    list: (prefix) =>
      Effect.gen(function* () {
        const start = yield* resolve(prefix === "" ? "." : prefix)
        return yield* Effect.tryPromise({
          try: async () => {
            const out: Array<string> = []
            const walk = async (dir: string): Promise<void> => {
              let entries: Array<fs.Dirent>
              try {
                entries = await fsp.readdir(dir, { withFileTypes: true })
              } catch (e) {
                if (Reflect.get(Object(e), "code") === "ENOENT") return
                throw e
              }
              for (const entry of entries) {
                const full = nodePath.join(dir, entry.name)
                if (entry.isDirectory()) await walk(full)
                else if (entry.isFile()) out.push(nodePath.relative(root, full).split(nodePath.sep).join("/"))
              }
            }
            await walk(start)
            return out
          },
          catch: (e) => archiveError(prefix, `cannot list: ${describe(e)}`)
        })
      }),
    read: (path) =>
      Effect.gen(function* () {
        const full = yield* resolve(path)
        return yield* Effect.tryPromise({
          try: async () => {
            try {
              return new Uint8Array(await fsp.readFile(full))
            } catch (e) {
              if (Reflect.get(Object(e), "code") === "ENOENT") return null
              throw e
            }
          },
          catch: (e) => archiveError(path, `cannot read: ${describe(e)}`)
        })
      }),
    stream: (path) =>
      Stream.unwrap(
        Effect.map(resolve(path), (full) =>
          Stream.fromAsyncIterable(fs.createReadStream(full, { highWaterMark: 64 * 1024 }), (e) =>
            archiveError(path, `cannot read: ${describe(e)}`)
          ).pipe(
            Stream.map((chunk: unknown) =>
              chunk instanceof Uint8Array ? chunk : new TextEncoder().encode(String(chunk))
            )
          )
        )
      )
  }
}

/** Writes an archive into a local directory (created if missing). */
export const directoryWriter = (directory: string): ArchiveWriter => {
  const root = nodePath.resolve(directory)
  return {
    location: root,
    write: (path, bytes) =>
      Effect.suspend(() => {
        const full = safeJoin(root, path)
        if (full === undefined) return Effect.fail(archiveError(path, "path escapes the archive root"))
        return Effect.tryPromise({
          try: async () => {
            await fsp.mkdir(nodePath.dirname(full), { recursive: true })
            await fsp.writeFile(full, bytes)
          },
          catch: (e) => archiveError(path, `cannot write: ${describe(e)}`)
        })
      })
  }
}

/** An in-memory archive (tests, or staging before an upload). */
export const memoryArchive = (
  files: Map<string, Uint8Array> = new Map()
): ArchiveReader &
  ArchiveWriter & {
    /** The files by path, for seeding fixtures and assertions. */
    readonly files: Map<string, Uint8Array>
  } => ({
  location: "memory:",
  files,
  list: (prefix) =>
    Effect.sync(() =>
      [...files.keys()].filter(
        (k) => prefix === "" || k === prefix || k.startsWith(prefix.endsWith("/") ? prefix : `${prefix}/`)
      )
    ),
  read: (path) => Effect.sync(() => files.get(path) ?? null),
  stream: (path) =>
    Stream.unwrap(
      Effect.sync(() => {
        const bytes = files.get(path)
        return bytes === undefined ? Stream.fail(archiveError(path, "file not found")) : Stream.make(bytes)
      })
    ),
  write: (path, bytes) => Effect.sync(() => void files.set(path, bytes))
})
