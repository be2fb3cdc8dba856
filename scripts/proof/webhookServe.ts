/**
 * What the webhook checks share: a real `kura-sync serve` for a sandbox shop with fresh webhook and
 * trigger secrets (registered for the secrets check), and read-only queries of its DuckDB file.
 */
import { randomBytes } from "node:crypto"
import { DuckDbWarehouse, Warehouse } from "@kura/warehouse"
import { Effect } from "effect"
import { registerSecrets, type ServeHandle, startServe } from "./lib.ts"

/** The parts of a sandbox's Shopify that `kura-sync serve` is pointed at. */
export interface SandboxShopify {
  readonly baseUrl: string
  readonly credentials: {
    readonly shopDomain: string
    readonly accessToken: string
    readonly apiVersion: string
  }
}

/** A started serve with the secrets a sender needs. */
export interface ShopifyServe {
  readonly serve: ServeHandle
  readonly shop: string
  readonly webhookSecret: string
  readonly triggerSecret: string
}

/**
 * Starts `kura-sync serve` over `dir` for the sandbox shop, with secrets drawn for this run (so no
 * two checks share one) and `env` added to its environment.
 */
export const startShopifyServe = async (
  check: string,
  dir: string,
  shopify: SandboxShopify,
  env: Readonly<Record<string, string>> = {}
): Promise<ShopifyServe> => {
  const shop = shopify.credentials.shopDomain
  const webhookSecret = `whsec_${randomBytes(16).toString("hex")}`
  const triggerSecret = `trig_${randomBytes(16).toString("hex")}`
  const accessToken = shopify.credentials.accessToken
  registerSecrets(check, [webhookSecret, triggerSecret, accessToken])
  const serve = await startServe(check, dir, {
    SHOPIFY_SHOP: shop,
    SHOPIFY_ACCESS_TOKEN: accessToken,
    SHOPIFY_API_BASE_URL: shopify.baseUrl,
    SHOPIFY_API_VERSION: shopify.credentials.apiVersion,
    SHOPIFY_WEBHOOK_SECRET: webhookSecret,
    KURA_TRIGGER_SECRET: triggerSecret,
    ...env
  })
  return { serve, shop, webhookSecret, triggerSecret }
}

/** A read-only query of a DuckDB warehouse file (no migration: the file is the serve's). */
export const queryDb = (file: string, sql: string) =>
  Effect.runPromise(
    Effect.flatMap(Effect.service(Warehouse), (w) => w.query(sql)).pipe(
      Effect.provide(DuckDbWarehouse.layer({ path: file, migrate: false }))
    )
  )
