import { DuckDbWarehouse } from "@kura/warehouse"
import { Effect, Layer, Option } from "effect"
import { describe, expect, it } from "vitest"
import { isDeadLocalHolder, LeaseManager, localHolder } from "../src/LeaseManager.js"

const key = { source: "shopify", account: "kura-matcha.myshopify.com", stream: "orders" }

const scenario = Effect.gen(function* () {
  const leases = yield* LeaseManager
  const first = yield* leases.acquire(key, "instance-a", 60_000)
  const second = yield* leases.acquire(key, "instance-b", 60_000)
  const other = yield* leases.acquire({ ...key, stream: "refunds" }, "instance-b", 60_000)
  if (Option.isSome(first)) yield* leases.release(first.value)
  const third = yield* leases.acquire(key, "instance-b", 60_000)
  // An expired lease no longer blocks the stream (a crashed holder).
  const short = yield* leases.acquire({ ...key, stream: "inventory" }, "crashed", 1)
  yield* Effect.sleep(20)
  const takeover = yield* leases.acquire({ ...key, stream: "inventory" }, "instance-a", 60_000)
  return [first, second, other, third, short, takeover].map(Option.isSome)
})

describe("LeaseManager", () => {
  for (const [name, layer] of [
    ["memory", LeaseManager.layerMemory],
    [
      "warehouse (DuckDB _kura_leases)",
      LeaseManager.layerWarehouse.pipe(Layer.provide(DuckDbWarehouse.layerMemory))
    ]
  ] as const)
    it(`${name}: one holder per stream, release and expiry free it`, async () => {
      const result = await Effect.runPromise(scenario.pipe(Effect.provide(layer)))
      expect(result).toEqual([true, false, true, true, true, true])
    })
})

describe("localHolder", () => {
  it("names each acquisition apart, so two runs in one process never share a lease", async () => {
    const result = await Effect.runPromise(
      Effect.gen(function* () {
        const leases = yield* LeaseManager
        // Two triggers of one `kura-sync serve` for the same stream (chaos check 5, part C).
        const a = yield* leases.acquire(key, localHolder(), 60_000)
        const b = yield* leases.acquire(key, localHolder(), 60_000)
        return [a, b].map(Option.isSome)
      }).pipe(Effect.provide(LeaseManager.layerWarehouse.pipe(Layer.provide(DuckDbWarehouse.layerMemory))))
    )
    expect(result).toEqual([true, false])
  })

  it("still recognises this process, a dead one and the older host-pid names", async () => {
    const { spawnSync } = await import("node:child_process")
    const { hostname } = await import("node:os")
    const deadPid = spawnSync(process.execPath, ["-e", "0"]).pid
    expect(isDeadLocalHolder(localHolder())).toBe(false)
    expect(isDeadLocalHolder(`${hostname()}-${deadPid}-3`)).toBe(true)
    expect(isDeadLocalHolder(`${hostname()}-${deadPid}`)).toBe(true)
    expect(isDeadLocalHolder(`${hostname()}-${process.ppid}-1`)).toBe(false)
    expect(isDeadLocalHolder(`elsewhere-${deadPid}-1`)).toBe(false)
  })
})

describe("LeaseManager.layerWarehouse on DuckDB", () => {
  it("reclaims a lease whose holder is a dead process on this host, but not a live one", async () => {
    const { spawnSync } = await import("node:child_process")
    const { hostname } = await import("node:os")
    // A pid that existed and is gone: a child that already exited.
    const deadPid = spawnSync(process.execPath, ["-e", "0"]).pid
    const result = await Effect.runPromise(
      Effect.gen(function* () {
        const leases = yield* LeaseManager
        const dead = yield* leases.acquire(key, `${hostname()}-${deadPid}`, 3_600_000)
        const reclaimed = yield* leases.acquire(key, "restarted", 60_000)
        // The parent of this test is alive: its lease must hold.
        const live = yield* leases.acquire(
          { ...key, stream: "refunds" },
          `${hostname()}-${process.ppid}`,
          60_000
        )
        const blocked = yield* leases.acquire({ ...key, stream: "refunds" }, "restarted", 60_000)
        return [dead, reclaimed, live, blocked].map(Option.isSome)
      }).pipe(Effect.provide(LeaseManager.layerWarehouse.pipe(Layer.provide(DuckDbWarehouse.layerMemory))))
    )
    expect(result).toEqual([true, true, true, false])
  })
})
