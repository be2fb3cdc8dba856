/**
 * The real source streams against the in-process sandbox, into a temp DuckDB and a temp lake:
 * ground-truth ties, incremental re-runs, fault profiles and the mismatch guard.
 */
import { createHash } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type Sandbox, startSandbox } from "@kura/sandbox"
import { CanonicalTables, DuckDbWarehouse, LocalObjectStore, RawLake, Warehouse } from "@kura/warehouse"
import { Effect, Layer, Option, Redacted } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { sandboxLightspeedAccount } from "../../src/demo/DemoSandbox.js"
import { type DemoReport, runDemoWith, runStreamOnce } from "../../src/demo/runDemo.js"
import type { RunResult, SyncError } from "../../src/SyncStream.js"
import { makeLightspeedStreams } from "../../src/sources/LightspeedStreams.js"
import { makeShopifyStreams, settleCount } from "../../src/sources/ShopifyStreams.js"
import { forwardRequest } from "../support.js"

const root = mkdtempSync(join(tmpdir(), "kura-sources-"))
afterAll(() => rmSync(root, { recursive: true, force: true }))
let dirs = 0

const SANDBOX = { seed: 11, scale: 120, historyDays: 6, timeScale: 20 } as const

/** Fresh DuckDB file + lake directory. */
const target = () => {
  const dir = join(root, `t${dirs++}`)
  return Layer.mergeAll(
    DuckDbWarehouse.layer({ path: join(dir, "kura.duckdb") }),
    RawLake.layer.pipe(Layer.provide(LocalObjectStore.layer(join(dir, "lake"))))
  )
}

// Columns that say when Kura fetched a row, not what the source said.
const VOLATILE = new Set(["_synced_at", "_batch_id", "observed_at", "updated_at"])

/** Row count and an order-independent content hash per canonical table. */
const fingerprint = Effect.gen(function* () {
  const w = yield* Warehouse
  const out: Record<string, { rows: number; hash: string }> = {}
  for (const table of Object.keys(CanonicalTables)) {
    const rows = yield* w.query(`SELECT * FROM ${table}`)
    const lines = rows
      .map((r) =>
        JSON.stringify(
          Object.keys(r)
            .filter((k) => !VOLATILE.has(k))
            .sort()
            .map((k) => {
              const v = r[k]
              return v === null || v === undefined
                ? null
                : typeof v === "object" || typeof v === "bigint"
                  ? String(v)
                  : v
            })
        )
      )
      .sort()
    out[table] = {
      rows: rows.length,
      hash: createHash("sha256").update(lines.join("\n")).digest("hex").slice(0, 16)
    }
  }
  return out
})

/** Syncs until every stream succeeded (a scheduler re-runs failed streams the same way). */
const syncAll = (sandbox: Sandbox, attempts = 8) =>
  Effect.gen(function* () {
    let report: DemoReport | undefined
    for (let i = 0; i < attempts; i++) {
      // Paged reads: a bulk job start is a mutation, which the client (rightly) does not blindly retry.
      report = yield* runDemoWith(sandbox, {
        progress: () => {},
        sourceOverrides: {
          shopifyBulkThresholdMs: Number.MAX_SAFE_INTEGER,
          shopifyBulkMinRecords: Number.MAX_SAFE_INTEGER
        }
      })
      if (report.streams.every((s) => s.status === "ok")) break
    }
    return report as DemoReport
  })

// Tests that only read from the default sandbox share one (each writes to its own warehouse).
let shared: Promise<Sandbox> | undefined
afterAll(async () => {
  if (shared !== undefined) await (await shared).close()
})
const withSharedSandbox = async <A>(f: (s: Sandbox) => Promise<A>) => {
  shared ??= startSandbox(SANDBOX)
  return f(await shared)
}

const withSandbox = async <A>(options: Parameters<typeof startSandbox>[0], f: (s: Sandbox) => Promise<A>) => {
  const sandbox = await startSandbox({ ...SANDBOX, ...options })
  try {
    return await f(sandbox)
  } finally {
    await sandbox.close()
  }
}

