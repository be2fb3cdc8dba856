/**
 * Focused tests of the Lightspeed K-Series and Stocky mappers on records decoded by the clients'
 * own schemas: POS tax multipliers, the business-day cutover, V1 and V2 shapes, refunds and
 * restocks; Stocky's quirks (string ids, blank SKUs, DD/MM/YYYY item times), receipts,
 * adjustments and transfers.
 */
import { Sale } from "@kura/lightspeed-client"
import { PurchaseOrder, StockAdjustment, StockAdjustmentItem, StockTransfer } from "@kura/stocky-client"
import { Effect, Schema } from "effect"
import { describe, expect, it } from "vitest"
import type { MapContext } from "../../src/Mapper.js"
import {
  inventoryCatalogOf,
  joinStockyAdjustments,
  makeLightspeedSaleMapper,
  makeStockyPurchaseOrderMapper,
  makeStockyTransferMapper,
  mapLightspeedItem,
  mapStockyAdjustment
} from "../../src/mappers/index.js"
import type { CanonicalRow } from "../../src/Tables.js"

const lsCtx: MapContext = {
  source: "lightspeed",
  sourceAccount: "4545",
  syncedAt: "2026-03-05T00:00:00.000Z",
  batchId: "b-ls",
  timeZoneOf: () => "Asia/Tokyo"
}

const saleLine = (
  id: string,
  qty: string,
  gross: string,
  tax: string,
  multiplier: string,
  sku = "MAT-30"
) => ({
  id,
  sku,
  name: "Matcha latte",
  quantity: qty,
  currency: "JPY",
  totalNetAmountWithTax: gross,
  totalNetAmountWithoutTax: "0",
  menuListPrice: "550.00",
  discountAmount: "0.00",
  totalDiscountAmount: "0.00",
  taxLines: [
    { taxId: 41910290874371, taxCode: "RED8", taxRate: multiplier, taxAmount: tax, taxIncluded: true }
  ]
})

/** The same sale as Financial API V1 and V2 spell it. */
const saleV2 = {
  accountReference: "AAECAwQFBgcICQoLDA0ODw==",
  accountFiscId: "A65315.17",
  receiptId: "R65315.17",
  type: "SALE",
  cancelled: false,
  timeOfOpening: "2026-03-01T19:00:00Z",
  // 19:30 UTC = 04:30 the next day in Tokyo: before a 05:00 cutover it is still March 1st's day.
  timeClosed: "2026-03-01T19:30:00Z",
  salesLines: [
    saleLine("S65315.136", "2.000", "1100.00", "81.481481", "1.08"),
    saleLine("S65315.137", "1.000", "660.00", "60.000000", "1.1", "SAKE-1")
  ],
  payments: [
    {
      uuid: "pay-1",
      code: "CARD",
      netAmountWithTax: "1760.00",
      currency: "JPY",
      fiscDate: "2026-03-01T19:30:00Z"
    }
  ]
}
const { timeOfOpening, timeClosed, salesLines, ...rest } = saleV2
const saleV1 = {
  ...rest,
  timeofOpening: timeOfOpening,
  timeofCloseAndPaid: timeClosed,
  salesLines: salesLines.map((l) => ({ ...l, quantity: String(Number(l.quantity)) }))
}
const refundV2 = {
  accountReference: "REFUND-REF",
  accountFiscId: "A65315.18",
  type: "REFUND",
  source: { initialAccountId: saleV2.accountReference, previousAccountId: saleV2.accountReference },
  timeClosed: "2026-03-02T03:00:00Z",
  salesLines: [saleLine("S65315.144", "-1.000", "-550.00", "-40.740741", "1.08")],
  payments: [{ uuid: "pay-2", code: "CARD", netAmountWithTax: "-550.00", currency: "JPY" }]
}

const decodeSale = Schema.decodeUnknownSync(Sale)
const mapper = makeLightspeedSaleMapper({
  businessLocationId: "45454565682155",
  dayStartsAt: "05:00",
  stockLocationId: "2"
})

