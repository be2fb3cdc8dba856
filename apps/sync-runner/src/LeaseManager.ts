/**
 * Leases make "a sync runs at most once per stream at a time" hold across triggers, the scheduler
 * and (with the warehouse-backed adapter) across Cloud Run instances.
 */

import { hostname } from "node:os"
import {
  isDeadLocalProcess,
  type StreamKey as Key,
  streamKeyToString as keyText,
  StoreError
} from "@kura/core"
import { Warehouse } from "@kura/warehouse"
import { Clock, Context, Effect, Layer, Option, Result } from "effect"

let holderSeq = 0

/**
 * A fresh holder name for one lease acquisition: host and process, so a dead local holder can be
 * recognised, plus a sequence number. The warehouse lets a holder re-take its own lease (renewal
 * after a slow write), so a name shared by two concurrent runs of one process would let both hold
 * the same stream at once (chaos check 5: two triggers on one `kura-sync serve`).
 */
export const localHolder = (): string => `${hostname()}-${process.pid}-${++holderSeq}`

/**
 * True when `holder` names a process on this host that no longer exists (SIGKILLed, crashed).
 * Only meaningful where every holder shares one machine, as with an embedded DuckDB file.
 */
export const isDeadLocalHolder = (holder: string): boolean => {
  const prefix = `${hostname()}-`
  if (!holder.startsWith(prefix)) return false
  // `host-pid-seq` now; `host-pid` from runners before the sequence number.
  const pid = Number(holder.slice(prefix.length).split("-")[0])
  return pid !== process.pid && isDeadLocalProcess(hostname(), pid)
}

/** A held lease. */
export interface Lease {
  readonly key: Key
  readonly holder: string
  readonly expiresAt: number
}

/** The lease port. */
export class LeaseManager extends Context.Service<
  LeaseManager,
  {
    /** Takes the lease unless someone else holds an unexpired one. */
    readonly acquire: (
      key: Key,
      holder: string,
      ttlMs: number
    ) => Effect.Effect<Option.Option<Lease>, StoreError>
    /**
     * Extends a lease its holder still has; `None` when it expired or someone else took it (the
     * holder must stop writing). Holders renew while they work so a short TTL is safe.
     */
    readonly renew: (lease: Lease, ttlMs: number) => Effect.Effect<Option.Option<Lease>, StoreError>
    readonly release: (lease: Lease) => Effect.Effect<void, StoreError>
    /**
     * `acquire` for several streams at once (a run pass), each with its own holder: per request,
     * the lease or `None` when someone else holds it. One write for the pass instead of one per
     * stream; the exclusion is the same.
     */
    readonly acquireMany: (
      requests: ReadonlyArray<{ readonly key: Key; readonly holder: string }>,
      ttlMs: number
    ) => Effect.Effect<ReadonlyArray<Option.Option<Lease>>, StoreError>
    /** `release` for several leases at once. */
    readonly releaseMany: (leases: ReadonlyArray<Lease>) => Effect.Effect<void, StoreError>
  }
