/**
 * A shop erased by `shop/redact` (here `kura-sync redact shop`) but still configured is not synced
 * again: `run` refuses its streams (exit 1, the line naming the shop and the fix), also after a
 * restart (the erasure lives in the warehouse's ledger); `serve` refuses it from the scheduler and
 * from HTTP triggers (410) and drops its webhooks instead of landing them; `redact reinstate`
 * lifts it. Drives the BUILT app against the sandbox, as Cloud Run runs it.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { mkdtemp, readdir, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { startSandbox } from "@kura/sandbox"
import { DuckDbWarehouse, Warehouse } from "@kura/warehouse"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { eventually, spawnEnv } from "./support.js"
import { restOrder } from "./webhooks/fixtures.js"
import { sign } from "./webhooks/harness.js"

const main = join(inject("builtAppDir"), "main.js")
let root: string

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "kura-erased-shop-"))
})
afterAll(() => rm(root, { recursive: true, force: true }))

/** Runs the built kura-sync; resolves whatever its exit code. */
const kuraSync = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>>, cwd: string) =>
  promisify(execFile)(process.execPath, [main, ...args], { env, cwd, maxBuffer: 64 * 1024 * 1024 }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({
      code: e.code ?? -1,
      stdout: e.stdout ?? "",
      stderr: e.stderr ?? ""
    })
  )

