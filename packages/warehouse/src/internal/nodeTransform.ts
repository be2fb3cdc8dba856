/**
 * Runs a byte stream through a Node transform (gzip, gunzip) with backpressure, without
 * buffering the whole body.
 */
import type { Transform } from "node:stream"
import { Effect, Stream } from "effect"
import { streamToNodeReadable } from "./nodeStreams.js"

/** `input` piped through a fresh transform; failures of `input` keep their type. */
export const nodeTransform = <E, E2>(
  input: Stream.Stream<Uint8Array, E>,
  makeTransform: () => Transform,
  onTransformError: (cause: unknown) => E2
): Stream.Stream<Uint8Array, E | E2> =>
  Stream.unwrap(
    Effect.map(streamToNodeReadable(input), (readable) => {
      const transform = makeTransform()
      readable.stream.on("error", (e) => transform.destroy(e))
      readable.stream.pipe(transform)
      return Stream.fromAsyncIterable(transform, (cause): E | E2 => {
        const f = readable.failure()
        return f.failed ? f.error : onTransformError(cause)
      })
    })
  )
