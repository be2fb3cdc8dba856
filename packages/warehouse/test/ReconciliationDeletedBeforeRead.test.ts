/**
 * `v_deleted_before_read` on both dialects: the evidence is what `_kura_raw` already keeps (the
 * deletions stream's events and `orders/delete` webhooks); an order Kura holds, live or soft
 * deleted, is not listed, nor is an event that is not an order's deletion. And a shortfall in a
 * window with such a deletion is labelled, an excess or a shortfall in another window is not.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { DuckDbWarehouse, type LoadRow, Warehouse } from "../src/index.js"
import { withBigQuery } from "./withBigQuery.js"

const SHOP = "shop.myshopify.com"
const raw = (stream: string, id: string, payload: unknown, fetchedAt = "2026-03-02T10:00:00Z"): LoadRow => ({
  source: "shopify",
  source_account: SHOP,
  stream,
  source_id: id,
  updated_at: null,
  payload: JSON.stringify(payload),
  fetched_at: fetchedAt,
  _batch_id: "b-raw",
  lake_path: null
})
const event = (n: number, action: string, subjectType: string, subject: string, at: string) =>
  raw("deletions", `gid://shopify/BasicEvent/${n}`, {
    id: `gid://shopify/BasicEvent/${n}`,
    action,
    createdAt: at,
    message: "was deleted.",
    subjectType,
    subjectId: `gid://shopify/${subject}`
  })
const lineage = (id: string, updatedAt: string) => ({
  source: "shopify",
  source_account: SHOP,
  source_id: id,
  updated_at: updatedAt,
  _synced_at: updatedAt,
  _batch_id: "b",
  _deleted_at: null
})
const order = (id: string) => ({
  ...lineage(id, "2026-03-01T09:00:00Z"),
  channel: "online",
  currency: "JPY",
  total: "1000",
  created_at: "2026-03-01T09:00:00Z",
  business_date: "2026-03-01"
})
const level = (quantity: number, observedAt: string) => ({
  ...lineage(`iv:${observedAt}`, observedAt),
  variant_id: "v1",
  sku: "SKU-1",
  location_id: "L1",
  quantity_name: "on_hand",
  quantity,
  observed_at: observedAt,
  snapshot_date: observedAt.slice(0, 10)
})

const scenario = Effect.gen(function* () {
  const w = yield* Warehouse
  yield* w.migrate
  yield* w.load("orders", [order("2"), order("3")])
  yield* w.markDeleted(
    "orders",
    [{ source: "shopify", source_account: SHOP, source_id: "3" }],
    "2026-03-02T08:00:00Z"
  )
  yield* w.load("_kura_raw", [
    event(1, "destroy", "ORDER", "Order/1", "2026-03-02T08:00:00Z"), // never held: listed
    event(2, "destroy", "ORDER", "Order/2", "2026-03-02T08:10:00Z"), // held (live)
    event(3, "destroy", "ORDER", "Order/3", "2026-03-02T08:00:00Z"), // held (soft-deleted)
    event(4, "update", "ORDER", "Order/4", "2026-03-02T08:20:00Z"), // not a deletion
    event(5, "destroy", "PRODUCT", "Product/5", "2026-03-02T08:30:00Z"), // not an order
    raw("webhook.orders_delete", "wh-6", { id: 6 }, "2026-03-04T09:00:00Z") // never held: listed
  ])
  // One SKU-location over four days: a shortfall in the window of order 1's deletion (day 2),
  // an excess in the window of the webhook's (day 4), and a shortfall in a quiet window (day 3).
  yield* w.load("inventory_levels", [
    level(10, "2026-03-01T12:00:00Z"),
    level(8, "2026-03-02T12:00:00Z"),
    level(7, "2026-03-03T12:00:00Z"),
    level(9, "2026-03-04T12:00:00Z")
  ])
  const listed = yield* w.query(
    `SELECT source_id, evidence, CAST(deleted_at AS ${w.dialect.type("string")}) AS deleted_at FROM ${w.dialect.table("v_deleted_before_read")} ORDER BY source_id`
  )
  return { listed, report: yield* w.reconcile }
})

const check = (result: Effect.Success<typeof scenario>) => {
  const { listed, report } = result
  assert.deepStrictEqual(
    listed.map((r) => [String(r.source_id), String(r.evidence)]),
    [
      ["1", "event"],
      ["6", "webhook"]
    ]
  )
  assert.match(String(listed[0]?.deleted_at), /^2026-03-02[ T]08:00:00/)
  const byDay = new Map(report.inventoryDiscrepancies.map((r) => [r.snapshotDate, r]))
  assert.deepStrictEqual([...byDay.keys()].sort(), ["2026-03-02", "2026-03-03", "2026-03-04"])
  assert.match(byDay.get("2026-03-02")?.likelyCause ?? "", /^deleted_before_read: /)
  assert.strictEqual(byDay.get("2026-03-02")?.deletedBeforeRead, 1)
  assert.match(byDay.get("2026-03-03")?.likelyCause ?? "", /^unrecorded_outflow: /)
  assert.strictEqual(byDay.get("2026-03-03")?.deletedBeforeRead, 0)
  // An excess is never a deleted order's: its own cause, though a deletion falls in its window.
  assert.match(byDay.get("2026-03-04")?.likelyCause ?? "", /^unrecorded_inflow: /)
  assert.strictEqual(byDay.get("2026-03-04")?.deletedBeforeRead, 1)
  assert.deepStrictEqual(
    report.inventoryDeletedBeforeRead.map((r) => r.snapshotDate),
    ["2026-03-02"]
  )
  assert.deepStrictEqual(
    report.inventoryUnexplained.map((r) => r.snapshotDate),
    ["2026-03-03", "2026-03-04"]
  )
}

describe("v_deleted_before_read and the deleted_before_read label", () => {
  it.effect("DuckDB", () => scenario.pipe(Effect.map(check), Effect.provide(DuckDbWarehouse.layerMemory)))
  it.live("BigQuery (fake)", () => withBigQuery(() => scenario).pipe(Effect.map(check)), 180_000)
})
