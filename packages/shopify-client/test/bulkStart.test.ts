import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { BulkJobStore } from "@kura/core"
import { Effect, Layer, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Order } from "../src/Order.js"
import { Resources } from "../src/Resources.js"
import { ShopifyBulk } from "../src/ShopifyBulk.js"
import { ShopifyClient } from "../src/ShopifyClient.js"
import { postGraphql, startProxy } from "./proxy.js"
import { bulkLayer, expectedOrderIds, type Sandbox, startSandbox } from "./sandbox.js"

const DAY = 86_400_000

/** A comparable fingerprint of an export: every order with its children, sorted. */
const fingerprint = (orders: ReadonlyArray<Order>) =>
  orders
    .map((o) =>
      JSON.stringify({
        id: o.id,
        updatedAt: o.updatedAt,
        total: o.totalPriceSet.shopMoney.amount.toString(),
        lines: o.lineItems.map((l) => l.id).sort(),
        refunds: o.refunds.map((r) => r.refundLineItems.length)
      })
    )
    .sort()

/**
 * A pass-through proxy in front of the emulator that lets the first `bulkOperationRunQuery` reach
 * Shopify and then resets the client's connection instead of answering: the job exists, the client
 * never learns its id.
 */
const startLosingProxy = async (target: string, losses: number) => {
  let left = losses
  let lost = 0
  const server = http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const body = Buffer.concat(chunks)
      const lose = left > 0 && body.toString("utf8").includes("bulkOperationRunQuery")
      if (lose) left--
      const headers = { ...req.headers, host: new URL(target).host }
      const upstream = http.request(
        `${target}${req.url ?? "/"}`,
        { method: req.method ?? "GET", headers },
        (up) => {
          if (lose) {
            up.resume()
            up.on("end", () => {
              lost++
              req.socket.destroy()
            })
            return
          }
          res.writeHead(up.statusCode ?? 502, up.headers)
          up.pipe(res)
        }
      )
      upstream.on("error", () => req.socket.destroy())
      upstream.end(body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    lost: () => lost,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

describe("durable bulk starts (sandbox)", () => {
  let sb: Sandbox
  beforeAll(async () => {
    sb = await startSandbox({ orders: 300, historyDays: 120, timeScale: 50, fresh: true })
  })
  afterAll(() => sb.close())

  const w = { start: Date.now() - 130 * DAY, end: Date.now() + DAY }
  const exportOptions = { window: w, sliceMillis: 70 * DAY, maxSliceMillis: 70 * DAY }
  // Emulator and client share this clock, so only jobs created after the attempt began match.
  const bulkOptions = { startRetryMillis: 20, clockSkewMillis: 0 }

  // Shopify's createdAt has whole seconds, so the reference run's jobs must be a second older
  // than the faulty run's attempts to be told apart from the job a lost start created.
  const faultFree = () =>
    Effect.runPromise(
      Effect.provide(
        Effect.gen(function* () {
          const b = yield* ShopifyBulk
          return yield* Stream.runCollect(b.export(Resources.orders, exportOptions))
        }),
        bulkLayer(sb, BulkJobStore.layerMemory, {}, bulkOptions)
      )
    ).then(async (orders) => {
      await new Promise((resolve) => setTimeout(resolve, 1100))
      return orders
    })

  it("retries a start that failed with 503 / connection reset before creating a job", async () => {
    const reference = await faultFree()
    expect(new Set(reference.map((o) => o.id))).toEqual(expectedOrderIds(sb.merchant, w.start, w.end))
    const memory = await Effect.runPromise(
      Effect.provide(Effect.service(BulkJobStore), BulkJobStore.layerMemory)
    )
    const jobsBefore = sb.handle.stats().bulkOperations ?? 0
    const orders = await Effect.runPromise(
      Effect.provide(
        Effect.gen(function* () {
          const c = yield* ShopifyClient
          // Warm the client so the armed faults land on the first bulk start, not on setup.
          yield* c.query("query { shop { id } }")
          yield* Effect.sync(() => {
            sb.faults.arm("connection_reset", 1)
            sb.faults.arm("http_5xx", 2)
          })
          const b = yield* ShopifyBulk
          return yield* Stream.runCollect(b.export(Resources.orders, exportOptions))
        }),
        bulkLayer(sb, Layer.succeed(BulkJobStore, memory), {}, bulkOptions)
      )
    )
    const report = sb.faults.report().shopify
    expect(report.connection_reset).toBe(1)
    expect(report.http_5xx).toBe(2)
    expect(fingerprint(orders)).toEqual(fingerprint(reference))
    const jobs = await Effect.runPromise(memory.list())
    // One job per slice: the failed attempts created none and nothing was started twice.
    expect(sb.handle.stats().bulkOperations ?? 0).toBe(jobsBefore + jobs.length)
    expect(jobs.every((j) => j.state === "loaded")).toBe(true)
    expect(jobs.length).toBe(2)
  })

  it("adopts the job a start created when its answer was lost, with no duplicate", async () => {
    const reference = await faultFree()
    const proxy = await startLosingProxy(sb.handle.baseUrl, 2)
    try {
      const memory = await Effect.runPromise(
        Effect.provide(Effect.service(BulkJobStore), BulkJobStore.layerMemory)
      )
      const jobsBefore = sb.handle.stats().bulkOperations ?? 0
      const orders = await Effect.runPromise(
        Effect.provide(
          Effect.gen(function* () {
            const b = yield* ShopifyBulk
            return yield* Stream.runCollect(b.export(Resources.orders, exportOptions))
          }),
          bulkLayer(sb, Layer.succeed(BulkJobStore, memory), { baseUrl: proxy.baseUrl }, bulkOptions)
        )
      )
      expect(proxy.lost()).toBe(2)
      expect(fingerprint(orders)).toEqual(fingerprint(reference))
      const jobs = await Effect.runPromise(memory.list())
      expect(jobs.length).toBe(2)
      expect(jobs.every((j) => j.state === "loaded")).toBe(true)
      // Both lost starts were adopted: Shopify holds exactly one job per slice.
      expect(sb.handle.stats().bulkOperations ?? 0).toBe(jobsBefore + 2)
    } finally {
      await proxy.close()
    }
  })

  it("adopts its own job, not another run's job of the same query created within the clock skew", async () => {
    // Our start reaches Shopify but its answer is lost; before we look it up, another process
    // starts the very same query (same window, same second). Both jobs match on query text and
    // createdAt; only the per-attempt `# kura-start` tag tells them apart.
    const RUN =
      "mutation KuraBulkRunQuery($query: String!, $groupObjects: Boolean!) { bulkOperationRunQuery(query: $query, groupObjects: $groupObjects) { bulkOperation { id query } userErrors { field message code } } }"
    let ourQuery: string | null = null
    let foreignId: string | null = null
    const proxy = await startProxy(sb.handle.baseUrl, async (body) => {
      if (body.includes("KuraBulkRunQuery") && ourQuery === null) {
        ourQuery = String(JSON.parse(body).variables.query)
        return { _tag: "lose" }
      }
      if (body.includes("KuraBulkRecent") && foreignId === null && ourQuery !== null) {
        const bare = ourQuery.split("\n").slice(1).join("\n")
        const answer = JSON.stringify(
          await postGraphql(sb.handle.baseUrl, sb.handle.credentials.accessToken, RUN, {
            query: bare,
            groupObjects: true
          })
        )
        foreignId = /gid:\/\/shopify\/BulkOperation\/\d+/.exec(answer)?.[0] ?? "none"
      }
      return { _tag: "forward" }
    })
    try {
      const memory = await Effect.runPromise(
        Effect.provide(Effect.service(BulkJobStore), BulkJobStore.layerMemory)
      )
      const w1 = { start: Date.now() - 20 * DAY, end: Date.now() + DAY }
      const orders = await Effect.runPromise(
        Effect.provide(
          Effect.gen(function* () {
            const b = yield* ShopifyBulk
            return yield* Stream.runCollect(b.export(Resources.orders, { window: w1, sliceMillis: 30 * DAY }))
          }),
          bulkLayer(
            sb,
            Layer.succeed(BulkJobStore, memory),
            { baseUrl: proxy.baseUrl },
            { clockSkewMillis: 5000 }
          )
        )
      )
      expect(ourQuery).toMatch(/^# kura-start [0-9a-f-]{36}\n\{ orders/)
      expect(foreignId).toMatch(/^gid:\/\/shopify\/BulkOperation\/\d+$/)
      const jobs = await Effect.runPromise(memory.list())
      expect(jobs.length).toBe(1)
      expect(jobs[0]?.jobId).not.toBe(foreignId)
      expect(new Set(orders.map((o) => o.id))).toEqual(expectedOrderIds(sb.merchant, w1.start, w1.end))
    } finally {
      await proxy.close()
    }
  })
})
