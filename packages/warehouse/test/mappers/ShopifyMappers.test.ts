/**
 * Focused tests of the Shopify mappers on records decoded by the client's own schemas: exact
 * money, presentment amounts, refunds and restocks, business dates in the shop's zone, and
 * deletions that become `_deleted_at` in a real DuckDB warehouse.
 */
import { InventoryItem, Order, ShopifyEvent } from "@kura/shopify-client"
import { Effect, Schema } from "effect"
import { describe, expect, it } from "vitest"
import * as DuckDbWarehouse from "../../src/DuckDbWarehouse.js"
import type { MapContext } from "../../src/Mapper.js"
import {
  inventoryCatalogOf,
  makeShopifyInventoryLevelWebhookMapper,
  makeShopifyOrderMapper,
  makeShopifyRefundWebhookMapper,
  makeShopifyRestOrderMapper,
  mapShopifyInventoryItem,
  mapShopifyOrder,
  RestOrder,
  RestRefundPayload,
  shopifyEventDeletion,
  shopifyOrderDeletedWebhook
} from "../../src/mappers/index.js"
import { Warehouse } from "../../src/Warehouse.js"

const ctx: MapContext = {
  source: "shopify",
  sourceAccount: "kura-test.myshopify.com",
  syncedAt: "2026-03-05T00:00:00.000Z",
  batchId: "batch-1",
  timeZoneOf: () => "Asia/Tokyo"
}

const bag = (shop: string, pres: string, shopCur = "JPY", presCur = "USD") => ({
  shopMoney: { amount: shop, currencyCode: shopCur },
  presentmentMoney: { amount: pres, currencyCode: presCur }
})
const tax = (title: string, rate: number, shop: string, pres: string) => ({
  title,
  rate,
  ratePercentage: rate * 100,
  channelLiable: false,
  priceSet: bag(shop, pres)
})
const txn = (id: number, kind: string, amount: string, pres: string) => ({
  id: `gid://shopify/OrderTransaction/${id}`,
  kind,
  status: "SUCCESS",
  gateway: "shopify_payments",
  test: false,
  createdAt: "2026-03-01T15:30:00Z",
  processedAt: "2026-03-01T15:30:00Z",
  parentTransaction: null,
  amountSet: bag(amount, pres)
})

const line = (
  id: number,
  variant: number,
  qty: number,
  unit: string,
  total: string,
  taxes: Array<unknown>
) => ({
  id: `gid://shopify/LineItem/${id}`,
  name: "Matcha 30g",
  title: "Matcha",
  variantTitle: "30g",
  sku: `SKU-${variant}`,
  vendor: "Uji",
  quantity: qty,
  currentQuantity: qty,
  refundableQuantity: qty,
  taxable: true,
  requiresShipping: true,
  isGiftCard: false,
  variant: { id: `gid://shopify/ProductVariant/${variant}` },
  product: { id: "gid://shopify/Product/9" },
  originalUnitPriceSet: bag(unit, "7.37"),
  discountedTotalSet: bag(total, "22.11"),
  totalDiscountSet: bag("0", "0"),
  taxLines: taxes,
  discountAllocations: []
})

