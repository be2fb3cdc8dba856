/**
 * The `open_ticket_at_snapshot` label on both dialects. A Lightspeed line is dated when it was rung
 * up (`timeOfSale`), and its ticket closes later (`timeClosed`, the order's `processed_at`). One
 * SKU-location, five snapshots (10:00 each day):
 * - day 2: ticket A (-2) rung up at 09:30, closed at 10:30, after the snapshot, and stock that moves
 *   at the close: +2 against the movements, labelled (dated at the close: reconciled);
 * - day 3: ticket A's close falls here: -2, labelled; ticket B (-1) is rung up and closed inside
 *   the window (no label needed: it reconciles);
 * - day 4: ticket C (-3) open at the snapshot, but 1 more unit is missing (shrinkage): +2 is not
 *   explained by the ticket alone, so it keeps its own cause;
 * - day 5: ticket C closes here (-3) and a refund ticket R (+1) is open at the snapshot: both
 *   boundaries at once, -4 against the movements, labelled (dated at the close: reconciled).
 * A day on which stock moved when the lines were rung up reconciles as they are dated (day 3's B).
 *
 * And voids, on another SKU: sale V (-2) and its void (User Mistake: the mapper put 2 back) on
 * day 2, but the goods did not come back: -2, labelled `voided_sale`; a loss on day 3 with no
 * void in its window keeps its own cause. Day 4: void W put 1 back (User Mistake) and 1 more unit
 * was found: an excess no restocked void explains, its own cause. Day 5: void X of a spoiled sale
 * (0 units) and 2 units came back: labelled, the void may have been restocked after all.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { DuckDbWarehouse, Warehouse } from "../src/index.js"
import { withBigQuery } from "./withBigQuery.js"

const BL = "bl-1"
const lineage = (id: string, at: string) => ({
  source: "lightspeed",
  source_account: BL,
  source_id: id,
  updated_at: at,
  _synced_at: at,
  _batch_id: "b",
  _deleted_at: null
})
const ticket = (id: string, closedAt: string) => ({
  ...lineage(id, closedAt),
  channel: "pos",
  location_id: BL,
  currency: "JPY",
  total: "1000",
  created_at: closedAt,
  processed_at: closedAt,
  business_date: closedAt.slice(0, 10)
})
const movement = (
  id: string,
  kind: "sale" | "refund_restock",
  quantity: number,
  rungUpAt: string,
  reference: string,
  sku = "MATCHA-1",
  referenceType = kind === "sale" ? "order" : "refund"
) => ({
  ...lineage(`${kind}:${id}`, rungUpAt),
  variant_id: null,
  sku,
  location_id: BL,
  kind,
  quantity,
  reason: null,
  reference_type: referenceType,
  reference_id: reference,
  occurred_at: rungUpAt
})
const level = (quantity: number, observedAt: string, sku = "MATCHA-1") => ({
  ...lineage(`iv:${sku}:${observedAt}`, observedAt),
  variant_id: sku === "MATCHA-1" ? "v1" : "v2",
  sku,
  location_id: BL,
  quantity_name: "on_hand",
  quantity,
  observed_at: observedAt,
  snapshot_date: observedAt.slice(0, 10)
})

const scenario = Effect.gen(function* () {
  const w = yield* Warehouse
  yield* w.migrate
  yield* w.load("orders", [
    ticket("A", "2026-03-02T10:30:00Z"),
    ticket("B", "2026-03-03T08:00:00Z"),
    ticket("C", "2026-03-04T10:45:00Z"),
    ticket("V", "2026-03-02T06:00:00Z")
  ])
  // A void of an earlier sale is a refund of it (the mapper's model since session 11), closed when
  // the void was made.
  const voidOf = (id: string, at: string) => ({
    ...lineage(id, at),
    order_id: "V",
    channel: "pos",
    location_id: BL,
    currency: "JPY",
    amount: "100",
    note: "User Mistake",
    created_at: at,
    processed_at: at,
    business_date: at.slice(0, 10)
  })
  yield* w.load("refunds", [
    voidOf("VOID-V", "2026-03-02T07:00:00Z"),
    voidOf("VOID-W", "2026-03-04T07:00:00Z"),
    voidOf("VOID-X", "2026-03-05T07:00:00Z"),
    {
      ...lineage("R", "2026-03-05T10:20:00Z"),
      order_id: "B",
      channel: "pos",
      location_id: BL,
      currency: "JPY",
      amount: "100",
      created_at: "2026-03-05T10:20:00Z",
      processed_at: "2026-03-05T10:20:00Z",
      business_date: "2026-03-05"
    }
  ])
  yield* w.load("inventory_movements", [
    movement("A:1", "sale", -2, "2026-03-02T09:30:00Z", "A"),
    movement("B:1", "sale", -1, "2026-03-03T07:30:00Z", "B"),
    movement("C:1", "sale", -3, "2026-03-04T09:40:00Z", "C"),
    movement("R:1", "refund_restock", 1, "2026-03-05T09:50:00Z", "R"),
    movement("V:1", "sale", -2, "2026-03-02T05:59:00Z", "V", "SAKE-1"),
    movement("VOID-V:1", "refund_restock", 2, "2026-03-02T06:59:00Z", "VOID-V", "SAKE-1", "void"),
    movement("VOID-W:1", "refund_restock", 1, "2026-03-04T06:59:00Z", "VOID-W", "SAKE-1", "void"),
    movement("VOID-X:1", "refund_restock", 0, "2026-03-05T06:59:00Z", "VOID-X", "SAKE-1", "void")
  ])
  yield* w.load("inventory_levels", [
    level(20, "2026-03-01T10:00:00Z"),
    level(20, "2026-03-02T10:00:00Z"), // A rung up, stock still on the shelf until A closes
    level(17, "2026-03-03T10:00:00Z"), // A closed (-2), B (-1)
    level(16, "2026-03-04T10:00:00Z"), // C open (stock not moved), and 1 unit lost: 17 - 1
    level(13, "2026-03-05T10:00:00Z"), // C closed (-3); R still open (its +1 not yet back)
    level(10, "2026-03-01T10:00:00Z", "SAKE-1"),
    level(8, "2026-03-02T10:00:00Z", "SAKE-1"), // V sold 2, voided, and nothing came back
    level(7, "2026-03-03T10:00:00Z", "SAKE-1"), // 1 lost, no void in this window
    level(9, "2026-03-04T10:00:00Z", "SAKE-1"), // W put 1 back, and 1 found
    level(11, "2026-03-05T10:00:00Z", "SAKE-1") // X spoiled (0 back), yet 2 came back
  ])
  const moves = yield* w.query(
    `SELECT reference_id, CAST(ticket_closed_at AS ${w.dialect.type("string")}) AS closed FROM ${w.dialect.table("v_stock_movements")} ORDER BY reference_id`
  )
  return { moves, report: yield* w.reconcile }
})

const check = (result: Effect.Success<typeof scenario>) => {
  const { moves, report } = result
  assert.deepStrictEqual(
    moves.map((m) => [String(m.reference_id), String(m.closed).slice(0, 16).replace(" ", "T")]),
    [
      ["A", "2026-03-02T10:30"],
      ["B", "2026-03-03T08:00"],
      ["C", "2026-03-04T10:45"],
      ["R", "2026-03-05T10:20"],
      ["V", "2026-03-02T06:00"],
      ["VOID-V", "2026-03-02T07:00"],
      ["VOID-W", "2026-03-04T07:00"],
      ["VOID-X", "2026-03-05T07:00"]
    ]
  )
  const byDay = new Map(report.inventory.filter((r) => r.sku === "MATCHA-1").map((r) => [r.snapshotDate, r]))
  const sake = new Map(report.inventory.filter((r) => r.sku === "SAKE-1").map((r) => [r.snapshotDate, r]))
  const day = (d: string) => byDay.get(`2026-03-0${d}`)
  assert.strictEqual(day("1")?.status, "baseline")
  // Day 2: +2, ticket A open at the end snapshot; dated at its close the row reconciles.
  assert.strictEqual(day("2")?.discrepancy, 2)
  assert.strictEqual(day("2")?.openTickets, 1)
  assert.strictEqual(day("2")?.expectedQuantityAtClose, 20)
  assert.match(day("2")?.likelyCause ?? "", /^open_ticket_at_snapshot: /)
  // Day 3: -2, ticket A open at the start snapshot (B, rung up and closed inside, is not open).
  assert.strictEqual(day("3")?.discrepancy, -2)
  assert.strictEqual(day("3")?.openTickets, 1)
  assert.strictEqual(day("3")?.expectedQuantityAtClose, 17)
  assert.match(day("3")?.likelyCause ?? "", /^open_ticket_at_snapshot: /)
  // Day 4: +2 with ticket C open (3 units): dated at the close it would be -1, so not the ticket.
  assert.strictEqual(day("4")?.discrepancy, 2)
  assert.strictEqual(day("4")?.openTickets, 1)
  assert.strictEqual(day("4")?.expectedQuantityAtClose, 17)
  assert.match(day("4")?.likelyCause ?? "", /^unrecorded_return_or_restock: /)
  // Day 5: C closed in the window (-3) and R rung up (+1) but open at the snapshot: 16 + 1 = 17
  // as dated, 16 - 3 = 13 at the close, observed 13.
  assert.strictEqual(day("5")?.discrepancy, -4)
  assert.strictEqual(day("5")?.openTickets, 2)
  assert.strictEqual(day("5")?.expectedQuantityAtClose, 13)
  assert.match(day("5")?.likelyCause ?? "", /^open_ticket_at_snapshot: /)
  assert.deepStrictEqual(
    report.inventoryOpenTickets.map((r) => r.snapshotDate),
    ["2026-03-02", "2026-03-03", "2026-03-05"]
  )
  // Voids: the User Mistake void's restock did not happen (day 2), labelled; day 3's loss is not.
  assert.strictEqual(sake.get("2026-03-02")?.discrepancy, -2)
  assert.strictEqual(sake.get("2026-03-02")?.voidedSales, 1)
  assert.strictEqual(sake.get("2026-03-02")?.openTickets, 0)
  assert.match(sake.get("2026-03-02")?.likelyCause ?? "", /^voided_sale: /)
  assert.strictEqual(sake.get("2026-03-03")?.discrepancy, -1)
  assert.strictEqual(sake.get("2026-03-03")?.voidedSales, 0)
  assert.match(sake.get("2026-03-03")?.likelyCause ?? "", /^unrecorded_outflow: /)
  assert.strictEqual(byDay.get("2026-03-02")?.voidedSales, 0)
  assert.strictEqual(sake.get("2026-03-04")?.discrepancy, 1)
  assert.strictEqual(sake.get("2026-03-04")?.voidedSales, 1)
  assert.match(sake.get("2026-03-04")?.likelyCause ?? "", /^unrecorded_inflow: /)
  assert.strictEqual(sake.get("2026-03-05")?.discrepancy, 2)
  assert.strictEqual(sake.get("2026-03-05")?.voidedSales, 1)
  assert.match(sake.get("2026-03-05")?.likelyCause ?? "", /^voided_sale: /)
  assert.deepStrictEqual(
    report.inventoryVoidedSales.map((r) => `${r.sku}@${r.snapshotDate}`),
    ["SAKE-1@2026-03-02", "SAKE-1@2026-03-05"]
  )
  assert.deepStrictEqual(
    report.inventoryUnexplained.map((r) => `${r.sku}@${r.snapshotDate}`),
    ["MATCHA-1@2026-03-04", "SAKE-1@2026-03-03", "SAKE-1@2026-03-04"]
  )
  assert.strictEqual(report.inventoryDiscrepancies.length, 8)
}

describe("Lightspeed tickets open at a snapshot and voided sales: open_ticket_at_snapshot and voided_sale", () => {
  it.effect("DuckDB", () => scenario.pipe(Effect.map(check), Effect.provide(DuckDbWarehouse.layerMemory)))
  it.live("BigQuery (fake)", () => withBigQuery(() => scenario).pipe(Effect.map(check)), 180_000)
})
