import { readFileSync } from "node:fs"
import { join } from "node:path"
import { type Sandbox, startSandbox } from "@kura/sandbox"
import { DuckDbWarehouse, Warehouse } from "@kura/warehouse"
import { Effect, Exit } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { BackfillError } from "../src/BackfillError.js"
import {
  argsFor,
  configOf,
  DAY,
  envFor,
  loadedOrders,
  queryWarehouse,
  removeTempStores,
  rowsOf,
  runInProcess,
  tempStore,
  testOrders
} from "./support.js"

// Kept small: the sandbox's bulk projection runs in this process and shares the 2 cores. 2,000
// orders still fill every 30-day window with several loads of 300 and the last 45 days with
// hundreds of orders; the 100k+ scale is a KURA_BACKFILL_TEST_ORDERS run away.
const SCALE = testOrders(2000)
const HISTORY_DAYS = 150

let sandbox: Sandbox
let from: number
let full: { ids: ReadonlyArray<string>; rows: number }
let fullStore = ""

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 7, scale: SCALE, historyDays: HISTORY_DAYS, timeScale: 120 })
  from = sandbox.groundTruth().anchor - (HISTORY_DAYS + 1) * DAY
})
afterAll(async () => {
  await sandbox?.close()
  removeTempStores()
})

const failureOf = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isFailure(exit) ? Exit.findErrorOption(exit) : undefined

