import { ConfigProvider, Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { makeShopifyConfig, ShopifyConfig } from "../src/ShopifyConfig.js"

const fromEnv = (env: Record<string, string>) =>
  Effect.runPromiseExit(
    Effect.service(ShopifyConfig).pipe(
      Effect.provide(
        ShopifyConfig.layerConfig.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord(env))))
      )
    )
  )

describe("ShopifyConfig", () => {
  it("defaults throttleTimeoutMillis to 30 minutes and reads SHOPIFY_THROTTLE_TIMEOUT_MS", async () => {
    const plain = await fromEnv({ SHOPIFY_SHOP: "kura-matcha.myshopify.com" })
    expect(plain._tag === "Success" && plain.value.throttleTimeoutMillis).toBe(1_800_000)
    const set = await fromEnv({
      SHOPIFY_SHOP: "kura-matcha.myshopify.com",
      SHOPIFY_THROTTLE_TIMEOUT_MS: "90000"
    })
    expect(set._tag === "Success" && set.value.throttleTimeoutMillis).toBe(90_000)
  })

  it("rejects a negative throttleTimeoutMillis naming the field and the default", async () => {
    const exit = await Effect.runPromiseExit(
      makeShopifyConfig({ shop: "kura-matcha.myshopify.com", throttleTimeoutMillis: -1 })
    )
    expect(exit._tag).toBe("Failure")
    expect(JSON.stringify(exit)).toContain("throttleTimeoutMillis")
    expect(JSON.stringify(exit)).toContain("default 1800000")
  })
})