/** An order of 3 × 1100 JPY (8% reduced tax), paid in USD, partly refunded and restocked. */
const orderJson = {
  id: "gid://shopify/Order/5001",
  legacyResourceId: "5001",
  name: "#1001",
  // 15:30 UTC is 00:30 the next day in Tokyo: the shop's business date is 2026-03-02.
  createdAt: "2026-03-01T15:30:00Z",
  updatedAt: "2026-03-04T10:00:00Z",
  processedAt: "2026-03-01T15:30:00Z",
  cancelledAt: null,
  cancelReason: null,
  closedAt: null,
  closed: false,
  test: false,
  currencyCode: "JPY",
  presentmentCurrencyCode: "USD",
  displayFinancialStatus: "PARTIALLY_REFUNDED",
  displayFulfillmentStatus: "FULFILLED",
  sourceName: "web",
  tags: [],
  discountCodes: [],
  customer: { id: "gid://shopify/Customer/77", legacyResourceId: "77" },
  subtotalPriceSet: bag("3300", "22.11"),
  totalPriceSet: bag("3300", "22.11"),
  totalTaxSet: bag("244", "1.64"),
  totalDiscountsSet: bag("0", "0"),
  totalShippingPriceSet: bag("0", "0"),
  totalRefundedSet: bag("1100", "7.37"),
  currentSubtotalPriceSet: bag("2200", "14.74"),
  currentTotalPriceSet: bag("2200", "14.74"),
  currentTotalTaxSet: bag("163", "1.09"),
  currentTotalDiscountsSet: bag("0", "0"),
  taxLines: [tax("JCT 8%", 0.08, "244", "1.64")],
  transactions: [txn(1, "SALE", "3300", "22.11"), txn(2, "REFUND", "1100", "7.37")],
  refunds: [
    {
      id: "gid://shopify/Refund/601",
      legacyResourceId: "601",
      createdAt: "2026-03-03T16:00:00Z",
      updatedAt: "2026-03-03T16:00:00Z",
      processedAt: "2026-03-03T16:00:00Z",
      note: "damaged box",
      totalRefundedSet: bag("1100", "7.37"),
      refundLineItems: [
        {
          id: "gid://shopify/RefundLineItem/701",
          quantity: 1,
          restockType: "RETURN",
          restocked: true,
          lineItem: { id: "gid://shopify/LineItem/11" },
          location: { id: "gid://shopify/Location/3" },
          subtotalSet: bag("1100", "7.37"),
          totalTaxSet: bag("81.48", "0.55")
        },
        {
          id: "gid://shopify/RefundLineItem/702",
          quantity: 1,
          restockType: "NO_RESTOCK",
          restocked: false,
          lineItem: { id: "gid://shopify/LineItem/11" },
          location: null,
          subtotalSet: bag("0", "0"),
          totalTaxSet: bag("0", "0")
        }
      ],
      // The same refund transaction the order lists: it must be kept once.
      transactions: [txn(2, "REFUND", "1100", "7.37")]
    }
  ],
  lineItems: [
    line(11, 44, 3, "1100", "3300", [
      tax("JCT 8%", 0.08, "81.481481481", "0.546"),
      tax("JCT 8%", 0.08, "162.518518519", "1.094")
    ])
  ],
  shippingLines: []
}

const order = Schema.decodeUnknownSync(Order)(orderJson)

describe("Shopify order mapper", () => {
  it("keeps money exact in shop and presentment currency", () => {
    const rows = mapShopifyOrder(order, ctx)
    const o = rows.orders?.[0]
    expect(o).toMatchObject({
      source: "shopify",
      source_account: "kura-test.myshopify.com",
      source_id: "5001",
      channel: "online",
      currency: "JPY",
      total: "3300",
      tax: "244",
      refunded: "1100",
      presentment_currency: "USD",
      total_presentment: "22.11",
      tax_presentment: "1.64",
      refunded_presentment: "7.37",
      customer_id: "77",
      business_date: "2026-03-02",
      created_at: "2026-03-01T15:30:00.000Z",
      _deleted_at: null
    })
    // 81.481481481 + 162.518518519 = 244 exactly: no float ever touched the sum.
    expect(rows.order_lines?.[0]?.tax).toBe("244.000000000")
    expect(rows.order_lines?.[0]).toMatchObject({
      variant_id: "44",
      product_id: "9",
      quantity: 3,
      unit_price_presentment: "7.37"
    })
    expect(rows.tax_lines?.filter((t) => t.parent_type === "line").map((t) => [t.rate, t.amount])).toEqual([
      ["0.08", "81.481481481"],
      ["0.08", "162.518518519"]
    ])
  })

  it("maps refunds on their own business date, restocks only restocked lines, and keeps each payment once", () => {
    const rows = makeShopifyOrderMapper({ locationOf: () => "1" })(order, ctx)
    expect(rows.refunds).toHaveLength(1)
    // 16:00 UTC on the 3rd is 01:00 on the 4th in Tokyo.
    expect(rows.refunds?.[0]).toMatchObject({
      source_id: "601",
      order_id: "5001",
      amount: "1100",
      business_date: "2026-03-04",
      note: "damaged box"
    })
    expect(rows.refund_lines?.map((r) => [r.source_id, r.restock, r.location_id, r.sku])).toEqual([
      ["701", true, "3", "SKU-44"],
      ["702", false, "1", "SKU-44"]
    ])
    expect(rows.payments?.map((p) => [p.source_id, p.kind, p.amount, p.amount_presentment])).toEqual([
      ["1", "sale", "3300", "22.11"],
      ["2", "refund", "1100", "7.37"]
    ])
    expect(
      rows.inventory_movements?.map((m) => [m.kind, m.location_id, m.sku, m.quantity, m.occurred_at])
    ).toEqual([
      ["sale", "1", "SKU-44", -3, "2026-03-01T15:30:00.000Z"],
      ["refund_restock", "3", "SKU-44", 1, "2026-03-03T16:00:00.000Z"]
    ])
  })

  it("produces no sale movements without a known location (the Order carries none)", () => {
    const rows = mapShopifyOrder(order, ctx)
    expect(rows.inventory_movements?.map((m) => m.kind)).toEqual(["refund_restock"])
  })
})