describe("backfill against the sandbox", () => {
  it("a full backfill equals the ground truth, every window ties, and a re-run skips every window", async () => {
    const store = tempStore()
    const trace = join(store.dir, "memory-trace.txt")
    // 300 orders per DuckDB load: every window's bulk file is cut into several loads. A CHECKPOINT
    // once 1,000 orders were appended since the last one, not after every window.
    const env = envFor(sandbox, store, {
      KURA_ORDERS_PER_LOAD: "300",
      KURA_DUCKDB_CHECKPOINT_ORDERS: "1000",
      KURA_BACKFILL_MEMORY_TRACE: trace
    })
    const r = await runInProcess(configOf(argsFor(from), env), env)
    expect(r.text).toContain("Backfill plan: shopify [orders]")
    expect(r.text).toContain("Every window ties.")
    expect(r.ok).toBe(true)
    full = await loadedOrders(store.warehouse)
    const windows = [...r.text.matchAll(/^window \d+\/\d+ complete/gm)].length
    const checkpoints = readFileSync(trace, "utf8")
      .split("\n")
      .filter((l) => / checkpoint /.test(l)).length
    expect(checkpoints).toBeGreaterThanOrEqual(1)
    expect(checkpoints).toBeLessThanOrEqual(Math.floor(full.ids.length / 1000))
    expect(checkpoints).toBeLessThan(windows)
    fullStore = store.warehouse
    expect(full.ids.length).toBe(sandbox.groundTruth().counts.onlineOrders)
    expect(full.rows).toBe(full.ids.length)
    // The canonical step: every order mapped into the orders table once.
    const canonical = await queryWarehouse(
      store.warehouse.slice("duckdb:".length),
      "SELECT COUNT(*) AS n, COUNT(DISTINCT source_id) AS ids FROM orders WHERE _deleted_at IS NULL"
    )
    expect(Number(canonical[0]?.n)).toBe(sandbox.groundTruth().counts.onlineOrders)
    expect(Number(canonical[0]?.ids)).toBe(sandbox.groundTruth().counts.onlineOrders)
    // Revenue: order totals (incl. tax and shipping, after discounts) against the ground truth.
    const truthGross = sandbox
      .groundTruth()
      .revenueByDay.filter((d) => d.channel === "online")
      .reduce((n, d) => n + d.gross, 0)
    const loadedGross = await queryWarehouse(
      store.warehouse.slice("duckdb:".length),
      "SELECT CAST(SUM(total) AS VARCHAR) AS gross FROM orders WHERE _deleted_at IS NULL"
    )
    // JPY totals are whole numbers, so the decimal string compares exactly as a number.
    expect(Number(loadedGross[0]?.gross)).toBe(truthGross)

    const again = await runInProcess(configOf(argsFor(from), env), env)
    expect(again.ok).toBe(true)
    expect(again.text).toMatch(/0 window\(s\) run/)
    expect(again.text).not.toMatch(/^window \d+\/\d+/m)
    const runs = await queryWarehouse(
      store.warehouse.slice(7),
      "SELECT stream, COUNT(*) AS n FROM _kura_sync_runs WHERE status = 'complete' GROUP BY 1 HAVING COUNT(*) > 1"
    )
    expect(runs).toEqual([])
  })

  it("--restart discards the checkpoints and re-runs every window without duplicating rows", async () => {
    const store = tempStore()
    const env = envFor(sandbox, store)
    // An explicit --to: with `now`, a restart re-cuts the tail window (a new batch in _kura_raw).
    const to = new Date(Date.now()).toISOString()
    const first = await runInProcess(configOf(argsFor(from, { window: "60d", to }), env), env)
    expect(first.ok).toBe(true)
    const windows = [...first.text.matchAll(/^window \d+\/\d+ complete/gm)].length
    const again = await runInProcess(configOf(argsFor(from, { window: "60d", to, restart: true }), env), env)
    expect(again.ok).toBe(true)
    expect([...again.text.matchAll(/^window \d+\/\d+ complete/gm)].length).toBe(windows)
    const loaded = await loadedOrders(store.warehouse)
    expect(loaded.ids).toEqual(full.ids)
    expect(loaded.rows).toBe(full.rows)
  })

  it("sharding over 3 tasks gives the same table as one task, each window taken once", async () => {
    const store = tempStore()
    const texts: Array<string> = []
    for (const index of [0, 1, 2]) {
      const env = envFor(sandbox, store, { CLOUD_RUN_TASK_INDEX: String(index), CLOUD_RUN_TASK_COUNT: "3" })
      const r = await runInProcess(configOf(argsFor(from), env), env)
      expect(r.ok).toBe(true)
      texts.push(r.text)
    }
    const taken = texts.flatMap((t) => [...t.matchAll(/^window \d+\/\d+ complete (\S+)/gm)].map((m) => m[1]))
    expect(new Set(taken).size).toBe(taken.length)
    const sharded = await loadedOrders(store.warehouse)
    expect(sharded.ids).toEqual(full.ids)
    expect(sharded.rows).toBe(full.rows)
  })

  it("the JS path (BigQuery's, KURA_SHOPIFY_FAST_PATH=0) lands the same canonical rows as the DuckDB fast path", async () => {
    // The last 45 days only (fast): the rows updated since then must be the same in both stores.
    const since = sandbox.groundTruth().anchor - 45 * DAY
    const store = tempStore()
    const env = envFor(sandbox, store, { KURA_SHOPIFY_FAST_PATH: "0" })
    const r = await runInProcess(configOf(argsFor(since), env), env)
    expect(r.ok).toBe(true)
    expect(r.text).toContain("Every window ties.")
    // Every canonical order table, all columns but the load's own lineage, as one digest.
    const cut = new Date(since).toISOString()
    const digest = async (warehouse: string) => {
      const out: Record<string, unknown> = {}
      for (const table of ["orders", "order_lines", "payments", "refunds", "refund_lines", "tax_lines"]) {
        const rows = await rowsOf(
          warehouse,
          `SELECT COUNT(*) AS n, md5(string_agg(CAST(x AS VARCHAR), '|' ORDER BY CAST(x AS VARCHAR))) AS h FROM (SELECT * EXCLUDE (_synced_at, _batch_id) FROM ${table} WHERE updated_at >= TIMESTAMPTZ '${cut}') x`
        )
        out[table] = rows[0]
      }
      return out
    }
    const js = await digest(store.warehouse)
    expect(Number((js.orders as { n: unknown }).n)).toBeGreaterThan(100)
    expect(Number((js.order_lines as { n: unknown }).n)).toBeGreaterThan(100)
    expect(await digest(fullStore)).toEqual(js)
  })

  it("a products backfill links the purchase-order lines that loaded before their variants", async () => {
    const shop = sandbox.shopify.credentials.shopDomain
    // The catalogue predates the order history: read it from years back, in a few long windows.
    const products = argsFor(from - 5 * 365 * DAY, { streams: ["products"], window: "400d" })
    // The shop's variants and inventory items, as a products backfill loads them.
    const first = tempStore()
    const firstEnv = envFor(sandbox, first)
    const r = await runInProcess(configOf(products, firstEnv), firstEnv)
    expect(r.ok).toBe(true)
    const variants = (await rowsOf(
      first.warehouse,
      "SELECT source_id, inventory_item_id, sku FROM variants ORDER BY source_id LIMIT 1"
    )) as Array<{ source_id: string; inventory_item_id: string; sku: string }>
    const v = variants[0]
    expect(v?.inventory_item_id).toBeTruthy()
    // Another warehouse where a Stocky line of that item landed first, without a variant.
    const store = tempStore()
    await Effect.runPromise(
      Effect.gen(function* () {
        const w = yield* Warehouse
        yield* w.migrate
        yield* w.load("purchase_order_lines", [
          {
            source: "stocky",
            source_account: shop,
            source_id: "l-1",
            updated_at: "2026-03-01T00:00:00Z",
            _synced_at: "2026-03-01T00:00:00Z",
            _batch_id: "archive",
            _deleted_at: null,
            purchase_order_id: "po-1",
            variant_id: null,
            sku: null,
            inventory_item_id: v?.inventory_item_id ?? "",
            quantity_ordered: 2,
            quantity_received: 0,
            unit_cost: "100"
          }
        ])
      }).pipe(Effect.provide(DuckDbWarehouse.layer({ path: store.warehouse.slice("duckdb:".length) })))
    )
    const env = envFor(sandbox, store)
    const linked = await runInProcess(configOf(products, env), env)
    expect(linked.ok).toBe(true)
    expect(linked.text).toContain("Linked 1 purchase-order line(s) and 0 stock movement(s)")
    expect(await rowsOf(store.warehouse, "SELECT variant_id, sku FROM purchase_order_lines")).toEqual([
      { variant_id: v?.source_id, sku: v?.sku }
    ])
  })

  it("--dry-run prints the plan and loads nothing", async () => {
    const store = tempStore()
    const env = envFor(sandbox, store)
    const before = sandbox.stats().shopify.bulkOperations ?? 0
    const r = await runInProcess(configOf(argsFor(from, { dryRun: true }), env), env)
    expect(r.ok).toBe(true)
    expect(r.text).toMatch(/estimated API cost: ~\d+ query points/)
    expect(r.text).toMatch(/#0 orders .* bulk/)
    expect(sandbox.stats().shopify.bulkOperations ?? 0).toBe(before)
  })
})

describe("faults", () => {
  it("injected bulk failures with partial data are completed by re-running only the gap", async () => {
    const faulty = await startSandbox({
      seed: 7,
      scale: SCALE,
      historyDays: HISTORY_DAYS,
      timeScale: 120,
      faults: { profile: "none", overrides: { bulk_failure: 0.5 }, seed: 3 }
    })
    try {
      const store = tempStore()
      const env = envFor(faulty, store)
      const r = await runInProcess(configOf(argsFor(from), env), env)
      expect(faulty.faultReport().shopify.bulk_failure ?? 0).toBeGreaterThan(0)
      expect(r.text).toContain("Every window ties.")
      const loaded = await loadedOrders(store.warehouse)
      expect(loaded.ids.length).toBe(faulty.groundTruth().counts.onlineOrders)
      expect(loaded.rows).toBe(loaded.ids.length)
      // Only the gap after the partial data is fetched again: fetched ≈ loaded, not 2×.
      const fetched = [...r.text.matchAll(/^window .* fetched=(\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0)
      expect(fetched).toBeGreaterThanOrEqual(loaded.ids.length)
      expect(fetched).toBeLessThanOrEqual(Math.ceil(loaded.ids.length * 1.02))
    } finally {
      await faulty.close()
    }
  })

  it("a missing read_all_orders scope stops with a clear message before any work", async () => {
    const scoped = await startSandbox({
      seed: 7,
      scale: 500,
      historyDays: HISTORY_DAYS,
      shopify: { scopes: ["read_orders", "read_customers", "read_products"] }
    })
    try {
      const store = tempStore()
      const env = envFor(scoped, store)
      const r = await runInProcess(configOf(argsFor(from), env), env)
      const e = failureOf(r.exit)
      expect(e?._tag).toBe("Some")
      const err = e?._tag === "Some" ? e.value : undefined
      expect(err).toBeInstanceOf(BackfillError)
      expect((err as BackfillError).reason).toBe("MissingScope")
      expect((err as BackfillError).message).toContain("read_all_orders")
      expect(scoped.stats().shopify.bulkOperations ?? 0).toBe(0)
      const loaded = await loadedOrders(store.warehouse)
      expect(loaded.rows).toBe(0)
    } finally {
      await scoped.close()
    }
  })
})
