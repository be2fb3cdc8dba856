import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Redacted } from "effect"
import { LightspeedConfigService, makeConfig, TOKEN_URLS } from "../src/index.js"

describe("LightspeedConfig", () => {
  it.effect("fills V1 defaults: production host, raw Basic auth, financials v1", () =>
    Effect.gen(function* () {
      const config = yield* makeConfig({ clientId: "devp-abc", clientSecret: "s" })
      expect(config.apiBaseUrl).toBe("https://api.lsk.lightspeed.app")
      expect(config.tokenUrl).toBe("https://api.lsk.lightspeed.app/oauth/token")
      expect(config.clientAuthMethod).toBe("basic-raw")
      expect(config.financialsApi).toBe("v1")
      expect(config.financialsPageSize).toBe(1000)
      expect(Duration.toMillis(config.refreshIdleTtl)).toBe(14 * 86_400_000)
      expect(String(config.clientSecret)).not.toContain("s")
    })
  )

  it.effect("V2 trial presets put credentials in the body", () =>
    Effect.gen(function* () {
      const config = yield* makeConfig({
        clientId: "devp-v2-abc",
        clientSecret: "s",
        authVersion: "v2",
        environment: "trial"
      })
      expect(config.tokenUrl).toBe(TOKEN_URLS.v2.trial)
      expect(config.tokenUrl).toContain("auth.lsk-demo.app")
      expect(config.apiBaseUrl).toBe("https://api.trial.lsk.lightspeed.app")
      expect(config.clientAuthMethod).toBe("post")
    })
  )

  it.effect("bad input names the field and the fix", () =>
    Effect.gen(function* () {
      const v2IdOnV1 = yield* Effect.flip(makeConfig({ clientId: "devp-v2-abc", clientSecret: "s" }))
      expect(v2IdOnV1.field).toBe("authVersion")
      expect(v2IdOnV1.message).toContain('"v2"')
      const http = yield* Effect.flip(
        makeConfig({ clientId: "a", clientSecret: "s", apiBaseUrl: "http://x" })
      )
      expect(http.field).toBe("apiBaseUrl")
      expect(http.message).toContain("https")
      const page = yield* Effect.flip(makeConfig({ clientId: "a", clientSecret: "s", salesPageSize: 500 }))
      expect(page.field).toBe("salesPageSize")
      const rps = yield* Effect.flip(
        makeConfig({ clientId: "a", clientSecret: "s", maxRequestsPerSecond: 0 })
      )
      expect(rps.field).toBe("maxRequestsPerSecond")
      const empty = yield* Effect.flip(makeConfig({ clientId: " ", clientSecret: "s" }))
      expect(empty.field).toBe("clientId")
    })
  )

  it.effect("layerConfig reads LIGHTSPEED_* through Effect Config", () =>
    Effect.gen(function* () {
      const config = yield* Effect.service(LightspeedConfigService).pipe(
        Effect.provide(LightspeedConfigService.layerConfig),
        Effect.provide(
          ConfigProvider.layer(
            ConfigProvider.fromEnvRecord({
              LIGHTSPEED_CLIENT_ID: "devp-env",
              LIGHTSPEED_CLIENT_SECRET: "env-secret",
              LIGHTSPEED_ENVIRONMENT: "trial",
              LIGHTSPEED_FINANCIALS_API: "v2",
              LIGHTSPEED_MAX_RPS: "3"
            })
          )
        )
      )
      expect(config.clientId).toBe("devp-env")
      expect(Redacted.value(config.clientSecret)).toBe("env-secret")
      expect(config.environment).toBe("trial")
      expect(config.financialsApi).toBe("v2")
      expect(config.maxRequestsPerSecond).toBe(3)
      expect(config.initialRequestsPerSecond).toBe(3)
    })
  )
})