>()("@kura/sync-runner/LeaseManager") {
  /** In-process leases: correct for one instance (local `serve`, tests). */
  static readonly layerMemory = Layer.sync(LeaseManager, () => {
    const held = new Map<string, Lease>()
    const acquire = (key: Key, holder: string, ttlMs: number) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const id = keyText(key)
        const current = held.get(id)
        if (current !== undefined && current.expiresAt > now) return Option.none<Lease>()
        const lease: Lease = { key, holder, expiresAt: now + ttlMs }
        held.set(id, lease)
        return Option.some(lease)
      })
    const release = (lease: Lease) =>
      Effect.sync(() => {
        const id = keyText(lease.key)
        if (held.get(id)?.holder === lease.holder) held.delete(id)
      })
    return LeaseManager.of({
      acquire,
      acquireMany: (requests, ttlMs) => Effect.forEach(requests, (r) => acquire(r.key, r.holder, ttlMs)),
      releaseMany: (leases) => Effect.forEach(leases, release, { discard: true }),
      renew: (lease, ttlMs) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          const id = keyText(lease.key)
          const current = held.get(id)
          if (current === undefined || current.holder !== lease.holder || current.expiresAt <= now) {
            return Option.none()
          }
          const renewed: Lease = { ...lease, expiresAt: now + ttlMs }
          held.set(id, renewed)
          return Option.some(renewed)
        }),
      release
    })
  })

  /** Alias of `layerMemory`. */
  static readonly layerTest = LeaseManager.layerMemory

  /**
   * Leases in the warehouse's `_kura_leases` table: correct across processes and instances that
   * share the warehouse, with expiry so a crashed holder cannot block a stream forever.
   */
  static readonly layerWarehouse = Layer.effect(
    LeaseManager,
    Effect.gen(function* () {
      const warehouse = yield* Warehouse
      // The warehouse's own lease record, needed again to release it.
      const held = new WeakMap<Lease, Parameters<typeof warehouse.releaseLease>[0]>()
      const storeError = (operation: string) => (e: { readonly message: string }) =>
        new StoreError({ store: "LeaseManager", operation, message: e.message, cause: e })
      // An embedded DuckDB file is opened by one machine only, so a holder named after this host
      // whose process is gone was killed mid-run: its lease is reclaimed at once rather than after
      // the TTL. Shared warehouses (BigQuery, many instances) rely on the TTL alone.
      const reclaimLocal = warehouse.dialect.name === "duckdb"
      const take = (key: Key, holder: string, ttlMs: number) =>
        warehouse.acquireLease(key, holder, ttlMs).pipe(
          Effect.map((w) => {
            const lease: Lease = { key, holder: w.holder, expiresAt: w.expiresAt }
            held.set(lease, w)
            return Option.some(lease)
          })
        )
      const acquire = (key: Key, holder: string, ttlMs: number) =>
        take(key, holder, ttlMs).pipe(
          Effect.catchTag("LeaseError", (e) =>
            reclaimLocal && isDeadLocalHolder(e.holder)
              ? Effect.logWarning(`reclaiming the lease of dead local runner ${e.holder}`).pipe(
                  Effect.andThen(
                    warehouse.releaseLease({
                      streamKey: e.streamKey,
                      holder: e.holder,
                      expiresAt: e.expiresAt ?? 0
                    })
                  ),
                  Effect.andThen(take(key, holder, ttlMs)),
                  Effect.catchTag("LeaseError", () => Effect.succeed(Option.none<Lease>()))
                )
              : Effect.succeed(Option.none<Lease>())
          ),
          Effect.mapError(storeError(`acquire ${keyText(key)}`))
        )
      return LeaseManager.of({
        acquire,
        acquireMany: (requests, ttlMs) =>
          warehouse.acquireLeases(requests, ttlMs).pipe(
            Effect.mapError(storeError(`acquire ${requests.length} leases`)),
            Effect.flatMap((results) =>
              Effect.forEach(results, (result, i) => {
                const request = requests[i]!
                if (Result.isSuccess(result)) {
                  const w = result.success
                  const lease: Lease = { key: request.key, holder: w.holder, expiresAt: w.expiresAt }
                  held.set(lease, w)
                  return Effect.succeed(Option.some(lease))
                }
                // A dead local holder's lease goes through the one-stream path, which reclaims it.
                return reclaimLocal && isDeadLocalHolder(result.failure.holder)
                  ? acquire(request.key, request.holder, ttlMs)
                  : Effect.succeed(Option.none<Lease>())
              })
            )
          ),
        releaseMany: (leases) => {
          const ws = leases.flatMap((l) => {
            const w = held.get(l)
            return w === undefined ? [] : [w]
          })
          return ws.length === 0
            ? Effect.void
            : warehouse.releaseLeases(ws).pipe(Effect.mapError(storeError(`release ${ws.length} leases`)))
        },
        renew: (lease, ttlMs) => {
          const w = held.get(lease)
          if (w === undefined) return Effect.succeed(Option.none<Lease>())
          return warehouse.renewLease(w, ttlMs).pipe(
            Effect.map((renewed) => {
              const next: Lease = { key: lease.key, holder: renewed.holder, expiresAt: renewed.expiresAt }
              held.set(next, renewed)
              return Option.some(next)
            }),
            Effect.catchTag("LeaseError", () => Effect.succeed(Option.none<Lease>())),
            Effect.mapError(storeError(`renew ${keyText(lease.key)}`))
          )
        },
        release: (lease) => {
          const w = held.get(lease)
          return w === undefined
            ? Effect.void
            : warehouse.releaseLease(w).pipe(Effect.mapError(storeError(`release ${keyText(lease.key)}`)))
        }
      })
    })
  )
}
