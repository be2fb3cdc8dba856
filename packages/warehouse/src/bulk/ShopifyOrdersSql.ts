/**
 * The Shopify order mapping as DuckDB SQL over a bulk-operation JSONL file (one `Order` line, then
 * its `LineItem`, `ShippingLine`, `RefundLineItem` and refund `OrderTransaction` lines carrying
 * `__parentId`). It produces exactly the rows `makeShopifyOrderMapper` produces for the reassembled
 * orders (proved by `test/BulkLoaderSql.test.ts`), so both paths must change together.
 *
 * DuckDB reads and parses the file itself (`read_ndjson`, multi-threaded C++), so no JS object is
 * created per line. Money is cast to DECIMAL(38,9) from its text, never through a float.
 */
import { stringLiteral } from "../Sql.js"
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

const lit = (text: string | null): string => (text === null ? "NULL" : stringLiteral(text))

// Only the fields the mapping reads: typing nested JSON is most of the read's cost, so money
// bags carry their currency only where a row uses it.
const MONEY =
  "STRUCT(shopMoney STRUCT(amount VARCHAR, currencyCode VARCHAR), presentmentMoney STRUCT(amount VARCHAR, currencyCode VARCHAR))"
const AMOUNTS = "STRUCT(shopMoney STRUCT(amount VARCHAR), presentmentMoney STRUCT(amount VARCHAR))"
const REF = "STRUCT(id VARCHAR)"
const TAX = `STRUCT(title VARCHAR, rate VARCHAR, priceSet ${AMOUNTS})`
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
  ["subtotalPriceSet", AMOUNTS],
  ["totalPriceSet", AMOUNTS],
  ["totalTaxSet", AMOUNTS],
  ["totalDiscountsSet", AMOUNTS],
  ["totalShippingPriceSet", AMOUNTS],
  ["totalRefundedSet", AMOUNTS],
  ["transactions", `${TRANSACTION}[]`],
  ["refunds", `${REFUND}[]`],
  ["title", "VARCHAR"],
  ["variantTitle", "VARCHAR"],
  ["sku", "VARCHAR"],
  ["quantity", "VARCHAR"],
  ["variant", REF],
  ["product", REF],
  ["originalUnitPriceSet", AMOUNTS],
  ["discountedTotalSet", AMOUNTS],
  ["totalDiscountSet", AMOUNTS],
  ["taxLines", `${TAX}[]`],
  ["restockType", "VARCHAR"],
  ["restocked", "VARCHAR"],
  ["lineItem", REF],
  ["location", REF],
  ["subtotalSet", AMOUNTS],
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
// One regexp per value: regexp_extract gives '' where the pattern does not match.
const gid = (e: string) =>
  `coalesce(nullif(regexp_extract(${e}, '^gid://shopify/[A-Za-z]+/([0-9]+)', 1), ''), ${e})`
const shop = (bag: string) => `${bag}.shopMoney.amount`
const pres = (bag: string) => `${bag}.presentmentMoney.amount`

/** Money bags read at the top level of a line, typed once in the staging query as `<bag>_s` / `<bag>_p`. */
const MONEY_BAGS = [
  "subtotalPriceSet",
  "totalPriceSet",
  "totalTaxSet",
  "totalDiscountsSet",
  "totalShippingPriceSet",
  "totalRefundedSet",
  "originalUnitPriceSet",
  "discountedTotalSet",
  "totalDiscountSet",
  "subtotalSet"
] as const

/** The line kinds each top-level money bag is read on: the cast runs on those rows only. */
const BAG_KINDS: Readonly<Record<(typeof MONEY_BAGS)[number], string>> = {
  subtotalPriceSet: "order",
  totalPriceSet: "order",
  totalTaxSet: "order', 'refund_line",
  totalDiscountsSet: "order",
  totalShippingPriceSet: "order",
  totalRefundedSet: "order",
  originalUnitPriceSet: "line",
  discountedTotalSet: "line",
  totalDiscountSet: "line",
  subtotalSet: "refund_line"
}
/** `e` on lines of the given kinds (a quoted list body), NULL on the others. */
const kindOnly = (kinds: string, e: string) => `CASE WHEN _kind IN ('${kinds}') THEN ${e} END`

