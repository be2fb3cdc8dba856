import { BulkJobStore } from "@kura/core"
import { Effect, Layer, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { Boundary } from "../src/internal/Boundary.js"
import { Resources } from "../src/Resources.js"
import { ShopifyBulk } from "../src/ShopifyBulk.js"
import { bulkLayer, expectedOrderIds, startSandbox } from "./sandbox.js"

const DAY = 86_400_000

const text = (x: unknown) => JSON.stringify(x, (_k, v) => (typeof v === "bigint" ? v.toString() : v))

describe("partial bulk data + gap re-runs emit every root exactly once (sandbox)", () => {
  // Several seeds, and one and two failures in a row (a re-run of a re-run keeps the boundary).
  for (const [seed, failures] of [
    [1, 1],
    [7, 2],
    [42, 1]
  ] as const) {
    it(`seed ${seed}, ${failures} failed job(s) with partial data`, async () => {
      const sb = await startSandbox({ orders: 400, historyDays: 60, timeScale: 50, seed, fresh: true })
      try {
        const w = { start: Date.now() - 70 * DAY + 123, end: Date.now() + DAY }
        const memory = await Effect.runPromise(
          Effect.provide(Effect.service(BulkJobStore), BulkJobStore.layerMemory)
        )
        const exportAll = Effect.gen(function* () {
          const b = yield* ShopifyBulk
          return yield* Stream.runCollect(
            b.export(Resources.orders, { window: w, sliceMillis: 100 * DAY, resumeOpenJobs: false })
          )
        })
        const layer = bulkLayer(sb, Layer.succeed(BulkJobStore, memory))
        const clean = await Effect.runPromise(Effect.provide(exportAll, layer))
        sb.faults.arm("bulk_failure", failures)
        const orders = await Effect.runPromise(Effect.provide(exportAll, layer))
        expect(sb.faults.report().shopify.bulk_failure).toBe(failures)

        const expected = expectedOrderIds(sb.merchant, w.start, w.end)
        const ids = orders.map((o) => o.id)
        // Root count == the ground truth's count, with no id twice.
        expect(new Set(ids).size).toBe(ids.length)
        expect(ids.length).toBe(expected.size)
        expect(new Set(ids)).toEqual(expected)
        // Children included: each record equals the clean export's, field for field.
        const byId = new Map(clean.map((o) => [o.id, o]))
        expect(clean.length).toBe(expected.size)
        for (const o of orders) expect(text(o)).toBe(text(byId.get(o.id)))
        // The failed jobs' partial data was used: the gap re-runs started past the window start.
        const jobs = [...(await Effect.runPromise(memory.list()))].sort((a, b) => a.createdAt - b.createdAt)
        const failed = jobs.filter((j) => j.state === "failed")
        expect(failed.length).toBe(failures)
        const reruns = jobs.slice(jobs.indexOf(failed[0] ?? jobs[0]!) + 1)
        expect(Date.parse(reruns[0]?.windowStart ?? "")).toBeGreaterThan(w.start)
      } finally {
        await sb.close()
      }
    })
  }
})

describe("partial bulk data that is not time-ordered (sandbox customers and products)", () => {
  it("re-reads the chain's window and skips every root already emitted", async () => {
    const sb = await startSandbox({ orders: 300, historyDays: 60, timeScale: 50, seed: 5, fresh: true })
    try {
      const w = { start: Date.now() - 3 * 365 * DAY, end: Date.now() + DAY }
      const layer = bulkLayer(sb, BulkJobStore.layerMemory)
      const exportAll = Effect.gen(function* () {
        const b = yield* ShopifyBulk
        const customers = yield* Stream.runCollect(
          b.export(Resources.customers, { window: w, sliceMillis: 4 * 365 * DAY, resumeOpenJobs: false })
        )
        const products = yield* Stream.runCollect(
          b.export(Resources.products, { window: w, sliceMillis: 4 * 365 * DAY, resumeOpenJobs: false })
        )
        return { customers: customers.map((c) => c.id), products: products.map((p) => p.id) }
      })
      const clean = await Effect.runPromise(Effect.provide(exportAll, layer))
      sb.faults.arm("bulk_failure", 2)
      const faulted = await Effect.runPromise(Effect.provide(exportAll, layer))
      expect(sb.faults.report().shopify.bulk_failure).toBe(2)
      expect(clean.customers.length).toBeGreaterThan(0)
      expect(faulted.customers.length).toBe(new Set(faulted.customers).size)
      expect(faulted.products.length).toBe(new Set(faulted.products).size)
      expect(new Set(faulted.customers)).toEqual(new Set(clean.customers))
      expect(new Set(faulted.products)).toEqual(new Set(clean.products))
    } finally {
      await sb.close()
    }
  })
})

describe("Boundary", () => {
  it("skips roots already emitted in the boundary second, forgets earlier seconds", () => {
    const b = new Boundary(0)
    expect(b.admit("a", "2026-01-01T00:00:00.100Z")).toBe(true)
    expect(b.admit("b", "2026-01-01T00:00:01.000Z")).toBe(true)
    expect(b.admit("c", "2026-01-01T00:00:01.900Z")).toBe(true)
    expect(b.second).toBe(Date.parse("2026-01-01T00:00:01Z") / 1000)
    expect(b.size).toBe(2)
    // The re-run from the boundary second reads b and c again, then new roots.
    expect(b.admit("b", "2026-01-01T00:00:01.000Z")).toBe(false)
    expect(b.admit("c", "2026-01-01T00:00:01.900Z")).toBe(false)
    expect(b.admit("d", "2026-01-01T00:00:01.950Z")).toBe(true)
    expect(b.admit("e", "2026-01-01T00:00:02.000Z")).toBe(true)
    expect(b.size).toBe(1)
    expect(b.disordered).toBe(false)
    expect(b.admit("a", "2026-01-01T00:00:00.100Z")).toBe(true)
    expect(b.disordered).toBe(true)
  })
})
