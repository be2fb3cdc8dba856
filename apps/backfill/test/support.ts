/** Test helpers: a sandbox-backed config, an in-process run, and warehouse read-backs. */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Sandbox } from "@kura/sandbox"
import { DuckDbWarehouse, Warehouse } from "@kura/warehouse"
import { Effect, Exit } from "effect"
import {
  type BackfillArgs,
  type BackfillConfig,
  BackfillConfigError,
  parseBackfillConfig
} from "../src/BackfillConfig.js"
import { runConfigured } from "../src/Cli.js"
import { sandboxEnv } from "../src/SandboxEnv.js"

export const DAY = 86_400_000

/**
 * Online orders in the sandbox of the backfill and CLI tests: 2,000 in CI (the suite shares two
 * cores), or `KURA_BACKFILL_TEST_ORDERS` to run the same tests at the 100k+ scale, e.g.
 * `KURA_BACKFILL_TEST_ORDERS=100000 npx vitest run --testTimeout 1800000 test/Backfill.test.ts test/Cli.test.ts`.
 */
export const testOrders = (fallback: number): number => {
  const raw = process.env.KURA_BACKFILL_TEST_ORDERS
  if (raw === undefined || raw === "") return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 100)
    throw new Error(`KURA_BACKFILL_TEST_ORDERS=${raw}: give a whole number of orders, at least 100`)
  return n
}

const created: Array<string> = []

/** Removes every directory `tempStore` made. */
export const removeTempStores = () => {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true })
}

/** A fresh scratch directory, removed with the stores by `removeTempStores`. */
export const tempDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  created.push(dir)
  return dir
}

/** A fresh directory for a warehouse and a lake. */
export const tempStore = () => {
  const dir = tempDir("kura-backfill-")
  return { dir, warehouse: `duckdb:${join(dir, "kura.duckdb")}`, lake: `file:${join(dir, "lake")}` }
}

/** The environment pointing a run at the sandbox and a store. */
export const envFor = (
  sandbox: Sandbox,
  store: ReturnType<typeof tempStore>,
  extra: Record<string, string> = {}
) => ({
  ...sandboxEnv(sandbox),
  KURA_WAREHOUSE: store.warehouse,
  KURA_LAKE: store.lake,
  KURA_TOKEN_STORE: `file:${join(store.dir, "tokens.json")}`,
  KURA_BULK_POLL_MS: "40",
  KURA_BULK_BUSY_RETRY_MS: "200",
  ...extra
})

/** Args of a full-history orders backfill. */
export const argsFor = (from: number, extra: Partial<BackfillArgs> = {}): BackfillArgs => ({
  source: "shopify",
  streams: ["orders"],
  from: new Date(from).toISOString(),
  to: undefined,
  window: "30d",
  concurrency: 5,
  dryRun: false,
  resume: false,
  restart: false,
  ...extra
})

/** Parses or throws. */
export const configOf = (args: BackfillArgs, env: Record<string, string>): BackfillConfig => {
  const c = parseBackfillConfig(args, env, Date.now())
  if (c instanceof BackfillConfigError) throw new Error(c.message)
  return c
}

/** Runs a backfill in process; returns its exit and what it printed. */
export const runInProcess = async (config: BackfillConfig, env: Record<string, string>) => {
  let text = ""
  const out = {
    isTTY: false,
    write: (t: string) => {
      text += t
    }
  }
  const exit = await Effect.runPromiseExit(runConfigured(config, env, out))
  return { exit, text, ok: Exit.isSuccess(exit) }
}

/** Runs SQL against a DuckDB warehouse file. */
export const queryWarehouse = (path: string, sql: string) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const w = yield* Warehouse
      return yield* w.query(sql)
    }).pipe(Effect.provide(DuckDbWarehouse.layer({ path })))
  )

/** Rows of a query against a `duckdb:` warehouse setting. */
export const rowsOf = (warehouse: string, sql: string) =>
  queryWarehouse(warehouse.slice("duckdb:".length), sql)

/** Distinct raw ids of one stream, sorted, and the raw row count. */
export const rawIds = async (warehouse: string, source: string, stream: string) => {
  const ids = await rowsOf(
    warehouse,
    `SELECT source_id FROM _kura_raw WHERE source = '${source}' AND stream = '${stream}' GROUP BY source_id ORDER BY source_id`
  )
  const rows = await rowsOf(
    warehouse,
    `SELECT COUNT(*) AS n FROM _kura_raw WHERE source = '${source}' AND stream = '${stream}'`
  )
  return { ids: ids.map((r) => String(r.source_id)), rows: Number(rows[0]?.n) }
}

/**
 * Order rows of `_kura_raw`: the fast path lands Shopify's bulk lines as they are (children with
 * `__parentId` in rows of their own), the JS path one reassembled record per order.
 */
export const ROOT = "json_extract_string(payload, '$.__parentId') IS NULL"

/** Every loaded order id, sorted, and the row count (duplicates show as rows > ids). */
export const loadedOrders = async (warehouse: string) => {
  const path = warehouse.slice("duckdb:".length)
  const ids = await queryWarehouse(
    path,
    `SELECT source_id FROM _kura_raw WHERE stream = 'orders' AND ${ROOT} GROUP BY source_id ORDER BY source_id`
  )
  const rows = await queryWarehouse(
    path,
    `SELECT COUNT(*) AS n FROM _kura_raw WHERE stream = 'orders' AND ${ROOT}`
  )
  return { ids: ids.map((r) => String(r.source_id)), rows: Number(rows[0]?.n) }
}
