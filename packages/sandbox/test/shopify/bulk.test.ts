import { afterEach, describe, expect, it } from "vitest"
import { eventually, type Json, type Started, shopifyOrders, start, startReceiver } from "./harness.js"

const ORDERS_QUERY =
  "{ orders { edges { node { id name lineItems { edges { node { id sku quantity } } } } } } }"

const runBulk = async (s: Started, query = ORDERS_QUERY, version?: string, extra = ""): Promise<Json> => {
  const r = await s.gql(
    `mutation($q: String!) { bulkOperationRunQuery(query: $q${extra}) { bulkOperation { id status objectCount createdAt } userErrors { field message code } } }`,
    { q: query },
    version
  )
  expect(r.body.errors).toBeUndefined()
  return r.body.data.bulkOperationRunQuery
}

const BULK_FIELDS = "id status errorCode objectCount rootObjectCount fileSize url partialDataUrl"

const poll = async (
  s: Started,
  id: string,
  until: ReadonlyArray<string>,
  seen?: Set<string>
): Promise<Json> =>
  eventually(async () => {
    const r = await s.gql(`{ bulkOperation(id: "${id}") { ${BULK_FIELDS} } }`)
    const op = r.body.data.bulkOperation
    seen?.add(op.status)
    return until.includes(op.status) ? op : undefined
  }, 20_000)

const download = async (url: string): Promise<{ lines: Array<Json>; bytes: number }> => {
  const res = await fetch(url)
  expect(res.status).toBe(200)
  expect(res.headers.get("content-type")).toBe("application/jsonl")
  const text = await res.text()
  return {
    lines: text
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l)),
    bytes: Buffer.byteLength(text)
  }
}

