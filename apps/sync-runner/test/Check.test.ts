import { execFile } from "node:child_process"
import { createHash } from "node:crypto"
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type Sandbox, startSandbox } from "@kura/sandbox"
import { DuckDbWarehouse, Warehouse } from "@kura/warehouse"
import { Effect, Layer } from "effect"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { SHOPIFY_CHECK_QUERY } from "../src/CheckSources.js"
import { deploymentEnvOf } from "../src/SandboxEnv.js"
import { spawnEnv } from "./support.js"

// Drives the BUILT kura-sync (as a deployment pipeline runs it) against the real sandbox and
// local servers that misbehave on purpose.
const main = join(inject("builtAppDir"), "main.js")
let dir: string
let sandbox: Sandbox
const servers: Array<Server> = []
const extraSandboxes: Array<Sandbox> = []

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kura-check-"))
  // Stocky is retired after 2026-08-31 in the sandbox's story; history ending before keeps it up.
  sandbox = await startSandbox({ scale: 20, historyDays: 7, anchor: Date.parse("2026-08-25T00:00:00Z") })
}, 120_000)
afterAll(async () => {
  await sandbox?.close()
  for (const s of extraSandboxes) await s.close()
  for (const s of servers) await new Promise((ok) => s.close(ok))
  await rm(dir, { recursive: true, force: true })
})

interface Row {
  readonly name: string
  readonly status: "ok" | "warn" | "FAIL" | "skipped"
  readonly detail: string
  readonly fix: string
}

/**
 * Runs the built `check`. Each check's own bound is 90 s here, not the 20 s default: at load 20 a
 * DuckDB open and a login can take longer than 20 s, and the FAIL that follows says nothing about
 * the code under test (one such failure in session 9). The timeout test passes its own.
 */
