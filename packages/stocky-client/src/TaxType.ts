/** Tax types referenced by PO lines (`tax_type_id`) and PO shipping (`shipping_tax_type`). */
import { Schema } from "effect"
import * as S from "./internal/scalars.js"

/** A Stocky tax type. `tax_rate` is a percentage as an exact decimal ("10.0" = 10 %). */
export const TaxType = Schema.Struct({
  id: S.StockyId,
  name: S.NullableText,
  code: S.NullableText,
  tax_rate: S.NullableDecimal,
  purpose: S.NullableText,
  accounting_tax_type: S.NullableText,
  created_at: S.NullableTimestamp,
  updated_at: S.NullableTimestamp
})
/** A decoded tax type. */
export type TaxType = typeof TaxType.Type
