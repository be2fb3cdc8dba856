/**
 * Pacing efficiency at Shopify Standard limits (2000-point bucket, 100 points/s restore; the
 * sandbox runs at timeScale 10, so 1000 points/s), measured on the same paginated extraction:
 * - Kura's ShopifyClient (cost estimate + core QueryCostBucket),
 * - `@shopify/admin-api-client` with a plain retry loop (sleep 1 s on THROTTLED, as commonly advised).
 * Reports points/s as a share of the restore rate (after the initial full bucket) and the number
 * of THROTTLED answers. A measurement, not an assertion.
 */
import { createAdminApiClient } from "@shopify/admin-api-client"
import { Effect, Schema } from "effect"
import { test } from "vitest"
import { ShopifyClient } from "../src/ShopifyClient.js"
import { clientLayer, type Sandbox, startSandbox } from "../test/sandbox.js"

const ORDERS = Number(process.env.KURA_BENCH_ORDERS ?? 5000)
const TIME_SCALE = 10
const PAGE = 200
const QUERY = `query BenchOrders($first: Int!, $after: String) {
  orders(first: $first, after: $after, sortKey: ID) {
    pageInfo { hasNextPage endCursor }
    nodes { id name updatedAt totalPriceSet { shopMoney { amount currencyCode } } }
  }
}`

const Page = Schema.Struct({
  orders: Schema.Struct({
    pageInfo: Schema.Struct({ hasNextPage: Schema.Boolean, endCursor: Schema.NullOr(Schema.String) }),
    nodes: Schema.Array(Schema.Struct({ id: Schema.String }))
  })
})
const decodePage = Schema.decodeUnknownSync(Page)
const Cost = Schema.Struct({ actualQueryCost: Schema.NullOr(Schema.Number) })
const decodeCost = Schema.decodeUnknownSync(Cost)

interface Result {
  readonly name: string
  readonly orders: number
  readonly seconds: number
  readonly points: number
  readonly throttled: number
  readonly requests: number
}

const report = (r: Result, sb: Sandbox) => {
  const restore = 100 * TIME_SCALE
  const steady = Math.max(0, r.points - 2000) / r.seconds
  console.log(
    `${r.name.padEnd(26)} orders=${r.orders} requests=${r.requests} seconds=${r.seconds.toFixed(2)} points=${r.points} ` +
      `points/s=${(r.points / r.seconds).toFixed(0)} steady-share=${((100 * steady) / restore).toFixed(1)}% ` +
      `THROTTLED=${r.throttled} (emulator counted ${sb.handle.stats().throttled ?? 0})`
  )
}

test("pacing: Kura vs @shopify/admin-api-client with a plain retry loop", async () => {
  // Kura
  const kuraSb = await startSandbox({ orders: ORDERS, historyDays: 50, timeScale: TIME_SCALE, fresh: true })
  try {
    const started = Date.now()
    const result = await Effect.runPromise(
      Effect.provide(
        Effect.gen(function* () {
          const client = yield* ShopifyClient
          let after: string | null = null
          let orders = 0
          for (;;) {
            const r = yield* client.query(QUERY, { first: PAGE, after })
            const page = decodePage(r.data)
            orders += page.orders.nodes.length
            if (!page.orders.pageInfo.hasNextPage) break
            after = page.orders.pageInfo.endCursor
          }
          const stats = yield* client.costStats
          return { orders, stats }
        }),
        clientLayer(kuraSb, { apiVersion: "2026-01" })
      ).pipe(Effect.orDie)
    )
    report(
      {
        name: "kura ShopifyClient",
        orders: result.orders,
        seconds: (Date.now() - started) / 1000,
        points: result.stats.actualPoints,
        throttled: result.stats.throttled,
        requests: result.stats.requests
      },
      kuraSb
    )
  } finally {
    await kuraSb.close()
  }

  // @shopify/admin-api-client
  const sb = await startSandbox({ orders: ORDERS, historyDays: 50, timeScale: TIME_SCALE, fresh: true })
  try {
    const base = sb.handle.baseUrl
    const client = createAdminApiClient({
      storeDomain: sb.handle.credentials.shopDomain,
      apiVersion: "2026-01",
      accessToken: sb.handle.credentials.accessToken,
      retries: 3,
      customFetchApi: (url, init) => fetch(String(url).replace(/^https?:\/\/[^/]+/, base), init)
    })
    const started = Date.now()
    let after: string | null = null
    let orders = 0
    let points = 0
    let throttled = 0
    let requests = 0
    for (;;) {
      requests++
      const r = await client.request(QUERY, { variables: { first: PAGE, after } })
      const codes = (r.errors?.graphQLErrors ?? []).map((e) => String(e.extensions?.code ?? ""))
      if (codes.includes("THROTTLED")) {
        throttled++
        await new Promise((res) => setTimeout(res, 1000))
        continue
      }
      const cost = decodeCost(r.extensions?.cost ?? { actualQueryCost: null })
      points += cost.actualQueryCost ?? 0
      const page = decodePage(r.data)
      orders += page.orders.nodes.length
      if (!page.orders.pageInfo.hasNextPage) break
      after = page.orders.pageInfo.endCursor
    }
    report(
      {
        name: "@shopify/admin-api-client",
        orders,
        seconds: (Date.now() - started) / 1000,
        points,
        throttled,
        requests
      },
      sb
    )
  } finally {
    await sb.close()
  }
})
