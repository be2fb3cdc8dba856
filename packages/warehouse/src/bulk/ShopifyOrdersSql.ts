/**
 * The Shopify order mapping as DuckDB SQL over a bulk-operation JSONL file (one `Order` line, then
 * its `LineItem`, `ShippingLine`, `RefundLineItem` and refund `OrderTransaction` lines carrying
 * `__parentId`). It produces exactly the rows `makeShopifyOrderMapper` produces for the reassembled
 * orders (proved by `test/BulkLoaderSql.test.ts`), so both paths must change together.
 *
 * DuckDB reads and parses the file itself (`read_ndjson`, multi-threaded C++), so no JS object is
 * created per line. Money is cast to DECIMAL(38,9) from its text, never through a float.
 */
import { CanonicalTables } from "../Tables.js"

/** What the SQL needs besides the file: the constants a `MapContext` gives the JS mapper. */
export interface ShopifyOrdersSqlOptions {
  /** Path of the JSONL file (plain or .gz). */
  readonly file: string
  /** Prefix of this load's temp tables (unique per load). */
  readonly prefix: string
  readonly sourceAccount: string
  readonly syncedAt: string
  readonly batchId: string
  /** The location every order sells from (`makeShopifyOrderMapper({ locationOf: () => id })`), or null. */
  readonly locationId: string | null
  /** `ctx.timeZoneOf(null)`: online orders' business day. */
  readonly onlineZone: string
  /** `ctx.timeZoneOf(locationId)`: POS orders' business day. */
  readonly posZone: string
}

/** Canonical tables this mapping writes, in load order. */
export const ORDER_TABLES = [
  "orders",
  "order_lines",
  "payments",
  "refunds",
  "refund_lines",
  "tax_lines",
  "inventory_movements"
] as const

/** One of `ORDER_TABLES`. */
export type OrderTable = (typeof ORDER_TABLES)[number]

const lit = (text: string | null): string => (text === null ? "NULL" : `'${text.replaceAll("'", "''")}'`)

const MONEY =
  "STRUCT(shopMoney STRUCT(amount VARCHAR, currencyCode VARCHAR), presentmentMoney STRUCT(amount VARCHAR, currencyCode VARCHAR))"
const REF = "STRUCT(id VARCHAR)"
const TAX = `STRUCT(title VARCHAR, rate VARCHAR, priceSet ${MONEY})`
const TRANSACTION = `STRUCT(id VARCHAR, kind VARCHAR, status VARCHAR, gateway VARCHAR, createdAt VARCHAR, processedAt VARCHAR, amountSet ${MONEY})`
const REFUND = `STRUCT(id VARCHAR, legacyResourceId VARCHAR, createdAt VARCHAR, updatedAt VARCHAR, processedAt VARCHAR, note VARCHAR, totalRefundedSet ${MONEY})`

/** The union of the fields of every line type, as read_ndjson columns (all text: validated in SQL). */
const COLUMNS: ReadonlyArray<readonly [string, string]> = [
  ["__typename", "VARCHAR"],
  ["id", "VARCHAR"],
  ["__parentId", "VARCHAR"],
  ["legacyResourceId", "VARCHAR"],
  ["name", "VARCHAR"],
  ["createdAt", "VARCHAR"],
  ["updatedAt", "VARCHAR"],
  ["processedAt", "VARCHAR"],
  ["cancelledAt", "VARCHAR"],
  ["closed", "VARCHAR"],
  ["currencyCode", "VARCHAR"],
  ["presentmentCurrencyCode", "VARCHAR"],
  ["displayFinancialStatus", "VARCHAR"],
  ["displayFulfillmentStatus", "VARCHAR"],
  ["sourceName", "VARCHAR"],
  ["customer", "STRUCT(legacyResourceId VARCHAR)"],
  ["subtotalPriceSet", MONEY],
  ["totalPriceSet", MONEY],
  ["totalTaxSet", MONEY],
  ["totalDiscountsSet", MONEY],
  ["totalShippingPriceSet", MONEY],
  ["totalRefundedSet", MONEY],
  ["transactions", `${TRANSACTION}[]`],
  ["refunds", `${REFUND}[]`],
  ["title", "VARCHAR"],
  ["variantTitle", "VARCHAR"],
  ["sku", "VARCHAR"],
  ["quantity", "VARCHAR"],
  ["variant", REF],
  ["product", REF],
  ["originalUnitPriceSet", MONEY],
  ["discountedTotalSet", MONEY],
  ["totalDiscountSet", MONEY],
  ["taxLines", `${TAX}[]`],
  ["restockType", "VARCHAR"],
  ["restocked", "VARCHAR"],
  ["lineItem", REF],
  ["location", REF],
  ["subtotalSet", MONEY],
  ["kind", "VARCHAR"],
  ["status", "VARCHAR"],
  ["gateway", "VARCHAR"],
  ["amountSet", MONEY]
]

