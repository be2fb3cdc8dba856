/**
 * Turns CSV rows into the same wire-shaped objects the API returns, so one schema decodes both.
 * Stocky exports flatten nested objects; each flattened column is accepted under the names seen
 * in exporters (e.g. `location_shopify_id` or `shopify_location_id`).
 */
import type { StockyResourceName } from "../StockyResource.js"

/** A CSV row keyed by normalised header ("Supplier ID" → "supplier_id"). */
export type CsvObject = Readonly<Record<string, string>>

/** Normalises a header cell: trimmed, lower-case, runs of spaces/dashes/dots become "_". */
export const normaliseHeader = (h: string): string =>
  h
    .trim()
    .toLowerCase()
    .replace(/[\s\-.]+/g, "_")

const pick = (row: CsvObject, ...names: ReadonlyArray<string>): string | undefined => {
  for (const n of names) if (Object.hasOwn(row, n)) return row[n]
  return undefined
}

const without = (row: CsvObject, names: ReadonlyArray<string>): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(row)) if (!names.includes(k)) out[k] = v
  return out
}

const blank = (v: string | undefined) => v === undefined || v.trim() === ""

const REASON_COLUMNS = ["stock_adjustment_reason_id", "reason_id", "stock_adjustment_reason", "reason"]
const LOCATION_COLUMNS = ["location_id", "stocky_location_id", "location_shopify_id", "shopify_location_id"]
const VARIANT_COLUMNS = [
  "variant_id",
  "stocky_variant_id",
  "variant_shopify_id",
  "shopify_variant_id",
  "variant_title",
  "title",
  "variant_sku",
  "sku",
  "variant_barcode",
  "barcode"
]

/** The wire-shaped object for a CSV row of `resource` (purchase items are attached separately). */
export const csvRowToWire = (resource: StockyResourceName, row: CsvObject): Record<string, unknown> => {
  switch (resource) {
    case "stock_adjustments": {
      const reasonId = pick(row, "stock_adjustment_reason_id", "reason_id")
      const reason = pick(row, "stock_adjustment_reason", "reason")
      const locationId = pick(row, "location_id", "stocky_location_id")
      const shopifyId = pick(row, "location_shopify_id", "shopify_location_id")
      return {
        ...without(row, REASON_COLUMNS.concat(LOCATION_COLUMNS)),
        stock_adjustment_reason:
          blank(reasonId) && blank(reason) ? null : { id: reasonId ?? null, reason: reason ?? null },
        location:
          blank(locationId) && blank(shopifyId)
            ? null
            : { id: locationId ?? null, shopify_id: shopifyId ?? null }
      }
    }
    case "stock_adjustment_items": {
      const v = {
        id: pick(row, "variant_id", "stocky_variant_id") ?? null,
        shopify_id: pick(row, "variant_shopify_id", "shopify_variant_id") ?? null,
        title: pick(row, "variant_title", "title") ?? null,
        sku: pick(row, "variant_sku", "sku") ?? "",
        barcode: pick(row, "variant_barcode", "barcode") ?? null
      }
      const empty = [v.id, v.shopify_id, v.title, v.sku, v.barcode].every(
        (x) => x === null || x.trim() === ""
      )
      return { ...without(row, VARIANT_COLUMNS), variant: empty ? null : v }
    }
    default:
      return { ...row }
  }
}

/** The column naming a purchase item's PO. */
export const purchaseOrderIdOf = (row: CsvObject): string | undefined =>
  pick(row, "purchase_order_id", "po_id")

/** A purchase item row without its PO link column. */
export const purchaseItemToWire = (row: CsvObject): Record<string, unknown> =>
  without(row, ["purchase_order_id", "po_id"])
