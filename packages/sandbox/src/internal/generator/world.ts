/**
 * The static, small part of the merchant built once per `makeMerchant`: locations, catalogue,
 * suppliers, tax rules and the sampling tables the order factory draws from.
 */
import type { MerchantOptions } from "../Merchant.js"
import type { Customer, Location, Product, Supplier, Variant } from "../model.js"
import { DAY_MS, OrderTimeline, TIME_ZONE } from "./calendar.js"
import { CATALOGUE, FIRST_NAMES, janOf, LAST_NAMES, SUPPLIERS } from "./catalogue.js"
import { cumulativeOf, keyOf, Rng } from "./random.js"

/** A tax rate as an exact fraction num/den plus its decimal string. */
export interface Rate {
  readonly num: number
  readonly den: number
  readonly rate: string
  readonly title: string
}

/** Id bases: large like real Shopify ids, but far below 2^53 even at 10M orders × 32 children. */
export const IDS = {
  location: 70_000_000_000,
  product: 8_100_000_000,
  variant: 44_100_000_000,
  inventoryItem: 46_200_000_000,
  customer: 7_300_000_000_000,
  order: 5_100_000_000_000,
  line: 13_000_000_000_000,
  refund: 900_000_000_000,
  refundLine: 1_400_000_000_000,
  transaction: 6_200_000_000_000
} as const

/** Index of each fixed location in `World.locations`. */
export const WAREHOUSE = 0
/** The Kyoto shop. */
export const SHOP = 1
/** The Kyoto café. */
export const CAFE = 2

/** Everything static the generator needs. */
export interface World {
  readonly options: MerchantOptions
  readonly currency: string
  readonly locations: ReadonlyArray<Location>
  readonly products: ReadonlyArray<Product>
  readonly variants: ReadonlyArray<Variant>
  readonly variantIndex: ReadonlyMap<number, number>
  readonly locationIndex: ReadonlyMap<number, number>
  readonly suppliers: ReadonlyArray<Supplier>
  readonly cafeVariants: ReadonlyArray<number>
  /** "Product - Variant" per variant index, as order lines show it. */
  readonly lineTitles: ReadonlyArray<string>
  readonly onlineCum: Float64Array
  readonly cafeCum: Float64Array
  readonly reduced: Rate
  readonly standard: Rate
  readonly shippingFee: number
  readonly freeShippingFrom: number
  readonly fixedDiscount: number
  readonly onlineCount: number
  readonly posCount: number
  readonly timeline: OrderTimeline
  readonly historyStart: number
  readonly customerCount: number
  readonly customerStart: number
  readonly customerSpan: number
}

/** POS sales per online order. */
export const POS_RATIO = 0.6

const toEur = (jpy: number): number => Math.max(99, Math.round((jpy * 0.64) / 10) * 10 - 1)

/** Validates options with messages that name the field and the fix. */
export const validateOptions = (o: MerchantOptions): void => {
  const int = (name: string, value: number, min: number, max: number) => {
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new RangeError(`MerchantOptions.${name} must be an integer in [${min}, ${max}]; got ${value}`)
    }
  }
  int("seed", o.seed, -2147483648, 4294967295)
  int("orders", o.orders, 0, 100_000_000)
  int("historyDays", o.historyDays, 1, 3650)
  int("discrepancies", o.discrepancies, 0, 10_000)
  int("malformedPerSource", o.malformedPerSource, 0, 10_000)
  int("malformedAdjustments", o.malformedAdjustments ?? 0, 0, 10_000)
  int("malformedCustomers", o.malformedCustomers ?? 0, 0, 10_000)
  int("malformedProducts", o.malformedProducts ?? 0, 0, 10_000)
  int("cutoverHour", o.cutoverHour, 0, 12)
  if (!Number.isFinite(o.anchor))
    throw new RangeError(`MerchantOptions.anchor must be epoch ms; got ${o.anchor}`)
  if (o.tax !== "jp" && o.tax !== "eu")
    throw new RangeError(`MerchantOptions.tax must be "jp" or "eu"; got ${String(o.tax)}`)
}

