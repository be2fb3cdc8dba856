/**
 * Reconciliation views, each written once against a `Dialect` so DuckDB and BigQuery get the
 * same logic.
 */
import type { Dialect } from "./Dialect.js"
import { nfkcSql } from "./SkuMap.js"

/** A view: its name and its SELECT for a dialect. */
export interface ViewDef {
  readonly name: string
  readonly doc: string
  readonly select: (d: Dialect) => string
}

const dec0 = (d: Dialect) => `CAST(0 AS ${d.type("decimal")})`

/**
 * Revenue, orders, units, tax and refunds by business date, channel, location and currency.
 *
 * Why a cancelled order with a refund counts: Shopify refunds a paid order when it is cancelled,
 * and that refund already reverses it on the cancellation's own date (as Shopify's sales reports
 * book it: the sale on its day, the cancellation as a return on its day). Leaving the order out
 * as well reversed it twice. A cancelled order with no refund at all (never paid, or a POS ticket
 * cancelled before it was settled) never brought revenue, so it stays out.
 */
export const DailySales: ViewDef = {
  name: "v_daily_sales",
  doc: "Revenue (order totals), orders, units, tax and refunds per business date, channel, location and currency; deleted orders excluded, cancelled orders counted on their own date when refunded (the refund reverses them on its date) and excluded when nothing was refunded; refunds dated on their own business date.",
  select: (d) => {
    const T = d.table
    const z = dec0(d)
    const live = (a: string) => `${a}._deleted_at IS NULL`
    const counted = (a: string) =>
      `(${a}.cancelled_at IS NULL OR EXISTS (SELECT 1 FROM ${T("refunds")} AS cr WHERE cr.source = ${a}.source AND cr.source_account = ${a}.source_account AND cr.order_id = ${a}.source_id AND cr._deleted_at IS NULL))`
    return `SELECT f.business_date, f.channel, f.location_id, f.currency, SUM(f.revenue) AS revenue, SUM(f.orders) AS orders, SUM(f.units) AS units, SUM(f.tax) AS tax, SUM(f.refunds) AS refunds, SUM(f.revenue) - SUM(f.refunds) AS net_revenue FROM (SELECT o.business_date, o.channel, o.location_id, o.currency, COALESCE(o.total, ${z}) AS revenue, 1 AS orders, 0 AS units, COALESCE(o.tax, ${z}) AS tax, ${z} AS refunds FROM ${T("orders")} AS o WHERE ${live("o")} AND ${counted("o")} UNION ALL SELECT o.business_date, o.channel, o.location_id, o.currency, ${z} AS revenue, 0 AS orders, l.quantity AS units, ${z} AS tax, ${z} AS refunds FROM ${T("order_lines")} AS l JOIN ${T("orders")} AS o ON l.source = o.source AND l.source_account = o.source_account AND l.order_id = o.source_id WHERE ${live("l")} AND ${live("o")} AND ${counted("o")} UNION ALL SELECT r.business_date, r.channel, r.location_id, r.currency, ${z} AS revenue, 0 AS orders, 0 AS units, ${z} AS tax, COALESCE(r.amount, ${z}) AS refunds FROM ${T("refunds")} AS r WHERE ${live("r")}) AS f GROUP BY f.business_date, f.channel, f.location_id, f.currency`
  }
}

/** API-reported count and total against what was loaded, per run and stream. */
export const SourceReconciliation: ViewDef = {
  name: "v_source_reconciliation",
  doc: "For every run and stream: the count and total the API reported against rows and totals loaded; a mismatch means the run is incomplete.",
  select: (d) =>
    `SELECT r.run_id, r.source, r.source_account, r.stream, r.started_at, r.finished_at, r.status, r.cursor_before, r.cursor_after, r.reported_count, r.rows_fetched, r.rows_loaded, r.reported_total, r.loaded_total, CASE WHEN r.reported_count IS NULL OR r.reported_count = r.rows_loaded THEN TRUE ELSE FALSE END AS count_matches, CASE WHEN r.reported_total IS NULL OR r.reported_total = r.loaded_total THEN TRUE ELSE FALSE END AS total_matches, r.detail, r.api_usage FROM ${d.table("_kura_sync_runs")} AS r`
}

