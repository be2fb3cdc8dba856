// `shopifyqlQuery` over real HTTP: the sales report must equal an independent recomputation from
// the store model (and the ground truth), follow mutations exactly, resolve dates in the shop's
// zone, and answer Shopify's documented shapes for parse errors and missing scopes.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeClock } from "../../src/internal/clock.js"
import { defaultMerchantOptions, makeMerchant } from "../../src/internal/generator/makeMerchant.js"
import type { Merchant } from "../../src/internal/Merchant.js"
import type { Order } from "../../src/internal/model.js"
import { DEFAULT_SCOPES } from "../../src/internal/shopify/ShopifyEmulatorOptions.js"
import { type Sandbox, startSandbox } from "../../src/startSandbox.js"
import { sandboxGraphql } from "../sandboxGraphql.js"
import { type Json, type Started, start, UNMETERED } from "./harness.js"

const DAY = 86_400_000
const ALL_METRICS = [
  "orders",
  "gross_sales",
  "discounts",
  "returns",
  "net_sales",
  "shipping_charges",
  "taxes",
  "total_sales"
] as const

const SHOPIFYQL = `query Report($q: String!) {
  shopifyqlQuery(query: $q) {
    parseErrors
    tableData { columns { name dataType displayName subType } rows }
  }
}`

/** Expected figures of one shop-zone day. */
interface Day {
  orders: number
  total: number
  returns: number
  events: number
}

/** `YYYY-MM-DD` of an instant in `timeZone`, by Intl (not the emulator's offset arithmetic). */
const localDate = (timeZone: string) => {
  const fmt = new Intl.DateTimeFormat("en-CA", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit"
  })
  return (ms: number): string => fmt.format(ms)
}

const addDays = (iso: string, n: number): string =>
  new Date(Date.parse(`${iso}T00:00:00Z`) + n * DAY).toISOString().slice(0, 10)

/** Every day from `a` to `b` inclusive. */
const daysBetween = (a: string, b: string): Array<string> => {
  const out: Array<string> = []
  for (let d = a; d <= b; d = addDays(d, 1)) out.push(d)
  return out
}

/**
 * The rules written out plainly over every order of the model: sales at processedAt, refunds at
 * their own instant, a cancelled order's unrefunded rest at cancelledAt; deleted orders and events
 * after `now` left out; malformed renderings counted.
 */
const recompute = (m: Merchant, timeZone: string, now: number): Map<string, Day> => {
  const dateOf = localDate(timeZone)
  const out = new Map<string, Day>()
  const at = (ms: number): Day | undefined => {
    if (ms > now) return undefined
    const key = dateOf(ms)
    let d = out.get(key)
    if (d === undefined) {
      d = { orders: 0, total: 0, returns: 0, events: 0 }
      out.set(key, d)
    }
    d.events++
    return d
  }
  for (let i = 0; i < m.orderCount; i++) {
    const o = m.orderAt(i)
    if (o === undefined || o.channel !== "online" || o.deletedAt !== null) continue
    const sale = at(o.processedAt)
    if (sale !== undefined) {
      sale.orders++
      sale.total += o.total
    }
    for (const r of o.refunds) {
      const d = at(r.createdAt)
      if (d !== undefined) d.total -= r.amount
    }
    const unrefunded = o.total - o.refunds.reduce((a, r) => a + r.amount, 0)
    if (o.cancelledAt !== null && unrefunded > 0) {
      const d = at(o.cancelledAt)
      if (d !== undefined) {
        d.total -= unrefunded
        d.returns -= unrefunded
      }
    }
  }
  return out
}

/** A minor-unit amount from a JPY decimal string ("1234.00"). */
const yen = (s: string): number => {
  expect(s).toMatch(/^-?\d+\.00$/)
  return Number(s)
}

