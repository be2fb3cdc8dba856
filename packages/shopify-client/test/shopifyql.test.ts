/**
 * ShopifyQL through the client against the sandbox's emulator (which answers `shopifyqlQuery`
 * from its own store model): `salesByDay` asks a month at a time and returns exactly what one
 * query over the whole range answers; rows sent as lists and money as JSON numbers decode the
 * same; a query Shopify cannot parse is a `ShopifyqlParseErrors` failure, never an empty table.
 */
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ShopifyClient } from "../src/ShopifyClient.js"
import type { ShopifyError } from "../src/ShopifyError.js"
import { reportContext, salesByDay, salesByDayQuery, shopifyql } from "../src/Shopifyql.js"
import { startProxy } from "./proxy.js"
import { clientLayer, type Sandbox, startSandbox } from "./sandbox.js"

const run = <A>(sb: Sandbox, eff: Effect.Effect<A, ShopifyError, ShopifyClient>, over = {}) =>
  Effect.runPromise(Effect.provide(eff, clientLayer(sb, over)))
const runExit = <A>(sb: Sandbox, eff: Effect.Effect<A, ShopifyError, ShopifyClient>, over = {}) =>
  Effect.runPromiseExit(Effect.provide(eff, clientLayer(sb, over)))

/** The emulator's answer to one ShopifyQL query, asked without the client. */
const direct = async (sb: Sandbox, query: string) => {
  const r = await fetch(`${sb.handle.baseUrl}/admin/api/2026-01/graphql.json`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-shopify-access-token": sb.handle.credentials.accessToken
    },
    body: JSON.stringify({
      query:
        "query Q($q: String!) { shopifyqlQuery(query: $q) { parseErrors tableData { columns { name dataType displayName } rows } } }",
      variables: { q: query }
    })
  })
  return (
    (await r.json()) as { data: { shopifyqlQuery: { tableData: { rows: Array<Record<string, unknown>> } } } }
  ).data.shopifyqlQuery.tableData.rows
}

const dayOf = (t: number, zone: string) =>
  new Intl.DateTimeFormat("en-CA", {
    timeZone: zone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit"
  }).format(t)

describe("ShopifyQL through the client (sandbox)", () => {
  let sb: Sandbox
  let zone: string
  let since: string
  let until: string
  beforeAll(async () => {
    sb = await startSandbox({ orders: 300, historyDays: 120, timeScale: 100 })
    const context = await run(sb, reportContext)
    zone = context.zone
    expect(context.currency).toBe("JPY")
    until = dayOf(Date.now(), zone)
    since = dayOf(Date.now() - 74 * 86_400_000, zone)
  })
  afterAll(() => sb.close())

  it("salesByDay asks a month at a time and equals one query over the whole range, day for day", async () => {
    const [days, telemetry] = await run(
      sb,
      Effect.gen(function* () {
        const days = yield* salesByDay({ since, until })
        return [days, yield* (yield* ShopifyClient).telemetry] as const
      })
    )
    expect(days).toHaveLength(75)
    expect(days[0]?.day).toBe(since)
    expect(days.at(-1)?.day).toBe(until)
    expect(telemetry.calls).toBe(3) // 31 + 31 + 13 days
    const whole = await direct(sb, salesByDayQuery(since, until))
    expect(days.map((d) => [d.day, d.orders, d.totalSales.normalize().toString()])).toEqual(
      whole.map((r) => [
        String(r.day).slice(0, 10),
        Number(r.orders),
        String(r.total_sales).replace(/\.?0+$/, "") || "0"
      ])
    )
    expect(days.reduce((n, d) => n + d.orders, 0)).toBeGreaterThan(50)
    expect(days.some((d) => d.totalSales.isNegative() || !d.totalSales.isZero())).toBe(true)
  })

  it("rows sent as lists aligned with the columns, with money as JSON numbers, decode the same", async () => {
    const reference = await run(sb, salesByDay({ since, until }))
    const proxy = await startProxy(sb.handle.baseUrl, async (body) => {
      if (!body.includes("KuraShopifyql")) return { _tag: "forward" }
      const r = await fetch(`${sb.handle.baseUrl}/admin/api/2026-10/graphql.json`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-shopify-access-token": sb.handle.credentials.accessToken
        },
        body
      })
      const json = (await r.json()) as {
        data: { shopifyqlQuery: { tableData: { columns: Array<{ name: string }>; rows: Array<unknown> } } }
      }
      const t = json.data.shopifyqlQuery.tableData
      t.rows = (t.rows as Array<Record<string, unknown>>).map((row) =>
        t.columns.map((c) => (c.name === "total_sales" ? Number(row[c.name]) : row[c.name]))
      )
      return { _tag: "answer", status: 200, body: JSON.stringify(json) }
    })
    try {
      const viaLists = await run(sb, salesByDay({ since, until }), { baseUrl: proxy.baseUrl })
      expect(viaLists.map((d) => [d.day, d.orders, d.totalSales.normalize().toString()])).toEqual(
        reference.map((d) => [d.day, d.orders, d.totalSales.normalize().toString()])
      )
    } finally {
      await proxy.close()
    }
  })

  it("a query Shopify cannot parse fails with ShopifyqlParseErrors; bad dates fail before any call", async () => {
    const parse = await runExit(sb, shopifyql("FROM nowhere SHOW total_sales SINCE -7d UNTIL today"))
    expect(parse._tag).toBe("Failure")
    const text = JSON.stringify(parse)
    expect(text).toContain("ShopifyqlParseErrors")
    expect(text).toContain("FROM nowhere")
    const [bad, telemetry] = await run(
      sb,
      Effect.gen(function* () {
        const exit = yield* Effect.exit(salesByDay({ since: "2026-02-30", until }))
        return [exit, yield* (yield* ShopifyClient).telemetry] as const
      })
    )
    expect(bad._tag).toBe("Failure")
    expect(JSON.stringify(bad)).toContain("since must be a date YYYY-MM-DD")
    expect(telemetry.calls).toBe(0)
    const backwards = await runExit(sb, salesByDay({ since: until, until: since }))
    expect(JSON.stringify(backwards)).toContain("is after until")
  })
})
