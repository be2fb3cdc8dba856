import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { LocalObjectStore, RawLake } from "@kura/warehouse"
import { Effect, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { layerLakeWebhookSink, webhookStreamName } from "../src/LakeWebhookSink.js"
import { WebhookSink } from "../src/WebhookSink.js"

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
        Effect.provide(layerLakeWebhookSink),
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