describe("Shopify REST / webhook forms", () => {
  const money = (shop: string, pres: string) => ({
    shop_money: { amount: shop, currency_code: "JPY" },
    presentment_money: { amount: pres, currency_code: "USD" }
  })
  const refund = {
    id: 601,
    order_id: 5001,
    created_at: "2026-03-04T01:00:00+09:00",
    processed_at: "2026-03-04T01:00:00+09:00",
    note: "damaged box",
    refund_line_items: [
      {
        id: 701,
        line_item_id: 11,
        quantity: 1,
        restock_type: "return",
        location_id: 3,
        // REST sends these as JSON numbers.
        subtotal: 1100,
        subtotal_set: money("1100.00", "7.37"),
        total_tax: 81.48,
        total_tax_set: money("81.48", "0.55"),
        line_item: { id: 11, sku: "SKU-44", variant_id: 44 }
      }
    ],
    transactions: [
      {
        id: 2,
        kind: "refund",
        status: "success",
        gateway: "shopify_payments",
        amount: "1100.00",
        currency: "JPY"
      }
    ]
  }
  const restOrder = Schema.decodeUnknownSync(RestOrder)({
    id: 5001,
    name: "#1001",
    created_at: "2026-03-02T00:30:00+09:00",
    updated_at: "2026-03-04T19:00:00+09:00",
    processed_at: "2026-03-02T00:30:00+09:00",
    cancelled_at: null,
    currency: "JPY",
    presentment_currency: "USD",
    financial_status: "partially_refunded",
    total_price_set: money("3300.00", "22.11"),
    total_tax_set: money("244.00", "1.64"),
    line_items: [
      {
        id: 11,
        variant_id: 44,
        product_id: 9,
        sku: "SKU-44",
        title: "Matcha",
        variant_title: "30g",
        quantity: 3,
        price_set: money("1100.00", "7.37"),
        total_discount_set: money("0.00", "0.00"),
        tax_lines: [{ title: "JCT 8%", rate: 0.08, price: "244.00", price_set: money("244.00", "1.64") }]
      }
    ],
    refunds: [refund]
  })

  it("REST fulfillment statuses land in GraphQL's vocabulary: null is UNFULFILLED, partial PARTIALLY_FULFILLED", () => {
    const status = (fulfillment_status: string | null | undefined) =>
      makeShopifyRestOrderMapper({ locationOf: () => "1" })(
        fulfillment_status === undefined ? restOrder : { ...restOrder, fulfillment_status },
        ctx
      ).orders?.[0]?.fulfillment_status
    expect([
      status(null),
      status("partial"),
      status("fulfilled"),
      status("restocked"),
      status(undefined)
    ]).toEqual(["UNFULFILLED", "PARTIALLY_FULFILLED", "FULFILLED", "RESTOCKED", null])
  })

  it("maps the REST order like the GraphQL one: same ids, business dates, exact amounts", () => {
    const rows = makeShopifyRestOrderMapper({ locationOf: () => "1" })(restOrder, ctx)
    const graphql = makeShopifyOrderMapper({ locationOf: () => "1" })(order, ctx)
    expect(rows.orders?.[0]).toMatchObject({
      source_id: "5001",
      business_date: "2026-03-02",
      total: "3300.00",
      refunded: "1100.00",
      financial_status: "PARTIALLY_REFUNDED"
    })
    expect(rows.refunds?.[0]).toMatchObject({
      source_id: "601",
      business_date: "2026-03-04",
      amount: "1100.00"
    })
    expect(rows.inventory_movements?.map((m) => m.source_id)).toEqual(
      graphql.inventory_movements?.map((m) => m.source_id)
    )
  })

  it("maps a refunds/create webhook to the same refund rows as the order carrying it", () => {
    const fromOrder = makeShopifyRestOrderMapper()(restOrder, ctx)
    const fromWebhook = makeShopifyRefundWebhookMapper({ currency: "JPY" })(
      Schema.decodeUnknownSync(RestRefundPayload)(refund),
      ctx
    )
    for (const table of ["refunds", "refund_lines", "tax_lines", "inventory_movements"] as const) {
      const refundRows = (fromOrder[table] ?? []).filter(
        (r) => !("parent_type" in r) || r.parent_type === "refund_line"
      )
      expect(fromWebhook[table], table).toEqual(refundRows)
    }
    expect(
      fromWebhook.inventory_movements?.map((m) => [m.kind, m.sku, m.variant_id, m.location_id, m.quantity])
    ).toEqual([["refund_restock", "SKU-44", "44", "3", 1]])
  })
})

