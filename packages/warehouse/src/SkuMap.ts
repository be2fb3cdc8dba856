/**
 * The cross-channel item link: each source variant mapped to one canonical SKU, by normalised
 * SKU, falling back to barcode, with manual overrides winning.
 */
import type { Dialect } from "./Dialect.js"
import type { MapContext } from "./Mapper.js"
import type { CanonicalRow } from "./Tables.js"

/**
 * Canonical form of a SKU, the one rule every mapper links by: Unicode NFKC first, so the
 * full-width forms Japanese tills and spreadsheets type (`ＡＢＣ－１２３`, the ideographic space)
 * become the ASCII a web store uses (`ABC-123`); then trimmed, inner whitespace collapsed to one
 * space, upper-case. NFKC also folds other compatibility forms (ligatures such as `ﬁ`, circled
 * or super-scripted digits, half-width katakana to full-width); it never changes plain ASCII, so
 * SKUs and manual overrides written before it link as they did.
 */
export const normalizeSku = (sku: string): string =>
  sku.normalize("NFKC").trim().replace(/\s+/g, " ").toUpperCase()

const FULL_WIDTH_ASCII = `${Array.from({ length: 0x5e }, (_, i) => String.fromCharCode(0xff01 + i)).join("")}\u3000`
const ASCII = `${Array.from({ length: 0x5e }, (_, i) => String.fromCharCode(0x21 + i)).join("")} `

/**
 * `normalizeSku`'s NFKC step in SQL, for the views that normalise SKUs in the warehouse. BigQuery
 * has `NORMALIZE(…, NFKC)`. DuckDB has no NFKC function, so it folds what SKUs are typed with:
 * the full-width ASCII block (U+FF01–U+FF5E) and the ideographic space, exactly as NFKC does;
 * rarer compatibility forms (ligatures, half-width katakana) stay as they are there.
 */
export const nfkcSql = (d: Dialect, expr: string): string =>
  d.name === "duckdb"
    ? `translate(${expr}, '${FULL_WIDTH_ASCII}', '${ASCII.replaceAll("'", "''")}')`
    : `NORMALIZE(${expr}, NFKC)`

/** A manual link: this variant of this source is that SKU. */
export interface SkuOverride {
  readonly source: string
  readonly sourceAccount: string
  readonly variantId: string
  readonly sku: string
}

/** Builds `sku_map` rows for variants; variants with neither SKU, barcode nor override are skipped. */
export const buildSkuMap = (
  variants: ReadonlyArray<CanonicalRow<"variants">>,
  overrides: ReadonlyArray<SkuOverride>,
  ctx: Pick<MapContext, "syncedAt" | "batchId">
): ReadonlyArray<CanonicalRow<"sku_map">> => {
  const manual = new Map(
    overrides.map((o) => [`${o.source}|${o.sourceAccount}|${o.variantId}`, normalizeSku(o.sku)])
  )
  return variants.flatMap((v): ReadonlyArray<CanonicalRow<"sku_map">> => {
    const override = manual.get(`${v.source}|${v.source_account}|${v.source_id}`)
    const bySku = v.sku !== null && v.sku.trim() !== "" ? normalizeSku(v.sku) : undefined
    const byBarcode = v.barcode !== null && v.barcode.trim() !== "" ? v.barcode.trim() : undefined
    const sku = override ?? bySku ?? byBarcode
    if (sku === undefined) return []
    return [
      {
        source: v.source,
        source_account: v.source_account,
        source_id: v.source_id,
        updated_at: v.updated_at,
        _synced_at: ctx.syncedAt,
        _batch_id: ctx.batchId,
        _deleted_at: v._deleted_at,
        variant_id: v.source_id,
        sku,
        source_sku: v.sku,
        match_method: override !== undefined ? "manual" : bySku !== undefined ? "sku" : "barcode"
      }
    ]
  })
}
