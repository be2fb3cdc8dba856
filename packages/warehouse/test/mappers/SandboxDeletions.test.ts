/**
 * Deletions end to end: orders deleted in the sandbox show up as Shopify destroy events, which
 * the REAL client reads and the deletion mapper turns into soft deletes of exactly those orders.
 */
import { type Sandbox, startSandbox } from "@kura/sandbox"
import { Resources, ShopifyClient } from "@kura/shopify-client"
import { Effect, Stream } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { shopifyEventDeletion } from "../../src/mappers/index.js"

let sandbox: Sandbox | undefined
afterAll(async () => {
  await sandbox?.close()
})

describe("Shopify deletion events from the sandbox", () => {
  it("every deleted order becomes one soft delete of its orders row, dated when it was deleted", async () => {
    sandbox = await startSandbox({ seed: 3, scale: 120, historyDays: 20, plan: "enterprise", timeScale: 10 })
    const sb = sandbox
    const deleted = sb.deleteOrders(4).map((i) => sb.merchant.orderAt(i))
    expect(deleted).toHaveLength(4)
    const events = await Effect.runPromise(
      Effect.gen(function* () {
        const client = yield* ShopifyClient
        const pages = yield* Stream.runCollect(
          client.pages(Resources.events, { search: "subject_type:ORDER AND action:destroy" })
        )
        return [...pages].flatMap((p) => p.records)
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
    const deletions = events.flatMap((e) =>
      shopifyEventDeletion(e, { sourceAccount: sb.shopify.credentials.shopDomain })
    )
    const expected = sb.merchant
      .deletions()
      // Shopify timestamps have whole seconds.
      .map((d) => ({ id: String(d.orderId), at: new Date(Math.floor(d.at / 1000) * 1000).toISOString() }))
      .sort((a, b) => a.id.localeCompare(b.id))
    expect(expected.map((d) => d.id)).toEqual(expect.arrayContaining(deleted.map((o) => String(o?.id))))
    expect(
      deletions
        .map((d) => ({ table: d.table, id: d.key.source_id, at: d.deletedAt, account: d.key.source_account }))
        .sort((a, b) => a.id.localeCompare(b.id))
    ).toEqual(
      expected.map((d) => ({
        table: "orders",
        id: d.id,
        at: d.at,
        account: sb.shopify.credentials.shopDomain
      }))
    )
  }, 120_000)
})