const report = async (post: (q: string) => Promise<Json>, q: string) => {
  const body = await post(q)
  expect(body.errors).toBeUndefined()
  expect(body.data.shopifyqlQuery.parseErrors).toEqual([])
  return body.data.shopifyqlQuery.tableData as { columns: Array<Json>; rows: Array<Json> }
}

describe("Shopify emulator: shopifyqlQuery (FROM sales)", () => {
  let sb: Sandbox
  let tz = ""
  let today = ""
  let first = ""
  const post = async (q: string): Promise<Json> => {
    const res = await sandboxGraphql(sb, SHOPIFYQL, { q })
    expect(res.status).toBe(200)
    return res.json()
  }

  beforeAll(async () => {
    sb = await startSandbox({ seed: 11, scale: 1500, historyDays: 90, malformedPerSource: 0, plan: "plus" })
    const shop: Json = await (await sandboxGraphql(sb, "{ shop { ianaTimezone currencyCode } }")).json()
    expect(shop.data.shop.currencyCode).toBe("JPY")
    tz = shop.data.shop.ianaTimezone
    today = localDate(tz)(Date.now())
    const o = sb.merchant.orderAt(0)
    first = localDate(tz)(o?.processedAt ?? 0)
  })
  afterAll(() => sb.close())

  it("TIMESERIES day equals a recomputation from the store model, zero-filled days included", async () => {
    const since = addDays(first, -3)
    const table = await report(
      post,
      `FROM sales SHOW orders, total_sales TIMESERIES day SINCE ${since} UNTIL today`
    )
    const expected = recompute(sb.merchant, tz, Date.now())
    expect(table.rows.map((r) => r.day)).toEqual(daysBetween(since, today))
    for (const r of table.rows) {
      const e = expected.get(r.day) ?? { orders: 0, total: 0 }
      expect({ day: r.day, orders: r.orders, total: yen(r.total_sales) }).toEqual({
        day: r.day,
        orders: e.orders,
        total: e.total
      })
    }
    // The days before the history are there, at zero.
    expect(table.rows.slice(0, 3)).toEqual(
      daysBetween(since, addDays(first, -1)).map((day) => ({ day, orders: 0, total_sales: "0.00" }))
    )
    expect(table.rows.reduce((a, r) => a + r.orders, 0)).toBe(sb.groundTruth().counts.onlineOrders)
  })

  it("ties to the ground truth's online revenue: orders and order totals by day, refunds on their own day", async () => {
    const table = await report(
      post,
      `FROM sales SHOW orders, total_sales GROUP BY day SINCE ${first} UNTIL today`
    )
    const truth = new Map<string, { orders: number; total: number }>()
    for (const row of sb.groundTruth().revenueByDay) {
      if (row.channel !== "online") continue
      const t = truth.get(row.businessDate) ?? { orders: 0, total: 0 }
      t.orders += row.orders
      t.total += row.gross - row.refunds
      truth.set(row.businessDate, t)
    }
    const got = new Map(table.rows.map((r) => [r.day, { orders: r.orders, total: yen(r.total_sales) }]))
    expect(got).toEqual(truth)
  })

  it("GROUP BY day lists only the days with an event, with the same figures", async () => {
    const since = addDays(first, -3)
    const q = (g: string) => `FROM sales SHOW orders, total_sales ${g} SINCE ${since} UNTIL today`
    const series = await report(post, q("TIMESERIES day"))
    const grouped = await report(post, q("GROUP BY day"))
    const expected = recompute(sb.merchant, tz, Date.now())
    const withEvents = [...expected.keys()].filter((d) => d >= since && d <= today).sort()
    expect(grouped.rows.map((r) => r.day)).toEqual(withEvents)
    expect(grouped.rows.length).toBeLessThan(series.rows.length)
    expect(grouped.rows).toEqual(series.rows.filter((r) => withEvents.includes(r.day)))
  })

  it("a one-day report equals that day of the whole history's, refunds of earlier orders included", async () => {
    const all = await report(
      post,
      `FROM sales SHOW orders, total_sales, returns TIMESERIES day SINCE ${first} UNTIL today`
    )
    const days = all.rows.slice(-30)
    for (const row of days) {
      const one = await report(
        post,
        `FROM sales SHOW orders, total_sales, returns TIMESERIES day SINCE ${row.day} UNTIL ${row.day}`
      )
      expect(one.rows).toEqual([row])
    }
    // Some of those days hold refunds of orders placed before the day.
    expect(days.filter((r) => r.returns !== "0.00").length).toBeGreaterThan(5)
  })

  it("the totals form is one row without a day column, the sum of the days for every metric", async () => {
    const range = `SINCE ${first} UNTIL today`
    const totals = await report(post, `FROM sales SHOW ${ALL_METRICS.join(", ")} ${range}`)
    const days = await report(post, `FROM sales SHOW ${ALL_METRICS.join(", ")} TIMESERIES day ${range}`)
    expect(totals.columns.map((c) => c.name)).toEqual([...ALL_METRICS])
    expect(totals.rows).toHaveLength(1)
    for (const metric of ALL_METRICS) {
      const sum = days.rows.reduce((a, r) => a + (metric === "orders" ? r.orders : yen(r[metric])), 0)
      const total = totals.rows[0][metric]
      expect(metric === "orders" ? total : yen(total)).toBe(sum)
    }
    for (const r of days.rows) {
      const v = (k: string) => yen(r[k])
      expect(v("net_sales")).toBe(v("gross_sales") + v("discounts") + v("returns"))
      expect(v("total_sales")).toBe(v("net_sales") + v("shipping_charges") + v("taxes"))
      expect(v("discounts")).toBeLessThanOrEqual(0)
      expect(v("returns")).toBeLessThanOrEqual(0)
    }
    const t = (k: string) => yen(totals.rows[0][k])
    expect(t("discounts")).toBeLessThan(0)
    expect(t("returns")).toBeLessThan(0)
    expect(t("shipping_charges")).toBeGreaterThan(0)
    expect(t("taxes")).toBeGreaterThan(0)
    expect(t("gross_sales")).toBeGreaterThan(t("net_sales"))
  })

  it("answers Shopify's documented shape at a fixed cost of 10 points", async () => {
    const res = await sandboxGraphql(sb, SHOPIFYQL, {
      q: "FROM sales SHOW total_sales, orders SINCE -6d UNTIL today GROUP BY day ORDER BY day DESC"
    })
    const body: Json = await res.json()
    expect(body.errors).toBeUndefined()
    const { parseErrors, tableData } = body.data.shopifyqlQuery
    expect(parseErrors).toEqual([])
    expect(tableData.columns).toEqual([
      { name: "day", dataType: "DAY_TIMESTAMP", displayName: "Day", subType: null },
      { name: "total_sales", dataType: "MONEY", displayName: "Total sales", subType: null },
      { name: "orders", dataType: "INTEGER", displayName: "Orders", subType: null }
    ])
    expect(tableData.rows.length).toBeGreaterThan(0)
    for (const r of tableData.rows) {
      expect(Object.keys(r)).toEqual(["day", "total_sales", "orders"])
      expect(r.day).toMatch(/^\d{4}-\d{2}-\d{2}$/)
      expect(r.total_sales).toMatch(/^-?\d+\.\d{2}$/)
      expect(Number.isInteger(r.orders)).toBe(true)
    }
    expect(body.extensions.cost.requestedQueryCost).toBe(10)
    expect(body.extensions.cost.actualQueryCost).toBe(10)
  })

  it("reads keywords in any case and across lines", async () => {
    const table = await report(
      post,
      "from Sales\n  show TOTAL_SALES,orders\n  since -3d until TODAY\n  timeseries DAY\n  order by day asc"
    )
    expect(table.rows.map((r) => r.day)).toEqual(daysBetween(addDays(today, -3), today))
  })

  it.each([
    ["FROM sales SHOW foo SINCE -7d", "Unknown metric 'foo' for table sales"],
    ["FROM orders SHOW total_sales SINCE -7d", "Unknown table 'orders'"],
    ["SHOW total_sales SINCE -7d", "FROM"],
    ["FROM sales SINCE -7d", "SHOW"],
    ["FROM sales", "SHOW"],
    ["FROM sales SHOW total_sales WHERE sales_channel = 'Online Store' SINCE -7d", "WHERE is not supported"],
    ["FROM sales SHOW total_sales TIMESERIES month SINCE -7d", "TIMESERIES month is not supported"],
    [
      "FROM sales SHOW total_sales SINCE -7d ORDER BY total_sales DESC",
      "ORDER BY total_sales is not supported"
    ],
    ["FROM sales SHOW total_sales", "date range is required"],
    ["FROM sales SHOW total_sales SINCE 2026-02-30", "Unsupported date '2026-02-30'"],
    ["FROM sales SHOW total_sales SINCE today UNTIL -3d", "UNTIL is before SINCE"],
    ["FROM sales SHOW total_sales DURING bfcm2025", "Unsupported date range 'bfcm2025'"]
  ])("a query outside the subset answers parseErrors and no table: %s", async (q, message) => {
    const res = await sandboxGraphql(sb, SHOPIFYQL, { q })
    expect(res.status).toBe(200)
    const body: Json = await res.json()
    expect(body.errors).toBeUndefined()
    expect(body.data.shopifyqlQuery.tableData).toBeNull()
    expect(body.data.shopifyqlQuery.parseErrors).toHaveLength(1)
    expect(body.data.shopifyqlQuery.parseErrors[0]).toContain(message)
  })

  it("after mutate and deletions, each day changes exactly by the changed orders' events", async () => {
    const m = sb.merchant
    const q = `FROM sales SHOW orders, total_sales TIMESERIES day SINCE ${first} UNTIL today`
    const snapshot = (): Map<number, Order> => {
      const out = new Map<number, Order>()
      for (let i = 0; i < m.orderCount; i++) {
        const o = m.orderAt(i)
        if (o !== undefined && o.channel === "online") out.set(i, o)
      }
      return out
    }
    const byDay = (t: { rows: Array<Json> }) =>
      new Map<string, { orders: number; total: number }>(
        t.rows.map((r) => [r.day, { orders: r.orders, total: yen(r.total_sales) }])
      )
    const ordersBefore = snapshot()
    const before = byDay(await report(post, q))
    const touched = [...sb.mutate({ fraction: 0.1 }), ...sb.deleteOrders(3)]
    const after = byDay(await report(post, q))

    const dateOf = localDate(tz)
    const delta = new Map<string, { orders: number; total: number }>()
    const move = (ms: number, orders: number, total: number): void => {
      const key = dateOf(ms)
      const d = delta.get(key) ?? { orders: 0, total: 0 }
      d.orders += orders
      d.total += total
      delta.set(key, d)
    }
    const seen = { deleted: 0, refunded: 0, cancelled: 0 }
    for (const i of new Set(touched)) {
      const was = ordersBefore.get(i)
      const now = m.orderAt(i)
      if (was === undefined || now === undefined) continue
      if (now.deletedAt !== null) {
        // Gone from the report: its sale, its refunds and any reversal.
        seen.deleted++
        move(was.processedAt, -1, -was.total)
        for (const r of was.refunds) move(r.createdAt, 0, r.amount)
        continue
      }
      for (const r of now.refunds.slice(was.refunds.length)) {
        seen.refunded++
        move(r.createdAt, 0, -r.amount)
      }
      if (was.cancelledAt === null && now.cancelledAt !== null) {
        seen.cancelled++
        const rest = now.total - now.refunds.reduce((a, r) => a + r.amount, 0)
        if (rest > 0) move(now.cancelledAt, 0, -rest)
      }
    }
    expect(seen.deleted).toBeGreaterThanOrEqual(3)
    expect(seen.refunded).toBeGreaterThan(seen.cancelled)
    expect(seen.cancelled).toBeGreaterThan(0)
    expect([...after.keys()]).toEqual([...before.keys()])
    for (const [day, b] of before) {
      const d = delta.get(day) ?? { orders: 0, total: 0 }
      expect({ day, ...after.get(day) }).toEqual({
        day,
        orders: b.orders + d.orders,
        total: b.total + d.total
      })
    }
    // The mutations happened today: today's total fell by at least the new refunds, and a report
    // of today alone sees them too (refunds of orders placed weeks before the range).
    expect(delta.get(today)?.total ?? 0).toBeLessThan(0)
    const todayOnly = byDay(
      await report(post, "FROM sales SHOW orders, total_sales TIMESERIES day DURING today")
    )
    expect(todayOnly.get(today)).toEqual(after.get(today))
    // And the model still recomputes to the answer.
    const expected = recompute(m, tz, Date.now())
    for (const [day, a] of after) {
      const e = expected.get(day) ?? { orders: 0, total: 0 }
      expect({ day, orders: a.orders, total: a.total }).toEqual({ day, orders: e.orders, total: e.total })
    }
  })
})

