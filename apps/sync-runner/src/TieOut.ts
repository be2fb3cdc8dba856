/**
 * The tie-out of a Shopify shop's warehouse data to Shopify's own Analytics: day by day, the
 * orders and `total_sales` ShopifyQL reports against the same figures computed from the canonical
 * tables (`Warehouse.shopifySalesByDay`). A day that differs carries the causes Kura can see, so
 * an analyst starts from "why" instead of from two numbers.
 */
import { toDecimal } from "@kura/core"
import type { SalesDay } from "@kura/shopify-client"
import type { ShopifySalesDay } from "@kura/warehouse"
import { Effect } from "effect"

/** The warehouse's side of a day, with the events that make up its total. */
export interface TieOutWarehouseDay {
  readonly orders: number
  readonly totalSales: string
  readonly sales: string
  readonly refunds: string
  readonly cancellations: string
}

/**
 * How a day compares: `tied` (both figures equal), `differs`, or `syncing` (it differs, but the
 * day is not over in the warehouse yet: it ends after the last orders sync began).
 */
export type TieOutStatus = "tied" | "differs" | "syncing"

/** One day of a {@link TieOutReport}. */
export interface TieOutDay {
  readonly day: string
  readonly shopify: { readonly orders: number; readonly totalSales: string }
  readonly warehouse: TieOutWarehouseDay
  /** Shopify minus warehouse. */
  readonly ordersDifference: number
  /** Shopify minus warehouse (decimal string). */
  readonly totalSalesDifference: string
  readonly status: TieOutStatus
  /** Causes Kura can see for a difference (none on a tied day). */
  readonly causes: ReadonlyArray<string>
}

/** What the tie-out knows about the shop besides the two reports. */
export interface TieOutContext {
  readonly account: string
  readonly zone: string
  readonly currency: string
  readonly since: string
  readonly until: string
  /** The day (in the shop's zone) the last successful orders sync began, or null if none did. */
  readonly syncedDay: string | null
  /** Pending dead letters of the shop's orders stream. */
  readonly orderDeadLetters: number
}

/** A shop's tie-out: every day of the range, and whether all of them tie. */
export interface TieOutReport extends TieOutContext {
  readonly days: ReadonlyArray<TieOutDay>
  readonly tiedDays: number
  readonly differingDays: number
  readonly syncingDays: number
  /** True when no day differs (a `syncing` day does not count against it). */
  readonly tied: boolean
}

const ZERO: TieOutWarehouseDay = { orders: 0, totalSales: "0", sales: "0", refunds: "0", cancellations: "0" }

/**
 * Compares Shopify's days with the warehouse's. Every day Shopify answered is a row (a day with
 * nothing in the warehouse compares with zero); warehouse days Shopify did not answer are rows too.
 */
