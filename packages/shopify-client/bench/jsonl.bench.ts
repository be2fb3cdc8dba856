/**
 * Bulk JSONL parse + reassembly throughput and peak memory at 100k and 1M orders (each with two
 * line items and a refund line under an inline refund), grouped and interleaved. The input is
 * generated lazily in 64 KiB chunks, as a download would arrive. A measurement, not an assertion.
 */
import { Effect, Stream } from "effect"
import { test } from "vitest"
import { jsonlLines, reassemble } from "../src/BulkJsonl.js"

const enc = new TextEncoder()

const orderLine = (i: number) =>
  JSON.stringify({
    __typename: "Order",
    id: `gid://shopify/Order/${i}`,
    name: `#${1000 + i}`,
    updatedAt: "2026-11-01T00:00:00Z",
    totalPriceSet: {
      shopMoney: { amount: "1100.0", currencyCode: "JPY" },
      presentmentMoney: { amount: "1100.0", currencyCode: "JPY" }
    },
    refunds: i % 10 === 0 ? [{ id: `gid://shopify/Refund/${i}` }] : []
  })
const lineItem = (i: number, k: number) =>
  JSON.stringify({
    __typename: "LineItem",
    id: `gid://shopify/LineItem/${i * 10 + k}`,
    sku: `MATCHA-${k}`,
    quantity: 1,
    originalUnitPriceSet: { shopMoney: { amount: "550.0", currencyCode: "JPY" } },
    __parentId: `gid://shopify/Order/${i}`
  })
const refundLine = (i: number) =>
  JSON.stringify({
    __typename: "RefundLineItem",
    id: `gid://shopify/RefundLineItem/${i}`,
    quantity: 1,
    __parentId: `gid://shopify/Refund/${i}`
  })

/** Lines in grouped order, or interleaved: parents of a block of 64 first, then their children. */
function* lines(orders: number, grouped: boolean): Generator<string> {
  const BLOCK = 64
  for (let b = 0; b < orders; b += BLOCK) {
    const end = Math.min(orders, b + BLOCK)
    if (grouped) {
      for (let i = b; i < end; i++) {
        yield orderLine(i)
        yield lineItem(i, 1)
        yield lineItem(i, 2)
        if (i % 10 === 0) yield refundLine(i)
      }
    } else {
      for (let i = b; i < end; i++) yield orderLine(i)
      for (let i = b; i < end; i++) yield lineItem(i, 1)
      for (let i = b; i < end; i++) {
        yield lineItem(i, 2)
        if (i % 10 === 0) yield refundLine(i)
      }
    }
  }
}

function* chunks(orders: number, grouped: boolean): Generator<Uint8Array> {
  let buf = ""
  for (const l of lines(orders, grouped)) {
    buf += `${l}\n`
    if (buf.length >= 65_536) {
      yield enc.encode(buf)
      buf = ""
    }
  }
  if (buf.length > 0) yield enc.encode(buf)
}

const measure = async (orders: number, grouped: boolean) => {
  // Rendering 1M orders up front would itself take ~1 GiB; above 100k the input is generated
  // lazily and its cost is included (reported separately below).
  const prerendered = orders <= 100_000 ? render(orders, grouped) : null
  globalThis.gc?.()
  const base = process.memoryUsage().heapUsed
  let peak = base
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().heapUsed)
  }, 20)
  const started = performance.now()
  let count = 0
  let children = 0
  await Effect.runPromise(
    jsonlLines(Stream.fromIterable(prerendered ?? chunks(orders, grouped), { chunkSize: 1 })).pipe(
      reassemble({
        grouped,
        childField: (c) => (c.__typename === "LineItem" ? "lineItems" : "refundLineItems"),
        childFields: ["lineItems"],
        inlineParents: { refunds: ["refundLineItems"] },
        // Interleaved output without counts: tell the reassembler how many children to expect.
        ...(grouped
          ? {}
          : {
              expectedChildren: (p) => ({
                lineItems: 2,
                refundLineItems: Array.isArray(p.refunds) ? p.refunds.length : 0
              })
            })
      }),
      Stream.runForEach((o) =>
        Effect.sync(() => {
          count++
          children += Array.isArray(o.lineItems) ? o.lineItems.length : 0
        })
      )
    )
  )
  clearInterval(timer)
  peak = Math.max(peak, process.memoryUsage().heapUsed)
  const seconds = (performance.now() - started) / 1000
  const totalLines = orders * 3 + Math.ceil(orders / 10)
  console.log(
    `${grouped ? "grouped    " : "interleaved"} ${prerendered === null ? "(input generated inline)" : "(input pre-rendered)   "} orders=${orders} lines=${totalLines} seconds=${seconds.toFixed(2)} ` +
      `lines/s=${Math.round(totalLines / seconds)} orders/s=${Math.round(count / seconds)} ` +
      `peak-heap-growth=${((peak - base) / 1048576).toFixed(1)} MiB (emitted ${count}, children ${children})`
  )
}

/** Pre-renders the input once so only parsing and reassembly are timed. */
const render = (orders: number, grouped: boolean): Array<Uint8Array> => [...chunks(orders, grouped)]

test("JSONL parse + reassembly: 100k and 1M orders", async () => {
  const genStart = performance.now()
  let bytes = 0
  for (const c of chunks(100_000, true)) bytes += c.length
  console.log(
    `input generation alone: 100k orders, ${(bytes / 1048576).toFixed(0)} MiB in ${((performance.now() - genStart) / 1000).toFixed(2)} s`
  )
  for (const n of (process.env.KURA_BENCH_SIZES ?? "100000,1000000").split(",").map(Number)) {
    await measure(n, true)
    await measure(n, false)
  }
})
