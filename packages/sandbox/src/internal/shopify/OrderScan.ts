/**
 * Pages over the merchant's lazy order sequence in O(page): the cursor is the sequence index,
 * created_at ranges map to index ranges by binary search, and updated_at ranges use
 * createdAt ∈ [from − maxBaseUpdateLag, to) plus the merchant's list of mutated orders.
 * Sorting by UPDATED_AT merges the nearly-sorted base sequence with the mutated orders and stops
 * as soon as no later order can still sort earlier.
 */
import type { Merchant } from "../Merchant.js"
import type { Order } from "../model.js"
import { inRange, type TimeRange } from "./search.js"

/** What to page over. */
export interface OrderScanQuery {
  readonly created: TimeRange | null
  readonly updated: TimeRange | null
  /** Extra predicate (status filters, ids…), applied after the range checks. */
  readonly where?: (order: Order) => boolean
  readonly sort: "index" | "updated"
  readonly reverse: boolean
}

/** Position after which the next page starts (exclusive). */
export interface OrderCursor {
  readonly index: number
  readonly updatedAt?: number
}

/** One page of orders plus whether more follow. */
export interface OrderPage {
  readonly orders: ReadonlyArray<Order>
  readonly hasMore: boolean
}

/** Whether an order belongs to the Shopify store and passes the query. */
export const orderMatches = (q: OrderScanQuery, o: Order): boolean =>
  o.channel === "online" &&
  o.deletedAt === null &&
  inRange(q.created, o.createdAt) &&
  inRange(q.updated, o.updatedAt) &&
  (q.where === undefined || q.where(o))

const indexAt = (m: Merchant, t: number): number =>
  t === Number.NEGATIVE_INFINITY
    ? 0
    : t === Number.POSITIVE_INFINITY
      ? m.orderCount
      : m.orderIndexAtOrAfter(t)

/** Index bounds [lo, hi) that can hold matches. */
const bounds = (m: Merchant, q: OrderScanQuery): readonly [number, number] => {
  let lo = 0
  let hi = m.orderCount
  if (q.created !== null) {
    lo = Math.max(lo, indexAt(m, q.created.from))
    hi = Math.min(hi, indexAt(m, q.created.to))
  }
  if (q.updated !== null) hi = Math.min(hi, indexAt(m, q.updated.to))
  return [lo, hi]
}

const mutated = (m: Merchant, q: OrderScanQuery, lo: number, hi: number): ReadonlyArray<number> => {
  if (q.updated === null) return []
  const from = Math.max(0, q.updated.from)
  const to = Math.min(Number.MAX_SAFE_INTEGER, q.updated.to)
  return m.mutatedOrderIndexes(from, to).filter((i) => i >= lo && i < hi)
}

/** A page in index order (CREATED_AT, ID, PROCESSED_AT…). */
const indexPage = (m: Merchant, q: OrderScanQuery, after: OrderCursor | null, limit: number): OrderPage => {
  const [lo, hi] = bounds(m, q)
  const baseLo = q.updated === null ? lo : Math.max(lo, indexAt(m, q.updated.from - m.maxBaseUpdateLagMs))
  const extra = mutated(m, q, lo, hi).filter((i) => i < baseLo)
  const out: Array<Order> = []
  const take = (i: number): boolean => {
    if (m.orderChannelAt(i) !== "online") return false
    const o = m.orderAt(i)
    if (o !== undefined && orderMatches(q, o)) out.push(o)
    return out.length > limit
  }
  if (!q.reverse) {
    const start = after === null ? 0 : after.index + 1
    for (const i of extra) if (i >= start && take(i)) break
    if (out.length <= limit) for (let i = Math.max(baseLo, start); i < hi; i++) if (take(i)) break
  } else {
    const start = after === null ? hi - 1 : Math.min(hi - 1, after.index - 1)
    let stopped = false
    for (let i = start; i >= baseLo; i--) {
      if (take(i)) {
        stopped = true
        break
      }
    }
    if (!stopped)
      for (let k = extra.length - 1; k >= 0; k--) if ((extra[k] ?? 0) <= start && take(extra[k] ?? 0)) break
  }
  return { orders: out.slice(0, limit), hasMore: out.length > limit }
}