/**
 * What every run cost the source API (the ledger's `api_usage`, typed): calls, Shopify cost
 * points requested and charged, THROTTLED answers, the waits they caused and retries, next to
 * the rows the run loaded, so an incremental run's cost can be compared with a full sync's.
 */
export const ApiUsageView: ViewDef = {
  name: "v_api_usage",
  doc: "Per run and stream: API calls, cost points requested/charged, throttles, throttle waits (count, seconds) and retries, with rows loaded and cost points per loaded row.",
  select: (d) => {
    const f = (field: string) => d.jsonField("r.api_usage", field)
    const int = (field: string, as: string) => `CAST(${f(field)} AS ${d.type("int")}) AS ${as}`
    const num = (field: string, as: string) => `CAST(${f(field)} AS ${d.floatType}) AS ${as}`
    return `SELECT r.run_id, r.source, r.source_account, r.stream, r.started_at, r.finished_at, r.status, r.rows_loaded, ${int("calls", "api_calls")}, ${num("costRequested", "cost_requested")}, ${num("costActual", "cost_actual")}, ${int("throttled", "throttled")}, ${int("throttleWaits", "throttle_waits")}, ${num("throttleWaitSeconds", "throttle_wait_seconds")}, ${int("retries", "retries")}, CASE WHEN r.rows_loaded IS NULL OR r.rows_loaded = 0 THEN NULL ELSE CAST(${f("costActual")} AS ${d.floatType}) / r.rows_loaded END AS cost_per_row FROM ${d.table("_kura_sync_runs")} AS r WHERE r.api_usage IS NOT NULL`
  }
}

/**
 * Whitespace as JavaScript's `\s` (and `trim()`) knows it, for RE2 (DuckDB and BigQuery): ASCII
 * spaces, vertical tab, every Unicode separator (no-break and ideographic U+3000 spaces
 * included) and the byte-order mark.
 */
const WHITESPACE_RE2 = "[\\s\\x{0B}\\p{Z}\\x{FEFF}]+"

/**
 * A SKU's canonical form in SQL, as `normalizeSku` writes sku_map: NFKC first (`nfkcSql`: on
 * DuckDB, which has no NFKC, the full-width ASCII block and U+3000 only), then whitespace runs
 * collapsed to one space, trimmed, upper-case. (DuckDB strings keep backslashes as they are and
 * need the `g` flag; BigQuery strings escape them and replace every match.)
 */
export const normalizeSkuSql = (d: Dialect, expr: string): string => {
  const folded = nfkcSql(d, expr)
  return d.name === "duckdb"
    ? `UPPER(TRIM(regexp_replace(${folded}, '${WHITESPACE_RE2}', ' ', 'g')))`
    : `UPPER(TRIM(REGEXP_REPLACE(${folded}, '${WHITESPACE_RE2.replaceAll("\\", "\\\\")}', ' ')))`
}

/**
 * Canonical SKUs that two or more variants of one source account claim by matching: which
 * variant a movement of that SKU belongs to is unknown. A manual override is the operator's
 * decision (e.g. a legacy till code joined to an item's SKU) and never makes a SKU ambiguous.
 */
const ambiguousSkus = (d: Dialect) =>
  `SELECT sm.source, sm.source_account, sm.sku, COUNT(DISTINCT sm.variant_id) AS variant_count, MIN(sm.variant_id) AS first_variant_id, MAX(sm.variant_id) AS last_variant_id FROM ${d.table("sku_map")} AS sm WHERE sm._deleted_at IS NULL AND sm.match_method <> 'manual' GROUP BY sm.source, sm.source_account, sm.sku HAVING COUNT(DISTINCT sm.variant_id) > 1`

/**
 * Where one item is linked across channels: each source variant with its canonical SKU and the
 * SKU it links by. A SKU several variants of one account share by matching is ambiguous: those
 * variants keep a SKU of their own (`sku#variant_id`), so no other channel's stock or sales are
 * ever placed on a guess; a manual override (sku_map match_method `manual`) moving all but one of
 * them to another SKU resolves it.
 */