describe("Shopify inventory levels", () => {
  it("maps every named quantity of every level, observed at sync time", () => {
    const item = Schema.decodeUnknownSync(InventoryItem)({
      id: "gid://shopify/InventoryItem/900",
      legacyResourceId: "900",
      sku: "SKU-44",
      tracked: true,
      requiresShipping: true,
      createdAt: "2026-01-01T00:00:00Z",
      updatedAt: "2026-03-01T00:00:00Z",
      unitCost: { amount: "400.5", currencyCode: "JPY" },
      variant: { id: "gid://shopify/ProductVariant/44" },
      inventoryLevels: [
        {
          id: "gid://shopify/InventoryLevel/1?inventory_item_id=900",
          createdAt: "2026-01-01T00:00:00Z",
          updatedAt: "2026-03-01T00:00:00Z",
          location: { id: "gid://shopify/Location/3" },
          quantities: [
            { name: "available", quantity: 7, updatedAt: "2026-03-02T00:00:00Z" },
            { name: "on_hand", quantity: 9, updatedAt: null }
          ]
        }
      ]
    })
    const rows = mapShopifyInventoryItem(item, ctx).inventory_levels ?? []
    expect(
      rows.map((r) => [
        r.source_id,
        r.location_id,
        r.quantity_name,
        r.quantity,
        r.variant_id,
        r.updated_at,
        r.observed_at
      ])
    ).toEqual([
      ["900:3:available", "3", "available", 7, "44", "2026-03-02T00:00:00.000Z", ctx.syncedAt],
      ["900:3:on_hand", "3", "on_hand", 9, "44", "2026-03-01T00:00:00.000Z", ctx.syncedAt]
    ])
  })
})

describe("Shopify inventory_levels/update webhook", () => {
  it("upserts the same row as the snapshot's available quantity, with the variant from the catalog", () => {
    const catalog = inventoryCatalogOf([
      {
        source: "shopify",
        source_account: ctx.sourceAccount,
        source_id: "44",
        updated_at: "2026-01-01T00:00:00Z",
        _synced_at: ctx.syncedAt,
        _batch_id: "b",
        _deleted_at: null,
        product_id: "9",
        sku: "SKU-44",
        barcode: null,
        title: "30g",
        inventory_item_id: "900",
        currency: "JPY",
        price: "1100",
        cost: null
      }
    ])
    const map = makeShopifyInventoryLevelWebhookMapper(catalog)
    const rows = map(
      { inventory_item_id: 900, location_id: 3, available: 5, updated_at: "2026-03-03T09:00:00+09:00" },
      ctx
    )
    expect(rows.inventory_levels?.[0]).toMatchObject({
      source_id: "900:3:available",
      variant_id: "44",
      sku: "SKU-44",
      quantity: 5,
      updated_at: "2026-03-03T00:00:00.000Z"
    })
    expect(
      map(
        { inventory_item_id: 900, location_id: 3, available: null, updated_at: "2026-03-03T00:00:00Z" },
        ctx
      )
    ).toEqual({})
  })
})

describe("Shopify deletions", () => {
  it("destroy events and orders/delete webhooks become soft deletes in the warehouse", async () => {
    const event = Schema.decodeUnknownSync(ShopifyEvent)({
      __typename: "BasicEvent",
      id: "gid://shopify/BasicEvent/1",
      action: "destroy",
      createdAt: "2026-03-06T00:00:00Z",
      message: "Order #1001 was deleted.",
      subjectId: "gid://shopify/Order/5001",
      subjectType: "ORDER"
    })
    const deletions = shopifyEventDeletion(event, ctx)
    expect(deletions).toEqual([
      {
        table: "orders",
        key: { source: "shopify", source_account: ctx.sourceAccount, source_id: "5001" },
        deletedAt: "2026-03-06T00:00:00.000Z"
      }
    ])
    const notDeletion = shopifyEventDeletion({ ...event, action: "update" }, ctx)
    expect(notDeletion).toEqual([])
    expect(shopifyOrderDeletedWebhook({ id: 5002 }, { triggeredAt: null }, ctx)[0]?.deletedAt).toBe(
      ctx.syncedAt
    )

    const rows = mapShopifyOrder(order, ctx)
    const result = await Effect.runPromise(
      Effect.gen(function* () {
        const w = yield* Warehouse
        yield* w.load("orders", rows.orders ?? [])
        for (const d of deletions) yield* w.markDeleted(d.table, [d.key], d.deletedAt)
        return yield* w.query("SELECT source_id, CAST(_deleted_at AS VARCHAR) AS deleted, total FROM orders")
      }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
    )
    expect(result).toHaveLength(1)
    expect(String(result[0]?.deleted)).toMatch(/^2026-03-06 00:00:00/)
    // Soft delete: the row and its money are still there.
    expect(Number(result[0]?.total)).toBe(3300)
  })
})
