/**
 * A window ties when the warehouse already holds its records at the same or a newer version (an
 * incremental sync, a webhook or an earlier cut of the window landed them first, so the raw load
 * skips them), and still does not tie when a record the API reports is really missing.
 */
import { writeFileSync } from "node:fs"
import { createServer, request, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { join } from "node:path"
import { type Sandbox, startSandbox } from "@kura/sandbox"
import { DuckDbWarehouse, Warehouse } from "@kura/warehouse"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { countHeldOrders } from "../src/ShopifyFastPath.js"
import {
  argsFor,
  configOf,
  DAY,
  envFor,
  removeTempStores,
  rowsOf,
  runInProcess,
  tempStore
} from "./support.js"

const HISTORY_DAYS = 40

let sandbox: Sandbox
let from: number

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 11, scale: 600, historyDays: HISTORY_DAYS, timeScale: 120 })
  from = sandbox.groundTruth().anchor - (HISTORY_DAYS + 1) * DAY
})
afterAll(async () => {
  await sandbox?.close()
  removeTempStores()
})

/**
 * A proxy in front of the Shopify emulator that adds `extra` to the ordersCount of the first
 * window whose count is positive: the API then reports a record no export returns (a real gap).
 */
const countInflatingProxy = (target: string, extra: number) =>
  new Promise<{ server: Server; url: string }>((resolve) => {
    let inflated = false
    const base = new URL(target)
    const server = createServer((req, res) => {
      const body: Array<Buffer> = []
      req.on("data", (c: Buffer) => body.push(c))
      req.on("end", () => {
        const sent = Buffer.concat(body)
        const headers = { ...req.headers }
        delete headers.host
        const up = request(
          {
            host: base.hostname,
            port: base.port,
            path: `${base.pathname.replace(/\/$/, "")}${req.url ?? ""}`,
            method: req.method,
            headers
          },
          (upRes) => {
            const chunks: Array<Buffer> = []
            upRes.on("data", (c: Buffer) => chunks.push(c))
            upRes.on("end", () => {
              let text = Buffer.concat(chunks).toString("utf8")
              if (!inflated && sent.toString("utf8").includes("KuraCount")) {
                const json = JSON.parse(text) as { data?: { count?: { count: number } | null } }
                const c = json.data?.count
                if (c !== undefined && c !== null && c.count > 0) {
                  c.count += extra
                  inflated = true
                  text = JSON.stringify(json)
                }
              }
              const outHeaders = { ...upRes.headers }
              delete outHeaders["content-length"]
              delete outHeaders["transfer-encoding"]
              res.writeHead(upRes.statusCode ?? 502, outHeaders)
              res.end(text)
            })
          }
        )
        up.on("error", () => res.destroy())
        up.end(sent)
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port
      resolve({ server, url: `http://127.0.0.1:${port}` })
    })
  })

interface RunMeta {
  readonly loaded: number
  readonly alreadyHeld: number
  readonly missing: number
  readonly reported: number
}

/**
 * The backfill run ledger rows of a warehouse (status, API count, rows accounted for, detail),
 * with the split a complete window's checkpoint keeps.
 */
const ledgerOf = async (warehouse: string) => {
  const rows = await rowsOf(
    warehouse,
    `SELECT r.stream, r.status, r.reported_count, r.rows_loaded, r.detail, s.meta AS checkpoint_meta
FROM _kura_sync_runs r LEFT JOIN _kura_sync_state s
  ON s.kind = 'checkpoint' AND s.source = r.source AND s.source_account = r.source_account AND s.stream = r.stream
WHERE r.stream LIKE 'backfill:shopify/orders/%' AND r.status <> 'running' ORDER BY r.started_at`
  )
  return rows.map((r) => ({
    stream: String(r.stream),
    status: String(r.status),
    reported: r.reported_count === null ? null : Number(r.reported_count),
    rowsLoaded: Number(r.rows_loaded),
    detail: r.detail === null ? null : String(r.detail),
    meta: r.checkpoint_meta === null ? null : (JSON.parse(String(r.checkpoint_meta)) as RunMeta)
  }))
}

describe("a window's tie with records the warehouse already holds", () => {
  it("re-cut windows over loaded history tie as 'already held', a really missing record does not tie", async () => {
    const store = tempStore()
    const env = envFor(sandbox, store)
    // 1. History loaded in 30-day windows (another batch: what a sync or a webhook would be).
    const first = await runInProcess(configOf(argsFor(from, { window: "30d" }), env), env)
    expect(first.text).toContain("Every window ties.")
    expect(first.text).not.toContain("already held")
    const before = await ledgerOf(store.warehouse)

    // 2. The same history in 10-day windows: new batches, every order version already held.
    const second = await runInProcess(configOf(argsFor(from, { window: "10d" }), env), env)
    expect(second.ok).toBe(true)
    expect(second.text).toContain("Every window ties.")
    const after = (await ledgerOf(store.warehouse)).slice(before.length)
    expect(after.length).toBeGreaterThan(2)
    let held = 0
    for (const run of after) {
      expect(run.status).toBe("complete")
      if (run.meta === null) throw new Error(`no checkpoint for ${run.stream}`)
      // The ledger: API count against rows accounted for, the split in the meta.
      expect(run.rowsLoaded).toBe(run.reported)
      expect(run.meta.loaded + run.meta.alreadyHeld).toBe(run.reported)
      expect(run.meta.missing).toBe(0)
      held += run.meta.alreadyHeld
      if (run.meta.alreadyHeld > 0)
        expect(second.text).toContain(
          `window ${run.stream.slice("backfill:".length)} complete: reported ${run.reported} = ${run.meta.loaded} loaded + ${run.meta.alreadyHeld} already held at the same or a newer version + 0 missing`
        )
    }
    expect(held).toBe(sandbox.groundTruth().counts.onlineOrders)
    expect(second.text).toContain(`Already held: ${held} record(s) in`)

    // 3. The API reports one order more than any export returns: held records do not hide it.
    const proxy = await countInflatingProxy(sandbox.shopify.baseUrl, 1)
    try {
      const proxied = { ...env, SHOPIFY_API_BASE_URL: proxy.url }
      const third = await runInProcess(configOf(argsFor(from, { window: "20d" }), proxied), proxied)
      expect(third.ok).toBe(false)
      expect(third.text).toContain("NOT TIED")
      const runs = (await ledgerOf(store.warehouse)).slice(before.length + after.length)
      const bad = runs.filter((r) => r.status === "incomplete")
      expect(bad.length).toBe(1)
      const b = bad[0]
      if (b === undefined) throw new Error("no incomplete window")
      const reported = b.reported ?? 0
      // The ledger: the API count against the rows accounted for; the summary gives the split.
      expect(b.rowsLoaded).toBe(reported - 1)
      expect(b.detail).toBe(`API reported ${reported} records but ${reported - 1} were loaded`)
      expect(third.text).toMatch(
        new RegExp(
          `NOT TIED: ${b.stream.slice("backfill:".length).replaceAll(".", "\\.")}: API reported ${reported} records but ${reported - 1} were loaded \\(reported ${reported} = \\d+ loaded \\+ \\d+ already held at the same or a newer version \\+ 1 missing\\)`
        )
      )
      expect(third.text).toMatch(
        /incomplete: reported \d+ = \d+ loaded \+ \d+ already held at the same or a newer version \+ 1 missing/
      )
      for (const r of runs.filter((x) => x.status !== "incomplete")) expect(r.status).toBe("complete")
    } finally {
      await new Promise<void>((resolve) => proxy.server.close(() => resolve()))
    }
  }, 120_000)
})

describe("a typed-records window (Lightspeed) over sales already loaded", () => {
  it("re-cut windows tie with every sale already held and the split printed", async () => {
    const store = tempStore()
    // The refresh token is single-use: both runs rotate it through one file.
    const env = envFor(sandbox, store, { KURA_TOKEN_STORE: `file:${join(store.dir, "ls-tokens.json")}` })
    const args = { source: "lightspeed", streams: [] } as const
    const first = await runInProcess(configOf(argsFor(from, { ...args, window: "30d" }), env), env)
    expect(first.text).toContain("Every window ties.")
    expect(first.text).not.toContain("already held")
    const second = await runInProcess(configOf(argsFor(from, { ...args, window: "10d" }), env), env)
    expect(second.text).toContain("Every window ties.")
    expect(second.ok).toBe(true)
    const lines = [...second.text.matchAll(/complete: reported (\d+) = (\d+) loaded \+ (\d+) already held/g)]
    expect(lines.length).toBeGreaterThan(2)
    for (const m of lines) {
      expect(Number(m[2]) + Number(m[3])).toBe(Number(m[1]))
      expect(Number(m[3])).toBeGreaterThan(0)
    }
  }, 120_000)
})

describe("a Shopify window read by the JS path (customers) over records already loaded", () => {
  it("re-cut windows tie with the customers already held counted, and the ledger shows them", async () => {
    const store = tempStore()
    const env = envFor(sandbox, store)
    const args = { source: "shopify", streams: ["customers"] } as const
    const first = await runInProcess(configOf(argsFor(from, { ...args, window: "30d" }), env), env)
    expect(first.text).toContain("Every window ties.")
    const second = await runInProcess(configOf(argsFor(from, { ...args, window: "10d" }), env), env)
    expect(second.ok).toBe(true)
    expect(second.text).toContain("Every window ties.")
    // The summary's held column: the re-cut windows hold their customers from the first run.
    const held = [...second.text.matchAll(/^ {2}\S*customers\S* +complete +(\d+) +(\d+) +(\d+) +(\d+)$/gm)]
    expect(held.length).toBeGreaterThan(2)
    expect(held.some((m) => Number(m[4]) > 0)).toBe(true)
    for (const m of held) expect(Number(m[3]) + Number(m[4])).toBeGreaterThanOrEqual(Number(m[1]))
  }, 120_000)
})

describe("countHeldOrders", () => {
  it("counts orders another batch holds at the same or a newer version, not at an older one", async () => {
    const store = tempStore()
    const file = join(store.dir, "window.jsonl")
    const gid = (n: number) => `gid://shopify/Order/${n}`
    const at = "2026-01-10T10:00:00Z"
    writeFileSync(
      file,
      `${[1, 2, 3, 4, 5]
        .map((n) => JSON.stringify({ id: gid(n), updatedAt: at, name: `#${n}` }))
        .concat([JSON.stringify({ id: "gid://shopify/LineItem/9", __parentId: gid(1) })])
        .join("\n")}\n`
    )
    const row = (n: number, updatedAt: string, batch: string) => ({
      source: "shopify",
      source_account: "shop",
      stream: "orders",
      source_id: gid(n),
      updated_at: updatedAt,
      payload: "{}",
      fetched_at: "2026-01-10T11:00:00Z",
      _batch_id: batch,
      lake_path: null
    })
    const n = await Effect.runPromise(
      Effect.gen(function* () {
        const w = yield* Warehouse
        yield* w.migrate
        yield* w.load(
          "_kura_raw",
          [
            row(1, at, "sync-1"), // the same version, landed by a sync: held
            row(2, "2026-01-10T12:00:00Z", "webhook-1"), // only a newer version (a webhook): held
            row(3, "2026-01-09T10:00:00Z", "sync-0"), // only an older version: a real gap
            row(4, at, "bf-this"), // loaded by this batch: not "held"
            row(5, at, "other-shop-batch") // below: another shop's row does not count
          ].map((r) => (r.source_id === gid(5) ? { ...r, source_account: "other" } : r))
        )
        return yield* countHeldOrders({
          warehouse: w,
          shop: "shop",
          stream: "orders",
          batchId: "bf-this",
          files: [file]
        })
      }).pipe(Effect.provide(DuckDbWarehouse.layer({ path: join(store.dir, "held.duckdb") })))
    )
    expect(n).toBe(2)
  })
})
