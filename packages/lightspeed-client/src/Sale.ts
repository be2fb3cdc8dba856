/**
 * A K-Series sale (an "account") with its sales lines, tax lines and payments, as returned by
 * Financial API V1 (`dailyFinancials`, `financials/{from}/{to}`) and V2 (`sales`, `sales-daily`).
 * V1 and V2 spell three timestamps differently (`timeofCloseAndPaid` vs `timeClosed` …); both
 * decode to the V2 spelling here so downstream mappers see one shape.
 */
import { Effect, Schema, SchemaGetter } from "effect"
import { Amount, Id, optionalNullable, TaxRateFromMultiplier } from "./Fields.js"

/** One tax applied to a sales line. `taxRate` carries both the multiplier ("1.08") and the percent ("8"). */
export const TaxLine = Schema.Struct({
  taxId: optionalNullable(Id),
  taxCode: optionalNullable(Schema.String),
  taxRate: TaxRateFromMultiplier,
  /** Tax amount, up to 6 decimals. */
  taxAmount: Amount,
  taxIncluded: optionalNullable(Schema.Boolean)
})
/** A decoded tax line. */
export type TaxLine = typeof TaxLine.Type

/** The accounting group a line books to. */
export const AccountingGroup = Schema.Struct({
  accountingGroupId: optionalNullable(Id),
  name: optionalNullable(Schema.String),
  statisticGroup: optionalNullable(Schema.String),
  code: optionalNullable(Schema.String)
})
/** A decoded accounting group. */
export type AccountingGroup = typeof AccountingGroup.Type

const SaleLineFields = {
  /** Line id, e.g. "S65315.33": the line's idempotency key. */
  id: Id,
  parentLineId: optionalNullable(Id),
  sku: optionalNullable(Schema.String),
  name: optionalNullable(Schema.String),
  nameOverride: optionalNullable(Schema.String),
  /** Quantity as an exact decimal (fractional for items sold by weight). */
  quantity: Amount,
  currency: optionalNullable(Schema.String),
  /** Line total including tax: use it for tax-inclusive businesses. */
  totalNetAmountWithTax: optionalNullable(Amount),
  totalNetAmountWithoutTax: optionalNullable(Amount),
  menuListPrice: optionalNullable(Amount),
  unitCostPrice: optionalNullable(Amount),
  serviceCharge: optionalNullable(Amount),
  serviceChargeType: optionalNullable(Schema.String),
  /** A percent, unlike tax rates. */
  serviceChargeRate: optionalNullable(Amount),
  discountAmount: optionalNullable(Amount),
  discountType: optionalNullable(Schema.String),
  discountCode: optionalNullable(Schema.String),
  discountName: optionalNullable(Schema.String),
  accountDiscountAmount: optionalNullable(Amount),
  accountDiscountType: optionalNullable(Schema.String),
  accountDiscountCode: optionalNullable(Schema.String),
  accountDiscountName: optionalNullable(Schema.String),
  totalDiscountAmount: optionalNullable(Amount),
  taxCode: optionalNullable(Schema.String),
  taxAmount: optionalNullable(Amount),
  /** A percent ("20.00"), unlike `taxLines[].taxRate`. */
  taxRatePercentage: optionalNullable(Amount),
  taxLines: Schema.Array(TaxLine).pipe(Schema.withDecodingDefault(Effect.succeed([]))),
  statisticGroup: optionalNullable(Schema.String),
  accountingGroup: optionalNullable(AccountingGroup),
  tags: optionalNullable(Schema.Array(Schema.String)),
  revenueCenter: optionalNullable(Schema.String),
  revenueCenterId: optionalNullable(Id),
  categories: optionalNullable(
    Schema.Array(
      Schema.Struct({ category: optionalNullable(Schema.String), value: optionalNullable(Schema.String) })
    )
  ),
  /** V1 `timeofSale`. */
  timeOfSale: optionalNullable(Schema.String),
  staffId: optionalNullable(Id),
  staffName: optionalNullable(Schema.String),
  deviceId: optionalNullable(Id),
  deviceName: optionalNullable(Schema.String),
  voidReason: optionalNullable(Schema.String),
  accountProfileCode: optionalNullable(Schema.String)
}

const SaleLineNormalized = Schema.Struct(SaleLineFields)

/** A sales line as sent: V1 `timeofSale` or V2 `timeOfSale`. */
export const SaleLineWire = Schema.Struct({ ...SaleLineFields, timeofSale: optionalNullable(Schema.String) })

/** Maps a wire line onto the V2 spelling. */
export const normalizeSaleLine = ({
  timeofSale,
  ...line
}: typeof SaleLineWire.Type): typeof SaleLineNormalized.Type => ({
  ...line,
  timeOfSale: line.timeOfSale ?? timeofSale ?? null
})

/**
 * One sales line (an item, modifier or sub-item; `parentLineId` links modifiers to their item).
 * Accepts V1 `timeofSale` and V2 `timeOfSale`.
 */
export const SaleLine = SaleLineWire.pipe(
  Schema.decodeTo(Schema.toType(SaleLineNormalized), {
    decode: SchemaGetter.transform(normalizeSaleLine),
    encode: SchemaGetter.transform((line) => line)
  })
)
/** A decoded sales line. */
export type SaleLine = typeof SaleLine.Type