/**
 * The longest line DuckDB reads (its default). Its JSON reader keeps buffers of this size per
 * thread inside `memory_limit`, so it is not raised; a longer line is dead-lettered.
 */
export const MAX_LINE_BYTES = 16_777_216

/** The `read_ndjson` call of the load: every field the mapping reads, typed, nothing else. */
export const readShopifyOrdersSql = (file: string): string =>
  `read_ndjson(${lit(file)}, columns = {${COLUMNS.map(([n, t]) => `"${n}": '${t}'`).join(", ")}}, ignore_errors = true, maximum_object_size = ${MAX_LINE_BYTES})`

const DEC = "DECIMAL(38,9)"
// TRY_CAST although rejected orders never reach a row: the planner may evaluate a projection
// before the anti-join that removes them, and one bad value must not fail the whole load.
// DuckDB casts text to a 128-bit DECIMAL(38,9) at ~10 µs a value but to DECIMAL(18,9) almost
// for free; the wide cast runs only for values that do not fit 18 digits (COALESCE short-circuits).
const dec = (e: string) =>
  `coalesce(CAST(TRY_CAST(${e} AS DECIMAL(18,9)) AS ${DEC}), TRY_CAST(${e} AS ${DEC}))`
const ts = (e: string) => `TRY_CAST(${e} AS TIMESTAMPTZ)`
/** `gidToId`: the numeric id of a Shopify gid, other text unchanged. */
const gid = (e: string) =>
  `CASE WHEN regexp_matches(${e}, '^gid://shopify/[A-Za-z]+/[0-9]') THEN regexp_extract(${e}, '^gid://shopify/[A-Za-z]+/([0-9]+)', 1) ELSE ${e} END`
const shop = (bag: string) => `${bag}.shopMoney.amount`
const pres = (bag: string) => `${bag}.presentmentMoney.amount`

/** Problem checks: each yields a message naming the field when the value cannot be mapped. */
const needText = (field: string, e: string) => `CASE WHEN ${e} IS NULL THEN '${field} is missing' END`
const needTs = (field: string, e: string, required: boolean) =>
  `CASE WHEN ${e} IS NULL THEN ${required ? `'${field} is missing'` : "NULL"} WHEN TRY_CAST(${e} AS TIMESTAMPTZ) IS NULL THEN '${field} ' || ${e} || ' is not an ISO-8601 timestamp' END`
const needDec = (field: string, e: string) =>
  `CASE WHEN ${e} IS NOT NULL AND ${dec(e)} IS NULL THEN '${field} ' || ${e} || ' is not a decimal' END`
const needBag = (field: string, bag: string, required: boolean) => [
  ...(required ? [`CASE WHEN ${bag} IS NULL THEN '${field} is missing' END`] : []),
  needDec(`${field}.shopMoney.amount`, shop(bag)),
  needDec(`${field}.presentmentMoney.amount`, pres(bag))
]
const needInt = (field: string, e: string) =>
  `CASE WHEN ${e} IS NULL THEN '${field} is missing' WHEN NOT regexp_matches(${e}, '^-?[0-9]{1,18}$') THEN '${field} ' || ${e} || ' is not an integer' END`
const needList = (field: string, list: string, element: (x: string) => ReadonlyArray<string>) =>
  `CASE WHEN ${list} IS NULL THEN '${field} is missing' ELSE nullif(array_to_string(flatten(list_transform(${list}, x -> list_filter([${element("x").join(", ")}], m -> m IS NOT NULL))), '; '), '') END`
