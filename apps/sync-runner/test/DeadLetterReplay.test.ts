/**
 * The operator's dead-letter story against the sandbox: malformed Shopify customers and Stocky
 * stock adjustments land as dead letters in a real sync; `list` groups them; a replay of the stored
 * (still malformed) payloads fails and marks nothing; the operator replays each record as corrected
 * upstream, through the stream's own decoder, mapper and load; the canonical tables then hold every
 * record the API reported (the customers run's reported count ties), the adjustment's orphan items
 * come back with it, and nothing is pending. The same through the built `kura-sync dead-letters`,
 * and a load rejection replayed after the operator widened the column.
 */
import { execFile } from "node:child_process"
import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { makeMemoryTokenStore } from "@kura/core"
import { type Sandbox, startSandbox } from "@kura/sandbox"
import { DuckDbWarehouse, LocalObjectStore, RawLake, type StoredDeadLetter, Warehouse } from "@kura/warehouse"
import { Effect, Layer, Option, Redacted, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { parseSince } from "../src/Cli.js"
import { groupLetters, replayLetters, selectLetters } from "../src/DeadLetterReplay.js"
import { runDemoWith } from "../src/demo/runDemo.js"
import { allReplayers } from "../src/internal/replayers.js"
import { spawnEnv } from "./support.js"

const main = join(inject("builtAppDir"), "main.js")
const SHOP = "kura-sandbox.myshopify.com"
let dir: string
let sandbox: Sandbox
let truth: ReturnType<Sandbox["groundTruth"]>["counts"]
let stockyZone: string
const lightspeedTokens = makeMemoryTokenStore(new Map())

/** The warehouse file the one sync wrote; each test works on its own copy. */
const base = () => join(dir, "base.duckdb")
let copies = 0
const copyOfBase = async () => {
  const path = join(dir, `copy${copies++}.duckdb`)
  await copyFile(base(), path)
  return path
}

const layers = (path: string) =>
  Layer.mergeAll(
    DuckDbWarehouse.layer({ path }),
    RawLake.layer.pipe(Layer.provide(LocalObjectStore.layer(join(dir, "lake"))))
  )

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kura-dead-letters-"))
  sandbox = await startSandbox({
    seed: 5,
    scale: 60,
    historyDays: 12,
    timeScale: 20,
    // Stocky shut down on 2026-09-01: adjustments exist only before.
    anchor: Date.parse("2026-08-25T00:00:00Z"),
    malformedCustomers: 3,
    malformedAdjustments: 2,
    // One Shopify order, one POS sale and one Stocky purchase order rendered malformed too.
    malformedPerSource: 1
  })
  truth = sandbox.groundTruth().counts
  stockyZone = sandbox.merchant.options.tax === "eu" ? "Europe/Berlin" : "Asia/Tokyo"
  const report = await Effect.runPromise(
    runDemoWith(sandbox, { progress: () => {}, sourceOverrides: { tokenStore: lightspeedTokens } }).pipe(
      Effect.provide(layers(base()))
    )
  )
  expect(report.streams.filter((s) => s.status !== "ok")).toEqual([])
}, 120_000)
afterAll(async () => {
  await sandbox?.close()
  await rm(dir, { recursive: true, force: true })
})

/** An order with its injected faults (an impossible date, a NaN amount) replaced by sane values. */
const fixOrder = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(fixOrder)
  if (typeof value === "object" && value !== null)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fixOrder(v)]))
  if (value === "NaN") return "0.00"
  if (typeof value === "string" && value.startsWith("0000-00-00")) return "2026-08-01T09:00:00Z"
  return value
}

/** A sale whose first line's amount was sent as "abc": the line's amount restored from its parts. */
const fixSale = (sale: Record<string, unknown>): Record<string, unknown> => {
  const lines = (sale.salesLines as Array<Record<string, unknown>>).map((l) =>
    l.totalNetAmountWithTax === "abc" ? { ...l, totalNetAmountWithTax: l.totalNetAmountWithoutTax } : l
  )
  return { ...sale, salesLines: lines }
}