/**
 * A problem check: `bad` is a cheap boolean over typed values (evaluated for every line), `msg`
 * the message naming the field and value (built only for lines that are bad).
 */
interface Check {
  readonly bad: string
  readonly msg: string
}

// Top-level values the staging query has already typed (by the same casts): checks reuse them.
const TYPED_TS: Readonly<Record<string, string>> = {
  createdAt: "cre",
  updatedAt: "upd",
  processedAt: "processed",
  cancelledAt: "cancelled"
}
const tsOf = (e: string) => TYPED_TS[e] ?? ts(e)
const decOf = (e: string) => {
  const m = /^(\w+)\.(shop|presentment)Money\.amount$/.exec(e)
  return m?.[1] !== undefined && (MONEY_BAGS as ReadonlyArray<string>).includes(m[1])
    ? `${m[1]}_${m[2] === "shop" ? "s" : "p"}`
    : dec(e)
}

const needText = (field: string, e: string): Check => ({
  bad: `${e} IS NULL`,
  msg: `CASE WHEN ${e} IS NULL THEN '${field} is missing' END`
})
const needTs = (field: string, e: string, required: boolean): Check => ({
  bad: required ? `${tsOf(e)} IS NULL` : `(${e} IS NOT NULL AND ${tsOf(e)} IS NULL)`,
  msg: `CASE WHEN ${e} IS NULL THEN ${required ? `'${field} is missing'` : "NULL"} WHEN TRY_CAST(${e} AS TIMESTAMPTZ) IS NULL THEN '${field} ' || ${e} || ' is not an ISO-8601 timestamp' END`
})
const needDec = (field: string, e: string): Check => ({
  bad: `(${e} IS NOT NULL AND ${decOf(e)} IS NULL)`,
  msg: `CASE WHEN ${e} IS NOT NULL AND ${dec(e)} IS NULL THEN '${field} ' || ${e} || ' is not a decimal' END`
})
const needBag = (field: string, bag: string, required: boolean): ReadonlyArray<Check> => [
  ...(required ? [needText(field, bag)] : []),
  needDec(`${field}.shopMoney.amount`, shop(bag)),
  needDec(`${field}.presentmentMoney.amount`, pres(bag))
]
const INT = "'^-?[0-9]{1,18}$'"
const needInt = (field: string, e: string): Check => ({
  bad: `(${e} IS NULL OR NOT regexp_matches(${e}, ${INT}))`,
  msg: `CASE WHEN ${e} IS NULL THEN '${field} is missing' WHEN NOT regexp_matches(${e}, ${INT}) THEN '${field} ' || ${e} || ' is not an integer' END`
})
/** A list that must be present; its elements are checked one by one (`elementProblem`). */
const needList = (field: string, list: string): Check => ({
  bad: `${list} IS NULL`,
  msg: `CASE WHEN ${list} IS NULL THEN '${field} is missing' END`
})
const oneOf = (field: string, e: string, message: string): Check => ({
  bad: `(${e} IS NULL OR ${e} NOT IN ('true', 'false'))`,
  msg: `CASE WHEN ${e} IS NULL OR ${e} NOT IN ('true', 'false') THEN '${field} ${message}' END`
})
/**
 * A list element's problem, kept in its typed struct (`problem`): computed in the lambda that
 * types the element, so a list is walked once; the problem list unnests the few bad ones.
 */
const elementProblem = (checks: ReadonlyArray<Check>) =>
  `CASE WHEN ${checks.map((c) => c.bad).join(" OR ")} THEN nullif(concat_ws('; ', ${checks.map((c) => c.msg).join(", ")}), '') END`
