/**
 * Orders created and deleted in Shopify before Kura read them, through the real sandbox: their
 * goods left the shelf, but no API lists them any more, so no movement row can exist. Three dated
 * snapshots: in the first window this test injects a shrinkage and found stock; in the second the
 * merchant trades and deletes orders (some Kura held, some it never read), and this test injects
 * a miscount upwards. The deletion events land in `_kura_raw` as
 * the pipeline lands them. `v_inventory_reconciliation` must label exactly the shortfalls of the
 * second window `deleted_before_read`, the report must count them apart, and every injected
 * discrepancy must still be found, unexplained.
 */
import { Resources, ShopifyClient, type ShopifyEvent, type Order as ShopifyOrder } from "@kura/shopify-client"
import { Effect, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  type CanonicalRow,
  type CanonicalRows,
  type CanonicalTableName,
  DuckDbWarehouse,
  normalizeSku,
  RawLoader,
  type ReconciliationReport,
  shopifyEventDeletion,
  Warehouse
} from "../../src/index.js"
import { type Mapped, mapAll, type Pulled, pull, pullFrom, SYNCED_AT } from "./sandboxPull.js"

const HISTORY = 20
type Cells = Record<string, number>

const observedAt = (rows: ReadonlyArray<CanonicalRow<"inventory_levels">>, at: string) =>
  rows.map((l) => ({ ...l, observed_at: at, snapshot_date: at.slice(0, 10), updated_at: at, _synced_at: at }))
const cell = (l: { sku: string | null; location_id: string }) =>
  `${normalizeSku(l.sku ?? "")}|${l.location_id}`
const add = (cells: Cells, key: string, q: number) => {
  cells[key] = (cells[key] ?? 0) + q
  if (cells[key] === 0) delete cells[key]
}
const movementsOf = (m: Mapped) => [
  ...(m.shopify.inventory_movements ?? []),
  ...(m.lightspeed.inventory_movements ?? []),
  ...(m.stocky.inventory_movements ?? [])
]
/** After every movement a pull saw (new orders are stamped up to a second apart from now on). */
const after = (m: Mapped) =>
  new Date(
    Math.max(Date.now(), ...movementsOf(m).map((mv) => Date.parse(mv.occurred_at))) + 1_000
  ).toISOString()

