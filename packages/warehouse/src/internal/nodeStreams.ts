/**
 * Bridges Effect streams to Node streams with backpressure, keeping the stream's typed failure
 * so callers get their own error back instead of a thrown defect.
 */
import { Readable } from "node:stream"
import { Effect, Stream } from "effect"

class BodyFailure {
  constructor(readonly error: unknown) {}
}

/** A Node Readable pulling from `body`, and a way to learn whether `body` itself failed. */
export const streamToNodeReadable = <E>(body: Stream.Stream<Uint8Array, E>) =>
  Effect.map(
    Stream.toAsyncIterableEffect(body.pipe(Stream.mapError((e) => new BodyFailure(e)))),
    (iterable) => {
      let failure: { failed: true; error: E } | { failed: false } = { failed: false }
      async function* guarded(): AsyncGenerator<Uint8Array> {
        try {
          for await (const chunk of iterable) yield chunk
        } catch (e) {
          const found = findFailure(e)
          if (found) failure = { failed: true, error: found.error as E }
          throw e
        }
      }
      return { stream: Readable.from(guarded(), { objectMode: false }), failure: () => failure }
    }
  )

const findFailure = (e: unknown): BodyFailure | undefined => {
  if (e instanceof BodyFailure) return e
  if (typeof e === "object" && e !== null) {
    for (const k of ["error", "cause", "failure"]) {
      const v: unknown = (e as Record<string, unknown>)[k]
      if (v instanceof BodyFailure) return v
    }
  }
  return undefined
}
