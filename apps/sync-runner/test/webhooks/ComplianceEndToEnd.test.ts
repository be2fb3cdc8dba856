/**
 * GDPR erasure end to end against the sandbox: a sync and live webhooks land customers and orders
 * (with e-mails, phones and addresses) in DuckDB, `_kura_raw` and a real lake directory; a signed
 * `customers/redact` delivery through the real batching intake erases one customer everywhere,
 * leaves everything else byte for byte, and keeps revenue and reconciliation; a later sync that
 * brings the customer back is redacted again by `reapply`; `customers/data_request` is recorded;
 * `shop/redact` removes exactly one account.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { gunzipSync } from "node:zlib"
import { CheckpointStore } from "@kura/core"
import { startSandbox } from "@kura/sandbox"
import { DuckDbWarehouse, LocalObjectStore, RawLake, Redaction, Warehouse } from "@kura/warehouse"
import { Effect, Layer, Logger, Option, Redacted, Stream } from "effect"
import { describe, expect, it } from "vitest"
import type { ShopifyShopConfig } from "../../src/AppConfig.js"
import { startHttpService } from "../../src/HttpService.js"
import { LeaseManager } from "../../src/LeaseManager.js"
import { Metrics } from "../../src/Metrics.js"
import { reapplyRedactions } from "../../src/RedactReapply.js"
import { RunLedger } from "../../src/RunLedger.js"
import { StreamRunner } from "../../src/StreamRunner.js"
import { makeShopifyStreams } from "../../src/sources/ShopifyStreams.js"
import { TriggerAuth } from "../../src/TriggerAuth.js"
import { WebhookIntake } from "../../src/WebhookIntake.js"
import { registerWebhooks, WEBHOOK_TOPICS } from "../../src/WebhookRegistrar.js"
import { ShopContext } from "../../src/webhooks/ShopContext.js"
import { layerWarehouseWebhookSink } from "../../src/webhooks/WarehouseWebhookSink.js"
import { WebhookBatcher } from "../../src/webhooks/WebhookBatcher.js"
import { sign } from "./harness.js"

/**
 * Every finished lake file: relative path → bytes. The webhook batcher may be writing while we
 * look, so half-written temporaries (which the lake's own listing skips too) are left out, and a
 * temporary renamed away between the listing and the read is not an error.
 */
const lakeFiles = (dir: string): Map<string, Buffer> => {
  const out = new Map<string, Buffer>()
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true }))
    if (e.isFile() && e.name.endsWith(".ndjson.gz") && !e.name.includes(".kura-tmp-")) {
      const full = join(e.parentPath, e.name)
      out.set(full.slice(dir.length + 1), readFileSync(full))
    }
  return out
}
const lakeText = (files: Map<string, Buffer>) =>
  [...files.values()].map((b) => gunzipSync(b).toString("utf8")).join("\n")

