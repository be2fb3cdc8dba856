/**
 * The client against the sandbox's Stocky emulator: the independent oracle, generated from one
 * seeded merchant. Everything read is compared with the merchant model itself.
 */

import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, expect, it } from "@effect/vitest"
import { currencyExponent, type DeadLetter, DeadLetterSink, Decimal, HttpTransport } from "@kura/core"
import {
  defaultMerchantOptions,
  type FaultInjectorOptions,
  type Merchant,
  makeClock,
  makeFaultInjector,
  makeMerchant,
  type StockyEmulatorHandle,
  type StockyEmulatorOptions,
  startStockyEmulator,
  todayUtcMidnight
} from "@kura/sandbox"
import { DateTime, Effect, Layer, Redacted, Stream } from "effect"
import {
  directoryReader,
  directoryWriter,
  exportArchive,
  memoryArchive,
  readArchive,
  STOCKY_RESOURCE_NAMES,
  StockyClient,
  type StockyRecords,
  type StockyResourceName
} from "../src/index.js"
import { csvFiles } from "./support/csvExport.js"

const anchor = todayUtcMidnight(Date.UTC(2026, 7, 31))

const merchantFor = (malformedPerSource = 0) =>
  makeMerchant({
    ...defaultMerchantOptions(anchor),
    seed: 7,
    orders: 200,
    historyDays: 200,
    malformedPerSource
  })

const sharedMerchant = merchantFor()

interface Emulator {
  readonly merchant: Merchant
  readonly handle: StockyEmulatorHandle
  readonly faults: ReturnType<typeof makeFaultInjector>
}

const emulator = (
  options: StockyEmulatorOptions = {},
  faults: Omit<FaultInjectorOptions, "seed"> = { profile: "none" },
  merchant: Merchant = sharedMerchant
) =>
  Effect.acquireRelease(
    Effect.promise(async (): Promise<Emulator> => {
      const injector = makeFaultInjector({ seed: 11, ...faults })
      const handle = await startStockyEmulator({
        merchant,
        faults: injector,
        clock: makeClock(200),
        port: 0,
        options: { slowResponseMs: 20, ...options }
      })
      return { merchant, handle, faults: injector }
    }),
    (e) => Effect.promise(() => e.handle.close())
  )

const clientFor = (e: Emulator) =>
  StockyClient.layerTest({
    baseUrl: `${e.handle.baseUrl}/api/v2`,
    storeName: e.handle.credentials.storeName,
    apiKey: Redacted.make(e.handle.credentials.apiKey)
  })

const listAll = <R extends StockyResourceName>(resource: R, limit = 50) =>
  Effect.flatMap(StockyClient, (c) => Stream.runCollect(c.list(resource, { limit })))

const readAll = (limit = 50) =>
  Effect.gen(function* () {
    const out: Partial<Record<StockyResourceName, ReadonlyArray<StockyRecords[StockyResourceName]>>> = {}
    for (const r of STOCKY_RESOURCE_NAMES) out[r] = yield* listAll(r, limit)
    return out
  })

const stockyPos = (m: Merchant) => m.purchaseOrders.filter((p) => p.system === "stocky")
/** POs the ground truth counts that live in Shopify (not Stocky), so Stocky's share can be derived. */
const stockyShopifyPos = (m: Merchant) =>
  m.purchaseOrders.filter((p) => p.system !== "stocky" && !p.malformed).length
const stockyAdjustments = (m: Merchant) => m.stockAdjustments.filter((a) => a.system === "stocky")

