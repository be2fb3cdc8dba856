/**
 * What the demo needs from the sandbox: three endpoints, a few merchant options, `mutate`, and the
 * ground-truth figures its report compares against. The same shape whether the sandbox runs in
 * this process (tests) or in a child process (`npm run demo`, see `SandboxProcess.ts`), so only
 * plain JSON crosses between the two.
 */
import type { Sandbox, SandboxEndpoint, ShopifyCredentials } from "@kura/sandbox"
import { Option, Redacted } from "effect"
import type { LightspeedAccountConfig } from "../AppConfig.js"

/** The argument that makes the demo script serve the sandbox for a parent demo (`SandboxProcess.ts`). */
export const SANDBOX_CHILD_FLAG = "--sandbox-child"

/** The sandbox's Lightspeed credentials (as `@kura/sandbox` reports them). */
export type LightspeedSandboxCredentials = Sandbox["lightspeed"]["credentials"]
/** The sandbox's Stocky credentials. */
export type StockySandboxCredentials = Sandbox["stocky"]["credentials"]

/** The Lightspeed account (`default`) of a sandbox's emulator, with every business location it serves. */
export const sandboxLightspeedAccount = (lightspeed: {
  readonly baseUrl: string
  readonly credentials: LightspeedSandboxCredentials
}): LightspeedAccountConfig => ({
  name: "default",
  clientId: lightspeed.credentials.clientId,
  clientSecret: Redacted.make(lightspeed.credentials.clientSecret),
  refreshToken: Redacted.make(lightspeed.credentials.refreshToken),
  apiBaseUrl: Option.some(lightspeed.baseUrl),
  tokenUrl: Option.some(lightspeed.credentials.tokenUrl),
  businessLocations: lightspeed.credentials.businessLocationIds.map(Number)
})

/** The generated merchant's options the demo reads. */
export interface DemoMerchantOptions {
  readonly orders: number
  readonly historyDays: number
  /** Last day of generated history, epoch ms. */
  readonly anchor: number
  readonly tax: "jp" | "eu"
}

/** A stock-cell key (`SKU|Shopify location id`) with a quantity. */
export type CellQuantity = readonly [cell: string, quantity: number]

/** Ground-truth figures of the demo report, reduced in the sandbox's process to plain JSON. */
export interface DemoTruth {
  readonly counts: {
    readonly onlineOrders: number
    readonly posSales: number
    readonly customers: number
    readonly variants: number
    readonly locations: number
  }
  /** Gross revenue per channel in minor units (tax included, after discounts, before refunds). */
  readonly grossMinor: { readonly online: number; readonly pos: number }
  /** Injected discrepancies (shrinkage, miscounts) summed per stock cell. */
  readonly injected: ReadonlyArray<CellQuantity>
  /** Shopify adjustments after Stocky's shutdown (no API lists them), per stock cell. */
  readonly unlistedAdjustments: ReadonlyArray<CellQuantity>
  /**
   * Online orders deleted in Shopify, each with its net stock movement per cell (lines sold out,
   * restocked refunds back): the goods moved, but once deleted no API lists the order's lines, so
   * a warehouse that had not read the order before the deletion cannot hold those movements.
   */
  readonly deletedOrders: ReadonlyArray<{ readonly id: string; readonly cells: ReadonlyArray<CellQuantity> }>
}

/** The sandbox as the demo sees it. */
export interface DemoSandbox {
  readonly shopify: SandboxEndpoint<ShopifyCredentials>
  readonly lightspeed: SandboxEndpoint<LightspeedSandboxCredentials>
  readonly stocky: SandboxEndpoint<StockySandboxCredentials>
  readonly merchant: DemoMerchantOptions
  /** Changes a fraction of the orders now (an incremental run has something to pick up). */
  readonly mutate: (fraction: number) => Promise<void>
  /** The ground truth after every change so far. */
  readonly truth: () => Promise<DemoTruth>
  /** Stops the sandbox (a child process exits). */
  readonly close: () => Promise<void>
  /** The sandbox's process id when it runs in a child process. */
  readonly pid?: number
}

const add = (m: Map<string, number>, key: string, n: number) => m.set(key, (m.get(key) ?? 0) + n)
const norm = (sku: string) => sku.trim().toUpperCase()

/** Reduces a running sandbox's ground truth to the demo's figures (walks every order once). */
export const demoTruthOf = (sandbox: Sandbox): DemoTruth => {
  const truth = sandbox.groundTruth()
  const m = sandbox.merchant
  const gross = (channel: "online" | "pos") =>
    truth.revenueByDay.filter((d) => d.channel === channel).reduce((n, d) => n + d.gross, 0)
  const injected = new Map<string, number>()
  for (const d of truth.discrepancies) add(injected, `${norm(d.sku)}|${d.locationId}`, d.delta)
  const skuOf = new Map(m.variants.map((v) => [v.id, norm(v.sku)]))
  const unlisted = new Map<string, number>()
  for (const a of m.stockAdjustments)
    if (a.system === "shopify")
      for (const item of a.items) add(unlisted, `${skuOf.get(item.variantId)}|${a.locationId}`, item.quantity)
  const deletedOrders: Array<{ readonly id: string; readonly cells: ReadonlyArray<CellQuantity> }> = []
  for (let i = 0; i < m.orderCount; i++) {
    const o = m.orderAt(i)
    if (o !== undefined && o.channel === "online" && o.deletedAt !== null) {
      // As the sandbox's stock moved for it (its ledger counts deleted orders' movements too).
      const cells = new Map<string, number>()
      for (const l of o.lines) add(cells, `${norm(l.sku)}|${o.locationId}`, -l.quantity)
      for (const r of o.refunds)
        for (const rl of r.lines) {
          const line = o.lines.find((l) => l.id === rl.orderLineId)
          if (rl.restock && line !== undefined) add(cells, `${norm(line.sku)}|${rl.locationId}`, rl.quantity)
        }
      deletedOrders.push({ id: String(o.id), cells: [...cells] })
    }
  }
  return {
    counts: {
      onlineOrders: truth.counts.onlineOrders,
      posSales: truth.counts.posSales,
      customers: truth.counts.customers,
      variants: truth.counts.variants,
      locations: truth.counts.locations
    },
    grossMinor: { online: gross("online"), pos: gross("pos") },
    injected: [...injected],
    unlistedAdjustments: [...unlisted],
    deletedOrders
  }
}

/** The demo's view of a sandbox running in this process (`close` stops it only when `owned`). */
export const inProcessDemoSandbox = (sandbox: Sandbox, owned = false): DemoSandbox => ({
  shopify: sandbox.shopify,
  lightspeed: sandbox.lightspeed,
  stocky: sandbox.stocky,
  merchant: {
    orders: sandbox.merchant.options.orders,
    historyDays: sandbox.merchant.options.historyDays,
    anchor: sandbox.merchant.options.anchor,
    tax: sandbox.merchant.options.tax
  },
  mutate: async (fraction) => {
    sandbox.mutate({ fraction })
  },
  truth: async () => demoTruthOf(sandbox),
  close: () => (owned ? sandbox.close() : Promise.resolve())
})