export const tieOut = (
  shopify: ReadonlyArray<SalesDay>,
  warehouse: ReadonlyArray<ShopifySalesDay>,
  context: TieOutContext
): TieOutReport => {
  const ours = new Map(warehouse.map((w) => [w.day, w]))
  const theirs = new Map(shopify.map((s) => [s.day, s]))
  const dayList = [...new Set([...theirs.keys(), ...ours.keys()])]
    .filter((d) => d >= context.since && d <= context.until)
    .sort()
  const days = dayList.map((day): TieOutDay => {
    const s = theirs.get(day)
    const w: TieOutWarehouseDay = ours.get(day) ?? ZERO
    const sTotal = s === undefined ? toDecimal("0") : s.totalSales
    const ordersDifference = (s?.orders ?? 0) - w.orders
    const totalDifference = sTotal.sub(toDecimal(w.totalSales))
    const differs = ordersDifference !== 0 || !totalDifference.isZero()
    const causes: Array<string> = []
    if (differs) {
      if (s === undefined) causes.push("Shopify's report has no row for this day")
      if (context.syncedDay === null) causes.push("no orders sync of this shop has succeeded yet")
      else if (day >= context.syncedDay)
        causes.push(
          `the day ends after the last orders sync began (${context.syncedDay}); run kura-sync again`
        )
      if (context.orderDeadLetters > 0)
        causes.push(
          `${context.orderDeadLetters} order record(s) of this shop are in _kura_dead_letters and not in the tables (kura-sync dead-letters list)`
        )
      const cancellations = toDecimal(w.cancellations)
      if (ordersDifference === 0 && !cancellations.isZero() && totalDifference.equals(cancellations))
        causes.push(
          `the day ties if cancellations no refund paid back (${w.cancellations}) are not booked as returns on their day: this shop's report books them differently from Kura's model`
        )
      if (ordersDifference > 0)
        causes.push(
          `${ordersDifference} order(s) placed this day are in Shopify's report and not in the warehouse`
        )
      if (ordersDifference < 0)
        causes.push(
          `${-ordersDifference} order(s) in the warehouse for this day are not in Shopify's report (deleted or test orders, or a different day boundary)`
        )
    }
    // Never synced is not "still syncing": nothing in the warehouse vouches for any day yet.
    const syncing = differs && context.syncedDay !== null && day >= context.syncedDay
    return {
      day,
      shopify: { orders: s?.orders ?? 0, totalSales: sTotal.normalize().toString() },
      warehouse: w,
      ordersDifference,
      totalSalesDifference: totalDifference.normalize().toString(),
      status: !differs ? "tied" : syncing ? "syncing" : "differs",
      causes
    }
  })
  const count = (status: TieOutStatus) => days.filter((d) => d.status === status).length
  return {
    ...context,
    days,
    tiedDays: count("tied"),
    differingDays: count("differs"),
    syncingDays: count("syncing"),
    tied: count("differs") === 0
  }
}

/** The report as a table: one line per day, differing days followed by their causes. */
export const formatTieOut = (r: TieOutReport): string => {
  const header = `shopify ${r.account}: ${r.since} .. ${r.until} (${r.zone}, ${r.currency}): ${r.tiedDays} day(s) tied, ${r.differingDays} differ, ${r.syncingDays} still syncing`
  const rows = r.days.map((d) => {
    const line = `${d.day}  ${d.status.padEnd(7)}  orders ${String(d.shopify.orders).padStart(5)} / ${String(d.warehouse.orders).padStart(5)}  total_sales ${d.shopify.totalSales.padStart(14)} / ${d.warehouse.totalSales.padStart(14)}${d.status === "tied" ? "" : `  (Shopify − warehouse: ${d.ordersDifference} orders, ${d.totalSalesDifference})`}`
    return [line, ...d.causes.map((c) => `            - ${c}`)].join("\n")
  })
  return [
    header,
    "day         status   orders Shopify / warehouse   total_sales Shopify / warehouse",
    ...rows
  ].join("\n")
}

/**
 * One log line per shop for alerting (DEPLOY.md §10, `deploy/monitoring/tie-out-differs.policy.json`):
 * `tie-out differs` (ERROR) when a day differs, else `tie-out tied`, labelled with the pseudo-stream
 * `shopify/<shop>/tie-out` so the incident names the shop.
 */
export const logTieOut = (r: TieOutReport): Effect.Effect<void> => {
  const firstDiffering = r.days.find((d) => d.status === "differs")
  const annotations = {
    stream: `shopify/${r.account}/tie-out`,
    since: r.since,
    until: r.until,
    days: r.days.length,
    tiedDays: r.tiedDays,
    differingDays: r.differingDays,
    syncingDays: r.syncingDays,
    ...(firstDiffering === undefined ? {} : { firstDifferingDay: firstDiffering.day })
  }
  return (r.tied ? Effect.logInfo("tie-out tied") : Effect.logError("tie-out differs")).pipe(
    Effect.annotateLogs(annotations)
  )
}
