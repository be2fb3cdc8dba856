/**
 * A layer built once and shared by every stream of one account. `Effect.provide(layer)` builds a
 * fresh copy per run, so concurrent streams of one shop each had their own cost bucket (together
 * they overdrew the shop's real bucket and got THROTTLED) and each Lightspeed stream its own token
 * refresher. One runtime per account keeps one bucket, one limiter and one token per credential.
 */
import { type Effect as E, Effect, type Layer, ManagedRuntime } from "effect"

/** A layer built on first use, provided to many effects, and released by `close`. */
export interface SharedLayer<R, ER> {
  readonly provide: <A, E2, R2>(effect: E.Effect<A, E2, R2>) => E.Effect<A, E2 | ER, Exclude<R2, R>>
  readonly close: E.Effect<void>
}

/** Shares `layer` among every effect passed to `provide`; it is built on the first one. */
export const sharedLayer = <R, ER>(layer: Layer.Layer<R, ER, never>): SharedLayer<R, ER> => {
  const runtime = ManagedRuntime.make(layer)
  return {
    provide: (effect) =>
      Effect.flatMap(runtime.contextEffect, (context) => Effect.provideContext(effect, context)),
    close: runtime.disposeEffect
  }
}
