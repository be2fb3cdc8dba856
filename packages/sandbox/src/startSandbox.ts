/**
 * Starts the whole sandbox: one generated merchant, one clock, one fault injector and the three
 * emulators (Shopify Admin, Lightspeed K-Series, Stocky), each on its own 127.0.0.1 port.
 */

import { makeClock } from "./internal/clock.js"
import type { FaultKind, FaultProfile, SandboxApi, ShopifyPlan } from "./internal/contracts.js"
import { makeFaultInjector } from "./internal/faults/FaultInjector.js"
import { defaultMerchantOptions, makeMerchant, todayUtcMidnight } from "./internal/generator/makeMerchant.js"
import {
  type LightspeedCredentials,
  type LightspeedEmulatorOptions,
  startLightspeedEmulator
} from "./internal/lightspeed/startLightspeedEmulator.js"
import type { GroundTruth, Merchant, MerchantOptions } from "./internal/Merchant.js"
import type { ShopifyEmulatorOptions } from "./internal/shopify/ShopifyEmulatorOptions.js"
import type { ShopifyCredentials } from "./internal/shopify/ShopifyState.js"
import { startShopifyEmulator } from "./internal/shopify/startShopifyEmulator.js"
import {
  type StockyCredentials,
  type StockyEmulatorOptions,
  startStockyEmulator
} from "./internal/stocky/startStockyEmulator.js"

/** Shopify plan presets (GraphQL bucket = 20 × restore rate; REST per the reference table). */
export const SHOPIFY_PLANS: Readonly<Record<ShopifyPlan["name"], ShopifyPlan>> = {
  standard: {
    name: "standard",
    graphqlBucket: 2000,
    graphqlRestoreRate: 100,
    restBucket: 40,
    restLeakRate: 2
  },
  advanced: {
    name: "advanced",
    graphqlBucket: 4000,
    graphqlRestoreRate: 200,
    restBucket: 80,
    restLeakRate: 4
  },
  plus: { name: "plus", graphqlBucket: 20000, graphqlRestoreRate: 1000, restBucket: 400, restLeakRate: 20 },
  enterprise: {
    name: "enterprise",
    graphqlBucket: 40000,
    graphqlRestoreRate: 2000,
    restBucket: 800,
    restLeakRate: 40
  },
  custom: { name: "custom", graphqlBucket: 2000, graphqlRestoreRate: 100, restBucket: 40, restLeakRate: 2 }
}

/** Options for `startSandbox`; every field has a default. */
export interface SandboxOptions {
  /** Data seed (default 42). Same seed + same anchor = same data. */
  readonly seed?: number
  /** Number of online orders (default 1000); POS sales are generated in proportion (×0.6). */
  readonly scale?: number
  /** End of generated history, epoch ms (default today 00:00 UTC). */
  readonly anchor?: number
  /** Days of history (default 365). */
  readonly historyDays?: number
  /** "jp" (JPY, 8%/10%) or "eu" (EUR, 7%/19%). Default "jp". */
  readonly tax?: "jp" | "eu"
  /** Injected stock discrepancies (default 5). */
  readonly discrepancies?: number
  /** Malformed records per source (default 0). */
  readonly malformedPerSource?: number
  /** Malformed Stocky stock adjustments, opt-in and separate from `malformedPerSource` (default 0). */
  readonly malformedAdjustments?: number
  /** Malformed Shopify customers, opt-in and separate from `malformedPerSource` (default 0). */
  readonly malformedCustomers?: number
  /** Malformed Shopify products, opt-in and separate from `malformedPerSource` (default 0). */
  readonly malformedProducts?: number
  /** POS business-day cutover hour (default 5). */
  readonly cutoverHour?: number
  /**
   * When a POS ticket's goods leave the stock: at its close (default) or when its lines are rung
   * up; K-Series does not document it. See `MerchantOptions.posStockMovesAt`.
   */
  readonly posStockMovesAt?: "close" | "ringUp"
  /** Fault profile (default "none"), or a profile with per-kind probability overrides. */
  readonly faults?:
    | FaultProfile
    | {
        readonly profile: FaultProfile
        readonly overrides?: Partial<Record<FaultKind, number>>
        readonly seed?: number
      }
  /** Clock speed-up for durations (default 1). */
  readonly timeScale?: number
  /** Shopify plan preset name or explicit limits (default "standard"). */
  readonly plan?: ShopifyPlan["name"] | ShopifyPlan
  /** First port (Shopify); Lightspeed gets port+1 and Stocky port+2. 0 (default) = free ports. */
  readonly port?: number
  readonly shopify?: ShopifyEmulatorOptions
  readonly lightspeed?: LightspeedEmulatorOptions
  readonly stocky?: StockyEmulatorOptions
}

