/**
 * The `events` feed: every online order's creation, each later change and deletion, and the
 * products' creations and updates, in time order, with the search filters Shopify documents
 * (`action`, `subject_type`, `created_at`, `id`, AND/OR/NOT), so a reader that asks only for
 * deletions gets only those and one that asks for everything pays for everything.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { mayMatch, parseQuery } from "../../src/internal/shopify/search.js"
import { type Json, type Started, shopifyOrders, start } from "./harness.js"

const DELETIONS = "(action:destroy OR action:delete)"

/** Pages `events` (or counts them) with a query. */
const allEvents = async (s: Started, query: string | null): Promise<Array<Json>> => {
  const out: Array<Json> = []
  let after: string | null = null
  for (let guard = 0; guard < 200; guard++) {
    const r = await s.gql(
      `query($after: String, $q: String) { events(first: 250, after: $after, query: $q) { pageInfo { hasNextPage endCursor } nodes { id action createdAt message ... on BasicEvent { subjectId subjectType } } } }`,
      { after, q: query }
    )
    expect(r.body.errors).toBeUndefined()
    out.push(...r.body.data.events.nodes)
    if (!r.body.data.events.pageInfo.hasNextPage) return out
    after = r.body.data.events.pageInfo.endCursor
  }
  throw new Error("pagination did not end")
}
const countOf = async (s: Started, query: string | null) => {
  const r = await s.gql(`query($q: String) { eventsCount(query: $q) { count precision } }`, { q: query })
  expect(r.body.errors).toBeUndefined()
  return r.body.data.eventsCount
}

describe("Shopify emulator: the events feed", () => {
  let s: Started
  let deleted: Array<string>
  let updated: Array<string>
  beforeAll(async () => {
    s = await start({ orders: 300, historyDays: 60, timeScale: 100 })
    const now = Date.now()
    s.merchant.mutate({ fraction: 0.1, now })
    s.merchant.deleteOrders({ count: 3, now: now + 1_000 })
    deleted = s.merchant.deletions().map((d) => `gid://shopify/Order/${d.orderId}`)
    updated = s.merchant
      .orderChanges()
      .filter((c) => c.action === "update")
      .map((c) => `gid://shopify/Order/${c.orderId}`)
  })
  afterAll(() => s.handle.close())

  it("carries create, update and destroy events of orders and products, oldest first, ids unique", async () => {
    const all = await allEvents(s, null)
    const orders = shopifyOrders(s)
    const byKind = (action: string, type: string) =>
      all.filter((e) => e.action === action && e.subjectType === type).map((e) => e.subjectId)
    // Every order still in Shopify, and every deleted one, was created.
    expect(new Set(byKind("create", "ORDER"))).toEqual(
      new Set([...orders.map((o) => `gid://shopify/Order/${o.id}`), ...deleted])
    )
    expect(byKind("update", "ORDER").sort()).toEqual([...updated].sort())
    expect(updated.length).toBeGreaterThan(0)
    expect(byKind("destroy", "ORDER").sort()).toEqual([...deleted].sort())
    expect(deleted.length).toBeGreaterThanOrEqual(3)
    expect(byKind("create", "PRODUCT")).toHaveLength(s.merchant.products.length)
    const times = all.map((e) => Date.parse(e.createdAt))
    expect(times).toEqual([...times].sort((a, b) => a - b))
    expect(new Set(all.map((e) => e.id)).size).toBe(all.length)
    expect(all.find((e) => e.action === "destroy")?.message).toBe("Order was deleted.")
    expect((await countOf(s, null)).count).toBe(Math.min(all.length, 10_000))
  })

  it("the deletions filter returns exactly the destroy events; its count is exact and far below the feed's", async () => {
    const only = await allEvents(s, DELETIONS)
    expect(only.map((e) => e.subjectId).sort()).toEqual([...deleted].sort())
    expect(only.every((e) => e.action === "destroy" && e.subjectType === "ORDER")).toBe(true)
    expect(await countOf(s, DELETIONS)).toEqual({ count: deleted.length, precision: "EXACT" })
    const everything = (await countOf(s, null)).count
    expect(everything).toBeGreaterThan(50 * deleted.length)
    // The same through the documented spellings: AND, NOT, a subject type.
    expect((await countOf(s, "subject_type:ORDER AND action:destroy")).count).toBe(deleted.length)
    expect((await countOf(s, "subject_type:PRODUCT AND action:destroy")).count).toBe(0)
    expect((await countOf(s, "subject_type:ORDER -action:create")).count).toBe(
      deleted.length + updated.length
    )
    const productUpdates = (await countOf(s, "subject_type:PRODUCT AND action:update")).count
    expect(productUpdates).toBeGreaterThan(0)
    expect((await countOf(s, "action:create")).count).toBe(
      everything - deleted.length - updated.length - productUpdates
    )
  })

  it("a created_at window and the deletions filter together select the deletions inside the window", async () => {
    const changes = s.merchant.orderChanges().filter((c) => c.action === "destroy")
    const cut = changes[changes.length - 1]!.at
    const since = new Date(Math.floor(cut / 1000) * 1000).toISOString()
    const inWindow = await allEvents(s, `created_at:>='${since}' AND ${DELETIONS}`)
    const expected = changes.filter((c) => c.at >= Math.floor(cut / 1000) * 1000)
    expect(inWindow.map((e) => e.subjectId).sort()).toEqual(
      expected.map((c) => `gid://shopify/Order/${c.orderId}`).sort()
    )
    // An order's creation event is found by its window too.
    const o = shopifyOrders(s)[10]!
    const at = new Date(Math.floor(o.createdAt / 1000) * 1000).toISOString()
    const created = await allEvents(s, `created_at:>='${at}' AND created_at:<='${at}' AND action:create`)
    expect(created.map((e) => e.subjectId)).toContain(`gid://shopify/Order/${o.id}`)
  })

  it("an event is found again by its id (node and the id filter)", async () => {
    const [first] = await allEvents(s, DELETIONS)
    const n = await s.gql(`query($id: ID!) { node(id: $id) { ... on BasicEvent { id action subjectId } } }`, {
      id: first.id
    })
    expect(n.body.data.node).toMatchObject({ id: first.id, action: "destroy", subjectId: first.subjectId })
  })
})

describe("mayMatch (skipping kinds of record a query rules out)", () => {
  const may = (q: string, action: string, type = "ORDER") =>
    mayMatch(parseQuery(q), { action, subject_type: type })
  it("rules a kind out only when the query is certainly false for it", () => {
    expect(may(DELETIONS, "create")).toBe(false)
    expect(may(DELETIONS, "destroy")).toBe(true)
    expect(may(`created_at:>='2026-01-01' AND ${DELETIONS}`, "create")).toBe(false)
    // A term on another field may be true: an OR with it cannot rule anything out.
    expect(may("action:destroy OR created_at:>'2026-01-01'", "create")).toBe(true)
    expect(may("NOT action:create", "create")).toBe(false)
    expect(may("-action:create", "update")).toBe(true)
    expect(may("subject_type:PRODUCT", "create", "ORDER")).toBe(false)
    expect(may("action:des*", "destroy")).toBe(true)
    expect(may("", "create")).toBe(true)
  })
})
