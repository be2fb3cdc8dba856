import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { CheckpointStore } from "@kura/core"
import { startSandbox } from "@kura/sandbox"
import { DuckDbWarehouse, LocalObjectStore, RawLake, Warehouse } from "@kura/warehouse"
import { Effect, Layer, Logger, Option, Redacted } from "effect"
import { describe, expect, it } from "vitest"
import type { ShopifyShopConfig } from "../../src/AppConfig.js"
import { startHttpService } from "../../src/HttpService.js"
import { LeaseManager } from "../../src/LeaseManager.js"
import { Metrics } from "../../src/Metrics.js"
import { RunLedger } from "../../src/RunLedger.js"
import { StreamRunner } from "../../src/StreamRunner.js"
import { makeShopifyStreams } from "../../src/sources/ShopifyStreams.js"
import { TriggerAuth } from "../../src/TriggerAuth.js"
import { WebhookIntake } from "../../src/WebhookIntake.js"
import { registerWebhooks, WEBHOOK_TOPICS } from "../../src/WebhookRegistrar.js"
import { ShopContext } from "../../src/webhooks/ShopContext.js"
import { layerWarehouseWebhookSink } from "../../src/webhooks/WarehouseWebhookSink.js"
import { WebhookBatcher } from "../../src/webhooks/WebhookBatcher.js"
import { restOrder } from "./fixtures.js"
import { sign } from "./harness.js"