/** One emulated API: where it listens and how to log in. */
export interface SandboxEndpoint<C> {
  readonly baseUrl: string
  readonly credentials: C
}

/** A running sandbox. */
export interface Sandbox {
  readonly shopify: SandboxEndpoint<ShopifyCredentials>
  readonly lightspeed: SandboxEndpoint<LightspeedCredentials>
  readonly stocky: SandboxEndpoint<StockyCredentials>
  /** The generated merchant (read-only use). */
  readonly merchant: Merchant
  /** What a correct pipeline must end with, given every change so far. */
  groundTruth(): GroundTruth
  /** Changes a fraction of orders now (updates, refunds, cancels, a few deletes); fires webhooks. */
  mutate(options: { readonly fraction: number }): ReadonlyArray<number>
  /**
   * New orders arriving now; fires orders/create webhooks. `posTicketMs`: each new POS sale was a
   * ticket open that long (its lines rung up that long before it closes; see `groundTruth().posTickets`).
   */
  createOrders(count: number, options?: { readonly posTicketMs?: number }): ReadonlyArray<number>
  /**
   * Voids `count` POS sales now: K-Series VOID accounts linking back to them, "User Mistake"
   * (restocked) alternating with a spoilage reason (not restocked); see `groundTruth().voids`.
   */
  voidSales(count: number): ReadonlyArray<number>
  /** Deletes `count` online orders now; fires orders/delete webhooks. */
  deleteOrders(count: number): ReadonlyArray<number>
  /** Resolves when no Shopify webhook delivery or retry is pending (handy in tests). */
  webhooksIdle(): Promise<void>
  /** Faults injected so far, per API and kind. */
  faultReport(): Readonly<Record<SandboxApi, Readonly<Partial<Record<FaultKind, number>>>>>
  /** Per-API figures (requests served, token refresh reuse attempts, throttles, ...). */
  stats(): Readonly<Record<SandboxApi, Readonly<Record<string, number>>>>
  close(): Promise<void>
}

