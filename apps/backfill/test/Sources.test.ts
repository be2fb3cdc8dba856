import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { type Sandbox, startSandbox } from "@kura/sandbox"
import { directoryWriter, exportArchive, readArchive, StockyClient } from "@kura/stocky-client"
import { Effect, Exit, Redacted, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { archiveReaderOf } from "../src/ArchiveLocation.js"
import { BackfillError } from "../src/BackfillError.js"
import { toJsonLine } from "../src/Landing.js"
import {
  argsFor,
  configOf,
  DAY,
  envFor,
  rawIds,
  removeTempStores,
  rowsOf,
  runInProcess,
  tempDir,
  tempStore
} from "./support.js"

// Small on purpose: Lightspeed POS sales are 0.6 × the online orders.
const SCALE = 3000
const HISTORY_DAYS = 150

let sandbox: Sandbox
let from: number
// The sandbox's refresh token is single-use: every run against it shares one token file, as every
// task of a real job shares one store.
let tokens: string

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 5, scale: SCALE, historyDays: HISTORY_DAYS, timeScale: 120 })
  from = sandbox.groundTruth().anchor - (HISTORY_DAYS + 1) * DAY
  tokens = join(tempDir("kura-backfill-tokens-"), "tokens.json")
})
afterAll(async () => {
  await sandbox?.close()
  removeTempStores()
})

const errorOf = (exit: Exit.Exit<unknown, unknown>): BackfillError | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const e = Exit.findErrorOption(exit)
  return e._tag === "Some" && e.value instanceof BackfillError ? e.value : undefined
}

const posTruth = () => {
  const days = sandbox.groundTruth().revenueByDay.filter((d) => d.channel === "pos")
  const byDate = new Map<string, number>()
  for (const d of days) byDate.set(d.businessDate, (byDate.get(d.businessDate) ?? 0) + d.gross)
  return {
    sales: sandbox.groundTruth().counts.posSales,
    gross: days.reduce((n, d) => n + d.gross, 0),
    byDate
  }
}

