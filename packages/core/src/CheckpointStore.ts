/**
 * Where a stream remembers how far it got. Implemented in memory here (tests) and by the
 * warehouse's `_kura_sync_state` table in production, so that a crashed run resumes from its last
 * committed cursor instead of re-reading or, worse, skipping data.
 */
import { Context, Effect, Layer, Option } from "effect"
import type { StoreError } from "./StoreError.js"

/** Identifies one stream of one account of one source, e.g. shopify / kura-matcha.myshopify.com / orders. */
export interface StreamKey {
  readonly source: string
  readonly account: string
  readonly stream: string
}

/** A committed position in a stream. `cursor` is opaque to the store (a timestamp, page token, id …). */
export interface Checkpoint {
  readonly key: StreamKey
  readonly cursor: string
  /** When the checkpoint was committed (epoch ms). */
  readonly updatedAt: number
  /** Free-form JSON-safe details the stream wants back on resume (window bounds, run id …). */
  readonly meta?: Readonly<Record<string, unknown>>
}

/** Renders a stream key as `source/account/stream`, the form used in logs and state tables. */
export const streamKeyToString = (key: StreamKey): string => `${key.source}/${key.account}/${key.stream}`

/** The checkpoint port. */
export class CheckpointStore extends Context.Service<
  CheckpointStore,
  {
    readonly get: (key: StreamKey) => Effect.Effect<Option.Option<Checkpoint>, StoreError>
    /** Commits a checkpoint; later `get`s must see it even after a crash. */
    readonly put: (checkpoint: Checkpoint) => Effect.Effect<void, StoreError>
    readonly delete: (key: StreamKey) => Effect.Effect<void, StoreError>
    readonly list: (filter?: {
      readonly source?: string
    }) => Effect.Effect<ReadonlyArray<Checkpoint>, StoreError>
  }
>()("@kura/core/CheckpointStore") {
  /** An in-memory store: for tests and one-shot runs that need no resume. */
  static readonly layerMemory = Layer.sync(CheckpointStore, () => {
    const state = new Map<string, Checkpoint>()
    return CheckpointStore.of({
      get: (key) => Effect.sync(() => Option.fromNullishOr(state.get(streamKeyToString(key)))),
      put: (checkpoint) => Effect.sync(() => void state.set(streamKeyToString(checkpoint.key), checkpoint)),
      delete: (key) => Effect.sync(() => void state.delete(streamKeyToString(key))),
      list: (filter) =>
        Effect.sync(() =>
          [...state.values()].filter((c) => filter?.source === undefined || c.key.source === filter.source)
        )
    })
  })

  /** Alias of `layerMemory`, following the house `layerTest` naming. */
  static readonly layerTest = CheckpointStore.layerMemory
}
