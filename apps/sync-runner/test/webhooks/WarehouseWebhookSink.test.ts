import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { DuckDbWarehouse, LocalObjectStore, RawLake, Warehouse } from "@kura/warehouse"
import { Effect, Layer, Stream } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import type { WebhookDelivery } from "../../src/WebhookSink.js"
import { ShopContext } from "../../src/webhooks/ShopContext.js"
import { layerWarehouseWebhookSink, WEBHOOK_LAKE_STREAM } from "../../src/webhooks/WarehouseWebhookSink.js"
import { WebhookBatchSink } from "../../src/webhooks/WebhookBatchSink.js"
import { inventoryLevel, restOrder, restRefund } from "./fixtures.js"

const SHOP = "kura-matcha.myshopify.com"
const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

const delivery = (
  topic: string,
  eventId: string,
  body: unknown,
  receivedAt = Date.parse("2026-11-26T10:00:00Z")
) => {
  const rawBody = typeof body === "string" ? body : JSON.stringify(body)
  return {
    topic,
    shop: SHOP,
    eventId,
    webhookId: `wh-${eventId}`,
    apiVersion: "2026-01",
    triggeredAt: "2026-11-26T09:59:59Z",
    receivedAt,
    payload: JSON.parse(rawBody),
    rawBody
  } satisfies WebhookDelivery
}

const FACTS = { [SHOP]: { timeZone: "Asia/Tokyo", currency: "JPY", onlineLocationId: "9001" } }

const run = <A, E>(
  effect: Effect.Effect<A, E, Warehouse | RawLake | WebhookBatchSink>,
  facts: Parameters<typeof ShopContext.layerStatic>[0] = FACTS
) => {
  const dir = mkdtempSync(join(tmpdir(), "kura-whsink-"))
  dirs.push(dir)
  const base = Layer.mergeAll(
    DuckDbWarehouse.layerMemory,
    RawLake.layer.pipe(Layer.provide(LocalObjectStore.layer(dir)))
  )
  const sink = layerWarehouseWebhookSink().pipe(Layer.provide(ShopContext.layerStatic(facts)))
  return Effect.runPromise(
    Effect.gen(function* () {
      yield* (yield* Warehouse).migrate
      return yield* effect
    }).pipe(Effect.provide(sink.pipe(Layer.provideMerge(base))))
  )
}

const q = (sql: string) => Effect.flatMap(Effect.service(Warehouse), (w) => w.query(sql))