/** The record as the source serves it once corrected (the sandbox's injected faults undone). */
const corrected = (letter: StoredDeadLetter): string => {
  const record = JSON.parse(letter.payload) as Record<string, unknown>
  if (letter.key.stream === "customers")
    return JSON.stringify({ ...record, createdAt: "2026-08-01T09:00:00Z" })
  if (letter.key.stream === "stock_adjustments") return JSON.stringify({ ...record, sequential_id: 4242 })
  if (letter.key.stream === "orders") return JSON.stringify(fixOrder(record))
  if (letter.key.stream === "sales") return JSON.stringify(fixSale(record))
  if (letter.key.stream === "purchase_orders") {
    const items = (record.purchase_items as Array<Record<string, unknown>>).map((i) =>
      i.quantity === "abc" ? { ...i, quantity: 1 } : i
    )
    return JSON.stringify({ ...record, purchase_items: items })
  }
  throw new Error(`no correction for ${letter.key.stream}`)
}

const customerCounts = (w: Warehouse["Service"]) =>
  Effect.gen(function* () {
    const loaded = yield* w.query(
      `SELECT count(*)::INTEGER AS n FROM customers WHERE source = 'shopify' AND source_account = '${SHOP}'`
    )
    const runs = yield* w.query(
      `SELECT reported_count, rows_loaded, count_matches FROM v_source_reconciliation WHERE source = 'shopify' AND stream = 'customers' AND status = 'complete' ORDER BY started_at DESC LIMIT 1`
    )
    return { loaded: Number(loaded[0]?.n), run: runs[0] }
  })

