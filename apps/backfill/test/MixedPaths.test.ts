/**
 * One window's batch landed by both Shopify paths: the SQL fast path keeps Shopify's bulk lines
 * as they are (each line item, refund and transaction a `_kura_raw` row of its own, under the
 * window's batch id), the JS path one reassembled record per order. A `--restart` re-runs a
 * window under the same batch id, so a window the fast path landed and the JS path re-runs (or the
 * reverse) holds rows of both shapes in one batch. The tie counts orders, never their children.
 */
import { type Sandbox, startSandbox } from "@kura/sandbox"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  argsFor,
  configOf,
  DAY,
  envFor,
  removeTempStores,
  rowsOf,
  runInProcess,
  tempStore
} from "./support.js"

const HISTORY_DAYS = 40

let sandbox: Sandbox
let from: number

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 5, scale: 300, historyDays: HISTORY_DAYS, timeScale: 120 })
  from = sandbox.groundTruth().anchor - (HISTORY_DAYS + 1) * DAY
})
afterAll(async () => {
  await sandbox?.close()
  removeTempStores()
})

/** The ledger's finished order windows: status, API count, rows accounted for. */
const lastRuns = async (warehouse: string) =>
  (
    await rowsOf(
      warehouse,
      "SELECT stream, status, reported_count, rows_loaded, detail FROM _kura_sync_runs WHERE stream LIKE 'backfill:shopify/orders/%' AND status <> 'running' ORDER BY started_at"
    )
  ).map((r) => ({
    stream: String(r.stream),
    status: String(r.status),
    reported: r.reported_count === null ? null : Number(r.reported_count),
    rowsLoaded: Number(r.rows_loaded),
    detail: r.detail === null ? null : String(r.detail)
  }))

describe("one window's batch landed by the fast path and the JS path", () => {
  for (const [first, second] of [
    ["1", "0"],
    ["0", "1"]
  ] as const) {
    const name = (v: string) => (v === "1" ? "fast" : "JS")
    it(`${name(first)} path, then --restart on the ${name(second)} path: every window ties, orders counted once`, async () => {
      const store = tempStore()
      const env = (fast: string) => envFor(sandbox, store, { KURA_SHOPIFY_FAST_PATH: fast })
      const a = await runInProcess(configOf(argsFor(from, { window: "20d" }), env(first)), env(first))
      expect(a.text).toContain("Every window ties.")
      const before = (await lastRuns(store.warehouse)).length
      const b = await runInProcess(
        configOf(argsFor(from, { window: "20d", restart: true }), env(second)),
        env(second)
      )
      const runs = (await lastRuns(store.warehouse)).slice(before)
      expect(runs.length).toBeGreaterThan(1)
      for (const r of runs) {
        expect(r.status, `${r.stream}: ${r.detail}`).toBe("complete")
        expect(r.rowsLoaded, r.stream).toBe(r.reported)
      }
      expect(b.text).toContain("Every window ties.")
      expect(b.ok).toBe(true)
      // Each order once in the canonical table, whichever path landed it.
      const orders = await rowsOf(
        store.warehouse,
        "SELECT COUNT(*) AS n, COUNT(DISTINCT source_id) AS ids FROM orders WHERE source = 'shopify'"
      )
      expect(Number(orders[0]?.n)).toBe(Number(orders[0]?.ids))
      expect(Number(orders[0]?.ids)).toBe(sandbox.groundTruth().counts.onlineOrders)
    }, 180_000)
  }
})