/** One payment on a sale (only present when `include=payments` is requested, which this client always does). */
export const Payment = Schema.Struct({
  /** Payment id, e.g. "T72691.8": with `uuid`, the payment's idempotency key. */
  fiscId: optionalNullable(Schema.String),
  uuid: optionalNullable(Schema.String),
  code: optionalNullable(Schema.String),
  description: optionalNullable(Schema.String),
  paymentMethodId: optionalNullable(Id),
  netAmountWithTax: Amount,
  currency: optionalNullable(Schema.String),
  tip: optionalNullable(Amount),
  surcharge: optionalNullable(Amount),
  /** NORMAL | ACCOUNTS_RECEIVABLE. */
  type: optionalNullable(Schema.String),
  deviceId: optionalNullable(Id),
  deviceName: optionalNullable(Schema.String),
  staffId: optionalNullable(Id),
  staffName: optionalNullable(Schema.String),
  authorization: optionalNullable(Schema.String),
  externalReference: optionalNullable(Schema.String),
  revenueCenter: optionalNullable(Schema.String),
  revenueCenterId: optionalNullable(Id),
  fiscDate: optionalNullable(Schema.String)
})
/** A decoded payment. */
export type Payment = typeof Payment.Type

/** Links a refund, split or transfer back to the sale it came from. */
export const SaleSource = Schema.Struct({
  initialAccountId: optionalNullable(Schema.String),
  previousAccountId: optionalNullable(Schema.String)
})

/** The known sale types; other values are kept verbatim rather than failing the record. */
export const KNOWN_SALE_TYPES = [
  "SALE",
  "VOID",
  "RECALL",
  "REFUND",
  "SPLIT",
  "UPDATE",
  "TRANSFER",
  "FLOAT",
  "TRANSITORY",
  "CROSS_BL",
  "CANCEL"
] as const

const SaleFieldsCommon = {
  /** Globally unique account reference (base64 UUID): the sale's idempotency key. */
  accountReference: Schema.String,
  /** e.g. "A65315.17"; also the V1 page cursor. */
  accountFiscId: Schema.String,
  receiptId: optionalNullable(Schema.String),
  source: optionalNullable(SaleSource),
  /** SALE, REFUND, VOID … (see `KNOWN_SALE_TYPES`). */
  type: optionalNullable(Schema.String),
  cancelled: optionalNullable(Schema.Boolean),
  /** V1 `timeofOpening`. */
  timeOfOpening: optionalNullable(Schema.String),
  /** V1 `timeofCloseAndPaid`. V2 filters date ranges on this field. */
  timeClosed: optionalNullable(Schema.String),
  externalFiscalNumber: optionalNullable(Schema.String),
  tableNumber: optionalNullable(Schema.Union([Schema.String, Schema.Number])),
  tableName: optionalNullable(Schema.String),
  accountProfileCode: optionalNullable(Schema.String),
  ownerName: optionalNullable(Schema.String),
  ownerId: optionalNullable(Id),
  externalReferences: optionalNullable(Schema.Array(Schema.String)),
  nbCovers: optionalNullable(Schema.Number),
  dineIn: optionalNullable(Schema.Boolean),
  deviceId: optionalNullable(Id),
  deviceName: optionalNullable(Schema.String),
  voidReason: optionalNullable(Schema.String),
  payments: Schema.Array(Payment).pipe(Schema.withDecodingDefault(Effect.succeed([])))
}

const SaleNormalized = Schema.Struct({
  ...SaleFieldsCommon,
  salesLines: Schema.Array(SaleLineNormalized).pipe(Schema.withDecodingDefault(Effect.succeed([])))
})

/** A sale as sent by V1 or V2 (both spellings accepted); `normalizeSale` gives the V2 shape. */
export const SaleWire = Schema.Struct({
  ...SaleFieldsCommon,
  salesLines: Schema.Array(SaleLineWire).pipe(Schema.withDecodingDefault(Effect.succeed([]))),
  timeofOpening: optionalNullable(Schema.String),
  timeofCloseAndPaid: optionalNullable(Schema.String)
})

/** Maps a wire sale (and its lines) onto the V2 spelling. */
export const normalizeSale = ({
  timeofOpening,
  timeofCloseAndPaid,
  salesLines,
  ...sale
}: typeof SaleWire.Type): typeof SaleNormalized.Type => ({
  ...sale,
  timeOfOpening: sale.timeOfOpening ?? timeofOpening ?? null,
  timeClosed: sale.timeClosed ?? timeofCloseAndPaid ?? null,
  salesLines: salesLines.map(normalizeSaleLine)
})
/**
 * A sale from either Financial API version. Decodes V1 (`timeofOpening`, `timeofCloseAndPaid`) and
 * V2 (`timeOfOpening`, `timeClosed`) spellings to the V2 one.
 */
export const Sale = SaleWire.pipe(
  Schema.decodeTo(Schema.toType(SaleNormalized), {
    decode: SchemaGetter.transform(normalizeSale),
    encode: SchemaGetter.transform((sale) => sale)
  })
)
/** A decoded sale. */
export type Sale = typeof Sale.Type
