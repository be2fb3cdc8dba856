import { DuckDbWarehouse } from "@kura/warehouse"
import { Effect, Layer, Option } from "effect"
import { describe, expect, it } from "vitest"
import { LeaseManager } from "../src/LeaseManager.js"

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