describe("Lightspeed sale mapper", () => {
  it("maps a sale with tax multipliers as fractions, exact totals and the cutover business date", () => {
    const rows = mapper(decodeSale(saleV2), lsCtx)
    expect(rows.orders?.[0]).toMatchObject({
      source: "lightspeed",
      source_id: saleV2.accountReference,
      channel: "pos",
      location_id: "45454565682155",
      order_number: "R65315.17",
      currency: "JPY",
      total: "1760.00",
      tax: "141.481481",
      business_date: "2026-03-01",
      processed_at: "2026-03-01T19:30:00.000Z"
    })
    expect(rows.tax_lines?.map((t) => [t.title, t.rate, t.amount])).toEqual([
      ["RED8", "0.08", "81.481481"],
      ["RED8", "0.1", "60.000000"]
    ])
    expect(rows.order_lines?.map((l) => [l.source_id, l.quantity, l.total])).toEqual([
      [`${saleV2.accountReference}:S65315.136`, 2, "1100.00"],
      [`${saleV2.accountReference}:S65315.137`, 1, "660.00"]
    ])
    expect(rows.payments?.map((p) => [p.source_id, p.kind, p.amount])).toEqual([["pay-1", "sale", "1760.00"]])
    expect(rows.inventory_movements?.map((m) => [m.kind, m.sku, m.location_id, m.quantity])).toEqual([
      ["sale", "MAT-30", "2", -2],
      ["sale", "SAKE-1", "2", -1]
    ])
  })

  it("maps the V1 and V2 spellings of a sale to the same rows", () => {
    const norm = (rows: ReturnType<typeof mapper>) =>
      JSON.stringify(rows, (_k, v) =>
        typeof v === "string" && /^-?\d+\.\d+$/.test(v) ? Number(v).toString() : v
      )
    expect(norm(mapper(decodeSale(saleV1), lsCtx))).toBe(norm(mapper(decodeSale(saleV2), lsCtx)))
  })

  it("maps a REFUND account to a refund of the original sale with restock movements (policy switchable)", () => {
    const rows = mapper(decodeSale(refundV2), lsCtx)
    expect(rows.orders).toBeUndefined()
    expect(rows.refunds?.[0]).toMatchObject({
      source_id: "REFUND-REF",
      order_id: saleV2.accountReference,
      amount: "550.00",
      business_date: "2026-03-02"
    })
    expect(rows.refund_lines?.map((l) => [l.quantity, l.amount, l.restock])).toEqual([[1, "550.00", true]])
    expect(rows.inventory_movements?.map((m) => [m.kind, m.quantity, m.location_id])).toEqual([
      ["refund_restock", 1, "2"]
    ])
    expect(rows.payments?.map((p) => [p.kind, p.amount, p.order_id])).toEqual([
      ["refund", "550.00", saleV2.accountReference]
    ])
    const noRestock = makeLightspeedSaleMapper({
      businessLocationId: "45454565682155",
      refundRestocks: false
    })(decodeSale(refundV2), lsCtx)
    expect(noRestock.inventory_movements).toEqual([])
    expect(noRestock.refund_lines?.[0]?.restock).toBe(false)
  })

  it("maps a VOID of an earlier sale to a refund of that sale, dated at the void, whose unspoiled lines go back on the shelf", () => {
    const voidOf = (reason: string | null, lineReason: string | null = reason) =>
      decodeSale({
        ...refundV2,
        accountReference: "VOID-REF",
        type: "VOID",
        voidReason: reason,
        salesLines: [
          { ...saleLine("S65315.150", "-2.000", "-1100.00", "-81.481481", "1.08"), voidReason: lineReason },
          {
            ...saleLine("S65315.151", "-1.000", "-660.00", "-60.000000", "1.1", "SAKE-1"),
            voidReason: lineReason,
            timeOfSale: "2026-03-02T02:10:00Z"
          }
        ]
      })
    const mistake = mapper(voidOf("User Mistake"), lsCtx)
    // No order of its own: the voided sale stays a sale on its day, and the void reverses it on its.
    expect(mistake.orders).toBeUndefined()
    expect(mistake.order_lines).toBeUndefined()
    expect(mistake.refunds).toEqual([
      expect.objectContaining({
        source_id: "VOID-REF",
        order_id: saleV2.accountReference,
        channel: "pos",
        amount: "1760.00",
        note: "User Mistake",
        created_at: "2026-03-02T03:00:00.000Z",
        processed_at: "2026-03-02T03:00:00.000Z",
        business_date: "2026-03-02"
      })
    ])
    expect(
      mistake.refund_lines?.map((l) => [
        l.source_id,
        l.refund_id,
        l.order_id,
        l.quantity,
        l.amount,
        l.restock
      ])
    ).toEqual([
      ["VOID-REF:S65315.150", "VOID-REF", saleV2.accountReference, 2, "1100.00", true],
      ["VOID-REF:S65315.151", "VOID-REF", saleV2.accountReference, 1, "660.00", true]
    ])
    expect(mistake.payments?.map((p) => [p.kind, p.amount, p.order_id])).toEqual([
      ["refund", "550.00", saleV2.accountReference]
    ])
    expect(mistake.tax_lines?.map((t) => [t.parent_type, t.order_id, t.amount])).toEqual([
      ["refund_line", saleV2.accountReference, "81.481481"],
      ["refund_line", saleV2.accountReference, "60.000000"]
    ])
    // VOID lines with positive amounts (their sign is not documented) map to the same rows.
    const positive = decodeSale({
      ...refundV2,
      accountReference: "VOID-REF",
      type: "VOID",
      voidReason: "User Mistake",
      salesLines: [
        { ...saleLine("S65315.150", "2.000", "1100.00", "81.481481", "1.08"), voidReason: "User Mistake" },
        {
          ...saleLine("S65315.151", "1.000", "660.00", "60.000000", "1.1", "SAKE-1"),
          voidReason: "User Mistake",
          timeOfSale: "2026-03-02T02:10:00Z"
        }
      ],
      payments: [{ uuid: "pay-2", code: "CARD", netAmountWithTax: "550.00", currency: "JPY" }]
    })
    expect(mapper(positive, lsCtx)).toEqual(mistake)
    expect(
      mistake.inventory_movements?.map((m) => [
        m.source_id,
        m.kind,
        m.sku,
        m.quantity,
        m.reason,
        m.reference_type,
        m.reference_id,
        m.occurred_at
      ])
    ).toEqual([
      [
        "void_restock:VOID-REF:S65315.150",
        "refund_restock",
        "MAT-30",
        2,
        "User Mistake",
        "void",
        "VOID-REF",
        "2026-03-02T03:00:00.000Z"
      ],
      [
        "void_restock:VOID-REF:S65315.151",
        "refund_restock",
        "SAKE-1",
        1,
        "User Mistake",
        "void",
        "VOID-REF",
        "2026-03-02T02:10:00.000Z"
      ]
    ])
    // Spoiled goods stay off the shelf, the void still on record; a line's own reason wins.
    expect(mapper(voidOf("Cooking"), lsCtx).inventory_movements?.map((m) => [m.quantity, m.reason])).toEqual([
      [0, "Cooking"],
      [0, "Cooking"]
    ])
    expect(
      mapper(voidOf("User Mistake", "Broken"), lsCtx).inventory_movements?.map((m) => m.quantity)
    ).toEqual([0, 0])
    expect(mapper(voidOf("Cooking"), lsCtx).refund_lines?.map((l) => l.restock)).toEqual([false, false])
    // A void is no return: the refund policy does not stop its goods going back.
    expect(
      makeLightspeedSaleMapper({ businessLocationId: "45454565682155", refundRestocks: false })(
        voidOf("User Mistake"),
        lsCtx
      ).inventory_movements?.map((m) => m.quantity)
    ).toEqual([2, 1])
    // No reason: back on the shelf, as a refund is by default.
    expect(mapper(voidOf(null), lsCtx).inventory_movements?.map((m) => m.quantity)).toEqual([2, 1])
    // A cancelled ticket that voids no earlier sale (it links to itself, or to nothing) moved nothing.
    const own = decodeSale({
      ...saleV2,
      type: "CANCEL",
      source: { initialAccountId: saleV2.accountReference }
    })
    expect(mapper(own, lsCtx).inventory_movements).toEqual([])
    expect(mapper(own, lsCtx).refunds).toBeUndefined()
    expect(mapper(own, lsCtx).orders?.[0]).toMatchObject({ status: "cancelled", financial_status: "VOIDED" })
    expect(mapper(decodeSale({ ...saleV2, cancelled: true }), lsCtx).inventory_movements).toEqual([])
    // Mapping it again gives the same keys: a reload merges onto the same rows.
    expect(mapper(voidOf("User Mistake"), lsCtx)).toEqual(mistake)
  })

  it("a refunded line with a spoilage reason is not restocked: a 0-unit movement keeps it on record", () => {
    const refundOf = (accountReason: string | null, lineReason: string | null) =>
      decodeSale({
        ...refundV2,
        voidReason: accountReason,
        salesLines: [
          { ...saleLine("S65315.144", "-1.000", "-550.00", "-40.740741", "1.08"), voidReason: lineReason },
          {
            ...saleLine("S65315.145", "-2.000", "-1320.00", "-120.000000", "1.1", "SAKE-1"),
            voidReason: null
          }
        ]
      })
    const broken = mapper(refundOf(null, "Broken"), lsCtx)
    expect(
      broken.inventory_movements?.map((m) => [m.source_id, m.kind, m.quantity, m.reason, m.reference_type])
    ).toEqual([
      ["refund_restock:REFUND-REF:S65315.144", "refund_restock", 0, "Broken", "refund"],
      ["refund_restock:REFUND-REF:S65315.145", "refund_restock", 2, null, "refund"]
    ])
    expect(broken.refund_lines?.map((l) => l.restock)).toEqual([false, true])
    // The account's reason applies to lines without one of their own; a line's own reason wins.
    expect(mapper(refundOf("Taste", null), lsCtx).inventory_movements?.map((m) => m.quantity)).toEqual([0, 0])
    expect(
      mapper(refundOf("Taste", "User Mistake"), lsCtx).inventory_movements?.map((m) => m.quantity)
    ).toEqual([1, 0])
    expect(mapper(refundOf(null, "Other"), lsCtx).inventory_movements?.map((m) => m.quantity)).toEqual([1, 2])
  })

  it("maps a catalogue item to a product, a variant and its sku_map link", () => {
    const rows = mapLightspeedItem(
      { id: "9001", name: "Matcha latte", sku: " mat-30 ", costPrice: null },
      lsCtx
    )
    expect(rows.sku_map?.[0]).toMatchObject({ variant_id: "9001", sku: "MAT-30", match_method: "sku" })
  })
})

