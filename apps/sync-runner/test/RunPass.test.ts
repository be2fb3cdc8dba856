/**
 * A `run` pass batches its bookkeeping on the warehouse (leases taken in one write, checkpoints
 * read in one query, costs written and leases released together at the end) without changing
 * what it guarantees: a stream held elsewhere is not run, every run is in the ledger with the
 * cursor it began at, cursors move only on committed runs, and the leases are free afterwards.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { CheckpointStore } from "@kura/core"
import { DuckDbWarehouse, LocalObjectStore, RawLake, Warehouse } from "@kura/warehouse"
import { Effect, Layer, Option, Stream } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { LeaseManager } from "../src/LeaseManager.js"
import { Metrics } from "../src/Metrics.js"
import { layerWarehouseLedger } from "../src/RunLedger.js"
import { StreamRunner } from "../src/StreamRunner.js"
import { SyncError, type SyncStream } from "../src/SyncStream.js"
import { ingest } from "../src/sources/Ingest.js"

const dir = mkdtempSync(join(tmpdir(), "kura-pass-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const account = "kura.myshopify.com"
const keyOf = (stream: string) => ({ source: "shopify" as const, account, stream })
const usage = {
  calls: 3,
  costRequested: 30,
  costActual: 12,
  throttled: 0,
  throttleWaits: 0,
  throttleWaitSeconds: 0,
  retries: 0
}

type Target = { warehouse: Warehouse["Service"]; lake: RawLake["Service"] }

/** A source stream through the ingest loop, ending at cursor `to`, costing `usage`. */
const ingesting =
  (stream: string, to: string) =>
  (target: Target): SyncStream => ({
    key: keyOf(stream),
    intervalMs: 60_000,
    run: (ctx) =>
      Effect.map(
        ingest({
          ctx,
          key: keyOf(stream),
          target,
          pages: () => Stream.make({ raw: [{ id: `${stream}-${to}` }], rows: {} }),
          finish: () => Effect.succeed({ cursor: to, reportedCount: 1 }),
          toError: (e: never) => e
        }),
        (r) => ({ ...r, api: usage })
      )
  })

/** A source stream that finds nothing new: its commit is handed to the pass. */
const quiet =
  (stream: string, to: string) =>
  (target: Target): SyncStream => ({
    key: keyOf(stream),
    intervalMs: 60_000,
    run: (ctx) =>
      ingest({
        ctx,
        key: keyOf(stream),
        target,
        pages: () => Stream.empty,
        finish: () => Effect.succeed({ cursor: to, reportedCount: 0 }),
        toError: (e: never) => e
      })
  })

/** A stream that keeps no ledger entry of its own: it commits through the runner's checkpoint. */
const plain = (stream: string, to: string): SyncStream => ({
  key: keyOf(stream),
  intervalMs: 60_000,
  run: (ctx) => Effect.as(ctx.commit(to), { rows: 1, reconciliation: "not-checked" as const })
})

/** A stream that fails before it reads anything. */
const broken = (stream: string): SyncStream => ({
  key: keyOf(stream),
  intervalMs: 60_000,
  run: () => Effect.fail(new SyncError({ reason: "Upstream", message: "shop query refused" }))
})

/** What a pass runs on, over the warehouse it is given, with its lake in `lake`. */
const passServices = (lake: string) =>
  Layer.mergeAll(
    Layer.effect(
      CheckpointStore,
      Effect.map(Effect.service(Warehouse), (w) => w.checkpoints)
    ),
    LeaseManager.layerWarehouse,
    Metrics.layer,
    layerWarehouseLedger,
    RawLake.layer.pipe(Layer.provide(LocalObjectStore.layer(join(dir, lake))))
  )

const layers = passServices("lake").pipe(
  Layer.provideMerge(DuckDbWarehouse.layer({ path: join(dir, "kura.duckdb") }))
)

const pass = (to: string, options: { readonly holdOrders?: boolean } = {}) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const warehouse = yield* Warehouse
      // Counts the commits the streams write themselves (the pass writes the handed-over ones).
      let ownCommits = 0
      const target = {
        warehouse: Warehouse.of({
          ...warehouse,
          commitRun: (input) =>
            Effect.suspend(() => {
              ownCommits++
              return warehouse.commitRun(input)
            })
        }),
        lake: yield* RawLake
      }
      const leases = yield* LeaseManager
      // Another instance holds `orders` for the whole pass.
      const foreign = options.holdOrders
        ? yield* leases.acquire(keyOf("orders"), "other-instance", 60_000)
        : Option.none()
      const runner = yield* StreamRunner.make([
        ingesting("customers", to)(target),
        ingesting("orders", to)(target),
        plain("products", to),
        broken("locations"),
        quiet("events", to)(target)
      ])
      const results = yield* runner.runNow({}, "cli")
      if (Option.isSome(foreign)) yield* leases.release(foreign.value)
      // Every lease of the pass is free again: another holder takes each at once.
      const after = yield* leases.acquireMany(
        ["customers", "orders", "products", "locations", "events"].map((s) => ({
          key: keyOf(s),
          holder: "next"
        })),
        1_000
      )
      yield* leases.releaseMany(after.flatMap((l) => Option.toArray(l)))
      const runs = yield* target.warehouse.listRuns()
      const cursors = yield* target.warehouse.checkpointsOf(
        ["customers", "orders", "products", "locations", "events"].map(keyOf)
      )
      return { results, after, runs, cursors, ownCommits }
    }).pipe(Effect.provide(layers))
  )