describe("Shopify emulator: bulk operations", () => {
  let s: Started | undefined
  afterEach(async () => {
    await s?.handle.close()
    s = undefined
  })

  it("runs CREATED → RUNNING → COMPLETED and its JSONL joins back into every order's lines", async () => {
    s = await start({ orders: 300, options: { bulkRowsPerSecond: 1500 } })
    const started = await runBulk(s)
    expect(started.userErrors).toEqual([])
    expect(started.bulkOperation.status).toBe("CREATED")
    expect(started.bulkOperation.objectCount).toBe("0")
    const seen = new Set<string>()
    const done = await poll(s, started.bulkOperation.id, ["COMPLETED"], seen)
    expect(seen.has("RUNNING")).toBe(true)
    for (const k of ["objectCount", "rootObjectCount", "fileSize"]) expect(typeof done[k]).toBe("string")
    const { bytes, lines } = await download(done.url)
    expect(lines.length).toBe(Number(done.objectCount))
    expect(bytes).toBe(Number(done.fileSize))
    const orders = shopifyOrders(s)
    const roots = lines.filter((l) => l.__parentId === undefined)
    expect(Number(done.rootObjectCount)).toBe(orders.length)
    expect(roots.map((r) => r.id)).toEqual(orders.map((o) => `gid://shopify/Order/${o.id}`))
    // Join children to parents by __parentId, never by position.
    const position = new Map(lines.map((l, i) => [l.id, i]))
    const byParent = new Map<string, Array<Json>>()
    let interleaved = 0
    lines.forEach((l, i) => {
      if (l.__parentId === undefined) return
      const parentAt = position.get(l.__parentId)
      expect(parentAt).toBeDefined()
      expect(parentAt!).toBeLessThan(i)
      if (lines[i - 1]?.id !== l.__parentId && lines[i - 1]?.__parentId !== l.__parentId) interleaved++
      byParent.set(l.__parentId, [...(byParent.get(l.__parentId) ?? []), l])
    })
    expect(interleaved).toBeGreaterThan(0)
    for (const o of orders) {
      const children = byParent.get(`gid://shopify/Order/${o.id}`) ?? []
      expect(children.map((c) => [c.sku, c.quantity])).toEqual(o.lines.map((l) => [l.sku, l.quantity]))
    }
  })

  it("groups children right after their parent when groupObjects is true", async () => {
    s = await start({ orders: 100 })
    const started = await runBulk(s, ORDERS_QUERY, undefined, ", groupObjects: true")
    const done = await poll(s, started.bulkOperation.id, ["COMPLETED"])
    const { lines } = await download(done.url)
    let parent: string | null = null
    for (const l of lines) {
      if (l.__parentId === undefined) parent = l.id
      else expect(l.__parentId).toBe(parent)
    }
  })

  it("allows 5 concurrent operations from 2026-01 and 1 on older versions, and cancels", async () => {
    s = await start({
      orders: 200,
      options: { bulkRowsPerSecond: 5, supportedVersions: ["2025-10", "2026-01", "2026-04"] }
    })
    const ids: Array<string> = []
    for (let i = 0; i < 5; i++) {
      const r = await runBulk(s)
      expect(r.userErrors).toEqual([])
      ids.push(r.bulkOperation.id)
    }
    const sixth = await runBulk(s)
    expect(sixth.bulkOperation).toBeNull()
    expect(sixth.userErrors).toEqual([
      {
        field: null,
        message: "Bulk operations limit reached. Please try again later.",
        code: "LIMIT_REACHED"
      }
    ])
    const older = await runBulk(s, ORDERS_QUERY, "2025-10")
    expect(older.userErrors[0].code).toBe("OPERATION_IN_PROGRESS")
    for (const id of ids) {
      const c = await s.gql(
        `mutation { bulkOperationCancel(id: "${id}") { bulkOperation { status } userErrors { message } } }`
      )
      expect(c.body.data.bulkOperationCancel.bulkOperation.status).toBe("CANCELING")
    }
    for (const id of ids) expect((await poll(s, id, ["CANCELED"])).url).toBeNull()
    const current = await s.gql("{ currentBulkOperation { id status } }")
    expect(current.body.data.currentBulkOperation).toEqual({ id: ids[4], status: "CANCELED" })
    const after = await runBulk(s, ORDERS_QUERY, "2025-10")
    expect(after.userErrors).toEqual([])
  })

  it("fails with INTERNAL_SERVER_ERROR and a partialDataUrl holding a prefix of the lines", async () => {
    // More than one 500-root page, so the partial file is cut at a page boundary.
    s = await start({ orders: 1100, timeScale: 50 })
    const full = await poll(s, (await runBulk(s)).bulkOperation.id, ["COMPLETED"])
    const fullLines = (await download(full.url)).lines
    s.faults.arm("bulk_failure")
    const failed = await poll(s, (await runBulk(s)).bulkOperation.id, ["FAILED"])
    expect(failed.errorCode).toBe("INTERNAL_SERVER_ERROR")
    expect(failed.url).toBeNull()
    const partial = (await download(failed.partialDataUrl)).lines
    expect(partial.length).toBeGreaterThan(0)
    expect(partial.length).toBeLessThan(fullLines.length)
    expect(partial).toEqual(fullLines.slice(0, partial.length))
  })

  it("rejects invalid bulk queries with INVALID user errors", async () => {
    s = await start({ orders: 20 })
    expect((await runBulk(s, "{ shop { name } }")).userErrors[0].code).toBe("INVALID")
    expect((await runBulk(s, '{ node(id: "gid://shopify/Order/1") { id } }')).userErrors[0].code).toBe(
      "INVALID"
    )
    expect((await runBulk(s, "{ orders { nodes { nope } } }")).userErrors[0].message).toMatch(/nope/)
    const deep =
      "{ products { nodes { id variants { nodes { id inventoryItem { inventoryLevels { nodes { id } } } } } } } }"
    expect((await runBulk(s, deep)).userErrors[0].message).toMatch(/nesting depth/)
  })

  it("sends bulk_operations/finish when an operation completes", async () => {
    s = await start({ orders: 30 })
    const receiver = await startReceiver()
    try {
      const sub = await s.gql(
        `mutation { webhookSubscriptionCreate(topic: BULK_OPERATIONS_FINISH, webhookSubscription: { uri: "${receiver.url}" }) { webhookSubscription { id topic uri } userErrors { message } } }`
      )
      expect(sub.body.data.webhookSubscriptionCreate.userErrors).toEqual([])
      const id = (await runBulk(s)).bulkOperation.id
      await poll(s, id, ["COMPLETED"])
      await eventually(async () => (receiver.received.length > 0 ? true : undefined))
      const hook = receiver.received[0]!
      expect(hook.headers["x-shopify-topic"]).toBe("bulk_operations/finish")
      expect(JSON.parse(hook.body)).toMatchObject({
        admin_graphql_api_id: id,
        status: "completed",
        type: "query",
        error_code: null
      })
    } finally {
      await receiver.close()
    }
  })

  it("groups by default before 2026-01 and expires result URLs after 7 days (scaled)", async () => {
    // 7 days at timeScale 604800 → 1 s.
    s = await start({
      orders: 60,
      timeScale: 604_800,
      options: { supportedVersions: ["2025-10", "2026-01"] }
    })
    const old = await runBulk(s, ORDERS_QUERY, "2025-10")
    const done = await poll(s, old.bulkOperation.id, ["COMPLETED"])
    const { lines } = await download(done.url)
    let parent: string | null = null
    for (const l of lines) {
      if (l.__parentId === undefined) parent = l.id
      else expect(l.__parentId).toBe(parent)
    }
    await new Promise((r) => setTimeout(r, 1200))
    const expired = await s.gql(`{ bulkOperation(id: "${old.bulkOperation.id}") { status url } }`)
    expect(expired.body.data.bulkOperation).toEqual({ status: "EXPIRED", url: null })
    expect((await fetch(done.url)).status).toBe(403)
  })
})