export const SkuLinks: ViewDef = {
  name: "v_sku_links",
  doc: "Per source variant: canonical SKU, how it was matched, whether it is ambiguous, and the link SKU the inventory views use (variant-specific while ambiguous).",
  select: (d) =>
    `WITH amb AS (${ambiguousSkus(d)}) SELECT sm.source, sm.source_account, sm.variant_id, sm.sku, sm.source_sku, sm.match_method, CASE WHEN amb.sku IS NOT NULL AND sm.match_method <> 'manual' THEN TRUE ELSE FALSE END AS ambiguous, CASE WHEN amb.sku IS NOT NULL AND sm.match_method <> 'manual' THEN CONCAT(sm.sku, '#', sm.variant_id) ELSE sm.sku END AS link_sku FROM ${d.table("sku_map")} AS sm LEFT JOIN amb ON amb.source = sm.source AND amb.source_account = sm.source_account AND amb.sku = sm.sku WHERE sm._deleted_at IS NULL`
}

/** SKUs claimed by several variants of one source account: reported, never linked. */
export const SkuAmbiguities: ViewDef = {
  name: "v_sku_ambiguities",
  doc: "Canonical SKUs that several variants of one source account share (after trimming and upper-casing), with how many and two of their ids: fix the data or add a manual sku_map override.",
  select: (d) =>
    `SELECT a.source, a.source_account, a.sku, a.variant_count, a.first_variant_id, a.last_variant_id FROM (${ambiguousSkus(d)}) AS a`
}

/** Link SKU per variant (from v_sku_links): the canonical SKU, or a variant's own while ambiguous. */
const skuByVariant = (d: Dialect) =>
  `SELECT sl.source, sl.source_account, sl.variant_id, MIN(sl.link_sku) AS sku, MAX(CASE WHEN sl.ambiguous THEN 1 ELSE 0 END) AS ambiguous FROM ${d.table("v_sku_links")} AS sl GROUP BY sl.source, sl.source_account, sl.variant_id`

/**
 * Where each source location's stock lives: manual links from `location_map` first, then a
 * Shopify location of the same name (trimmed, case-insensitive; a name shared by two Shopify
 * locations links nothing, since a wrong link is worse than none).
 */
export const LocationLinks: ViewDef = {
  name: "v_location_links",
  doc: "Each non-Shopify location linked to the stock location it moves: manual (location_map) or by name; ambiguous names stay unlinked.",
  select: (d) => {
    const T = d.table
    const name = (a: string) => normalizeSkuSql(d, `${a}.name`)
    return `WITH manual AS (SELECT lm.source, lm.source_account, lm.location_id, lm.stock_source, lm.stock_account, lm.stock_location_id FROM ${T("location_map")} AS lm WHERE lm._deleted_at IS NULL), named AS (SELECT l.source, l.source_account, l.source_id AS location_id, MIN(s.source) AS stock_source, MIN(s.source_account) AS stock_account, MIN(s.source_id) AS stock_location_id FROM ${T("locations")} AS l JOIN ${T("locations")} AS s ON s.source = 'shopify' AND l.source <> 'shopify' AND ${name("s")} = ${name("l")} AND s._deleted_at IS NULL WHERE l._deleted_at IS NULL GROUP BY l.source, l.source_account, l.source_id HAVING COUNT(*) = 1) SELECT lk.source, lk.source_account, lk.location_id, lk.stock_source, lk.stock_account, lk.stock_location_id, lk.match_method FROM (SELECT mn.source, mn.source_account, mn.location_id, mn.stock_source, mn.stock_account, mn.stock_location_id, 'manual' AS match_method FROM manual AS mn UNION ALL SELECT n.source, n.source_account, n.location_id, n.stock_source, n.stock_account, n.stock_location_id, 'name' AS match_method FROM named AS n WHERE NOT EXISTS (SELECT 1 FROM manual AS x WHERE x.source = n.source AND x.source_account = n.source_account AND x.location_id = n.location_id)) AS lk`
  }
}

/**
 * Every live movement placed in a stock cell: the canonical SKU (sku_map by variant, then by the
 * source's own SKU, Stocky through Shopify's variants, then the normalised SKU) and the stock
 * location (a link from `v_location_links`, Shopify's own locations, a Shopify location id
 * used directly as Stocky does, else the movement's own location). A Lightspeed movement is
 * dated when its line was rung up (`timeOfSale`); `ticket_closed_at` carries the other instant,
 * when its account (ticket) closed (its order's or refund's `processed_at`: `timeClosed`; a void of
 * an earlier sale is a refund row), because which of the two the stock really moves at is not
 * documented.
 */