const cmp = (a: Order, b: Order): number => a.updatedAt - b.updatedAt || a.index - b.index
const afterCursor = (o: Order, c: OrderCursor | null, reverse: boolean): boolean => {
  if (c === null) return true
  const u = c.updatedAt ?? 0
  const d = o.updatedAt - u || o.index - c.index
  return reverse ? d < 0 : d > 0
}

/** A page sorted by (updatedAt, index). */
const updatedPage = (m: Merchant, q: OrderScanQuery, after: OrderCursor | null, limit: number): OrderPage => {
  const [lo, hi] = bounds(m, q)
  const lag = m.maxBaseUpdateLagMs
  const want = limit + 1
  const seen = new Set<number>()
  let buffer: Array<Order> = []
  const consider = (o: Order | undefined): void => {
    if (o === undefined || seen.has(o.index) || !orderMatches(q, o) || !afterCursor(o, after, q.reverse))
      return
    seen.add(o.index)
    buffer.push(o)
  }
  const trim = (): void => {
    buffer.sort(q.reverse ? (a, b) => cmp(b, a) : cmp)
    if (buffer.length > want) buffer = buffer.slice(0, want)
  }
  const clamp = (t: number): number => Math.min(Number.MAX_SAFE_INTEGER, Math.max(0, t))
  const mFrom = q.reverse ? (q.updated?.from ?? 0) : Math.max(q.updated?.from ?? 0, after?.updatedAt ?? 0)
  const mTo = q.reverse
    ? Math.min(q.updated?.to ?? Number.POSITIVE_INFINITY, (after?.updatedAt ?? Number.POSITIVE_INFINITY) + 1)
    : (q.updated?.to ?? Number.POSITIVE_INFINITY)
  for (const i of m.mutatedOrderIndexes(clamp(mFrom), clamp(mTo)))
    if (i >= lo && i < hi) consider(m.orderAt(i))
  if (!q.reverse) {
    const floor = Math.max(
      q.updated?.from ?? Number.NEGATIVE_INFINITY,
      after?.updatedAt ?? Number.NEGATIVE_INFINITY
    )
    let i = Math.max(lo, indexAt(m, floor - lag))
    let threshold = Number.POSITIVE_INFINITY
    for (; i < hi; i++) {
      if (m.orderChannelAt(i) !== "online") continue
      const o = m.orderAt(i)
      if (o === undefined) break
      if (o.createdAt > threshold) break
      consider(o)
      if (buffer.length >= 2 * want) {
        trim()
        threshold = buffer[want - 1]?.updatedAt ?? threshold
      }
    }
  } else {
    const ceiling = Math.min(
      q.updated?.to ?? Number.POSITIVE_INFINITY,
      (after?.updatedAt ?? Number.POSITIVE_INFINITY) + 1
    )
    let i = Math.min(hi, indexAt(m, ceiling)) - 1
    let threshold = Number.NEGATIVE_INFINITY
    const floor = q.updated === null ? lo : Math.max(lo, indexAt(m, q.updated.from - lag))
    for (; i >= floor; i--) {
      if (m.orderChannelAt(i) !== "online") continue
      const o = m.orderAt(i)
      if (o === undefined) break
      if (o.createdAt + lag < threshold) break
      consider(o)
      if (buffer.length >= 2 * want) {
        trim()
        threshold = buffer[want - 1]?.updatedAt ?? threshold
      }
    }
  }
  trim()
  return { orders: buffer.slice(0, limit), hasMore: buffer.length > limit }
}

/** One page of matching orders after `after`. */
export const scanOrders = (
  m: Merchant,
  q: OrderScanQuery,
  after: OrderCursor | null,
  limit: number
): OrderPage => (q.sort === "updated" ? updatedPage(m, q, after, limit) : indexPage(m, q, after, limit))

/** Counts matches, stopping at `limit` (then the count is a lower bound). */
export const countOrders = (
  m: Merchant,
  q: OrderScanQuery,
  limit: number
): { count: number; exact: boolean } => {
  let count = 0
  let cursor: OrderCursor | null = null
  const index: OrderScanQuery = { ...q, sort: "index", reverse: false }
  for (;;) {
    const page = scanOrders(m, index, cursor, 1000)
    count += page.orders.length
    if (count >= limit) return { count: limit, exact: false }
    const last = page.orders[page.orders.length - 1]
    if (!page.hasMore || last === undefined) return { count, exact: true }
    cursor = { index: last.index }
  }
}