const check = (env: Record<string, string>, args: ReadonlyArray<string> = ["--json", "--timeout", "90s"]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((ok) => {
    execFile(
      process.execPath,
      [main, "check", ...args],
      { env: { ...spawnEnv(), HOME: dir, ...env }, cwd: dir, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) =>
        ok({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr })
    )
  })

const rowsOf = (stdout: string): ReadonlyArray<Row> => {
  const report: { ok: boolean; checks: ReadonlyArray<Row> } = JSON.parse(stdout)
  return report.checks
}
const row = (rows: ReadonlyArray<Row>, name: string): Row => {
  const r = rows.find((x) => x.name === name)
  if (r === undefined) throw new Error(`no row ${name} in ${JSON.stringify(rows, null, 2)}`)
  return r
}

/** The whole sandbox as environment variables, stores under `sub`. */
const sandboxEnv = (sub: string, s: Sandbox = sandbox) => ({
  ...deploymentEnvOf(s),
  KURA_WAREHOUSE: `duckdb:${join(dir, sub, "kura.duckdb")}`,
  KURA_LAKE: `file:${join(dir, sub, "lake")}`,
  KURA_STATE_DIR: join(dir, sub, "state"),
  KURA_TOKEN_STORE: "file"
})

const listen = async (handler: Parameters<typeof createServer>[1]): Promise<string> => {
  const server = createServer(handler)
  servers.push(server)
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

const hash = async (path: string) =>
  createHash("sha256")
    .update(await readFile(path))
    .digest("hex")

describe("kura-sync check", () => {
  it("the check's Shopify query validates against the 2026-01 Admin schema", async () => {
    // The emulator parses and validates every document with graphql-js against the reference
    // schema of the requested version (shopify-admin-2026-01.graphql for 2026-01) before running it.
    const res = await fetch(`${sandbox.shopify.baseUrl}/admin/api/2026-01/graphql.json`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-shopify-access-token": sandbox.shopify.credentials.accessToken
      },
      body: JSON.stringify({ query: SHOPIFY_CHECK_QUERY })
    })
    const body: unknown = await res.json()
    expect(body).not.toHaveProperty("errors")
    expect(body).toHaveProperty("data.shop.myshopifyDomain", sandbox.shopify.credentials.shopDomain)
    expect(body).toHaveProperty("data.currentAppInstallation.accessScopes")
    // And an invalid document is refused, so the assertion above can fail.
    const bad = await fetch(`${sandbox.shopify.baseUrl}/admin/api/2026-01/graphql.json`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-shopify-access-token": sandbox.shopify.credentials.accessToken
      },
      body: JSON.stringify({ query: SHOPIFY_CHECK_QUERY.replace("ianaTimezone", "ianaTimeZone") })
    })
    expect(JSON.stringify(await bad.json())).toContain("ianaTimeZone")
  })

  it("all ok against the sandbox: every source, the lake probe and a new warehouse; no secret printed", async () => {
    const env = sandboxEnv("ok")
    const { code, stdout, stderr } = await check(env)
    const rows = rowsOf(stdout)
    expect(rows.filter((r) => r.status === "FAIL")).toEqual([])
    expect(code).toBe(0)
    const shop = sandbox.shopify.credentials.shopDomain
    expect(row(rows, `shopify ${shop}: token`)).toMatchObject({ status: "ok" })
    expect(row(rows, `shopify ${shop}: token`).detail).toContain(shop)
    expect(row(rows, `shopify ${shop}: scopes`).status).toBe("ok")
    expect(row(rows, `shopify ${shop}: rate limit`).detail).toMatch(/bucket 2000 points, restores 100\/s/)
    expect(row(rows, "lightspeed default: login").detail).toContain("the OAuth refresh worked")
    expect(row(rows, "lightspeed default: locations").status).toBe("ok")
    expect(row(rows, `stocky ${shop}`).status).toBe("ok")
    expect(row(rows, "lake").detail).toMatch(/listed, wrote, read back and deleted _kura_check\//)
    expect(row(rows, "warehouse").detail).toContain("does not exist yet")
    expect(row(rows, "clock").status).toBe("ok")
    // No trigger credentials: fine for run as a job, but serve would refuse to start.
    expect(row(rows, "serve")).toMatchObject({ status: "warn" })
    // The rotated refresh token went where the next run reads it.
    expect(await readFile(join(dir, "ok", "state", "tokens.json"), "utf8")).toContain("lightspeed:")
    // The probe is gone, and check created no warehouse.
    await expect(readFile(join(dir, "ok", "kura.duckdb"))).rejects.toThrow()
    for (const secret of [
      env.SHOPIFY_ACCESS_TOKEN,
      env.LIGHTSPEED_CLIENT_SECRET,
      env.LIGHTSPEED_REFRESH_TOKEN,
      env.STOCKY_API_KEY
    ])
      expect(`${stdout}${stderr}`).not.toContain(secret)
    // The table form says the same.
    const table = await check(env, ["--timeout", "90s"])
    expect(table.code, table.stdout + table.stderr).toBe(0)
    expect(table.stdout).toMatch(/ready to deploy/)
    // Two check processes, each probing three sources and opening DuckDB: 104 s at load 22
    // (session 9), too near the 120 s default.
  }, 240_000)

  it("a wrong Shopify token, a Stocky 401 echoing its key and a Lightspeed that never answers: FAIL rows with fixes, the rest still reported, no secret printed", async () => {
    const stockyKey = "stocky-key-0123456789abcdef"
    const badToken = "shpat_00000000000000000000000000wrong"
    // A Stocky that answers 401 and echoes the key back, bare (no "API KEY=" label to match on).
    const stocky = await listen((req, res) => {
      const key = String(req.headers.authorization ?? "").replace(/^API KEY=/, "")
      res.writeHead(401, { "content-type": "application/json" })
      res.end(JSON.stringify({ errors: `no store has the key ${key}`, key }))
    })
    // A Lightspeed that accepts connections and never answers.
    const hanging = await listen(() => {})
    const env = {
      ...sandboxEnv("bad"),
      SHOPIFY_ACCESS_TOKEN: badToken,
      STOCKY_API_KEY: stockyKey,
      STOCKY_API_BASE_URL: `${stocky}/api/v2`,
      LIGHTSPEED_API_BASE_URL: hanging,
      LIGHTSPEED_TOKEN_URL: `${hanging}/oauth/token`,
      KURA_TRIGGER_SECRET: "trigger-secret-0123456789abcdef"
    }
    const started = Date.now()
    const { code, stdout, stderr } = await check(env, ["--json", "--timeout", "3s"])
    // The fault this guards against waits out Lightspeed's 120 s request timeout. 30 s was too
    // tight for a loaded box (the whole check process took 40 s at load 20, session 9).
    expect(Date.now() - started).toBeLessThan(90_000)
    expect(code).toBe(1)
    const rows = rowsOf(stdout)
    const shop = sandbox.shopify.credentials.shopDomain
    const token = row(rows, `shopify ${shop}: token`)
    expect(token.status).toBe("FAIL")
    expect(token.fix).toContain("SHOPIFY_ACCESS_TOKEN")
    const ls = row(rows, "lightspeed default")
    expect(ls).toMatchObject({ status: "FAIL", detail: "no answer within 3s" })
    expect(row(rows, `stocky ${shop}`).status).toBe("FAIL")
    expect(row(rows, `stocky ${shop}`).fix).toContain("STOCKY_API_KEY")
    expect(row(rows, "lake").status).toBe("ok")
    expect(row(rows, "warehouse").status).toBe("ok")
    const out = `${stdout}${stderr}`
    expect(row(rows, "serve")).toMatchObject({
      status: "ok",
      detail: "POST /sync accepts the shared trigger secret"
    })
    for (const secret of [
      badToken,
      stockyKey,
      env.LIGHTSPEED_CLIENT_SECRET,
      env.LIGHTSPEED_REFRESH_TOKEN,
      env.KURA_TRIGGER_SECRET
    ])
      expect(out).not.toContain(secret)
  }, 240_000)

  it("missing scopes are named with the streams that need them; unconfigured sources are skipped; an unwritable lake FAILs", async () => {
    const narrow = await startSandbox({
      scale: 5,
      historyDays: 3,
      shopify: { scopes: ["read_products", "read_locations", "read_customers"] }
    })
    try {
      const blocker = join(dir, "a-file")
      await writeFile(blocker, "not a directory")
      const full = sandboxEnv("scopes", narrow)
      const env = {
        SHOPIFY_SHOP: full.SHOPIFY_SHOP,
        SHOPIFY_ACCESS_TOKEN: full.SHOPIFY_ACCESS_TOKEN,
        SHOPIFY_API_BASE_URL: full.SHOPIFY_API_BASE_URL,
        SHOPIFY_API_VERSION: full.SHOPIFY_API_VERSION,
        KURA_WAREHOUSE: full.KURA_WAREHOUSE,
        KURA_LAKE: `file:${join(blocker, "lake")}`,
        KURA_STATE_DIR: full.KURA_STATE_DIR
      }
      const { code, stdout } = await check(env)
      expect(code).toBe(1)
      const rows = rowsOf(stdout)
      const shop = narrow.shopify.credentials.shopDomain
      const scopes = row(rows, `shopify ${shop}: scopes`)
      expect(scopes.status).toBe("FAIL")
      expect(scopes.detail).toContain("read_orders (for orders)")
      expect(scopes.detail).toMatch(/read_inventory \(for inventory_levels\)/)
      expect(scopes.fix).toContain("read_orders")
      expect(row(rows, `shopify ${shop}: order history`).status).toBe("warn")
      const tieOut = row(rows, `shopify ${shop}: Analytics tie-out`)
      expect(tieOut.status).toBe("warn")
      expect(tieOut.fix).toContain("read_reports")
      expect(row(rows, `shopify ${shop}: token`).status).toBe("ok")
      expect(row(rows, "lightspeed")).toMatchObject({ status: "skipped" })
      expect(row(rows, "stocky")).toMatchObject({ status: "skipped" })
      expect(row(rows, "lightspeed").detail).toMatch(/^not configured/)
      const lake = row(rows, "lake")
      expect(lake.status).toBe("FAIL")
      expect(lake.fix).toContain("KURA_LAKE")
    } finally {
      await narrow.close()
    }
  })

  it("Shopify API versions: a retired one is a FAIL naming what Shopify served; one retiring within 3 months is a warn", async () => {
    const full = sandboxEnv("versions")
    const env = (version: string) => ({
      SHOPIFY_SHOP: full.SHOPIFY_SHOP,
      SHOPIFY_ACCESS_TOKEN: full.SHOPIFY_ACCESS_TOKEN,
      SHOPIFY_API_BASE_URL: full.SHOPIFY_API_BASE_URL,
      SHOPIFY_API_VERSION: version,
      KURA_WAREHOUSE: full.KURA_WAREHOUSE,
      KURA_LAKE: full.KURA_LAKE
    })
    const name = `shopify ${sandbox.shopify.credentials.shopDomain}: API version`
    // Shopify falls a retired version forward to its oldest supported one and says so in a header.
    const retired = await check(env("2025-07"))
    expect(retired.code, retired.stdout + retired.stderr).toBe(1)
    expect(row(rowsOf(retired.stdout), name)).toMatchObject({
      status: "FAIL",
      detail:
        "2025-07 is not served (Shopify answered with 2026-01: the version is retired or not released yet)",
      fix: "set SHOPIFY_API_VERSION=2026-01 or another supported quarterly version"
    })
    const dated = await check(env("2026-01"))
    const retiring = row(rowsOf(dated.stdout), name)
    // 2026-01 is supported until about 2027-01: a warn from October 2026 on.
    expect(retiring.status).toBe(Date.now() >= Date.parse("2026-10-03T00:00:00Z") ? "warn" : "ok")
    expect(dated.code, dated.stdout + dated.stderr).toBe(0)
  })

  it("a warehouse with pending migrations: warn (exit 0), nothing applied, the file byte-for-byte unchanged", async () => {
    const path = join(dir, "old", "kura.duckdb")
    await Effect.runPromise(Effect.scoped(Layer.build(DuckDbWarehouse.layer({ path })).pipe(Effect.asVoid)))
    // As a warehouse written by an older Kura: one column short.
    await Effect.runPromise(
      Effect.gen(function* () {
        const w = yield* Warehouse
        yield* w.query("ALTER TABLE orders DROP COLUMN _deleted_at")
        yield* w.query("CHECKPOINT")
      }).pipe(Effect.provide(DuckDbWarehouse.layer({ path, migrate: false })))
    )
    const before = await hash(path)
    const { code, stdout } = await check({
      KURA_WAREHOUSE: `duckdb:${path}`,
      KURA_LAKE: `file:${join(dir, "old", "lake")}`
    })
    const rows = rowsOf(stdout)
    expect(code).toBe(0)
    const schema = row(rows, "warehouse schema")
    expect(schema.status).toBe("warn")
    expect(schema.detail).toContain("orders._deleted_at")
    expect(row(rows, "shopify").status).toBe("skipped")
    expect(await hash(path)).toBe(before)
  })

  it("Lightspeed with the warehouse token store: warn before _kura_tokens exists; then the rotated token is kept there and reused", async () => {
    const sub = "tokens"
    const path = join(dir, sub, "kura.duckdb")
    // Its own sandbox: the shared one's refresh token is single-use and spent by the first test.
    const own = await startSandbox({ scale: 5, historyDays: 3 })
    extraSandboxes.push(own)
    const full = sandboxEnv(sub, own)
    const env = {
      LIGHTSPEED_CLIENT_ID: full.LIGHTSPEED_CLIENT_ID,
      LIGHTSPEED_CLIENT_SECRET: full.LIGHTSPEED_CLIENT_SECRET,
      LIGHTSPEED_REFRESH_TOKEN: full.LIGHTSPEED_REFRESH_TOKEN,
      LIGHTSPEED_API_BASE_URL: full.LIGHTSPEED_API_BASE_URL,
      LIGHTSPEED_TOKEN_URL: full.LIGHTSPEED_TOKEN_URL,
      KURA_WAREHOUSE: full.KURA_WAREHOUSE,
      KURA_LAKE: full.KURA_LAKE
    }
    // No warehouse yet: a refresh would spend the single-use token with nowhere to keep the next.
    const before = await check(env)
    expect(before.code, before.stdout + before.stderr).toBe(0)
    expect(row(rowsOf(before.stdout), "lightspeed default: login")).toMatchObject({ status: "warn" })
    await expect(readFile(path)).rejects.toThrow()
    // Once a run has created the warehouse (here: opened once), the login is checked for real.
    await Effect.runPromise(Effect.scoped(Layer.build(DuckDbWarehouse.layer({ path })).pipe(Effect.asVoid)))
    const first = await check(env)
    expect(first.code, first.stdout + first.stderr).toBe(0)
    expect(row(rowsOf(first.stdout), "lightspeed default: login").detail).toContain(
      "the OAuth refresh worked; the new single-use refresh token is kept in the warehouse's _kura_tokens"
    )
    const stored = await Effect.runPromise(
      Effect.gen(function* () {
        const w = yield* Warehouse
        return yield* w.query("SELECT COUNT(*) AS n FROM _kura_tokens")
      }).pipe(Effect.provide(DuckDbWarehouse.layer({ path, migrate: false })))
    )
    expect(Number(stored[0]?.n)).toBe(1)
    // The configured refresh token is spent now; a second check logs in with what was kept.
    const second = await check(env)
    expect(second.code, second.stdout + second.stderr).toBe(0)
    expect(row(rowsOf(second.stdout), "lightspeed default: login").detail).toContain("no refresh needed")
    expect(row(rowsOf(second.stdout), "lightspeed default: locations").status).toBe("ok")
  }, 240_000)

  it("an invalid configuration exits 2, as run does", async () => {
    const { code, stdout, stderr } = await check({
      SHOPIFY_SHOP: "not a shop",
      SHOPIFY_ACCESS_TOKEN: "shpat_0123456789abcdef"
    })
    expect(code).toBe(2)
    expect(stderr).toContain("SHOPIFY_SHOP")
    // --json: the problems as JSON on stdout as well, for the pipeline.
    const report: { ok: boolean; configProblems: ReadonlyArray<{ field: string }> } = JSON.parse(stdout)
    expect(report.ok).toBe(false)
    expect(report.configProblems.map((p) => p.field)).toContain("SHOPIFY_SHOP")
    expect(`${stdout}${stderr}`).not.toContain("shpat_0123456789abcdef")
  })
})