/** Polls until the wall clock has passed `iso` (new sandbox activity is stamped from "now"). */
const untilPast = async (iso: string) => {
  const deadline = Date.now() + 120_000
  while (Date.now() <= Date.parse(iso)) {
    if (Date.now() > deadline) throw new Error(`the clock did not pass ${iso}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe("a stock shortfall from orders deleted before Kura read them", () => {
  let first: Pulled
  let report: ReconciliationReport
  const expectedA: Cells = {}
  const expectedB: Cells = {}
  /** Cells of the second window holding goods of orders Kura never read. */
  const deletedCells: Cells = {}
  const injected = new Set<string>()
  let neverHeld: ReadonlyArray<string> = []
  let heldDeleted: ReadonlyArray<string> = []
  let listed: ReadonlyArray<Readonly<Record<string, unknown>>> = []
  let t2 = ""
  let t3 = ""

  beforeAll(async () => {
    first = await pull("jp", { seed: 23, scale: 120, historyDays: HISTORY })
    const sb = first.sandbox
    const m = sb.merchant
    const shop = sb.shopify.credentials.shopDomain
    const mapped1 = mapAll(first)
    const t1 = SYNCED_AT
    // POS refunds K-Series does not flag as restocked: the mapper books them back on the shelf.
    const refundsSeen = new Set<string>()
    const unflaggedPosRefunds = (into: Cells) => {
      for (let i = 0; i < m.orderCount; i++) {
        const o = m.orderAt(i)
        if (o === undefined) continue
        for (const r of o.refunds) {
          if (refundsSeen.has(String(r.id))) continue
          refundsSeen.add(String(r.id))
          if (o.channel !== "pos") continue
          for (const rl of r.lines) {
            const line = o.lines.find((l) => l.id === rl.orderLineId)
            if (!rl.restock && line !== undefined)
              add(into, `${normalizeSku(line.sku)}|${o.locationId}`, -rl.quantity)
          }
        }
      }
    }
    unflaggedPosRefunds({})
    // New orders are stamped up to a second apart from now on: wait until the last one has
    // happened, so the next read sees all of them (stock and sales alike).
    const trade = async (count: number) => {
      const created = sb.createOrders(count).map((i) => {
        const o = m.orderAt(i)!
        return Math.max(o.createdAt, o.processedAt, o.updatedAt)
      })
      await untilPast(new Date(Math.max(...created) + 1).toISOString())
    }
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10)

    // Window A, a day after the first read: no trade (the shop's history ends at t1), a
    // shrinkage and found stock (both stay), and no deletion.
    t2 = "2026-06-16T00:00:00.000Z"
    const onHand2 = observedAt(
      (mapped1.shopify.inventory_levels ?? []).filter((l) => l.quantity_name === "on_hand"),
      t2
    )
    const shrink = onHand2.find((l) => l.quantity > 5)!
    const miscount = onHand2.find((l) => l.quantity > 0 && cell(l) !== cell(shrink))!
    add(expectedA, cell(shrink), -3)
    add(expectedA, cell(miscount), 2)
    injected.add(`${cell(shrink)}@A`).add(`${cell(miscount)}@A`)
    const snapshot2 = onHand2.map((l) =>
      l === shrink
        ? { ...l, quantity: l.quantity - 3 }
        : l === miscount
          ? { ...l, quantity: l.quantity + 2 }
          : l
    )

    // Window B, to now: orders are created, and some deleted before Kura reads again. (The
    // sandbox stamps new orders from the wall clock on; a POS line may be dated when its ticket
    // opened, up to an hour earlier, which is still well inside this window.)
    await trade(12)
    const held = new Set(first.orders.map((o: ShopifyOrder) => o.legacyResourceId))
    const deletedIdx = sb.deleteOrders(40)
    const deleted = deletedIdx.map((i) => m.orderAt(i)!)
    neverHeld = deleted.filter((o) => !held.has(String(o.id))).map((o) => String(o.id))
    heldDeleted = deleted.filter((o) => held.has(String(o.id))).map((o) => String(o.id))
    for (const o of deleted) {
      if (held.has(String(o.id))) continue
      for (const l of o.lines) add(deletedCells, `${normalizeSku(l.sku)}|${o.locationId}`, -l.quantity)
      for (const r of o.refunds)
        for (const rl of r.lines) {
          const line = o.lines.find((l) => l.id === rl.orderLineId)
          if (rl.restock && line !== undefined)
            add(deletedCells, `${normalizeSku(line.sku)}|${rl.locationId}`, rl.quantity)
        }
    }
    const third = await pullFrom(sb, { historyDays: HISTORY, lightspeedTo: tomorrow })
    const events = await Effect.runPromise(
      Effect.gen(function* () {
        const client = yield* ShopifyClient
        const pages = yield* Stream.runCollect(
          client.pages(Resources.events, { search: "(action:destroy OR action:delete)" })
        )
        return [...pages].flatMap((p) => p.records as ReadonlyArray<ShopifyEvent>)
      }).pipe(
        Effect.provide(
          ShopifyClient.layerStatic({
            shop,
            accessToken: sb.shopify.credentials.accessToken,
            baseUrl: sb.shopify.baseUrl,
            apiVersion: "2026-10"
          })
        )
      )
    )
    const mapped3 = mapAll(third)
    t3 = after(mapped3)
    unflaggedPosRefunds(expectedB)
    for (const [k, q] of Object.entries(deletedCells)) add(expectedB, k, q)
    const onHand3 = observedAt(
      (mapped3.shopify.inventory_levels ?? []).filter((l) => l.quantity_name === "on_hand"),
      t3
    )
    const upwards = onHand3.find((l) => expectedB[cell(l)] === undefined && expectedA[cell(l)] === undefined)!
    add(expectedB, cell(upwards), 2)
    injected.add(`${cell(upwards)}@B`)
    // The first window's shrinkage and found stock are still on (off) the shelf.
    const snapshot3 = onHand3.map((l) =>
      l === upwards
        ? { ...l, quantity: l.quantity + 2 }
        : { ...l, quantity: l.quantity + (expectedA[cell(l)] ?? 0) }
    )

    const result = await Effect.runPromise(
      Effect.gen(function* () {
        const w = yield* Warehouse
        const loadAll = (rows: CanonicalRows) =>
          Effect.forEach(
            Object.entries(rows) as Array<[CanonicalTableName, ReadonlyArray<Record<string, unknown>>]>,
            ([table, list]) =>
              table === "inventory_levels" ? Effect.void : Effect.asVoid(w.load(table, list)),
            { discard: true }
          )
        for (const [mapped, levels] of [
          [mapped1, observedAt(mapped1.shopify.inventory_levels ?? [], t1)],
          [undefined, snapshot2],
          [mapped3, snapshot3]
        ] as const) {
          if (mapped !== undefined) {
            yield* loadAll(mapped.shopify)
            yield* loadAll(mapped.lightspeed)
            yield* loadAll(mapped.stocky)
          }
          yield* w.load("inventory_levels", levels)
        }
        // As the deletions stream lands a page: raw events, then soft deletes of what Kura holds.
        yield* RawLoader.loadRawBatch({
          warehouse: w,
          key: { source: "shopify", account: shop, stream: "deletions" },
          batch: { batchId: "b-deletions", path: "lake/deletions.jsonl.gz" },
          lines: Stream.fromIterable(events.map((e) => JSON.stringify(e))),
          fetchedAt: t3
        })
        const marks = events.flatMap((e) => shopifyEventDeletion(e, { sourceAccount: shop }))
        yield* w.markDeletedEach(
          "orders",
          marks.map((d) => ({ key: d.key, deletedAt: d.deletedAt }))
        )
        const listed = yield* w.query(
          `SELECT source, source_account, source_id, CAST(deleted_at AS VARCHAR) AS deleted_at, evidence FROM "v_deleted_before_read" ORDER BY source_id`
        )
        return { report: yield* w.reconcile, listed }
      }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
    )
    report = result.report
    listed = result.listed
  }, 300_000)

  afterAll(async () => {
    await first?.sandbox.close()
  })

  const windowOf = (snapshotDate: string) =>
    snapshotDate === t3.slice(0, 10) ? "B" : snapshotDate === t2.slice(0, 10) ? "A" : "?"

  it("the sandbox deleted orders Kura held and orders it never read (preconditions)", () => {
    expect(neverHeld.length).toBeGreaterThan(0)
    expect(heldDeleted.length).toBeGreaterThan(0)
    expect(Object.values(deletedCells).some((q) => q < 0)).toBe(true)
    // The two later snapshots fall on different days, so each row names its window.
    expect(t3.slice(0, 10) === t2.slice(0, 10)).toBe(false)
  })

  it("v_deleted_before_read lists exactly the deleted orders Kura never held, from their events", () => {
    expect(listed.map((r) => String(r.source_id)).sort()).toEqual([...neverHeld].sort())
    for (const r of listed) {
      expect(r.source).toBe("shopify")
      expect(r.evidence).toBe("event")
      expect(Date.parse(String(r.deleted_at))).toBeGreaterThan(Date.parse(t2))
    }
  })

  it("every discrepancy is found; the deleted orders' shortfalls are labelled and counted apart", () => {
    const found = (rows: ReconciliationReport["inventoryDiscrepancies"], w: string) =>
      Object.fromEntries(
        rows
          .filter((r) => windowOf(r.snapshotDate) === w)
          .map((r) => [`${r.sku}|${r.locationId}`, r.discrepancy ?? Number.NaN])
      )
    expect(found(report.inventoryDiscrepancies, "A")).toEqual(expectedA)
    expect(found(report.inventoryDiscrepancies, "B")).toEqual(expectedB)
    expect(report.inventoryDiscrepancies.every((r) => windowOf(r.snapshotDate) !== "?")).toBe(true)
    // Labelled: the second window's shortfalls, never the first window's, never an excess.
    const labelled = report.inventoryDeletedBeforeRead.map(
      (r) => `${r.sku}|${r.locationId}@${windowOf(r.snapshotDate)}`
    )
    const shortfallsB = Object.entries(expectedB)
      .filter(([, q]) => q < 0)
      .map(([k]) => `${k}@B`)
    expect(labelled.sort()).toEqual(shortfallsB.sort())
    for (const k of Object.keys(deletedCells))
      if ((deletedCells[k] ?? 0) < 0) expect(labelled).toContain(`${k}@B`)
    for (const r of report.inventoryDeletedBeforeRead) {
      expect(r.likelyCause).toMatch(/^deleted_before_read: /)
      expect(r.deletedBeforeRead).toBe(neverHeld.length)
    }
    // Unexplained: the rest, the injected ones among them, each with its own cause.
    const unexplained = report.inventoryUnexplained.map(
      (r) => `${r.sku}|${r.locationId}@${windowOf(r.snapshotDate)}`
    )
    for (const k of injected) expect(unexplained).toContain(k)
    expect(unexplained.length + labelled.length).toBe(report.inventoryDiscrepancies.length)
    for (const r of report.inventoryUnexplained) {
      expect(r.likelyCause).not.toMatch(/^deleted_before_read/)
      if (windowOf(r.snapshotDate) === "A") expect(r.deletedBeforeRead).toBe(0)
    }
  })
})