/** NULL when every check passes, else the messages of the failing ones. */
const problems = (checks: ReadonlyArray<Check>) =>
  `CASE WHEN ${checks.map((c) => c.bad).join(" OR ")} THEN nullif(concat_ws('; ', ${checks.map((c) => c.msg).join(", ")}), '') END`

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
  /**
   * The one read of the file: a compact staging table, one row per non-empty line (unparseable
   * lines are rows of kind 'invalid'), holding only the typed values the mapping needs and each
   * line's problem text (NULL when it maps).
   */
  readonly stage: string
  /** Counts the orders in the staging table (`n`). */
  readonly orders: string
  /** Moves refund children into their order's pass (only needed when there is more than one pass). */
  readonly assign: ReadonlyArray<string>
  /** Selects pass `index` of `count`: the orders whose key hashes there, with all their lines. */
  readonly pass: (index: number, count: number) => string
  /** Builds the pass's refund index and problem list, and its accepted orders. */
  readonly prepare: ReadonlyArray<string>
  /** Counts: lines, unparseable lines, orphan children, rejected orders. */
  readonly summary: string
  /** Lines of rejected orders (run only when some order was rejected). */
  readonly rejectedLines: string
  /** Rejected orders and orphans: gid, source_id, what ("order" | "orphan"), detail. */
  readonly rejected: string
  /** Refund gids of rejected orders (their child lines belong to the order's dead letter). */
  readonly rejectedRefunds: string
  /** The SELECT of each canonical table's rows (columns in table order) from the accepted orders. */
  readonly select: Readonly<Record<OrderTable, string>>
  /** Builds each canonical temp table (`canonical[t]`) from `select[t]`. */
  readonly build: Readonly<Record<OrderTable, string>>
  /**
   * Counts ids staged more than once (an object listed twice in one file): only then can a
   * canonical table hold a key twice in one pass.
   */
  readonly duplicateIds: string
  /** Keeps the newest version of each key (run only when `duplicateIds` found some). */
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
  const R = `${p}_refund_index`
  const X = `${p}_problems`
  const OK = `${p}_accepted`
  const RL = `${p}_refund_line_index`
  const canonical = Object.fromEntries(ORDER_TABLES.map((t) => [t, `${p}_${t}`])) as Record<
    OrderTable,
    string
  >
  const loc = lit(o.locationId)
  const lineage = (id: string, updated: string) =>
    `'shopify' AS source, ${lit(o.sourceAccount)} AS source_account, ${id} AS source_id, ${updated} AS updated_at, CAST(${lit(o.syncedAt)} AS TIMESTAMPTZ) AS _synced_at, ${lit(o.batchId)} AS _batch_id, CAST(NULL AS TIMESTAMPTZ) AS _deleted_at`
  // A constant zone per expression: `timezone` with a zone that varies by row looks the zone up
  // for every row (orders: 0.48 → 0.39 CPU-s per 100k, measured 2026-11-27).
  const inZone = (zone: string, at: string) => `CAST(timezone(${lit(zone)}, ${at}) AS DATE)`
  const bizDate = (at: string, channel: string) =>
    o.onlineZone === o.posZone
      ? inZone(o.onlineZone, at)
      : `CASE WHEN ${channel} = 'online' THEN ${inZone(o.onlineZone, at)} ELSE ${inZone(o.posZone, at)} END`

  const orderProblems = problems([
    needText("legacyResourceId", "legacyResourceId"),
    needText("name", "name"),
    needText("currencyCode", "currencyCode"),
    needText("presentmentCurrencyCode", "presentmentCurrencyCode"),
    needText("displayFulfillmentStatus", "displayFulfillmentStatus"),
    oneOf("closed", "closed", "must be true or false"),
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
    needList("transactions", "transactions"),
    needList("refunds", "refunds")
  ])
  const lineProblems = problems([
    needText("LineItem.id", "id"),
    needText("LineItem.title", "title"),
    needInt("LineItem.quantity", "quantity"),
    ...needBag("LineItem.originalUnitPriceSet", "originalUnitPriceSet", true),
    ...needBag("LineItem.discountedTotalSet", "discountedTotalSet", true),
    ...needBag("LineItem.totalDiscountSet", "totalDiscountSet", true),
    needList("LineItem.taxLines", "taxLines")
  ])
  const shipProblems = problems([needList("ShippingLine.taxLines", "taxLines")])
  const refundLineProblems = problems([
    needInt("RefundLineItem.quantity", "quantity"),
    needText("RefundLineItem.restockType", "restockType"),
    oneOf("RefundLineItem.restocked", "restocked", "must be true or false"),
    needText("RefundLineItem.lineItem.id", "lineItem.id"),
    ...needBag("RefundLineItem.subtotalSet", "subtotalSet", true),
    ...needBag("RefundLineItem.totalTaxSet", "totalTaxSet", true)
  ])
  const refundTxProblems = problems(transactionChecks(null, "OrderTransaction"))

  // A transaction as a payments row needs it (order `transactions` entries and refund children).
  const txStruct = (
    t: string,
    checked: boolean
  ) => `{'source_id': ${gid(`${t}.id`)}, 'kind': lower(${t}.kind), 'method': ${t}.gateway,
      'status': lower(${t}.status), 'currency': ${t}.amountSet.shopMoney.currencyCode, 'amount': ${dec(shop(`${t}.amountSet`))},
      'presentment_currency': ${t}.amountSet.presentmentMoney.currencyCode, 'amount_presentment': ${dec(pres(`${t}.amountSet`))},
      'processed_at': ${ts(`coalesce(${t}.processedAt, ${t}.createdAt)`)}${checked ? `, 'problem': ${elementProblem(transactionChecks(t))}` : ""}}`
  const taxStruct = (t: string) =>
    `{'title': ${t}.title, 'rate': ${dec(`${t}.rate`)}, 'amount': ${dec(`${t}.priceSet.shopMoney.amount`)}, 'amount_presentment': ${dec(`${t}.priceSet.presentmentMoney.amount`)}, 'problem': ${elementProblem(taxChecks(t))}}`
  const refundStruct = (r: string) => `{'gid': ${r}.id, 'lrid': ${r}.legacyResourceId, 'note': ${r}.note,
      'updated': ${ts(`${r}.updatedAt`)}, 'created': ${ts(`coalesce(${r}.createdAt, ${r}.processedAt)`)}, 'processed': ${ts(`${r}.processedAt`)},
      'currency': ${r}.totalRefundedSet.shopMoney.currencyCode, 'amount': ${dec(shop(`${r}.totalRefundedSet`))}, 'amount_presentment': ${dec(pres(`${r}.totalRefundedSet`))},
      'problem': ${elementProblem(refundChecks(r))}}`

  // One read of the file. Nested JSON is typed as narrow STRUCTs (only the fields used) and turned
  // into typed values here, so no later statement touches text or nests; per-kind values are NULL
  // on the other kinds' rows (cheap in a column store).
  // One read of the file. Nested JSON is typed as narrow STRUCTs (only the fields used) and turned
  // into typed values here (inner query), the problem checks then test those typed values (outer
  // query), so no later statement touches text or nests; per-kind values are NULL on the other
  // kinds' rows (cheap in a column store).
  const stage = `CREATE OR REPLACE TEMP TABLE ${L} AS SELECT _kind,
      -- The order a line belongs to decides its pass (refund children are fixed up by assign).
      hash(coalesce(__parentId, id)) AS _h,
      id, __parentId AS parent,
      CASE _kind WHEN 'order' THEN ${orderProblems} WHEN 'line' THEN ${lineProblems} WHEN 'ship' THEN ${shipProblems}
        WHEN 'refund_line' THEN ${refundLineProblems} WHEN 'refund_tx' THEN ${refundTxProblems} END AS problem,
      CASE WHEN _kind <> 'order' THEN ${gid("id")} END AS sid,
      legacyResourceId AS lrid, name, customer.legacyResourceId AS customer_id, currencyCode AS currency,
      presentmentCurrencyCode AS presentment_currency, displayFinancialStatus AS financial_status,
      displayFulfillmentStatus AS fulfillment_status,
      CASE WHEN _kind = 'order' THEN (CASE WHEN cancelledAt IS NOT NULL THEN 'cancelled' WHEN closed = 'true' THEN 'closed' ELSE 'open' END) END AS status,
      CASE WHEN _kind = 'order' THEN (CASE WHEN sourceName = 'pos' THEN 'pos' ELSE 'online' END) END AS channel,
      upd, cre, processed, cancelled,
      ${MONEY_BAGS.map((b) => `${b}_s, ${b}_p`).join(", ")},
      CASE WHEN _kind = 'order' THEN list_transform(transactions, t -> ${txStruct("t", true)}) END AS txs,
      CASE WHEN _kind = 'order' THEN list_transform(refunds, r -> ${refundStruct("r")}) END AS refund_list,
      CASE WHEN _kind = 'refund_tx' THEN ${txStruct("l", false)} END AS tx,
      CASE WHEN _kind IN ('line', 'ship') THEN list_transform(taxLines, t -> ${taxStruct("t")}) END AS taxes,
      CASE WHEN _kind = 'line' THEN (CASE WHEN variantTitle IS NULL THEN title ELSE title || ' - ' || variantTitle END) END AS title,
      sku, TRY_CAST(quantity AS BIGINT) AS qty, ${gid("variant.id")} AS variant_id, ${gid("product.id")} AS product_id,
      CASE WHEN _kind = 'refund_line' THEN restocked = 'true' OR restockType IN ('RETURN', 'CANCEL', 'LEGACY_RESTOCK', 'return', 'cancel', 'legacy_restock') END AS restock,
      CASE WHEN _kind = 'refund_line' THEN ${gid("lineItem.id")} END AS line_ref,
      CASE WHEN _kind = 'refund_line' THEN coalesce(${gid("location.id")}, ${loc}) END AS at_location
    FROM (SELECT *, ${kindOnly("order", ts("updatedAt"))} AS upd, ${kindOnly("order', 'refund_tx", ts("createdAt"))} AS cre,
        ${kindOnly("order', 'refund_tx", ts("processedAt"))} AS processed, ${kindOnly("order", ts("cancelledAt"))} AS cancelled,
        ${MONEY_BAGS.map((b) => `${kindOnly(BAG_KINDS[b], dec(shop(b)))} AS ${b}_s, ${kindOnly(BAG_KINDS[b], dec(pres(b)))} AS ${b}_p`).join(", ")}
      FROM (SELECT CASE
        WHEN id IS NULL AND __parentId IS NULL THEN 'invalid'
        WHEN __parentId IS NULL THEN 'order'
        WHEN __typename = 'LineItem' OR (__typename IS NULL AND id LIKE 'gid://shopify/LineItem/%') THEN 'line'
        WHEN __typename = 'ShippingLine' OR (__typename IS NULL AND (id IS NULL OR id LIKE 'gid://shopify/ShippingLine/%')) THEN 'ship'
        WHEN __typename = 'RefundLineItem' OR (__typename IS NULL AND id LIKE 'gid://shopify/RefundLineItem/%') THEN 'refund_line'
        WHEN __typename = 'OrderTransaction' OR (__typename IS NULL AND id LIKE 'gid://shopify/OrderTransaction/%') THEN 'refund_tx'
        ELSE 'other' END AS _kind, * FROM ${readShopifyOrdersSql(o.file)})) l`

  const prepare = [
    // Refunds of every order in the pass (refund children point at the refund's gid).
    `CREATE OR REPLACE TEMP TABLE ${R} AS SELECT id AS order_gid, lrid AS order_id, channel, upd AS order_upd, unnest(refund_list, recursive := false) AS rf
      FROM ${V} WHERE _kind = 'order' AND refund_list IS NOT NULL`,
    // Every problem keyed by its order (an order is loaded whole or dead-lettered whole, as the
    // JS path's schema decode does); children of a parent missing from the file are orphans,
    // reported on their own.
    `CREATE OR REPLACE TEMP TABLE ${X} AS SELECT order_gid, problem FROM (
        SELECT CASE WHEN s._kind = 'order' THEN s.id WHEN s._kind IN ('line', 'ship') THEN s.parent ELSE ri.order_gid END AS order_gid, s.problem
        FROM (SELECT _kind, id, parent, problem FROM ${V} WHERE problem IS NOT NULL) s
          LEFT JOIN (SELECT rf.gid AS refund_gid, order_gid FROM ${R}) ri ON s._kind IN ('refund_line', 'refund_tx') AND s.parent = ri.refund_gid
        UNION ALL SELECT id, t.problem FROM (SELECT id, unnest(txs) AS t FROM ${V} WHERE _kind = 'order' AND txs IS NOT NULL) WHERE t.problem IS NOT NULL
        UNION ALL SELECT order_gid, rf.problem FROM ${R} WHERE rf.problem IS NOT NULL
        UNION ALL SELECT parent, t.problem FROM (SELECT parent, unnest(taxes) AS t FROM ${V} WHERE _kind IN ('line', 'ship') AND taxes IS NOT NULL) WHERE t.problem IS NOT NULL)
      WHERE order_gid IS NOT NULL AND order_gid IN (SELECT id FROM ${V} WHERE _kind = 'order' AND id IS NOT NULL)`,
    // Accepted orders: what their children need.
    `CREATE OR REPLACE TEMP TABLE ${OK} AS SELECT id, lrid, upd, cre, channel FROM ${V}
      WHERE _kind = 'order' AND id NOT IN (SELECT order_gid FROM ${X})`,
    // Refund lines of accepted orders, with their refund and the order's line item (variant, SKU);
    // null ids number the line within its refund, as the JS mapper does.
    `CREATE OR REPLACE TEMP TABLE ${RL} AS SELECT rl.id, rl.sid, rl.qty, rl.restock, rl.at_location, rl.refunded_s AS amount,
        rl.totalTaxSet_s AS tax, rl.totalTaxSet_p AS tax_presentment, rl.line_ref,
        r.rf.lrid AS refund_id, r.order_id, r.rf.note AS refund_note, r.rf.updated AS upd, r.rf.created AS cre,
        li.variant_id, li.sku,
        row_number() OVER (PARTITION BY rl.parent ORDER BY rl.id) - 1 AS i
      FROM (SELECT id, sid, parent, qty, restock, at_location, subtotalSet_s AS refunded_s, totalTaxSet_s, totalTaxSet_p, line_ref FROM ${V} WHERE _kind = 'refund_line') rl
        JOIN (SELECT * FROM ${R} WHERE order_gid NOT IN (SELECT order_gid FROM ${X})) r ON rl.parent = r.rf.gid
        LEFT JOIN (SELECT parent, sid, variant_id, sku FROM ${V} WHERE _kind = 'line') li ON li.parent = r.order_gid AND li.sid = rl.line_ref`
  ]

  const children = `${V} l WHERE l._kind IN ('line', 'ship', 'refund_line', 'refund_tx', 'other')`
  const orphans = `SELECT l.id, l.parent, l._kind FROM ${children}
      AND NOT EXISTS (SELECT 1 FROM ${V} o WHERE o._kind = 'order' AND o.id = l.parent) AND NOT EXISTS (SELECT 1 FROM ${R} WHERE rf.gid = l.parent)`
  const summary = `SELECT
      (SELECT count(*) FROM ${V}) AS lines,
      (SELECT count(*) FROM ${V} WHERE _kind = 'invalid') AS invalid,
      (SELECT count(*) FROM (${orphans})) AS orphans,
      (SELECT count(DISTINCT order_gid) FROM ${X}) AS rejected`
  const rejectedLines = `SELECT count(*) AS n FROM ${V} l WHERE l.id IN (SELECT order_gid FROM ${X}) OR l.parent IN (SELECT order_gid FROM ${X})
      OR l.parent IN (SELECT rf.gid FROM ${R} WHERE order_gid IN (SELECT order_gid FROM ${X}))`
  const rejected = `SELECT x.order_gid AS gid, any_value(o.lrid) AS source_id, 'order' AS what, string_agg(DISTINCT x.problem, '; ') AS detail
      FROM ${X} x LEFT JOIN (SELECT id, lrid FROM ${V} WHERE _kind = 'order') o ON o.id = x.order_gid GROUP BY x.order_gid
      UNION ALL SELECT id, NULL, 'orphan', 'the ' || _kind || ' line''s parent ' || coalesce(parent, '?') || ' is not in the file' FROM (${orphans})`

  const acceptedOrders = `(SELECT * FROM ${V} WHERE _kind = 'order' AND id NOT IN (SELECT order_gid FROM ${X}))`
  const kind = (k: string) => `(SELECT * FROM ${V} WHERE _kind = '${k}')`

  const orders = `SELECT ${lineage("o.lrid", "o.upd")},
      o.channel, ${loc} AS location_id, o.name AS order_number, o.customer_id, o.currency,
      o.subtotalPriceSet_s AS subtotal, o.totalDiscountsSet_s AS discounts, o.totalShippingPriceSet_s AS shipping,
      o.totalTaxSet_s AS tax, o.totalPriceSet_s AS total, o.totalRefundedSet_s AS refunded,
      o.presentment_currency,
      o.subtotalPriceSet_p AS subtotal_presentment, o.totalDiscountsSet_p AS discounts_presentment,
      o.totalShippingPriceSet_p AS shipping_presentment, o.totalTaxSet_p AS tax_presentment,
      o.totalPriceSet_p AS total_presentment, o.totalRefundedSet_p AS refunded_presentment,
      o.financial_status, o.fulfillment_status, o.status,
      o.cre AS created_at, o.processed AS processed_at, ${bizDate("o.cre", "o.channel")} AS business_date,
      o.cancelled AS cancelled_at
    FROM ${acceptedOrders} o`

  const orderLines = `SELECT ${lineage("li.sid", "o.upd")},
      o.lrid AS order_id, li.product_id, li.variant_id, li.sku, li.title, li.qty AS quantity,
      li.originalUnitPriceSet_s AS unit_price, li.totalDiscountSet_s AS discount,
      list_sum(list_transform(li.taxes, t -> t.amount)) AS tax,
      li.discountedTotalSet_s AS total,
      li.originalUnitPriceSet_p AS unit_price_presentment, li.discountedTotalSet_p AS total_presentment
    FROM ${kind("line")} li JOIN ${OK} o ON li.parent = o.id`

  const refundRows = `SELECT ${lineage("r.rf.lrid", "r.rf.updated")},
      r.order_id, r.channel, ${loc} AS location_id, r.rf.currency, r.rf.amount, r.rf.amount_presentment, r.rf.note,
      r.rf.created AS created_at, r.rf.processed AS processed_at, ${bizDate("r.rf.created", "r.channel")} AS business_date
    FROM ${R} r WHERE r.order_gid NOT IN (SELECT order_gid FROM ${X})`

  const rlId = `CASE WHEN rl.id IS NULL THEN rl.refund_id || ':' || rl.line_ref || ':' || rl.i ELSE rl.sid END`
  const refundLines = `SELECT ${lineage(rlId, "rl.upd")},
      rl.refund_id, rl.order_id, rl.line_ref AS order_line_id, rl.variant_id, rl.sku, rl.qty AS quantity, rl.amount,
      rl.restock, rl.at_location AS location_id
    FROM ${RL} rl`

  const taxRow = (id: string, parentType: string) =>
    `${lineage(id, "upd")}, o_id AS order_id, '${parentType}' AS parent_type, p_id AS parent_id`
  const taxLines = `
    SELECT ${taxRow("'line:' || p_id || ':' || i", "line")}, t.title, t.rate, t.amount, t.amount_presentment
    FROM (SELECT li.sid AS p_id, o.lrid AS o_id, o.upd, unnest(li.taxes) AS t, unnest(range(len(li.taxes))) AS i
      FROM ${kind("line")} li JOIN ${OK} o ON li.parent = o.id)
    UNION ALL
    SELECT ${taxRow("'shipping:' || p_id || ':' || i", "shipping")}, t.title, t.rate, t.amount, t.amount_presentment
    FROM (SELECT CASE WHEN s.id IS NULL THEN o.lrid || ':' || (row_number() OVER (PARTITION BY s.parent ORDER BY s.id) - 1) ELSE s.sid END AS p_id,
        o.lrid AS o_id, o.upd, s.taxes
      FROM ${kind("ship")} s JOIN ${OK} o ON s.parent = o.id) s, LATERAL (SELECT unnest(s.taxes) AS t, unnest(range(len(s.taxes))) AS i)
    UNION ALL
    SELECT ${taxRow("'refund_line:' || p_id || ':total'", "refund_line")}, CAST(NULL AS VARCHAR) AS title, CAST(NULL AS ${DEC}) AS rate,
      tax AS amount, tax_presentment AS amount_presentment
    FROM (SELECT ${rlId} AS p_id, rl.order_id AS o_id, rl.upd, rl.tax, rl.tax_presentment FROM ${RL} rl)`

  // Order transactions, then refund transactions: a transaction listed in both is kept once (the
  // refund's copy, as the JS mapper's Map keeps the last write); of an order listed twice, the
  // newest copy.
  const payments = `SELECT * EXCLUDE (_pref) FROM (
      SELECT ${lineage("t.source_id", "upd")}, o_id AS order_id, t.kind, t.method, t.status, t.currency, t.amount,
        t.presentment_currency, t.amount_presentment, t.processed_at, _pref
      FROM (SELECT o.lrid AS o_id, o.upd, unnest(o.txs) AS t, 0 AS _pref FROM ${acceptedOrders} o
        UNION ALL
        SELECT r.order_id, r.order_upd, rt.tx, 1 FROM ${kind("refund_tx")} rt
          JOIN (SELECT * FROM ${R} WHERE order_gid NOT IN (SELECT order_gid FROM ${X})) r ON rt.parent = r.rf.gid))
    QUALIFY row_number() OVER (PARTITION BY source_id ORDER BY _pref DESC, updated_at DESC) = 1`

  const movements = `
    SELECT ${lineage("'sale:' || li.sid", "o.upd")},
      li.variant_id, li.sku, CAST(NULL AS VARCHAR) AS inventory_item_id, ${loc} AS location_id, 'sale' AS kind,
      -li.qty AS quantity, CAST(NULL AS VARCHAR) AS reason, 'order' AS reference_type,
      o.lrid AS reference_id, o.cre AS occurred_at
    FROM ${kind("line")} li JOIN ${OK} o ON li.parent = o.id
    WHERE ${loc} IS NOT NULL AND li.variant_id IS NOT NULL AND li.qty <> 0
    UNION ALL
    SELECT ${lineage(`'refund_restock:' || ${rlId}`, "rl.upd")},
      rl.variant_id, rl.sku, CAST(NULL AS VARCHAR) AS inventory_item_id, rl.at_location AS location_id, 'refund_restock' AS kind,
      rl.qty AS quantity, rl.refund_note AS reason, 'refund' AS reference_type,
      rl.refund_id AS reference_id, rl.cre AS occurred_at
    FROM ${RL} rl WHERE rl.restock AND rl.at_location IS NOT NULL AND rl.qty <> 0`

  const selects: Record<OrderTable, string> = {
    orders,
    order_lines: orderLines,
    payments,
    refunds: refundRows,
    refund_lines: refundLines,
    tax_lines: taxLines,
    inventory_movements: movements
  }
  // Columns in table order, so INSERT and MERGE can name them.
  const select = Object.fromEntries(
    ORDER_TABLES.map((t) => {
      const cols = CanonicalTables[t].columns.map((c) => `"${c.name}"`).join(", ")
      return [t, `SELECT ${cols} FROM (${selects[t]})`]
    })
  ) as Record<OrderTable, string>
  const build = Object.fromEntries(
    ORDER_TABLES.map((t) => [t, `CREATE OR REPLACE TEMP TABLE ${canonical[t]} AS ${select[t]}`])
  ) as Record<OrderTable, string>
  const dedupe = Object.fromEntries(
    ORDER_TABLES.map((t) => [
      t,
      `CREATE OR REPLACE TEMP TABLE ${canonical[t]} AS SELECT * FROM ${canonical[t]} QUALIFY row_number() OVER (PARTITION BY source_id ORDER BY updated_at DESC) = 1`
    ])
  ) as Record<OrderTable, string>

  return {
    stage,
    orders: `SELECT count(*) AS n FROM ${L} WHERE _kind = 'order'`,
    assign: [
      `CREATE OR REPLACE TEMP TABLE ${RA} AS SELECT rf.gid AS refund_gid, any_value(id) AS order_gid FROM (SELECT id, unnest(refund_list, recursive := false) AS rf FROM ${L} WHERE _kind = 'order' AND refund_list IS NOT NULL) GROUP BY ALL`,
      `UPDATE ${L} SET _h = hash(ra.order_gid) FROM ${RA} ra WHERE ${L}.parent = ra.refund_gid`
    ],
    // One pass is a view of the staged lines; several are each copied out once, so the pass's
    // dozen statements scan its own lines, not every staged line again (at 1M orders in 10
    // passes a view made each pass cost four times the whole single-pass load).
    pass: (index, count) =>
      count <= 1
        ? `CREATE OR REPLACE TEMP VIEW ${V} AS SELECT * FROM ${L}`
        : `CREATE OR REPLACE TEMP TABLE ${V} AS SELECT * FROM ${L} WHERE _h % ${Math.trunc(count)} = ${Math.trunc(index)}`,
    prepare,
    summary,
    rejectedLines,
    rejected,
    rejectedRefunds: `SELECT rf.gid AS refund_gid, order_gid FROM ${R} WHERE order_gid IN (SELECT order_gid FROM ${X})`,
    select,
    build,
    duplicateIds: `SELECT count(id) - count(DISTINCT id) AS n FROM ${V}`,
    dedupe,
    canonical,
    temps: [L, RA, R, X, OK, RL, ...ORDER_TABLES.map((t) => canonical[t])],
    view: V
  }
}