describe("GDPR erasure end to end against the sandbox", () => {
  it("customers/redact erases one customer everywhere; reapply, data_request and shop/redact", async () => {
    const sandbox = await startSandbox({ seed: 23, scale: 10, historyDays: 3 })
    const dir = mkdtempSync(join(tmpdir(), "kura-redact-e2e-"))
    const lakeDir = join(dir, "lake")
    const { shopify } = sandbox
    const secret = shopify.credentials.webhookSecret
    const shop: ShopifyShopConfig = {
      shop: shopify.credentials.shopDomain,
      auth: { _tag: "AccessToken", accessToken: Redacted.make(shopify.credentials.accessToken) },
      apiVersion: shopify.credentials.apiVersion,
      apiBaseUrl: Option.some(shopify.baseUrl),
      webhookSecret: Option.some(Redacted.make(secret))
    }
    const store = LocalObjectStore.layer(lakeDir)
    const base = Layer.mergeAll(DuckDbWarehouse.layerMemory, store, RawLake.layer.pipe(Layer.provide(store)))
    const services = WebhookIntake.layerBatched({
      secretsFor: (s) => (s === shop.shop ? [secret] : [])
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
      Layer.provideMerge(Redaction.layer.pipe(Layer.provideMerge(base)))
    )
    const q = (sql: string) => Effect.flatMap(Effect.service(Warehouse), (w) => w.query(sql))
    try {
      await Effect.runPromise(
        Effect.gen(function* () {
          const warehouse = yield* Warehouse
          const lake = yield* RawLake
          const redaction = yield* Redaction
          yield* warehouse.migrate
          const server = yield* startHttpService({ port: 0, host: "127.0.0.1" })
          const batcher = yield* WebhookBatcher
          yield* registerWebhooks([shop], `${server.url}/webhooks/shopify`, WEBHOOK_TOPICS)
          const settle = Effect.gen(function* () {
            yield* Effect.promise(() => sandbox.webhooksIdle())
            const until = Date.now() + 15_000
            while ((yield* batcher.pending) > 0 && Date.now() < until) yield* Effect.sleep(20)
          })
          const deliver = (topic: string, body: string, eventId: string) =>
            Effect.promise(async () => {
              const res = await fetch(`${server.url}/webhooks/shopify`, {
                method: "POST",
                body,
                headers: {
                  "content-type": "application/json",
                  "x-shopify-topic": topic,
                  "x-shopify-shop-domain": shop.shop,
                  "x-shopify-api-version": "2026-01",
                  "x-shopify-webhook-id": `wh-${eventId}`,
                  "x-shopify-event-id": eventId,
                  "x-shopify-hmac-sha256": sign(body, secret)
                }
              })
              return res.status
            })
          const streams = makeShopifyStreams(shop, { warehouse, lake, sandbox: true }, () => 60_000)
          const sync = (name: string) =>
            streams
              .find((s) => s.key.stream === name)!
              .run({
                runId: `sync-${name}-${Date.now()}`,
                checkpoint: Option.none(),
                commit: () => Effect.void,
                draining: Effect.succeed(false)
              })

          // 1. Sync customers and orders, and let live orders arrive as webhooks (REST bodies
          //    carrying e-mails, phones and addresses).
          sandbox.createOrders(12)
          yield* settle
          yield* sync("customers")
          yield* sync("orders")
          const [victim] = yield* q(
            `SELECT c.source_id, c.email, c.phone, c.first_name, c.last_name FROM customers c WHERE c.email IS NOT NULL AND c.source_id IN (SELECT json_extract_string(payload, '$.customer.id') FROM _kura_raw WHERE stream = 'webhook.orders_create') ORDER BY 1 LIMIT 1`
          )
          expect(victim).toBeDefined()
          const id = String(victim!.source_id)
          const email = String(victim!.email)
          // The sandbox's customers have no phone; the e-mail is the unique personal value.
          const phone = victim!.phone === null ? email : String(victim!.phone)
          const before = lakeFiles(lakeDir)
          expect(lakeText(before)).toContain(email)
          const sales = yield* q("SELECT * FROM v_daily_sales ORDER BY ALL")
          const reconciled = yield* warehouse.reconcile
          const others = yield* q(`SELECT * FROM customers WHERE source_id <> '${id}' ORDER BY ALL`)
          const orders = yield* q("SELECT * EXCLUDE (_synced_at) FROM orders ORDER BY ALL")

          // 2. Shopify's customers/redact, signed, through the real intake.
          const request = JSON.stringify({
            shop_id: 1,
            shop_domain: shop.shop,
            customer: { id: Number(id), email, phone },
            orders_to_redact: []
          })
          expect(yield* deliver("customers/redact", request, "redact-1")).toBe(200)
          yield* settle
          const ledger = yield* Effect.gen(function* () {
            const until = Date.now() + 15_000
            while (Date.now() < until) {
              const l = yield* redaction.list
              if (l.some((e) => e.status === "done")) return l
              yield* Effect.sleep(50)
            }
            return yield* redaction.list
          })
          expect(ledger.map((e) => [e.kind, e.status, e.trigger, e.customerId])).toEqual([
            ["customer", "done", "webhook", id]
          ])
          const [row] = yield* q(
            `SELECT email, phone, first_name, last_name FROM customers WHERE source_id = '${id}'`
          )
          expect(row).toEqual({ email: null, phone: null, first_name: null, last_name: null })
          const dump = JSON.stringify([
            yield* q("SELECT * FROM customers"),
            yield* q("SELECT CAST(payload AS VARCHAR) AS p FROM _kura_raw"),
            yield* q("SELECT payload FROM _kura_dead_letters")
          ]).toLowerCase()
          expect(dump).not.toContain(email.toLowerCase())
          expect(dump).not.toContain(phone)
          const after = lakeFiles(lakeDir)
          const text = lakeText(after).toLowerCase()
          expect(text).not.toContain(email.toLowerCase())
          expect(text).not.toContain(phone)
          // Files without the customer are byte for byte the same; changed files keep every other line.
          let changed = 0
          for (const [path, bytes] of before) {
            const now = after.get(path)
            expect(now, path).toBeDefined()
            if (bytes.equals(now!)) continue
            changed++
            const oldLines = gunzipSync(bytes).toString("utf8").split("\n")
            const newLines = gunzipSync(now!).toString("utf8").split("\n")
            expect(newLines.length).toBe(oldLines.length)
            oldLines.forEach((line, i) => {
              if (!line.includes(id)) expect(newLines[i]).toBe(line)
            })
          }
          expect(changed).toBeGreaterThan(0)
          expect(yield* q(`SELECT * FROM customers WHERE source_id <> '${id}' ORDER BY ALL`)).toEqual(others)
          expect(yield* q("SELECT * FROM v_daily_sales ORDER BY ALL")).toEqual(sales)
          expect({ ...(yield* warehouse.reconcile), generatedAt: 0 }).toEqual({
            ...reconciled,
            generatedAt: 0
          })
          expect(yield* q("SELECT * EXCLUDE (_synced_at) FROM orders ORDER BY ALL")).toEqual(orders)

          // 3. A second request changes nothing.
          const again = yield* redaction.redactCustomer({
            source: "shopify",
            sourceAccount: shop.shop,
            customerId: id
          })
          expect([again.rowsChanged, again.filesChanged]).toEqual([0, 0])

          // 4. A later full re-read brings the customer's record back into a new lake file;
          //    reapply redacts it again.
          const beforeResync = lakeFiles(lakeDir)
          yield* sync("customers")
          const resynced = lakeFiles(lakeDir)
          expect(resynced.size).toBeGreaterThan(beforeResync.size)
          expect(lakeText(resynced).toLowerCase()).toContain(email.toLowerCase())
          // What a pass's end runs (RedactReapply): the customer is redacted again.
          const reapplied = yield* reapplyRedactions
          expect(reapplied[0]!.filesChanged).toBeGreaterThan(0)
          expect(lakeText(lakeFiles(lakeDir)).toLowerCase()).not.toContain(email.toLowerCase())
          expect(JSON.stringify(yield* q("SELECT * FROM customers")).toLowerCase()).not.toContain(
            email.toLowerCase()
          )

          // 5. customers/data_request is recorded for the merchant to answer.
          const dataRequest = JSON.stringify({
            shop_id: 1,
            shop_domain: shop.shop,
            customer: { id: 424242, email: "someone@example.com" },
            orders_requested: [],
            data_request: { id: 9999 }
          })
          expect(yield* deliver("customers/data_request", dataRequest, "dr-1")).toBe(200)
          yield* settle
          yield* Effect.gen(function* () {
            const until = Date.now() + 15_000
            while (Date.now() < until && !(yield* redaction.list).some((e) => e.kind === "data_request"))
              yield* Effect.sleep(50)
          })
          const recorded = (yield* redaction.list).find((e) => e.kind === "data_request")
          expect([recorded?.status, recorded?.requestId, recorded?.customerId]).toEqual([
            "recorded",
            "9999",
            "424242"
          ])

          // 6. shop/redact deletes this shop's rows and lake prefix, not another account's.
          const other = { source: "shopify", account: "other-shop.myshopify.com", stream: "customers" }
          yield* lake.writeBatch({
            key: other,
            batchId: "o1",
            lines: Stream.make('{"id":"1"}'),
            dt: "2026-11-20"
          })
          yield* warehouse.load("customers", [
            {
              source: "shopify",
              source_account: other.account,
              source_id: "1",
              updated_at: "2026-11-20T00:00:00Z",
              _synced_at: "2026-11-20T00:00:00Z",
              _batch_id: "o1",
              email: "keep@example.com"
            }
          ])
          expect(
            yield* deliver("shop/redact", JSON.stringify({ shop_id: 1, shop_domain: shop.shop }), "shop-1")
          ).toBe(200)
          yield* settle
          yield* Effect.gen(function* () {
            const until = Date.now() + 15_000
            while (
              Date.now() < until &&
              !(yield* redaction.list).some((e) => e.kind === "shop" && e.status === "done")
            )
              yield* Effect.sleep(50)
          })
          const left = yield* q(
            "SELECT source_account, count(*)::INT AS n FROM (SELECT source_account FROM customers UNION ALL SELECT source_account FROM orders UNION ALL SELECT source_account FROM _kura_raw) GROUP BY 1"
          )
          expect(left).toEqual([{ source_account: other.account, n: 1 }])
          expect([...lakeFiles(lakeDir).keys()].every((p) => p.includes(`account=${other.account}`))).toBe(
            true
          )
          expect([...lakeFiles(lakeDir).keys()].length).toBe(1)
        }).pipe(
          Effect.scoped,
          Effect.provide(services),
          Effect.provide(process.env.KURA_TEST_LOGS === "1" ? Layer.empty : Logger.layer([]))
        )
      )
    } finally {
      await sandbox.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }, 120_000)
})
