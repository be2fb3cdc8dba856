/**
 * Paged order extraction cost per record, before and after refunds moved out of the page into one
 * `nodes(ids:)` query per page (and nested pages were resized to lineItems 4, shippingLines 1).
 * "before" rebuilds the session-1 page (refunds inline, lineItems 5, shippingLines 2) from the
 * same selections. A measurement, not an assertion.
 */
import { Effect, Stream } from "effect"
import { test } from "vitest"
import { Resources } from "../src/Resources.js"
import { ShopifyClient } from "../src/ShopifyClient.js"
import { clientLayer, startSandbox } from "../test/sandbox.js"

const QUICK = process.env.KURA_BENCH_QUICK === "1"
const ORDERS = 2000

// Quick mode (a smoke run under 25 s for the whole package) skips this one.
test.skipIf(QUICK)("paged orders: requests and cost points per order, before vs after", async () => {
  const sb = await startSandbox({ orders: ORDERS, historyDays: 120, timeScale: 100, fresh: true })
  try {
    const docs = Resources.orders.documents
    const refundSelection = (docs.detached.refunds ?? "")
      .replace(/^.*?\.\.\. on Refund \{ /, "")
      .replace(/ \} \} \}$/, "")
    const before = {
      ...Resources.orders,
      documents: {
        ...docs,
        page: docs.page
          .replace("refunds { id }", `refunds { ${refundSelection} }`)
          .replace("lineItems(first: 4)", "lineItems(first: 5)")
          .replace("shippingLines(first: 1)", "shippingLines(first: 2)"),
        detached: {}
      }
    }
    for (const [name, resource] of [
      ["before (refunds inline)", before],
      ["after (refunds by id)", Resources.orders]
    ] as const) {
      const started = Date.now()
      const line = await Effect.runPromise(
        Effect.provide(
          Effect.gen(function* () {
            const client = yield* ShopifyClient
            const pages = yield* Stream.runCollect(client.pages(resource, {}))
            const t = yield* client.telemetry
            const n = pages.reduce((a, p) => a + p.records.length, 0)
            return (
              `${name.padEnd(24)} orders=${n} pages=${pages.length} orders/page=${pages[0]?.pageSize} ` +
              `requests=${t.calls} requested-points/order=${(t.costRequested / n).toFixed(1)} ` +
              `actual-points/order=${(t.costActual / n).toFixed(1)} seconds=${((Date.now() - started) / 1000).toFixed(1)}`
            )
          }),
          clientLayer(sb)
        ).pipe(Effect.orDie)
      )
      console.log(line)
    }
  } finally {
    await sb.close()
  }
})
