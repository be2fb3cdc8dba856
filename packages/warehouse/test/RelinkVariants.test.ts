/**
 * `relinkVariants`: lines that named only an inventory item and loaded before its variant (its
 * product dead-lettered, then replayed) are linked once the variant is in the warehouse, on
 * DuckDB and on BigQuery (the fake server checks the statement against BigQuery's grammar).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { type CanonicalRow, DuckDbWarehouse, Warehouse } from "../src/index.js"
import { movement } from "./fixtures.js"
import { withBigQuery } from "./withBigQuery.js"

const SHOP = "kura-matcha.myshopify.com"

const stocky = { source: "stocky", source_account: SHOP }

const poLine = (id: string, item: string | null, over: Partial<CanonicalRow<"purchase_order_lines">> = {}) =>
  ({
    ...stocky,
    source_id: id,
    updated_at: "2026-03-01T00:00:00Z",
    _synced_at: "2026-03-02T00:00:00Z",
    _batch_id: "b1",
    _deleted_at: null,
    purchase_order_id: "po-1",
    variant_id: null,
    sku: null,
    inventory_item_id: item,
    quantity_ordered: 5,
    quantity_received: 5,
    unit_cost: "300",
    ...over
  }) satisfies CanonicalRow<"purchase_order_lines">

const variant = (id: string, item: string, sku: string) =>
  ({
    source: "shopify",
    source_account: SHOP,
    source_id: id,
    updated_at: "2026-03-05T00:00:00Z",
    _synced_at: "2026-03-05T00:00:00Z",
    _batch_id: "b2",
    _deleted_at: null,
    product_id: "p-1",
    sku,
    barcode: null,
    title: sku,
    inventory_item_id: item,
    currency: "JPY",
    price: "1200",
    cost: null
  }) satisfies CanonicalRow<"variants">

/** Loads lines that arrived before their variants, then the variants, then relinks twice. */
const scenario = Effect.gen(function* () {
  const w = yield* Warehouse
  yield* w.migrate
  yield* w.load("purchase_order_lines", [
    poLine("l-1", "ii-1"),
    // A SKU the source named itself is kept; only the variant is filled in.
    poLine("l-2", "ii-2", { sku: "OWN-SKU" }),
    // Already linked: left alone even though the catalog would say otherwise.
    poLine("l-3", "ii-1", { variant_id: "v-old", sku: "OLD" }),
    // No inventory item (written by an older Kura): cannot be linked.
    poLine("l-4", null),
    // Another shop's line naming the same item.
    poLine("l-5", "ii-1", { source_account: "other.myshopify.com" }),
    // An item two variants claim: ambiguous, not linked.
    poLine("l-6", "ii-dup")
  ])
  yield* w.load("inventory_movements", [
    {
      ...movement("receipt:l-1", "X", "loc-1", "receipt", 5, "2026-03-01T00:00:00Z"),
      ...stocky,
      variant_id: null,
      sku: null,
      inventory_item_id: "ii-1"
    }
  ])
  const before = yield* w.relinkVariants(SHOP)
  yield* w.load("variants", [
    variant("v-1", "ii-1", "MATCHA-30G"),
    variant("v-2", "ii-2", "HOJICHA-50G"),
    variant("v-3", "ii-dup", "A"),
    variant("v-4", "ii-dup", "B")
  ])
  const linked = yield* w.relinkVariants(SHOP)
  const again = yield* w.relinkVariants(SHOP)
  const lines = yield* w.query(
    "SELECT source_account, source_id, variant_id, sku FROM purchase_order_lines ORDER BY source_id, source_account"
  )
  const moves = yield* w.query("SELECT variant_id, sku FROM inventory_movements")
  return { before, linked, again, lines, moves }
})

const expectRelinked = (r: Effect.Success<typeof scenario>) => {
  assert.deepStrictEqual(r.before, { purchase_order_lines: 0, inventory_movements: 0 })
  assert.deepStrictEqual(r.linked, { purchase_order_lines: 2, inventory_movements: 1 })
  assert.deepStrictEqual(r.again, { purchase_order_lines: 0, inventory_movements: 0 })
  assert.deepStrictEqual(
    r.lines.map((l) => [l.source_account, l.source_id, l.variant_id, l.sku]),
    [
      [SHOP, "l-1", "v-1", "MATCHA-30G"],
      [SHOP, "l-2", "v-2", "OWN-SKU"],
      [SHOP, "l-3", "v-old", "OLD"],
      [SHOP, "l-4", null, null],
      ["other.myshopify.com", "l-5", null, null],
      [SHOP, "l-6", null, null]
    ]
  )
  assert.deepStrictEqual(
    r.moves.map((m) => [m.variant_id, m.sku]),
    [["v-1", "MATCHA-30G"]]
  )
}

describe("Warehouse.relinkVariants", () => {
  it.effect("links lines to variants that arrived after them, once, on DuckDB", () =>
    scenario.pipe(Effect.map(expectRelinked), Effect.provide(DuckDbWarehouse.layerMemory))
  )

  it.live("does the same on BigQuery, in statements BigQuery's grammar accepts", () =>
    withBigQuery(({ bq }) =>
      Effect.gen(function* () {
        expectRelinked(yield* scenario)
        assert.isTrue(
          bq.queries.some((q) => q.sql.startsWith("UPDATE `demo-proj.kura.purchase_order_lines` AS t"))
        )
      })
    )
  )
})
