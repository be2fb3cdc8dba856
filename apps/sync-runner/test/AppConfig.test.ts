import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { DuckDbWarehouse, Warehouse } from "@kura/warehouse"
import { Context, Effect, Exit, Layer, Option, Redacted } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type ConfigInput, checkLocalStores, loadAppConfig } from "../src/AppConfig.js"
import { layerAppState } from "../src/AppState.js"
import { ConfigError } from "../src/ConfigError.js"
import { SecretResolver } from "../src/SecretResolver.js"
import { listen } from "./support.js"

const load = (input: ConfigInput, resolver = SecretResolver.layerNone) =>
  Effect.runPromiseExit(loadAppConfig(input).pipe(Effect.provide(resolver)))

const problemsOf = async (input: ConfigInput) => {
  const exit = await load(input)
  if (Exit.isSuccess(exit)) throw new Error("expected a ConfigError")
  const error = Option.getOrThrow(Exit.findErrorOption(exit))
  if (!(error instanceof ConfigError)) throw new Error(`unexpected ${String(error)}`)
  return error
}

describe("loadAppConfig", () => {
  it("reports every problem at once, each naming the variable and the fix", async () => {
    const error = await problemsOf({
      env: {
        SHOPIFY_SHOP: "kura matcha",
        SHOPIFY_CLIENT_ID: "abc",
        SHOPIFY_API_VERSION: "2026-02",
        LIGHTSPEED_CLIENT_ID: "ls",
        STOCKY_API_KEY: "k",
        KURA_WAREHOUSE: "postgres://x",
        KURA_SANDBOX: "maybe",
        PORT: "99999",
        KURA_TRIGGER_SECRET: "short"
      }
    })
    const fields = error.problems.map((p) => p.field)
    expect(fields).toEqual([
      "SHOPIFY_CLIENT_SECRET",
      "SHOPIFY_SHOP",
      "SHOPIFY_API_VERSION",
      "LIGHTSPEED_CLIENT_SECRET",
      "LIGHTSPEED_REFRESH_TOKEN",
      "STOCKY_STORE_NAME",
      "KURA_SANDBOX",
      "KURA_WAREHOUSE",
      "PORT",
      "KURA_TRIGGER_SECRET"
    ])
    for (const p of error.problems) expect(p.fix.length).toBeGreaterThan(10)
    expect(error.message).toMatch(/^Invalid configuration \(10 problems\):\n {2}1\. SHOPIFY_CLIENT_SECRET: /)
    expect(error.message).toContain('KURA_WAREHOUSE: "postgres://x" must start with "duckdb:" or "bigquery:"')
  })

  it("skips sources without credentials and says so", async () => {
    const exit = await load({
      env: { STOCKY_STORE_NAME: "kura-matcha.myshopify.com", STOCKY_API_KEY: "k".repeat(32) }
    })
    const config = Exit.isSuccess(exit) ? exit.value : undefined
    expect(config?.stocky).toHaveLength(1)
    expect(config?.shopify).toHaveLength(0)
    expect(config?.skipped.map((s) => s.source)).toEqual(["shopify", "lightspeed"])
    expect(config?.skipped[0]?.reason).toMatch(/no SHOPIFY_SHOP/)
  })

  it("reads the single-shop case from the environment", async () => {
    const exit = await load({
      env: {
        SHOPIFY_SHOP: "Kura-Matcha.myshopify.com",
        SHOPIFY_ACCESS_TOKEN: "shpat_123",
        SHOPIFY_API_BASE_URL: "http://127.0.0.1:4000/",
        SHOPIFY_WEBHOOK_SECRET: "whsec",
        LIGHTSPEED_CLIENT_ID: "c",
        LIGHTSPEED_CLIENT_SECRET: "s",
        LIGHTSPEED_REFRESH_TOKEN: "r",
        LIGHTSPEED_BUSINESS_LOCATIONS: "45454565682155, 45454565682156",
        PORT: "9090",
        KURA_OIDC_AUDIENCE: "https://kura.example",
        KURA_OIDC_SERVICE_ACCOUNTS: "kura-scheduler@kura-prod.iam.gserviceaccount.com"
      }
    })
    if (!Exit.isSuccess(exit)) throw new Error(String(exit.cause))
    const c = exit.value
    expect(c.shopify[0]?.shop).toBe("kura-matcha.myshopify.com")
    expect(c.shopify[0]?.apiBaseUrl).toEqual(Option.some("http://127.0.0.1:4000"))
    expect(c.shopify[0]?.auth._tag).toBe("AccessToken")
    expect(String(c.shopify[0]?.auth._tag === "AccessToken" && c.shopify[0].auth.accessToken)).not.toContain(
      "shpat"
    )
    expect(c.lightspeed[0]?.businessLocations).toEqual([45454565682155, 45454565682156])
    expect(c.port).toBe(9090)
    expect(c.warehouse).toBe("duckdb:data/kura.duckdb")
    expect(c.warehouseSettings.lake).toEqual({ kind: "file", dir: "data/lake" })
  })

  it("decodes a multi-account config file and names bad fields by path", async () => {
    const good = await load({
      env: {},
      file: {
        path: "kura.json",
        text: JSON.stringify({
          warehouse: "bigquery:kura-prod.kura",
          lake: "gs://kura-lake/raw",
          shopify: [
            { shop: "a.myshopify.com", accessToken: "t1" },
            { shop: "b.myshopify.com", clientId: "id", clientSecret: "sec" }
          ],
          lightspeed: [
            { name: "tokyo", clientId: "c", clientSecret: "s", refreshToken: "r", businessLocations: [1] }
          ],
          schedules: { shopify: "15m", "shopify/orders": "5m" }
        })
      }
    })
    if (!Exit.isSuccess(good)) throw new Error(String(good.cause))
    expect(good.value.shopify.map((s) => s.shop)).toEqual(["a.myshopify.com", "b.myshopify.com"])
    expect(good.value.schedules).toEqual({ shopify: 900_000, "shopify/orders": 300_000 })

    const bad = await problemsOf({
      env: {},
      file: {
        path: "kura.json",
        text: JSON.stringify({
          shopify: [{ shop: "a.myshopify.com" }, { token: "x" }],
          schedules: { shopify: "often", square: "5m" },
          typo: 1
        })
      }
    })
    const fields = bad.problems.map((p) => p.field)
    expect(fields).toContain("kura.json: shopify[1].shop")
    expect(fields).toContain("kura.json: typo")
    expect(bad.message).toContain("Missing key")
  })

  it("requires a gs:// lake with BigQuery and a file: or gs:// lake otherwise", async () => {
    const bq = await problemsOf({
      env: { KURA_WAREHOUSE: "bigquery:kura-prod.kura", KURA_LAKE: "file:lake" }
    })
    expect(bq.problems.map((p) => p.field)).toEqual(["KURA_LAKE"])
    expect(bq.problems[0]?.fix).toMatch(/gs:\/\//)
    const local = await problemsOf({ env: { KURA_LAKE: "/tmp/lake", KURA_LAKE_RETENTION_DAYS: "0" } })
    expect(local.problems.map((p) => p.field)).toEqual(["KURA_LAKE", "KURA_LAKE_RETENTION_DAYS"])
  })

  it("keeps Lightspeed tokens in the warehouse with BigQuery, in a file with DuckDB, as KURA_TOKEN_STORE says", async () => {
    const config = async (env: Record<string, string>) => {
      const exit = await load({ env })
      if (Exit.isFailure(exit)) throw new Error(String(exit.cause))
      return exit.value
    }
    const bq = await config({
      KURA_WAREHOUSE: "bigquery:kura-prod.kura",
      KURA_LAKE: "gs://kura-lake/raw",
      KURA_TOKEN_ENCRYPTION_KEY: "k".repeat(32)
    })
    expect(bq.tokenStore).toBe("warehouse")
    expect(Option.map(bq.tokenEncryptionKey, Redacted.value)).toEqual(Option.some("k".repeat(32)))
    // DuckDB too: kura-backfill reads the same store, so the two never split a refresh-token chain.
    expect((await config({})).tokenStore).toBe("warehouse")
    expect((await config({ KURA_TOKEN_STORE: "file" })).tokenStore).toBe("file")
    const bad = await problemsOf({ env: { KURA_TOKEN_STORE: "redis" } })
    expect(bad.problems).toEqual([expect.objectContaining({ field: "KURA_TOKEN_STORE" })])
  })

  it("reads the source knobs at start and names a bad one with its fix", async () => {
    const exit = await load({
      env: { KURA_SHOPIFY_BULK: "off", KURA_SHOPIFY_INVENTORY_FULL_EVERY_MS: "0" }
    })
    if (Exit.isFailure(exit)) throw new Error(String(exit.cause))
    expect(exit.value.sourceTuning).toEqual({
      shopifyBulkThresholdMs: Number.MAX_SAFE_INTEGER,
      shopifyBulkMinRecords: Number.MAX_SAFE_INTEGER,
      shopifyInventoryFullEveryMs: 0
    })
    const bad = await problemsOf({
      env: { KURA_SHOPIFY_BULK: "sometimes", KURA_SHOPIFY_TRANSFERS_FULL_EVERY_MS: "daily" }
    })
    expect(bad.problems.map((p) => p.field)).toEqual([
      "KURA_SHOPIFY_BULK",
      "KURA_SHOPIFY_TRANSFERS_FULL_EVERY_MS"
    ])
    expect(bad.problems[1]?.fix).toContain("86400000")
  })

  it("opens the DuckDB warehouse on KURA_DUCKDB_CONNECTIONS connections, and names a bad value with its fix", async () => {
    const lake = mkdtempSync(join(tmpdir(), "kura-connections-"))
    try {
      const exit = await load({
        env: { KURA_WAREHOUSE: "duckdb::memory:", KURA_LAKE: `file:${lake}`, KURA_DUCKDB_CONNECTIONS: " 3 " }
      })
      if (Exit.isFailure(exit)) throw new Error(String(exit.cause))
      expect(exit.value.warehouseSettings.duckDbConnections).toBe(3)
      // What DuckDB itself counts once the app's warehouse is open.
      const open = await Effect.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            const context = yield* Layer.build(layerAppState(exit.value))
            const w = Context.get(context, Warehouse)
            return yield* w.query("SELECT * FROM duckdb_connection_count()")
          })
        )
      )
      expect(Object.values(open[0] ?? {}).map(Number)).toEqual([3])
      const unset = await load({ env: { KURA_WAREHOUSE: "duckdb::memory:", KURA_LAKE: `file:${lake}` } })
      if (Exit.isFailure(unset)) throw new Error(String(unset.cause))
      expect(unset.value.warehouseSettings.duckDbConnections).toBeUndefined()
    } finally {
      rmSync(lake, { recursive: true, force: true })
    }
    for (const bad of ["0", "9", "two", "1.5", "-1"]) {
      const error = await problemsOf({ env: { KURA_DUCKDB_CONNECTIONS: bad } })
      expect(
        error.problems.map((p) => p.field),
        bad
      ).toEqual(["KURA_DUCKDB_CONNECTIONS"])
      expect(error.problems[0]?.fix).toContain(
        `from 1 to 8 (default ${DuckDbWarehouse.DEFAULT_CONNECTIONS}), or unset it`
      )
    }
  })

  it("requires the allowed invokers whenever an OIDC audience is set", async () => {
    const error = await problemsOf({ env: { KURA_OIDC_AUDIENCE: "https://kura.example" } })
    expect(error.problems).toEqual([expect.objectContaining({ field: "KURA_OIDC_SERVICE_ACCOUNTS" })])
    expect(error.problems[0]?.message).toMatch(/any Google account can mint a token/)
  })

  it("reports invalid JSON in the config file", async () => {
    const error = await problemsOf({ env: {}, file: { path: "kura.json", text: "{ nope" } })
    expect(error.problems[0]?.field).toBe("kura.json")
    expect(error.problems[0]?.message).toMatch(/not valid JSON/)
  })
})

