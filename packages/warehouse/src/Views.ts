/**
 * Reconciliation views, each written once against a `Dialect` so DuckDB and BigQuery get the
 * same logic.
 */
import type { Dialect } from "./Dialect.js"

/** A view: its name and its SELECT for a dialect. */
export interface ViewDef {
  readonly name: string
  readonly doc: string
  readonly select: (d: Dialect) => string
}

const dec0 = (d: Dialect) => `CAST(0 AS ${d.type("decimal")})`

/** Revenue, orders, units, tax and refunds by business date, channel, location and currency. */
export const DailySales: ViewDef = {
  name: "v_daily_sales",
  doc: "Revenue (order totals), orders, units, tax and refunds per business date, channel, location and currency; cancelled and deleted orders excluded; refunds dated on their own business date.",
  select: (d) => {
    const T = d.table
    const z = dec0(d)
    const live = (a: string) => `${a}._deleted_at IS NULL`
    return `SELECT f.business_date, f.channel, f.location_id, f.currency, SUM(f.revenue) AS revenue, SUM(f.orders) AS orders, SUM(f.units) AS units, SUM(f.tax) AS tax, SUM(f.refunds) AS refunds, SUM(f.revenue) - SUM(f.refunds) AS net_revenue FROM (SELECT o.business_date, o.channel, o.location_id, o.currency, COALESCE(o.total, ${z}) AS revenue, 1 AS orders, 0 AS units, COALESCE(o.tax, ${z}) AS tax, ${z} AS refunds FROM ${T("orders")} AS o WHERE ${live("o")} AND o.cancelled_at IS NULL UNION ALL SELECT o.business_date, o.channel, o.location_id, o.currency, ${z} AS revenue, 0 AS orders, l.quantity AS units, ${z} AS tax, ${z} AS refunds FROM ${T("order_lines")} AS l JOIN ${T("orders")} AS o ON l.source = o.source AND l.source_account = o.source_account AND l.order_id = o.source_id WHERE ${live("l")} AND ${live("o")} AND o.cancelled_at IS NULL UNION ALL SELECT r.business_date, r.channel, r.location_id, r.currency, ${z} AS revenue, 0 AS orders, 0 AS units, ${z} AS tax, COALESCE(r.amount, ${z}) AS refunds FROM ${T("refunds")} AS r WHERE ${live("r")}) AS f GROUP BY f.business_date, f.channel, f.location_id, f.currency`
  }
}

/** API-reported count and total against what was loaded, per run and stream. */
export const SourceReconciliation: ViewDef = {
  name: "v_source_reconciliation",
  doc: "For every run and stream: the count and total the API reported against rows and totals loaded; a mismatch means the run is incomplete.",
  select: (d) =>
    `SELECT r.run_id, r.source, r.source_account, r.stream, r.started_at, r.finished_at, r.status, r.cursor_before, r.cursor_after, r.reported_count, r.rows_fetched, r.rows_loaded, r.reported_total, r.loaded_total, CASE WHEN r.reported_count IS NULL OR r.reported_count = r.rows_loaded THEN TRUE ELSE FALSE END AS count_matches, CASE WHEN r.reported_total IS NULL OR r.reported_total = r.loaded_total THEN TRUE ELSE FALSE END AS total_matches FROM ${d.table("_kura_sync_runs")} AS r`
}

/**
 * Expected on-hand (previous day's last snapshot plus the movements since) against the observed
 * snapshot, per SKU, location and day, with a likely cause for each discrepancy.
 */
