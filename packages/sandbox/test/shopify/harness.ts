/**
 * Test harness: a clock, a controllable fault injector and helpers to start the emulator over the
 * fixture merchant and talk to it.
 */

import { makeClock } from "../../src/internal/clock.js"
import type {
  FaultInjector,
  FaultKind,
  SandboxApi,
  SandboxClock,
  ShopifyPlan
} from "../../src/internal/contracts.js"
import { defaultMerchantOptions, makeMerchant } from "../../src/internal/generator/makeMerchant.js"
import type { Merchant } from "../../src/internal/Merchant.js"
import type { Order } from "../../src/internal/model.js"
import type { ShopifyEmulatorOptions } from "../../src/internal/shopify/ShopifyEmulatorOptions.js"
import {
  type ShopifyEmulatorHandle,
  startShopifyEmulator
} from "../../src/internal/shopify/startShopifyEmulator.js"

/** Faults armed by the test: `arm("http_5xx", 2)` makes the next two decisions for that kind true. */
export class ArmedFaults implements FaultInjector {
  readonly profile = "none" as const
  private readonly armed = new Map<FaultKind, number>()
  private readonly counts: Record<SandboxApi, Partial<Record<FaultKind, number>>> = {
    shopify: {},
    lightspeed: {},
    stocky: {}
  }
  arm(kind: FaultKind, times = 1): void {
    this.armed.set(kind, (this.armed.get(kind) ?? 0) + times)
  }
  decide(api: SandboxApi, kind: FaultKind): boolean {
    const left = this.armed.get(kind) ?? 0
    if (left <= 0) return false
    this.armed.set(kind, left - 1)
    this.counts[api][kind] = (this.counts[api][kind] ?? 0) + 1
    return true
  }
  report() {
    return this.counts
  }
}

/** Shopify Standard plan limits. */
export const STANDARD: ShopifyPlan = {
  name: "standard",
  graphqlBucket: 2000,
  graphqlRestoreRate: 100,
  restBucket: 40,
  restLeakRate: 2
}

/**
 * A bucket no test drains: for tests of what the API answers, not of its rate limit. A file of quick
 * queries can outrun even a scaled Standard restore (the search tests drained it in 90 ms and were
 * throttled mid-assertion).
 */
export const UNMETERED: ShopifyPlan = {
  ...STANDARD,
  name: "custom",
  graphqlBucket: 1_000_000,
  graphqlRestoreRate: 1_000_000
}

/** Anchor = now, so the 60-day window is meaningful against real wall-clock time. */
export const ANCHOR = Date.now()

/** A started emulator plus helpers. */
export interface Started {
  readonly handle: ShopifyEmulatorHandle
  readonly merchant: Merchant
  readonly faults: ArmedFaults
  gql(
    query: string,
    variables?: Record<string, unknown>,
    version?: string,
    token?: string
  ): Promise<GqlResponse>
  rest(path: string, version?: string, token?: string): Promise<Response>
}

/** Parsed JSON from the emulator; tests read it freely and assert on it. */
// biome-ignore lint/suspicious/noExplicitAny: test-side JSON is asserted on, not trusted
export type Json = any

/** A parsed GraphQL answer. */
export interface GqlResponse {
  readonly status: number
  readonly headers: Headers
  readonly body: {
    readonly data?: Json
    readonly errors?: ReadonlyArray<Json>
    readonly extensions?: Json
  }
  readonly text: string
}

/** Starts the emulator over a fixture merchant (or the given one). */
export const start = async (
  opts: {
    /** Online orders of the generated merchant (POS sales come on top). */
    readonly orders?: number
    readonly historyDays?: number
    readonly timeScale?: number
    readonly plan?: ShopifyPlan
    readonly options?: ShopifyEmulatorOptions
    readonly merchant?: Merchant
    /** Overrides the real clock scaled by `timeScale` (e.g. a hand-stepped wall). */
    readonly clock?: SandboxClock
  } = {}
): Promise<Started> => {
  const merchant =
    opts.merchant ??
    makeMerchant({
      ...defaultMerchantOptions(ANCHOR),
      orders: opts.orders ?? 600,
      historyDays: opts.historyDays ?? 180
    })
  const faults = new ArmedFaults()
  const handle = await startShopifyEmulator({
    merchant,
    faults,
    clock: opts.clock ?? makeClock(opts.timeScale ?? 1),
    port: 0,
    plan: opts.plan ?? STANDARD,
    ...(opts.options === undefined ? {} : { options: opts.options })
  })
  const gql = async (
    query: string,
    variables?: Record<string, unknown>,
    version = "2026-01",
    token?: string
  ): Promise<GqlResponse> => {
    const res = await fetch(`${handle.baseUrl}/admin/api/${version}/graphql.json`, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "X-Shopify-Access-Token": token ?? handle.credentials.accessToken
      },
      body: JSON.stringify({ query, variables })
    })
    const text = await res.text()
    return { status: res.status, headers: res.headers, body: JSON.parse(text), text }
  }
  const rest = (path: string, version = "2026-01", token?: string): Promise<Response> =>
    fetch(path.startsWith("http") ? path : `${handle.baseUrl}/admin/api/${version}/${path}`, {
      headers: { "X-Shopify-Access-Token": token ?? handle.credentials.accessToken }
    })
  return { handle, merchant, faults, gql, rest }
}

/** One request a receiver got. */
export interface Received {
  readonly headers: Readonly<Record<string, string | Array<string> | undefined>>
  readonly body: string
}

/** A local webhook receiver; `status` decides each answer (default 200). */
export const startReceiver = async (
  status: (n: number) => number = () => 200
): Promise<{ readonly url: string; readonly received: Array<Received>; close(): Promise<void> }> => {
  const { createServer } = await import("node:http")
  const received: Array<Received> = []
  const server = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") })
      res.writeHead(status(received.length))
      res.end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()))
  const address = server.address()
  const port = typeof address === "object" && address !== null ? address.port : 0
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

/** Polls until `check` returns a value, or fails after `ms`. */
export const eventually = async <T>(check: () => Promise<T | undefined>, ms = 10_000): Promise<T> => {
  const until = Date.now() + ms
  for (;;) {
    const v = await check()
    if (v !== undefined) return v
    if (Date.now() > until) throw new Error("condition not met in time")
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** Every online, not deleted order of the merchant, by index (what the Shopify emulator serves). */
export const shopifyOrders = (s: Started): Array<Order> => {
  const out: Array<Order> = []
  for (let i = 0; i < s.merchant.orderCount; i++) {
    const o = s.merchant.orderAt(i)
    if (o !== undefined && o.channel === "online" && o.deletedAt === null) out.push(o)
  }
  return out
}
