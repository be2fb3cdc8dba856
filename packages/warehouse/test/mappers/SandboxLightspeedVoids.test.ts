/**
 * Lightspeed voids and POS revenue, through the real sandbox. A small merchant's history is read
 * and loaded; then POS sales are voided now (K-Series VOID accounts linking back to each sale,
 * months after it; "User Mistake" alternating with spoilage reasons) and every business day is read
 * again and loaded on top. The sandbox's ground truth (`revenueByDay`: a sale's total on its own
 * business date, a void as a refund on the void's) is the oracle:
 * - `v_daily_sales` POS rows equal it per business date and location, before and after the voids,
 *   on DuckDB and on the fake BigQuery; the days before the voids read as they did.
 * - A warehouse written by the Kura before this change (the sale mapper of 2353761, kept in
 *   olderLightspeedSaleMapper.ts: a void was a cancelled order of its own, a spoiled refund line
 *   was restocked), with its raw records, is re-modelled when it is opened: its live rows are then
 *   exactly today's mapping of the same records, the stale void orders and their lines soft-deleted,
 *   and reloading changes nothing. On DuckDB and the fake BigQuery.
 */
import { Decimal, toMinorUnits } from "@kura/core"
import type { BusinessDay, Sale } from "@kura/lightspeed-client"
import type { GroundTruth } from "@kura/sandbox"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  type CanonicalRows,
  type CanonicalTableName,
  CanonicalTables,
  DuckDbWarehouse,
  Warehouse
} from "../../src/index.js"
import { LIGHTSPEED_VOIDS_MIGRATION } from "../../src/internal/makeWarehouse.js"
import { type MapContext, mergeRows } from "../../src/Mapper.js"
import { mapLightspeedBusinessDay, mapLightspeedLocation } from "../../src/mappers/index.js"
import { withBigQuery } from "../withBigQuery.js"
import { mapLightspeedBusinessDay as mapBusinessDayBefore } from "./olderLightspeedSaleMapper.js"
import { type Pulled, pull, pullFrom, SHOP_ZONE, SYNCED_AT } from "./sandboxPull.js"

const HISTORY = 20
const TABLES = [
  "orders",
  "order_lines",
  "refunds",
  "refund_lines",
  "payments",
  "tax_lines",
  "inventory_movements"
] as const satisfies ReadonlyArray<CanonicalTableName>

type DayMapper = typeof mapLightspeedBusinessDay

/** The POS rows of a pull, mapped by `dayMapper`, stock linked to the Shopify location of the same name. */
const mapPos = (p: Pulled, dayMapper: DayMapper): CanonicalRows => {
  const zones = new Map(p.posLocations.map((l) => [l.businessLocationId, l.timezone]))
  const ctx: MapContext = {
    source: "lightspeed",
    sourceAccount: p.posLocations[0]?.businessId ?? "unknown",
    syncedAt: SYNCED_AT,
    batchId: "b-lightspeed",
    timeZoneOf: (id) => (id === null ? SHOP_ZONE : (zones.get(id) ?? SHOP_ZONE))
  }
  return mergeRows(
    ...p.posLocations.map((l) => mapLightspeedLocation(l, ctx)),
    ...p.days.map((d: BusinessDay) => {
      const bl = p.posLocations.find((l) => l.businessLocationId === d.businessLocationId)
      const stock = p.locations.find((s) => s.name === bl?.name)?.legacyResourceId
      return dayMapper(d, ctx, stock === undefined ? {} : { stockLocationId: stock })
    })
  )
}

/** The pull's sales as the sales stream lands them in `_kura_raw` (the decoded record, verbatim). */
const rawOf = (p: Pulled) => {
  const account = p.posLocations[0]?.businessId ?? "unknown"
  const seen = new Set<string>()
  return p.days.flatMap((d) =>
    d.sales.flatMap((s: Sale) => {
      if (seen.has(s.accountReference)) return []
      seen.add(s.accountReference)
      return [
        {
          source: "lightspeed",
          source_account: account,
          stream: "sales",
          source_id: s.accountReference,
          updated_at: s.timeClosed ?? null,
          // Verbatim JSON text, as RawLoader lands a lake line.
          payload: JSON.stringify(s),
          fetched_at: SYNCED_AT,
          _batch_id: "b-lightspeed",
          lake_path: null
        }
      ]
    })
  )
}

interface Day {
  readonly orders: number
  readonly units: number
  readonly gross: number
  readonly tax: number
  readonly refunds: number
}

