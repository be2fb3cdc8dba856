/**
 * Starts the real Shopify emulator from @kura/sandbox over a seeded merchant, with faults the
 * test arms explicitly, and builds client layers pointed at it.
 */
import { type BulkJobStore, HttpTransport } from "@kura/core"
import {
  defaultMerchantOptions,
  type FaultInjector,
  type FaultKind,
  type Merchant,
  makeClock,
  makeMerchant,
  type SandboxApi,
  type ShopifyEmulatorHandle,
  type ShopifyEmulatorOptions,
  type ShopifyPlan,
  startShopifyEmulator
} from "@kura/sandbox"
import { Layer } from "effect"
import { ShopifyAuth } from "../src/ShopifyAuth.js"
import { ShopifyBulk } from "../src/ShopifyBulk.js"
import { ShopifyClient } from "../src/ShopifyClient.js"
import { ShopifyConfig, type ShopifyConfigShape } from "../src/ShopifyConfig.js"

/** Faults armed by the test: `arm("throttled", 2)` makes the next two decisions true. */
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

export const ANCHOR = Date.now()

export interface Sandbox {
  readonly handle: ShopifyEmulatorHandle
  readonly merchant: Merchant
  readonly faults: ArmedFaults
  close(): Promise<void>
}

const merchants = new Map<string, Merchant>()

/** Starts the emulator (merchants are cached per size so suites stay fast). */
export const startSandbox = async (
  opts: {
    readonly orders?: number
    readonly historyDays?: number
    readonly timeScale?: number
    readonly plan?: ShopifyPlan
    readonly options?: ShopifyEmulatorOptions
    readonly fresh?: boolean
    /** Merchant data seed (default: the sandbox's). */
    readonly seed?: number
  } = {}
): Promise<Sandbox> => {
  const key = `${opts.orders ?? 300}:${opts.historyDays ?? 120}:${opts.seed ?? "default"}`
  let merchant = opts.fresh === true ? undefined : merchants.get(key)
  if (merchant === undefined) {
    merchant = makeMerchant({
      ...defaultMerchantOptions(ANCHOR),
      orders: opts.orders ?? 300,
      historyDays: opts.historyDays ?? 120,
      ...(opts.seed === undefined ? {} : { seed: opts.seed })
    })
    if (opts.fresh !== true) merchants.set(key, merchant)
  }
  const faults = new ArmedFaults()
  const handle = await startShopifyEmulator({
    merchant,
    faults,
    clock: makeClock(opts.timeScale ?? 1),
    port: 0,
    plan: opts.plan ?? STANDARD,
    ...(opts.options === undefined ? {} : { options: opts.options })
  })
  return { handle, merchant, faults, close: () => handle.close() }
}

/** Config for the emulator. */
export const configLayer = (sb: Sandbox, over: Partial<ShopifyConfigShape> = {}) =>
  ShopifyConfig.layer({
    shop: sb.handle.credentials.shopDomain,
    baseUrl: sb.handle.baseUrl,
    apiVersion: "2026-10",
    ...over
  })

/** A client with the static admin token. */
export const clientLayer = (
  sb: Sandbox,
  over: Partial<ShopifyConfigShape> = {},
  auth?: Layer.Layer<ShopifyAuth, never, never>
) =>
  ShopifyClient.layer.pipe(
    Layer.provideMerge(auth ?? ShopifyAuth.layerStatic(sb.handle.credentials.accessToken)),
    Layer.provideMerge(configLayer(sb, over)),
    Layer.provideMerge(HttpTransport.layer())
  )

/** Client + bulk over a given job store layer. */
export const bulkLayer = (
  sb: Sandbox,
  store: Layer.Layer<BulkJobStore>,
  over: Partial<ShopifyConfigShape> = {},
  bulkOptions: Parameters<typeof ShopifyBulk.layer>[0] = {}
) =>
  ShopifyBulk.layer({ pollMinMillis: 50, pollMaxMillis: 200, busyRetryMillis: 100, ...bulkOptions }).pipe(
    Layer.provideMerge(clientLayer(sb, over)),
    Layer.provideMerge(store)
  )

/** Online, not deleted orders of the merchant whose updatedAt lies in [start, end). */
export const expectedOrderIds = (m: Merchant, start: number, end: number): Set<string> => {
  const ids = new Set<string>()
  for (let i = 0; i < m.orderCount; i++) {
    const o = m.orderAt(i)
    if (o === undefined || o.channel !== "online" || o.deletedAt !== null) continue
    if (o.updatedAt >= start && o.updatedAt < end) ids.add(`gid://shopify/Order/${o.id}`)
  }
  return ids
}