/** The Lightspeed sales stream of the sandbox's account, one business day a batch, from `daysBack` days before its anchor. */
const salesStreamOf = (sandbox: Sandbox, warehouse: Warehouse["Service"], daysBack: number) =>
  Effect.gen(function* () {
    const lake = yield* RawLake
    const streams = makeLightspeedStreams(
      sandboxLightspeedAccount(sandbox.lightspeed),
      {
        warehouse,
        lake,
        sandbox: true,
        lightspeedDaysPerBatch: 1,
        lightspeedFromDate: new Date(sandbox.merchant.options.anchor - daysBack * 86_400_000)
          .toISOString()
          .slice(0, 10)
      },
      () => 60_000
    )
    const sales = streams.find((s) => s.key.stream === "sales")
    if (sales === undefined) throw new Error("no sales stream")
    return sales
  })

describe("source streams against the sandbox", () => {
  it("a full sync ties to the ground truth; a re-run is incremental and changes nothing", async () => {
    await withSharedSandbox((sandbox) =>
      Effect.runPromise(
        Effect.gen(function* () {
          const first = yield* runDemoWith(sandbox, { progress: () => {} })
          expect(first.streams.filter((s) => s.status !== "ok")).toEqual([])
          expect(first.incremental).toBe(false)
          expect(first.reconciliation.loaded.onlineOrders).toBe(sandbox.groundTruth().counts.onlineOrders)
          expect(first.reconciliation.matchesGroundTruth).toBe(true)
          expect(
            first.streams.find((s) => s.key.endsWith("/orders") && s.key.startsWith("shopify"))?.tied
          ).toBe(true)
          // Every Shopify transfer exactly once (a windowed read repeated them per bulk slice).
          const transfers = sandbox.merchant.stockTransfers.filter((t) => t.system === "shopify").length
          expect(first.streams.find((s) => s.key.endsWith("/inventory_transfers"))?.rows).toBe(transfers)
          const baseline = yield* fingerprint
          expect(baseline.orders?.rows).toBeGreaterThan(0)
          expect(baseline.suppliers?.rows).toBeGreaterThan(0)

          const second = yield* runDemoWith(sandbox, { progress: () => {} })
          expect(second.incremental).toBe(true)
          expect(second.streams.filter((s) => s.status !== "ok")).toEqual([])
          expect(second.reconciliation.matchesGroundTruth).toBe(true)
          // Incremental transfers: only new and still-open ones are re-read (closed ones never change).
          const open = sandbox.merchant.stockTransfers.filter(
            (t) => t.system === "shopify" && t.receivedAt === null
          ).length
          expect(second.streams.find((s) => s.key.endsWith("/inventory_transfers"))?.rows).toBe(open)
          // Incremental: only the look-back overlap is re-read (the first run's bulk export is not repeated).
          const ordersOf = (r: DemoReport) =>
            r.streams.find((s) => s.key.startsWith("shopify") && s.key.endsWith("/orders"))?.rows ?? -1
          expect(ordersOf(second)).toBeLessThan(ordersOf(first) / 2)
          expect(second.api.shopify.calls).toBeLessThanOrEqual(first.api.shopify.calls)
          // Shopify bills cost points: the full sync spent them, the incremental pass far fewer.
          expect(first.api.shopify.costActual).toBeGreaterThan(0)
          expect(first.api.shopify.costRequested).toBeGreaterThanOrEqual(first.api.shopify.costActual)
          expect(second.api.shopify.costActual).toBeLessThan(first.api.shopify.costActual)
          expect(yield* fingerprint).toEqual(baseline)
        }).pipe(Effect.provide(target()))
      )
    )
  })

  it("the flaky and chaos fault profiles end with tables identical to none", async () => {
    // Smaller than the other tests: three full syncs, several of them retried.
    const prints = (faults: "none" | "flaky" | "chaos") =>
      withSandbox({ faults, scale: 40, historyDays: 2 }, (sandbox) =>
        Effect.runPromise(
          Effect.gen(function* () {
            const report = yield* syncAll(sandbox)
            expect(report.streams.filter((s) => s.status !== "ok")).toEqual([])
            return yield* fingerprint
          }).pipe(Effect.provide(target()))
        )
      )
    const baseline = await prints("none")
    expect(baseline.orders?.rows).toBeGreaterThan(0)
    for (const faults of ["flaky", "chaos"] as const) {
      expect({ faults, prints: await prints(faults) }).toEqual({ faults, prints: baseline })
    }
  })

  /**
   * Runs the orders stream once (paged) through a proxy that rewrites Shopify's counts:
   * `rewrite(count, nth)` gives the count the nth `count` answer (1-based) carries.
   */
  const ordersThroughCountProxy = (
    sandbox: Sandbox,
    rewrite: (count: number, nth: number) => number,
    check: (run: {
      readonly result: RunResult | SyncError
      readonly counts: number
      readonly warehouse: Warehouse["Service"]
      readonly key: { readonly source: string; readonly account: string; readonly stream: string }
    }) => Effect.Effect<void, unknown>
  ) => {
    let counts = 0
    const upstream = new URL(sandbox.shopify.baseUrl)
    const proxy = createServer(async (req, res) => {
      const { answer } = await forwardRequest(upstream.origin, req)
      let text = await answer.text()
      text = text.replace(
        /("count":\{"count":)(\d+)/,
        (_m, p: string, n: string) => `${p}${rewrite(Number(n), ++counts)}`
      )
      res.writeHead(answer.status, {
        "content-type": answer.headers.get("content-type") ?? "application/json"
      })
      res.end(text)
    })
    return Effect.runPromise(
      Effect.gen(function* () {
        yield* Effect.promise(() => new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r)))
        const port = (proxy.address() as AddressInfo).port
        const warehouse = yield* Warehouse
        const lake = yield* RawLake
        const streams = makeShopifyStreams(
          {
            shop: sandbox.shopify.credentials.shopDomain,
            auth: {
              _tag: "AccessToken",
              accessToken: Redacted.make(sandbox.shopify.credentials.accessToken)
            },
            apiVersion: sandbox.shopify.credentials.apiVersion,
            apiBaseUrl: Option.some(`http://127.0.0.1:${port}`),
            webhookSecret: Option.none()
          },
          {
            warehouse,
            lake,
            sandbox: true,
            shopifyBulkThresholdMs: Number.MAX_SAFE_INTEGER,
            shopifyBulkMinRecords: Number.MAX_SAFE_INTEGER
          },
          () => 60_000
        )
        const orders = streams.find((s) => s.key.stream === "orders")
        if (orders === undefined) throw new Error("no orders stream")
        const { result } = yield* runStreamOnce(warehouse, orders)
        yield* check({ result, counts, warehouse, key: orders.key })
      }).pipe(
        Effect.provide(target()),
        Effect.ensuring(Effect.promise(() => new Promise<void>((r) => proxy.close(() => r()))))
      )
    )
  }

  it("a count the API reports that disagrees with what loaded fails the run and keeps the cursor", async () => {
    // Every count one higher than the orders served: counted again after the read, still one
    // higher, so no movement of the window explains it.
    await withSharedSandbox((sandbox) =>
      ordersThroughCountProxy(
        sandbox,
        (n) => n + 1,
        ({ result, counts, warehouse, key }) =>
          Effect.gen(function* () {
            expect("_tag" in result && result._tag === "SyncError" ? result.reason : "succeeded").toBe(
              "Checkpoint"
            )
            expect("message" in result ? result.message : "").toMatch(/did not reconcile/)
            expect(counts).toBe(2)
            expect(Option.isNone(yield* warehouse.checkpoints.get(key))).toBe(true)
            const runs = yield* warehouse.listRuns(key)
            expect(runs.map((r) => r.status)).toEqual(["incomplete"])
            expect(runs[0]?.reportedCount).toBe((runs[0]?.rowsLoaded ?? 0) + 1)
            // The rows themselves landed (idempotent upserts); only the cursor is held back.
            const loaded = yield* warehouse.query("SELECT COUNT(*) AS n FROM orders")
            expect(Number(loaded[0]?.n)).toBe(runs[0]?.rowsLoaded)
          })
      )
    )
  })

  it("a products run that loads variants links the purchase-order lines that loaded before them", async () => {
    await withSharedSandbox(async (sandbox) => {
      const shop = sandbox.shopify.credentials.shopDomain
      const productsOf = (warehouse: Warehouse["Service"], lake: RawLake["Service"]) => {
        const stream = makeShopifyStreams(
          {
            shop,
            auth: {
              _tag: "AccessToken",
              accessToken: Redacted.make(sandbox.shopify.credentials.accessToken)
            },
            apiVersion: sandbox.shopify.credentials.apiVersion,
            apiBaseUrl: Option.some(sandbox.shopify.baseUrl),
            webhookSecret: Option.none()
          },
          { warehouse, lake, sandbox: true },
          () => 60_000
        ).find((s) => s.key.stream === "products")
        if (stream === undefined) throw new Error("no products stream")
        return stream
      }
      // The shop's variants and their inventory items, as a first products run loads them.
      const catalog = await Effect.runPromise(
        Effect.gen(function* () {
          const w = yield* Warehouse
          yield* runStreamOnce(w, productsOf(w, yield* RawLake))
          return yield* w.query(
            "SELECT source_id, inventory_item_id, sku FROM variants ORDER BY source_id LIMIT 2"
          )
        }).pipe(Effect.provide(target()))
      )
      expect(catalog).toHaveLength(2)
      const [a, b] = catalog as Array<{ source_id: string; inventory_item_id: string; sku: string }>
      // Another warehouse, where Stocky's lines of those items landed before any product did (the
      // products dead-lettered at the time): they hold the inventory item and no variant.
      const linked = await Effect.runPromise(
        Effect.gen(function* () {
          const w = yield* Warehouse
          yield* w.migrate
          const line = (id: string, item: string, sku: string | null) => ({
            source: "stocky",
            source_account: shop,
            source_id: id,
            updated_at: "2026-03-01T00:00:00Z",
            _synced_at: "2026-03-01T00:00:00Z",
            _batch_id: "b0",
            _deleted_at: null,
            purchase_order_id: "po-1",
            variant_id: null,
            sku,
            inventory_item_id: item,
            quantity_ordered: 3,
            quantity_received: 0,
            unit_cost: "100"
          })
          yield* w.load("purchase_order_lines", [
            line("l-a", a?.inventory_item_id ?? "", null),
            line("l-b", b?.inventory_item_id ?? "", "STOCKY-OWN")
          ])
          const { result } = yield* runStreamOnce(w, productsOf(w, yield* RawLake))
          expect("rows" in result ? result.rows : 0).toBeGreaterThan(0)
          return yield* w.query(
            "SELECT source_id, variant_id, sku FROM purchase_order_lines ORDER BY source_id"
          )
        }).pipe(Effect.provide(target()))
      )
      expect(linked).toEqual([
        { source_id: "l-a", variant_id: a?.source_id, sku: a?.sku },
        { source_id: "l-b", variant_id: b?.source_id, sku: "STOCKY-OWN" }
      ])
    })
  })

  it("settleCount: a second count explains a moved window, never a lost or duplicated record", () => {
    // Moved before the read: the read matches the count after it.
    expect(settleCount(8, 12, 12)).toMatchObject({ reportedCount: 12 })
    expect(settleCount(10, 9, 9)).toMatchObject({ reportedCount: 9 })
    // Moved during the read: between the counts, unchecked (and said).
    expect(settleCount(8, 12, 10)).toMatchObject({ reportedCount: null })
    expect(settleCount(8, 12, 10).moved).toMatch(/not checked/)
    // Nothing moved, or not enough to explain it: the first count stands (a mismatch).
    expect(settleCount(10, 10, 9)).toEqual({ reportedCount: 10 })
    expect(settleCount(10, 9, 8)).toEqual({ reportedCount: 10 })
    expect(settleCount(8, 9, 12)).toEqual({ reportedCount: 8 })
    // No exact second count: the first stands.
    expect(settleCount(10, null, 9)).toEqual({ reportedCount: 10 })
  })

  it("a window that changed between its count and its read is counted again, and ties to the second count", async () => {
    // The first count misses an order (one updated into the window's last second after it was
    // counted); the count after the read sees it, as the read did.
    await withSharedSandbox((sandbox) =>
      ordersThroughCountProxy(
        sandbox,
        (n, nth) => (nth === 1 ? n - 1 : n),
        ({ result, counts, warehouse, key }) =>
          Effect.gen(function* () {
            expect("_tag" in result ? result.message : "succeeded").toBe("succeeded")
            expect(counts).toBe(2)
            expect(Option.isSome(yield* warehouse.checkpoints.get(key))).toBe(true)
            const runs = yield* warehouse.listRuns(key)
            expect(runs.map((r) => r.status)).toEqual(["complete"])
            expect(runs[0]?.reportedCount).toBe(runs[0]?.rowsLoaded)
          })
      )
    )
  })

  it("records that crossed the window's end during the read leave the run unchecked, not failed", async () => {
    // One order left before the count after the read and one entered before the count before it:
    // the read (between the two counts) cannot be checked by either.
    await withSharedSandbox((sandbox) =>
      ordersThroughCountProxy(
        sandbox,
        (n, nth) => (nth === 1 ? n - 1 : n + 1),
        ({ result, counts, warehouse, key }) =>
          Effect.gen(function* () {
            expect("_tag" in result ? result.message : "succeeded").toBe("succeeded")
            expect(counts).toBe(2)
            const runs = yield* warehouse.listRuns(key)
            expect(runs.map((r) => r.status)).toEqual(["complete"])
            expect(runs[0]?.reportedCount).toBeNull()
          })
      )
    )
  })

  it("a drain stops Lightspeed sales at the next batch boundary and commits that batch's cursor", async () => {
    await withSandbox({ historyDays: 4 }, (sandbox) =>
      Effect.runPromise(
        Effect.gen(function* () {
          const warehouse = yield* Warehouse
          const sales = yield* salesStreamOf(sandbox, warehouse, 6)
          // Draining from the start: exactly one batch (one business day) lands, then the run stops.
          const { result } = yield* runStreamOnce(warehouse, sales, Effect.succeed(true))
          expect("stoppedEarly" in result ? result.stoppedEarly : false).toBe(true)
          const cp = yield* warehouse.checkpoints.get(sales.key)
          expect(Option.isSome(cp)).toBe(true)
          const cursor = JSON.parse(Option.getOrThrow(cp).cursor) as Record<string, string>
          const first = new Date(sandbox.merchant.options.anchor - 6 * 86_400_000).toISOString().slice(0, 10)
          expect(Object.values(cursor)).toEqual([
            new Date(Date.parse(first) + 86_400_000).toISOString().slice(0, 10)
          ])
          // The next (undrained) run resumes from there and finishes the history.
          const { result: rest } = yield* runStreamOnce(warehouse, sales)
          expect("stoppedEarly" in rest ? rest.stoppedEarly : undefined).toBeUndefined()
          const pos = yield* warehouse.query("SELECT COUNT(*) AS n FROM orders WHERE source = 'lightspeed'")
          expect(Number(pos[0]?.n)).toBe(sandbox.groundTruth().counts.posSales)
        }).pipe(Effect.provide(target()))
      )
    )
  })

  it("business locations are read side by side; a run drained mid-way and resumed still ties", async () => {
    await withSandbox({ historyDays: 6 }, (sandbox) =>
      Effect.runPromise(
        Effect.gen(function* () {
          const warehouse = yield* Warehouse
          expect(sandbox.lightspeed.credentials.businessLocationIds.length).toBeGreaterThan(1)
          const sales = yield* salesStreamOf(sandbox, warehouse, 8)
          // Drained after a few batches, while both locations' reads are in flight.
          let asked = 0
          const { result } = yield* runStreamOnce(
            warehouse,
            sales,
            Effect.sync(() => ++asked > 5)
          )
          expect("stoppedEarly" in result ? result.stoppedEarly : false).toBe(true)
          // The resumed run starts from the committed cursor: a cursor covering a day that had not
          // landed would leave that day's sales out and the count below short. (The order pages
          // come out of the merge in is what sets the cursor, by construction: a reordering
          // between mapping and emission is not something this test can provoke.)
          expect(Option.isSome(yield* warehouse.checkpoints.get(sales.key))).toBe(true)
          const { result: rest } = yield* runStreamOnce(warehouse, sales)
          expect("stoppedEarly" in rest ? rest.stoppedEarly : undefined).toBeUndefined()
          const pos = yield* warehouse.query("SELECT COUNT(*) AS n FROM orders WHERE source = 'lightspeed'")
          expect(Number(pos[0]?.n)).toBe(sandbox.groundTruth().counts.posSales)
        }).pipe(Effect.provide(target()))
      )
    )
  })
})