export const StockMovements: ViewDef = {
  name: "v_stock_movements",
  doc: "Inventory movements of every source resolved to a stock cell: canonical SKU via sku_map and stock location via v_location_links; a Lightspeed sale, void or refund movement (dated when its line was rung up) also carries ticket_closed_at, when its account closed.",
  select: (d) => {
    const T = d.table
    const pick = (field: "stock_source" | "stock_account" | "stock_location_id", self: string) =>
      `CASE WHEN ll.location_id IS NOT NULL THEN ll.${field} WHEN m.source = 'shopify' THEN ${self} WHEN di.location_id IS NOT NULL THEN di.${field} ELSE ${self} END AS ${field}`
    return `WITH by_variant AS (${skuByVariant(d)}), by_source_sku AS (SELECT sl.source, sl.source_account, ${normalizeSkuSql(d, "sl.source_sku")} AS source_sku, MIN(sl.link_sku) AS sku FROM ${T("v_sku_links")} AS sl WHERE sl.source_sku IS NOT NULL GROUP BY sl.source, sl.source_account, ${normalizeSkuSql(d, "sl.source_sku")} HAVING COUNT(DISTINCT sl.link_sku) = 1), shopify_variant AS (SELECT sl.variant_id, MIN(sl.link_sku) AS sku FROM ${T("v_sku_links")} AS sl WHERE sl.source = 'shopify' GROUP BY sl.variant_id HAVING COUNT(DISTINCT sl.link_sku) = 1), direct AS (SELECT l.source_id AS location_id, MIN(l.source) AS stock_source, MIN(l.source_account) AS stock_account, MIN(l.source_id) AS stock_location_id FROM ${T("locations")} AS l WHERE l.source = 'shopify' AND l._deleted_at IS NULL GROUP BY l.source_id HAVING COUNT(*) = 1), closes AS (SELECT o.source, o.source_account, o.source_id, o.processed_at, 'order' AS ref FROM ${T("orders")} AS o WHERE o.source = 'lightspeed' AND o._deleted_at IS NULL UNION ALL SELECT r.source, r.source_account, r.source_id, r.processed_at, 'refund' AS ref FROM ${T("refunds")} AS r WHERE r.source = 'lightspeed' AND r._deleted_at IS NULL) SELECT m.source, m.source_account, m.source_id, m.kind, m.quantity, m.occurred_at, tc.processed_at AS ticket_closed_at, m.reference_type, m.reference_id, m.location_id, m.variant_id, m.sku AS source_sku, COALESCE(bv.sku, bs.sku, CASE WHEN m.source = 'stocky' THEN sv.sku END, ${normalizeSkuSql(d, "m.sku")}, m.variant_id) AS sku, ${pick("stock_source", "m.source")}, ${pick("stock_account", "m.source_account")}, ${pick("stock_location_id", "m.location_id")}, CASE WHEN ll.location_id IS NOT NULL THEN ll.match_method WHEN m.source = 'shopify' THEN 'self' WHEN di.location_id IS NOT NULL THEN 'id' ELSE 'self' END AS location_match FROM ${T("inventory_movements")} AS m LEFT JOIN by_variant AS bv ON bv.source = m.source AND bv.source_account = m.source_account AND bv.variant_id = m.variant_id LEFT JOIN by_source_sku AS bs ON bs.source = m.source AND bs.source_account = m.source_account AND bs.source_sku = ${normalizeSkuSql(d, "m.sku")} LEFT JOIN shopify_variant AS sv ON sv.variant_id = m.variant_id LEFT JOIN ${T("v_location_links")} AS ll ON ll.source = m.source AND ll.source_account = m.source_account AND ll.location_id = m.location_id LEFT JOIN direct AS di ON di.location_id = m.location_id AND m.source <> 'shopify' LEFT JOIN closes AS tc ON tc.source = m.source AND tc.source_account = m.source_account AND tc.source_id = m.reference_id AND tc.ref = CASE WHEN m.reference_type IN ('refund', 'void') THEN 'refund' ELSE 'order' END WHERE m._deleted_at IS NULL`
  }
}

