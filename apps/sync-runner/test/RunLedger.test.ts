/**
 * The run history is the warehouse's `_kura_sync_runs`: runs committed through the ledger by the
 * ingest loop, read back by the status report, with a count mismatch leaving the cursor alone.
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
import { layerWarehouseLedger, RunLedger } from "../src/RunLedger.js"
import { buildStatusReport } from "../src/StatusReport.js"
import { StreamRunner } from "../src/StreamRunner.js"
import type { SyncStream } from "../src/SyncStream.js"
import { ingest } from "../src/sources/Ingest.js"

const dir = mkdtempSync(join(tmpdir(), "kura-ledger-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const key = { source: "shopify" as const, account: "kura.myshopify.com", stream: "customers" }

/**
 * A stream landing `records` customers, ending at cursor `to`, whose API claims `reported`.
 * The cursor it reads is checked against the committed one, as a real stream would resume.
 */
const customers =
  (records: number, reported: number | null, to: string) =>
  (target: { warehouse: Warehouse["Service"]; lake: RawLake["Service"] }): SyncStream => ({
    key,
    intervalMs: 60_000,
    run: (ctx) =>
      ingest({
        ctx,
        key,
        target,
        pages: () =>
          Stream.make({ raw: Array.from({ length: records }, (_, i) => ({ id: `c${to}-${i}` })), rows: {} }),
        finish: () => Effect.succeed({ cursor: to, reportedCount: reported }),
        toError: (e: never) => e
      })
  })

/** What the runner needs, over `warehouse`, with its lake in `lake` under the test's directory. */
const runnerLayersOver = <E, R>(warehouse: Layer.Layer<Warehouse, E, R>, lake: string) =>
  Layer.mergeAll(
    Layer.effect(
      CheckpointStore,
      Effect.map(Effect.service(Warehouse), (w) => w.checkpoints)
    ),
    LeaseManager.layerMemory,
    Metrics.layer,
    layerWarehouseLedger,
    RawLake.layer.pipe(Layer.provide(LocalObjectStore.layer(join(dir, lake))))
  ).pipe(Layer.provideMerge(warehouse))

const runnerLayers = runnerLayersOver(DuckDbWarehouse.layer({ path: join(dir, "kura.duckdb") }), "lake")

/** One `run` through the runner, as the CLI does it, in its own process-like scope. */
const runOnce = (
  make: (target: { warehouse: Warehouse["Service"]; lake: RawLake["Service"] }) => SyncStream
) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const stream = make({ warehouse: yield* Warehouse, lake: yield* RawLake })
      const runner = yield* StreamRunner.make([stream])
      const [record] = yield* runner.runNow({}, "cli")
      const report = yield* buildStatusReport([key], [])
      const runs = yield* (yield* Warehouse).listRuns(key)
      const checkpoint = yield* (yield* CheckpointStore).get(key)
      return { record, report, runs, checkpoint }
    }).pipe(Effect.provide(runnerLayers))
  )