describe("a run pass on the warehouse", () => {
  it("skips a stream held elsewhere, ledgers every run with its starting cursor and cost, frees every lease", async () => {
    const first = await pass("c1", { holdOrders: true })
    expect(
      first.results.map((r) => ("_tag" in r ? `${r.key.stream}: busy` : `${r.key.stream}: ${r.status}`))
    ).toEqual([
      "customers: succeeded",
      "orders: busy",
      "products: succeeded",
      "locations: failed",
      "events: succeeded"
    ])
    expect(first.after.every(Option.isSome)).toBe(true)
    // Cursors moved only for the runs that committed; the held stream was not touched.
    expect([...first.cursors.entries()].map(([k, c]) => `${k}=${c.cursor}`).sort()).toEqual([
      `shopify/${account}/customers=c1`,
      `shopify/${account}/events=c1`,
      `shopify/${account}/products=c1`
    ])

    const second = await pass("c2")
    expect(second.results.map((r) => ("_tag" in r ? "busy" : r.status))).toEqual([
      "succeeded",
      "succeeded",
      "succeeded",
      "failed",
      "succeeded"
    ])
    const secondRuns = second.runs.filter((r) => !first.runs.some((f) => f.runId === r.runId))
    const byStream = Object.fromEntries(secondRuns.map((r) => [r.key.stream, r]))
    // Each entry records where its run began (read once for the pass) and what it cost.
    expect(byStream.customers).toMatchObject({ status: "complete", cursorBefore: "c1", cursorAfter: "c2" })
    expect(byStream.customers?.apiUsage).toEqual(usage)
    expect(byStream.orders).toMatchObject({ status: "complete", cursorBefore: null, cursorAfter: "c2" })
    expect(byStream.products).toMatchObject({ status: "complete", cursorBefore: "c1", cursorAfter: "c2" })
    expect(byStream.locations).toMatchObject({ status: "failed", cursorBefore: null })
    expect(byStream.locations?.detail).toContain("shop query refused")
    // Found nothing: committed with the pass's close, cursor moved, entry complete.
    expect(byStream.events).toMatchObject({
      status: "complete",
      cursorBefore: "c1",
      cursorAfter: "c2",
      rowsFetched: 0
    })
    expect(second.cursors.get(`shopify/${account}/events`)?.cursor).toBe("c2")
    // Runs that landed a few records whose count matches hand their commits to the pass too:
    // one transaction at its close instead of one per stream (each a turn on the connection).
    expect(second.ownCommits).toBe(0)
    expect(byStream.orders).toMatchObject({ rowsFetched: 1, rowsLoaded: 1 })
    expect(second.after.every(Option.isSome)).toBe(true)
  })
})