/**
 * Shopify orders deleted before Kura ever read them. A deletion of an order Kura holds is a soft
 * delete of its row; one of an order Kura never held has no row to mark, so its only trace is the
 * evidence kept verbatim in `_kura_raw`: the `deletions` stream's `destroy`/`delete` events, and
 * `orders/delete` webhooks (dated when received; their body has only the id). Such an order moved
 * stock that no API lists any more (its lines went with it), which is what
 * `v_inventory_reconciliation` uses this view for.
 */
export const DeletedBeforeRead: ViewDef = {
  name: "v_deleted_before_read",
  doc: "Shopify orders deleted before Kura read them (a deletion event or orders/delete webhook in _kura_raw, and no orders row, live or soft-deleted): their stock moved, and their lines are unknown.",
  select: (d) => {
    const T = d.table
    const f = (field: string) => d.jsonField("r.payload", field)
    const ts = d.type("timestamp")
    const events = `SELECT r.source, r.source_account, REPLACE(${f("subjectId")}, 'gid://shopify/Order/', '') AS source_id, CAST(${f("createdAt")} AS ${ts}) AS deleted_at, 'event' AS evidence FROM ${T("_kura_raw")} AS r WHERE r.source = 'shopify' AND r.stream = 'deletions' AND ${f("action")} IN ('destroy', 'delete') AND ${f("subjectType")} IN ('ORDER', 'Order')`
    const webhooks = `SELECT r.source, r.source_account, ${f("id")} AS source_id, r.fetched_at AS deleted_at, 'webhook' AS evidence FROM ${T("_kura_raw")} AS r WHERE r.source = 'shopify' AND r.stream = 'webhook.orders_delete'`
    return `SELECT x.source, x.source_account, x.source_id, MIN(x.deleted_at) AS deleted_at, MIN(x.evidence) AS evidence FROM (${events} UNION ALL ${webhooks}) AS x WHERE x.source_id IS NOT NULL AND x.deleted_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${T("orders")} AS o WHERE o.source = x.source AND o.source_account = x.source_account AND o.source_id = x.source_id) GROUP BY x.source, x.source_account, x.source_id`
  }
}

/**
 * Expected on-hand (the previous day's snapshot plus the movements since, from every source)
 * against the observed snapshot, per SKU, stock location and day, with a likely cause for each
 * discrepancy. A shortfall in a window in which Shopify orders Kura never read were deleted
 * (`v_deleted_before_read`, deleted after the previous snapshot and by this one) is labelled
 * `deleted_before_read`: those orders' goods left the shelf, but which SKUs they held is unknown,
 * so the label says they may account for it (a shortfall of another cause in the same shop and
 * window gets the same label; an excess never does).
 *
 * A Lightspeed line is dated when it was rung up, but its ticket may close an hour later, and
 * whether K-Series stock moves at the one or the other is not documented. So each row also says how
 * many tickets were open at one of its snapshots (`open_tickets`) and what it would expect with
 * their lines dated at the close (`expected_quantity_at_close`: lines rung up in the window whose
 * ticket closed after its snapshot move to the next window, and those the previous window passed
 * on move into this one, so a ticket open across two snapshots is not seen); a discrepancy that this second
 * expectation matches exactly is labelled `open_ticket_at_snapshot` (a timing difference that the
 * next window undoes, not a loss). Only an exact match is labelled: shrinkage in the same cell
 * keeps its own cause.
 *
 * A Lightspeed void of an earlier sale puts its goods back on the shelf unless its reason says they
 * were spoiled (the mapper's policy; K-Series does not document it; a spoiled line is a 0-unit
 * movement). In a cell and window with voids (`voided_sales`), a shortfall no larger than what
 * they put back, or an excess where one was spoiled, is labelled `voided_sale`: the policy may be
 * wrong for it. Any other discrepancy there keeps its own cause.
 */
