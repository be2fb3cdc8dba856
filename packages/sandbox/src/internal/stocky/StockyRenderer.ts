/**
 * Stocky's wire shapes, quirks included: string money and string `supplier_id`, non-ISO
 * `purchase_items[].updated_at` ("DD/MM/YYYY HH:MM"), nullable dates.
 */
import type { Merchant } from "../Merchant.js"
import type { PurchaseOrder, StockAdjustment, StockTransfer, Supplier, Variant } from "../model.js"

/** ISO 8601 UTC with milliseconds, as Stocky sends. */
export const isoMs = (t: number): string => new Date(t).toISOString()
const isoOrNull = (t: number | null): string | null => (t === null ? null : isoMs(t))
const formatters = new Map<string, Intl.DateTimeFormat>()

/** Wall-clock fields of an instant in an IANA zone (UTC fast path). */
const localParts = (t: number, timeZone: string) => {
  const d = new Date(t)
  if (timeZone === "UTC")
    return {
      year: d.getUTCFullYear(),
      month: d.getUTCMonth() + 1,
      day: d.getUTCDate(),
      hour: d.getUTCHours(),
      minute: d.getUTCMinutes()
    }
  let f = formatters.get(timeZone)
  if (f === undefined) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric"
    })
    formatters.set(timeZone, f)
  }
  const part = (type: string) => Number(f.formatToParts(d).find((x) => x.type === type)?.value ?? 0)
  return {
    year: part("year"),
    month: part("month"),
    day: part("day"),
    hour: part("hour"),
    minute: part("minute")
  }
}

const p2 = (n: number) => String(n).padStart(2, "0")

/** "YYYY-MM-DD": the store's local date (Stocky's date-only fields carry no zone). */
export const dateOnly = (t: number, timeZone = "UTC"): string => {
  const l = localParts(t, timeZone)
  return `${l.year}-${p2(l.month)}-${p2(l.day)}`
}

/**
 * "DD/MM/YYYY HH:MM", the documented non-ISO quirk: the store's local wall-clock time with no
 * offset (a client must know the store's zone to read it back).
 */
export const ddmmyyyy = (t: number, timeZone = "UTC"): string => {
  const l = localParts(t, timeZone)
  return `${p2(l.day)}/${p2(l.month)}/${l.year} ${p2(l.hour)}:${p2(l.minute)}`
}

/** Minor units → decimal string with 2 places ("49.61"; JPY "1100.00"). */
export const money = (minor: number, currency: string): string => {
  if (currency === "JPY") return `${minor}.00`
  const neg = minor < 0 ? "-" : ""
  const abs = Math.abs(minor)
  return `${neg}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}`
}

/** Lookups the renderers share. */
export class StockyRenderer {
  private readonly variants: ReadonlyMap<number, Variant>
  private readonly productTitle: ReadonlyMap<number, string>
  private readonly suppliers: ReadonlyMap<number, Supplier>
  private readonly locationShopifyId: ReadonlyMap<number, number>
  private readonly stockyLocationId: ReadonlyMap<number, number>

  constructor(
    merchant: Merchant,
    /** IANA zone of the non-ISO timestamps and date-only fields. */
    private readonly timeZone = "UTC"
  ) {
    this.variants = new Map(merchant.variants.map((v) => [v.id, v]))
    this.productTitle = new Map(merchant.products.map((p) => [p.id, p.title]))
    this.suppliers = new Map(merchant.suppliers.map((s) => [s.id, s]))
    this.locationShopifyId = new Map(merchant.locations.map((l) => [l.id, l.id]))
    this.stockyLocationId = new Map(merchant.locations.map((l) => [l.id, l.stockyLocationId]))
  }

  private taxTypeFor(v: Variant | undefined): number {
    return v?.taxClass === "standard" ? 2 : 1
  }

  /** A purchase order with its embedded purchase_items. */
  purchaseOrder(p: PurchaseOrder, now: number): Record<string, unknown> {
    const supplier = this.suppliers.get(p.supplierId)
    const items = p.lines.map((l) => {
      const v = this.variants.get(l.variantId)
      return {
        id: l.id,
        sku: v?.sku ?? "",
        inventory_item_id: v?.inventoryItemId ?? null,
        product_title: this.productTitle.get(v?.productId ?? 0) ?? "",
        variant_title: v?.title ?? "",
        asin: "",
        quantity: l.quantity as number | string,
        status: l.received ? "delivered" : "not delivered",
        retail_price: money(v?.price ?? 0, p.currency),
        cost_price: money(l.unitCost, p.currency),
        supplier_cost_price: money(l.unitCost, p.currency),
        account_code: "300",
        tax_type_id: this.taxTypeFor(v),
        accounting_tax_type: null,
        received_at: isoOrNull(p.receivedAt),
        updated_at: ddmmyyyy(p.updatedAt, this.timeZone)
      }
    })
    // Bad-record injection: an integer field sent as a non-numeric string.
    if (p.malformed && items[0] !== undefined) items[0].quantity = "abc"
    return {
      id: p.id,
      number: p.id,
      sequential_id: p.id,
      invoice_number: p.receivedAt === null ? null : `INV-${p.number.slice(3)}`,
      created_at: isoMs(p.createdAt),
      updated_at: isoMs(p.updatedAt),
      generated_at: isoMs(p.createdAt),
      ordered_at: isoMs(p.orderedAt),
      expected_on: dateOnly(p.orderedAt + 4 * 86_400_000, this.timeZone),
      ship_on: null,
      payment_due_on: p.receivedAt === null ? null : dateOnly(p.receivedAt + 30 * 86_400_000, this.timeZone),
      invoice_date: dateOnly(p.receivedAt ?? p.orderedAt, this.timeZone),
      archived: p.receivedAt !== null && now - p.receivedAt > 90 * 86_400_000,
      paid: p.receivedAt !== null && now - p.receivedAt > 30 * 86_400_000,
      supplier_name: supplier?.name ?? "",
      supplier_id: String(p.supplierId),
      currency: p.currency,
      shopify_receive_location_id: this.locationShopifyId.get(p.locationId) ?? null,
      adjustments: 0,
      adjustments_local: 0,
      shipping: 0,
      shipping_local: 0,
      shipping_tax_type: 2,
      purchase_items: items
    }
  }

