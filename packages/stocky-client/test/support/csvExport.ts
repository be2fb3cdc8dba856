/**
 * Renders wire records as the CSV exports Stocky archive tools write (one file per resource,
 * nested objects flattened, PO lines in their own file), so tests can compare the CSV path with
 * the live API on the same data.
 */
import { formatCsvRow } from "../../src/internal/csv.js"

type Row = Record<string, unknown>

const cell = (v: unknown): string => (v === null || v === undefined ? "" : String(v))

export const toCsv = (rows: ReadonlyArray<Row>, options: { crlf?: boolean; bom?: boolean } = {}): string => {
  const headers: Array<string> = []
  for (const r of rows) for (const k of Object.keys(r)) if (!headers.includes(k)) headers.push(k)
  const nl = options.crlf ? "\r\n" : "\n"
  const lines = [formatCsvRow(headers), ...rows.map((r) => formatCsvRow(headers.map((h) => cell(r[h]))))]
  return (options.bom ? "\uFEFF" : "") + lines.join(nl) + nl
}

const flat = (r: Row, key: string, prefix: string, fields: Record<string, string>): Row => {
  const { [key]: nested, ...rest } = r
  const out: Row = { ...rest }
  const obj = nested !== null && typeof nested === "object" ? (nested as Row) : {}
  for (const [from, to] of Object.entries(fields)) out[to] = nested === null ? "" : obj[from]
  return prefix === "" ? out : out
}

/** CSV files (path → text) for a data set in wire form. */
export const csvFiles = (
  data: Record<string, ReadonlyArray<Row>>,
  options: { crlf?: boolean; bom?: boolean } = {}
) => {
  const files = new Map<string, string>()
  files.set("suppliers.csv", toCsv(data.suppliers ?? [], options))
  files.set("tax_types.csv", toCsv(data.tax_types ?? [], options))
  const pos = data.purchase_orders ?? []
  files.set(
    "purchase_orders.csv",
    toCsv(
      pos.map(({ purchase_items: _items, ...po }) => po),
      options
    )
  )
  files.set(
    "purchase_order_items.csv",
    toCsv(
      pos.flatMap((po) =>
        ((po.purchase_items as Array<Row>) ?? []).map((i) => ({ purchase_order_id: po.id, ...i }))
      ),
      options
    )
  )
  files.set(
    "stock_adjustments.csv",
    toCsv(
      (data.stock_adjustments ?? []).map((a) =>
        flat(
          flat(a, "stock_adjustment_reason", "", {
            id: "stock_adjustment_reason_id",
            reason: "stock_adjustment_reason"
          }),
          "location",
          "",
          {
            id: "location_id",
            shopify_id: "location_shopify_id"
          }
        )
      ),
      options
    )
  )
  files.set(
    "stock_adjustment_items.csv",
    toCsv(
      (data.stock_adjustment_items ?? []).map((i) =>
        flat(i, "variant", "", {
          id: "variant_id",
          shopify_id: "variant_shopify_id",
          title: "variant_title",
          sku: "variant_sku",
          barcode: "variant_barcode"
        })
      ),
      options
    )
  )
  return files
}