/** Builds the static world. */
export const buildWorld = (options: MerchantOptions): World => {
  validateOptions(options)
  const eu = options.tax === "eu"
  const currency = eu ? "EUR" : "JPY"
  const price = (jpy: number) => (eu ? toEur(jpy) : jpy)
  const onlineCount = options.orders
  const posCount = Math.round(options.orders * POS_RATIO)
  const timeline = new OrderTimeline(
    onlineCount + posCount,
    options.anchor,
    options.historyDays,
    options.seed
  )
  const historyStart = timeline.windowStart(0)
  const setupAt = historyStart - 400 * DAY_MS

  const locations: Array<Location> = [
    {
      id: IDS.location + 1,
      name: "Online warehouse",
      kind: "warehouse",
      timeZone: TIME_ZONE,
      lightspeedBlId: null,
      stockyLocationId: 1,
      createdAt: setupAt
    },
    {
      id: IDS.location + 2,
      name: "Kyoto shop",
      kind: "shop",
      timeZone: TIME_ZONE,
      lightspeedBlId: "45454565682155",
      stockyLocationId: 2,
      createdAt: setupAt + DAY_MS
    },
    {
      id: IDS.location + 3,
      name: "Kyoto café",
      kind: "cafe",
      timeZone: TIME_ZONE,
      lightspeedBlId: "45454565682156",
      stockyLocationId: 3,
      createdAt: setupAt + 2 * DAY_MS
    }
  ]

  const suppliers: Array<Supplier> = SUPPLIERS.map((name, i) => ({
    id: i + 1,
    name,
    createdAt: setupAt + i * 3_600_000,
    updatedAt: setupAt + (i + 30) * DAY_MS
  }))

  const products: Array<Product> = []
  const variants: Array<Variant> = []
  const weights: Array<number> = []
  const cafeVariants: Array<number> = []
  const cafeWeights: Array<number> = []
  const lineTitles: Array<string> = []
  CATALOGUE.forEach((p, pi) => {
    const productId = IDS.product + pi + 1
    const variantIds: Array<number> = []
    const taxClass = p.productType === "sake" || p.productType === "kitchenware" ? "standard" : "reduced"
    for (const cv of p.variants) {
      const k = variants.length
      const id = IDS.variant + k + 1
      variantIds.push(id)
      variants.push({
        id,
        productId,
        inventoryItemId: IDS.inventoryItem + k + 1,
        lightspeedItemId: String(281474976710656 + k * 7919),
        stockyVariantId: 1000 + k + 1,
        sku: cv.sku,
        title: cv.title,
        barcode: cv.barcode ? janOf(100_000 + k) : null,
        price: price(cv.priceJpy),
        unitCost: price(cv.costJpy),
        taxClass,
        supplierId: p.supplier
      })
      weights.push(cv.weight)
      lineTitles.push(`${p.title} - ${cv.title}`)
      if (cv.cafe) {
        cafeVariants.push(k)
        cafeWeights.push(cv.weight)
      }
    }
    const createdAt = setupAt + (pi + 3) * DAY_MS
    products.push({
      id: productId,
      title: p.title,
      productType: p.productType,
      vendor: p.vendor,
      createdAt,
      updatedAt: createdAt + ((pi * 37) % 90) * DAY_MS,
      variantIds
    })
  })

  const customerCount = Math.max(20, Math.ceil(onlineCount / 4))
  const customerStart = historyStart - 60 * DAY_MS
  return {
    options,
    currency,
    locations,
    products,
    variants,
    variantIndex: new Map(variants.map((v, i) => [v.id, i])),
    locationIndex: new Map(locations.map((l, i) => [l.id, i])),
    suppliers,
    cafeVariants,
    lineTitles,
    onlineCum: cumulativeOf(weights),
    cafeCum: cumulativeOf(cafeWeights),
    reduced: eu
      ? { num: 7, den: 100, rate: "0.07", title: "VAT 7%" }
      : { num: 8, den: 100, rate: "0.08", title: "JCT 8% (reduced)" },
    standard: eu
      ? { num: 19, den: 100, rate: "0.19", title: "VAT 19%" }
      : { num: 10, den: 100, rate: "0.1", title: "JCT 10%" },
    shippingFee: eu ? 590 : 800,
    freeShippingFrom: eu ? 8000 : 10_000,
    fixedDiscount: eu ? 300 : 500,
    onlineCount,
    posCount,
    timeline,
    historyStart,
    customerCount,
    customerStart,
    customerSpan: options.anchor - customerStart
  }
}

/** Customer i: a pure function of (seed, i); createdAt increases with i. */
export const customerAt = (w: World, i: number): Customer => {
  const rng = new Rng(keyOf(w.options.seed, 3, i))
  const first = FIRST_NAMES[rng.int(FIRST_NAMES.length)] ?? "Yui"
  const last = LAST_NAMES[rng.int(LAST_NAMES.length)] ?? "Sato"
  const createdAt = w.customerStart + Math.floor(((i + rng.float()) * w.customerSpan) / w.customerCount)
  const lag = rng.int(30 * DAY_MS)
  return {
    id: IDS.customer + i + 1,
    firstName: first,
    lastName: last,
    email: `${first.toLowerCase()}.${last.toLowerCase()}.${i + 1}@example.jp`,
    createdAt,
    updatedAt: Math.min(createdAt + lag, Math.max(createdAt, w.options.anchor - 1))
  }
}

/** How many customers exist by time t (customers are created uniformly over their span). */
export const customersBy = (w: World, t: number): number =>
  Math.max(
    0,
    Math.min(w.customerCount, Math.floor(((t - w.customerStart) * w.customerCount) / w.customerSpan))
  )