describe("run history in the warehouse ledger", () => {
  it("records cursors, the API's count and rows per run; a mismatch is incomplete and keeps the cursor", async () => {
    const first = await runOnce(customers(3, 3, "t1"))
    expect(first.record).toMatchObject({ status: "succeeded", reconciliation: "ok", rows: 3 })
    expect(first.runs.at(-1)).toMatchObject({
      status: "complete",
      cursorBefore: null,
      cursorAfter: "t1",
      reportedCount: 3,
      rowsFetched: 3,
      rowsLoaded: 3
    })
    expect(first.report.streams[0]).toMatchObject({
      stream: "shopify/kura.myshopify.com/customers",
      cursor: "t1",
      lastStatus: "succeeded",
      reconciliation: "ok",
      lastRun: { cursorBefore: null, cursorAfter: "t1", reportedCount: 3, rowsFetched: 3, rowsLoaded: 3 }
    })

    // The API says 5 but only 4 arrived: the run is incomplete and the cursor stays at t1.
    const second = await runOnce(customers(4, 5, "t2"))
    expect(second.record).toMatchObject({ status: "failed", rows: 0 })
    expect(second.runs.at(-1)).toMatchObject({
      status: "incomplete",
      cursorBefore: "t1",
      cursorAfter: "t2",
      reportedCount: 5,
      rowsLoaded: 4
    })
    expect(Option.getOrThrow(second.checkpoint).cursor).toBe("t1")
    // Status, `/` and the due check read the same ledger: a mismatch, with the ledger's reason.
    expect(second.report.streams[0]).toMatchObject({
      cursor: "t1",
      lastStatus: "failed",
      reconciliation: "mismatch",
      errors: 1,
      lastRun: { cursorBefore: "t1", reportedCount: 5, rowsFetched: 4, rowsLoaded: 4 }
    })
    expect(second.report.streams[0]?.lastError).toContain("API reported 5 records but 4 were loaded")

    // A stream that fails outright is a failed run with its error; the cursor still stays.
    const third = await runOnce((target) => ({
      ...customers(0, null, "t3")(target),
      run: () => Effect.die(new Error("boom"))
    }))
    expect(third.runs.at(-1)).toMatchObject({ status: "failed", detail: expect.stringContaining("boom") })
    expect(Option.getOrThrow(third.checkpoint).cursor).toBe("t1")
    expect(third.report.streams[0]).toMatchObject({ lastStatus: "failed", errors: 2 })
  })

  it("stores what each run cost the API on its ledger entry; a later process reads it back", async () => {
    const usage = {
      calls: 7,
      costRequested: 412,
      costActual: 340.5,
      throttled: 2,
      throttleWaits: 2,
      throttleWaitSeconds: 1.25,
      retries: 1
    }
    const costly =
      (records: number, to: string) =>
      (target: { warehouse: Warehouse["Service"]; lake: RawLake["Service"] }): SyncStream => {
        const base = customers(records, records, to)(target)
        return { ...base, run: (ctx) => Effect.map(base.run(ctx), (r) => ({ ...r, api: usage })) }
      }
    const run = await runOnce(costly(2, "t4"))
    expect(run.record).toMatchObject({ status: "succeeded", api: usage })
    expect(run.runs.at(-1)).toMatchObject({ status: "complete", cursorAfter: "t4", apiUsage: usage })
    const runId = run.runs.at(-1)!.runId

    // Another process (fresh layers, nothing in memory) sees the cost from the ledger alone.
    const seen = await Effect.runPromise(
      Effect.gen(function* () {
        const w = yield* Warehouse
        const ledger = yield* RunLedger
        const listed = yield* ledger.list()
        const view = yield* w.query(
          `SELECT api_calls, cost_requested, cost_actual, throttled, throttle_waits, throttle_wait_seconds, retries, rows_loaded, cost_per_row FROM "v_api_usage" WHERE run_id = $run`,
          { run: runId }
        )
        const report = yield* w.reconcile
        return { listed, view, report }
      }).pipe(Effect.provide(runnerLayers))
    )
    expect(seen.listed.find((r) => r.runId === runId)?.api).toEqual(usage)
    // Runs that recorded no cost (the earlier ones) have none, rather than zeros.
    expect(seen.listed.filter((r) => r.api !== undefined).length).toBe(1)
    expect(seen.view).toHaveLength(1)
    // The DuckDB adapter returns BIGINT as text (exact), floats as numbers.
    expect(seen.view[0]).toEqual({
      api_calls: "7",
      cost_requested: 412,
      cost_actual: 340.5,
      throttled: "2",
      throttle_waits: "2",
      throttle_wait_seconds: 1.25,
      retries: "1",
      rows_loaded: "2",
      cost_per_row: 170.25
    })
    expect(seen.report.sourceReconciliation.find((r) => r.runId === runId)?.apiUsage).toEqual(usage)
  })

  it("keeps only the newest runs of each stream in memory, not every run of the process", async () => {
    const other = { ...key, stream: "products" }
    const listed = await Effect.runPromise(
      Effect.gen(function* () {
        const ledger = yield* RunLedger
        // Running runs write nothing to the warehouse: `list` sees them only in the process's memory.
        for (let i = 0; i < 200; i++)
          yield* ledger.record({
            runId: `mem-${String(i).padStart(3, "0")}`,
            key,
            trigger: "schedule",
            startedAt: 1_000 + i,
            status: "running",
            rows: 0,
            reconciliation: "not-checked"
          })
        yield* ledger.record({
          runId: "mem-other",
          key: other,
          trigger: "http",
          startedAt: 5_000,
          status: "running",
          rows: 0,
          reconciliation: "not-checked"
        })
        return yield* ledger.list()
      }).pipe(Effect.provide(runnerLayersOver(DuckDbWarehouse.layerMemory, "lake-mem")))
    )
    const mine = listed.filter((r) => r.runId.startsWith("mem-0") || r.runId.startsWith("mem-1"))
    // The newest 60 of the 200 (the ledger shows at most 50 a stream), newest first.
    expect(mine).toHaveLength(60)
    expect(mine[0]?.runId).toBe("mem-199")
    expect(mine.at(-1)?.runId).toBe("mem-140")
    // Another stream's runs are not pushed out by this one's.
    expect(listed.find((r) => r.runId === "mem-other")?.trigger).toBe("http")
  })

  it("a pass's deferred commits carry their runs' costs: no cost statement of their own", async () => {
    const usage = {
      calls: 3,
      costRequested: 12,
      costActual: 10,
      throttled: 0,
      throttleWaits: 0,
      throttleWaitSeconds: 0,
      retries: 0
    }
    // The warehouse the pass writes to, with its cost writes counted.
    const costWrites: Array<number> = []
    const counted = Layer.effect(
      Warehouse,
      Effect.map(Effect.service(Warehouse), (w) =>
        Warehouse.of({
          ...w,
          recordRunUsage: (...args) => {
            costWrites.push(1)
            return w.recordRunUsage(...args)
          },
          recordRunUsages: (entries) => {
            costWrites.push(entries.length)
            return w.recordRunUsages(entries)
          }
        })
      )
    ).pipe(Layer.provide(DuckDbWarehouse.layer({ path: join(dir, "costs.duckdb") })))
    const layers = runnerLayersOver(counted, "lake-costs")
    const { record, runs } = await Effect.runPromise(
      Effect.gen(function* () {
        const target = { warehouse: yield* Warehouse, lake: yield* RawLake }
        const base = customers(2, 2, "c1")(target)
        const runner = yield* StreamRunner.make([
          { ...base, run: (ctx) => Effect.map(base.run(ctx), (r) => ({ ...r, api: usage })) }
        ])
        const [record] = yield* runner.runNow({}, "cli")
        return { record, runs: yield* (yield* Warehouse).listRuns(key) }
      }).pipe(Effect.provide(layers))
    )
    expect(record).toMatchObject({ status: "succeeded", api: usage })
    expect(runs.at(-1)).toMatchObject({ status: "complete", cursorAfter: "c1", apiUsage: usage })
    expect(costWrites).toEqual([])
  })
})