describe("StockyClient against the sandbox emulator", () => {
  it.live("reads every resource completely and in Stocky's order (POs newest first)", () =>
    Effect.gen(function* () {
      const e = yield* emulator()
      const m = e.merchant
      const pos = yield* listAll("purchase_orders", 7).pipe(Effect.provide(clientFor(e)))
      const expectedPos = stockyPos(m)
        .map((p) => p.id)
        .sort((a, b) => b - a)
      assert.isAbove(expectedPos.length, 7)
      assert.deepStrictEqual(
        pos.map((p) => p.id),
        expectedPos
      )
      const counts = yield* Effect.gen(function* () {
        return {
          adjustments: (yield* listAll("stock_adjustments", 7)).length,
          items: (yield* listAll("stock_adjustment_items", 7)).map((i) => i.id),
          transfers: (yield* listAll("stock_transfers", 7)).length,
          suppliers: (yield* listAll("suppliers", 7)).length,
          taxTypes: (yield* listAll("tax_types", 7)).length
        }
      }).pipe(Effect.provide(clientFor(e)))
      assert.strictEqual(counts.adjustments, stockyAdjustments(m).length)
      assert.deepStrictEqual(
        counts.items,
        stockyAdjustments(m)
          .flatMap((a) => a.items.map((i) => i.id))
          .sort((a, b) => a - b)
      )
      assert.strictEqual(counts.transfers, m.stockTransfers.filter((t) => t.system === "stocky").length)
      assert.strictEqual(counts.suppliers, m.suppliers.length)
      assert.strictEqual(counts.taxTypes, 2)
    })
  )

  it.live("decodes values that tie back to the merchant model (money, ids, quirky timestamps)", () =>
    Effect.gen(function* () {
      const e = yield* emulator()
      const pos = yield* listAll("purchase_orders", 250).pipe(Effect.provide(clientFor(e)))
      const model = new Map(stockyPos(e.merchant).map((p) => [p.id, p]))
      const variants = new Map(e.merchant.variants.map((v) => [v.id, v]))
      let lines = 0
      for (const po of pos) {
        const p = model.get(po.id)
        assert.isDefined(p)
        if (p === undefined) continue
        assert.strictEqual(po.supplier_id, p.supplierId)
        assert.strictEqual(po.shopify_receive_location_id, BigInt(p.locationId))
        assert.strictEqual(po.currency, p.currency)
        assert.strictEqual(po.updated_at && DateTime.toEpochMillis(po.updated_at), p.updatedAt)
        const exponent = currencyExponent(p.currency)
        p.lines.forEach((line, i) => {
          const item = po.purchase_items[i]
          lines++
          assert.strictEqual(item?.id, line.id)
          assert.strictEqual(item?.quantity, line.quantity)
          assert.isTrue(item?.cost_price?.equals(Decimal.fromMinor(line.unitCost, exponent)), "cost_price")
          assert.strictEqual(
            item?.inventory_item_id,
            BigInt(variants.get(line.variantId)?.inventoryItemId ?? 0)
          )
          // "DD/MM/YYYY HH:MM" (the emulator renders UTC; the client reads it in the configured zone, UTC here).
          assert.strictEqual(
            item?.updated_at && DateTime.toEpochMillis(item.updated_at),
            p.updatedAt - (p.updatedAt % 60_000)
          )
        })
      }
      assert.isAbove(lines, 0)
    })
  )

  it.live("reads single records bare and wrapped, and 404s as NotFound", () =>
    Effect.gen(function* () {
      for (const singleWrapper of [false, true]) {
        const e = yield* emulator({ singleWrapper })
        const p = stockyPos(e.merchant)[0]
        assert.isDefined(p)
        if (p === undefined) return
        yield* Effect.gen(function* () {
          const client = yield* StockyClient
          const po = yield* client.get("purchase_orders", p.id)
          assert.strictEqual(po.purchase_items.length, p.lines.length)
          const missing = yield* Effect.flip(client.get("tax_types", 99))
          assert.strictEqual(missing._tag === "StockyError" && missing.reason._tag, "NotFound")
        }).pipe(Effect.provide(clientFor(e)))
      }
    })
  )

  it.live(
    "returns the same records under chaos faults (429, 5xx, resets, truncated and malformed bodies)",
    () =>
      Effect.gen(function* () {
        const clean = yield* emulator()
        const expected = yield* readAll(25).pipe(Effect.provide(clientFor(clean)))
        const e = yield* emulator(
          {},
          {
            profile: "chaos",
            apis: ["stocky"],
            overrides: {
              http_429: 0.15,
              http_5xx: 0.1,
              connection_reset: 0.05,
              truncated_body: 0.05,
              malformed_json: 0.05
            }
          }
        )
        const actual = yield* readAll(25).pipe(Effect.provide(clientFor(e)))
        assert.deepStrictEqual(actual, expected)
        const injected = e.faults.report().stocky
        assert.isAbove(injected.http_429 ?? 0, 0)
        assert.isAbove(
          (injected.http_5xx ?? 0) + (injected.malformed_json ?? 0) + (injected.truncated_body ?? 0),
          0
        )
      })
  )

  it.live("keeps pace under the emulator's own rate limit", () =>
    Effect.gen(function* () {
      const e = yield* emulator({ rateLimit: { requestsPerSecond: 10, burst: 2 } })
      const suppliers = yield* listAll("suppliers", 2).pipe(Effect.provide(clientFor(e)))
      assert.strictEqual(suppliers.length, e.merchant.suppliers.length)
    })
  )

  it.live("treats a disabled stock_transfers endpoint as not served", () =>
    Effect.gen(function* () {
      const e = yield* emulator({ transfersEnabled: false })
      const transfers = yield* listAll("stock_transfers").pipe(Effect.provide(clientFor(e)))
      assert.strictEqual(transfers.length, 0)
    })
  )

  it.live("fails a malformed record with a Decode error naming the field", () =>
    Effect.gen(function* () {
      const e = yield* emulator({}, { profile: "none" }, merchantFor(3))
      const error = yield* Effect.flip(listAll("purchase_orders", 250).pipe(Effect.provide(clientFor(e))))
      assert.strictEqual(error._tag, "StockyError")
      if (error._tag === "StockyError" && error.reason._tag === "Decode") {
        expect(error.reason.field).toMatch(/^purchase_items\.\d+\.quantity$/)
        expect(error.reason.source).toContain("/api/v2/purchase_orders.json")
      } else assert.fail(`expected Decode, got ${error.message}`)
    })
  )
})

