/**
 * Throughput of the per-record hot path: lossless JSON parsing of a 1000-sale V1 page (the
 * maximum page size), Schema decoding of its sales, and exact totals. Results are reported,
 * never asserted. Run with `npm run bench -w @kura/lightspeed-client`.
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

test("lightspeed hot paths", async ({ bench }) => {
  await bench.compare(
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
    })
  )
})