/** Every canonical Lightspeed row as text, per table and key: how two warehouses are compared. */
const rowsOf = (
  query: (sql: string) => Effect.Effect<ReadonlyArray<Readonly<Record<string, unknown>>>, unknown>
) =>
  Effect.gen(function* () {
    const out: Record<string, Record<string, Record<string, unknown>>> = {}
    for (const table of TABLES) {
      const cols = CanonicalTables[table].columns
        .map((c) => c.name)
        .filter((c) => c !== "_synced_at" && c !== "_batch_id")
      const rows = yield* query(
        `SELECT ${cols.map((c) => `CAST("${c}" AS VARCHAR) AS "${c}"`).join(", ")} FROM "${table}" WHERE source = 'lightspeed'`
      )
      out[table] = Object.fromEntries(
        rows.map((r) => [
          String(r.source_id),
          {
            ...r,
            _deleted_at: r._deleted_at === null ? null : "deleted"
          }
        ])
      )
    }
    return out
  })

const liveOf = (rows: Record<string, Record<string, Record<string, unknown>>>) =>
  Object.fromEntries(
    Object.entries(rows).map(([t, byKey]) => [
      t,
      Object.fromEntries(Object.entries(byKey).filter(([, r]) => r._deleted_at === null))
    ])
  )
const deletedOf = (rows: Record<string, Record<string, Record<string, unknown>>>) =>
  Object.fromEntries(
    Object.entries(rows).map(([t, byKey]) => [
      t,
      Object.entries(byKey)
        .filter(([, r]) => r._deleted_at !== null)
        .map(([k]) => k)
        .sort()
    ])
  )

const loadAll = (rows: CanonicalRows) =>
  Effect.gen(function* () {
    const w = yield* Warehouse
    for (const [table, list] of Object.entries(rows) as Array<
      [CanonicalTableName, ReadonlyArray<Record<string, unknown>>]
    >)
      yield* w.load(table, list)
  })