describe("dead-lettering malformed sandbox records", () => {
  it.live("loads the rest and dead-letters exactly the malformed POs the ground truth counts", () =>
    Effect.gen(function* () {
      const merchant = merchantFor(3)
      const e = yield* emulator({}, { profile: "none" }, merchant)
      const letters: Array<DeadLetter> = []
      const pos = yield* listAll("purchase_orders", 10).pipe(
        Effect.provide(
          StockyClient.layer({
            baseUrl: `${e.handle.baseUrl}/api/v2`,
            storeName: e.handle.credentials.storeName,
            apiKey: Redacted.make(e.handle.credentials.apiKey),
            invalidRecords: "dead-letter",
            rateLimit: { maxRatePerSecond: 1000, initialRatePerSecond: 1000 }
          }).pipe(Layer.provide([HttpTransport.layer(), DeadLetterSink.layerMemoryWith(letters)]))
        )
      )
      const truth = merchant.groundTruth().counts
      assert.strictEqual(truth.malformed.stocky, 3)
      assert.strictEqual(letters.length, truth.malformed.stocky)
      assert.strictEqual(pos.length, truth.purchaseOrders - stockyShopifyPos(merchant))
      const malformedIds = stockyPos(merchant)
        .filter((p) => p.malformed)
        .map((p) => String(p.id))
        .sort()
      assert.deepStrictEqual(letters.map((l) => l.sourceId).sort(), malformedIds)
      for (const letter of letters) {
        assert.deepStrictEqual(letter.key, {
          source: "stocky",
          account: e.handle.credentials.storeName,
          stream: "purchase_orders"
        })
        expect(letter.detail).toMatch(/purchase_items\.\d+\.quantity/)
        expect(letter.origin).toMatch(/purchase_orders\.json\?.*#\d+$/)
        expect(letter.payload).toContain('"quantity":"abc"')
      }
    })
  )

  it.live("without a DeadLetterSink the layer refuses dead-letter mode with the fix", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Layer.build(
          StockyClient.layerTest({
            storeName: "a.myshopify.com",
            apiKey: Redacted.make("k"),
            invalidRecords: "dead-letter"
          })
        ).pipe(Effect.scoped)
      )
      expect(error.message).toMatch(/invalidRecords.*DeadLetterSink/)
    })
  )
})