export const InventoryReconciliation: ViewDef = {
  name: "v_inventory_reconciliation",
  doc: "Per canonical SKU, stock location and day: expected on-hand (previous snapshot + movements of every source) vs the observed snapshot, discrepancy and likely cause (deleted_before_read when Shopify orders Kura never read were deleted in the window; open_ticket_at_snapshot when Lightspeed tickets open at a snapshot, dated at their close instead, reconcile it exactly; voided_sale when a Lightspeed sale of the SKU was voided in the window).",
  select: (d) => {
    const T = d.table
    const win = "PARTITION BY dl.source, dl.source_account, dl.sku, dl.location_id ORDER BY dl.snapshot_date"
    const winMoved =
      "PARTITION BY mw.source, mw.source_account, mw.sku, mw.location_id ORDER BY mw.snapshot_date"
    const sumKind = (kind: string, alias: string) =>
      `COALESCE(SUM(CASE WHEN m.kind = '${kind}' THEN m.quantity ELSE 0 END), 0) AS ${alias}`
    return `WITH by_variant AS (${skuByVariant(d)}), snap AS (SELECT i.source, i.source_account, COALESCE(bv.sku, ${normalizeSkuSql(d, "i.sku")}, i.variant_id) AS sku, i.location_id, i.snapshot_date, i.observed_at, i.quantity, COALESCE(bv.ambiguous, 0) AS ambiguous FROM ${T("inventory_levels")} AS i LEFT JOIN by_variant AS bv ON bv.source = i.source AND bv.source_account = i.source_account AND bv.variant_id = i.variant_id WHERE i.quantity_name = 'on_hand' AND i._deleted_at IS NULL), daily AS (SELECT sn.source, sn.source_account, sn.sku, sn.location_id, sn.snapshot_date, MAX(sn.observed_at) AS observed_at, SUM(sn.quantity) AS quantity, MAX(sn.ambiguous) AS ambiguous FROM snap AS sn GROUP BY sn.source, sn.source_account, sn.sku, sn.location_id, sn.snapshot_date), snaps AS (SELECT dl.source, dl.source_account, dl.sku, dl.location_id, dl.snapshot_date, dl.observed_at, dl.quantity, dl.ambiguous, LAG(dl.quantity) OVER (${win}) AS previous_quantity, LAG(dl.observed_at) OVER (${win}) AS previous_observed_at FROM daily AS dl), moved AS (SELECT s.source, s.source_account, s.sku, s.location_id, s.snapshot_date, s.observed_at, s.quantity, s.ambiguous, s.previous_quantity, s.previous_observed_at, COUNT(m.source_id) AS movement_count, COUNT(DISTINCT CASE WHEN m.reference_type = 'void' THEN m.reference_id END) AS voided_sales, COALESCE(SUM(CASE WHEN m.reference_type = 'void' THEN m.quantity ELSE 0 END), 0) AS void_restocked, COUNT(CASE WHEN m.reference_type = 'void' AND m.quantity = 0 THEN 1 END) AS void_spoiled, COUNT(DISTINCT CASE WHEN m.ticket_closed_at > s.observed_at THEN m.reference_id END) AS tickets_at_end, COALESCE(SUM(CASE WHEN m.ticket_closed_at > s.observed_at THEN m.quantity ELSE 0 END), 0) AS open_at_end, COALESCE(SUM(m.quantity), 0) AS net_movement, ${sumKind("sale", "sold")}, ${sumKind("refund_restock", "restocked")}, ${sumKind("receipt", "received")}, ${sumKind("adjustment", "adjusted")}, ${sumKind("transfer_out", "transferred_out")}, ${sumKind("transfer_in", "transferred_in")}, ${sumKind("count_correction", "count_corrections")} FROM snaps AS s LEFT JOIN ${T("v_stock_movements")} AS m ON m.stock_source = s.source AND m.stock_account = s.source_account AND m.sku = s.sku AND m.stock_location_id = s.location_id AND m.occurred_at > s.previous_observed_at AND m.occurred_at <= s.observed_at GROUP BY s.source, s.source_account, s.sku, s.location_id, s.snapshot_date, s.observed_at, s.quantity, s.ambiguous, s.previous_quantity, s.previous_observed_at), gone AS (SELECT s.source, s.source_account, s.sku, s.location_id, s.snapshot_date, COUNT(*) AS orders FROM snaps AS s JOIN ${T("v_deleted_before_read")} AS g ON g.source = s.source AND g.source_account = s.source_account AND g.deleted_at > s.previous_observed_at AND g.deleted_at <= s.observed_at GROUP BY s.source, s.source_account, s.sku, s.location_id, s.snapshot_date), timed AS (SELECT mw.*, LAG(mw.tickets_at_end) OVER (${winMoved}) AS tickets_at_start, LAG(mw.open_at_end) OVER (${winMoved}) AS open_at_start FROM moved AS mw), tk AS (SELECT t.*, t.tickets_at_end + COALESCE(t.tickets_at_start, 0) AS tickets, COALESCE(t.open_at_start, 0) AS opened_before FROM timed AS t) SELECT mv.source, mv.source_account, mv.sku, mv.location_id, mv.snapshot_date, mv.observed_at, mv.previous_observed_at, mv.previous_quantity, mv.movement_count, mv.net_movement, mv.sold, mv.restocked, mv.received, mv.adjusted, mv.transferred_out, mv.transferred_in, mv.count_corrections, COALESCE(gn.orders, 0) AS deleted_before_read, mv.voided_sales, mv.tickets AS open_tickets, mv.previous_quantity + mv.net_movement AS expected_quantity, mv.previous_quantity + mv.net_movement - mv.open_at_end + mv.opened_before AS expected_quantity_at_close, mv.quantity AS observed_quantity, mv.quantity - (mv.previous_quantity + mv.net_movement) AS discrepancy, CASE WHEN mv.previous_quantity IS NULL THEN 'baseline' WHEN mv.quantity = mv.previous_quantity + mv.net_movement THEN 'reconciled' ELSE 'discrepancy' END AS status, CASE WHEN mv.previous_quantity IS NULL OR mv.quantity = mv.previous_quantity + mv.net_movement THEN NULL WHEN mv.ambiguous = 1 THEN 'ambiguous_sku: several variants share this SKU, so no movement of another channel is placed on it; name the variants with a manual sku_map override' WHEN mv.tickets > 0 AND mv.quantity = mv.previous_quantity + mv.net_movement - mv.open_at_end + mv.opened_before THEN 'open_ticket_at_snapshot: a Lightspeed ticket was open at a snapshot (its lines are dated when rung up, timeOfSale; the account closed after the snapshot); with those lines dated when the ticket closed, this reconciles exactly' WHEN (mv.quantity < mv.previous_quantity + mv.net_movement AND mv.previous_quantity + mv.net_movement - mv.quantity <= mv.void_restocked) OR (mv.quantity > mv.previous_quantity + mv.net_movement AND mv.void_spoiled > 0) THEN 'voided_sale: a Lightspeed sale of this SKU was voided in this window; Kura put its goods back on the shelf unless the void reason says they were spoiled (Broken, Cooking, Taste, Unhappy Client, Waited too long), and K-Series does not document what a void does to stock, so the void may account for this' WHEN mv.quantity < mv.previous_quantity + mv.net_movement AND gn.orders > 0 THEN 'deleted_before_read: Shopify orders deleted before Kura read them (v_deleted_before_read) fall in this window; their goods left the shelf and no API lists their lines, so they may account for this outflow' WHEN mv.quantity < mv.previous_quantity + mv.net_movement AND mv.movement_count = 0 THEN 'unrecorded_outflow: shrinkage, theft or a sale that was not synced' WHEN mv.quantity < mv.previous_quantity + mv.net_movement THEN 'missing_outflow: shrinkage, or a sale, transfer out or adjustment not recorded as a movement' WHEN mv.transferred_out > 0 OR mv.transferred_in > 0 THEN 'transfer_timing: a transfer counted on one side only' WHEN mv.quantity > mv.previous_quantity + mv.net_movement AND mv.sold < 0 THEN 'unrecorded_return_or_restock: stock came back without a refund_restock movement' ELSE 'unrecorded_inflow: a receipt, return or miscount not recorded as a movement' END AS likely_cause FROM tk AS mv LEFT JOIN gone AS gn ON gn.source = mv.source AND gn.source_account = mv.source_account AND gn.sku = mv.sku AND gn.location_id = mv.location_id AND gn.snapshot_date = mv.snapshot_date`
  }
}

