/**
 * The one-time re-modelling of Lightspeed rows that an older Kura mapped differently, so a
 * warehouse it wrote holds no stale row after the mapper change (re-reading the same records
 * would not fix them: a MERGE only replaces a row with a newer version, and the version is the
 * sale's close time, which a re-read does not change).
 *
 * - A void of an earlier sale (a VOID/CANCEL or cancelled account linking back to another
 *   account) was a cancelled order of its own; it is now a refund of the voided sale. Its
 *   `orders` and `order_lines` rows are soft-deleted; a `refunds` row (same key, the void's
 *   account) and `refund_lines` rows (the old order lines' keys) are written from them; its
 *   payments and tax lines, same keys, are re-pointed at the voided sale as refund payments and
 *   refund-line taxes. Its movements were already the void's restocks and stay as they are.
 * - A refunded line with a reason was restocked whatever the reason said; a spoilage reason now
 *   means a 0-unit movement and `restock = false`, and every refund movement carries its reason.
 *
 * Which accounts are voids, and every line's reason, are read from the sales kept verbatim in
 * `_kura_raw` (only those with a reason or a void type: a scan of the raw table, then small
 * keyed statements). A void whose raw record is gone cannot be told from a cancelled ticket and
 * stays as it was.
 */
import type { Dialect } from "../Dialect.js"
import { isSpoilageReason, voidedSaleOf } from "../mappers/LightspeedMappers.js"
import { stringLiteral } from "../Sql.js"

/** The SELECT of the raw Lightspeed sales the migration may need: any with a reason or a void type. */
export const voidCandidatesSql = (d: Dialect): string => {
  // The payload as the text it was stored as (compact JSON): BigQuery keeps it as a STRING
  // already (TO_JSON_STRING would quote and escape it), DuckDB as JSON.
  const text = d.name === "bigquery" ? "r.payload" : "CAST(r.payload AS VARCHAR)"
  return `SELECT r.source_account AS account, ${text} AS payload FROM ${d.table("_kura_raw")} AS r WHERE r.source = 'lightspeed' AND r.stream = 'sales' AND (${text} LIKE '%"voidReason":"%' OR ${text} LIKE '%"voidReason": "%' OR ${d.jsonField("r.payload", "type")} IN ('VOID', 'CANCEL') OR ${d.jsonField("r.payload", "cancelled")} = 'true') ORDER BY r.fetched_at`
}

/** One void of an earlier sale, read from its raw record. */
interface VoidFound {
  readonly voidId: string
  readonly original: string
  readonly reason: string | null
  /** Keys (`<void>:<line id>`) of its lines whose reason says the goods were spoiled. */
  readonly spoiledLines: ReadonlyArray<string>
}

/** A refund line with a reason. */
interface RefundLineReason {
  /** `<refund account>:<line id>`, the refund line's key. */
  readonly key: string
  readonly reason: string
}

/** What the migration found in one source account. */
export interface VoidMigrationPlan {
  readonly account: string
  readonly voids: ReadonlyArray<VoidFound>
  readonly refundLines: ReadonlyArray<RefundLineReason>
}

const text = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null)

/**
 * Reads the candidate rows (`voidCandidatesSql`, oldest fetch first: the newest version of an
 * account wins) into one plan per source account.
 */