describe("Shopify emulator: shopifyqlQuery dates, clock and cancellations", () => {
  // 2026-03-10 16:00 UTC is 2026-03-11 01:00 in Tokyo: UTC and the shop's zone disagree on "today".
  const NOW = Date.UTC(2026, 2, 10, 16, 0)
  let s: Started
  let cancelled = false
  let target: Order | undefined
  /** The model with one order cancelled (without a refund) once `cancelled` is set. */
  const withCancellation = (base: Merchant): Merchant =>
    new Proxy(base, {
      get(t, p) {
        if (p !== "orderAt") return Reflect.get(t, p)
        return (i: number): Order | undefined => {
          const o = t.orderAt(i)
          return cancelled && o !== undefined && o.id === target?.id
            ? { ...o, cancelledAt: o.processedAt + 2 * DAY, cancelReason: "customer" }
            : o
        }
      }
    })
  const post = async (q: string): Promise<Json> => (await s.gql(SHOPIFYQL, { q })).body

  beforeAll(async () => {
    // History runs two days past the clock: those orders are in the future and must not count.
    const merchant = makeMerchant({
      ...defaultMerchantOptions(NOW + 2 * DAY),
      seed: 5,
      orders: 400,
      historyDays: 30,
      malformedPerSource: 2
    })
    for (let i = 0; i < merchant.orderCount; i++) {
      const o = merchant.orderAt(i)
      if (
        o?.channel === "online" &&
        o.refunds.length === 0 &&
        o.cancelledAt === null &&
        o.processedAt < NOW - 10 * DAY
      )
        target = o
    }
    s = await start({ merchant: withCancellation(merchant), plan: UNMETERED, clock: makeClock(1, () => NOW) })
  })
  afterAll(() => s.handle.close())

  it("resolves today, yesterday and -Nd in the shop's time zone", async () => {
    const week = await report(post, "FROM sales SHOW orders TIMESERIES day SINCE -7d UNTIL yesterday")
    expect(week.rows.map((r) => r.day)).toEqual(daysBetween("2026-03-04", "2026-03-10"))
    const y = await report(post, "FROM sales SHOW orders SINCE yesterday UNTIL yesterday TIMESERIES day")
    expect(y.rows.map((r) => r.day)).toEqual(["2026-03-10"])
    const t = await report(post, "FROM sales SHOW orders TIMESERIES day DURING today")
    expect(t.rows.map((r) => r.day)).toEqual(["2026-03-11"])
    const month = await report(post, "FROM sales SHOW orders TIMESERIES day DURING last_month")
    expect(month.rows.map((r) => r.day)).toEqual(daysBetween("2026-02-01", "2026-02-28"))
  })

  it("ORDER BY day DESC reverses the rows", async () => {
    const q = "FROM sales SHOW orders, total_sales TIMESERIES day SINCE -20d UNTIL today ORDER BY day"
    const asc = await report(post, q)
    const desc = await report(post, `${q} DESC`)
    expect(asc.rows.length).toBe(21)
    expect(desc.rows).toEqual([...asc.rows].reverse())
  })

  it("leaves out events after the clock and counts malformed renderings", async () => {
    const table = await report(
      post,
      "FROM sales SHOW orders, total_sales TIMESERIES day SINCE -40d UNTIL 2026-03-13"
    )
    const expected = recompute(s.merchant, "Asia/Tokyo", NOW)
    for (const r of table.rows) {
      const e = expected.get(r.day) ?? { orders: 0, total: 0 }
      expect({ day: r.day, orders: r.orders, total: yen(r.total_sales) }).toEqual({
        day: r.day,
        orders: e.orders,
        total: e.total
      })
    }
    const future = table.rows.filter((r) => r.day > "2026-03-11")
    expect(future).toEqual([
      { day: "2026-03-12", orders: 0, total_sales: "0.00" },
      { day: "2026-03-13", orders: 0, total_sales: "0.00" }
    ])
    // The model does have orders after the clock, and malformed ones before it.
    let later = 0
    let malformed = 0
    for (let i = 0; i < s.merchant.orderCount; i++) {
      const o = s.merchant.orderAt(i)
      if (o?.channel !== "online") continue
      if (o.processedAt > NOW) later++
      else if (o.malformed) malformed++
    }
    expect(later).toBeGreaterThan(0)
    expect(malformed).toBe(2)
  })

  it("a cancellation without a refund lowers its cancel day by the order total", async () => {
    expect(target).toBeDefined()
    const o = target as Order
    const dateOf = localDate("Asia/Tokyo")
    const saleDay = dateOf(o.processedAt)
    const cancelDay = dateOf(o.processedAt + 2 * DAY)
    const q = `FROM sales SHOW orders, total_sales, returns, net_sales TIMESERIES day SINCE ${saleDay} UNTIL ${cancelDay}`
    const before = await report(post, q)
    cancelled = true
    try {
      const after = await report(post, q)
      const at = (t: { rows: Array<Json> }, day: string) => t.rows.find((r) => r.day === day)
      expect(at(after, saleDay)).toEqual(at(before, saleDay))
      const b = at(before, cancelDay)
      const a = at(after, cancelDay)
      expect(a.orders).toBe(b.orders)
      expect(yen(a.total_sales)).toBe(yen(b.total_sales) - o.total)
      expect(yen(a.returns)).toBe(yen(b.returns) - o.total)
      expect(yen(a.net_sales)).toBe(yen(b.net_sales) - o.total)
    } finally {
      cancelled = false
    }
  })
})

describe("Shopify emulator: shopifyqlQuery scope", () => {
  let s: Started | undefined
  afterAll(() => s?.handle.close())

  it("is granted read_reports by default and refuses a token without it", async () => {
    expect(DEFAULT_SCOPES).toContain("read_reports")
    s = await start({
      orders: 20,
      historyDays: 10,
      options: { scopes: DEFAULT_SCOPES.filter((x) => x !== "read_reports") }
    })
    const r = await s.gql(SHOPIFYQL, { q: "FROM sales SHOW total_sales SINCE -7d" })
    expect(r.status).toBe(200)
    expect(r.body.data.shopifyqlQuery).toBeNull()
    const error = r.body.errors?.[0]
    expect(error?.extensions.code).toBe("ACCESS_DENIED")
    expect(error?.message).toContain("read_reports")
    expect(error?.path).toEqual(["shopifyqlQuery"])
  })
})
