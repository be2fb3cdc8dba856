/**
 * `Warehouse.shopifySalesByDay` on both dialects: Shopify's sales report rebuilt from the
 * canonical tables, each event on its own day in the shop's zone (Tokyo here, so an order at
 * 23:30 and one at 00:30 local fall on different days though both are the same UTC day).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { bigQueryDialect, DuckDbWarehouse, shopifySalesByDaySql, Warehouse } from "../src/index.js"
import { assertBigQuery } from "./bigQueryGrammar.js"
import { withBigQuery } from "./withBigQuery.js"

const SHOP = "shop.myshopify.com"
const lineage = (id: string, account = SHOP, source = "shopify") => ({
  source,
  source_account: account,
  source_id: id,
  updated_at: "2026-03-06T00:00:00Z",
  _synced_at: "2026-03-06T00:00:00Z",
  _batch_id: "b",
  _deleted_at: null
})
const order = (
  id: string,
  total: string,
  processedAt: string | null,
  extra: { cancelledAt?: string; account?: string; source?: string; createdAt?: string } = {}
) => ({
  ...lineage(id, extra.account, extra.source),
  channel: extra.source === "lightspeed" ? "pos" : "online",
  currency: "JPY",
  total,
  created_at: extra.createdAt ?? processedAt ?? "2026-03-01T00:00:00Z",
  processed_at: processedAt,
  business_date: "2026-03-01",
  cancelled_at: extra.cancelledAt ?? null
})
const refund = (id: string, orderId: string, amount: string, at: string) => ({
  ...lineage(id),
  order_id: orderId,
  channel: "online",
  currency: "JPY",
  amount,
  created_at: at,
  processed_at: at,
  business_date: at.slice(0, 10)
})

const scenario = Effect.gen(function* () {
  const w = yield* Warehouse
  yield* w.migrate
  yield* w.load("orders", [
    order("A", "1000", "2026-03-01T14:30:00Z"), // 23:30 in Tokyo: 03-01
    order("B", "2000", "2026-03-01T15:30:00Z"), // 00:30 in Tokyo: 03-02
    order("C", "3000", "2026-03-02T02:00:00Z", { cancelledAt: "2026-03-04T03:00:00Z" }), // never refunded
    order("D", "800", "2026-03-02T03:00:00Z", { cancelledAt: "2026-03-04T03:00:00Z" }), // refunded in full
    order("E", "9999", "2026-03-01T03:00:00Z"), // deleted below: out, with its refund
    order("F", "5000", "2026-03-01T03:00:00Z", { account: "other.myshopify.com" }),
    order("P", "7000", "2026-03-01T03:00:00Z", { source: "lightspeed", account: "default" }),
    order("G", "700", null, { createdAt: "2026-03-05T00:00:00Z" }) // no processed_at: created_at
  ])
  yield* w.load("refunds", [
    refund("rB", "B", "500", "2026-03-03T01:00:00Z"),
    refund("rD", "D", "800", "2026-03-04T02:00:00Z"),
    refund("rE", "E", "100", "2026-03-03T01:00:00Z")
  ])
  yield* w.markDeleted(
    "orders",
    [{ source: "shopify", source_account: SHOP, source_id: "E" }],
    "2026-03-05T00:00:00Z"
  )
  const all = yield* w.shopifySalesByDay({
    account: SHOP,
    zone: "Asia/Tokyo",
    since: "2026-02-01",
    until: "2026-03-31"
  })
  const some = yield* w.shopifySalesByDay({
    account: SHOP,
    zone: "Asia/Tokyo",
    since: "2026-03-02",
    until: "2026-03-04"
  })
  const utc = yield* w.shopifySalesByDay({
    account: SHOP,
    zone: "UTC",
    since: "2026-03-01",
    until: "2026-03-01"
  })
  return { all, some, utc }
})

const check = ({ all, some, utc }: Effect.Success<typeof scenario>) => {
  const rows = all.map((d) => [d.day, d.orders, d.sales, d.refunds, d.cancellations, d.totalSales])
  assert.deepStrictEqual(rows, [
    ["2026-03-01", 1, "1000", "0", "0", "1000"],
    ["2026-03-02", 3, "5800", "0", "0", "5800"],
    ["2026-03-03", 0, "0", "500", "0", "-500"],
    // D's cancellation reverses nothing more: its refund already did.
    ["2026-03-04", 0, "0", "800", "3000", "-3800"],
    ["2026-03-05", 1, "700", "0", "0", "700"]
  ])
  assert.deepStrictEqual(
    some.map((d) => d.day),
    ["2026-03-02", "2026-03-03", "2026-03-04"]
  )
  // In UTC, A and B are both on 03-01.
  assert.deepStrictEqual(
    utc.map((d) => [d.day, d.orders, d.totalSales]),
    [["2026-03-01", 2, "3000"]]
  )
}

describe("Warehouse.shopifySalesByDay", () => {
  it.effect("DuckDB", () => scenario.pipe(Effect.map(check), Effect.provide(DuckDbWarehouse.layerMemory)))
  it.live("BigQuery (fake)", () => withBigQuery(() => scenario).pipe(Effect.map(check)), 180_000)
  it("its BigQuery SQL passes the BigQuery grammar", () => {
    assertBigQuery(shopifySalesByDaySql(bigQueryDialect("demo-proj", "kura")))
  })
})
