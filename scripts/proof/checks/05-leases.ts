/**
 * Check 5, leases: runners racing on one stream through the warehouse's `_kura_leases` (DuckDB
 * file; DuckDB allows one process, so the runners are fibers sharing it) never write a page twice
 * and never overlap. Each runner loops: take the lease, read the checkpoint, sometimes stall past
 * the lease's TTL (so another runner takes over), renew (a runner that lost its lease must not
 * write), write the page, commit the checkpoint, release. Every write is counted.
 */
import path from "node:path"
import { DuckDbWarehouse, Warehouse } from "@kura/warehouse"
import { Effect, Option } from "effect"
import { quick, runCheck, workDir } from "../lib.ts"

const CHECK = "leases"

await runCheck(CHECK, async () => {
  const RUNNERS = 6
  const PAGES = quick ? 40 : 150
  const TTL = 300
  const key = { source: "proof", account: "race", stream: "pages" }
  const writes: Array<{ page: number; holder: string }> = []
  let inFlight = 0
  let maxInFlight = 0
  let held = 0
  let lost = 0
  let stalls = 0
  const defects: Array<string> = []
  const layer = DuckDbWarehouse.layer({ path: path.join(workDir(CHECK), "leases.duckdb") })

  const runner = (holder: string) =>
    Effect.gen(function* () {
      const wh = yield* Warehouse
      while (true) {
        const lease = yield* wh.acquireLease(key, holder, TTL).pipe(
          Effect.map(Option.some),
          Effect.catchTag("LeaseError", () =>
            Effect.sync(() => {
              held++
              return Option.none()
            })
          ),
          // A defect here is a warehouse bug (reported in the figure): treat it as "not acquired".
          Effect.catchDefect((d) =>
            Effect.sync(() => {
              defects.push(String(d))
              return Option.none()
            })
          )
        )
        if (Option.isNone(lease)) {
          yield* Effect.sleep(5 + Math.floor(Math.random() * 20))
          continue
        }
        const cp = yield* wh.checkpoints.get(key)
        const page = Option.isSome(cp) ? Number(cp.value.cursor) : 0
        if (page >= PAGES) {
          yield* wh.releaseLease(lease.value)
          return
        }
        if (Math.random() < 0.1) {
          stalls++
          yield* Effect.sleep(TTL + 150)
        }
        const renewed = yield* wh.renewLease(lease.value, TTL).pipe(
          Effect.map(Option.some),
          Effect.catchTag("LeaseError", () =>
            Effect.sync(() => {
              lost++
              return Option.none()
            })
          )
        )
        if (Option.isNone(renewed)) continue
        inFlight++
        maxInFlight = Math.max(maxInFlight, inFlight)
        writes.push({ page, holder })
        yield* Effect.sleep(2 + Math.floor(Math.random() * 8))
        inFlight--
        yield* wh.checkpoints.put({ key, cursor: String(page + 1), updatedAt: Date.now() })
        yield* wh.releaseLease(renewed.value)
      }
    })

  await Effect.runPromise(
    Effect.all(
      Array.from({ length: RUNNERS }, (_, i) => runner(`runner-${i}`)),
      { concurrency: "unbounded" }
    ).pipe(Effect.provide(layer))
  )
  const perPage = new Map<number, number>()
  for (const w of writes) perPage.set(w.page, (perPage.get(w.page) ?? 0) + 1)
  const twice = [...perPage].filter(([, n]) => n > 1).map(([p]) => p)
  const missing = Array.from({ length: PAGES }, (_, i) => i).filter((p) => !perPage.has(p))
  const holders = new Set(writes.map((w) => w.holder)).size
  return {
    check: CHECK,
    pass:
      twice.length === 0 &&
      missing.length === 0 &&
      maxInFlight === 1 &&
      writes.length === PAGES &&
      stalls > 0 &&
      lost > 0 &&
      defects.length === 0,
    figure: `${writes.length} writes for ${PAGES} pages by ${holders}/${RUNNERS} runners: ${twice.length} written twice, ${missing.length} missing, max ${maxInFlight} writer at once (${held} refused acquisitions, ${stalls} stalls past TTL, ${lost} lost leases kept from writing)${defects.length > 0 ? `; acquireLease died ${defects.length}× with a defect (${defects[0]})` : ""}`,
    details: { twice, missing, held, lost, stalls, defects: defects.slice(0, 5) }
  }
})
