import { HttpTransport } from "@kura/core"
import { Effect, Layer, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ShopifyAuth } from "../src/ShopifyAuth.js"
import { parseLinkHeader, ShopifyRest } from "../src/ShopifyRest.js"
import { WebhookOrder } from "../src/ShopifyWebhook.js"
import { configLayer, expectedOrderIds, type Sandbox, startSandbox } from "./sandbox.js"

const DAY = 86_400_000

const restLayer = (sb: Sandbox) =>
  ShopifyRest.layer.pipe(
    Layer.provideMerge(ShopifyAuth.layerStatic(sb.handle.credentials.accessToken)),
    Layer.provideMerge(configLayer(sb, { apiVersion: "2026-01" })),
    Layer.provideMerge(HttpTransport.layer())
  )

describe("REST (legacy) against the sandbox", () => {
  let sb: Sandbox
  beforeAll(async () => {
    sb = await startSandbox({ timeScale: 20 })
  })
  afterAll(() => sb.close())

  it("parses Link headers", () => {
    expect(
      parseLinkHeader(
        '<https://s/admin/api/2026-01/orders.json?limit=2&page_info=a>; rel="previous", <https://s/admin/api/2026-01/orders.json?limit=2&page_info=b>; rel="next"'
      )
    ).toEqual({
      previous: "https://s/admin/api/2026-01/orders.json?limit=2&page_info=a",
      next: "https://s/admin/api/2026-01/orders.json?limit=2&page_info=b"
    })
  })

  it("pages with page_info and never resends filters (the emulator answers 400 if it did)", async () => {
    const end = Date.now() + DAY
    const start = end - 30 * DAY
    const pages = await Effect.runPromise(
      Effect.provide(
        Effect.gen(function* () {
          const rest = yield* ShopifyRest
          return yield* Stream.runCollect(
            rest.list("orders", "orders", WebhookOrder, {
              status: "any",
              limit: 25,
              updated_at_min: new Date(start).toISOString(),
              updated_at_max: new Date(end).toISOString()
            })
          )
        }),
        restLayer(sb)
      )
    )
    expect(pages.length).toBeGreaterThan(1)
    const ids = new Set(pages.flatMap((p) => p.records.map((o) => o.admin_graphql_api_id)))
    const expected = expectedOrderIds(sb.merchant, start, end)
    for (const id of ids) expect(expected.has(id)).toBe(true)
    expect(ids.size).toBe(expected.size)
  })

  it("honours 429 Retry-After in seconds", async () => {
    sb.faults.arm("http_429", 2)
    const started = Date.now()
    const first = await Effect.runPromise(
      Effect.provide(
        Effect.gen(function* () {
          const rest = yield* ShopifyRest
          return yield* Stream.runHead(
            rest.list("orders", "orders", WebhookOrder, { status: "any", limit: 5 })
          )
        }),
        restLayer(sb)
      )
    )
    expect(first._tag).toBe("Some")
    expect(sb.faults.report().shopify.http_429).toBe(2)
    // Retry-After "0.1" (2 s / timeScale 20) twice.
    expect(Date.now() - started).toBeGreaterThanOrEqual(190)
  })
})
