/**
 * The one-time rewrite of status values that older Kura versions wrote in a source's own
 * vocabulary into the canonical one (`StatusVocabulary`): Lightspeed orders said `paid`,
 * `voided`, `fulfilled` and the sale type (`sale`, `refund`…) as `status`; Shopify REST orders
 * said `partial` or NULL for PARTIALLY_FULFILLED / UNFULFILLED; Shopify purchase orders kept
 * DRAFT / ORDERED whatever had been received. Each rewrite selects only rows still in an old
 * spelling, so running it twice changes nothing.
 */
import type { Dialect } from "../Dialect.js"

/** One rewrite: the rows it touches (`count`) and the UPDATE itself. */
export interface StatusRewrite {
  readonly table: string
  readonly count: string
  readonly update: string
}

/** The rewrites, in both dialects (BigQuery: a transaction script of plain UPDATEs). */
export const statusVocabularyRewrites = (d: Dialect): ReadonlyArray<StatusRewrite> => {
  const I = d.ident
  const S = d.type("string")
  const rewrite = (table: string, set: string, where: string): StatusRewrite => ({
    table,
    count: `SELECT CAST(COUNT(*) AS ${S}) AS ${I("n")} FROM ${d.table(table)} AS p WHERE ${where}`,
    update: `UPDATE ${d.table(table)} AS p SET ${set} WHERE ${where}`
  })
  const [fin, ful, st] = [`p.${I("financial_status")}`, `p.${I("fulfillment_status")}`, `p.${I("status")}`]
  const source = (s: string) => `p.${I("source")} = '${s}'`
  return [
    rewrite(
      "orders",
      // Every SET expression reads the row's old values (SQL semantics), so `status` is still the old one.
      `${I("financial_status")} = CASE WHEN ${st} = 'cancelled' OR LOWER(${fin}) = 'voided' THEN 'VOIDED' WHEN ${st} = 'refund' THEN 'REFUNDED' ELSE UPPER(${fin}) END, ${I("fulfillment_status")} = UPPER(${ful}), ${I("status")} = CASE WHEN ${st} = 'cancelled' THEN 'cancelled' ELSE 'closed' END`,
      `${source("lightspeed")} AND (${st} NOT IN ('closed', 'cancelled') OR ${fin} <> UPPER(${fin}) OR ${ful} <> UPPER(${ful}))`
    ),
    rewrite(
      "orders",
      `${I("financial_status")} = UPPER(${fin}), ${I("fulfillment_status")} = CASE WHEN ${ful} IS NULL THEN 'UNFULFILLED' WHEN LOWER(${ful}) = 'partial' THEN 'PARTIALLY_FULFILLED' ELSE UPPER(${ful}) END`,
      `${source("shopify")} AND (${fin} <> UPPER(${fin}) OR ${ful} IS NULL OR ${ful} <> UPPER(${ful}) OR UPPER(${ful}) = 'PARTIAL')`
    ),
    rewrite(
      "purchase_orders",
      // Archiving is not in the canonical row (the next sync of the order corrects it).
      `${I("status")} = CASE WHEN p.${I("received_at")} IS NOT NULL THEN 'received' ELSE 'partially_received' END`,
      `${source("shopify")} AND (${st} IS NULL OR LOWER(${st}) NOT IN ('received', 'partially_received', 'archived')) AND (p.${I("received_at")} IS NOT NULL OR EXISTS (SELECT 1 FROM ${d.table("purchase_order_lines")} AS l WHERE l.${I("source")} = p.${I("source")} AND l.${I("source_account")} = p.${I("source_account")} AND l.${I("purchase_order_id")} = p.${I("source_id")} AND l.${I("quantity_received")} > 0))`
    )
  ]
}