describe("Lightspeed voids: POS revenue per business date, and warehouses written before voids were refunds", () => {
  let first: Pulled
  let after: Pulled
  let truthBefore: GroundTruth
  let truthAfter: GroundTruth
  let blToShopify: ReadonlyMap<string, string>

  beforeAll(async () => {
    first = await pull("jp", { seed: 37, scale: 120, historyDays: HISTORY })
    const sb = first.sandbox
    truthBefore = sb.groundTruth()
    sb.voidSales(8)
    truthAfter = sb.groundTruth()
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10)
    after = await pullFrom(sb, { historyDays: HISTORY, lightspeedTo: tomorrow })
    blToShopify = new Map(
      after.posLocations.map((l) => [
        l.businessLocationId,
        after.locations.find((s) => s.name === l.name)?.legacyResourceId ?? "?"
      ])
    )
  }, 300_000)

  afterAll(async () => {
    await first?.sandbox.close()
  })

  const minor = (value: string | null): number =>
    value === null ? 0 : Number(toMinorUnits(Decimal.unsafeFrom(value), "JPY"))

  /** The ground truth's POS rows, keyed `date|shopify location`. */
  const truthPos = (truth: GroundTruth): Record<string, Day> =>
    Object.fromEntries(
      truth.revenueByDay
        .filter((r) => r.channel === "pos")
        .map((r) => [
          `${r.businessDate}|${r.locationId}`,
          { orders: r.orders, units: r.units, gross: r.gross, tax: r.tax, refunds: r.refunds }
        ])
    )

  /** `v_daily_sales`' POS rows, keyed the same way. */
  const dailyPos = Effect.gen(function* () {
    const w = yield* Warehouse
    const report = yield* w.reconcile
    return Object.fromEntries(
      report.dailySales
        .filter((r) => r.channel === "pos")
        .map((r): [string, Day] => [
          `${r.businessDate}|${blToShopify.get(r.locationId ?? "") ?? "?"}`,
          {
            orders: r.orders,
            units: r.units,
            gross: minor(r.revenue),
            tax: minor(r.tax),
            refunds: minor(r.refunds)
          }
        ])
    )
  })

  /** Loads the history, reads v_daily_sales, loads the re-read after the voids, reads it again. */
  const revenueScenario = Effect.gen(function* () {
    yield* loadAll(mapPos(first, mapLightspeedBusinessDay))
    const before = yield* dailyPos
    yield* loadAll(mapPos(after, mapLightspeedBusinessDay))
    // A void's restocks carry its close (its refund row's), like a sale's and a refund's.
    const w = yield* Warehouse
    const [voidMoves] = yield* w.query(
      `SELECT COUNT(*) AS n, COUNT(m.ticket_closed_at) AS closed FROM ${w.dialect.table("v_stock_movements")} AS m WHERE m.reference_type = 'void'`
    )
    return {
      before,
      after: yield* dailyPos,
      voidMovements: [Number(voidMoves?.n), Number(voidMoves?.closed)]
    }
  })

  const voidDates = () => new Set(truthAfter.voids.map((v) => `${dateOfVoid(v.at)}`))
  const dateOfVoid = (at: number) => {
    // The K-Series business day rolls over at 05:00 Tokyo (the sandbox's cutover).
    const local = new Date(at + 9 * 3_600_000 - 5 * 3_600_000)
    return local.toISOString().slice(0, 10)
  }

  const checkRevenue = (got: {
    before: Record<string, Day>
    after: Record<string, Day>
    voidMovements: ReadonlyArray<number>
  }) => {
    const lines = truthAfter.voids.reduce((n, v) => n + v.lines.length, 0)
    expect(got.voidMovements).toEqual([lines, lines])
    expect(got.before).toEqual(truthPos(truthBefore))
    expect(got.after).toEqual(truthPos(truthAfter))
    // A void months later does not rewrite the voided sale's day: every day before reads as it did.
    const dates = voidDates()
    const untouched = (rows: Record<string, Day>) =>
      Object.fromEntries(Object.entries(rows).filter(([k]) => !dates.has(k.split("|")[0] ?? "")))
    expect(untouched(got.after)).toEqual(untouched(got.before))
    const voidTotal = Object.entries(got.after)
      .filter(([k]) => dates.has(k.split("|")[0] ?? ""))
      .reduce((n, [, d]) => n + d.refunds, 0)
    expect(voidTotal).toBeGreaterThan(0)
  }

  it("the sandbox voided POS sales months after they were made, both ways (preconditions)", () => {
    expect(truthAfter.voids.length).toBe(8)
    expect(new Set(truthAfter.voids.map((v) => v.reason === "User Mistake")).size).toBe(2)
    expect(after.days.flatMap((d) => d.sales).filter((s) => s.type === "VOID").length).toBe(8)
    expect([...voidDates()].every((d) => d > "2026-06-15")).toBe(true)
    expect(truthBefore.revenueByDay.filter((r) => r.channel === "pos").length).toBeGreaterThan(10)
  })

  it("what goes back on the shelf is what the truth put back: restocked refund and void lines, nothing for spoiled ones", () => {
    const got: Record<string, number> = {}
    const add = (cells: Record<string, number>, key: string, q: number) => {
      cells[key] = (cells[key] ?? 0) + q
      if (cells[key] === 0) delete cells[key]
    }
    const rows = mapPos(after, mapLightspeedBusinessDay)
    for (const mv of rows.inventory_movements ?? [])
      if (mv.kind === "refund_restock") add(got, `${mv.sku}|${mv.location_id}`, mv.quantity)
    const want: Record<string, number> = {}
    let spoiled = 0
    const m = first.sandbox.merchant
    for (let i = 0; i < m.orderCount; i++) {
      const o = m.orderAt(i)
      if (o === undefined || o.channel !== "pos" || o.malformed) continue
      for (const r of o.refunds)
        for (const rl of r.lines) {
          const line = o.lines.find((l) => l.id === rl.orderLineId)
          if (line === undefined) continue
          if (rl.restock) add(want, `${line.sku}|${o.locationId}`, rl.quantity)
          else spoiled++
        }
    }
    // Refunds of the history with a "Broken" line, and the spoiled voids, put nothing back.
    expect(spoiled).toBeGreaterThan(truthAfter.voids.filter((v) => !v.restocked).length)
    expect(got).toEqual(want)
  })

  it("DuckDB: v_daily_sales POS revenue, orders, units, tax and refunds per business date equal the ground truth", async () => {
    checkRevenue(await Effect.runPromise(revenueScenario.pipe(Effect.provide(DuckDbWarehouse.layerMemory))))
  }, 120_000)

  it("BigQuery (fake): the same", async () => {
    checkRevenue(await Effect.runPromise(withBigQuery(() => revenueScenario)))
  }, 240_000)

  /**
   * Today's mapping of the re-read records in a fresh warehouse: what a re-modelled warehouse must
   * hold. And one written by the older Kura, raw records included, re-modelled when migrated.
   */
  const reference = () =>
    Effect.runPromise(
      Effect.gen(function* () {
        const w = yield* Warehouse
        yield* loadAll(mapPos(after, mapLightspeedBusinessDay))
        return yield* rowsOf((sql) => w.query(sql))
      }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
    )

  const writtenBefore = Effect.gen(function* () {
    const w = yield* Warehouse
    yield* loadAll(mapPos(after, mapBusinessDayBefore))
    yield* w.load("_kura_raw", rawOf(after))
  })

  const checkRemodelled = async (rows: {
    readonly old: Record<string, Record<string, Record<string, unknown>>>
    readonly migrated: Record<string, Record<string, Record<string, unknown>>>
    readonly reloaded: Record<string, Record<string, Record<string, unknown>>>
    readonly meta: unknown
    readonly daily: Record<string, Day>
  }) => {
    const want = await reference()
    const voidIds = truthAfter.voids.length
    const sales = after.days.flatMap((d) => d.sales)
    const voids = sales.filter((s) => s.type === "VOID").map((s) => s.accountReference)
    const spoiledRefundLines = sales
      .filter((s) => s.type === "REFUND")
      .flatMap((s) => s.salesLines.filter((l) => l.voidReason === "Broken"))
    expect(spoiledRefundLines.length).toBeGreaterThan(0)
    // Before: the older Kura's rows differ from today's (voids as orders, spoiled lines restocked).
    expect(liveOf(rows.old)).not.toEqual(liveOf(want))
    expect(Object.keys(rows.old.orders ?? {})).toEqual(expect.arrayContaining(voids))
    // After: exactly today's rows live; the stale void orders and their lines soft-deleted.
    expect(liveOf(rows.migrated)).toEqual(liveOf(want))
    const deleted = deletedOf(rows.migrated)
    expect(deleted.orders).toEqual([...voids].sort())
    expect(deleted.order_lines).toEqual(
      sales
        .filter((s) => s.type === "VOID")
        .flatMap((s) => s.salesLines.map((l) => `${s.accountReference}:${l.id}`))
        .sort()
    )
    for (const t of ["refunds", "refund_lines", "payments", "tax_lines", "inventory_movements"])
      expect(deleted[t], t).toEqual([])
    expect(rows.meta).toEqual({ voids: voidIds, refundLinesWithReason: expect.any(Number) })
    // A reload of the same records (a re-read, a re-model) changes nothing and revives nothing.
    expect(rows.reloaded).toEqual(rows.migrated)
    expect(rows.daily).toEqual(truthPos(truthAfter))
  }

  it("DuckDB: a warehouse the older Kura wrote is re-modelled on migrate: today's rows, stale ones soft-deleted", async () => {
    const rows = await Effect.runPromise(
      Effect.gen(function* () {
        const w = yield* Warehouse
        yield* writtenBefore
        const old = yield* rowsOf((sql) => w.query(sql))
        // As the older Kura left it: this migration not done.
        yield* w.query(
          `DELETE FROM "_kura_sync_state" WHERE kind = 'migration' AND id = '${LIGHTSPEED_VOIDS_MIGRATION}'`
        )
        yield* w.query(`COMMENT ON TABLE "_kura_raw" IS NULL`)
        yield* w.migrate
        const migrated = yield* rowsOf((sql) => w.query(sql))
        const [marker] = yield* w.query(
          `SELECT meta FROM "_kura_sync_state" WHERE kind = 'migration' AND id = '${LIGHTSPEED_VOIDS_MIGRATION}'`
        )
        yield* loadAll(mapPos(after, mapLightspeedBusinessDay))
        const reloaded = yield* rowsOf((sql) => w.query(sql))
        return { old, migrated, reloaded, meta: JSON.parse(String(marker?.meta)), daily: yield* dailyPos }
      }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
    )
    await checkRemodelled(rows)
  }, 120_000)

  it("BigQuery (fake): the same re-modelling, as one transaction script", async () => {
    const rows = await Effect.runPromise(
      withBigQuery(({ bq }) =>
        Effect.gen(function* () {
          const w = yield* Warehouse
          yield* writtenBefore
          const duck = (sql: string) => Effect.promise(() => bq.duck(sql))
          const old = yield* rowsOf(duck)
          yield* duck(
            `DELETE FROM "_kura_sync_state" WHERE kind = 'migration' AND id = '${LIGHTSPEED_VOIDS_MIGRATION}'`
          )
          const from = bq.queries.length
          yield* w.migrate
          const scripts = bq.queries.slice(from).filter((q) => q.sql.startsWith("BEGIN TRANSACTION;"))
          expect(scripts.length).toBe(1)
          const migrated = yield* rowsOf(duck)
          const [marker] = yield* duck(
            `SELECT meta FROM "_kura_sync_state" WHERE kind = 'migration' AND id = '${LIGHTSPEED_VOIDS_MIGRATION}'`
          )
          yield* loadAll(mapPos(after, mapLightspeedBusinessDay))
          const reloaded = yield* rowsOf(duck)
          return { old, migrated, reloaded, meta: JSON.parse(String(marker?.meta)), daily: yield* dailyPos }
        })
      )
    )
    await checkRemodelled(rows)
  }, 240_000)
})