/** Rows of the account in the tables a sync writes (orders, raw, runs) and its lake files. */
const heldOf = async (dir: string, shop: string) => {
  const counts = await Effect.runPromise(
    Effect.flatMap(Effect.service(Warehouse), (w) =>
      w.query(
        `SELECT (SELECT count(*) FROM orders WHERE source_account = '${shop}') AS orders, (SELECT count(*) FROM _kura_raw WHERE source_account = '${shop}') AS raw, (SELECT count(*) FROM _kura_sync_runs WHERE source_account = '${shop}') AS runs`
      )
    ).pipe(Effect.provide(DuckDbWarehouse.layer({ path: join(dir, "kura.duckdb"), migrate: false })))
  )
  const prefix = join(dir, "lake", "source=shopify", `account=${encodeURIComponent(shop)}`)
  // Files only: deleting a lake file leaves its (empty) partition folders.
  const files = existsSync(prefix)
    ? (await readdir(prefix, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).length
    : 0
  const c = counts[0] ?? {}
  return { orders: Number(c.orders), raw: Number(c.raw), runs: Number(c.runs), files }
}

describe("an erased shop still configured (built kura-sync)", () => {
  it("run refuses it, also after a restart, with the line naming the shop and the fix; reinstate lifts it", async () => {
    const dir = await mkdtemp(join(root, "run-"))
    const shop = "kura-sandbox.myshopify.com"
    const env = {
      ...spawnEnv(),
      HOME: dir,
      KURA_SANDBOX: "1",
      KURA_SANDBOX_SCALE: "40",
      KURA_SANDBOX_HISTORY_DAYS: "7",
      KURA_SANDBOX_TIME_SCALE: "20",
      KURA_WAREHOUSE: `duckdb:${join(dir, "kura.duckdb")}`,
      KURA_LAKE: `file:${join(dir, "lake")}`,
      KURA_STATE_DIR: join(dir, "state")
    }
    const first = await kuraSync(["run", "--source", "shopify", "--force"], env, dir)
    expect(first.code, first.stdout + first.stderr).toBe(0)
    expect(first.stdout).toContain(`shopify/${shop}/orders: succeeded, 40 rows`)
    expect((await heldOf(dir, shop)).orders).toBe(40)

    const erased = await kuraSync(["redact", "shop", "--account", shop, "--yes"], env, dir)
    expect(erased.code, erased.stderr).toBe(0)
    expect(erased.stdout).toContain(`kura-sync redact reinstate --source shopify --account ${shop} --yes`)
    expect(await heldOf(dir, shop)).toEqual({ orders: 0, raw: 0, runs: 0, files: 0 })

    // A new process (the restart): the erasure is read from the warehouse's ledger.
    const again = await kuraSync(["run", "--source", "shopify", "--force"], env, dir)
    expect(again.code, again.stdout + again.stderr).toBe(1)
    expect(again.stdout).toContain(
      `shopify/${shop}/orders: refused, shopify account ${shop} was erased (kura-sync redact shop`
    )
    expect(again.stdout).toContain("Remove it from the configuration")
    expect(again.stdout).toContain(`kura-sync redact reinstate --source shopify --account ${shop} --yes`)
    expect(again.stdout).not.toMatch(/: succeeded/)
    // Logged once per shop per pass, with the same line.
    const logged = `${again.stdout}\n${again.stderr}`
      .split("\n")
      .filter((l) => l.includes("was erased") && !l.includes(": refused, "))
    expect(logged, again.stdout + again.stderr).toHaveLength(1)
    // Nothing of the shop was collected again.
    expect(await heldOf(dir, shop)).toEqual({ orders: 0, raw: 0, runs: 0, files: 0 })

    const unconfirmed = await kuraSync(["redact", "reinstate", "--account", shop], env, dir)
    expect(unconfirmed.code).toBe(1)
    const lifted = await kuraSync(["redact", "reinstate", "--account", shop, "--yes"], env, dir)
    expect(lifted.code, lifted.stderr).toBe(0)
    expect(lifted.stdout).toContain(`shop:shopify:${shop}: reinstated`)
    const list = await kuraSync(["redact", "list"], env, dir)
    expect(list.stdout).toMatch(/shop\s+reinstated/)

    const back = await kuraSync(["run", "--source", "shopify", "--force"], env, dir)
    expect(back.code, back.stdout + back.stderr).toBe(0)
    expect(back.stdout).toContain(`shopify/${shop}/orders: succeeded, 40 rows`)
  }, 300_000)

  // The per-delivery intake (lake only) is held to the ledger as the default batched one is.
  for (const mode of ["batched", "per-delivery"] as const)
    it(`serve (KURA_WEBHOOK_MODE=${mode}) refuses it from the scheduler and HTTP triggers (410) and drops its webhooks unlanded`, async () => {
      const sandbox = await startSandbox({ seed: 7, scale: 5, historyDays: 2 })
      let child: ChildProcess | undefined
      try {
        const shop = sandbox.shopify.credentials.shopDomain
        const secret = "whsec-erased-shop-0123456789"
        const trigger = "trigger-secret-0123456789"
        const dir = await mkdtemp(join(root, "serve-"))
        const env = {
          ...spawnEnv(),
          HOME: dir,
          KURA_WAREHOUSE: `duckdb:${join(dir, "kura.duckdb")}`,
          KURA_LAKE: `file:${join(dir, "lake")}`,
          KURA_TRIGGER_SECRET: trigger,
          SHOPIFY_SHOP: shop,
          SHOPIFY_ACCESS_TOKEN: sandbox.shopify.credentials.accessToken,
          SHOPIFY_API_BASE_URL: sandbox.shopify.baseUrl,
          SHOPIFY_API_VERSION: sandbox.shopify.credentials.apiVersion,
          SHOPIFY_WEBHOOK_SECRET: secret,
          KURA_WEBHOOK_MODE: mode,
          PORT: "0"
        }
        const erased = await kuraSync(["redact", "shop", "--account", shop, "--yes"], env, dir)
        expect(erased.code, erased.stderr).toBe(0)

        const serve = spawn(process.execPath, [main, "serve", "--scheduler", "on"], {
          cwd: dir,
          env,
          stdio: ["ignore", "pipe", "pipe"]
        })
        child = serve
        let output = ""
        serve.stdout?.on("data", (d) => {
          output += String(d)
        })
        serve.stderr?.on("data", (d) => {
          output += String(d)
        })
        const exited = new Promise<number | null>((ok) => serve.on("exit", (code) => ok(code)))
        // Startup on a loaded box takes tens of seconds (Process.test): polled, not slept.
        await eventually(() => /listening on port \d+/.test(output), 120_000, "serve listening")
        const url = `http://127.0.0.1:${/listening on port (\d+)/.exec(output)?.[1]}`
        // The scheduler's first pass is refused, with the line naming the shop and the fix.
        await eventually(() => output.includes(`shopify account ${shop} was erased`), 60_000, "refused pass")

        const answer = await fetch(`${url}/sync/shopify`, {
          method: "POST",
          headers: { authorization: `Bearer ${trigger}` }
        })
        expect(answer.status).toBe(410)
        const body = (await answer.json()) as { message: string; runs: Array<{ outcome: string }> }
        expect(body.message).toContain("kura-sync redact reinstate")
        expect(new Set(body.runs.map((r) => r.outcome))).toEqual(new Set(["Refused"]))
        // The status page and status.json name the account and the fix.
        const status = (await (await fetch(`${url}/status.json`)).json()) as {
          erasedAccounts: Array<{ source: string; account: string; reason: string }>
        }
        expect(status.erasedAccounts).toEqual([
          { source: "shopify", account: shop, reason: expect.stringContaining("kura-sync redact reinstate") }
        ])
        expect(await (await fetch(`${url}/`)).text()).toContain(`<b>${shop}</b> is not synced`)

        const order = JSON.stringify(restOrder(990_001, "2026-11-26T01:00:00Z"))
        const delivered = await fetch(`${url}/webhooks/shopify`, {
          method: "POST",
          body: order,
          headers: {
            "content-type": "application/json",
            "x-shopify-topic": "orders/create",
            "x-shopify-shop-domain": shop,
            "x-shopify-webhook-id": "wh-erased-1",
            "x-shopify-event-id": "ev-erased-1",
            "x-shopify-hmac-sha256": sign(order, secret)
          }
        })
        // Accepted (Shopify must stop retrying), then dropped when its batch would land.
        expect(delivered.status).toBe(200)
        await eventually(() => output.includes(`of ${shop} dropped, not landed`), 60_000, "dropped webhook")

        serve.kill("SIGTERM")
        expect(await exited, output.slice(-3000)).toBe(0)
        child = undefined
        expect(await heldOf(dir, shop)).toEqual({ orders: 0, raw: 0, runs: 0, files: 0 })
      } finally {
        child?.kill("SIGKILL")
        await sandbox.close()
      }
    }, 300_000)
})
