import { BulkJobStore } from "@kura/core"
import { Effect, Fiber, Layer, Logger, Option, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Resources } from "../src/Resources.js"
import { ShopifyBulk } from "../src/ShopifyBulk.js"
import { ShopifyClient } from "../src/ShopifyClient.js"
import { startProxy } from "./proxy.js"
import { bulkLayer, expectedOrderIds, type Sandbox, startSandbox } from "./sandbox.js"

const DAY = 86_400_000

describe("bulk operations as durable jobs (sandbox)", () => {
  let sb: Sandbox
  beforeAll(async () => {
    sb = await startSandbox({ orders: 300, historyDays: 120, timeScale: 50 })
  })
  afterAll(() => sb.close())

  const window = () => ({ start: Date.now() - 130 * DAY, end: Date.now() + DAY })

  it("exports orders with their children, identical to the paged stream", async () => {
    const w = { start: Date.now() - 25 * DAY, end: Date.now() + DAY }
    const { bulk, paged } = await Effect.runPromise(
      Effect.provide(
        Effect.gen(function* () {
          const b = yield* ShopifyBulk
          const c = yield* ShopifyClient
          const bulk = yield* Stream.runCollect(
            b.export(Resources.orders, { window: w, sliceMillis: 60 * DAY })
          )
          const paged = yield* Stream.runCollect(
            c.incremental(Resources.orders, { since: w.start, until: w.end, overlapMillis: 0 })
          )
          return { bulk, paged }
        }),
        bulkLayer(sb, BulkJobStore.layerMemory)
      )
    )
    const expected = expectedOrderIds(sb.merchant, w.start, w.end)
    expect(new Set(bulk.map((o) => o.id))).toEqual(expected)
    // The reassembled bulk record must be the paged record, field for field (money compared as text).
    const text = (x: unknown) => JSON.stringify(x, (_k, v) => (typeof v === "bigint" ? v.toString() : v))
    const byId = new Map(paged.map((o) => [o.id, o]))
    for (const o of bulk) expect(text(o)).toBe(text(byId.get(o.id)))
    // Shipping lines and their tax lines come through the bulk path (they were dropped before).
    const shipped = bulk.filter((o) => o.shippingLines.length > 0)
    expect(shipped.length).toBeGreaterThan(0)
    expect(shipped.some((o) => o.shippingLines.some((l) => l.taxLines.length > 0))).toBe(true)
    for (const o of shipped)
      for (const line of o.shippingLines)
        for (const t of line.taxLines) expect(t.priceSet.shopMoney.amount.toString()).toMatch(/^\d+(\.\d+)?$/)
  })

  it("names every child line's type: ShippingLine lines carry __typename like real Shopify", async () => {
    const w = { start: Date.now() - 130 * DAY, end: Date.now() + DAY }
    const job = await Effect.runPromise(
      Effect.provide(
        Effect.gen(function* () {
          const b = yield* ShopifyBulk
          return yield* b.run(Resources.orders, w, { groupObjects: true })
        }),
        bulkLayer(sb, BulkJobStore.layerMemory)
      )
    )
    expect(job.operation.status).toBe("COMPLETED")
    const body = await (await fetch(job.operation.url ?? "")).text()
    const children = body
      .split("\n")
      .filter((l) => l !== "")
      .map((l): Record<string, unknown> => JSON.parse(l))
      .filter((l) => typeof l.__parentId === "string")
    const shipping = children.filter((l) => typeof l.id === "string" && l.id.includes("/ShippingLine/"))
    expect(shipping.length).toBeGreaterThan(0)
    for (const l of shipping) expect(l.__typename).toBe("ShippingLine")
    for (const l of children) expect(typeof l.__typename).toBe("string")
  })

  it("reassembles ungrouped (interleaved) output to the same records", async () => {
    const w = window()
    const [grouped, ungrouped] = await Effect.runPromise(
      Effect.provide(
        Effect.gen(function* () {
          const b = yield* ShopifyBulk
          const g = yield* Stream.runCollect(b.export(Resources.orders, { window: w, groupObjects: true }))
          const u = yield* Stream.runCollect(b.export(Resources.orders, { window: w, groupObjects: false }))
          return [g, u] as const
        }),
        bulkLayer(sb, BulkJobStore.layerMemory)
      )
    )
    const key = (os: typeof grouped) =>
      os
        .map(
          (o) =>
            `${o.id}:${o.lineItems
              .map((l) => l.id)
              .sort()
              .join(",")}:${o.shippingLines.length}`
        )
        .sort()
    expect(key(ungrouped)).toEqual(key(grouped))
  })

  it("persists the job before polling and resumes it after a crash instead of starting another", async () => {
    const memory = await Effect.runPromise(
      Effect.provide(Effect.service(BulkJobStore), BulkJobStore.layerMemory)
    )
    const store = Layer.succeed(BulkJobStore, memory)
    const w = window()
    // Run 1: starts a job and "crashes" before polling it.
    const started = await Effect.runPromise(
      Effect.provide(
        Effect.gen(function* () {
          const b = yield* ShopifyBulk
          return yield* b.start(Resources.customers, w)
        }),
        bulkLayer(sb, store)
      )
    )
    const open = await Effect.runPromise(memory.listOpen())
    expect(open.map((j) => j.jobId)).toContain(started.jobId)
    const before = sb.handle.stats().bulkOperations ?? 0
    // Run 2: finds the open job, loads its result, marks it loaded.
    const customers = await Effect.runPromise(
      Effect.provide(
        Effect.gen(function* () {
          const b = yield* ShopifyBulk
          // An empty window after the resumed job: no new job needed.
          return yield* Stream.runCollect(
            b.export(Resources.customers, { window: { start: w.end, end: w.end } })
          )
        }),
        bulkLayer(sb, store)
      )
    )
    const paged = await Effect.runPromise(
      Effect.provide(
        Effect.gen(function* () {
          const c = yield* ShopifyClient
          return yield* Stream.runCollect(
            c.incremental(Resources.customers, { since: w.start, until: w.end, overlapMillis: 0 })
          )
        }),
        bulkLayer(sb, store)
      )
    )
    expect(customers.length).toBeGreaterThan(0)
    expect(new Set(customers.map((c) => c.id))).toEqual(new Set(paged.map((c) => c.id)))
    expect(sb.handle.stats().bulkOperations ?? 0).toBe(before)
    const record = await Effect.runPromise(memory.get(started.jobId))
    expect(Option.getOrNull(record)?.state).toBe("loaded")
    expect((await Effect.runPromise(memory.listOpen())).length).toBe(0)
  })

  it("marks a job it ran loaded from the record it wrote, without reading the store back", async () => {
    const memory = await Effect.runPromise(
      Effect.provide(Effect.service(BulkJobStore), BulkJobStore.layerMemory)
    )
    let gets = 0
    const states: Array<string> = []
    const counting = BulkJobStore.of({
      ...memory,
      get: (id) =>
        Effect.suspend(() => {
          gets++
          return memory.get(id)
        }),
      put: (record) =>
        Effect.suspend(() => {
          states.push(record.state)
          return memory.put(record)
        })
    })
    const w = window()
    const customers = await Effect.runPromise(
      Effect.provide(
        Effect.gen(function* () {
          const b = yield* ShopifyBulk
          return yield* Stream.runCollect(b.export(Resources.customers, { window: w }))
        }),
        bulkLayer(sb, Layer.succeed(BulkJobStore, counting))
      )
    )
    expect(customers.length).toBeGreaterThan(0)
    const jobs = await Effect.runPromise(memory.list())
    expect(jobs.length).toBeGreaterThan(0)
    for (const job of jobs) {
      expect(job.state).toBe("loaded")
      // The terminal poll's count survives into the loaded record.
      expect(job.objectCount).not.toBeNull()
      expect(job.remoteStatus).toBe("COMPLETED")
    }
    expect(gets).toBe(0)
    // Two writes per job: started (before polling), then loaded with the completed poll's
    // figures; no separate "completed" write ahead of the download.
    expect(states).toEqual(jobs.flatMap(() => ["started", "loaded"]))
  })

  it("forgets a stored job Shopify no longer knows and exports its window again", async () => {
    const memory = await Effect.runPromise(
      Effect.provide(Effect.service(BulkJobStore), BulkJobStore.layerMemory)
    )
    const w = window()
    const now = Date.now()
    // Left open by a run against another shop instance (or whose results expired).
    const stale = {
      jobId: "gid://shopify/BulkOperation/999999999",
      key: { source: "shopify", account: sb.handle.credentials.shopDomain, stream: Resources.customers.name },
      windowStart: new Date(w.start).toISOString(),
      windowEnd: new Date(w.end).toISOString(),
      state: "started" as const,
      remoteStatus: "RUNNING",
      objectCount: null,
      createdAt: now,
      updatedAt: now
    }
    await Effect.runPromise(memory.put(stale))
    const customers = await Effect.runPromise(
      Effect.provide(
        Effect.gen(function* () {
          const b = yield* ShopifyBulk
          return yield* Stream.runCollect(b.export(Resources.customers, { window: w }))
        }),
        bulkLayer(sb, Layer.succeed(BulkJobStore, memory))
      )
    )
    const paged = await Effect.runPromise(
      Effect.provide(
        Effect.gen(function* () {
          const c = yield* ShopifyClient
          return yield* Stream.runCollect(
            c.incremental(Resources.customers, { since: w.start, until: w.end, overlapMillis: 0 })
          )
        }),
        bulkLayer(sb, Layer.succeed(BulkJobStore, memory))
      )
    )
    expect(customers.length).toBeGreaterThan(0)
    expect(customers.map((c) => c.id).sort()).toEqual(paged.map((c) => c.id).sort())
    expect(Option.getOrNull(await Effect.runPromise(memory.get(stale.jobId)))?.state).toBe("failed")
  })

  it("loads partial data of a FAILED job and re-runs only the rest with a smaller window", async () => {
    const w = window()
    sb.faults.arm("bulk_failure", 1)
    const memory = await Effect.runPromise(
      Effect.provide(Effect.service(BulkJobStore), BulkJobStore.layerMemory)
    )
    const orders = await Effect.runPromise(
      Effect.provide(
        Effect.gen(function* () {
          const b = yield* ShopifyBulk
          return yield* Stream.runCollect(b.export(Resources.orders, { window: w, sliceMillis: 200 * DAY }))
        }),
        bulkLayer(sb, Layer.succeed(BulkJobStore, memory))
      )
    )
    expect(sb.faults.report().shopify.bulk_failure).toBe(1)
    const ids = new Set(orders.map((o) => o.id))
    expect(ids).toEqual(expectedOrderIds(sb.merchant, w.start, w.end))
    const jobs = [...(await Effect.runPromise(memory.list()))].sort((a, b) => a.createdAt - b.createdAt)
    expect(jobs[0]?.state).toBe("failed")
    expect(jobs[0]?.windowStart).toBe(new Date(w.start).toISOString())
    // The re-run starts where the partial data's complete records ended, not at the window start.
    expect(Date.parse(jobs[1]?.windowStart ?? "")).toBeGreaterThan(w.start)
    // Every root exactly once across the partial data and the gap re-run (chaos 01b: 101 of 100).
    expect(orders.length).toBe(ids.size)
  })

  it("signals completion early through notifyFinished (the bulk_operations/finish webhook)", async () => {
    const w = window()
    const result = await Effect.runPromise(
      Effect.provide(
        Effect.gen(function* () {
          const b = yield* ShopifyBulk
          const record = yield* b.start(Resources.locations, w)
          const waiter = yield* Effect.forkChild(b.await(record))
          // A notification before the waiter has registered is dropped (a fixed 100 ms head start
          // can be too short on a loaded box), so the webhook is relayed until the waiter answers:
          // with 60 s between polls, only the notification can end this within the test's time.
          return yield* Effect.raceFirst(
            Fiber.join(waiter),
            Effect.forever(Effect.andThen(Effect.sleep("100 millis"), b.notifyFinished(record.jobId)))
          )
        }),
        bulkLayer(sb, BulkJobStore.layerMemory, {}, { pollMinMillis: 60_000, pollMaxMillis: 60_000 })
      )
    )
    expect(result.operation.status).toBe("COMPLETED")
  })

  it("a finish notification that comes while the job still runs does not turn into back-to-back polls", async () => {
    // A slow job (about 2 s of export at 500 rows/s) behind a proxy that counts the polls.
    const slow = await startSandbox({
      orders: 300,
      historyDays: 120,
      options: { bulkRowsPerSecond: 500 },
      fresh: true
    })
    let polls = 0
    const proxy = await startProxy(slow.handle.baseUrl, (body) => {
      if (body.includes("KuraBulkOperation")) polls++
      return { _tag: "forward" }
    })
    try {
      const w = { start: Date.now() - 130 * DAY, end: Date.now() + DAY }
      const result = await Effect.runPromise(
        Effect.provide(
          Effect.gen(function* () {
            const b = yield* ShopifyBulk
            const record = yield* b.start(Resources.orders, w)
            const waiter = yield* Effect.forkChild(b.await(record))
            // Once the poller has taken its first look, a notification arrives early (status lag,
            // or a relayed webhook of a job still finishing its file).
            while (polls < 1) yield* Effect.sleep("10 millis")
            yield* Effect.sleep("50 millis")
            yield* b.notifyFinished(record.jobId)
            return yield* Fiber.join(waiter)
          }),
          bulkLayer(
            slow,
            BulkJobStore.layerMemory,
            { baseUrl: proxy.baseUrl },
            {
              pollMinMillis: 200,
              pollMaxMillis: 400
            }
          )
        )
      )
      expect(result.operation.status).toBe("COMPLETED")
      // About 2 s at one poll per 200–400 ms is under 15 polls; a signal that stays set polls
      // back to back for the rest of the job (hundreds).
      expect(result.durationMillis).toBeGreaterThan(1_000)
      expect(polls).toBeLessThan(Math.ceil(result.durationMillis / 200) + 5)
    } finally {
      await proxy.close()
      await slow.close()
    }
  })

  it("grows the window after fast jobs (adaptive slicing) and records every job", async () => {
    const memory = await Effect.runPromise(
      Effect.provide(Effect.service(BulkJobStore), BulkJobStore.layerMemory)
    )
    const w = window()
    await Effect.runPromise(
      Effect.provide(
        Effect.gen(function* () {
          const b = yield* ShopifyBulk
          return yield* Stream.runDrain(
            b.export(Resources.customers, { window: w, sliceMillis: DAY, targetJobMillis: 3_600_000 })
          )
        }),
        bulkLayer(sb, Layer.succeed(BulkJobStore, memory))
      )
    )
    const jobs = [...(await Effect.runPromise(memory.list()))].sort((a, b) =>
      a.windowStart.localeCompare(b.windowStart)
    )
    const sizes = jobs.map((j) => Date.parse(j.windowEnd) - Date.parse(j.windowStart))
    expect(jobs.every((j) => j.state === "loaded")).toBe(true)
    // The first slice ends on a whole second (search dates have whole seconds), then doubles.
    expect(sizes[0]).toBeGreaterThanOrEqual(DAY)
    expect(sizes[0]).toBeLessThan(DAY + 1000)
    expect(Date.parse(jobs[0]?.windowEnd ?? "") % 1000).toBe(0)
    expect(sizes.slice(1, 4)).toEqual([2 * DAY, 4 * DAY, 8 * DAY])
    expect(jobs[0]?.windowStart).toBe(new Date(w.start).toISOString())
    expect(jobs.at(-1)?.windowEnd).toBe(new Date(w.end).toISOString())
  })

  it("waits out OPERATION_IN_PROGRESS when the shop has fewer slots than the client", async () => {
    const one = await startSandbox({ timeScale: 1, options: { bulkConcurrency: 1, bulkRowsPerSecond: 300 } })
    const logs: Array<string> = []
    const capture = Logger.make((o) => {
      logs.push(String(o.message))
    })
    try {
      const w = window()
      const [a, b] = await Effect.runPromise(
        Effect.provide(
          Effect.all(
            [
              Effect.flatMap(Effect.service(ShopifyBulk), (bulk) =>
                Stream.runCollect(bulk.export(Resources.customers, { window: w, sliceMillis: 400 * DAY }))
              ),
              Effect.flatMap(Effect.service(ShopifyBulk), (bulk) =>
                Stream.runCollect(bulk.export(Resources.locations, { window: { start: 0, end: w.end } }))
              )
            ],
            { concurrency: 2 }
          ),
          bulkLayer(one, BulkJobStore.layerMemory, {}, { concurrency: 2 }).pipe(
            Layer.provideMerge(Logger.layer([capture]))
          )
        )
      )
      expect(a.length).toBeGreaterThan(0)
      expect(b.length).toBe(one.merchant.locations.length)
      expect(logs.some((l) => l.includes("Shopify bulk slot busy"))).toBe(true)
    } finally {
      await one.close()
    }
  })
})
