/**
 * Throughput of the per-record hot path: lossless JSON parsing of a 1000-sale V1 page (the
 * maximum page size), Schema decoding of its sales, and exact totals. Results are reported,
 * never asserted. Run with `npm run bench -w @kura/lightspeed-client`; `KURA_BENCH_QUICK=1` (set by
 * `npm run bench -- --quick`) takes a few samples only, to prove the bench still runs (CI).
 */
import { Schema } from "effect"
import { test } from "vitest"
import { normalizeSale, Sale, SaleWire, saleTotals } from "../src/index.js"
import { parseJsonLossless } from "../src/internal/json.js"
import { makeSale } from "../test/support/FakeLightspeed.js"

const page = JSON.stringify({
  sales: Array.from({ length: 1000 }, (_, i) => makeSale("141948669132802", "2024-03-01", i, true)),
  dataComplete: true
})
const decodeSales = Schema.decodeUnknownSync(Schema.Array(Sale))
const decodeWire = Schema.decodeUnknownSync(Schema.Array(SaleWire))
const raw: unknown = JSON.parse(page)
const rawSales: unknown = Reflect.get(Object(raw), "sales")
const decoded = decodeSales(rawSales)
const QUICK = process.env.KURA_BENCH_QUICK === "1"
// Quick: a handful of samples (seconds in all); full: tinybench's defaults (≥ 1 s and 64 samples each).
const runOptions = QUICK ? { time: 100, iterations: 3, warmupTime: 20, warmupIterations: 1 } : {}

test("lightspeed hot paths", async ({ bench }) => {
  const result = await bench.compare(
    bench("parse a 1000-sale page (lossless ids)", () => {
      parseJsonLossless(page)
    }),
    bench("decode 1000 sales (Sale schema, exact decimals)", () => {
      decodeSales(rawSales)
    }),
    bench("decode 1000 sales (client fast path: SaleWire + normalizeSale)", () => {
      decodeWire(rawSales).map(normalizeSale)
    }),
    bench("totals of 1000 sales (exact Money)", () => {
      saleTotals(decoded, "JPY")
    }),
    runOptions
  )
  const fast = result.get("decode 1000 sales (client fast path: SaleWire + normalizeSale)")
  const mean = (fast as unknown as { latency?: { mean?: number } }).latency?.mean
  if (mean !== undefined && mean > 0)
    console.log(
      `KURA_BENCH_RESULT ${JSON.stringify({
        figure: `Lightspeed sales decoded per second (client fast path, 1000-sale pages${QUICK ? ", quick" : ""})`,
        value: Math.round((1000 * 1000) / mean),
        unit: "sales/s"
      })}`
    )
}, 120_000)
