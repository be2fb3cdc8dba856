/**
 * `KURA_SANDBOX=1`: a built-in sandbox (all three emulators) started for the command's lifetime,
 * whose endpoints and credentials replace the SHOPIFY_* / LIGHTSPEED_* / STOCKY_* settings.
 */
import { type Sandbox, startSandbox } from "@kura/sandbox"
import { Effect } from "effect"

/** Whether the environment asks for the built-in sandbox. */
export const sandboxRequested = (env: Readonly<Record<string, string | undefined>>): boolean =>
  env.KURA_SANDBOX === "1" || env.KURA_SANDBOX === "true"

const num = (v: string | undefined, fallback: number) => {
  const n = Number(v)
  return v === undefined || v === "" || !Number.isFinite(n) ? fallback : n
}

/** The environment a sandbox gives the sources. */
export const sandboxEnv = (s: Sandbox): Record<string, string> => ({
  SHOPIFY_SHOP: s.shopify.credentials.shopDomain,
  SHOPIFY_ACCESS_TOKEN: s.shopify.credentials.accessToken,
  SHOPIFY_API_BASE_URL: s.shopify.baseUrl,
  SHOPIFY_API_VERSION: "2026-01",
  LIGHTSPEED_CLIENT_ID: s.lightspeed.credentials.clientId,
  LIGHTSPEED_CLIENT_SECRET: s.lightspeed.credentials.clientSecret,
  LIGHTSPEED_REFRESH_TOKEN: s.lightspeed.credentials.refreshToken,
  LIGHTSPEED_API_BASE_URL: s.lightspeed.baseUrl,
  LIGHTSPEED_TOKEN_URL: s.lightspeed.credentials.tokenUrl,
  LIGHTSPEED_BUSINESS_LOCATIONS: s.lightspeed.credentials.businessLocationIds.join(","),
  STOCKY_STORE_NAME: s.stocky.credentials.storeName,
  STOCKY_API_KEY: s.stocky.credentials.apiKey,
  STOCKY_API_BASE_URL: `${s.stocky.baseUrl}/api/v2`,
  STOCKY_TIME_ZONE: "Asia/Tokyo"
})

/**
 * Starts the sandbox in the current scope (closed with it). KURA_SANDBOX_SEED, _SCALE (orders),
 * _TIME_SCALE and _HISTORY_DAYS tune it.
 */
export const startSandboxEnv = (env: Readonly<Record<string, string | undefined>>) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      startSandbox({
        seed: num(env.KURA_SANDBOX_SEED, 42),
        scale: num(env.KURA_SANDBOX_SCALE, 10_000),
        timeScale: num(env.KURA_SANDBOX_TIME_SCALE, 60),
        historyDays: num(env.KURA_SANDBOX_HISTORY_DAYS, 365)
      })
    ),
    (s) => Effect.promise(() => s.close())
  ).pipe(Effect.map(sandboxEnv))