describe("WarehouseWebhookSink", () => {
  it("lands a batch as one lake object, one raw row per event and canonical rows per topic", async () => {
    const out = await run(
      Effect.gen(function* () {
        const sink = yield* WebhookBatchSink
        const landed = yield* sink.landBatch({
          batchId: "00001764151200000-00000001",
          deliveries: [
            delivery("orders/create", "e1", restOrder(1001, "2026-11-26T01:00:00Z")),
            delivery("orders/create", "e2", restOrder(1002, "2026-11-26T01:00:00Z")),
            delivery("orders/updated", "e3", restOrder(1001, "2026-11-26T02:00:00Z", { total: "3300" })),
            delivery("refunds/create", "e4", restRefund(7001, 1002)),
            delivery("inventory_levels/update", "e5", inventoryLevel(8001, 9001, 42, "2026-11-26T03:00:00Z")),
            delivery("orders/delete", "e6", { id: 1002 }),
            // 2^63-ish ids survive: the raw body is kept byte-exact, the mapper gets the exact text.
            delivery("orders/create", "e7", `{"id":820982911946154508,"created_at":"x"}`),
            delivery("app/uninstalled", "e8", { id: 1 })
          ]
        })
        const lake = yield* RawLake
        const batches = yield* lake.listBatches({
          source: "shopify",
          account: SHOP,
          stream: WEBHOOK_LAKE_STREAM
        })
        const lines = yield* Stream.runCollect(lake.readLines(batches[0]!.path))
        const raw = yield* q(`SELECT stream, source_id FROM _kura_raw ORDER BY source_id`)
        const orders = yield* q(
          `SELECT source_id, CAST(total AS VARCHAR) AS total, _deleted_at IS NOT NULL AS deleted, business_date::VARCHAR AS day, location_id FROM orders ORDER BY source_id`
        )
        const refunds = yield* q(`SELECT source_id FROM refunds`)
        const levels = yield* q(`SELECT inventory_item_id, quantity FROM inventory_levels`)
        const letters = yield* q(`SELECT source_id, reason, stream FROM _kura_dead_letters`)
        const recent = yield* sink.recentEvents(Date.parse("2026-11-25T00:00:00Z"), 100)
        return { landed, batches, lines: [...lines], raw, orders, refunds, levels, letters, recent }
      })
    )
    expect(out.batches).toHaveLength(1)
    expect(out.lines).toHaveLength(8)
    expect(JSON.parse(out.lines[6]!).body).toBe(`{"id":820982911946154508,"created_at":"x"}`)
    expect(out.raw.map((r) => r.source_id)).toEqual(["e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8"])
    expect(out.raw.find((r) => r.source_id === "e8")?.stream).toBe("webhook.app_uninstalled")
    // The newer orders/updated won; the deleted order is soft-deleted; the zone is the shop's.
    expect(out.orders).toEqual([
      { source_id: "1001", total: "3300.000000000", deleted: false, day: "2026-11-26", location_id: "9001" },
      { source_id: "1002", total: "2200.000000000", deleted: true, day: "2026-11-26", location_id: "9001" }
    ])
    expect(out.refunds.map((r) => r.source_id)).toEqual(["7001"])
    expect(out.levels).toEqual([{ inventory_item_id: "8001", quantity: "42" }])
    // The malformed order is dead-lettered with a reason, not dropped.
    expect(out.letters).toEqual([
      { source_id: "820982911946154508", reason: "decode", stream: "webhook.orders_create" }
    ])
    expect(out.landed).toMatchObject({ raw: 8, deleted: 1, deadLettered: 1 })
    expect(out.recent.map((r) => r.key).sort()).toContain(`${SHOP}/webhook.orders_create/e1`)
    expect(out.recent).toHaveLength(8)
  })

  it("is idempotent per batch id, and an older update never overwrites a newer row", async () => {
    const out = await run(
      Effect.gen(function* () {
        const sink = yield* WebhookBatchSink
        const batch = {
          batchId: "b-1",
          deliveries: [
            delivery("orders/updated", "u2", restOrder(2001, "2026-11-26T05:00:00Z", { total: "5500" }))
          ]
        }
        yield* sink.landBatch(batch)
        yield* sink.landBatch(batch)
        yield* sink.landBatch({
          batchId: "b-2",
          deliveries: [
            delivery("orders/updated", "u1", restOrder(2001, "2026-11-26T04:00:00Z", { total: "1" }))
          ]
        })
        return {
          raw: yield* q(`SELECT count(*)::INT AS n FROM _kura_raw`),
          orders: yield* q(`SELECT CAST(total AS VARCHAR) AS total FROM orders`)
        }
      })
    )
    expect(out.raw).toEqual([{ n: 2 }])
    expect(out.orders).toEqual([{ total: "5500.000000000" }])
  })

  it("when the shop's facts cannot be read, lands raw and dead-letters the upsert instead of blocking", async () => {
    const out = await run(
      Effect.gen(function* () {
        const sink = yield* WebhookBatchSink
        const landed = yield* sink.landBatch({
          batchId: "b-facts",
          deliveries: [delivery("orders/create", "f1", restOrder(3001, "2026-11-26T05:00:00Z"))]
        })
        return {
          landed,
          raw: yield* q(`SELECT source_id FROM _kura_raw`),
          orders: yield* q(`SELECT source_id FROM orders`),
          letters: yield* q(`SELECT source_id, reason FROM _kura_dead_letters`)
        }
      }),
      {}
    )
    expect(out.raw).toEqual([{ source_id: "f1" }])
    expect(out.orders).toEqual([])
    expect(out.letters).toEqual([{ source_id: "3001", reason: "shop_facts" }])
    expect(out.landed).toMatchObject({ raw: 1, deadLettered: 1 })
  })
})