describe("a run pass opens its bookkeeping once for both phases", () => {
  it("closes the entry of a stream left out because its account's catalogue failed, and frees its lease", async () => {
    const out = await Effect.runPromise(
      Effect.gen(function* () {
        const target = { warehouse: yield* Warehouse, lake: yield* RawLake }
        const leases = yield* LeaseManager
        const runner = yield* StreamRunner.make([
          { ...broken("products"), catalogue: true },
          quiet("inventory_transfers", "t1")(target)
        ])
        const results = yield* runner.runNow({}, "cli")
        const after = yield* leases.acquireMany(
          ["products", "inventory_transfers"].map((s) => ({ key: keyOf(s), holder: "next" })),
          1_000
        )
        yield* leases.releaseMany(after.flatMap((l) => Option.toArray(l)))
        const runs = yield* target.warehouse.listRuns(keyOf("inventory_transfers"))
        const cursor = yield* target.warehouse.checkpoints.get(keyOf("inventory_transfers"))
        return { results, after, runs, cursor }
      }).pipe(Effect.provide(layers))
    )
    expect(out.results.map((r) => ("_tag" in r ? "busy" : `${r.key.stream}: ${r.status}`))).toEqual([
      "products: failed",
      "inventory_transfers: failed"
    ])
    // Its entry, opened with the pass, says why it did not run; it is not left running.
    expect(out.runs).toHaveLength(1)
    expect(out.runs[0]).toMatchObject({ status: "failed", cursorBefore: null })
    expect(out.runs[0]?.detail).toContain("not run: a catalogue stream")
    expect(Option.isNone(out.cursor)).toBe(true)
    expect(out.after.every(Option.isSome)).toBe(true)
  })

  it("renews the second phase's leases when the catalogue phase outlasted a third of their TTL", async () => {
    // TTL 3 s; the catalogue takes 2.6 s. The other stream starts at ~2.6 s and its own
    // heartbeat first renews at ~3.6 s, so the lease taken when the pass opened (expiring at
    // 3 s) must have been renewed before it started, or a second runner gets in at ~3.3 s.
    // (Twice the session-5 timings: 150 ms of slack for the renewal failed once on a loaded box.)
    const out = await Effect.runPromise(
      Effect.gen(function* () {
        const leases = yield* LeaseManager
        let intruder: Option.Option<unknown> = Option.none()
        const slowCatalogue: SyncStream = {
          key: keyOf("locations"),
          intervalMs: 60_000,
          catalogue: true,
          run: () => Effect.as(Effect.sleep(2_600), { rows: 0, reconciliation: "not-checked" as const })
        }
        const probing: SyncStream = {
          key: keyOf("purchase_orders"),
          intervalMs: 60_000,
          run: () =>
            Effect.gen(function* () {
              yield* Effect.sleep(700)
              intruder = yield* leases.acquire(keyOf("purchase_orders"), "second-runner", 60_000)
              return { rows: 0, reconciliation: "not-checked" as const }
            })
        }
        const runner = yield* StreamRunner.make([slowCatalogue, probing], { leaseTtlMs: 3_000 })
        const results = yield* runner.runNow({}, "cli")
        if (Option.isSome(intruder)) yield* leases.release(intruder.value as never)
        return { results, intruder }
      }).pipe(Effect.provide(layers))
    )
    expect(Option.isNone(out.intruder)).toBe(true)
    expect(out.results.map((r) => ("_tag" in r ? "busy" : r.status))).toEqual(["succeeded", "succeeded"])
  })
})

describe("a run pass writes its ledger entries while its streams already fetch", () => {
  it("starts the streams before the opening write ends, and commits only after it", async () => {
    const events: Array<string> = []
    // The warehouse as the ledger sees it: opening the entries takes 400 ms.
    const slowOpening = Layer.effect(
      Warehouse,
      Effect.map(Effect.service(Warehouse), (w) =>
        Warehouse.of({
          ...w,
          startRuns: (runs) =>
            Effect.sleep(400).pipe(
              Effect.andThen(w.startRuns(runs)),
              Effect.tap(() => Effect.sync(() => events.push("entries opened")))
            ),
          commitRuns: (inputs) =>
            Effect.sync(() => events.push("commit")).pipe(Effect.andThen(w.commitRuns(inputs)))
        })
      )
    )
    const slowLayers = passServices("lake-slow").pipe(
      Layer.provideMerge(slowOpening),
      Layer.provideMerge(DuckDbWarehouse.layer({ path: join(dir, "slow.duckdb") }))
    )
    const started = (stream: SyncStream): SyncStream => ({
      ...stream,
      run: (ctx) =>
        Effect.sync(() => events.push(`${stream.key.stream} started`)).pipe(Effect.andThen(stream.run(ctx)))
    })
    const out = await Effect.runPromise(
      Effect.gen(function* () {
        const target = { warehouse: yield* Warehouse, lake: yield* RawLake }
        const runner = yield* StreamRunner.make([
          started(ingesting("orders", "o1")(target)),
          started(quiet("events", "e1")(target))
        ])
        const results = yield* runner.runNow({}, "cli")
        return { results, runs: yield* target.warehouse.listRuns() }
      }).pipe(Effect.provide(slowLayers))
    )
    expect(out.results.map((r) => ("_tag" in r ? "busy" : `${r.key.stream}: ${r.status}`))).toEqual([
      "orders: succeeded",
      "events: succeeded"
    ])
    // Both streams ran while the entries were still being written; the commit came after them.
    expect(events.indexOf("orders started")).toBeLessThan(events.indexOf("entries opened"))
    expect(events.indexOf("events started")).toBeLessThan(events.indexOf("entries opened"))
    expect(events.indexOf("entries opened")).toBeLessThan(events.indexOf("commit"))
    // The late opening did not overwrite the commits: both entries are complete, not running.
    expect(out.runs.map((r) => `${r.key.stream}: ${r.status} ${r.cursorAfter}`).sort()).toEqual([
      "events: complete e1",
      "orders: complete o1"
    ])
    expect(out.runs.every((r) => r.finishedAt !== null && r.finishedAt >= r.startedAt)).toBe(true)
  })
})
