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
  const prerendered =
    orders <= (process.env.KURA_BENCH_QUICK === "1" ? 20_000 : 100_000) ? render(orders, grouped) : null
  globalThis.gc?.()
  const base = process.memoryUsage().heapUsed
  const rssBase = process.memoryUsage.rss()
  let peak = base
  let peakRss = rssBase
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().heapUsed)
    peakRss = Math.max(peakRss, process.memoryUsage.rss())
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
  peakRss = Math.max(peakRss, process.memoryUsage.rss())
  const seconds = (performance.now() - started) / 1000
  const totalLines = orders * 3 + Math.ceil(orders / 10)
  console.log(
    `${grouped ? "grouped    " : "interleaved"} ${prerendered === null ? "(input generated inline)" : "(input pre-rendered)   "} orders=${orders} lines=${totalLines} seconds=${seconds.toFixed(2)} ` +
      `lines/s=${Math.round(totalLines / seconds)} orders/s=${Math.round(count / seconds)} ` +
      `peak-heap-growth=${((peak - base) / 1048576).toFixed(1)} MiB peak-rss=${(peakRss / 1048576).toFixed(0)} MiB (process, before: ${(rssBase / 1048576).toFixed(0)} MiB) (emitted ${count}, children ${children})`
  )
  console.log(
    `KURA_BENCH_RESULT ${JSON.stringify({
      figure: `Shopify bulk JSONL parse+reassembly ${grouped ? "grouped" : "interleaved"} ${orders / 1000}k orders${prerendered === null ? "" : " (pre-rendered)"}`,
      value: Math.round(totalLines / seconds),
      unit: "lines/s",
      note: `peak RSS ${(peakRss / 1048576).toFixed(0)} MiB`
    })}`
  )
}

/** Pre-renders the input once so only parsing and reassembly are timed. */
const render = (orders: number, grouped: boolean): Array<Uint8Array> => [...chunks(orders, grouped)]

test("JSONL parse + reassembly: 100k and 1M orders", async () => {
  const genStart = performance.now()
  let bytes = 0
  const genOrders = process.env.KURA_BENCH_QUICK === "1" ? 20_000 : 100_000
  for (const c of chunks(genOrders, true)) bytes += c.length
  console.log(
    `input generation alone: ${genOrders / 1000}k orders, ${(bytes / 1048576).toFixed(0)} MiB in ${((performance.now() - genStart) / 1000).toFixed(2)} s`
  )
  const sizes =
    process.env.KURA_BENCH_SIZES ?? (process.env.KURA_BENCH_QUICK === "1" ? "20000,100000" : "100000,1000000")
  for (const n of sizes.split(",").map(Number)) {
    await measure(n, true)
    // The quick smoke run (< 25 s for the package) reads its larger size grouped only.
    if (process.env.KURA_BENCH_QUICK !== "1" || n <= 20_000) await measure(n, false)
  }
})
