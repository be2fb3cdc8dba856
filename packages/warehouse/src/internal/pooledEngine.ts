/**
 * One engine over several DuckDB connections to the same database, so loads of different streams
 * run at once instead of taking turns on one connection (an incremental pass's two long chains of
 * loads, Shopify orders and Lightspeed sales, each waited for the other's MERGEs).
 *
 * - A span (`pinned`: a load's add-columns → stage → MERGE → drop, a dead-letter batch) holds one
 *   connection for its whole length: temporary staging tables and transactions belong to a
 *   connection. Nested calls run on the held connection.
 * - `serialize` holds every connection: nothing else runs in the database meanwhile (a setting
 *   changed for a while, a read-modify-write that must not interleave), as on one connection.
 * - A call outside any span (bookkeeping: leases, checkpoints, the ledger) takes turns with the
 *   other such calls, as on one connection, so two of them never insert one new key at once; it
 *   runs beside spans on another connection.
 * - A write that conflicts with another connection's (DuckDB's optimistic concurrency: both edit
 *   one row) fails whole, and is run again.
 */
import { Context, Effect, Schedule, Scope, Semaphore } from "effect"
import type { WarehouseError } from "../WarehouseError.js"
import { makeConnectionLock } from "./connectionLock.js"
import type { SqlEngine } from "./SqlEngine.js"

/**
 * DuckDB reports a write-write conflict between transactions (an update or delete of a row another
 * open transaction changed, a catalogue change under another's feet) with "Conflict" in the
 * message; the statement took no effect.
 */
const CONFLICT = /conflict/i
/**
 * Attempts of a conflicting statement, 10 ms apart and doubling (≥ 1.27 s in all): the other
 * transaction is one statement or one short commit, but a loaded machine can stretch it.
 */
const CONFLICT_ATTEMPTS = 8

const retryConflicts = <A, R>(effect: Effect.Effect<A, WarehouseError, R>) =>
  Effect.retry(effect, {
    while: (e: WarehouseError) => CONFLICT.test(e.message),
    times: CONFLICT_ATTEMPTS - 1,
    schedule: Schedule.exponential("10 millis")
  })

/** What a fiber holds of a pool: the index of the item its span runs on. */
const HeldItems = Context.Reference<ReadonlyMap<object, number>>("@kura/warehouse/internal/HeldItems", {
  defaultValue: () => new Map()
})

/** A pool of items (engines) handed out one per span, or all at once. Re-entrant per fiber. */
export interface Pool<C> {
  /** Runs `use` on one item, held for the span (the one already held, if any). */
  readonly shared: <A, E, R>(use: (item: C) => Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /**
   * Runs `use` while holding every item. Inside a span it runs on the span's item instead (waiting
   * for the others while holding one could deadlock against another span doing the same).
   */
  readonly exclusive: <A, E, R>(use: (item: C) => Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Whether the current fiber is inside a span of this pool. */
  readonly holding: Effect.Effect<boolean>
}

/** A pool over `items` (at least one). */
export const makePool = <C>(items: ReadonlyArray<C>): Pool<C> => {
  if (items.length === 0) throw new Error("a pool needs at least one item")
  const token = {}
  const size = items.length
  const semaphore = Semaphore.makeUnsafe(size)
  // Requests are served in the order they come: each waits its turn here, then for its permits.
  // Without it a waiting `exclusive` (every permit) was overtaken by every later `shared` request
  // that found one permit free (Effect's semaphore serves any waiter that fits), so a steady stream
  // of loads could hold off a lease renewal or a bulk load for as long as it lasted.
  const turn = Semaphore.makeUnsafe(1)
  const free: Array<number> = items.map((_, i) => i)
  const hold = <A, E, R>(permits: number, use: (item: C) => Effect.Effect<A, E, R>) =>
    Effect.flatMap(Effect.service(HeldItems), (held): Effect.Effect<A, E, R> => {
      const mine = held.get(token)
      if (mine !== undefined) return use(items[mine]!)
      return Effect.scopedWith((scope) =>
        Effect.andThen(
          // The permits go back when this scope closes, after the item (below).
          turn.withPermits(1)(Scope.provide(scope)(semaphore.takeScoped(permits))),
          Effect.acquireUseRelease(
            // Permits taken ≤ items free, so one is always there.
            Effect.sync(() => free.pop()!),
            (index) =>
              Effect.provideService(use(items[index]!), HeldItems, new Map([...held, [token, index]])),
            (index) => Effect.sync(() => void free.push(index))
          )
        )
      )
    })
  return {
    shared: (use) => hold(1, use),
    exclusive: (use) => hold(size, use),
    holding: Effect.map(Effect.service(HeldItems), (held) => held.has(token))
  }
}

/** One engine over `engines` (each on its own connection to one database); one engine is itself. */
export const makePooledEngine = (engines: ReadonlyArray<SqlEngine>): SqlEngine => {
  const first = engines[0]
  if (first === undefined) throw new Error("a pooled engine needs at least one engine")
  if (engines.length === 1) return first
  const pool = makePool(engines)
  const general = makeConnectionLock()
  const onEngine = <A, E, R>(use: (engine: SqlEngine) => Effect.Effect<A, E, R>) =>
    Effect.flatMap(pool.holding, (inSpan) => (inSpan ? pool.shared(use) : general(pool.shared(use))))
  // A staging table is temporary to the connection that staged it: its drop goes there.
  const stagedOn = new Map<string, SqlEngine>()
  return {
    dialect: first.dialect,
    run: (sql, params) => retryConflicts(onEngine((e) => e.run(sql, params))),
    query: (sql, params) => retryConflicts(onEngine((e) => e.query(sql, params))),
    merge: (sql, target) => retryConflicts(onEngine((e) => e.merge(sql, target))),
    stage: (staging, columns, rows) =>
      onEngine((e) =>
        Effect.andThen(
          e.stage(staging, columns, rows),
          Effect.sync(() => void stagedOn.set(staging, e))
        )
      ),
    dropStaging: (staging) =>
      Effect.suspend(() => {
        const e = stagedOn.get(staging)
        stagedOn.delete(staging)
        return e === undefined ? onEngine((x) => x.dropStaging(staging)) : e.dropStaging(staging)
      }),
    liveColumns: (table) => onEngine((e) => e.liveColumns(table)),
    // A conflict aborts the whole transaction, which the engine rolls back: it is run again whole.
    atomically: (statements) => retryConflicts(onEngine((e) => e.atomically(statements))),
    // Each engine's own lock as well: a drop sent straight to an engine (above) waits for the span.
    serialize: (effect) => pool.exclusive((e) => e.serialize(effect)),
    pinned: (effect) => pool.shared((e) => e.serialize(effect))
  }
}