export const InventoryReconciliation: ViewDef = {
  name: "v_inventory_reconciliation",
  doc: "Per SKU, location and day: expected on-hand (previous snapshot + movements) vs the observed snapshot, discrepancy and likely cause.",
  select: (d) => {
    const T = d.table
    const day = d.utcDate("i.observed_at")
    const win = "PARTITION BY dl.source, dl.source_account, dl.sku, dl.location_id ORDER BY dl.observed_at"
    const sumKind = (kind: string, alias: string) =>
      `COALESCE(SUM(CASE WHEN m.kind = '${kind}' THEN m.quantity ELSE 0 END), 0) AS ${alias}`
    return `WITH daily AS (SELECT i.source, i.source_account, COALESCE(i.sku, i.variant_id) AS sku, i.location_id, ${day} AS snapshot_date, i.observed_at, i.quantity, ROW_NUMBER() OVER (PARTITION BY i.source, i.source_account, COALESCE(i.sku, i.variant_id), i.location_id, ${day} ORDER BY i.observed_at DESC) AS rn FROM ${T("inventory_levels")} AS i WHERE i.quantity_name = 'on_hand' AND i._deleted_at IS NULL), snaps AS (SELECT dl.source, dl.source_account, dl.sku, dl.location_id, dl.snapshot_date, dl.observed_at, dl.quantity, LAG(dl.quantity) OVER (${win}) AS previous_quantity, LAG(dl.observed_at) OVER (${win}) AS previous_observed_at FROM daily AS dl WHERE dl.rn = 1), moved AS (SELECT s.source, s.source_account, s.sku, s.location_id, s.snapshot_date, s.observed_at, s.quantity, s.previous_quantity, s.previous_observed_at, COUNT(m.source_id) AS movement_count, COALESCE(SUM(m.quantity), 0) AS net_movement, ${sumKind("sale", "sold")}, ${sumKind("refund_restock", "restocked")}, ${sumKind("receipt", "received")}, ${sumKind("adjustment", "adjusted")}, ${sumKind("transfer_out", "transferred_out")}, ${sumKind("transfer_in", "transferred_in")}, ${sumKind("count_correction", "count_corrections")} FROM snaps AS s LEFT JOIN ${T("inventory_movements")} AS m ON m.source = s.source AND m.source_account = s.source_account AND COALESCE(m.sku, m.variant_id) = s.sku AND m.location_id = s.location_id AND m._deleted_at IS NULL AND m.occurred_at > s.previous_observed_at AND m.occurred_at <= s.observed_at GROUP BY s.source, s.source_account, s.sku, s.location_id, s.snapshot_date, s.observed_at, s.quantity, s.previous_quantity, s.previous_observed_at) SELECT mv.source, mv.source_account, mv.sku, mv.location_id, mv.snapshot_date, mv.observed_at, mv.previous_observed_at, mv.previous_quantity, mv.movement_count, mv.net_movement, mv.sold, mv.restocked, mv.received, mv.adjusted, mv.transferred_out, mv.transferred_in, mv.count_corrections, mv.previous_quantity + mv.net_movement AS expected_quantity, mv.quantity AS observed_quantity, mv.quantity - (mv.previous_quantity + mv.net_movement) AS discrepancy, CASE WHEN mv.previous_quantity IS NULL THEN 'baseline' WHEN mv.quantity = mv.previous_quantity + mv.net_movement THEN 'reconciled' ELSE 'discrepancy' END AS status, CASE WHEN mv.previous_quantity IS NULL OR mv.quantity = mv.previous_quantity + mv.net_movement THEN NULL WHEN mv.quantity < mv.previous_quantity + mv.net_movement AND mv.movement_count = 0 THEN 'unrecorded_outflow: shrinkage, theft or a sale that was not synced' WHEN mv.quantity < mv.previous_quantity + mv.net_movement THEN 'missing_outflow: a sale, transfer out or adjustment not recorded as a movement' WHEN mv.transferred_out > 0 OR mv.transferred_in > 0 THEN 'transfer_timing: a transfer counted on one side only' WHEN mv.quantity > mv.previous_quantity + mv.net_movement AND mv.sold < 0 THEN 'unrecorded_return_or_restock: stock came back without a refund_restock movement' ELSE 'unrecorded_inflow: a receipt or return not recorded as a movement' END AS likely_cause FROM moved AS mv`
  }
}

/** Every view, in creation order. */
export const AllViews: ReadonlyArray<ViewDef> = [DailySales, SourceReconciliation, InventoryReconciliation]

/** `CREATE OR REPLACE VIEW` for a view definition. */
export const createView = (d: Dialect, view: ViewDef): string =>
  `CREATE OR REPLACE VIEW ${d.table(view.name)} AS ${view.select(d)}`
