/**
 * Shopify emulator latency at 100k online orders (the emulator must never be the bottleneck):
 * GraphQL pages of 250 orders with line items, an updated_at window page, REST pages (p50/p99),
 * and the bulk JSONL output rate with the DEFAULT pacing (job start → COMPLETED, lines/s and MB/s)
 * plus the download rate. Run with `npm run bench -w @kura/sandbox`; KURA_BENCH_QUICK=1 uses 10k
 * orders and fewer pages (finishes in seconds).
 */
import { test } from "vitest"
import { makeClock } from "../src/internal/clock.js"
import type { FaultInjector } from "../src/internal/contracts.js"
import { defaultMerchantOptions, makeMerchant } from "../src/internal/generator/makeMerchant.js"
import { startShopifyEmulator } from "../src/internal/shopify/startShopifyEmulator.js"

const noFaults: FaultInjector = {
  profile: "none",
  decide: () => false,
  report: () => ({ shopify: {}, lightspeed: {}, stocky: {} })
}
const QUICK = process.env.KURA_BENCH_QUICK === "1"
const ORDERS = QUICK ? 10_000 : 100_000
const merchant = makeMerchant({ ...defaultMerchantOptions(Date.now()), orders: ORDERS })
const startEmulator = (bulkRowsPerSecond?: number) =>
  startShopifyEmulator({
    merchant,
    faults: noFaults,
    clock: makeClock(1),
    port: 0,
    // A bucket that never throttles and a ceiling that admits first:250 × lineItems: this measures the emulator only.
    plan: {
      name: "custom",
      graphqlBucket: 1e12,
      graphqlRestoreRate: 1e12,
      restBucket: 1e9,
      restLeakRate: 1e9
    },
    // Bulk pacing stays at its default unless a baseline asks otherwise: the figure is what users get.
    options: { maxQueryCost: 1e9, ...(bulkRowsPerSecond === undefined ? {} : { bulkRowsPerSecond }) }
  })
const emulator = await startEmulator()
const { accessToken } = emulator.credentials
const gqlAt = async (
  baseUrl: string,
  query: string,
  variables: Record<string, unknown>,
  token = accessToken
): Promise<Record<string, unknown>> => {
  const res = await fetch(`${baseUrl}/admin/api/2026-01/graphql.json`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Shopify-Access-Token": token },
    body: JSON.stringify({ query, variables })
  })
  return (await res.json()) as Record<string, unknown>
}
const gql = (query: string, variables: Record<string, unknown>) => gqlAt(emulator.baseUrl, query, variables)
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

const runBulk = async (
  baseUrl = emulator.baseUrl,
  token = accessToken
): Promise<{ lines: number; ms: number; url: string }> => {
  const gql = (query: string, variables: Record<string, unknown>) => gqlAt(baseUrl, query, variables, token)
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
  const at = (q: number) => times[Math.min(times.length - 1, Math.ceil(q * times.length) - 1)]?.toFixed(1)
  const cpu = process.cpuUsage(cpu0)
  const cpuPerPage = (cpu.user + cpu.system) / 1000 / n
  console.log(
    `${label}: mean ${mean.toFixed(1)} ms, p50 ${at(0.5)} ms, p99 ${at(0.99)} ms over ${n} pages (${cpuPerPage.toFixed(1)} ms CPU per page, client included)`
  )
}

test(`shopify emulator latency at ${ORDERS / 1000}k online orders`, async () => {
  const pages = QUICK ? 10 : 40
  await measure("GraphQL orders(first: 250) + lineItems(first: 20)", pages, async () => {
    after = endCursor(await gql(PAGE, { after }))
  })
  await measure("GraphQL updated_at window (30 days), sortKey UPDATED_AT", pages / 2, async () => {
    windowAfter = endCursor(await gql(WINDOW, { after: windowAfter }))
  })
  await measure("REST orders.json?limit=250", pages / 2, async () => {
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
  const mb = Buffer.byteLength(text) / 1e6
  const jsonl = text.split("\n").filter((l) => l !== "").length
  console.log(
    `bulk JSONL of every order (default pacing): ${jsonl} lines, ${mb.toFixed(1)} MB, start → COMPLETED in ${ms.toFixed(0)} ms ` +
      `= ${Math.round((jsonl / ms) * 1000).toLocaleString("en")} lines/s, ${((mb / ms) * 1000).toFixed(1)} MB/s ` +
      `(${cpuMs.toFixed(0)} ms CPU = ${Math.round((jsonl / cpuMs) * 1000).toLocaleString("en")} lines per CPU-second; objectCount ${lines}); ` +
      `download ${downloadMs.toFixed(0)} ms = ${Math.round((jsonl / downloadMs) * 1000).toLocaleString("en")} lines/s, ${((mb / downloadMs) * 1000).toFixed(1)} MB/s`
  )
  // Baseline in the same run: session 1's default pacing (20k objects/s).
  const paced = await startEmulator(20_000)
  const base = await runBulk(paced.baseUrl, paced.credentials.accessToken)
  console.log(
    `baseline, bulkRowsPerSecond 20000 (the old default): ${base.lines} lines start → COMPLETED in ${base.ms.toFixed(0)} ms = ${Math.round((base.lines / base.ms) * 1000).toLocaleString("en")} lines/s`
  )
  await paced.close()
  await emulator.close()
}, 600_000)
