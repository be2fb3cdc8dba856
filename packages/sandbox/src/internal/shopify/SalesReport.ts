/**
 * Shopify's sales report per shop-zone day, computed on demand from the merchant's current state
 * (so every `mutate`, refund, cancellation and deletion shows on the next query) with the events of
 * `SalesEvents.ts`.
 *
 * What counts: online (Shopify) orders only, POS sales being Lightspeed's; not deleted orders
 * (whenever deleted, Shopify removes them from reports, their refunds and reversals too); orders
 * the generator renders malformed do count (Shopify's own report still has them); no event dated
 * after the emulator's clock.
 *
 * Cost: one order generation per online order created in the range, plus the earlier orders with a
 * refund or cancellation in it (found without generation, or among the mutated orders). A report
 * over the whole history is O(orders), about 8 µs per order on the 2-core dev VM: ~60 ms for a
 * year at 10k orders, but ~8 s of one core per query at 1M orders (a day at 1M: ~30 ms). Nothing is
 * cached, so every answer reflects the merchant's current state.
 */
import type { Merchant } from "../Merchant.js"
import type { Order } from "../model.js"
import { zoneOffsetMinutes } from "./format.js"
import { type SalesFigures, salesEventsOf, zeroFigures } from "./SalesEvents.js"

const DAY = 86_400_000

/** The shop-zone day number (days since 1970-01-01 in `timeZone`) of an instant. */
export const shopDay = (ms: number, timeZone: string): number =>
  Math.floor((ms + zoneOffsetMinutes(ms, timeZone) * 60_000) / DAY)

/** `YYYY-MM-DD` of a day number. */
export const isoDay = (day: number): string => new Date(day * DAY).toISOString().slice(0, 10)

/** One day of the report: its figures and how many events (sales, refunds, reversals) it holds. */
export interface SalesDay {
  readonly day: number
  events: number
  readonly figures: SalesFigures
}

/**
 * The report's days in [since, until] (shop-zone day numbers, inclusive) that hold at least one
 * event, keyed by day number.
 */
export const salesByDay = (
  m: Merchant,
  timeZone: string,
  since: number,
  until: number,
  now: number
): Map<number, SalesDay> => {
  const out = new Map<number, SalesDay>()
  // Offsets change at most on the hour: remember the last hour's, instead of a cache lookup per event.
  let hour = Number.NaN
  let offset = 0
  const dayOf = (ms: number): number => {
    const h = Math.floor(ms / 3_600_000)
    if (h !== hour) {
      hour = h
      offset = zoneOffsetMinutes(ms, timeZone) * 60_000
    }
    return Math.floor((ms + offset) / DAY)
  }
  const add = (o: Order): void => {
    if (o.deletedAt !== null) return
    for (const e of salesEventsOf(o)) {
      if (e.at > now) continue
      const day = dayOf(e.at)
      if (day < since || day > until) continue
      let d = out.get(day)
      if (d === undefined) {
        d = { day, events: 0, figures: zeroFigures() }
        out.set(day, d)
      }
      d.events++
      for (const k in e.figures) {
        const key = k as keyof SalesFigures
        d.figures[key] += e.figures[key]
      }
    }
  }
  // Instants that can fall on the range's days in any zone (offsets are within ±14 h).
  const from = since * DAY - DAY
  const to = Math.min((until + 2) * DAY, now + 1)
  if (to <= from) return out
  // The generator sets processedAt = createdAt (the sequence's order) and dates the refunds and
  // cancellations it generates within maxBaseUpdateLagMs after it (`baseRefundAt` says when, without
  // generating the order); later ones come from mutations, which leave updatedAt at or after them.
  const lo = m.orderIndexAtOrAfter(from - m.maxBaseUpdateLagMs)
  const first = m.orderIndexAtOrAfter(from)
  const hi = m.orderIndexAtOrAfter(to)
  const done = new Set<number>()
  const visit = (i: number): void => {
    if (done.has(i) || m.orderChannelAt(i) !== "online") return
    done.add(i)
    const o = m.orderAt(i)
    if (o !== undefined) add(o)
  }
  for (let i = lo; i < first; i++) if ((m.baseRefundAt(i) ?? Number.NEGATIVE_INFINITY) >= from) visit(i)
  for (const i of m.mutatedOrderIndexes(from, Number.POSITIVE_INFINITY)) if (i < first) visit(i)
  for (let i = first; i < hi; i++) {
    if (m.orderChannelAt(i) !== "online") continue
    const o = m.orderAt(i)
    if (o !== undefined) add(o)
  }
  return out
}
