/**
 * A CheckpointStore on a local JSON file: lets `run`, `serve` and `status` share checkpoints on a
 * laptop until the warehouse's `_kura_sync_state` adapter is wired in.
 */
import { type Checkpoint, CheckpointStore, StoreError, streamKeyToString } from "@kura/core"
import { Effect, Layer, Option, Schema, Semaphore } from "effect"
import { readJson, writeJsonAtomic } from "./internal/jsonFile.js"

const StoredCheckpoint = Schema.Struct({
  key: Schema.Struct({ source: Schema.String, account: Schema.String, stream: Schema.String }),
  cursor: Schema.String,
  updatedAt: Schema.Number,
  meta: Schema.optionalKey(Schema.Record(Schema.String, Schema.Unknown))
})
const StoredFile = Schema.Array(StoredCheckpoint)

/** Builds the file-backed store at `path`. */
export const makeFileCheckpointStore = Effect.fnUntraced(function* (path: string) {
  const lock = yield* Semaphore.make(1)
  const fail = (operation: string) => (cause: unknown) =>
    new StoreError({ store: "CheckpointStore", operation, message: `${path}: ${String(cause)}`, cause })
  const load = (operation: string) =>
    Effect.tryPromise({ try: () => readJson(path), catch: fail(operation) }).pipe(
      Effect.flatMap((raw) =>
        raw === undefined
          ? Effect.succeed([] as ReadonlyArray<Checkpoint>)
          : Schema.decodeUnknownEffect(StoredFile)(raw).pipe(Effect.mapError(fail(operation)))
      )
    )
  const save = (operation: string, all: ReadonlyArray<Checkpoint>) =>
    Effect.tryPromise({ try: () => writeJsonAtomic(path, all), catch: fail(operation) })
  const update = (operation: string, f: (all: ReadonlyArray<Checkpoint>) => ReadonlyArray<Checkpoint>) =>
    lock.withPermits(1)(Effect.flatMap(load(operation), (all) => save(operation, f(all))))

  return CheckpointStore.of({
    get: (key) =>
      Effect.map(load(`get ${streamKeyToString(key)}`), (all) =>
        Option.fromNullishOr(all.find((c) => streamKeyToString(c.key) === streamKeyToString(key)))
      ),
    put: (checkpoint) =>
      update(`put ${streamKeyToString(checkpoint.key)}`, (all) => [
        ...all.filter((c) => streamKeyToString(c.key) !== streamKeyToString(checkpoint.key)),
        checkpoint
      ]),
    delete: (key) =>
      update(`delete ${streamKeyToString(key)}`, (all) =>
        all.filter((c) => streamKeyToString(c.key) !== streamKeyToString(key))
      ),
    list: (filter) =>
      Effect.map(load("list"), (all) =>
        all.filter((c) => filter?.source === undefined || c.key.source === filter.source)
      )
  })
})

/** The file-backed CheckpointStore layer. */
export const layerFileCheckpointStore = (path: string): Layer.Layer<CheckpointStore> =>
  Layer.effect(CheckpointStore, makeFileCheckpointStore(path))