const problems = (checks: ReadonlyArray<string>) => `nullif(concat_ws('; ', ${checks.join(", ")}), '')`

const taxChecks = (x: string) => [
  needText("taxLines.title", `${x}.title`),
  needDec("taxLines.rate", `${x}.rate`),
  ...needBag("taxLines.priceSet", `${x}.priceSet`, true)
]
const transactionChecks = (x: string | null, label = "transactions") => {
  const f = (name: string) => (x === null ? name : `${x}.${name}`)
  return [
    needText(`${label}.id`, f("id")),
    needText(`${label}.kind`, f("kind")),
    needText(`${label}.status`, f("status")),
    needTs(`${label}.createdAt`, f("createdAt"), true),
    needTs(`${label}.processedAt`, f("processedAt"), false),
    ...needBag(`${label}.amountSet`, f("amountSet"), true)
  ]
}
const refundChecks = (x: string) => [
  needText("refunds.id", `${x}.id`),
  needText("refunds.legacyResourceId", `${x}.legacyResourceId`),
  needTs("refunds.updatedAt", `${x}.updatedAt`, true),
  needTs("refunds.processedAt", `${x}.processedAt`, true),
  needTs("refunds.createdAt", `${x}.createdAt`, false),
  ...needBag("refunds.totalRefundedSet", `${x}.totalRefundedSet`, true)
]

/** The SQL statements of one load, in order, and the names of its temp tables. */
export interface ShopifyOrdersSql {
  /** Reads the file into the lines table (one row per non-empty line; unparseable lines are all-NULL rows). */
  readonly stage: string
  /** Puts refund children in their order's pass; then `orders` counts the orders in the file. */
  readonly assign: ReadonlyArray<string>
  readonly orders: string
  /** Selects pass `index` of `count`: the orders whose key hashes there, with all their lines. */
  readonly pass: (index: number, count: number) => string
  /** Classifies the pass's lines, checks them, and builds the order index and the problem list. */
  readonly prepare: ReadonlyArray<string>
  /** Counts: lines, unparseable lines, orders, rejected orders, orphan children, lines of rejected orders. */
  readonly summary: string
  /** Rejected orders and orphans: gid, source_id, what ("order" | "orphan"), detail. */
  readonly rejected: string
  /** Refund gids of rejected orders (their child lines belong to the order's dead letter). */
  readonly rejectedRefunds: string
  /** Builds each canonical temp table (`canonical[t]`) from the accepted orders. */
  readonly build: Readonly<Record<OrderTable, string>>
  /** Counts keys present more than once in a canonical temp table. */
  readonly duplicates: Readonly<Record<OrderTable, string>>
  /** Keeps the newest version of each key (run only when `duplicates` found some). */
  readonly dedupe: Readonly<Record<OrderTable, string>>
  readonly canonical: Readonly<Record<OrderTable, string>>
  /** Every temp table, for cleanup. */
  readonly temps: ReadonlyArray<string>
  /** The pass view, for cleanup. */
  readonly view: string
}

