/**
 * `v_daily_sales` against the sandbox's ground truth, through the real clients and emulators. The
 * merchant first trades (sandbox `mutate`: returns, cancellations with their refunds, deletions),
 * so the history holds cancelled orders. The truth books an order on its own business date and a
 * refund (a cancellation's included) on the refund's, as Shopify's own sales reports do.
 */
import { Decimal, toMinorUnits } from "@kura/core"
import type { GroundTruth } from "@kura/sandbox"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type CanonicalTableName, DuckDbWarehouse, Warehouse } from "../../src/index.js"
import { withBigQuery } from "../withBigQuery.js"
import { HISTORY_DAYS, type Mapped, mapAll, type Pulled, pull, pullFrom } from "./sandboxPull.js"

interface Day {
  orders: number
  units: number
  gross: number
  tax: number
  refunds: number
}

describe("v_daily_sales ties out to the ground truth, cancelled orders included", () => {
  let first: Pulled
  let mapped: Mapped
  let truth: GroundTruth

  beforeAll(async () => {
    first = await pull("jp")
    first.sandbox.mutate({ fraction: 0.3 })
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10)
    mapped = mapAll(await pullFrom(first.sandbox, { historyDays: HISTORY_DAYS, lightspeedTo: tomorrow }))
    truth = first.sandbox.groundTruth()
  }, 240_000)
  afterAll(async () => {
    await first?.sandbox.close()
  })

  const minor = (value: string | null): number =>
    value === null ? 0 : Number(toMinorUnits(Decimal.unsafeFrom(value), "JPY"))

  /** Loads every mapped row and returns the view's rows keyed as the truth keys them. */
  const daily = Effect.gen(function* () {
    const w = yield* Warehouse
    for (const rows of [mapped.shopify, mapped.lightspeed, mapped.stocky])
      for (const [table, list] of Object.entries(rows) as Array<
        [CanonicalTableName, ReadonlyArray<Record<string, unknown>>]
      >)
        yield* w.load(table, list)
    const locOf = (channel: string, location: string | null): string =>
      channel === "online" ? mapped.onlineLocationId : (mapped.shopifyLocationOfBl.get(location ?? "") ?? "?")
    const got: Record<string, Day> = {}
    for (const r of (yield* w.reconcile).dailySales) {
      const key = `${r.businessDate}|${r.channel}|${locOf(r.channel, r.locationId)}`
      const row = got[key] ?? { orders: 0, units: 0, gross: 0, tax: 0, refunds: 0 }
      got[key] = row
      row.orders += r.orders
      row.units += r.units
      row.gross += minor(r.revenue)
      row.tax += minor(r.tax)
      row.refunds += minor(r.refunds)
    }
    return got
  })

  const want = (): Record<string, Day> =>
    Object.fromEntries(
      truth.revenueByDay.map((r) => [
        `${r.businessDate}|${r.channel}|${r.locationId}`,
        { orders: r.orders, units: r.units, gross: r.gross, tax: r.tax, refunds: r.refunds }
      ])
    )

  it("the merchant cancelled and refunded orders (precondition)", () => {
    const refunded = new Set((mapped.shopify.refunds ?? []).map((r) => r.order_id))
    const cancelled = (mapped.shopify.orders ?? []).filter((o) => o.cancelled_at !== null)
    expect(cancelled.length).toBeGreaterThan(3)
    expect(cancelled.every((o) => refunded.has(o.source_id))).toBe(true)
  })

  it("DuckDB: revenue, orders, units, tax and refunds per business date × channel × location", async () => {
    expect(await Effect.runPromise(daily.pipe(Effect.provide(DuckDbWarehouse.layerMemory)))).toEqual(want())
  }, 120_000)

  it("BigQuery (fake): the same", async () => {
    expect(await Effect.runPromise(withBigQuery(() => daily))).toEqual(want())
  }, 120_000)
})