// The whole path against the independent oracle: `webhooks register` subscribes the sandbox's
// Shopify to a running service, the sandbox signs and delivers real webhooks as orders are
// created, changed and deleted, and the scheduled orders sync then re-reads the same orders.
describe("webhooks end to end against the sandbox", () => {
  it("register → deliveries → canonical upserts within seconds; a later sync keeps one row per order, newest wins", async () => {
    const sandbox = await startSandbox({ seed: 11, scale: 10, historyDays: 3 })
    const dir = mkdtempSync(join(tmpdir(), "kura-wh-e2e-"))
    const { shopify } = sandbox
    const shop: ShopifyShopConfig = {
      shop: shopify.credentials.shopDomain,
      auth: { _tag: "AccessToken", accessToken: Redacted.make(shopify.credentials.accessToken) },
      apiVersion: shopify.credentials.apiVersion,
      apiBaseUrl: Option.some(shopify.baseUrl),
      webhookSecret: Option.some(Redacted.make(shopify.credentials.webhookSecret))
    }
    const base = Layer.mergeAll(
      DuckDbWarehouse.layerMemory,
      RawLake.layer.pipe(Layer.provide(LocalObjectStore.layer(join(dir, "lake"))))
    )
    const services = WebhookIntake.layerBatched({
      secretsFor: (s) => (s === shop.shop ? [shopify.credentials.webhookSecret] : [])
    }).pipe(
      Layer.provideMerge(WebhookBatcher.layer({ dir: join(dir, "wal"), flushMs: 50 })),
      Layer.provide(layerWarehouseWebhookSink()),
      Layer.provide(ShopContext.layerShopify([shop], { sandbox: true })),
      Layer.merge(TriggerAuth.layer({ secret: Option.none(), audience: Option.none(), allowedEmails: [] })),
      Layer.provideMerge(StreamRunner.layer([], 5_000)),
      Layer.provideMerge(
        Layer.mergeAll(
          CheckpointStore.layerMemory,
          RunLedger.layerMemory(),
          LeaseManager.layerMemory,
          Metrics.layer
        )
      ),
      Layer.provideMerge(base)
    )
    const q = (sql: string) => Effect.flatMap(Effect.service(Warehouse), (w) => w.query(sql))
    const settle = (batcher: WebhookBatcher["Service"]) =>
      Effect.gen(function* () {
        yield* Effect.promise(() => sandbox.webhooksIdle())
        const until = Date.now() + 15_000
        while ((yield* batcher.pending) > 0 && Date.now() < until) yield* Effect.sleep(20)
      })
    try {
      const out = await Effect.runPromise(
        Effect.gen(function* () {
          const warehouse = yield* Warehouse
          const lake = yield* RawLake
          yield* warehouse.migrate
          const server = yield* startHttpService({ port: 0, host: "127.0.0.1" })
          const batcher = yield* WebhookBatcher
          const registered = yield* registerWebhooks([shop], `${server.url}/webhooks/shopify`, WEBHOOK_TOPICS)
          expect(registered.every((r) => r.outcome === "created")).toBe(true)

          // 1. New orders: their webhooks become canonical rows within seconds.
          const started = Date.now()
          sandbox.createOrders(12)
          yield* settle(batcher)
          const createdWithin = Date.now() - started
          const created = yield* q(
            `SELECT count(*)::INT AS n FROM _kura_raw WHERE stream = 'webhook.orders_create'`
          )
          const afterCreate = yield* q(`SELECT count(*)::INT AS n FROM orders`)

          // 2. Changes (updates, refunds, deletes) arrive as webhooks too.
          sandbox.mutate({ fraction: 0.5 })
          const deleted = sandbox.deleteOrders(2)
          yield* settle(batcher)

          // 3. The scheduled sync re-reads the window: same orders, one row each, newest version.
          const [orders] = makeShopifyStreams(shop, { warehouse, lake, sandbox: true }, () => 60_000).filter(
            (s) => s.key.stream === "orders"
          )
          const sync = yield* orders!.run({
            runId: "sync-1",
            checkpoint: Option.none(),
            commit: () => Effect.void,
            draining: Effect.succeed(false)
          })

          // 4. A late, stale redelivery (older updated_at) of a webhook order changes nothing.
          const [victim] = yield* q(
            `SELECT source_id, CAST(total AS VARCHAR) AS total, updated_at FROM orders WHERE _deleted_at IS NULL AND source_id IN (SELECT json_extract_string(payload, '$.id') FROM _kura_raw WHERE stream = 'webhook.orders_create') LIMIT 1`
          )
          const stale = JSON.stringify(
            restOrder(String(victim!.source_id), "2020-01-01T00:00:00Z", { total: "1" })
          )
          const res = yield* Effect.promise(() =>
            fetch(`${server.url}/webhooks/shopify`, {
              method: "POST",
              body: stale,
              headers: {
                "content-type": "application/json",
                "x-shopify-topic": "orders/updated",
                "x-shopify-shop-domain": shop.shop,
                "x-shopify-webhook-id": "late-1",
                "x-shopify-event-id": "late-1",
                "x-shopify-hmac-sha256": sign(stale, shopify.credentials.webhookSecret)
              }
            })
          )
          yield* settle(batcher)
          return {
            createdWithin,
            created: created[0]!.n,
            afterCreate: afterCreate[0]!.n,
            deletedCount: deleted.length,
            stats: sandbox.stats().shopify,
            sync,
            lateStatus: res.status,
            victim: victim!,
            victimAfter: (yield* q(
              `SELECT CAST(total AS VARCHAR) AS total, updated_at FROM orders WHERE source_id = '${victim!.source_id}'`
            ))[0]!,
            newest: yield* q(
              `SELECT o.source_id FROM orders o JOIN (SELECT json_extract_string(payload, '$.id') AS id, max(CAST(json_extract_string(payload, '$.updated_at') AS TIMESTAMPTZ)) AS at FROM _kura_raw WHERE stream IN ('webhook.orders_create', 'webhook.orders_updated') GROUP BY 1) w ON w.id = o.source_id WHERE o.updated_at < w.at`
            ),
            dupes: yield* q(`SELECT source_id FROM orders GROUP BY source_id HAVING count(*) > 1`),
            softDeleted: yield* q(
              `SELECT count(*)::INT AS n FROM orders WHERE _deleted_at IS NOT NULL AND source_id IN (SELECT json_extract_string(payload, '$.id') FROM _kura_raw WHERE stream = 'webhook.orders_delete')`
            ),
            liveDeleted: yield* q(
              `SELECT count(*)::INT AS n FROM orders WHERE _deleted_at IS NULL AND source_id IN (SELECT json_extract_string(payload, '$.id') FROM _kura_raw WHERE stream = 'webhook.orders_delete')`
            ),
            deleteEvents: yield* q(
              `SELECT count(DISTINCT json_extract_string(payload, '$.id'))::INT AS n FROM _kura_raw WHERE stream = 'webhook.orders_delete'`
            ),
            refunds: yield* q(
              `SELECT count(*)::INT AS n FROM _kura_raw WHERE stream = 'webhook.refunds_create'`
            ),
            rawEvents: yield* q(`SELECT count(*)::INT AS n FROM _kura_raw WHERE stream LIKE 'webhook.%'`),
            letters: yield* q(`SELECT reason, detail FROM _kura_dead_letters WHERE stream LIKE 'webhook.%'`)
          }
        }).pipe(
          Effect.scoped,
          Effect.provide(services),
          Effect.provide(process.env.KURA_TEST_LOGS === "1" ? Layer.empty : Logger.layer([]))
        )
      )
      expect(out.created).toBeGreaterThan(0)
      // Before any sync ran, the canonical orders were the webhooks' (near real time).
      expect(out.afterCreate).toBe(out.created)
      expect(out.createdWithin).toBeLessThan(10_000)
      // Every signed delivery was answered 2xx and is in _kura_raw.
      expect(out.stats.webhookFailures ?? 0).toBe(0)
      expect(out.stats.webhookDelivered).toBe(Number(out.rawEvents[0]!.n) - 1)
      expect(out.letters).toEqual([])
      expect(out.sync.reconciliation).not.toBe("mismatch")
      expect(out.dupes).toEqual([])
      // Every order's row is at least as new as the newest webhook about it.
      expect(out.newest).toEqual([])
      expect(out.lateStatus).toBe(200)
      expect(out.victimAfter).toEqual({ total: out.victim.total, updated_at: out.victim.updated_at })
      // Deleted orders the warehouse held are soft-deleted (an order deleted before Kura ever saw it has no row).
      expect(out.deleteEvents[0]!.n).toBeGreaterThan(0)
      expect(out.softDeleted[0]!.n).toBeGreaterThan(0)
      expect(out.liveDeleted).toEqual([{ n: 0 }])
    } finally {
      await sandbox.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
