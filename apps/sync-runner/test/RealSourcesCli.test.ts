import { execFile } from "node:child_process"
import { mkdtemp, readFile, rm, stat } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { makeFileTokenStore } from "@kura/core"
import { DuckDbWarehouse, Warehouse } from "@kura/warehouse"
import { Effect, Option, Redacted } from "effect"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { spawnEnv } from "./support.js"

// Drives the BUILT app against the in-process sandbox (built once per run by globalSetup).
const main = join(inject("builtAppDir"), "main.js")
let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kura-sync-real-"))
}, 120_000)
afterAll(() => rm(dir, { recursive: true, force: true }))

/** Online orders in the sandbox: small, as the test proves the pipeline, not the volume. */
const ORDERS = 100

const env = () => ({
  ...spawnEnv(),
  HOME: dir,
  KURA_SANDBOX: "1",
  KURA_SANDBOX_SCALE: String(ORDERS),
  KURA_SANDBOX_HISTORY_DAYS: "14",
  // Stocky shut down on 2026-09-01: history ending before then has Stocky purchase orders.
  KURA_SANDBOX_ANCHOR: "2026-08-25",
  // Rate limits refill 20× faster (as in the demo): the test checks the pipeline, not the pacing.
  KURA_SANDBOX_TIME_SCALE: "20",
  KURA_WAREHOUSE: `duckdb:${join(dir, "kura.duckdb")}`,
  KURA_LAKE: `file:${join(dir, "lake")}`,
  KURA_STATE_DIR: join(dir, "state")
})

const rowsOf = (stdout: string, stream: string): number => {
  const m = new RegExp(`${stream.replaceAll("/", "\\/")}: succeeded, (\\d+) rows`).exec(stdout)
  if (m === null) throw new Error(`${stream} did not succeed:\n${stdout}`)
  return Number(m[1])
}

/** Shopify cost points (actual) the run spent, summed over the lines of its Shopify streams. */
const shopifyCost = (stdout: string): number =>
  [...stdout.matchAll(/^shopify\/.*: succeeded, .*API: \d+ calls(?:, ([\d.]+) cost points)?/gm)].reduce(
    (n, m) => n + Number(m[1] ?? 0),
    0
  )

