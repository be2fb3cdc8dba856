/**
 * Throughput of the sandbox's hot paths (target: the sandbox is never the bottleneck; > 300k
 * orders/s generated). Run with `npm run bench -w @kura/sandbox`; figures are printed, not asserted.
 */

// The built package (run `npm run build` first): measured as users load it, without the test
// runner's module-getter overhead.
import { defaultMerchantOptions, makeMerchant } from "@kura/sandbox"
import { test } from "vitest"

const ANCHOR = Date.UTC(2026, 10, 26)
// KURA_BENCH_QUICK=1: smaller merchants so the whole sandbox bench finishes in seconds.
const QUICK = process.env.KURA_BENCH_QUICK === "1"

test("generator throughput", async ({ bench }) => {
  const merchant = makeMerchant({ ...defaultMerchantOptions(ANCHOR), orders: QUICK ? 100_000 : 10_000_000 })
  let cursor = 0
  const orders = await bench("orderAt × 10k (10M-order merchant)", () => {
    for (let k = 0; k < 10_000; k++) {
      merchant.orderAt(cursor)
      cursor = (cursor + 7919) % merchant.orderCount
    }
  }).run()
  const search = await bench("orderIndexAtOrAfter × 1k", () => {
    for (let k = 0; k < 1000; k++) merchant.orderIndexAtOrAfter(Date.UTC(2026, 0, 1) + k * 60_000)
  }).run()
  const perSecond = (r: typeof orders, n: number) => {
    const mean = (r as unknown as { latency?: { mean?: number } }).latency?.mean
    return mean === undefined ? "n/a" : Math.round((n * 1000) / mean).toLocaleString("en")
  }
  console.log(`orders generated per second: ${perSecond(orders, 10_000)}`)
  console.log(`time→index searches per second: ${perSecond(search, 1000)}`)
  const t0 = performance.now()
  const truthOrders = QUICK ? 10_000 : 100_000
  makeMerchant({ ...defaultMerchantOptions(ANCHOR), orders: truthOrders }).groundTruth()
  console.log(
    `ground truth of ${(truthOrders * 1.6) / 1000}k orders (streaming pass): ${Math.round(performance.now() - t0)} ms`
  )
}, 300_000)
