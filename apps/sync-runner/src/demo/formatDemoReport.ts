/** Renders a DemoReport as a short plain-text report. */
import { formatApiUsage } from "../ApiUsage.js"
import type { DemoReport } from "./runDemo.js"

const yes = (b: boolean) => (b ? "yes" : "NO")

/** A short, readable report of a demo run. */
export const formatDemoReport = (report: DemoReport): string => {
  const r = report.reconciliation
  const lines: Array<string> = []
  lines.push(
    `Kura demo — ${report.incremental ? "incremental run (resumed from checkpoints)" : "full sync"} in ${(report.elapsedMs / 1000).toFixed(1)} s`
  )
  lines.push("")
  lines.push("Rows per table:")
  for (const [table, n] of Object.entries(report.rows)) if (n > 0) lines.push(`  ${table.padEnd(22)} ${n}`)
  lines.push("")
  lines.push("API usage:")
  for (const [source, u] of Object.entries(report.api))
    lines.push(`  ${source.padEnd(11)} ${formatApiUsage(u)}`)
  lines.push("")
  lines.push("Streams:")
  for (const s of report.streams)
    lines.push(
      `  ${s.status === "ok" ? "✓" : "✗"} ${s.key.padEnd(48)} ${String(s.rows).padStart(7)} records  tied: ${(s.tied === null ? "n/a" : yes(s.tied)).padEnd(3)}${s.api !== undefined && s.api.costActual > 0 ? `  ${s.api.costActual} cost points` : ""}${s.status === "failed" ? `  ${s.detail}` : ""}`
    )
  lines.push("")
  lines.push("Reconciliation:")
  lines.push(`  sources tied:        ${yes(r.sourcesTied)} (${r.incompleteRuns} incomplete run(s))`)
  lines.push(
    `  online orders:       ${r.loaded.onlineOrders} loaded / ${r.expected.onlineOrders} expected, revenue ${r.loaded.onlineRevenue} / ${r.expected.onlineRevenue}`
  )
  lines.push(
    `  POS sales:           ${r.loaded.posSales} loaded / ${r.expected.posSales} expected, revenue ${r.loaded.posRevenue} / ${r.expected.posRevenue}`
  )
  lines.push(`  customers:           ${r.loaded.customers} / ${r.expected.customers}`)
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`
  const unverifiable = r.stockCells - r.verifiableCells
  lines.push(
    `  inventory accuracy:  ${r.inventoryAccuracy === null ? "n/a" : pct(r.inventoryAccuracy)} of ${r.verifiableCells} SKU-locations whose whole movement history the APIs show` +
      (unverifiable > 0
        ? ` (${unverifiable} more had movements no API lists: Shopify adjustments after Stocky's shutdown${r.explained.deletedBeforeRead > 0 ? ", orders deleted before Kura read them" : ""})`
        : "") +
      (r.snapshotAccuracy === null ? "" : `; ${pct(r.snapshotAccuracy)} snapshot to snapshot`)
  )
  lines.push(
    `  stock discrepancies: ${r.discrepanciesFound} found; ${r.injectedFound} of ${r.expected.injectedDiscrepancies} injected found; by cause (a SKU-location can have several):`
  )
  const e = r.explained
  if (e.injected > 0)
    lines.push(`    ${e.injected} SKU-location(s): injected by the sandbox (shrinkage, miscounts)`)
  if (e.unlistedAdjustments > 0)
    lines.push(
      `    ${e.unlistedAdjustments} SKU-location(s): adjustments made in Shopify after Stocky's shutdown (no API lists them)`
    )
  if (e.deletedBeforeRead > 0)
    lines.push(
      `    ${e.deletedBeforeRead} SKU-location(s): deleted_before_read: orders deleted in Shopify before Kura read them (v_deleted_before_read); their goods left the shelf and no API lists their lines`
    )
  lines.push(
    `    ${r.otherDifferences.length} unexplained${r.otherDifferences.length > 0 ? ` (e.g. ${r.otherDifferences.slice(0, 3).join(", ")})` : ""}`
  )
  const a = r.analytics
  lines.push(
    "error" in a
      ? `  Shopify Analytics:   not read (${a.error})`
      : `  Shopify Analytics:   ${a.tiedDays} of ${a.days} days tie (ShopifyQL orders and total_sales per day, ${a.zone})${a.differingDays > 0 ? `; ${a.differingDays} differ` : ""}${a.syncingDays > 0 ? `; ${a.syncingDays} still syncing` : ""} (kura-sync tie-out)`
  )
  lines.push(`  orders and revenue match ground truth: ${yes(r.matchesGroundTruth)}`)
  lines.push(
    `  stock matches ground truth: ${yes(r.injectedFound === r.expected.injectedDiscrepancies && r.otherDifferences.length === 0)}`
  )
  return lines.join("\n")
}