  /** Status Stocky would file a PO under (UNCONFIRMED semantics: ordered = confirmed). */
  poStatus(p: PurchaseOrder, now: number): { status: string; archived: boolean } {
    return { status: "confirmed", archived: p.receivedAt !== null && now - p.receivedAt > 90 * 86_400_000 }
  }

  /** A stock adjustment (no items: those come from stock_adjustment_items). */
  stockAdjustment(a: StockAdjustment): Record<string, unknown> {
    return {
      id: a.id,
      // Bad-record injection: a malformed adjustment carries a non-integer sequential id.
      sequential_id: a.malformed === true ? "abc" : a.id,
      adjusted_at: isoMs(a.adjustedAt),
      created_at: isoMs(a.createdAt),
      updated_at: isoMs(a.updatedAt),
      archived: false,
      stock_adjustment_reason: { id: reasonId(a.reason), reason: reasonText(a.reason) },
      location: {
        id: this.stockyLocationId.get(a.locationId) ?? null,
        shopify_id: this.locationShopifyId.get(a.locationId) ?? null
      }
    }
  }

  /** One adjustment item; previous/new quantities are illustrative, `quantity` is the real delta. */
  stockAdjustmentItem(a: StockAdjustment, item: StockAdjustment["items"][number]): Record<string, unknown> {
    const v = this.variants.get(item.variantId)
    const previous = a.reason === "initial count" ? 0 : 20 + ((item.id * 7919) % 40)
    return {
      id: item.id,
      quantity: item.quantity,
      updated_at: isoMs(a.updatedAt),
      status: "adjusted",
      previous_quantity: previous,
      new_quantity: previous + item.quantity,
      stock_adjustment_id: a.id,
      adjusted_at: isoMs(a.adjustedAt),
      variant: {
        id: v?.stockyVariantId ?? null,
        shopify_id: v?.id ?? null,
        title: v?.title ?? "",
        sku: v?.sku ?? "",
        barcode: v?.barcode ?? null
      }
    }
  }

  /** A stock transfer with its items. */
  stockTransfer(t: StockTransfer): Record<string, unknown> {
    return {
      id: t.id,
      note: "Weekly replenishment",
      sequential_id: t.id,
      transferred_by: "Warehouse team",
      from_location_id: this.locationShopifyId.get(t.fromLocationId) ?? null,
      to_location_id: this.locationShopifyId.get(t.toLocationId) ?? null,
      created_at: isoMs(t.createdAt),
      updated_at: isoMs(t.updatedAt),
      sent_at: isoOrNull(t.sentAt),
      received_at: isoOrNull(t.receivedAt),
      stock_transfer_reason: "Replenish stock",
      archived: false,
      forecast_type: "last_days",
      restock_for: null,
      tracking_number: "",
      stock_transfer_items: t.items.map((it) => {
        const v = this.variants.get(it.variantId)
        return {
          id: it.id,
          inventory_item_id: v?.inventoryItemId ?? null,
          product_title: this.productTitle.get(v?.productId ?? 0) ?? "",
          variant_title: v?.title ?? "",
          quantity: it.quantity,
          status: t.receivedAt === null ? "not_transferred" : "received",
          received_at: isoOrNull(t.receivedAt),
          updated_at: isoMs(t.updatedAt)
        }
      })
    }
  }

  /** A supplier. */
  supplier(s: Supplier): Record<string, unknown> {
    const slug = s.name.toLowerCase().replace(/[^a-z]+/g, "")
    return {
      id: s.id,
      name: s.name,
      created_at: isoMs(s.createdAt),
      updated_at: isoMs(s.updatedAt),
      company_name: `${s.name} K.K.`,
      account_number: `ACC-${1000 + s.id}`,
      contact_name: "Sales desk",
      contact_email: `orders@${slug}.example.jp`,
      address1: `${s.id}-2-3 Chuo`,
      address2: null,
      city: "Kyoto",
      province_code: "JP-26",
      country_name: "Japan",
      zip: `600-80${String(s.id).padStart(2, "0")}`,
      phone: `+81-75-000-00${String(s.id).padStart(2, "0")}`,
      phone_toll_free: null,
      fax: null,
      is_hidden: false
    }
  }
}

const reasonId = (reason: string): number => (reason === "initial count" ? 1 : reason === "damaged" ? 2 : 3)
const reasonText = (reason: string): string =>
  reason === "initial count"
    ? "Initial count"
    : reason === "damaged"
      ? "Damaged Products"
      : "Stocktake correction"
