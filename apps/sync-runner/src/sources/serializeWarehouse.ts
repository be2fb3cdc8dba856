/**
 * A Warehouse whose calls run one at a time. The DuckDB adapter shares one connection, and two
 * streams landing pages at once can interleave statements on it; streams still fetch in parallel,
 * only the landing is queued.
 */
import type { Warehouse } from "@kura/warehouse"
import { Effect, Semaphore } from "effect"

type Service = Warehouse["Service"]

const wrapAll = <T extends object>(target: T, lock: Semaphore.Semaphore): T => {
  const out: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(target)) {
    if (typeof value === "function")
      out[name] = (...args: ReadonlyArray<unknown>) => {
        const result: unknown = value.apply(target, args)
        return Effect.isEffect(result) ? lock.withPermits(1)(result) : result
      }
    else if (Effect.isEffect(value)) out[name] = lock.withPermits(1)(value)
    else out[name] = value
  }
  return out as T
}

/** Wraps every Warehouse operation (and its state ports) in one shared lock. */
export const serializeWarehouse = (warehouse: Service): Service => {
  const lock = Semaphore.makeUnsafe(1)
  return {
    ...wrapAll(warehouse, lock),
    checkpoints: wrapAll(warehouse.checkpoints, lock),
    bulkJobs: wrapAll(warehouse.bulkJobs, lock),
    deadLetters: wrapAll(warehouse.deadLetters, lock),
    dialect: warehouse.dialect
  }
}