const stCtx: MapContext = {
  ...lsCtx,
  source: "stocky",
  sourceAccount: "kura-test.myshopify.com",
  batchId: "b-st"
}

const decode = <S extends Schema.Top & { readonly DecodingServices: never }>(
  schema: S,
  input: unknown
): S["Type"] => Effect.runSync(Schema.decodeUnknownEffect(schema)(input))

const catalog = inventoryCatalogOf([
  {
    source: "shopify",
    source_account: "kura-test.myshopify.com",
    source_id: "44",
    updated_at: "2026-01-01T00:00:00Z",
    _synced_at: "2026-01-01T00:00:00Z",
    _batch_id: "b",
    _deleted_at: null,
    product_id: "9",
    sku: "MAT-30",
    barcode: null,
    title: "30g",
    inventory_item_id: "900",
    currency: "JPY",
    price: "1100",
    cost: null
  } satisfies CanonicalRow<"variants">
])

describe("Stocky mappers", () => {
  it("purchase orders: string ids, custom numbers, blank SKUs from the catalog, receipts only when received", () => {
    const po = decode(PurchaseOrder, {
      id: 1000,
      number: "1000A",
      created_at: "2026-02-01T00:00:00Z",
      updated_at: "2026-02-05T00:00:00Z",
      ordered_at: "2026-02-01T01:00:00Z",
      expected_on: "2026-02-04",
      archived: false,
      paid: false,
      supplier_id: "1",
      currency: "JPY",
      shopify_receive_location_id: 61234567890,
      shipping: "1200",
      adjustments: null,
      purchase_items: [
        {
          id: 1,
          sku: "",
          inventory_item_id: 900,
          quantity: 10,
          cost_price: "400.125",
          received_at: "2026-02-04T03:00:00Z",
          updated_at: "04/02/2026 12:00"
        },
        {
          id: 2,
          sku: "SAKE-1",
          inventory_item_id: null,
          quantity: 5,
          cost_price: "1000",
          received_at: null,
          updated_at: null
        }
      ]
    })
    const rows = makeStockyPurchaseOrderMapper(catalog)(po, stCtx)
    expect(rows.purchase_orders?.[0]).toMatchObject({
      source_id: "1000",
      number: "1000A",
      supplier_id: "1",
      location_id: "61234567890",
      status: "partially_received",
      // 1200 shipping + 10 × 400.125 + 5 × 1000: exact.
      total: "10201.250",
      expected_at: "2026-02-04T00:00:00.000Z",
      received_at: null
    })
    expect(
      rows.purchase_order_lines?.map((l) => [
        l.sku,
        l.variant_id,
        l.quantity_ordered,
        l.quantity_received,
        l.unit_cost
      ])
    ).toEqual([
      ["MAT-30", "44", 10, 10, "400.125"],
      ["SAKE-1", null, 5, 0, "1000"]
    ])
    expect(
      rows.inventory_movements?.map((m) => [m.kind, m.sku, m.location_id, m.quantity, m.occurred_at])
    ).toEqual([["receipt", "MAT-30", "61234567890", 10, "2026-02-04T03:00:00.000Z"]])
  })

  it("adjustments: joined items become signed movements; stocktakes are count corrections; unperformed items move nothing", () => {
    const header = (id: number, reason: string, adjustedAt: string | null) =>
      decode(StockAdjustment, {
        id,
        adjusted_at: adjustedAt,
        created_at: "2026-02-01T00:00:00Z",
        updated_at: "2026-02-01T00:00:00Z",
        archived: false,
        stock_adjustment_reason: { id: 1, reason },
        location: { id: 2, shopify_id: "61234567890" }
      })
    const item = (id: number, adjustment: number, quantity: number, adjustedAt: string | null) =>
      decode(StockAdjustmentItem, {
        id,
        stock_adjustment_id: adjustment,
        quantity,
        adjusted_at: adjustedAt,
        variant: { id: 5, shopify_id: 44, title: "30g", sku: "MAT-30", barcode: null }
      })
    const { joined, orphans } = joinStockyAdjustments(
      [header(1, "damaged", "2026-02-02T00:00:00Z"), header(2, "stocktake", null)],
      [
        item(10, 1, -2, null),
        item(11, 2, 3, "2026-02-03T00:00:00Z"),
        item(12, 2, 1, null),
        item(13, 99, 1, null)
      ]
    )
    expect(orphans.map((o) => o.id)).toEqual([13])
    const moves = joined.flatMap((j) => mapStockyAdjustment(j, stCtx).inventory_movements ?? [])
    expect(
      moves.map((m) => [m.source_id, m.kind, m.quantity, m.variant_id, m.location_id, m.reason])
    ).toEqual([
      ["adjustment:10", "adjustment", -2, "44", "61234567890", "damaged"],
      ["adjustment:11", "count_correction", 3, "44", "61234567890", "stocktake"]
    ])
  })

  it("transfers: out when sent, in only when received, SKU from the catalog", () => {
    const t = decode(StockTransfer, {
      id: 7,
      from_location_id: 1,
      to_location_id: 2,
      created_at: "2026-02-01T00:00:00Z",
      updated_at: "2026-02-01T02:00:00Z",
      sent_at: "2026-02-01T01:00:00Z",
      received_at: null,
      archived: false,
      stock_transfer_items: [{ id: 70, inventory_item_id: 900, quantity: 4 }]
    })
    const moves = makeStockyTransferMapper(catalog)(t, stCtx).inventory_movements ?? []
    expect(moves.map((m) => [m.kind, m.location_id, m.quantity, m.sku])).toEqual([
      ["transfer_out", "1", -4, "MAT-30"]
    ])
  })
})
