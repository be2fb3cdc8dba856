import { CheckpointStore } from "@kura/core"
import { Effect, Layer, Option } from "effect"
import { describe, expect, it } from "vitest"
import { LeaseManager } from "../src/LeaseManager.js"
import { Metrics } from "../src/Metrics.js"
import { RunLedger } from "../src/RunLedger.js"
import { StreamRunner } from "../src/StreamRunner.js"
import { SyncError, type SyncStream } from "../src/SyncStream.js"

const key = { source: "demo" as const, account: "test", stream: "stubborn" }

/** Pages every 50 ms and commits, but ignores the drain signal. */
const stubborn: SyncStream = {
  key,
  intervalMs: 60_000,
  run: (ctx) =>
    Effect.gen(function* () {
      for (let page = 1; page <= 1000; page++) {
        yield* Effect.sleep(50)
        yield* ctx.commit(String(page))
      }
      return { rows: 1000, reconciliation: "ok" as const }
    })
}

const layers = Layer.mergeAll(
  CheckpointStore.layerMemory,
  RunLedger.layerMemory(),
  LeaseManager.layerMemory,
  Metrics.layer
)

describe("StreamRunner.drain", () => {
  it("interrupts a run that ignores the drain signal after the timeout, records it and frees the lease", async () => {
    const result = await Effect.runPromise(
      Effect.gen(function* () {
        const runner = yield* StreamRunner.make([stubborn])
        const started = yield* runner.start({}, "http")
        yield* Effect.sleep(300)
        const t0 = Date.now()
        const drained = yield* runner.drain(250)
        const elapsed = Date.now() - t0
        const ledger = yield* RunLedger
        const runs = yield* ledger.list()
        const checkpoint = yield* (yield* CheckpointStore).get(key)
        const lease = yield* (yield* LeaseManager).acquire(key, "someone-else", 1000)
        // New work is refused once draining.
        const after = yield* runner.start({}, "http")
        return { started, drained, elapsed, runs, checkpoint, lease, after }
      }).pipe(Effect.provide(layers))
    )
    expect(result.started.map((s) => s._tag)).toEqual(["Started"])
    expect(result.drained).toEqual({ completed: 0, interrupted: 1 })
    // Far below the run's own 50 s, with room for a loaded box (a 1 s bound is a wall-clock guess).
    expect(result.elapsed).toBeLessThan(10_000)
    expect(result.runs[0]).toMatchObject({ status: "interrupted", error: "interrupted during shutdown" })
    // Pages committed before the interruption stay committed: the next run resumes there.
    expect(Number(Option.getOrThrow(result.checkpoint).cursor)).toBeGreaterThanOrEqual(4)
    expect(Option.isSome(result.lease)).toBe(true)
    expect(result.after.map((s) => s._tag)).toEqual(["Draining"])
  })

  it("records failures with their reason and keeps the last good checkpoint", async () => {
    const flaky: SyncStream = {
      key: { ...key, stream: "flaky" },
      intervalMs: 60_000,
      run: (ctx) =>
        Effect.gen(function* () {
          yield* ctx.commit("page-1")
          return yield* Effect.die(new Error("decoder exploded"))
        })
    }
    const result = await Effect.runPromise(
      Effect.gen(function* () {
        const runner = yield* StreamRunner.make([flaky])
        const records = yield* runner.runNow({ stream: "flaky" }, "cli")
        const checkpoint = yield* (yield* CheckpointStore).get(flaky.key)
        return { records, checkpoint }
      }).pipe(Effect.provide(layers))
    )
    expect(result.records[0]).toMatchObject({ status: "failed", error: "decoder exploded" })
    expect(Option.getOrThrow(result.checkpoint).cursor).toBe("page-1")
  })
})

