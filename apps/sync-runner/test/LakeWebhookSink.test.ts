import { readdirSync, readFileSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { gunzipSync } from "node:zlib"
import {
  DuckDbWarehouse,
  LocalObjectStore,
  makeRedaction,
  ObjectStore,
  RawLake,
  Warehouse
} from "@kura/warehouse"
import { Effect, Layer, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { layerLakeWebhookSink, makeLakeWebhookSink, webhookStreamName } from "../src/LakeWebhookSink.js"
import { type WebhookDelivery, WebhookSink } from "../src/WebhookSink.js"
import { restOrder } from "./webhooks/fixtures.js"

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kura-lake-"))
})
afterAll(() => rm(dir, { recursive: true, force: true }))

describe("LakeWebhookSink", () => {
  it("lands each delivery in the raw lake with the exact signed body", async () => {
    const rawBody = '{"id":820982911946154508,"total_price":"12.30"}'
    await Effect.runPromise(
      Effect.gen(function* () {
        const sink = yield* WebhookSink
        yield* sink.land({
          topic: "orders/create",
          shop: "kura-matcha.myshopify.com",
          eventId: "98880550-7158-44d4-b7cd-2c97c8a091b5",
          webhookId: "w-1",
          apiVersion: "2026-01",
          triggeredAt: "2026-11-26T10:00:00Z",
          receivedAt: Date.parse("2026-11-26T10:00:01Z"),
          payload: JSON.parse(rawBody),
          rawBody
        })
      }).pipe(
        Effect.provide(layerLakeWebhookSink()),
        Effect.provide(RawLake.layer),
        Effect.provide(LocalObjectStore.layer(dir))
      )
    )
    const key = {
      source: "shopify",
      account: "kura-matcha.myshopify.com",
      stream: webhookStreamName("orders/create")
    }
    const { batches, lines } = await Effect.runPromise(
      Effect.gen(function* () {
        const lake = yield* RawLake
        const batches = yield* lake.listBatches(key)
        const lines =
          batches[0] === undefined ? [] : yield* Stream.runCollect(lake.readLines(batches[0].path))
        return { batches, lines }
      }).pipe(Effect.provide(RawLake.layer), Effect.provide(LocalObjectStore.layer(dir)))
    )
    expect(batches).toHaveLength(1)
    expect(batches[0]?.dt).toBe("2026-11-26")
    expect(lines).toHaveLength(1)
    const envelope = JSON.parse(lines[0]!)
    expect(envelope).toMatchObject({
      topic: "orders/create",
      event_id: "98880550-7158-44d4-b7cd-2c97c8a091b5"
    })
    // Byte-exact: the 18-digit id would not survive a parse/stringify round trip.
    expect(envelope.body).toBe(rawBody)
  })
})

describe("LakeWebhookSink held to the redaction ledger (KURA_WEBHOOK_MODE=per-delivery)", () => {
  const SHOP = "kura-matcha.myshopify.com"
  const ERASED_SHOP = "gone.myshopify.com"
  let seq = 0
  const delivery = (shop: string, topic: string, body: unknown): WebhookDelivery => {
    const rawBody = JSON.stringify(body)
    seq++
    return {
      topic,
      shop,
      eventId: `e-${seq}`,
      webhookId: `w-${seq}`,
      apiVersion: "2026-01",
      triggeredAt: "2026-11-26T10:00:00Z",
      receivedAt: Date.parse("2026-11-26T10:00:01Z") + seq,
      payload: JSON.parse(rawBody),
      rawBody
    }
  }
  const order = (id: number, customer: number, email: string) => ({
    ...restOrder(id, "2026-11-26T05:00:00Z"),
    email,
    customer: { id: customer, email, first_name: "Pat", last_name: "Comer" }
  })
  const lakeText = (root: string, account: string) =>
    readdirSync(root, { recursive: true, withFileTypes: true })
      .filter(
        (e) => e.isFile() && e.name.endsWith(".ndjson.gz") && e.parentPath.includes(`account=${account}`)
      )
      .map((e) => gunzipSync(readFileSync(join(e.parentPath, e.name))).toString("utf8"))
      .join("\n")

  it("drops an erased shop's deliveries, erases a customer erased before the delivery landed, and carries out customers/redact", async () => {
    const root = await mkdtemp(join(tmpdir(), "kura-lake-ledger-"))
    const store = LocalObjectStore.make(root)
    try {
      const ledger = await Effect.runPromise(
        Effect.gen(function* () {
          const w = yield* Warehouse
          yield* w.migrate
          const redaction = makeRedaction(w, store)
          yield* redaction.redactCustomer({ source: "shopify", sourceAccount: SHOP, customerId: "555" })
          yield* redaction.redactShop({ source: "shopify", sourceAccount: ERASED_SHOP, confirm: true })
          const sink = makeLakeWebhookSink(yield* RawLake, { redaction })
          // Accepted before the erasure, landed after it (Shopify's retry): erased as it lands.
          yield* sink.land(delivery(SHOP, "orders/updated", order(5001, 555, "late@example.com")))
          yield* sink.land(delivery(SHOP, "orders/updated", order(5002, 777, "keep@example.com")))
          yield* sink.land(delivery(ERASED_SHOP, "orders/updated", order(6001, 999, "gone@example.com")))
          yield* sink.land(
            delivery(SHOP, "customers/redact", {
              shop_domain: SHOP,
              customer: { id: 888, email: "asked@example.com" },
              orders_to_redact: []
            })
          )
          return yield* redaction.list
        }).pipe(
          Effect.provide(RawLake.layer.pipe(Layer.provide(Layer.succeed(ObjectStore, store)))),
          Effect.provide(DuckDbWarehouse.layerMemory)
        )
      )
      const kept = lakeText(root, SHOP)
      expect(kept).toContain("keep@example.com")
      expect(kept).toContain("5001")
      expect(kept).not.toContain("late@example.com")
      expect(lakeText(root, ERASED_SHOP)).toBe("")
      // The compliance delivery is landed and carried out: its request is in the ledger.
      expect(ledger.map((e) => e.id)).toContain(`customer:shopify:${SHOP}:888`)
      const late = ledger.find((e) => e.id === `customer:shopify:${SHOP}:555`)
      expect(late?.filesChanged).toBe(1)
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })

  it("without a Warehouse and ObjectStore in context it only writes the lake", async () => {
    const root = await mkdtemp(join(tmpdir(), "kura-lake-plain-"))
    try {
      await Effect.runPromise(
        Effect.gen(function* () {
          const sink = yield* WebhookSink
          yield* sink.land(delivery(ERASED_SHOP, "orders/updated", order(6002, 999, "plain@example.com")))
        }).pipe(
          Effect.provide(layerLakeWebhookSink()),
          Effect.provide(RawLake.layer),
          Effect.provide(LocalObjectStore.layer(root))
        )
      )
      expect(lakeText(root, ERASED_SHOP)).toContain("plain@example.com")
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })
})
