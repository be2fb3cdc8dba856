/**
 * `KURA_SANDBOX=1`: starts the built-in emulators of the three APIs (@kura/sandbox) in-process and
 * points every source at them, so `kura-sync run|serve` works on a laptop with no accounts.
 */
import type { Sandbox } from "@kura/sandbox"
import { Effect, type Scope } from "effect"
import { ConfigError } from "./ConfigError.js"

/** True when the environment asks for the sandbox. */
export const sandboxRequested = (env: Readonly<Record<string, string | undefined>>): boolean =>
  ["1", "true", "yes"].includes((env.KURA_SANDBOX ?? "").trim().toLowerCase())

/**
 * The source variables a deployment would set to reach `sandbox`'s emulators (warehouse and lake
 * are not included): what `KURA_SANDBOX=1` overrides, and what tests pass to a kura-sync process.
 */
export const deploymentEnvOf = (sandbox: Sandbox) => {
  const { shopify, lightspeed, stocky } = sandbox
  return {
    SHOPIFY_SHOP: shopify.credentials.shopDomain,
    SHOPIFY_ACCESS_TOKEN: shopify.credentials.accessToken,
    SHOPIFY_API_BASE_URL: shopify.baseUrl,
    SHOPIFY_API_VERSION: shopify.credentials.apiVersion,
    SHOPIFY_WEBHOOK_SECRET: shopify.credentials.webhookSecret,
    LIGHTSPEED_CLIENT_ID: lightspeed.credentials.clientId,
    LIGHTSPEED_CLIENT_SECRET: lightspeed.credentials.clientSecret,
    LIGHTSPEED_REFRESH_TOKEN: lightspeed.credentials.refreshToken,
    LIGHTSPEED_API_BASE_URL: lightspeed.baseUrl,
    LIGHTSPEED_TOKEN_URL: lightspeed.credentials.tokenUrl,
    LIGHTSPEED_BUSINESS_LOCATIONS: lightspeed.credentials.businessLocationIds.join(","),
    STOCKY_STORE_NAME: stocky.credentials.storeName,
    STOCKY_API_KEY: stocky.credentials.apiKey,
    STOCKY_API_BASE_URL: `${stocky.baseUrl}/api/v2`
  }
}

/**
 * Starts the sandbox for the current scope and returns environment values that override the
 * source settings (warehouse and lake stay as configured). The sandbox closes with the scope.
 */
export const startSandboxEnv = (
  options: {
    readonly seed?: number
    readonly scale?: number
    readonly historyDays?: number
    /** End of generated history (epoch ms); default today. */
    readonly anchor?: number
    /** Clock speed-up of the emulators (default 1: real-time rate limits). */
    readonly timeScale?: number
  } = {}
) =>
  Effect.gen(function* () {
    const sandbox = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => (await import("@kura/sandbox")).startSandbox(options),
        catch: (cause) =>
          new ConfigError({
            problems: [
              {
                field: "KURA_SANDBOX",
                message: `the sandbox could not start (${cause instanceof Error ? cause.message : String(cause)})`,
                fix: "build it with `npx nx run @kura/sandbox:build`, or unset KURA_SANDBOX"
              }
            ]
          })
      }),
      (s) => Effect.promise(() => s.close())
    )
    const { shopify, lightspeed, stocky } = sandbox
    const env = deploymentEnvOf(sandbox)
    yield* Effect.logInfo(
      `sandbox started: shopify ${shopify.baseUrl}, lightspeed ${lightspeed.baseUrl}, stocky ${stocky.baseUrl}`
    )
    return { env, sandbox }
  }) satisfies Effect.Effect<unknown, ConfigError, Scope.Scope>