describe("StreamRunner lease heartbeat", () => {
  const slow = (pages: number): SyncStream => ({
    key: { ...key, stream: "slow" },
    intervalMs: 60_000,
    run: (ctx) =>
      Effect.gen(function* () {
        for (let page = 1; page <= pages; page++) {
          yield* Effect.sleep(150)
          yield* ctx.commit(String(page))
        }
        return { rows: pages, reconciliation: "ok" as const }
      })
  })

  it("renews a short lease while a run outlasts it, so no second runner gets in", async () => {
    const result = await Effect.runPromise(
      Effect.gen(function* () {
        // Renewed every 300 ms: a loaded box (load 20+) starved the 50 ms renewals of a 150 ms
        // lease long enough to let the intruder in; this keeps 600 ms of slack per renewal.
        const runner = yield* StreamRunner.make([slow(12)], { leaseTtlMs: 900 })
        yield* runner.start({}, "http")
        const leases = yield* LeaseManager
        // 500 ms past the TTL: without renewal the lease would have expired by now.
        yield* Effect.sleep(1400)
        const intruder = yield* leases.acquire({ ...key, stream: "slow" }, "other-instance", 1000)
        yield* runner.drain(4000)
        const runs = yield* (yield* RunLedger).list()
        return { intruder: Option.isSome(intruder), runs }
      }).pipe(Effect.provide(layers))
    )
    expect(result.intruder).toBe(false)
    expect(result.runs[0]).toMatchObject({ status: "succeeded", rows: 12 })
  })

  it("stops a run whose lease was taken over instead of writing beside the new holder", async () => {
    const stolen = Layer.succeed(
      LeaseManager,
      LeaseManager.of({
        acquire: (k, holder, ttlMs) =>
          Effect.succeed(Option.some({ key: k, holder, expiresAt: Date.now() + ttlMs })),
        acquireMany: (requests, ttlMs) =>
          Effect.succeed(
            requests.map((r) => Option.some({ key: r.key, holder: r.holder, expiresAt: Date.now() + ttlMs }))
          ),
        // Another instance took the stream over: every renewal is refused.
        renew: () => Effect.succeed(Option.none()),
        release: () => Effect.void,
        releaseMany: () => Effect.void
      })
    )
    const runs = await Effect.runPromise(
      Effect.gen(function* () {
        const runner = yield* StreamRunner.make([slow(40)], { leaseTtlMs: 90 })
        yield* runner.runNow({}, "http")
        return yield* (yield* RunLedger).list()
      }).pipe(
        Effect.provide(
          Layer.mergeAll(CheckpointStore.layerMemory, RunLedger.layerMemory(), stolen, Metrics.layer)
        )
      )
    )
    expect(runs[0]?.status).toBe("failed")
    expect(runs[0]?.error).toContain("was lost")
  })
})

describe("StreamRunner.runNow ordering", () => {
  it("runs catalogue streams to the end before any other stream of the pass starts", async () => {
    const events: Array<string> = []
    const stream = (name: string, catalogue: boolean, ms: number): SyncStream => ({
      key: { ...key, stream: name },
      intervalMs: 60_000,
      ...(catalogue ? { catalogue: true } : {}),
      run: () =>
        Effect.gen(function* () {
          events.push(`start ${name}`)
          yield* Effect.sleep(ms)
          events.push(`end ${name}`)
          return { rows: 1, reconciliation: "ok" as const }
        })
    })
    // Listed first, and quick: without phases they would start alongside the catalogue.
    const streams = [
      stream("purchase_orders", false, 10),
      stream("products", true, 150),
      stream("locations", true, 50)
    ]
    const results = await Effect.runPromise(
      Effect.gen(function* () {
        const runner = yield* StreamRunner.make(streams)
        return yield* runner.runNow({}, "cli")
      }).pipe(Effect.provide(layers))
    )
    expect(results.map((r) => r.key.stream)).toEqual(["purchase_orders", "products", "locations"])
    const firstOther = events.indexOf("start purchase_orders")
    expect(firstOther).toBeGreaterThan(events.indexOf("end products"))
    expect(firstOther).toBeGreaterThan(events.indexOf("end locations"))
  })

  it("keeps an account's other streams for the next pass when its catalogue failed", async () => {
    const ran: Array<string> = []
    const stream = (account: string, name: string, catalogue: boolean, fails = false): SyncStream => ({
      key: { ...key, account, stream: name },
      intervalMs: 60_000,
      ...(catalogue ? { catalogue: true } : {}),
      run: () =>
        Effect.gen(function* () {
          ran.push(`${account}/${name}`)
          if (fails)
            return yield* Effect.fail(new SyncError({ reason: "Upstream", message: "products failed" }))
          return { rows: 1, reconciliation: "ok" as const }
        })
    })
    const results = await Effect.runPromise(
      Effect.gen(function* () {
        const runner = yield* StreamRunner.make([
          stream("shop-a", "products", true, true),
          stream("shop-a", "purchase_orders", false),
          stream("shop-b", "products", true),
          stream("shop-b", "purchase_orders", false)
        ])
        return yield* runner.runNow({}, "cli")
      }).pipe(Effect.provide(layers))
    )
    expect(ran.sort()).toEqual(["shop-a/products", "shop-b/products", "shop-b/purchase_orders"])
    const skipped = results.find((r) => r.key.account === "shop-a" && r.key.stream === "purchase_orders")
    expect(skipped).toMatchObject({ status: "failed", error: expect.stringContaining("not run") })
  })
})