/**
 * An epoch-milliseconds column of the bookkeeping tables as a UTC timestamp (DuckDB: exact to the
 * millisecond, with its time zone; BigQuery: TIMESTAMP_MILLIS).
 */
const fromEpochMs = (d: Dialect, expr: string): string =>
  d.name === "duckdb" ? `make_timestamptz(${expr} * 1000)` : `TIMESTAMP_MILLIS(${expr})`

/** Seconds between two epoch-milliseconds columns, NULL while the second is. */
const secondsBetween = (d: Dialect, from: string, to: string): string =>
  `CAST(${to} - ${from} AS ${d.floatType}) / 1000`

/**
 * The run ledger (`_kura_sync_runs`) with timestamps instead of epoch milliseconds, and each
 * run's duration: what a data team queries, with no schema migration of the ledger itself.
 */
export const SyncRunsView: ViewDef = {
  name: "v_sync_runs",
  doc: "The run ledger (_kura_sync_runs) readable: started_at and finished_at as UTC timestamps, the run's duration in seconds, and everything else as recorded.",
  select: (d) => {
    const t = (c: string) => `${fromEpochMs(d, `r.${c}`)} AS ${c}`
    return `SELECT r.run_id, r.source, r.source_account, r.stream, ${t("started_at")}, ${t("finished_at")}, ${secondsBetween(d, "r.started_at", "r.finished_at")} AS duration_seconds, r.status, r.cursor_before, r.cursor_after, r.reported_count, r.rows_fetched, r.rows_loaded, r.reported_total, r.loaded_total, r.detail FROM ${d.table("_kura_sync_runs")} AS r`
  }
}