/** Starts the sandbox. Throws RangeError naming the option when an option is invalid. */
export const startSandbox = async (options: SandboxOptions = {}): Promise<Sandbox> => {
  const anchor = options.anchor ?? todayUtcMidnight()
  const defaults = defaultMerchantOptions(anchor)
  const merchantOptions: MerchantOptions = {
    ...defaults,
    seed: options.seed ?? defaults.seed,
    orders: options.scale ?? defaults.orders,
    historyDays: options.historyDays ?? defaults.historyDays,
    tax: options.tax ?? defaults.tax,
    discrepancies: options.discrepancies ?? defaults.discrepancies,
    malformedPerSource: options.malformedPerSource ?? defaults.malformedPerSource,
    ...(options.malformedAdjustments === undefined
      ? {}
      : { malformedAdjustments: options.malformedAdjustments }),
    ...(options.malformedCustomers === undefined ? {} : { malformedCustomers: options.malformedCustomers }),
    ...(options.malformedProducts === undefined ? {} : { malformedProducts: options.malformedProducts }),
    cutoverHour: options.cutoverHour ?? defaults.cutoverHour,
    ...(options.posStockMovesAt === undefined ? {} : { posStockMovesAt: options.posStockMovesAt })
  }
  const merchant = makeMerchant(merchantOptions)
  const clock = makeClock(options.timeScale ?? 1)
  const f = options.faults ?? "none"
  const faults =
    typeof f === "string"
      ? makeFaultInjector({ profile: f, seed: merchantOptions.seed })
      : makeFaultInjector({
          profile: f.profile,
          seed: f.seed ?? merchantOptions.seed,
          ...(f.overrides === undefined ? {} : { overrides: f.overrides })
        })
  const planOption = options.plan ?? "standard"
  const plan = typeof planOption === "string" ? SHOPIFY_PLANS[planOption] : planOption
  if (plan === undefined)
    throw new RangeError(
      `plan must be one of ${Object.keys(SHOPIFY_PLANS).join(", ")}; got ${String(planOption)}`
    )
  const port = options.port ?? 0
  if (!Number.isInteger(port) || port < 0 || port > 65533)
    throw new RangeError(`port must be an integer in [0, 65533]; got ${port}`)
  const at = (k: number) => (port === 0 ? 0 : port + k)

  const shopify = await startShopifyEmulator({
    merchant,
    faults,
    clock,
    port: at(0),
    plan,
    ...(options.shopify === undefined ? {} : { options: options.shopify })
  })
  const started: Array<{ close(): Promise<void> }> = [shopify]
  try {
    const lightspeed = await startLightspeedEmulator({
      merchant,
      faults,
      clock,
      port: at(1),
      ...(options.lightspeed === undefined ? {} : { options: options.lightspeed })
    })
    started.push(lightspeed)
    const stocky = await startStockyEmulator({
      merchant,
      faults,
      clock,
      port: at(2),
      // Stocky writes local times in the store's zone (the warehouse's, where POs are received).
      options: {
        storeName: shopify.credentials.shopDomain,
        timeZone: merchant.locations.find((l) => l.kind === "warehouse")?.timeZone ?? "UTC",
        ...options.stocky
      }
    })
    started.push(stocky)
    const now = () => Math.max(clock.now(), anchor)
    return {
      shopify: { baseUrl: shopify.baseUrl, credentials: shopify.credentials },
      lightspeed: { baseUrl: lightspeed.baseUrl, credentials: lightspeed.credentials },
      stocky: { baseUrl: stocky.baseUrl, credentials: stocky.credentials },
      merchant,
      groundTruth: () => merchant.groundTruth(),
      mutate({ fraction }) {
        const touched = merchant.mutate({ fraction, now: now() })
        const deleted = touched.filter((i) => merchant.orderAt(i)?.deletedAt != null)
        const updated = touched.filter((i) => merchant.orderAt(i)?.deletedAt == null)
        shopify.notifyOrdersChanged(updated, "update")
        if (deleted.length > 0) shopify.notifyOrdersChanged(deleted, "delete")
        return touched
      },
      createOrders(count, options) {
        const created = merchant.createOrders({
          count,
          now: now(),
          ...(options?.posTicketMs === undefined ? {} : { posTicketMs: options.posTicketMs })
        })
        shopify.notifyOrdersChanged(created, "create")
        return created
      },
      voidSales: (count) => merchant.voidSales({ count, now: now() }),
      deleteOrders(count) {
        const deleted = merchant.deleteOrders({ count, now: now() })
        shopify.notifyOrdersChanged(deleted, "delete")
        return deleted
      },
      webhooksIdle: () => shopify.webhooksIdle(),
      faultReport: () => faults.report(),
      stats: () => ({ shopify: shopify.stats(), lightspeed: lightspeed.stats(), stocky: stocky.stats() }),
      close: async () => {
        await Promise.all(started.map((s) => s.close()))
      }
    }
  } catch (error) {
    await Promise.all(started.map((s) => s.close()))
    throw error
  }
}
