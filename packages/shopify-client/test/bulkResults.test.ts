import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { BulkJobStore, HttpTransport } from "@kura/core"
import { Effect, Layer, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Resources } from "../src/Resources.js"
import { ShopifyAuth } from "../src/ShopifyAuth.js"
import { type FinishedJob, ShopifyBulk } from "../src/ShopifyBulk.js"
import { ShopifyClient } from "../src/ShopifyClient.js"
import { ShopifyConfig } from "../src/ShopifyConfig.js"

/** A file server standing in for the signed GCS URL of a bulk result. */
let base = ""
let close: () => void = () => {}
const files = new Map<string, string>()
beforeAll(async () => {
  const server = createServer((req, res) => {
    const body = files.get(req.url ?? "")
    if (body === undefined) {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, { "content-type": "application/jsonl" })
    // Dribble the body in small writes so lines span chunks.
    let i = 0
    const step = () => {
      if (i >= body.length) return void res.end()
      res.write(body.slice(i, i + 7))
      i += 7
      setImmediate(step)
    }
    step()
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  close = () => server.close()
})
afterAll(() => close())

const layer = ShopifyBulk.layer().pipe(
  Layer.provideMerge(ShopifyClient.layer),
  Layer.provideMerge(ShopifyAuth.layerTest),
  Layer.provideMerge(ShopifyConfig.layer({ shop: "test.myshopify.com", baseUrl: "http://127.0.0.1:9" })),
  Layer.provideMerge(HttpTransport.layer()),
  Layer.provideMerge(BulkJobStore.layerMemory)
)

const job = (over: Partial<FinishedJob["operation"]>): FinishedJob => ({
  record: {
    jobId: "gid://shopify/BulkOperation/1",
    key: { source: "shopify", account: "test.myshopify.com", stream: "locations" },
    windowStart: "2026-01-01T00:00:00.000Z",
    windowEnd: "2026-02-01T00:00:00.000Z",
    state: "completed",
    remoteStatus: "COMPLETED",
    objectCount: "0",
    createdAt: 0,
    updatedAt: 0
  },
  operation: {
    id: "gid://shopify/BulkOperation/1",
    status: "COMPLETED",
    errorCode: null,
    createdAt: "2026-01-01T00:00:00Z",
    completedAt: "2026-01-01T00:01:00Z",
    objectCount: "0",
    rootObjectCount: "0",
    fileSize: null,
    url: null,
    partialDataUrl: null,
    type: "QUERY",
    ...over
  },
  durationMillis: 1
})

const location = (n: number) =>
  JSON.stringify({
    __typename: "Location",
    id: `gid://shopify/Location/${n}`,
    legacyResourceId: String(n),
    name: `Shop ${n} 京都`,
    isActive: true,
    fulfillsOnlineOrders: true,
    hasActiveInventory: true,
    shipsInventory: true,
    createdAt: "2026-01-01T00:00:00Z",
    updatedAt: "2026-01-01T00:00:00Z",
    deactivatedAt: null,
    address: {
      address1: null,
      address2: null,
      city: "Kyoto",
      province: null,
      provinceCode: null,
      zip: null,
      country: "JP",
      countryCode: "JP",
      phone: null
    }
  })

const results = (j: FinishedJob) =>
  Effect.runPromiseExit(
    Effect.provide(
      Effect.gen(function* () {
        const bulk = yield* ShopifyBulk
        return yield* Stream.runCollect(bulk.results(Resources.locations, j))
      }),
      layer
    )
  )

describe("bulk results: no silent loss", () => {
  it("COMPLETED with objectCount 0 and no URL is an empty success", async () => {
    const exit = await results(job({}))
    expect(exit._tag).toBe("Success")
  })

  it("COMPLETED with objects but no URL is DataLoss, never an empty success", async () => {
    const exit = await results(job({ objectCount: "5" }))
    expect(exit._tag).toBe("Failure")
    expect(JSON.stringify(exit)).toContain("DataLoss")
  })

  it("a line count different from objectCount is DataLoss", async () => {
    files.set("/short.jsonl", `${location(1)}\n${location(2)}\n`)
    const exit = await results(job({ objectCount: "3", url: `${base}/short.jsonl` }))
    expect(JSON.stringify(exit)).toContain("objectCount 3")
  })

  it("streams and decodes a dribbled download whose lines span chunks", async () => {
    files.set("/ok.jsonl", `${location(1)}\n${location(2)}\n${location(3)}`)
    const exit = await results(job({ objectCount: "3", url: `${base}/ok.jsonl` }))
    expect(exit._tag).toBe("Success")
    if (exit._tag === "Success")
      expect(exit.value.map((l) => l.name)).toEqual(["Shop 1 京都", "Shop 2 京都", "Shop 3 京都"])
  })

  it("a child line of no recognisable type is DataLoss, not silently dropped by the decoder", async () => {
    const product = JSON.stringify({ __typename: "Product", id: "gid://shopify/Product/1" })
    const stray = JSON.stringify({ __typename: null, id: "x-1", __parentId: "gid://shopify/Product/1" })
    files.set("/stray.jsonl", `${product}\n${stray}\n`)
    const exit = await Effect.runPromiseExit(
      Effect.provide(
        Effect.gen(function* () {
          const bulk = yield* ShopifyBulk
          return yield* Stream.runCollect(
            bulk.results(Resources.products, job({ objectCount: "2", url: `${base}/stray.jsonl` }))
          )
        }),
        layer
      )
    )
    expect(exit._tag).toBe("Failure")
    expect(JSON.stringify(exit)).toContain("DataLoss")
    expect(JSON.stringify(exit)).toContain("no recognisable type")
  })
})