/** Per-stream cursors and bulk jobs (`_kura_sync_state`) with timestamps instead of epoch milliseconds. */
export const SyncStateView: ViewDef = {
  name: "v_sync_state",
  doc: "Cursors and bulk jobs (_kura_sync_state) readable: created_at and updated_at as UTC timestamps, and how long ago (seconds, at query time) each was last written.",
  select: (d) => {
    const t = (c: string) => `${fromEpochMs(d, `s.${c}`)} AS ${c}`
    const now = d.name === "duckdb" ? "CAST(epoch_ms(now()) AS BIGINT)" : "UNIX_MILLIS(CURRENT_TIMESTAMP())"
    return `SELECT s.kind, s.id, s.source, s.source_account, s.stream, s.${d.ident("cursor")}, s.window_start, s.window_end, s.state, s.remote_status, s.object_count, ${t("created_at")}, ${t("updated_at")}, ${secondsBetween(d, "s.updated_at", now)} AS age_seconds FROM ${d.table("_kura_sync_state")} AS s`
  }
}

/** Dead letters (`_kura_dead_letters`) without their payloads, with timestamps instead of epoch milliseconds. */
export const DeadLettersView: ViewDef = {
  name: "v_dead_letters",
  doc: "Dead letters (_kura_dead_letters) readable, without their payloads: at and replayed_at as UTC timestamps; replayed tells a letter that was replayed from one still waiting.",
  select: (d) =>
    `SELECT l.id, l.source, l.source_account, l.stream, l.source_id, l.reason, l.detail, l.origin, ${fromEpochMs(d, `l.${d.ident("at")}`)} AS ${d.ident("at")}, l.attempts, ${fromEpochMs(d, "l.replayed_at")} AS replayed_at, CASE WHEN l.replayed_at IS NULL THEN FALSE ELSE TRUE END AS replayed FROM ${d.table("_kura_dead_letters")} AS l`
}

/** Every view, in creation order. */
export const AllViews: ReadonlyArray<ViewDef> = [
  DailySales,
  SourceReconciliation,
  ApiUsageView,
  SkuLinks,
  SkuAmbiguities,
  LocationLinks,
  StockMovements,
  DeletedBeforeRead,
  InventoryReconciliation,
  SyncRunsView,
  SyncStateView,
  DeadLettersView
]

/** `CREATE OR REPLACE VIEW` for a view definition. */
export const createView = (d: Dialect, view: ViewDef): string =>
  `CREATE OR REPLACE VIEW ${d.table(view.name)} AS ${view.select(d)}`
