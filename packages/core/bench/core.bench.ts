/**
 * Throughput of the hot paths a sync runs per record or per request: decimal parsing and
 * summing (every money field of every record), log redaction (every log line) and a limiter
 * reservation (every request). Run with `npm run bench -w @kura/core`; results are reported,
 * never asserted (timings belong to benchmarks, not tests).
 */
import { Effect } from "effect"
import { test } from "vitest"
import { Decimal, sumDecimals } from "../src/Money.js"
import { makeQueryCostBucket } from "../src/QueryCostBucket.js"
import { redact } from "../src/Redaction.js"

const amounts = Array.from(
  { length: 10_000 },
  (_, i) => `${(i * 7919) % 100_000}.${String(i % 100).padStart(2, "0")}`
)
const line =
  'GET https://kura-matcha.myshopify.com/admin/api/2026-01/orders.json?limit=250&page_info=abc responded 200 {"id":1}'
const bucket = makeQueryCostBucket({ maximumAvailable: 1_000_000_000, restoreRate: 1_000_000 })

test("core hot paths", async ({ bench }) => {
  await bench.compare(
    bench("Decimal: parse 10k amounts", () => {
      for (const a of amounts) Decimal.unsafeFrom(a)
    }),
    bench("Decimal: parse + sum 10k amounts", () => {
      sumDecimals(amounts.map((a) => Decimal.unsafeFrom(a)))
    }),
    bench("Redaction: one log line", () => {
      redact(line)
    }),
    bench("QueryCostBucket: reserve + settle", async () => {
      await Effect.runPromise(
        Effect.flatMap(bucket.reserve("shop", 10), (r) => bucket.settle(r, { actualQueryCost: 8 }))
      )
    })
  )
})
