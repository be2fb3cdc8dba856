/** REST-shaped Shopify webhook bodies, as Shopify sends them (snake_case, money as strings). */
const set = (amount: string) => ({
  shop_money: { amount, currency_code: "JPY" },
  presentment_money: { amount, currency_code: "JPY" }
})

/** An `orders/create` / `orders/updated` body. */
export const restOrder = (
  id: number | string,
  updatedAt: string,
  options: { total?: string; lineId?: number } = {}
) => {
  const total = options.total ?? "2200"
  return {
    id,
    name: `#${id}`,
    created_at: "2026-11-26T01:00:00Z",
    updated_at: updatedAt,
    processed_at: "2026-11-26T01:00:00Z",
    cancelled_at: null,
    closed_at: null,
    currency: "JPY",
    presentment_currency: "JPY",
    financial_status: "paid",
    fulfillment_status: null,
    source_name: "web",
    customer: { id: 77 },
    subtotal_price_set: set(total),
    total_price_set: set(total),
    total_tax_set: set("200"),
    total_discounts_set: set("0"),
    total_shipping_price_set: set("0"),
    line_items: [
      {
        id: options.lineId ?? Number(id) * 10 + 1,
        variant_id: 501,
        product_id: 50,
        sku: "MATCHA-30G",
        title: "Matcha",
        variant_title: "30g",
        quantity: 2,
        price_set: set("1100"),
        total_discount_set: set("0"),
        tax_lines: [{ title: "JCT", rate: 0.1, price: "200", price_set: set("200") }]
      }
    ],
    shipping_lines: [],
    refunds: []
  }
}

/** A `refunds/create` body for one line of `restOrder(orderId)`. */
export const restRefund = (refundId: number, orderId: number) => ({
  id: refundId,
  order_id: orderId,
  created_at: "2026-11-26T05:00:00Z",
  processed_at: "2026-11-26T05:00:00Z",
  note: "damaged",
  refund_line_items: [
    {
      id: refundId * 10,
      line_item_id: orderId * 10 + 1,
      quantity: 1,
      restock_type: "return",
      location_id: 9001,
      subtotal: "1100",
      subtotal_set: set("1100"),
      total_tax: "100",
      total_tax_set: set("100"),
      line_item: { id: orderId * 10 + 1, sku: "MATCHA-30G", variant_id: 501 }
    }
  ],
  transactions: [
    {
      id: refundId * 100,
      kind: "refund",
      status: "success",
      gateway: "manual",
      amount: "1200",
      currency: "JPY"
    }
  ]
})

/** An `inventory_levels/update` body. */
export const inventoryLevel = (itemId: number, locationId: number, available: number, updatedAt: string) => ({
  inventory_item_id: itemId,
  location_id: locationId,
  available,
  updated_at: updatedAt,
  admin_graphql_api_id: `gid://shopify/InventoryLevel/${itemId}?inventory_item_id=${itemId}`
})
