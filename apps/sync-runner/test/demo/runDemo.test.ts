import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
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
    console.log(formatDemoReport(report))
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
    // Every stock difference is injected or explained by the ground truth (no unexplained cell).
    expect(report.reconciliation.otherDifferences).toEqual([])
    expect(report.reconciliation.injectedFound).toBe(report.reconciliation.expected.injectedDiscrepancies)
    expect(report.reconciliation.stockCells).toBeGreaterThan(0)
    expect(report.api.shopify.calls).toBeGreaterThan(0)
    expect(lines.length).toBeGreaterThan(0)
  })
})