describe("dead letters: list and replay", () => {
  it("malformed records dead-letter; replay of the stored payload fails; the corrected records replay and tie", async () => {
    const path = await copyOfBase()
    await Effect.runPromise(
      Effect.gen(function* () {
        const w = yield* Warehouse
        const lake = yield* RawLake
        // The shop is configured: its replayers ask it for currency, zone and online location.
        const shop = sandbox.shopify.credentials
        const ls = sandbox.lightspeed.credentials
        const replayers = allReplayers(
          { warehouse: w, lake, stockyTimeZone: stockyZone, sandbox: true, tokenStore: lightspeedTokens },
          {
            shopify: [
              {
                shop: shop.shopDomain,
                auth: { _tag: "AccessToken", accessToken: Redacted.make(shop.accessToken) },
                apiVersion: shop.apiVersion,
                apiBaseUrl: Option.some(sandbox.shopify.baseUrl),
                webhookSecret: Option.none()
              }
            ],
            // The sync's own token store: the sandbox's refresh tokens are single-use.
            lightspeed: [
              {
                name: "default",
                clientId: ls.clientId,
                clientSecret: Redacted.make(ls.clientSecret),
                refreshToken: Redacted.make(ls.refreshToken),
                apiBaseUrl: Option.some(sandbox.lightspeed.baseUrl),
                tokenUrl: Option.some(ls.tokenUrl),
                businessLocations: []
              }
            ]
          }
        )
        const letters = yield* selectLetters(w, {})
        const groups = groupLetters(letters)
        const count = (stream: string, reason: string) =>
          groups.find((g) => g.stream === stream && g.reason === reason)?.count ?? 0
        expect(count("customers", "map")).toBe(truth.malformedCustomers)
        expect(count("stock_adjustments", "decode")).toBe(truth.malformedAdjustments.adjustments)
        expect(count("stock_adjustments", "orphan")).toBe(truth.malformedAdjustments.items)
        expect(count("purchase_orders", "decode")).toBe(truth.malformed.stocky)
        expect(count("orders", "decode")).toBe(truth.malformed.shopify)
        expect(count("sales", "decode")).toBe(truth.malformed.lightspeed)
        const offline: Array<StoredDeadLetter> = []
        // The warehouse selects by id and by time (no filtering here).
        const newest = letters.at(-1)!
        expect((yield* selectLetters(w, { ids: [newest.id, "no-such-id"] })).map((l) => l.id)).toEqual([
          newest.id
        ])
        expect((yield* selectLetters(w, { since: newest.at })).every((l) => l.at >= newest.at)).toBe(true)
        expect(yield* selectLetters(w, { since: newest.at + 1 })).toEqual([])
        expect(groups.reduce((n, g) => n + g.count, 0)).toBe(letters.length)
        const before = yield* customerCounts(w)
        expect(Number(before.run?.reported_count)).toBe(truth.customers)
        expect(before.loaded).toBe(truth.customers - truth.malformedCustomers)

        // Nothing fixed yet: a dry run marks nothing; a real replay fails every letter and counts it.
        const dry = yield* replayLetters(w, { selection: {}, replayers, dryRun: true })
        expect(dry).toMatchObject({ attempted: letters.length, replayed: 0, failed: letters.length })
        expect((yield* selectLetters(w, {})).every((l) => l.attempts === 0)).toBe(true)
        const stillBad = yield* replayLetters(w, { selection: {}, replayers })
        expect(stillBad.failed).toBe(letters.length)
        const why = stillBad.letters.find((l) => l.key.stream === "customers")?.error ?? ""
        expect(why).toMatch(/^Map: /)
        expect((yield* selectLetters(w, {})).every((l) => l.attempts === 1)).toBe(true)

        expect(stillBad.letters.find((o) => o.key.stream === "sales")?.error).toMatch(/^Decode: /)
        expect(stillBad.letters.find((o) => o.key.stream === "orders")?.error).toMatch(/^Decode: /)

        // The operator replays each record as corrected upstream; orphan items travel with theirs.
        for (const letter of letters.filter((l) => l.reason !== "orphan" && !offline.includes(l))) {
          const result = yield* replayLetters(w, {
            selection: { ids: [letter.id] },
            replayers,
            payloadOverride: corrected(letter)
          })
          expect(result, JSON.stringify(result.letters)).toMatchObject({
            attempted: 1,
            replayed: 1,
            failed: 0
          })
        }
        expect((yield* selectLetters(w, {})).map((l) => l.id).sort()).toEqual(offline.map((l) => l.id).sort())
        const marked = yield* selectLetters(w, { includeReplayed: true })
        expect(marked.filter((l) => l.replayedAt !== null)).toHaveLength(letters.length - offline.length)
        const lines = yield* w.query(
          `SELECT count(*)::INTEGER AS n FROM purchase_order_lines WHERE source = 'stocky' AND _batch_id LIKE 'replay-%'`
        )
        expect(Number(lines[0]?.n)).toBeGreaterThan(0)

        // Each replayed record landed like a fetched one: a lake batch of its own, and _kura_raw,
        // where it replaced the malformed copy of the same version (customers: map letters).
        for (const l of letters.filter((x) => x.reason !== "orphan")) {
          const batch = (yield* lake.listBatches(l.key)).filter((b) => b.batchId === `replay-${l.id}`)
          expect(batch, `${l.key.stream} ${l.id}`).toHaveLength(1)
          const lines = yield* Stream.runCollect(lake.readLines(batch[0]!.path))
          expect(lines).toHaveLength(1)
          const raw = yield* w.query(
            "SELECT source_id, CAST(payload AS VARCHAR) AS payload FROM _kura_raw WHERE _batch_id = $b",
            { b: `replay-${l.id}` }
          )
          expect(raw.map((r) => r.payload)).toEqual(lines)
          if (l.key.stream === "stock_adjustments") {
            // Joined with its orphan items, as the stream lands an adjustment.
            const joined = JSON.parse(lines[0]!) as { items: ReadonlyArray<unknown> }
            expect(joined.items.length).toBeGreaterThan(0)
          } else expect(JSON.parse(lines[0]!)).toEqual(JSON.parse(corrected(l)))
        }
        // Re-modelling customers from the lake, and from _kura_raw, through the stream's own decoder
        // and mapper reproduces the table: every malformed copy fails, every corrected one maps.
        const customerKey = { source: "shopify", account: SHOP, stream: "customers" }
        const remodel = (payloads: ReadonlyArray<string>) =>
          Effect.gen(function* () {
            const ids = new Set<string>()
            const replayer = replayers[`shopify/${SHOP}/customers`] ?? replayers["shopify/customers"]
            for (const payload of payloads) {
              const mapped = yield* Effect.result(
                replayer!.replay({ ...letters[0]!, key: customerKey }, JSON.parse(payload), {
                  warehouse: w,
                  syncedAt: "2026-11-27T00:00:00Z",
                  batchId: "remodel",
                  pending: []
                })
              )
              if (mapped._tag === "Success")
                for (const row of mapped.success.rows.customers ?? []) ids.add(row.source_id)
            }
            return [...ids].sort()
          })
        const tableIds = (yield* w.query(
          `SELECT source_id FROM customers WHERE source = 'shopify' AND source_account = '${SHOP}' ORDER BY source_id`
        )).map((r) => String(r.source_id))
        const lakeLines: Array<string> = []
        for (const b of yield* lake.listBatches(customerKey))
          lakeLines.push(...(yield* Stream.runCollect(lake.readLines(b.path))))
        expect(yield* remodel(lakeLines)).toEqual(tableIds)
        const rawPayloads = yield* w.query(
          `SELECT CAST(payload AS VARCHAR) AS payload FROM _kura_raw WHERE source = 'shopify' AND stream = 'customers'`
        )
        expect(rawPayloads).toHaveLength(truth.customers)
        expect(yield* remodel(rawPayloads.map((r) => String(r.payload)))).toEqual(tableIds)

        // The customers now tie with what the API reported; the adjustments' items are movements.
        const after = yield* customerCounts(w)
        expect(after.loaded).toBe(truth.customers)
        expect(after.loaded).toBe(Number(after.run?.reported_count))
        const movements = yield* w.query(
          `SELECT count(*)::INTEGER AS n FROM inventory_movements WHERE source = 'stocky' AND reference_type = 'stock_adjustment' AND _batch_id LIKE 'replay-%'`
        )
        expect(Number(movements[0]?.n)).toBe(truth.malformedAdjustments.items)
        const report = yield* w.reconcile
        expect(report.incompleteRuns).toEqual([])
        expect(report.failedRuns).toEqual([])
        const purchaseOrders = yield* w.query(
          "SELECT count(*)::INTEGER AS n FROM purchase_orders WHERE source = 'stocky'"
        )
        expect(Number(purchaseOrders[0]?.n)).toBe(truth.purchaseOrders + truth.malformed.stocky)
        const orders = yield* w.query("SELECT count(*)::INTEGER AS n FROM orders WHERE source = 'shopify'")
        expect(Number(orders[0]?.n)).toBe(truth.onlineOrders + truth.malformed.shopify)
        const replayedOrder = yield* w.query(
          "SELECT currency, location_id FROM orders WHERE source = 'shopify' AND _batch_id LIKE 'replay-%'"
        )
        expect(replayedOrder).toHaveLength(truth.malformed.shopify)
        expect(replayedOrder[0]?.currency).toBe(sandbox.merchant.options.tax === "eu" ? "EUR" : "JPY")
        expect(replayedOrder[0]?.location_id).not.toBeNull()
        const posSales = yield* w.query(
          "SELECT count(*)::INTEGER AS n, count(*) FILTER (WHERE _batch_id LIKE 'replay-%')::INTEGER AS replayed FROM orders WHERE source = 'lightspeed'"
        )
        expect(Number(posSales[0]?.n)).toBe(truth.posSales + truth.malformed.lightspeed)
        expect(Number(posSales[0]?.replayed)).toBe(truth.malformed.lightspeed)
      }).pipe(Effect.provide(layers(path)))
    )
  })

  it("kura-sync dead-letters list groups without payloads; replay exits 1 until the record is corrected", async () => {
    const path = await copyOfBase()
    const env = {
      ...spawnEnv(),
      HOME: dir,
      KURA_WAREHOUSE: `duckdb:${path}`,
      KURA_LAKE: `file:${join(dir, "lake")}`,
      KURA_STATE_DIR: join(dir, "state")
    }
    const cli = async (...args: Array<string>) => {
      try {
        const out = await promisify(execFile)(process.execPath, [main, ...args], { env, cwd: dir })
        return { code: 0, ...out }
      } catch (e) {
        const err = e as { code: number; stdout: string; stderr: string }
        return { code: err.code, stdout: err.stdout, stderr: err.stderr }
      }
    }
    const text = await cli("dead-letters", "list", "--source", "shopify", "--stream", "customers")
    expect(text.code).toBe(0)
    expect(text.stdout).toContain(`${truth.malformedCustomers} pending dead letter(s) in 1 group(s)`)
    expect(text.stdout).toMatch(
      new RegExp(`shopify/${SHOP}/customers {2}map {2}${truth.malformedCustomers} `)
    )
    expect(text.stdout).toContain("newest: id ")
    // Payloads only on request.
    expect(text.stdout).not.toContain('"createdAt"')
    const json = JSON.parse(
      (await cli("dead-letters", "list", "--stream", "customers", "--json")).stdout
    ) as {
      pending: number
      letters: Array<{ id: string; payload: string; reason: string }>
    }
    expect(json.pending).toBe(truth.malformedCustomers)
    expect(json.letters[0]?.payload).toContain('"createdAt"')

    const dry = await cli("dead-letters", "replay", "--stream", "customers", "--dry-run")
    expect(dry.code).toBe(1)
    expect(dry.stdout).toContain(
      `dry run: attempted ${truth.malformedCustomers}, would replay 0, failed ${truth.malformedCustomers}`
    )
    const one = json.letters[0]!
    const file = join(dir, "fixed.json")
    await writeFile(file, JSON.stringify({ ...JSON.parse(one.payload), createdAt: "2026-08-01T09:00:00Z" }))
    const fixed = await cli("dead-letters", "replay", "--id", one.id, "--payload-file", file)
    expect(fixed.stderr).toBe("")
    expect(fixed.code).toBe(0)
    expect(fixed.stdout).toContain("attempted 1, replayed 1, failed 0")
    expect(fixed.stdout).toMatch(/replayed \(1 customers\)/)
    const left = await cli("dead-letters", "list", "--stream", "customers")
    expect(left.stdout).toContain(`${truth.malformedCustomers - 1} pending dead letter(s)`)
    const all = await cli("dead-letters", "list", "--stream", "customers", "--all")
    expect(all.stdout).toContain("(1 replayed)")
    // A bad flag is named with its fix.
    const bad = await cli("dead-letters", "list", "--since", "yesterday")
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain("--since")
    const twoIds = await cli("dead-letters", "replay", "--payload-file", file)
    expect(twoIds.code).toBe(2)
    expect(twoIds.stderr).toContain("exactly one letter")

    // The rest in one go: a file of letter id to corrected record replays exactly those letters.
    const rest = json.letters.filter((l) => l.id !== one.id)
    const many = join(dir, "fixed-many.json")
    await writeFile(
      many,
      JSON.stringify(
        Object.fromEntries(
          rest.map((l) => [l.id, { ...JSON.parse(l.payload), createdAt: "2026-08-02T09:00:00Z" }])
        )
      )
    )
    const mixed = await cli("dead-letters", "replay", "--payloads-file", many, "--id", one.id)
    expect(mixed.code).toBe(2)
    expect(mixed.stderr).toContain("--payloads-file")
    const bulk = await cli("dead-letters", "replay", "--payloads-file", many, "--json")
    expect(bulk.stderr).toBe("")
    expect(bulk.code).toBe(0)
    const summary = JSON.parse(bulk.stdout) as {
      attempted: number
      replayed: number
      letters: Array<{ id: string }>
    }
    expect(summary).toMatchObject({ attempted: rest.length, replayed: rest.length })
    expect(summary.letters.map((l) => l.id).sort()).toEqual(rest.map((l) => l.id).sort())
    // Named again, they are no longer pending: said, and exit 1.
    const again = await cli("dead-letters", "replay", "--payloads-file", many)
    expect(again.code).toBe(1)
    expect(again.stderr).toContain(`${rest.length} letter(s) of --payloads-file are not pending`)
    const none = await cli("dead-letters", "list", "--stream", "customers", "--all", "--json")
    const final = JSON.parse(none.stdout) as { pending: number; letters: Array<{ attempts: number }> }
    expect(final.pending).toBe(0)
    // The warehouse's bookkeeping: one attempt each (the dry run marked nothing).
    expect(final.letters.map((l) => l.attempts)).toEqual(json.letters.map(() => 1))
    // Fifteen kura-sync processes, one after another (Node start, DuckDB open: ~1.9 CPU-s each; one
    // took 8.8 s wall at load 19). At load 20-25 the file's 120 s default timed this test out.
  }, 600_000)

  it("a load rejection replays after the operator widens the column", async () => {
    const path = join(dir, "rejection.duckdb")
    await Effect.runPromise(
      Effect.gen(function* () {
        const w = yield* Warehouse
        yield* w.migrate
        const row = (id: string, extra: Record<string, unknown>) => ({
          source: "shopify",
          source_account: SHOP,
          source_id: id,
          updated_at: "2026-08-01T00:00:00Z",
          _synced_at: "2026-08-01T00:00:00Z",
          _batch_id: "b1",
          email: null,
          first_name: "A",
          last_name: null,
          phone: null,
          created_at: "2026-08-01T00:00:00Z",
          ...extra
        })
        yield* w.load("customers", [row("1", { loyalty_tier: 3 })])
        const refused = yield* w.load("customers", [row("2", { loyalty_tier: "gold" })])
        expect(refused.deadLettered).toBe(1)
        const replayers = allReplayers({ warehouse: w, lake: yield* RawLake })
        const first = yield* replayLetters(w, { selection: { reason: "type_changed" }, replayers })
        expect(first).toMatchObject({ attempted: 1, replayed: 0, failed: 1 })
        yield* w.query('ALTER TABLE "customers" ALTER loyalty_tier TYPE VARCHAR')
        const second = yield* replayLetters(w, { selection: { reason: "type_changed" }, replayers })
        expect(second).toMatchObject({ attempted: 1, replayed: 1, failed: 0 })
        const rows = yield* w.query("SELECT loyalty_tier FROM customers WHERE source_id = '2'")
        expect(rows).toEqual([{ loyalty_tier: "gold" }])
      }).pipe(Effect.provide(layers(path)))
    )
  })

  it("--since takes dates, times and ages", () => {
    const now = Date.parse("2026-11-27T12:00:00Z")
    expect(parseSince("24h", now)).toBe(Date.parse("2026-11-26T12:00:00Z"))
    expect(parseSince("7d", now)).toBe(Date.parse("2026-11-20T12:00:00Z"))
    expect(parseSince("2026-11-20", now)).toBe(Date.parse("2026-11-20T00:00:00Z"))
    expect(parseSince("2026-11-20T08:00:00+09:00", now)).toBe(Date.parse("2026-11-19T23:00:00Z"))
    expect(parseSince("yesterday", now)).toBeUndefined()
  })
})
