import { Effect, Option, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { largestAffordablePage } from "../src/QueryCost.js"
import { Resources } from "../src/Resources.js"
import { ShopifyClient } from "../src/ShopifyClient.js"
import type { ShopifyError } from "../src/ShopifyError.js"
import { isDeletion } from "../src/ShopifyEvent.js"
import { startProxy } from "./proxy.js"
import { clientLayer, expectedOrderIds, type Sandbox, startSandbox } from "./sandbox.js"

const DAY = 86_400_000

const run = <A>(sb: Sandbox, eff: Effect.Effect<A, ShopifyError, ShopifyClient>, over = {}) =>
  Effect.runPromise(Effect.provide(eff, clientLayer(sb, over)))
const runExit = <A>(sb: Sandbox, eff: Effect.Effect<A, ShopifyError, ShopifyClient>, over = {}) =>
  Effect.runPromiseExit(Effect.provide(eff, clientLayer(sb, over)))
const failureOf = (exit: { _tag: string }) => JSON.parse(JSON.stringify(exit))

describe("ShopifyClient against the sandbox emulator", () => {
  let sb: Sandbox
  beforeAll(async () => {
    sb = await startSandbox({ orders: 300, historyDays: 120, timeScale: 100 })
  })
  afterAll(() => sb.close())

  it("streams every order updated in a window, decoded, with exact money", async () => {
    const end = Date.now() + DAY
    const start = end - 25 * DAY
    const orders = await run(
      sb,
      Effect.gen(function* () {
        const client = yield* ShopifyClient
        return yield* Stream.runCollect(
          client.incremental(Resources.orders, { since: start, until: end, overlapMillis: 0 })
        )
      })
    )
    const expected = expectedOrderIds(sb.merchant, start, end)
    expect(expected.size).toBeGreaterThan(10)
    expect(new Set(orders.map((o) => o.id))).toEqual(expected)
    const o = orders[0]
    expect(o?.totalPriceSet.shopMoney.amount.toString()).toMatch(/^\d+(\.\d+)?$/)
    expect(o?.lineItems.length).toBeGreaterThan(0)
  })

  it("exposes each page's end cursor and resumes after it", async () => {
    const pages = await run(
      sb,
      Effect.gen(function* () {
        const client = yield* ShopifyClient
        return yield* Stream.runCollect(Stream.take(client.pages(Resources.customers, { pageSize: 20 }), 2))
      })
    )
    expect(pages).toHaveLength(2)
    expect(pages[0]?.endCursor).toBeTypeOf("string")
    const resumed = await run(
      sb,
      Effect.gen(function* () {
        const client = yield* ShopifyClient
        return yield* Stream.runHead(
          client.pages(Resources.customers, { pageSize: 20, after: pages[0]?.endCursor ?? null })
        )
      })
    )
    expect(Option.getOrThrow(resumed).records.map((c) => c.id)).toEqual(pages[1]?.records.map((c) => c.id))
  })

  it("halves the page size on MAX_COST_EXCEEDED and still reads everything", async () => {
    const tight = await startSandbox({
      orders: 300,
      historyDays: 120,
      timeScale: 20,
      options: { maxQueryCost: 200 }
    })
    try {
      const customers = await run(
        tight,
        Effect.gen(function* () {
          const client = yield* ShopifyClient
          return yield* Stream.runCollect(client.pages(Resources.customers, {}))
        })
      )
      expect(customers.length).toBeGreaterThan(1)
      expect(Math.min(...customers.map((p) => p.pageSize))).toBeLessThan(250)
      expect(customers.flatMap((p) => p.records).length).toBe(tight.merchant.customerCount)
    } finally {
      await tight.close()
    }
  })

  it("warns and exposes the served version when the shop falls forward", async () => {
    const served = await run(
      sb,
      Effect.gen(function* () {
        const client = yield* ShopifyClient
        yield* client.query("query { shop { id } }")
        return yield* client.servedVersion
      }),
      { apiVersion: "2024-10" }
    )
    expect(Option.getOrNull(served)).toBe("2026-01")
  })

  it("gates inventory purchase orders by version with a clear error", async () => {
    const exit = await runExit(
      sb,
      Effect.gen(function* () {
        const client = yield* ShopifyClient
        return yield* Stream.runCollect(client.incremental(Resources.inventoryPurchaseOrders, {}))
      }),
      { apiVersion: "2026-07" }
    )
    expect(exit._tag).toBe("Failure")
    expect(JSON.stringify(failureOf(exit))).toContain("UnsupportedVersion")
  })

  it("reads inventory purchase orders, transfers, items with named quantities, products, locations on 2026-10", async () => {
    const counts = await run(
      sb,
      Effect.gen(function* () {
        const client = yield* ShopifyClient
        const pos = yield* Stream.runCollect(client.incremental(Resources.inventoryPurchaseOrders, {}))
        const transfers = yield* Stream.runCollect(client.incremental(Resources.inventoryTransfers, {}))
        const items = yield* Stream.runCollect(client.incremental(Resources.inventoryItems, {}))
        const products = yield* Stream.runCollect(client.incremental(Resources.products, {}))
        const locations = yield* Stream.runCollect(client.pages(Resources.locations, {}))
        return { pos, transfers, items, products, locations: locations.flatMap((p) => p.records) }
      })
    )
    expect(counts.items.length).toBe(sb.merchant.variants.length)
    expect(counts.products.length).toBe(sb.merchant.products.length)
    expect(counts.locations.length).toBe(sb.merchant.locations.length)
    const names = new Set(
      counts.items.flatMap((i) => i.inventoryLevels.flatMap((l) => l.quantities.map((q) => q.name)))
    )
    expect(names.has("on_hand") && names.has("available") && names.has("committed")).toBe(true)
    expect(counts.pos.length).toBe(
      sb.merchant.purchaseOrders.filter((p: { system: string }) => p.system === "shopify").length
    )
    expect(counts.transfers.length).toBe(
      sb.merchant.stockTransfers.filter((t: { system: string }) => t.system === "shopify").length
    )
  })

  it("fails with AccessDenied naming the missing scope", async () => {
    const denied = await startSandbox({ orders: 300, historyDays: 120, timeScale: 20 })
    denied.handle.setScopes(["read_products"])
    try {
      const exit = await runExit(
        denied,
        Effect.gen(function* () {
          const client = yield* ShopifyClient
          return yield* Stream.runCollect(client.incremental(Resources.orders, { since: Date.now() - DAY }))
        })
      )
      const text = JSON.stringify(failureOf(exit))
      expect(text).toContain("AccessDenied")
      expect(text).toContain("read_orders")
    } finally {
      await denied.close()
    }
  })

  it("pages several orders per request and follows up orders with more line items than a page holds", async () => {
    const docs = Resources.orders.documents
    // Nested pages sized for the common order, refunds read by id: 6 orders fit the 1000-point
    // ceiling (was 3 with refunds inline).
    expect(largestAffordablePage(docs.page, {}, { max: 250, budget: 1000 })).toBeGreaterThanOrEqual(6)
    const tiny = {
      ...Resources.orders,
      documents: { ...docs, page: docs.page.replace("lineItems(first: 4)", "lineItems(first: 1)") }
    }
    expect(tiny.documents.page).toContain("lineItems(first: 1)")
    const [full, followed] = await run(
      sb,
      Effect.gen(function* () {
        const client = yield* ShopifyClient
        // A month of orders keeps the one-request-per-order follow-ups few.
        const window = { since: Date.now() - 30 * DAY, overlapMillis: 0 }
        const a = yield* Stream.runCollect(client.incremental(Resources.orders, window))
        const b = yield* Stream.runCollect(client.incremental(tiny, window))
        return [a, b] as const
      })
    )
    const key = (os: typeof full) => os.map((o) => `${o.id}:${o.lineItems.map((l) => l.id).join(",")}`).sort()
    expect(full.some((o) => o.lineItems.length > 1)).toBe(true)
    expect(key(followed)).toEqual(key(full))
  })

  it("reads refunds by id (nodes) after each page: orders carry them whole, a missing one is DataLoss", async () => {
    const { orders, telemetry } = await run(
      sb,
      Effect.gen(function* () {
        const client = yield* ShopifyClient
        const pages = yield* Stream.runCollect(client.pages(Resources.orders, {}))
        return { orders: pages.flatMap((p) => p.records), pages, telemetry: yield* client.telemetry }
      })
    )
    const expected = new Map<string, number>()
    for (let i = 0; i < sb.merchant.orderCount; i++) {
      const o = sb.merchant.orderAt(i)
      if (o !== undefined && o.channel === "online" && o.deletedAt === null)
        expected.set(`gid://shopify/Order/${o.id}`, o.refunds.length)
    }
    const refunded = orders.filter((o) => o.refunds.length > 0)
    expect(refunded.length).toBeGreaterThan(3)
    for (const o of orders) expect(o.refunds.length).toBe(expected.get(o.id))
    for (const o of refunded)
      for (const r of o.refunds) {
        expect(r.id).toMatch(/^gid:\/\/shopify\/Refund\//)
        expect(r.totalRefundedSet.shopMoney.amount.toString()).toMatch(/^\d+(\.\d+)?$/)
      }
    // Six orders a page, one nodes(ids:) query per page that has refunds at most.
    const pageCount = Math.ceil(orders.length / 6)
    expect(telemetry.calls).toBeLessThanOrEqual(pageCount + refunded.length)
    expect(telemetry.calls).toBeLessThan(orders.length / 3)

    // A refund the order lists but nodes(ids:) does not return is DataLoss.
    const proxy = await startProxy(sb.handle.baseUrl, async (body) => {
      if (!body.includes("KuraNodesRefund")) return { _tag: "forward" }
      const r = await fetch(`${sb.handle.baseUrl}/admin/api/2026-10/graphql.json`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-shopify-access-token": sb.handle.credentials.accessToken
        },
        body
      })
      const json = (await r.json()) as { data: { nodes: Array<unknown> } }
      json.data.nodes[0] = null
      return { _tag: "answer", status: 200, body: JSON.stringify(json) }
    })
    try {
      const exit = await runExit(
        sb,
        Effect.gen(function* () {
          const client = yield* ShopifyClient
          return yield* Stream.runCollect(client.incremental(Resources.orders, {}))
        }),
        { baseUrl: proxy.baseUrl }
      )
      expect(exit._tag).toBe("Failure")
      expect(JSON.stringify(exit)).toContain("DataLoss")
      expect(JSON.stringify(exit)).toContain("did not return it")
    } finally {
      await proxy.close()
    }
  })

  it("reads the rest of a nested connection that did not fit in the page (follow-up queries)", async () => {
    const docs = Resources.products.documents
    const tiny = {
      ...Resources.products,
      documents: { ...docs, page: docs.page.replace("variants(first: 100)", "variants(first: 1)") }
    }
    expect(tiny.documents.page).toContain("variants(first: 1)")
    const [full, followed] = await run(
      sb,
      Effect.gen(function* () {
        const client = yield* ShopifyClient
        const a = yield* Stream.runCollect(client.incremental(Resources.products, {}))
        const b = yield* Stream.runCollect(client.incremental(tiny, {}))
        return [a, b] as const
      })
    )
    const key = (ps: typeof full) => ps.map((p) => `${p.id}:${p.variants.map((v) => v.id).join(",")}`).sort()
    expect(full.some((p) => p.variants.length > 1)).toBe(true)
    expect(key(followed)).toEqual(key(full))
  })

  it("finds deleted orders through events", async () => {
    const del = await startSandbox({ orders: 300, historyDays: 120, timeScale: 20, fresh: true })
    del.merchant.deleteOrders({ count: 3, now: Date.now() })
    const deletions = del.merchant.deletions()
    expect(deletions.length).toBe(3)
    const events = await run(
      del,
      Effect.gen(function* () {
        const client = yield* ShopifyClient
        return yield* Stream.runCollect(
          client.incremental(Resources.events, { search: "subject_type:ORDER AND action:destroy" })
        )
      })
    )
    await del.close()
    expect(
      events
        .filter(isDeletion)
        .map((e) => e.subjectId)
        .sort()
    ).toEqual(deletions.map((d: { orderId: number }) => `gid://shopify/Order/${d.orderId}`).sort())
  })
})