describe("the sandbox in retired mode", () => {
  it.live("answers every call with one permanent Retired error, without a retry loop", () =>
    Effect.gen(function* () {
      const e = yield* emulator({ retired: true })
      yield* Effect.gen(function* () {
        const client = yield* StockyClient
        for (const resource of STOCKY_RESOURCE_NAMES) {
          const error = yield* Effect.flip(Stream.runCollect(client.list(resource)))
          expect(error.message).toContain("Stocky's API is no longer available; import an archive instead")
          expect(error._tag === "StockyError" && error.reason._tag).toBe("Retired")
        }
        const single = yield* Effect.flip(client.get("suppliers", 1))
        expect(single._tag === "StockyError" && single.reason._tag).toBe("Retired")
        const check = yield* Effect.flip(client.checkAvailable)
        expect(check.message).toContain("410")
      }).pipe(Effect.provide(clientFor(e)))
      // One request per call: nothing was retried.
      assert.strictEqual(e.handle.stats().requests, STOCKY_RESOURCE_NAMES.length + 2)
    })
  )

  it.live("notices a shutdown in the middle of a run", () =>
    Effect.gen(function* () {
      const e = yield* emulator()
      yield* Effect.gen(function* () {
        const client = yield* StockyClient
        const suppliers = yield* Stream.runCollect(client.suppliers())
        assert.isAbove(suppliers.length, 0)
        e.handle.setRetired(true)
        const error = yield* Effect.flip(Stream.runCollect(client.purchaseOrders()))
        expect(error._tag === "StockyError" && error.reason._tag).toBe("Retired")
      }).pipe(Effect.provide(clientFor(e)))
    })
  )
})

describe("archives generated from the sandbox", () => {
  it.live("exportArchive → readArchive equals the live records for every resource", () =>
    Effect.gen(function* () {
      const dir = yield* Effect.acquireRelease(
        Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "stocky-sandbox-"))),
        (d) => Effect.promise(() => fs.rm(d, { recursive: true, force: true }))
      )
      const e = yield* emulator()
      const live = yield* Effect.gen(function* () {
        const manifest = yield* exportArchive(directoryWriter(dir), { limit: 20 })
        assert.strictEqual(manifest.resources.purchase_orders?.records, stockyPos(e.merchant).length)
        assert.strictEqual(manifest.store_name, e.handle.credentials.storeName)
        return yield* readAll(50)
      }).pipe(Effect.provide(clientFor(e)))
      // The API is gone now; the archive still has everything.
      e.handle.setRetired(true)
      const reader = directoryReader(dir)
      for (const resource of STOCKY_RESOURCE_NAMES) {
        const archived = yield* Stream.runCollect(readArchive(reader, resource))
        assert.deepStrictEqual(archived, live[resource], resource)
      }
    })
  )

  it.live("CSV exports rendered from the sandbox's raw pages decode to the live records", () =>
    Effect.gen(function* () {
      const e = yield* emulator()
      const { live, raw } = yield* Effect.gen(function* () {
        const client = yield* StockyClient
        const raw: Record<string, Array<Record<string, unknown>>> = {}
        for (const resource of STOCKY_RESOURCE_NAMES) {
          const pages = yield* Stream.runCollect(client.pages(resource, { limit: 100 }))
          raw[resource] = pages.flatMap((p) => {
            const body: unknown = JSON.parse(p.body)
            const rows: unknown = Reflect.get(Object(body), resource)
            return Array.isArray(rows) ? rows : []
          })
        }
        return { live: yield* readAll(100), raw }
      }).pipe(Effect.provide(clientFor(e)))
      const archive = memoryArchive()
      for (const [file, text] of csvFiles(raw, { crlf: true }))
        archive.files.set(`csv/${file}`, new TextEncoder().encode(text))
      for (const resource of STOCKY_RESOURCE_NAMES) {
        if (resource === "stock_transfers") continue
        const fromCsv = yield* Stream.runCollect(readArchive(archive, resource))
        const sort = <T extends { id: number }>(xs: ReadonlyArray<T>) => [...xs].sort((a, b) => a.id - b.id)
        assert.deepStrictEqual(sort(fromCsv), sort(live[resource] ?? []), resource)
      }
    })
  )
})
