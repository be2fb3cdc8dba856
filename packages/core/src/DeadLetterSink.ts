/**
 * Where records that cannot be decoded or loaded go, with their raw payload and the reason, so
 * that one bad record never blocks a load and nothing is dropped without a trace. The warehouse's
 * `_kura_dead_letters` table implements it; entries can be replayed after a fix.
 */
import { Context, Effect, Layer } from "effect"
import type { StreamKey } from "./CheckpointStore.js"
import type { StoreError } from "./StoreError.js"

/** One rejected record. */
export interface DeadLetter {
  readonly key: StreamKey
  /** The source's id for the record when it could be read, else null. */
  readonly sourceId: string | null
  /** The raw payload exactly as received (JSON text or the raw line). */
  readonly payload: string
  /** Machine-matchable reason, e.g. "decode", "type_changed", "load". */
  readonly reason: string
  /** Human-readable detail: the failing field and what was expected. */
  readonly detail: string
  /** Where it came from: a lake object path, URL or batch id. */
  readonly origin: string
  readonly at: number
}

/** The dead-letter port. */
export class DeadLetterSink extends Context.Service<
  DeadLetterSink,
  {
    readonly write: (letters: ReadonlyArray<DeadLetter>) => Effect.Effect<void, StoreError>
  }
>()("@kura/core/DeadLetterSink") {
  /** Keeps letters in memory; `layerMemoryWith` exposes the array for assertions. */
  static readonly layerMemoryWith = (letters: Array<DeadLetter>) =>
    Layer.succeed(
      DeadLetterSink,
      DeadLetterSink.of({ write: (batch) => Effect.sync(() => void letters.push(...batch)) })
    )

  /** An in-memory sink for tests. */
  static readonly layerTest = Layer.sync(DeadLetterSink, () => {
    const letters: Array<DeadLetter> = []
    return DeadLetterSink.of({ write: (batch) => Effect.sync(() => void letters.push(...batch)) })
  })
}