describe("kura-sync run over the real sources (sandbox)", () => {
  it("syncs Shopify, Lightspeed and Stocky into DuckDB, then runs incrementally", async () => {
    const first = await promisify(execFile)(process.execPath, [main, "run", "--force"], {
      env: env(),
      cwd: dir,
      maxBuffer: 64 * 1024 * 1024
    })
    const shop = "kura-sandbox.myshopify.com"
    expect(rowsOf(first.stdout, `shopify/${shop}/orders`)).toBe(ORDERS)
    expect(first.stdout).toContain(`shopify/${shop}/orders: succeeded, ${ORDERS} rows, reconciliation ok`)
    expect(rowsOf(first.stdout, "lightspeed/default/sales")).toBeGreaterThan(0)
    expect(rowsOf(first.stdout, `stocky/${shop}/suppliers`)).toBeGreaterThan(0)
    expect(rowsOf(first.stdout, `stocky/${shop}/purchase_orders`)).toBeGreaterThan(0)
    expect(first.stdout).not.toContain("not wired")

    const counted = await Effect.runPromise(
      Effect.gen(function* () {
        const w = yield* Warehouse
        const online = yield* w.query(
          "SELECT COUNT(*) AS n FROM orders WHERE source = 'shopify' AND _deleted_at IS NULL"
        )
        const pos = yield* w.query(
          "SELECT COUNT(*) AS n FROM orders WHERE source = 'lightspeed' AND _deleted_at IS NULL"
        )
        const cursor = yield* w.checkpoints.get({ source: "shopify", account: shop, stream: "orders" })
        // Stocky lines name inventory items only: the catalogue (read before their first page is
        // mapped) gives each its variant.
        const stockyLines = yield* w.query(
          "SELECT COUNT(*) AS n, COUNT(variant_id) AS resolved FROM purchase_order_lines WHERE source = 'stocky'"
        )
        return {
          online: Number(online[0]?.n),
          pos: Number(pos[0]?.n),
          cursor,
          stockyLines: Number(stockyLines[0]?.n),
          resolved: Number(stockyLines[0]?.resolved)
        }
      }).pipe(Effect.provide(DuckDbWarehouse.layer({ path: join(dir, "kura.duckdb") })))
    )
    expect(counted.online).toBe(ORDERS)
    expect(counted.pos).toBeGreaterThan(0)
    expect(Option.isSome(counted.cursor)).toBe(true)
    expect(counted.stockyLines).toBeGreaterThan(0)
    expect(counted.resolved).toBe(counted.stockyLines)

    // Same seed and anchor, fresh sandbox: the checkpoints make the second pass read nothing new.
    const second = await promisify(execFile)(process.execPath, [main, "run", "--force"], {
      env: env(),
      cwd: dir,
      maxBuffer: 64 * 1024 * 1024
    })
    expect(rowsOf(second.stdout, `shopify/${shop}/orders`)).toBe(0)
    expect(rowsOf(second.stdout, "lightspeed/default/sales")).toBe(0)
    // Each run line says what it cost; the incremental pass costs a fraction of the full one.
    expect(first.stdout).toMatch(
      /shopify\/.*\/orders: succeeded, \d+ rows, reconciliation ok; API: \d+ calls, [\d.]+ cost points/
    )
    expect(first.stdout).toMatch(/lightspeed\/default\/sales: succeeded, \d+ rows, .*API: [1-9]\d* calls/)
    const full = shopifyCost(first.stdout)
    const incremental = shopifyCost(second.stdout)
    console.log(
      `Shopify cost points: full ${full}, incremental ${incremental} (${((incremental / full) * 100).toFixed(1)}%)`
    )
    expect(full).toBeGreaterThan(0)
    expect(incremental).toBeLessThan(full)

    const status = await promisify(execFile)(process.execPath, [main, "status", "--json"], {
      env: env(),
      cwd: dir
    })
    // The sandbox logs its start before the report; the JSON starts at the first line opening a brace.
    const json = status.stdout.slice(status.stdout.search(/^\{/m))
    const streams: ReadonlyArray<{ stream: string; lastStatus: string }> = JSON.parse(json).streams
    expect(streams.map((s) => s.stream)).toContain(`stocky/${shop}/purchase_orders`)
    expect(streams.every((s) => s.lastStatus === "succeeded")).toBe(true)
  }, 240_000)
})

describe("FileTokenStore", () => {
  const token = (refresh: string | null) => ({
    accessToken: Redacted.make(`access-${refresh}`),
    refreshToken: refresh === null ? null : Redacted.make(refresh),
    expiresAt: 1,
    refreshExpiresAt: null,
    issuedAt: 0,
    scope: null
  })

  it("persists across instances, honours compare-and-set and keeps the file private", async () => {
    const path = join(dir, "tokens", "tokens.json")
    const a = makeFileTokenStore(path)
    expect(await Effect.runPromise(a.put("k", token("r1"), { expectRefreshToken: null }))).toBe(true)
    // A second seed attempt loses: the stored token is no longer null.
    expect(await Effect.runPromise(a.put("k", token("r0"), { expectRefreshToken: null }))).toBe(false)
    const b = makeFileTokenStore(path)
    const got = await Effect.runPromise(b.get("k"))
    expect(Option.map(got, (t) => (t.refreshToken === null ? null : Redacted.value(t.refreshToken)))).toEqual(
      Option.some("r1")
    )
    // Two processes rotating r1 concurrently: exactly one wins.
    const results = await Promise.all([
      Effect.runPromise(a.put("k", token("r2a"), { expectRefreshToken: "r1" })),
      Effect.runPromise(b.put("k", token("r2b"), { expectRefreshToken: "r1" }))
    ])
    expect(results.filter(Boolean)).toHaveLength(1)
    const saved = JSON.parse(await readFile(path, "utf8"))
    expect(["r2a", "r2b"]).toContain(saved.k.refreshToken)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect(Option.isNone(await Effect.runPromise(a.get("missing")))).toBe(true)
  })
})
