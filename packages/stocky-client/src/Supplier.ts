/** Suppliers (cannot be exported from Stocky's UI, so the API or an archive is the only source). */
import { Schema } from "effect"
import * as S from "./internal/scalars.js"

/** A Stocky supplier. */
export const Supplier = Schema.Struct({
  id: S.StockyId,
  name: S.Text,
  created_at: S.NullableTimestamp,
  updated_at: S.NullableTimestamp,
  company_name: S.NullableText,
  account_number: S.NullableText,
  contact_name: S.NullableText,
  contact_email: S.NullableText,
  address1: S.NullableText,
  address2: S.NullableText,
  city: S.NullableText,
  province_code: S.NullableText,
  country_name: S.NullableText,
  zip: S.NullableText,
  phone: S.NullableText,
  phone_toll_free: S.NullableText,
  fax: S.NullableText,
  is_hidden: S.Bool
})
/** A decoded supplier. */
export type Supplier = typeof Supplier.Type
