/**
 * Leases make "a sync runs at most once per stream at a time" hold across triggers, the scheduler
 * and (with the warehouse-backed adapter) across Cloud Run instances.
 */
import { type StoreError, type StreamKey, streamKeyToString } from "@kura/core"
import { Clock, Context, Effect, Layer, Option } from "effect"

/** A held lease. */
export interface Lease {
  readonly key: StreamKey
  readonly holder: string
  readonly expiresAt: number
}

/** The lease port. */
export class LeaseManager extends Context.Service<
  LeaseManager,
  {
    /** Takes the lease unless someone else holds an unexpired one. */
    readonly acquire: (
      key: StreamKey,
      holder: string,
      ttlMs: number
    ) => Effect.Effect<Option.Option<Lease>, StoreError>
    readonly release: (lease: Lease) => Effect.Effect<void, StoreError>
  }
>()("@kura/sync-runner/LeaseManager") {
  /** In-process leases: correct for one instance (local `serve`, tests). */
  static readonly layerMemory = Layer.sync(LeaseManager, () => {
    const held = new Map<string, Lease>()
    return LeaseManager.of({
      acquire: (key, holder, ttlMs) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          const id = streamKeyToString(key)
          const current = held.get(id)
          if (current !== undefined && current.expiresAt > now) return Option.none()
          const lease: Lease = { key, holder, expiresAt: now + ttlMs }
          held.set(id, lease)
          return Option.some(lease)
        }),
      release: (lease) =>
        Effect.sync(() => {
          const id = streamKeyToString(lease.key)
          if (held.get(id)?.holder === lease.holder) held.delete(id)
        })
    })
  })

  /** Alias of `layerMemory`. */
  static readonly layerTest = LeaseManager.layerMemory
}