describe("StreamRunner: a failed run's API cost", () => {
  it("keeps what a failed run spent on the API in its ledger entry", async () => {
    const { MetricNames, MetricsRegistry } = await import("@kura/core")
    const { withApiUsage } = await import("../src/ApiUsage.js")
    const failing: SyncStream = {
      key: { source: "demo", account: "test", stream: "spends-then-fails" },
      intervalMs: 60_000,
      run: (ctx) =>
        withApiUsage(
          new MetricsRegistry(),
          (registry) =>
            Effect.gen(function* () {
              // Three calls and a retry reached the API before the upstream gave up.
              registry.increment(MetricNames.requests, {}, 3)
              registry.increment(MetricNames.retries)
              return yield* Effect.fail(new SyncError({ reason: "Upstream", message: "503 after retries" }))
            }),
          ctx.reportApiUsage
        ).pipe(Effect.map(([result]) => result))
    }
    const runs = await Effect.runPromise(
      Effect.gen(function* () {
        const runner = yield* StreamRunner.make([failing])
        yield* runner.runNow({}, "http")
        return yield* (yield* RunLedger).list()
      }).pipe(Effect.provide(layers))
    )
    expect(runs[0]).toMatchObject({
      status: "failed",
      api: expect.objectContaining({ calls: 3, retries: 1 })
    })
  })
})

describe("StreamRunner afterRun (redactions re-applied)", () => {
  const quick = (stream: string): SyncStream => ({
    key: { ...key, stream },
    intervalMs: 60_000,
    run: (ctx) => Effect.as(ctx.commit("1"), { rows: 1, reconciliation: "ok" as const })
  })

  it("runs once after a runNow pass, after every stream's record is written", async () => {
    const seen: Array<number> = []
    const result = await Effect.runPromise(
      Effect.gen(function* () {
        const ledger = yield* RunLedger
        const afterRun = Effect.flatMap(ledger.list(), (runs) =>
          Effect.sync(() => seen.push(runs.filter((r) => r.status === "succeeded").length))
        )
        const runner = yield* StreamRunner.make([quick("a"), quick("b")], { afterRun })
        return yield* runner.runNow({}, "cli")
      }).pipe(Effect.provide(layers))
    )
    expect(result.map((r) => ("status" in r ? r.status : r._tag))).toEqual(["succeeded", "succeeded"])
    expect(seen).toEqual([2])
  })

  it("runs once after each started pass, one at a time, after the pass's records are written", async () => {
    let running = 0
    let most = 0
    const seen: Array<number> = []
    const outcomes: Array<ReadonlyArray<string>> = []
    await Effect.runPromise(
      Effect.gen(function* () {
        const ledger = yield* RunLedger
        const afterRun = Effect.gen(function* () {
          running++
          most = Math.max(most, running)
          const runs = yield* ledger.list()
          seen.push(runs.filter((r) => r.status === "succeeded").length)
          yield* Effect.sleep(30)
          running--
        })
        const runner = yield* StreamRunner.make([quick("a"), quick("b"), quick("c")], { afterRun })
        // One trigger of all three streams is one pass (one afterRun); two single-stream
        // triggers are two more, and their afterRuns never overlap.
        for (const [i, selector] of [{}, { stream: "a" }, { stream: "b" }].entries()) {
          const started = yield* runner.start(selector, "schedule")
          outcomes.push(started.map((o) => o._tag))
          // Until this pass's afterRun has run (a drain would refuse every later start).
          yield* Effect.gen(function* () {
            while (seen.length <= i || running > 0) yield* Effect.sleep(5)
          }).pipe(Effect.timeout(10_000))
        }
        yield* runner.drain(5_000)
      }).pipe(Effect.provide(layers))
    )
    expect(outcomes).toEqual([["Started", "Started", "Started"], ["Started"], ["Started"]])
    expect(seen).toEqual([3, 4, 5])
    expect(most).toBe(1)
  })
})
