import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { startSandbox } from "@kura/sandbox"
import { DuckDbWarehouse, Warehouse } from "@kura/warehouse"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { formatDemoReport } from "../../src/demo/formatDemoReport.js"
import { runDemo } from "../../src/demo/runDemo.js"

const dir = mkdtempSync(join(tmpdir(), "kura-demo-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe("runDemo", () => {
  it("syncs all three sources and reconciles to the sandbox's ground truth", async () => {
    const lines: Array<string> = []
    const report = await runDemo({
      warehousePath: join(dir, "kura.duckdb"),
      lakeDir: join(dir, "lake"),
      scale: 150,
      historyDays: 10,
      progress: (l) => lines.push(l)
    })
    const text = formatDemoReport(report)
    console.log(text)
    expect(report.incremental).toBe(false)
    expect(report.streams.filter((s) => s.status !== "ok")).toEqual([])
    expect(report.reconciliation.loaded).toEqual({
      onlineOrders: report.reconciliation.expected.onlineOrders,
      posSales: report.reconciliation.expected.posSales,
      customers: report.reconciliation.expected.customers,
      onlineRevenue: report.reconciliation.expected.onlineRevenue,
      posRevenue: report.reconciliation.expected.posRevenue
    })
    expect(report.reconciliation.matchesGroundTruth).toBe(true)
    // Shopify's own Analytics (the emulator's ShopifyQL) ties on every day of the history.
    const analytics = report.reconciliation.analytics
    expect("error" in analytics ? analytics.error : null).toBeNull()
    if (!("error" in analytics)) {
      expect(analytics.days).toBeGreaterThanOrEqual(10)
      expect(analytics.differingDays).toBe(0)
      expect(text).toContain(`Shopify Analytics:   ${analytics.tiedDays} of ${analytics.days} days tie`)
    }
    // Every stock difference is injected or explained by the ground truth (no unexplained cell).
    expect(report.reconciliation.otherDifferences).toEqual([])
    expect(report.reconciliation.injectedFound).toBe(report.reconciliation.expected.injectedDiscrepancies)
    // The report names every cause it counted, the injected cells among them.
    expect(report.reconciliation.explained.injected).toBe(report.reconciliation.injectedFound)
    expect(text).toContain(
      `${report.reconciliation.explained.injected} SKU-location(s): injected by the sandbox`
    )
    expect(report.reconciliation.stockCells).toBeGreaterThan(0)
    expect(report.api.shopify.calls).toBeGreaterThan(0)
    expect(lines.length).toBeGreaterThan(0)
    // Each run's API cost is in the ledger, so v_api_usage answers after a demo.
    const usage = await Effect.runPromise(
      Effect.flatMap(Effect.service(Warehouse), (w) =>
        w.query(
          "SELECT source, CAST(SUM(api_calls) AS INTEGER) AS calls FROM v_api_usage GROUP BY source ORDER BY source"
        )
      ).pipe(Effect.provide(DuckDbWarehouse.layer({ path: join(dir, "kura.duckdb") })))
    )
    expect(usage.map((r) => String(r.source))).toEqual(["lightspeed", "shopify", "stocky"])
    expect(Number(usage.find((r) => r.source === "shopify")?.calls)).toBe(report.api.shopify.calls)
  })

  it("a first read after orders were deleted in Shopify (a re-run after a stopped first run) explains their stock, nothing unexplained", async () => {
    // The state a demo re-run meets when its first run was killed before the orders stream
    // finished: the sandbox deletes orders (the second run's 1% change) that the warehouse never
    // held. Their goods left the shelf, and no API lists a deleted order's lines.
    const sandbox = await startSandbox({ seed: 7, scale: 150, historyDays: 10, timeScale: 20 })
    try {
      const deleted = sandbox.deleteOrders(6)
      expect(deleted.length).toBe(6)
      const report = await runDemo({
        warehousePath: join(dir, "deleted-first.duckdb"),
        lakeDir: join(dir, "deleted-first-lake"),
        sandbox,
        progress: () => {}
      })
      const text = formatDemoReport(report)
      expect(report.streams.filter((s) => s.status !== "ok")).toEqual([])
      expect(report.reconciliation.matchesGroundTruth).toBe(true)
      expect(report.reconciliation.otherDifferences).toEqual([])
      expect(report.reconciliation.explained.deletedBeforeRead).toBeGreaterThan(0)
      expect(text).toContain(
        "SKU-location(s): deleted_before_read: orders deleted in Shopify before Kura read them"
      )
      // The warehouse's own evidence names exactly the deleted orders it never held.
      const listed = await Effect.runPromise(
        Effect.gen(function* () {
          const w = yield* Warehouse
          return yield* w.query("SELECT source_id FROM v_deleted_before_read ORDER BY source_id")
        }).pipe(Effect.provide(DuckDbWarehouse.layer({ path: join(dir, "deleted-first.duckdb") })))
      )
      expect(listed.map((r) => String(r.source_id)).sort()).toEqual(
        deleted.map((i) => String(sandbox.merchant.orderAt(i)?.id)).sort()
      )
      expect(text).toContain("0 unexplained")
    } finally {
      await sandbox.close()
    }
  })
})