/** Builds the statements of one load. */
export const shopifyOrdersSql = (o: ShopifyOrdersSqlOptions): ShopifyOrdersSql => {
  const p = o.prefix
  const L = `${p}_lines`
  const V = `${p}_part`
  const RA = `${p}_refund_owner`
  const O = `${p}_order_index`
  const R = `${p}_refund_index`
  const X = `${p}_problems`
  const canonical = Object.fromEntries(ORDER_TABLES.map((t) => [t, `${p}_${t}`])) as Record<
    OrderTable,
    string
  >
  const loc = lit(o.locationId)
  const lineage = (id: string, updated: string) =>
    `'shopify' AS source, ${lit(o.sourceAccount)} AS source_account, ${id} AS source_id, ${updated} AS updated_at, CAST(${lit(o.syncedAt)} AS TIMESTAMPTZ) AS _synced_at, ${lit(o.batchId)} AS _batch_id, CAST(NULL AS TIMESTAMPTZ) AS _deleted_at`
  const zoneOf = (channel: string) =>
    `CASE WHEN ${channel} = 'online' THEN ${lit(o.onlineZone)} ELSE ${lit(o.posZone)} END`
  const bizDate = (at: string, channel: string) => `CAST(timezone(${zoneOf(channel)}, ${at}) AS DATE)`

  const stage = `CREATE OR REPLACE TEMP TABLE ${L} AS SELECT
    CASE
      WHEN id IS NULL AND __parentId IS NULL THEN 'invalid'
      WHEN __parentId IS NULL THEN 'order'
      WHEN __typename = 'LineItem' OR (__typename IS NULL AND id LIKE 'gid://shopify/LineItem/%') THEN 'line'
      WHEN __typename = 'ShippingLine' OR (__typename IS NULL AND (id IS NULL OR id LIKE 'gid://shopify/ShippingLine/%')) THEN 'ship'
      WHEN __typename = 'RefundLineItem' OR (__typename IS NULL AND id LIKE 'gid://shopify/RefundLineItem/%') THEN 'refund_line'
      WHEN __typename = 'OrderTransaction' OR (__typename IS NULL AND id LIKE 'gid://shopify/OrderTransaction/%') THEN 'refund_tx'
      ELSE 'other' END AS _kind,
    -- The order a line belongs to decides its pass (refund children are fixed up below).
    hash(coalesce(__parentId, id)) AS _h, *
    FROM ${readShopifyOrdersSql(o.file)}`

  const orderProblems = problems([
    needText("legacyResourceId", "legacyResourceId"),
    needText("name", "name"),
    needText("currencyCode", "currencyCode"),
    needText("presentmentCurrencyCode", "presentmentCurrencyCode"),
    needText("displayFulfillmentStatus", "displayFulfillmentStatus"),
    `CASE WHEN closed IS NULL OR closed NOT IN ('true', 'false') THEN 'closed must be true or false' END`,
    needTs("createdAt", "createdAt", true),
    needTs("updatedAt", "updatedAt", true),
    needTs("processedAt", "processedAt", true),
    needTs("cancelledAt", "cancelledAt", false),
    ...needBag("subtotalPriceSet", "subtotalPriceSet", false),
    ...needBag("totalPriceSet", "totalPriceSet", true),
    ...needBag("totalTaxSet", "totalTaxSet", false),
    ...needBag("totalDiscountsSet", "totalDiscountsSet", false),
    ...needBag("totalShippingPriceSet", "totalShippingPriceSet", true),
    ...needBag("totalRefundedSet", "totalRefundedSet", true),
    needList("transactions", "transactions", (x) => transactionChecks(x)),
    needList("refunds", "refunds", refundChecks)
  ])
  const lineProblems = problems([
    needText("LineItem.id", "id"),
    needText("LineItem.title", "title"),
    needInt("LineItem.quantity", "quantity"),
    ...needBag("LineItem.originalUnitPriceSet", "originalUnitPriceSet", true),
    ...needBag("LineItem.discountedTotalSet", "discountedTotalSet", true),
    ...needBag("LineItem.totalDiscountSet", "totalDiscountSet", true),
    needList("LineItem.taxLines", "taxLines", taxChecks)
  ])
  const shipProblems = problems([needList("ShippingLine.taxLines", "taxLines", taxChecks)])
  const refundLineProblems = problems([
    needInt("RefundLineItem.quantity", "quantity"),
    needText("RefundLineItem.restockType", "restockType"),
    `CASE WHEN restocked IS NULL OR restocked NOT IN ('true', 'false') THEN 'RefundLineItem.restocked must be true or false' END`,
    needText("RefundLineItem.lineItem.id", "lineItem.id"),
    ...needBag("RefundLineItem.subtotalSet", "subtotalSet", true),
    ...needBag("RefundLineItem.totalTaxSet", "totalTaxSet", true)
  ])
  const refundTxProblems = problems(transactionChecks(null, "OrderTransaction"))

  const prepare = [
    // Orders and their refunds (refund children point at the refund's gid).
    `CREATE OR REPLACE TEMP TABLE ${O} AS SELECT id AS gid, legacyResourceId AS lrid, ${orderProblems} AS problem FROM ${V} WHERE _kind = 'order'`,
    `CREATE OR REPLACE TEMP TABLE ${R} AS SELECT r.id AS refund_gid, l.id AS order_gid FROM (SELECT id, unnest(refunds) AS r FROM ${V} WHERE _kind = 'order' AND refunds IS NOT NULL) l`,
    // Every problem keyed by its order (an order is loaded whole or dead-lettered whole, as the
    // JS path's schema decode does), plus children whose parent is not in the file.
    `CREATE OR REPLACE TEMP TABLE ${X} AS
      SELECT gid AS order_gid, problem FROM ${O} WHERE problem IS NOT NULL
      UNION ALL
      SELECT l.__parentId, ${lineProblems} FROM ${V} l WHERE l._kind = 'line'
      UNION ALL
      SELECT l.__parentId, ${shipProblems} FROM ${V} l WHERE l._kind = 'ship'
      UNION ALL
      SELECT r.order_gid, ${refundLineProblems} FROM ${V} JOIN ${R} r ON __parentId = r.refund_gid WHERE _kind = 'refund_line'
      UNION ALL
      SELECT r.order_gid, ${refundTxProblems} FROM ${V} JOIN ${R} r ON __parentId = r.refund_gid WHERE _kind = 'refund_tx'`,
    // Children of a parent missing from the file are orphans, reported on their own.
    `DELETE FROM ${X} WHERE problem IS NULL OR order_gid IS NULL OR order_gid NOT IN (SELECT gid FROM ${O} WHERE gid IS NOT NULL)`
  ]

  const orphans = `SELECT l.id, l.__parentId, l._kind FROM ${V} l WHERE l._kind IN ('line', 'ship', 'refund_line', 'refund_tx', 'other')
      AND NOT EXISTS (SELECT 1 FROM ${O} WHERE gid = l.__parentId) AND NOT EXISTS (SELECT 1 FROM ${R} WHERE refund_gid = l.__parentId)`
  const summary = `SELECT
      (SELECT count(*) FROM ${V}) AS lines,
      (SELECT count(*) FROM ${V} WHERE _kind = 'invalid') AS invalid,
      (SELECT count(*) FROM ${O}) AS orders,
      (SELECT count(DISTINCT order_gid) FROM ${X}) AS rejected,
      (SELECT count(*) FROM (${orphans})) AS orphans,
      (SELECT count(*) FROM ${V} l WHERE l.id IN (SELECT order_gid FROM ${X}) OR l.__parentId IN (SELECT order_gid FROM ${X})
        OR l.__parentId IN (SELECT refund_gid FROM ${R} WHERE order_gid IN (SELECT order_gid FROM ${X}))) AS rejected_lines`
  const rejected = `SELECT x.order_gid AS gid, any_value(o.lrid) AS source_id, 'order' AS what, string_agg(DISTINCT x.problem, '; ') AS detail FROM ${X} x LEFT JOIN ${O} o ON o.gid = x.order_gid GROUP BY x.order_gid
      UNION ALL SELECT id, NULL, 'orphan', 'the ' || _kind || ' line''s parent ' || coalesce(__parentId, '?') || ' is not in the file' FROM (${orphans})`

  // Accepted orders with the values their children need.
  const ok = `(SELECT l.*, ${ts("l.updatedAt")} AS _updated, ${ts("l.createdAt")} AS _created,
      CASE WHEN l.sourceName = 'pos' THEN 'pos' ELSE 'online' END AS _channel
    FROM ${V} l WHERE l._kind = 'order' AND NOT EXISTS (SELECT 1 FROM ${X} x WHERE x.order_gid = l.id))`
  const lines = (kind: string) => `(SELECT * FROM ${V} WHERE _kind = '${kind}')`

  const orders = `SELECT ${lineage("o.legacyResourceId", "o._updated")},
      o._channel AS channel, ${loc} AS location_id, o.name AS order_number, o.customer.legacyResourceId AS customer_id,
      o.currencyCode AS currency,
      ${dec(shop("o.subtotalPriceSet"))} AS subtotal, ${dec(shop("o.totalDiscountsSet"))} AS discounts,
      ${dec(shop("o.totalShippingPriceSet"))} AS shipping, ${dec(shop("o.totalTaxSet"))} AS tax,
      ${dec(shop("o.totalPriceSet"))} AS total, ${dec(shop("o.totalRefundedSet"))} AS refunded,
      o.presentmentCurrencyCode AS presentment_currency,
      ${dec(pres("o.subtotalPriceSet"))} AS subtotal_presentment, ${dec(pres("o.totalDiscountsSet"))} AS discounts_presentment,
      ${dec(pres("o.totalShippingPriceSet"))} AS shipping_presentment, ${dec(pres("o.totalTaxSet"))} AS tax_presentment,
      ${dec(pres("o.totalPriceSet"))} AS total_presentment, ${dec(pres("o.totalRefundedSet"))} AS refunded_presentment,
      o.displayFinancialStatus AS financial_status, o.displayFulfillmentStatus AS fulfillment_status,
      CASE WHEN o.cancelledAt IS NOT NULL THEN 'cancelled' WHEN o.closed = 'true' THEN 'closed' ELSE 'open' END AS status,
      o._created AS created_at, ${ts("o.processedAt")} AS processed_at, ${bizDate("o._created", "o._channel")} AS business_date,
      ${ts("o.cancelledAt")} AS cancelled_at
    FROM ${ok} o`

  const orderLines = `SELECT ${lineage(gid("li.id"), "o._updated")},
      o.legacyResourceId AS order_id, ${gid("li.product.id")} AS product_id, ${gid("li.variant.id")} AS variant_id,
      li.sku AS sku, CASE WHEN li.variantTitle IS NULL THEN li.title ELSE li.title || ' - ' || li.variantTitle END AS title,
      TRY_CAST(li.quantity AS BIGINT) AS quantity,
      ${dec(shop("li.originalUnitPriceSet"))} AS unit_price, ${dec(shop("li.totalDiscountSet"))} AS discount,
      list_sum(list_transform(li.taxLines, t -> ${dec("t.priceSet.shopMoney.amount")})) AS tax,
      ${dec(shop("li.discountedTotalSet"))} AS total,
      ${dec(pres("li.originalUnitPriceSet"))} AS unit_price_presentment, ${dec(pres("li.discountedTotalSet"))} AS total_presentment
    FROM ${lines("line")} li JOIN ${ok} o ON li.__parentId = o.id`

  // Refunds of accepted orders, with what their lines need.
  const refundsOf = `(SELECT r.*, o.legacyResourceId AS order_id, o._channel AS channel, o.id AS order_gid,
      ${ts("r.updatedAt")} AS _updated, ${ts("coalesce(r.createdAt, r.processedAt)")} AS _created
    FROM (SELECT o.*, unnest(o.refunds) AS r FROM ${ok} o) o)`
  const refundRows = `SELECT ${lineage("r.legacyResourceId", "r._updated")},
      r.order_id AS order_id, r.channel AS channel, ${loc} AS location_id,
      r.totalRefundedSet.shopMoney.currencyCode AS currency, ${dec(shop("r.totalRefundedSet"))} AS amount,
      ${dec(pres("r.totalRefundedSet"))} AS amount_presentment, r.note AS note, r._created AS created_at,
      ${ts("r.processedAt")} AS processed_at, ${bizDate("r._created", "r.channel")} AS business_date
    FROM ${refundsOf} r`

  // Refund lines joined to their refund and to the order's line item (variant and SKU); null ids
  // number the line within its refund, as the JS mapper does.
  const refundLinesOf = `(SELECT rl.*, r.legacyResourceId AS refund_id, r.order_id, r.note AS refund_note, r._updated, r._created,
      ${gid("rl.lineItem.id")} AS line_id,
      li.variant.id AS li_variant, li.sku AS li_sku,
      rl.restocked = 'true' OR rl.restockType IN ('RETURN', 'CANCEL', 'LEGACY_RESTOCK', 'return', 'cancel', 'legacy_restock') AS _restock,
      coalesce(${gid("rl.location.id")}, ${loc}) AS _at,
      row_number() OVER (PARTITION BY rl.__parentId ORDER BY rl.id) - 1 AS _i
    FROM ${lines("refund_line")} rl JOIN ${refundsOf} r ON rl.__parentId = r.id
      LEFT JOIN ${lines("line")} li ON li.__parentId = r.order_gid AND ${gid("li.id")} = ${gid("rl.lineItem.id")})`
  const rlId = `CASE WHEN rl.id IS NULL THEN rl.refund_id || ':' || rl.line_id || ':' || rl._i ELSE ${gid("rl.id")} END`
  const refundLines = `SELECT ${lineage(rlId, "rl._updated")},
      rl.refund_id AS refund_id, rl.order_id AS order_id, rl.line_id AS order_line_id, ${gid("rl.li_variant")} AS variant_id,
      rl.li_sku AS sku, TRY_CAST(rl.quantity AS BIGINT) AS quantity, ${dec(shop("rl.subtotalSet"))} AS amount,
      rl._restock AS restock, rl._at AS location_id
    FROM ${refundLinesOf} rl`

  const taxRow = (id: string, updated: string, parentType: string, parentId: string, t: string | null) =>
    `${lineage(id, updated)}, o_id AS order_id, '${parentType}' AS parent_type, ${parentId} AS parent_id,
      ${t === null ? "CAST(NULL AS VARCHAR)" : `${t}.title`} AS title, ${t === null ? `CAST(NULL AS ${DEC})` : dec(`${t}.rate`)} AS rate`
  const taxLines = `
    SELECT ${taxRow("'line:' || p_id || ':' || i", "_updated", "line", "p_id", "t")},
      ${dec("t.priceSet.shopMoney.amount")} AS amount, ${dec("t.priceSet.presentmentMoney.amount")} AS amount_presentment
    FROM (SELECT ${gid("li.id")} AS p_id, o.legacyResourceId AS o_id, o._updated, unnest(li.taxLines) AS t, unnest(range(len(li.taxLines))) AS i
      FROM ${lines("line")} li JOIN ${ok} o ON li.__parentId = o.id)
    UNION ALL
    SELECT ${taxRow("'shipping:' || p_id || ':' || i", "_updated", "shipping", "p_id", "t")},
      ${dec("t.priceSet.shopMoney.amount")} AS amount, ${dec("t.priceSet.presentmentMoney.amount")} AS amount_presentment
    FROM (SELECT CASE WHEN s.id IS NULL THEN o.legacyResourceId || ':' || (row_number() OVER (PARTITION BY s.__parentId ORDER BY s.id) - 1) ELSE ${gid("s.id")} END AS p_id,
        o.legacyResourceId AS o_id, o._updated, s.taxLines
      FROM ${lines("ship")} s JOIN ${ok} o ON s.__parentId = o.id) s, LATERAL (SELECT unnest(s.taxLines) AS t, unnest(range(len(s.taxLines))) AS i)
    UNION ALL
    SELECT ${taxRow("'refund_line:' || p_id || ':total'", "_updated", "refund_line", "p_id", null)},
      ${dec(shop("tt"))} AS amount, ${dec(pres("tt"))} AS amount_presentment
    FROM (SELECT ${rlId} AS p_id, rl.order_id AS o_id, rl._updated, rl.totalTaxSet AS tt FROM ${refundLinesOf} rl)`

  // Order transactions, then refund transactions: a transaction listed in both is kept once (the
  // refund's copy, as the JS mapper's Map keeps the last write).
  const tx = (t: string, orderId: string, updated: string) => `${lineage(gid(`${t}.id`), updated)},
      ${orderId} AS order_id, lower(${t}.kind) AS kind, ${t}.gateway AS method, lower(${t}.status) AS status,
      ${t}.amountSet.shopMoney.currencyCode AS currency, ${dec(shop(`${t}.amountSet`))} AS amount,
      ${t}.amountSet.presentmentMoney.currencyCode AS presentment_currency, ${dec(pres(`${t}.amountSet`))} AS amount_presentment,
      ${ts(`coalesce(${t}.processedAt, ${t}.createdAt)`)} AS processed_at`
  const payments = `SELECT * EXCLUDE (_pref) FROM (
      SELECT ${tx("t", "o.legacyResourceId", "o._updated")}, 0 AS _pref FROM (SELECT o.*, unnest(o.transactions) AS t FROM ${ok} o) o
      UNION ALL
      SELECT ${tx("rt", "r.order_id", "o._updated")}, 1 AS _pref
        FROM ${lines("refund_tx")} rt JOIN ${refundsOf} r ON rt.__parentId = r.id JOIN ${ok} o ON o.id = r.order_gid)
    QUALIFY row_number() OVER (PARTITION BY source_id ORDER BY _pref DESC) = 1`

  const movements = `
    SELECT ${lineage(`'sale:' || ${gid("li.id")}`, "o._updated")},
      ${gid("li.variant.id")} AS variant_id, li.sku AS sku, ${loc} AS location_id, 'sale' AS kind,
      -TRY_CAST(li.quantity AS BIGINT) AS quantity, CAST(NULL AS VARCHAR) AS reason, 'order' AS reference_type,
      o.legacyResourceId AS reference_id, o._created AS occurred_at
    FROM ${lines("line")} li JOIN ${ok} o ON li.__parentId = o.id
    WHERE ${loc} IS NOT NULL AND li.variant IS NOT NULL AND li.variant.id IS NOT NULL AND TRY_CAST(li.quantity AS BIGINT) <> 0
    UNION ALL
    SELECT ${lineage(`'refund_restock:' || ${rlId}`, "rl._updated")},
      ${gid("rl.li_variant")} AS variant_id, rl.li_sku AS sku, rl._at AS location_id, 'refund_restock' AS kind,
      TRY_CAST(rl.quantity AS BIGINT) AS quantity, rl.refund_note AS reason, 'refund' AS reference_type,
      rl.refund_id AS reference_id, rl._created AS occurred_at
    FROM ${refundLinesOf} rl WHERE rl._restock AND rl._at IS NOT NULL AND TRY_CAST(rl.quantity AS BIGINT) <> 0`

  const selects: Record<OrderTable, string> = {
    orders,
    order_lines: orderLines,
    payments,
    refunds: refundRows,
    refund_lines: refundLines,
    tax_lines: taxLines,
    inventory_movements: movements
  }
  // Columns in table order, so the MERGE can name them.
  const build = Object.fromEntries(
    ORDER_TABLES.map((t) => {
      const cols = CanonicalTables[t].columns.map((c) => `"${c.name}"`).join(", ")
      return [t, `CREATE OR REPLACE TEMP TABLE ${canonical[t]} AS SELECT ${cols} FROM (${selects[t]})`]
    })
  ) as Record<OrderTable, string>
  // A key twice in one file (rare: bulk exports list each object once) keeps its newest version;
  // checking first saves the window on the usual all-distinct file.
  const duplicates = Object.fromEntries(
    ORDER_TABLES.map((t) => [t, `SELECT count(*) - count(DISTINCT source_id) AS n FROM ${canonical[t]}`])
  ) as Record<OrderTable, string>
  const dedupe = Object.fromEntries(
    ORDER_TABLES.map((t) => [
      t,
      `CREATE OR REPLACE TEMP TABLE ${canonical[t]} AS SELECT * FROM ${canonical[t]} QUALIFY row_number() OVER (PARTITION BY source_id ORDER BY updated_at DESC) = 1`
    ])
  ) as Record<OrderTable, string>

  const assign = [
    `CREATE OR REPLACE TEMP TABLE ${RA} AS SELECT r.id AS refund_gid, l.id AS order_gid FROM (SELECT id, unnest(refunds) AS r FROM ${L} WHERE _kind = 'order' AND refunds IS NOT NULL) l`,
    `UPDATE ${L} SET _h = hash(ra.order_gid) FROM ${RA} ra WHERE ${L}.__parentId = ra.refund_gid`
  ]
  return {
    stage,
    assign,
    orders: `SELECT count(*) AS n FROM ${L} WHERE _kind = 'order'`,
    // A view, not a copy: copying a pass out of the spilled lines ran out of memory at 1M orders.
    pass: (index, count) =>
      count <= 1
        ? `CREATE OR REPLACE TEMP VIEW ${V} AS SELECT * FROM ${L}`
        : `CREATE OR REPLACE TEMP VIEW ${V} AS SELECT * FROM ${L} WHERE _h % ${Math.trunc(count)} = ${Math.trunc(index)}`,
    prepare,
    summary,
    rejected,
    rejectedRefunds: `SELECT refund_gid, order_gid FROM ${R} WHERE order_gid IN (SELECT order_gid FROM ${X})`,
    build,
    duplicates,
    dedupe,
    canonical,
    temps: [L, RA, O, R, X, ...ORDER_TABLES.map((t) => canonical[t])],
    view: V
  }
}