describe("endpoints and local stores", () => {
  const lightspeed = {
    LIGHTSPEED_CLIENT_ID: "devp-kura",
    LIGHTSPEED_CLIENT_SECRET: "s".repeat(20),
    LIGHTSPEED_REFRESH_TOKEN: "r".repeat(20)
  }

  it("refuses plain http:// to a remote Lightspeed at start, naming the variable", async () => {
    const error = await problemsOf({
      env: { ...lightspeed, LIGHTSPEED_TOKEN_URL: "http://auth.example.com/oauth/token" }
    })
    expect(error.problems.map((p) => p.field)).toEqual(["LIGHTSPEED_TOKEN_URL"])
    expect(error.problems[0]?.fix).toContain("https://")
  })

  it("takes http:// on this machine as an emulator (npx kura-sandbox), not as the built-in sandbox", async () => {
    const local = await load({
      env: {
        ...lightspeed,
        LIGHTSPEED_API_BASE_URL: "http://127.0.0.1:4100",
        LIGHTSPEED_TOKEN_URL: "http://localhost:4100/oauth/token"
      }
    })
    const remote = await load({ env: { ...lightspeed, LIGHTSPEED_API_BASE_URL: "https://api.example.com" } })
    expect(Exit.isSuccess(local) && local.value.localEmulator).toBe(true)
    expect(Exit.isSuccess(local) && local.value.sandbox).toBe(false)
    expect(Exit.isSuccess(remote) && remote.value.localEmulator).toBe(false)
  })

  const settings = (path: string, dir: string) => ({
    warehouse: { kind: "duckdb" as const, path },
    lake: { kind: "file" as const, dir },
    bigQueryLocation: Option.none(),
    lakeRetentionDays: Option.none()
  })

  it("names KURA_WAREHOUSE and KURA_LAKE when their local directories cannot be written", () => {
    const dir = mkdtempSync(join(tmpdir(), "kura-stores-"))
    try {
      const file = join(dir, "not-a-dir")
      writeFileSync(file, "")
      const problems = checkLocalStores(settings(join(file, "kura.duckdb"), file), {
        warehouse: "KURA_WAREHOUSE",
        lake: "KURA_LAKE"
      })
      expect(problems.map((p) => p.field)).toEqual(["KURA_WAREHOUSE", "KURA_LAKE"])
      expect(problems[1]?.message).toContain("it is a file, not a directory")
      const fine = checkLocalStores(settings(join(dir, "new", "kura.duckdb"), join(dir, "lake")), {
        warehouse: "KURA_WAREHOUSE",
        lake: "KURA_LAKE"
      })
      expect(fine).toEqual([])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe("Secret Manager references", () => {
  let server: Awaited<ReturnType<typeof listen>>
  const seen: Array<{ url: string; auth: string | undefined }> = []
  beforeAll(async () => {
    server = await listen((req, res) => {
      seen.push({ url: req.url ?? "", auth: req.headers.authorization })
      if (req.url === "/v1/projects/kura-prod/secrets/shopify-token/versions/latest:access") {
        res.writeHead(200, { "content-type": "application/json" })
        res.end(
          JSON.stringify({
            name: "projects/123/secrets/shopify-token/versions/3",
            payload: { data: Buffer.from("shpat_from_secret_manager").toString("base64"), dataCrc32c: "1" }
          })
        )
      } else if (req.url?.includes("/forbidden/")) {
        res.writeHead(403).end('{"error":{"code":403}}')
      } else {
        res.writeHead(404).end('{"error":{"code":404}}')
      }
    })
  })
  afterAll(() => server.close())

  const resolver = () =>
    SecretResolver.make({
      baseUrl: server.url,
      auth: { getRequestHeaders: async () => new Headers({ authorization: "Bearer stub-adc-token" }) }
    })

  it("resolves sm:// values at start with the ADC bearer token", async () => {
    const exit = await Effect.runPromiseExit(
      loadAppConfig({
        env: {
          SHOPIFY_SHOP: "kura-matcha.myshopify.com",
          SHOPIFY_ACCESS_TOKEN: "sm://projects/kura-prod/secrets/shopify-token/versions/latest"
        }
      }).pipe(Effect.provideService(SecretResolver, resolver()))
    )
    if (!Exit.isSuccess(exit)) throw new Error(String(exit.cause))
    const auth = exit.value.shopify[0]?.auth
    expect(auth?._tag === "AccessToken" && Redacted.value(auth.accessToken)).toBe("shpat_from_secret_manager")
    expect(seen.at(-1)?.auth).toBe("Bearer stub-adc-token")
  })

  it("turns unresolvable references into config problems, all at once", async () => {
    const exit = await Effect.runPromiseExit(
      loadAppConfig({
        env: {
          STOCKY_STORE_NAME: "kura-matcha.myshopify.com",
          STOCKY_API_KEY: "sm://projects/kura-prod/secrets/missing/versions/latest",
          LIGHTSPEED_CLIENT_ID: "c",
          LIGHTSPEED_CLIENT_SECRET: "sm://projects/kura-prod/secrets/forbidden/versions/1",
          LIGHTSPEED_REFRESH_TOKEN: "sm://not-a-reference"
        }
      }).pipe(Effect.provideService(SecretResolver, resolver()))
    )
    const error = Exit.isFailure(exit) ? Option.getOrThrow(Exit.findErrorOption(exit)) : undefined
    expect(error).toBeInstanceOf(ConfigError)
    const problems = (error as ConfigError).problems
    expect(problems.map((p) => p.field).toSorted()).toEqual([
      "LIGHTSPEED_CLIENT_SECRET",
      "LIGHTSPEED_REFRESH_TOKEN",
      "STOCKY_API_KEY"
    ])
    expect(problems.find((p) => p.field === "LIGHTSPEED_CLIENT_SECRET")?.message).toMatch(/secretAccessor/)
    expect(problems.find((p) => p.field === "LIGHTSPEED_REFRESH_TOKEN")?.fix).toMatch(/sm:\/\/projects/)
  })
})