export const planVoidMigration = (
  rows: ReadonlyArray<{ readonly account?: unknown; readonly payload?: unknown }>
): ReadonlyArray<VoidMigrationPlan> => {
  const latest = new Map<string, { account: string; sale: Record<string, unknown> }>()
  for (const row of rows) {
    let sale: unknown
    try {
      sale = typeof row.payload === "string" ? JSON.parse(row.payload) : row.payload
    } catch {
      continue
    }
    if (typeof sale !== "object" || sale === null) continue
    const s = sale as Record<string, unknown>
    const id = text(s.accountReference)
    if (id === null) continue
    const account = String(row.account ?? "")
    latest.set(`${account}\u0000${id}`, { account, sale: s })
  }
  const plans = new Map<string, { voids: Array<VoidFound>; refundLines: Array<RefundLineReason> }>()
  for (const { account, sale } of latest.values()) {
    const id = text(sale.accountReference)!
    const source =
      typeof sale.source === "object" && sale.source !== null
        ? (sale.source as Record<string, unknown>)
        : null
    const accountReason = text(sale.voidReason)
    const lines = (Array.isArray(sale.salesLines) ? sale.salesLines : []).flatMap((l: unknown) => {
      if (typeof l !== "object" || l === null) return []
      const line = l as Record<string, unknown>
      const lineId = line.id === null || line.id === undefined ? null : String(line.id)
      return lineId === null
        ? []
        : [{ key: `${id}:${lineId}`, reason: text(line.voidReason) ?? accountReason }]
    })
    const plan = plans.get(account) ?? { voids: [], refundLines: [] }
    plans.set(account, plan)
    const original = voidedSaleOf({
      accountReference: id,
      type: text(sale.type),
      cancelled: sale.cancelled === true,
      source:
        source === null
          ? null
          : {
              initialAccountId: text(source.initialAccountId),
              previousAccountId: text(source.previousAccountId)
            }
    })
    if (original !== null)
      plan.voids.push({
        voidId: id,
        original,
        reason: accountReason,
        spoiledLines: lines.filter((l) => isSpoilageReason(l.reason)).map((l) => l.key)
      })
    else if (text(sale.type) === "REFUND")
      for (const l of lines) if (l.reason !== null) plan.refundLines.push({ key: l.key, reason: l.reason })
  }
  return [...plans].map(([account, p]) => ({ account, ...p }))
}

const chunks = <A>(items: ReadonlyArray<A>, size: number): ReadonlyArray<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

const list = (values: ReadonlyArray<string>): string => values.map(stringLiteral).join(", ")

/** `CASE <expr> WHEN 'k' THEN 'v' … ELSE <otherwise> END`. */
const caseOf = (
  expr: string,
  pairs: ReadonlyArray<readonly [string, string | null]>,
  otherwise: string
): string =>
  pairs.length === 0
    ? otherwise
    : `CASE ${expr} ${pairs.map(([k, v]) => `WHEN ${stringLiteral(k)} THEN ${v === null ? otherwise : stringLiteral(v)}`).join(" ")} ELSE ${otherwise} END`

/**
 * The statements of one plan, to run in one transaction. `deletedAt` is the instant the stale
 * void orders are soft-deleted at (ISO-8601 UTC).
 */
