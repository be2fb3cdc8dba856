/**
 * Webhook intake benchmark: throughput and p99 latency of `POST /webhooks/shopify` with valid
 * HMACs (every request a distinct event id), driven by autocannon on loopback against a real
 * `kura-sync serve` (DuckDB + local lake). Targets: ≥ 3,000 req/s with p99 ≤ 50 ms. Afterwards
 * the server is drained (SIGTERM lands the queue) and every accepted delivery must be in the lake.
 * Figures are printed, never asserted as timings; the exit code only reflects lost deliveries.
 * Usage: `npx node scripts/proof/bench/webhooks.ts [--quick]` (or KURA_BENCH_QUICK=1).
 */
import { createHmac, randomBytes } from "node:crypto"
import os from "node:os"
import autocannon from "autocannon"
import { lakeRecords, registerSecrets, startServe, workDir } from "../lib.ts"

const quick = process.argv.includes("--quick") || process.env.KURA_BENCH_QUICK === "1"
const seconds = quick ? 5 : 20
const connections = 32
const shop = "kura-bench.myshopify.com"
const webhookSecret = `whsec_${randomBytes(16).toString("hex")}`
const triggerSecret = `trig_${randomBytes(16).toString("hex")}`
registerSecrets("bench-webhooks", [webhookSecret, triggerSecret])

const dir = workDir(`bench-webhooks-${Date.now()}`)
const serve = await startServe("bench-webhooks", dir, {
  SHOPIFY_SHOP: shop,
  SHOPIFY_ACCESS_TOKEN: `shpat_${randomBytes(16).toString("hex")}`,
  SHOPIFY_WEBHOOK_SECRET: webhookSecret,
  KURA_TRIGGER_SECRET: triggerSecret
})

let seq = 0
const statuses = new Map<number, number>()
const result = await autocannon({
  url: `${serve.url}/webhooks/shopify`,
  connections,
  duration: seconds,
  requests: [
    {
      method: "POST",
      setupRequest: (req: Record<string, unknown>) => {
        const id = ++seq
        const body = JSON.stringify({
          id,
          name: `#${id}`,
          total_price: "1100",
          currency: "JPY",
          line_items: [{ sku: "MATCHA-30G", quantity: 1, price: "1100" }]
        })
        return {
          ...req,
          body,
          headers: {
            "content-type": "application/json",
            "x-shopify-shop-domain": shop,
            "x-shopify-topic": "orders/create",
            "x-shopify-api-version": "2026-01",
            "x-shopify-event-id": `bench-${id}`,
            "x-shopify-webhook-id": `wh-${id}`,
            "x-shopify-hmac-sha256": createHmac("sha256", webhookSecret).update(body).digest("base64")
          }
        }
      },
      onResponse: (status: number) => {
        statuses.set(status, (statuses.get(status) ?? 0) + 1)
      }
    }
  ]
})
const accepted = statuses.get(200) ?? 0
await serve.stop()
const landed = await lakeRecords(serve.lakeDir)
const ids = new Set(landed.map((l) => (JSON.parse(l.line) as { event_id: string }).event_id))

const rps = result.requests.average
const p99 = result.latency.p99
console.log(
  `webhooks: ${os.cpus().length}× ${os.cpus()[0]?.model ?? "cpu"}, Node ${process.version}, ${connections} connections, ${seconds} s`
)
console.log(
  `webhooks: ${Math.round(rps)} req/s (target ≥ 3000: ${rps >= 3000 ? "met" : "NOT met"}), p50 ${result.latency.p50} ms, p99 ${p99} ms (target ≤ 50: ${p99 <= 50 ? "met" : "NOT met"}), errors ${result.errors}, timeouts ${result.timeouts}`
)
console.log(
  `webhooks: statuses ${[...statuses].map(([s, n]) => `${s}×${n}`).join(" ")}; accepted ${accepted}, in the lake ${ids.size} (${landed.length} records)`
)
console.log(
  `webhooks: accepted ${Math.round(accepted / seconds)}/s sustained (the rest were refused with 503 "queue full", which Shopify retries)`
)
// A request in flight when autocannon stops may land without its answer being counted, so the
// lake can hold slightly more than `accepted`; fewer would be a lost delivery.
const lost = Math.max(0, accepted - ids.size)
if (lost !== 0) console.log(`webhooks: ${lost} accepted deliveries are missing from the lake`)
process.exit(lost === 0 && accepted > 0 ? 0 : 1)
