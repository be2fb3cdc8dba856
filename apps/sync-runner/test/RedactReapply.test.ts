/**
 * The end-of-pass re-application of the redaction ledger never fails a pass: a lake it cannot
 * read is logged, the entry is marked failed, and the next pass gives it a whole pass again.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { gunzipSync } from "node:zlib"
import {
  DuckDbWarehouse,
  LocalObjectStore,
  makeRedaction,
  ObjectStore,
  ObjectStoreError,
  RawLake,
  Warehouse
} from "@kura/warehouse"
import { Effect, Fiber, Layer, Logger } from "effect"
import { describe, expect, it } from "vitest"
import { redactionOptionsFor } from "../src/RedactionOptions.js"
import { makeLedgerCache, reapplyRedactions, reapplyRedactionsWhenAny } from "../src/RedactReapply.js"
import type { WebhookDelivery } from "../src/WebhookSink.js"
import { ShopContext } from "../src/webhooks/ShopContext.js"
import { layerWarehouseWebhookSink, makeWarehouseWebhookSink } from "../src/webhooks/WarehouseWebhookSink.js"
import { restOrder } from "./webhooks/fixtures.js"
import { deliver, eventually, SHOP, withBatchedServer } from "./webhooks/harness.js"

describe("reapplyRedactions", () => {
  it("logs a failure instead of failing the pass; the entry is marked failed and retried whole", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kura-reapply-"))
    const logs: Array<string> = []
    const capture = Logger.layer([Logger.make(({ message }) => void logs.push(String(message)))])
    try {
      const out = await Effect.runPromise(
        Effect.gen(function* () {
          const w = yield* Warehouse
          yield* w.migrate
          const good = LocalObjectStore.make(dir)
          yield* makeRedaction(w, good).redactCustomer({
            source: "shopify",
            sourceAccount: "s.myshopify.com",
            customerId: "7"
          })
          const broken = ObjectStore.of({
            ...good,
            list: (prefix) =>
              Effect.fail(
                new ObjectStoreError({
                  reason: "Io",
                  operation: "list",
                  path: prefix,
                  message: "bucket unreachable"
                })
              )
          })
          const failed = yield* reapplyRedactions.pipe(Effect.provideService(ObjectStore, broken))
          const [entry] = yield* makeRedaction(w, good).list
          const retried = yield* reapplyRedactions.pipe(Effect.provideService(ObjectStore, good))
          const [after] = yield* makeRedaction(w, good).list
          return { failed, entry, retried, after }
        }).pipe(Effect.provide(Layer.mergeAll(DuckDbWarehouse.layerMemory, capture)))
      )
      expect(out.failed).toEqual([])
      expect(
        logs.some((l) => l.includes("re-applying redactions failed") && l.includes("bucket unreachable"))
      ).toBe(true)
      expect([out.entry?.status, out.entry?.detail]).toEqual(["failed", "bucket unreachable"])
      expect(out.retried.map((o) => o.id)).toEqual(["customer:shopify:s.myshopify.com:7"])
      expect(out.after?.status).toBe("done")
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("after a pass, a ledger without customer redactions is not read again while its marker is unchanged; one recorded since is re-applied", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kura-reapply-"))
    try {
      const out = await Effect.runPromise(
        Effect.gen(function* () {
          const inner = yield* Warehouse
          yield* inner.migrate
          // Ledger reads on the warehouse, counted.
          let ledgerReads = 0
          const w = Warehouse.of({
            ...inner,
            query: (sql, params) =>
              Effect.suspend(() => {
                if (sql.includes("_kura_redactions")) ledgerReads++
                return inner.query(sql, params)
              })
          })
          const store = LocalObjectStore.make(dir)
          const redaction = makeRedaction(w, store)
          // A shop erased elsewhere: in the ledger, but no customer to re-apply.
          yield* redaction.redactShop({
            source: "shopify",
            sourceAccount: "gone.myshopify.com",
            confirm: true
          })
          const ledger = makeLedgerCache(redaction)
          const afterPass = reapplyRedactionsWhenAny(ledger).pipe(
            Effect.provideService(Warehouse, w),
            Effect.provideService(ObjectStore, store)
          )
          const reads = Effect.gen(function* () {
            const before = ledgerReads
            const outcomes = yield* afterPass
            return { reads: ledgerReads - before, outcomes: outcomes.map((o) => o.id) }
          })
          const first = yield* reads
          const second = yield* reads
          yield* redaction.redactCustomer({
            source: "shopify",
            sourceAccount: "s.myshopify.com",
            customerId: "7"
          })
          const third = yield* reads
          return { first, second, third }
        }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
      )
      // The first pass reads the ledger once (the copy), the next not at all.
      expect(out.first).toEqual({ reads: 1, outcomes: [] })
      expect(out.second).toEqual({ reads: 0, outcomes: [] })
      // The request changed the marker: the copy is read again, and the entry re-applied.
      expect(out.third.outcomes).toEqual(["customer:shopify:s.myshopify.com:7"])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe("late arrivals on the webhook path", () => {
  it("a delivery naming a customer erased before it landed is erased as it lands (raw, lake, tables); its write-ahead segment is deleted", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kura-late-"))
    const wal = join(dir, "wal")
    const lakeDir = join(dir, "lake")
    const LATE = ["late@example.com", "Comer", "+81 90 5555 0000"]
    const order = (id: number, customer: number, email: string, last: string, phone: string) =>
      JSON.stringify({
        ...restOrder(id, "2026-11-26T05:00:00Z"),
        email,
        phone,
        customer: { id: customer, email, first_name: "Pat", last_name: last, phone },
        billing_address: { first_name: "Pat", last_name: last, address1: "1-2-3 Ginza", phone }
      })
    const files = (root: string): Array<string> =>
      readdirSync(root, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile() && e.name.endsWith(".ndjson.gz") && !e.name.includes(".kura-tmp-"))
        .map((e) => join(e.parentPath, e.name))
    try {
      const out = await Effect.runPromise(
        Effect.gen(function* () {
          const w = yield* Warehouse
          yield* w.migrate
          const store = LocalObjectStore.make(lakeDir)
          const redaction = makeRedaction(w, store)
          // The request is carried out before the delivery lands (Shopify retried it, or the
          // write-ahead log replayed it after downtime).
          yield* redaction.redactCustomer({ source: "shopify", sourceAccount: SHOP, customerId: "555" })
          const [before] = yield* redaction.list
          const context = Layer.mergeAll(
            Layer.succeed(Warehouse, w),
            Layer.succeed(ObjectStore, store),
            RawLake.layer.pipe(Layer.provide(Layer.succeed(ObjectStore, store)))
          )
          const sink = layerWarehouseWebhookSink().pipe(
            Layer.provide(
              ShopContext.layerStatic({
                [SHOP]: { timeZone: "Asia/Tokyo", currency: "JPY", onlineLocationId: "9001" }
              })
            ),
            Layer.provide(context)
          )
          yield* Effect.promise(() =>
            withBatchedServer(
              { batcher: { dir: wal, flushMs: 50 }, sink, threaded: true },
              async ({ url, stats }) => {
                const answers = await Promise.all([
                  deliver(url, order(5001, 555, LATE[0]!, "Comer", LATE[2]!), "late-1", "orders/updated"),
                  deliver(
                    url,
                    order(5002, 777, "keep@example.com", "Keeper", "+81 90 7777 0000"),
                    "keep-1",
                    "orders/updated"
                  )
                ])
                expect(answers.map((a) => a.status)).toEqual([200, 200])
                await eventually(async () => (await Effect.runPromise(stats)).landed === 2, 60_000)
                // The landed segment is deleted: no write-ahead file still holds the bodies.
                await eventually(
                  () => files(wal).every((f) => !readFileSync(f, "utf8").includes("keep@example.com")),
                  60_000
                )
              }
            )
          )
          const raw = JSON.stringify(yield* w.query("SELECT CAST(payload AS VARCHAR) AS p FROM _kura_raw"))
          const tables = JSON.stringify([
            yield* w.query("SELECT * FROM customers"),
            yield* w.query("SELECT * FROM orders")
          ])
          const lake = files(lakeDir)
            .map((f) => gunzipSync(readFileSync(f)).toString("utf8"))
            .join("\n")
          const walText = files(wal)
            .map((f) => readFileSync(f, "utf8"))
            .join("\n")
          const [after] = yield* redaction.list
          return { raw, tables, lake, walText, before, after }
        }).pipe(Effect.provide(DuckDbWarehouse.layerMemory))
      )
      for (const p of LATE) {
        expect(out.raw).not.toContain(p)
        expect(out.tables).not.toContain(p)
        expect(out.lake).not.toContain(p)
        expect(out.walText).not.toContain(p)
      }
      // Only the erased customer's data: the other delivery keeps its own.
      expect(out.raw).toContain("keep@example.com")
      expect(out.lake).toContain("keep@example.com")
      // Counted on the request's ledger row; its re-application window did not move.
      expect(out.after?.rowsChanged).toBeGreaterThan(out.before?.rowsChanged ?? 0)
      expect(out.after?.filesChanged).toBe((out.before?.filesChanged ?? 0) + 1)
      expect(out.after?.appliedAt).toBe(out.before?.appliedAt)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 120_000)
})

describe("a redaction run by another process while serve lands webhooks (a shared warehouse: BigQuery)", () => {
  // serve's guard reuses its ledger copy while the ledger's marker is unchanged (and for at most
  // TTL: long here, so only the marker can make it read the ledger again). The redaction elsewhere
  // does not wait (settleMs 0, as kura-sync runs it): it rewrites the marker after recording.
  const TTL = 600_000
  const ERASED = ["racer@example.com", "Racer", "+81 90 4444 0000"]
  const delivery = (
    eventId: string,
    orderId: number,
    customer: number,
    [email, last, phone]: ReadonlyArray<string>
  ) => {
    const body = JSON.stringify({
      ...restOrder(orderId, "2026-11-26T05:00:00Z"),
      email,
      customer: { id: customer, email, first_name: "Pat", last_name: last, phone },
      billing_address: { first_name: "Pat", last_name: last, phone }
    })
    return {
      topic: "orders/updated",
      shop: SHOP,
      eventId,
      webhookId: `wh-${eventId}`,
      apiVersion: "2026-01",
      triggeredAt: undefined,
      receivedAt: Date.now(),
      payload: JSON.parse(body),
      rawBody: body
    } satisfies WebhookDelivery
  }
  /**
   * `serve`'s sink and a `kura-sync redact customer` (its own Redaction) on one warehouse and lake.
   * `during` runs the redaction and lands the batch naming the customer in the order under test.
   */
  const race = (
    settleMs: number,
    during: (io: {
      readonly redact: Effect.Effect<unknown, unknown>
      readonly land: Effect.Effect<unknown, unknown>
      readonly entryRecorded: Effect.Effect<boolean, unknown>
    }) => Effect.Effect<void, unknown>
  ) => {
    const dir = mkdtempSync(join(tmpdir(), "kura-race-"))
    return Effect.runPromise(
      Effect.gen(function* () {
        const w = yield* Warehouse
        yield* w.migrate
        const store = LocalObjectStore.make(join(dir, "lake"))
        const lake = yield* RawLake.pipe(
          Effect.provide(RawLake.layer),
          Effect.provideService(ObjectStore, store)
        )
        const shops = yield* ShopContext.pipe(
          Effect.provide(
            ShopContext.layerStatic({
              [SHOP]: { timeZone: "Asia/Tokyo", currency: "JPY", onlineLocationId: "9001" }
            })
          )
        )
        const sink = makeWarehouseWebhookSink(w, lake, shops, {
          redaction: makeRedaction(w, store),
          lateArrivalLedgerTtlMs: TTL
        })
        const cli = makeRedaction(w, store, { settleMs })
        // serve lands a batch naming nobody erased: its guard reads the (empty) ledger and keeps it.
        yield* sink.landBatch({
          batchId: "b0",
          deliveries: [delivery("e0", 6000, 888, ["keep@example.com", "Keeper", "+81 90 8888 0000"])]
        })
        yield* during({
          redact: cli.redactCustomer({ source: "shopify", sourceAccount: SHOP, customerId: "556" }),
          land: sink.landBatch({
            batchId: "b1",
            deliveries: [delivery("e1", 6001, 556, ERASED)]
          }),
          entryRecorded: Effect.map(cli.list, (l) => l.length > 0)
        })
        const raw = JSON.stringify(yield* w.query("SELECT CAST(payload AS VARCHAR) AS p FROM _kura_raw"))
        const tables = JSON.stringify([
          yield* w.query("SELECT * FROM customers"),
          yield* w.query("SELECT * FROM orders")
        ])
        const lakeText = readdirSync(join(dir, "lake"), { recursive: true, withFileTypes: true })
          .filter((e) => e.isFile() && e.name.endsWith(".ndjson.gz") && !e.name.includes(".kura-tmp-"))
          .map((e) => gunzipSync(readFileSync(join(e.parentPath, e.name))).toString("utf8"))
          .join("\n")
        return { raw, tables, lakeText }
      }).pipe(
        Effect.provide(DuckDbWarehouse.layerMemory),
        Effect.ensuring(Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      )
    )
  }
  const expectErased = (out: { raw: string; tables: string; lakeText: string }) => {
    for (const p of ERASED) {
      expect(out.raw).not.toContain(p)
      expect(out.tables).not.toContain(p)
      expect(out.lakeText).not.toContain(p)
    }
    expect(out.raw).toContain("keep@example.com")
  }

  it("a batch landed right after the redaction finished: the guard sees the ledger's new marker and erases it", async () => {
    // A guard that reused its copy for TTL regardless (before session 11) leaves the batch as is.
    expectErased(await race(0, ({ redact, land }) => Effect.andThen(redact, land).pipe(Effect.asVoid)))
  }, 120_000)

  it("a batch landed while the redaction runs (after its ledger entry): the redaction's pass erases it", async () => {
    expectErased(
      await race(0, ({ redact, land, entryRecorded }) =>
        Effect.gen(function* () {
          const fiber = yield* Effect.forkChild(redact)
          // Land once the request is on record, while its pass runs: checked before the marker,
          // the batch landed before the pass read; after it, against a copy holding the request.
          while (!(yield* entryRecorded)) yield* Effect.sleep(20)
          yield* land
          yield* Fiber.join(fiber)
        })
      )
    )
  }, 120_000)
})

describe("redactionOptionsFor", () => {
  it("never waits (the marker replaced the wait), and clears the token file only when it is the store", () => {
    const base = { stateDir: "/state", sandbox: false } as const
    const bq = redactionOptionsFor({ ...base, tokenStore: "warehouse" })
    expect(bq.settleMs).toBeUndefined()
    expect(bq.eraseCredentials).toBeUndefined()
    const file = redactionOptionsFor({ ...base, tokenStore: "file" })
    expect(file.settleMs).toBeUndefined()
    expect(file.eraseCredentials).toBeTypeOf("function")
  })
})
