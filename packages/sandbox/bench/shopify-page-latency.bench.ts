/**
 * Shopify emulator latency at 100k online orders (the emulator must never be the bottleneck):
 * GraphQL pages of 250 orders with line items, an updated_at window page, REST pages, and bulk
 * JSONL generation and download throughput. Run with `npm run bench -w @kura/sandbox`.
 */
import { test } from "vitest"
import type { FaultInjector } from "../src/internal/contracts.js"
import { defaultMerchantOptions, makeMerchant } from "../src/internal/generator/makeMerchant.js"
import { startShopifyEmulator } from "../src/internal/shopify/startShopifyEmulator.js"

const noFaults: FaultInjector = {
  profile: "none",
  decide: () => false,
  report: () => ({ shopify: {}, lightspeed: {}, stocky: {} })
}
const merchant = makeMerchant({ ...defaultMerchantOptions(Date.now()), orders: 100_000 })
const emulator = await startShopifyEmulator({
  merchant,
  faults: noFaults,
  clock: { timeScale: 1, now: () => Date.now(), scale: (ms) => ms },
  port: 0,
  // A bucket that never throttles and a ceiling that admits first:250 × lineItems: this measures the emulator only.
  plan: { name: "custom", graphqlBucket: 1e12, graphqlRestoreRate: 1e12, restBucket: 1e9, restLeakRate: 1e9 },
  options: { maxQueryCost: 1e9, bulkRowsPerSecond: 1e12 }
})
const { accessToken } = emulator.credentials
const gql = async (query: string, variables: Record<string, unknown>): Promise<Record<string, unknown>> => {
  const res = await fetch(`${emulator.baseUrl}/admin/api/2026-01/graphql.json`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Shopify-Access-Token": accessToken },
    body: JSON.stringify({ query, variables })
  })
  return (await res.json()) as Record<string, unknown>
}
const endCursor = (body: Record<string, unknown>): string | null => {
  const data = body.data as
    | { orders?: { pageInfo?: { endCursor?: string | null; hasNextPage?: boolean } } }
    | undefined
  const info = data?.orders?.pageInfo
  return info?.hasNextPage === true ? (info.endCursor ?? null) : null
}

const PAGE = `query($after: String) { orders(first: 250, after: $after, sortKey: CREATED_AT) {
  pageInfo { hasNextPage endCursor }
  nodes { id name createdAt updatedAt totalPriceSet { shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }
    lineItems(first: 20) { nodes { id sku quantity originalUnitPriceSet { shopMoney { amount } } taxLines { rate priceSet { shopMoney { amount } } } } } } } }`
let after: string | null = null

const since = new Date(Date.now() - 30 * 86_400_000).toISOString()
const WINDOW = `query($after: String) { orders(first: 250, after: $after, sortKey: UPDATED_AT, query: "updated_at:>='${since}'") {
  pageInfo { hasNextPage endCursor } nodes { id updatedAt lineItems(first: 20) { nodes { sku quantity } } } } }`
let windowAfter: string | null = null

let restUrl: string | null = null

const runBulk = async (): Promise<{ lines: number; ms: number; url: string }> => {
  const t0 = performance.now()
  const started = (await gql(
    "mutation($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id } userErrors { message } } }",
    {
      q: "{ orders { edges { node { id name createdAt totalPriceSet { shopMoney { amount } } lineItems { edges { node { id sku quantity } } } } } } }"
    }
  )) as { data: { bulkOperationRunQuery: { bulkOperation: { id: string } } } }
  const id = started.data.bulkOperationRunQuery.bulkOperation.id
  for (;;) {
    const r = (await gql(`{ bulkOperation(id: "${id}") { status objectCount url } }`, {})) as {
      data: { bulkOperation: { status: string; objectCount: string; url: string } }
    }
    if (r.data.bulkOperation.status === "COMPLETED") {
      return {
        lines: Number(r.data.bulkOperation.objectCount),
        ms: performance.now() - t0,
        url: r.data.bulkOperation.url
      }
    }
    await new Promise((res) => setTimeout(res, 50))
  }
}

const measure = async (label: string, n: number, step: () => Promise<void>): Promise<void> => {
  const times: Array<number> = []
  const cpu0 = process.cpuUsage()
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    await step()
    times.push(performance.now() - t0)
  }
  times.sort((a, b) => a - b)
  const mean = times.reduce((a, b) => a + b, 0) / times.length
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]?.toFixed(1)
  const cpu = process.cpuUsage(cpu0)
  const cpuPerPage = (cpu.user + cpu.system) / 1000 / n
  console.log(
    `${label}: mean ${mean.toFixed(1)} ms, p50 ${at(0.5)} ms, p95 ${at(0.95)} ms over ${n} pages (${cpuPerPage.toFixed(1)} ms CPU per page, client included)`
  )
}

test("shopify emulator latency at 100k online orders", async () => {
  await measure("GraphQL orders(first: 250) + lineItems(first: 20)", 40, async () => {
    after = endCursor(await gql(PAGE, { after }))
  })
  await measure("GraphQL updated_at window (30 days), sortKey UPDATED_AT", 20, async () => {
    windowAfter = endCursor(await gql(WINDOW, { after: windowAfter }))
  })
  await measure("REST orders.json?limit=250", 20, async () => {
    const res = await fetch(
      restUrl ?? `${emulator.baseUrl}/admin/api/2026-01/orders.json?limit=250&status=any`,
      {
        headers: { "X-Shopify-Access-Token": accessToken }
      }
    )
    await res.text()
    restUrl = /<([^>]+)>; rel="next"/.exec(res.headers.get("link") ?? "")?.[1] ?? null
  })
  const cpu0 = process.cpuUsage()
  const { lines, ms, url } = await runBulk()
  const cpu = process.cpuUsage(cpu0)
  const cpuMs = (cpu.user + cpu.system) / 1000
  const t0 = performance.now()
  const text = await (await fetch(url)).text()
  const downloadMs = performance.now() - t0
  console.log(
    `bulk JSONL of every order: ${lines} lines generated in ${ms.toFixed(0)} ms (${Math.round((lines / ms) * 1000)} lines/s; ` +
      `${cpuMs.toFixed(0)} ms CPU = ${Math.round((lines / cpuMs) * 1000)} lines per CPU-second, which is what a loaded machine hides); ` +
      `downloaded ${(text.length / 1e6).toFixed(1)} MB in ${downloadMs.toFixed(0)} ms (${Math.round((lines / downloadMs) * 1000)} lines/s)`
  )
  await emulator.close()
}, 600_000)