export const voidMigrationStatements = (
  d: Dialect,
  plan: VoidMigrationPlan,
  deletedAt: string
): ReadonlyArray<string> => {
  const T = d.table
  const S = d.type("string")
  const nul = (type: "string" | "decimal") => `CAST(NULL AS ${d.type(type)})`
  const scope = (a: string) =>
    `${a}.source = 'lightspeed' AND ${a}.source_account = ${stringLiteral(plan.account)}`
  const sameKey = (a: string, b: string) =>
    `${a}.source = ${b}.source AND ${a}.source_account = ${b}.source_account AND ${a}.source_id = ${b}.source_id`
  const at = `CAST(${stringLiteral(deletedAt)} AS ${d.type("timestamp")})`
  const out: Array<string> = []
  for (const voids of chunks(plan.voids, 200)) {
    const ids = list(voids.map((v) => v.voidId))
    const originalOf = (expr: string) =>
      caseOf(
        expr,
        voids.map((v) => [v.voidId, v.original] as const),
        nul("string")
      )
    const spoiled = voids.flatMap((v) => v.spoiledLines)
    // Where the void's goods move: its own restocks' location, else the voided sale's, else its till.
    const stockOf = (alias: string, refType: string) =>
      `LEFT JOIN (SELECT mm.source, mm.source_account, mm.reference_id, MIN(mm.location_id) AS location_id FROM ${T("inventory_movements")} AS mm WHERE ${scope("mm")} AND mm.reference_type = '${refType}' GROUP BY mm.source, mm.source_account, mm.reference_id) AS ${alias} ON ${alias}.source = l.source AND ${alias}.source_account = l.source_account AND ${alias}.reference_id = `
    out.push(
      `INSERT INTO ${T("refunds")} (source, source_account, source_id, updated_at, _synced_at, _batch_id, _deleted_at, order_id, channel, location_id, currency, amount, amount_presentment, note, created_at, processed_at, business_date) SELECT o.source, o.source_account, o.source_id, o.updated_at, o._synced_at, o._batch_id, NULL, ${originalOf("o.source_id")}, o.channel, o.location_id, o.currency, ABS(o.total), ${nul("decimal")}, ${caseOf(
        "o.source_id",
        voids.map((v) => [v.voidId, v.reason] as const),
        nul("string")
      )}, COALESCE(o.processed_at, o.created_at), o.processed_at, o.business_date FROM ${T("orders")} AS o WHERE ${scope("o")} AND o.source_id IN (${ids}) AND o._deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM ${T("refunds")} AS x WHERE ${sameKey("x", "o")})`,
      `INSERT INTO ${T("refund_lines")} (source, source_account, source_id, updated_at, _synced_at, _batch_id, _deleted_at, refund_id, order_id, order_line_id, variant_id, sku, quantity, amount, restock, location_id) SELECT l.source, l.source_account, l.source_id, l.updated_at, l._synced_at, l._batch_id, NULL, l.order_id, ${originalOf("l.order_id")}, ${nul("string")}, ${nul("string")}, l.sku, ABS(l.quantity), ABS(l.total), ${spoiled.length === 0 ? "TRUE" : `CASE WHEN l.source_id IN (${list(spoiled)}) THEN FALSE ELSE TRUE END`}, COALESCE(mv.location_id, ms.location_id, o.location_id) FROM ${T("order_lines")} AS l JOIN ${T("orders")} AS o ON o.source = l.source AND o.source_account = l.source_account AND o.source_id = l.order_id ${stockOf("mv", "void")}l.order_id ${stockOf("ms", "order")}${originalOf("l.order_id")} WHERE ${scope("l")} AND l.order_id IN (${ids}) AND l._deleted_at IS NULL AND o._deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM ${T("refund_lines")} AS x WHERE ${sameKey("x", "l")})`,
      `UPDATE ${T("payments")} AS p SET order_id = ${originalOf("p.order_id")}, kind = 'refund', amount = ABS(p.amount) WHERE ${scope("p")} AND p.order_id IN (${ids})`,
      `UPDATE ${T("tax_lines")} AS p SET order_id = ${originalOf("p.order_id")}, parent_type = 'refund_line', amount = ABS(p.amount) WHERE ${scope("p")} AND p.order_id IN (${ids}) AND p.parent_type = 'line'`,
      `UPDATE ${T("order_lines")} AS p SET _deleted_at = ${at} WHERE ${scope("p")} AND p.order_id IN (${ids}) AND p._deleted_at IS NULL`,
      `UPDATE ${T("orders")} AS p SET _deleted_at = ${at} WHERE ${scope("p")} AND p.source_id IN (${ids}) AND p._deleted_at IS NULL`
    )
  }
  for (const lines of chunks(plan.refundLines, 500)) {
    const movement = (key: string) => `refund_restock:${key}`
    const spoiled = lines.filter((l) => isSpoilageReason(l.reason))
    out.push(
      `UPDATE ${T("inventory_movements")} AS p SET quantity = ${spoiled.length === 0 ? "p.quantity" : `CASE WHEN p.source_id IN (${list(spoiled.map((l) => movement(l.key)))}) THEN 0 ELSE p.quantity END`}, reason = ${caseOf(
        "p.source_id",
        lines.map((l) => [movement(l.key), l.reason] as const),
        `CAST(p.reason AS ${S})`
      )} WHERE ${scope("p")} AND p.kind = 'refund_restock' AND p.reference_type = 'refund' AND p.source_id IN (${list(lines.map((l) => movement(l.key)))})`
    )
    if (spoiled.length > 0)
      out.push(
        `UPDATE ${T("refund_lines")} AS p SET restock = FALSE WHERE ${scope("p")} AND p.source_id IN (${list(spoiled.map((l) => l.key))})`
      )
  }
  return out
}
