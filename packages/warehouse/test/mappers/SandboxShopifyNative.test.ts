/**
 * After Stocky's shutdown the same history continues in Shopify's native transfers and purchase
 * orders: pulled by the REAL client from the sandbox (Admin API 2026-10) and mapped, their
 * movements must equal the generator's transfers and receipts per SKU × location × kind.
 */
import { type Sandbox, startSandbox } from "@kura/sandbox"
import { type ResourceSpec, Resources, ShopifyClient } from "@kura/shopify-client"
import { Effect, Stream } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { type MapContext, mergeRows } from "../../src/Mapper.js"
import {
  inventoryCatalogOf,
  makeShopifyProductMapper,
  makeShopifyPurchaseOrderMapper,
  makeShopifyTransferMapper
} from "../../src/mappers/index.js"
import { StatusVocabulary } from "../../src/mappers/StatusVocabulary.js"

let sandbox: Sandbox | undefined
afterAll(async () => {
  await sandbox?.close()
})

describe("Shopify native inventory records (after the Stocky shutdown)", () => {
  it("transfers and purchase-order receipts tie out per SKU × location × kind", async () => {
    sandbox = await startSandbox({
      seed: 5,
      anchor: Date.parse("2026-10-20T00:00:00Z"),
      scale: 150,
      historyDays: 30,
      plan: "enterprise",
      timeScale: 10
    })
    const sb = sandbox
    const all = <A>(resource: ResourceSpec<A>) =>
      Effect.gen(function* () {
        const client = yield* ShopifyClient
        const pages = yield* Stream.runCollect(client.pages(resource, { pageSize: 50 }))
        return [...pages].flatMap((p) => p.records)
      })
    const pulled = await Effect.runPromise(
      Effect.all({
        products: all(Resources.products),
        transfers: all(Resources.inventoryTransfers),
        purchaseOrders: all(Resources.inventoryPurchaseOrders)
      }).pipe(
        Effect.provide(
          ShopifyClient.layerStatic({
            shop: sb.shopify.credentials.shopDomain,
            accessToken: sb.shopify.credentials.accessToken,
            baseUrl: sb.shopify.baseUrl,
            apiVersion: "2026-10"
          })
        )
      )
    )
    const ctx: MapContext = {
      source: "shopify",
      sourceAccount: sb.shopify.credentials.shopDomain,
      syncedAt: "2026-10-20T01:00:00.000Z",
      batchId: "b",
      timeZoneOf: () => "Asia/Tokyo"
    }
    const catalog = inventoryCatalogOf(
      mergeRows(...pulled.products.map((p) => makeShopifyProductMapper()(p, ctx))).variants ?? []
    )
    const rows = mergeRows(
      ...pulled.transfers.map((t) => makeShopifyTransferMapper(catalog)(t, ctx)),
      ...pulled.purchaseOrders.map((p) => makeShopifyPurchaseOrderMapper(catalog)(p, ctx))
    )

    const m = sb.merchant
    const skuOf = new Map(m.variants.map((v) => [v.id, v.sku]))
    const want: Record<string, number> = {}
    const add = (sku: string | undefined, location: number, kind: string, qty: number) => {
      const key = `${sku}|${location}|${kind}`
      want[key] = (want[key] ?? 0) + qty
    }
    const transfers = m.stockTransfers.filter((t) => t.system === "shopify")
    const pos = m.purchaseOrders.filter((p) => p.system === "shopify" && !p.malformed)
    expect(transfers.length).toBeGreaterThan(0)
    expect(pos.length).toBeGreaterThan(0)
    for (const t of transfers)
      for (const it of t.items) {
        add(skuOf.get(it.variantId), t.fromLocationId, "transfer_out", -it.quantity)
        if (t.receivedAt !== null) add(skuOf.get(it.variantId), t.toLocationId, "transfer_in", it.quantity)
      }
    for (const p of pos)
      for (const l of p.lines)
        if (l.received) add(skuOf.get(l.variantId), p.locationId, "receipt", l.quantity)

    const got: Record<string, number> = {}
    for (const mv of rows.inventory_movements ?? []) {
      const key = `${mv.sku}|${mv.location_id}|${mv.kind}`
      got[key] = (got[key] ?? 0) + mv.quantity
    }
    expect(got).toEqual(want)
    expect(rows.purchase_orders).toHaveLength(pos.length)
    // Every supplier a purchase order names has its suppliers row, named as Shopify names it.
    const supplierIds = new Set(
      (rows.purchase_orders ?? []).flatMap((r) => (r.supplier_id ? [r.supplier_id] : []))
    )
    expect(supplierIds.size).toBeGreaterThan(0)
    expect(new Set((rows.suppliers ?? []).map((r) => r.source_id))).toEqual(supplierIds)
    for (const r of rows.suppliers ?? []) expect(r.name).toMatch(/\S/)
    // Stocky's lifecycle (the canonical purchase-order vocabulary), read from the lines: Shopify's
    // own enum says only DRAFT | ORDERED, whatever was received.
    const histogram = (values: ReadonlyArray<string>) =>
      Object.fromEntries([...new Set(values)].sort().map((v) => [v, values.filter((x) => x === v).length]))
    const statuses = (rows.purchase_orders ?? []).map((r) => r.status ?? "")
    for (const s of statuses) expect(StatusVocabulary["purchase_orders.status"]?.shopify).toContain(s)
    expect(histogram(statuses.filter((s) => s === "received" || s === "partially_received"))).toEqual(
      histogram(
        pos
          .filter((p) => p.lines.some((l) => l.received))
          .map((p) => (p.lines.every((l) => l.received) ? "received" : "partially_received"))
      )
    )
    expect(rows.purchase_order_lines).toHaveLength(pos.reduce((a, p) => a + p.lines.length, 0))
  }, 180_000)
})