describe("lightspeed backfill", () => {
  let oneTask: ReadonlyArray<string> = []

  it("loads every POS sale over 365-day-capped windows: raw, canonical orders and revenue per business date equal the ground truth; a re-run skips every window", async () => {
    const store = tempStore()
    const env = envFor(sandbox, store, { KURA_TOKEN_STORE: `file:${tokens}` })
    const r = await runInProcess(configOf(argsFor(from, { source: "lightspeed", streams: [] }), env), env)
    expect(r.text).toContain("Backfill plan: lightspeed [sales]")
    expect(r.text).toContain("Every window ties.")
    // K-Series has no count endpoint: the summary says what each window was reconciled by.
    expect(r.text).toMatch(
      /Count basis: \d+ window\(s\) have no API count \(Lightspeed K-Series has no count endpoint/
    )
    expect(r.text).toMatch(/; 0 record\(s\) fetched more than once were stored once\./)
    expect(r.ok).toBe(true)
    const truth = posTruth()
    const raw = await rawIds(store.warehouse, "lightspeed", "sales")
    expect(raw.rows).toBe(raw.ids.length)
    oneTask = raw.ids
    // Raw sales are the SALE accounts plus the REFUND accounts, which map to refunds.
    const refunds = await rowsOf(
      store.warehouse,
      "SELECT COUNT(*) AS n FROM refunds WHERE source = 'lightspeed'"
    )
    expect(raw.ids.length).toBe(truth.sales + Number(refunds[0]?.n))
    const orders = await rowsOf(
      store.warehouse,
      "SELECT COUNT(*) AS n, CAST(SUM(total) AS VARCHAR) AS gross FROM orders WHERE source = 'lightspeed' AND channel = 'pos' AND _deleted_at IS NULL"
    )
    expect(Number(orders[0]?.n)).toBe(truth.sales)
    expect(Number(orders[0]?.gross)).toBe(truth.gross)
    // The cutover (05:00 Tokyo, read from the API) puts late café sales on the previous business date.
    const perDate = await rowsOf(
      store.warehouse,
      "SELECT CAST(business_date AS VARCHAR) AS d, CAST(SUM(total) AS VARCHAR) AS gross FROM orders WHERE source = 'lightspeed' GROUP BY 1"
    )
    const loaded = new Map(perDate.map((row) => [String(row.d), Number(row.gross)]))
    expect(loaded).toEqual(truth.byDate)
    for (const table of ["order_lines", "payments", "tax_lines"]) {
      const n = await rowsOf(
        store.warehouse,
        `SELECT COUNT(*) AS n FROM ${table} WHERE source = 'lightspeed'`
      )
      expect(Number(n[0]?.n)).toBeGreaterThan(0)
    }
    // The single-use refresh token rotated into the durable store.
    const stored = readFileSync(tokens, "utf8")
    expect(stored).toContain("lightspeed:")
    expect(stored).not.toContain(sandbox.lightspeed.credentials.refreshToken)

    const again = await runInProcess(configOf(argsFor(from, { source: "lightspeed", streams: [] }), env), env)
    expect(again.ok).toBe(true)
    expect(again.text).toMatch(/0 window\(s\) run/)
  })

  it("a malformed POS sale lands in _kura_dead_letters keyed by LIGHTSPEED_ACCOUNT, as kura-sync keys and replays them", async () => {
    const bad = await startSandbox({
      seed: 8,
      scale: 400,
      historyDays: 20,
      timeScale: 120,
      malformedPerSource: 2
    })
    try {
      const store = tempStore()
      const env = envFor(bad, store, { LIGHTSPEED_ACCOUNT: "kyoto" })
      const start = bad.groundTruth().anchor - 21 * DAY
      const r = await runInProcess(configOf(argsFor(start, { source: "lightspeed", streams: [] }), env), env)
      const injected = bad.groundTruth().counts.malformed.lightspeed
      expect(injected).toBeGreaterThan(0)
      const letters = await rowsOf(
        store.warehouse,
        "SELECT source_account AS a, COUNT(*) AS n FROM _kura_dead_letters WHERE source = 'lightspeed' AND stream = 'sales' GROUP BY 1"
      )
      expect(letters.map((row) => [String(row.a), Number(row.n)])).toEqual([["kyoto", injected]])
      // Set aside, not lost and not silent: the rest loads, the window ties, the summary says so.
      expect(r.text).toContain("Every window ties.")
      expect(r.text).toContain(
        `Dead letters: ${injected} record(s) set aside in _kura_dead_letters with their raw payload (lightspeed/sales decode: ${injected})`
      )
      const orders = await rowsOf(
        store.warehouse,
        "SELECT COUNT(*) AS n FROM orders WHERE source = 'lightspeed' AND channel = 'pos'"
      )
      expect(Number(orders[0]?.n)).toBe(bad.groundTruth().counts.posSales)
    } finally {
      await bad.close()
    }
  })

  it("sharding over 3 tasks gives the same sales as one task, each window taken once, one token chain in _kura_tokens", async () => {
    const store = tempStore()
    // Moving to the warehouse store: the live (rotated) refresh token seeds the empty table.
    const current: unknown = JSON.parse(readFileSync(tokens, "utf8"))
    const refresh = Object.values(current as Record<string, { refreshToken: string }>)[0]?.refreshToken ?? ""
    const taken: Array<string> = []
    for (const index of [0, 1, 2]) {
      const env = envFor(sandbox, store, {
        CLOUD_RUN_TASK_INDEX: String(index),
        CLOUD_RUN_TASK_COUNT: "3",
        KURA_TOKEN_STORE: "warehouse",
        LIGHTSPEED_REFRESH_TOKEN: refresh
      })
      const r = await runInProcess(configOf(argsFor(from, { source: "lightspeed", streams: [] }), env), env)
      expect(r.ok).toBe(true)
      taken.push(...[...r.text.matchAll(/^window \d+\/\d+ complete (\S+)/gm)].map((m) => m[1] ?? ""))
    }
    expect(new Set(taken).size).toBe(taken.length)
    const raw = await rawIds(store.warehouse, "lightspeed", "sales")
    expect(raw.ids).toEqual(oneTask)
    expect(raw.rows).toBe(raw.ids.length)
    expect(sandbox.stats().lightspeed.refreshReuseAttempts ?? 0).toBe(0)
    const stored = await rowsOf(store.warehouse, "SELECT COUNT(*) AS n FROM _kura_tokens")
    expect(Number(stored[0]?.n)).toBe(1)
  })
})

const stockyTruth = () => {
  const m = sandbox.merchant
  return {
    purchase_orders: m.purchaseOrders.filter((p) => p.system === "stocky").length,
    stock_adjustments: m.stockAdjustments.filter((a) => a.system === "stocky").length,
    stock_transfers: m.stockTransfers.filter((t) => t.system === "stocky").length,
    suppliers: m.suppliers.length
  }
}

const expectStockyTables = async (warehouse: string) => {
  const truth = stockyTruth()
  for (const [stream, n] of Object.entries(truth)) {
    const raw = await rawIds(warehouse, "stocky", stream)
    expect({ stream, n: raw.ids.length }).toEqual({ stream, n })
    expect(raw.rows).toBe(raw.ids.length)
  }
  const pos = await rowsOf(warehouse, "SELECT COUNT(*) AS n FROM purchase_orders WHERE source = 'stocky'")
  expect(Number(pos[0]?.n)).toBe(truth.purchase_orders)
  const suppliers = await rowsOf(warehouse, "SELECT COUNT(*) AS n FROM suppliers WHERE source = 'stocky'")
  expect(Number(suppliers[0]?.n)).toBe(truth.suppliers)
  const moves = await rowsOf(
    warehouse,
    "SELECT reference_type AS t, COUNT(DISTINCT reference_id) AS n FROM inventory_movements WHERE source = 'stocky' GROUP BY 1"
  )
  const byType = new Map(moves.map((row) => [String(row.t), Number(row.n)]))
  expect(byType.get("transfer") ?? 0).toBeGreaterThan(0)
  expect(byType.get("transfer") ?? 0).toBeLessThanOrEqual(truth.stock_transfers)
}

describe("stocky backfill", () => {
  it("reads the live API while it answers: raw and canonical equal the merchant's Stocky records", async () => {
    const store = tempStore()
    const env = envFor(sandbox, store)
    const r = await runInProcess(configOf(argsFor(from, { source: "stocky", streams: [] }), env), env)
    expect(r.text).toContain("Every window ties.")
    expect(r.text).toMatch(/#0 suppliers .* api/)
    expect(r.ok).toBe(true)
    await expectStockyTables(store.warehouse)
  })

  it("imports an archive (after the API is retired) to the same tables, reconciled against the manifest counts", async () => {
    const dir = tempDir("kura-stocky-archive-")
    const c = sandbox.stocky.credentials
    await Effect.runPromise(
      exportArchive(directoryWriter(dir)).pipe(
        Effect.provide(
          StockyClient.layerTest({
            storeName: c.storeName,
            apiKey: Redacted.make(c.apiKey),
            baseUrl: `${sandbox.stocky.baseUrl}/api/v2`,
            timeZone: "Asia/Tokyo"
          })
        )
      )
    )
    const retired = await startSandbox({ seed: 5, scale: 100, historyDays: 10, stocky: { retired: true } })
    try {
      const store = tempStore()
      const env = envFor(retired, store, { STOCKY_API_KEY: c.apiKey })
      const r = await runInProcess(
        configOf(argsFor(from, { source: "stocky", streams: [], archive: dir }), env),
        env
      )
      expect(r.text).toMatch(/#1 purchase_orders .* archive/)
      expect(r.text).toContain("Every window ties.")
      expect(r.ok).toBe(true)
      expect(retired.stats().stocky.retiredAnswers ?? 0).toBe(0)
      await expectStockyTables(store.warehouse)

      // A manifest whose count disagrees with the files fails that window, names it, exits non-zero.
      const manifestPath = join(dir, "manifest.json")
      const manifest = JSON.parse(readFileSync(manifestPath, "utf8"))
      manifest.resources.suppliers.records += 1
      writeFileSync(manifestPath, JSON.stringify(manifest))
      const bad = tempStore()
      const badEnv = envFor(retired, bad, { STOCKY_API_KEY: c.apiKey })
      const b = await runInProcess(
        configOf(argsFor(from, { source: "stocky", streams: ["suppliers"], archive: dir }), badEnv),
        badEnv
      )
      expect(b.ok).toBe(false)
      const e = errorOf(b.exit)
      expect(e?.reason).toBe("Unreconciled")
      expect(e?.message).toContain("stocky/suppliers/")
      expect(b.text).toMatch(/NOT TIED: stocky\/suppliers\//)
    } finally {
      await retired.close()
    }
  })

  it("archive for history plus the live API (STOCKY_ARCHIVE_WITH_API=1): one record per id, the API's where both have one", async () => {
    // An archive from another shop state (seed 6, twice the history: more purchase orders): its ids overlap the live ones
    // with different content, and it holds ids the API no longer has.
    const other = await startSandbox({ seed: 6, scale: 500, historyDays: 2 * HISTORY_DAYS })
    const dir = tempDir("kura-stocky-archive-merge-")
    try {
      const o = other.stocky.credentials
      await Effect.runPromise(
        exportArchive(directoryWriter(dir), { resources: ["purchase_orders"] }).pipe(
          Effect.provide(
            StockyClient.layerTest({
              storeName: o.storeName,
              apiKey: Redacted.make(o.apiKey),
              baseUrl: `${other.stocky.baseUrl}/api/v2`,
              timeZone: "Asia/Tokyo"
            })
          )
        )
      )
    } finally {
      await other.close()
    }
    const c = sandbox.stocky.credentials
    const client = StockyClient.layerTest({
      storeName: c.storeName,
      apiKey: Redacted.make(c.apiKey),
      baseUrl: `${sandbox.stocky.baseUrl}/api/v2`,
      timeZone: "Asia/Tokyo"
    })
    const live = await Effect.runPromise(
      Effect.flatMap(StockyClient, (s) => Stream.runCollect(s.list("purchase_orders"))).pipe(
        Effect.provide(client)
      )
    )
    const archived = await Effect.runPromise(
      Stream.runCollect(readArchive(archiveReaderOf(dir), "purchase_orders", { timeZone: "Asia/Tokyo" }))
    )
    const liveById = new Map([...live].map((r) => [String(r.id), r]))
    const union = new Set([...liveById.keys(), ...[...archived].map((r) => String(r.id))])
    const conflicts = [...archived].filter(
      (a) => liveById.has(String(a.id)) && toJsonLine(a) !== toJsonLine(liveById.get(String(a.id)))
    )
    const archiveOnly = [...archived].filter((a) => !liveById.has(String(a.id)))
    // The case is meaningful only if both kinds exist.
    expect(conflicts.length).toBeGreaterThan(0)
    expect(archiveOnly.length).toBeGreaterThan(0)

    const store = tempStore()
    const env = envFor(sandbox, store, { STOCKY_ARCHIVE_WITH_API: "1", STOCKY_TIME_ZONE: "Asia/Tokyo" })
    const r = await runInProcess(
      configOf(argsFor(from, { source: "stocky", streams: ["purchase_orders"], archive: dir }), env),
      env
    )
    expect(r.text).toContain("Every window ties.")
    expect(r.ok).toBe(true)
    const raw = await rawIds(store.warehouse, "stocky", "purchase_orders")
    expect(raw.ids.length).toBe(union.size)
    expect(raw.rows).toBe(raw.ids.length)
    const canonical = await rowsOf(
      store.warehouse,
      "SELECT COUNT(*) AS n, COUNT(DISTINCT source_id) AS ids FROM purchase_orders WHERE source = 'stocky'"
    )
    expect(Number(canonical[0]?.n)).toBe(union.size)
    expect(Number(canonical[0]?.ids)).toBe(union.size)
    // Where both have the record, the lake and _kura_raw hold the API's version.
    const probe = conflicts.slice(0, 20).map((a) => String(a.id))
    const payloads = await rowsOf(
      store.warehouse,
      `SELECT source_id, CAST(payload AS VARCHAR) AS p FROM _kura_raw WHERE source = 'stocky' AND stream = 'purchase_orders' AND source_id IN (${probe.map((id) => `'${id}'`).join(", ")})`
    )
    expect(payloads.length).toBe(probe.length)
    for (const row of payloads)
      expect(JSON.parse(String(row.p))).toEqual(JSON.parse(toJsonLine(liveById.get(String(row.source_id)))))
  })

  it("a retired API without an archive stops before any work and says to pass --archive", async () => {
    const retired = await startSandbox({ seed: 5, scale: 100, historyDays: 10, stocky: { retired: true } })
    try {
      const store = tempStore()
      const env = envFor(retired, store)
      const r = await runInProcess(configOf(argsFor(from, { source: "stocky", streams: [] }), env), env)
      const e = errorOf(r.exit)
      expect(e?.message).toContain("--archive")
      expect(e?.message).toContain("2026-08-31")
      const raw = await rowsOf(store.warehouse, "SELECT COUNT(*) AS n FROM _kura_raw")
      expect(Number(raw[0]?.n)).toBe(0)
    } finally {
      await retired.close()
    }
  })
})
