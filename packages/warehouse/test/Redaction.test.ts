/**
 * Erasure of a customer's personal data from the canonical tables, `_kura_raw`, dead letters and
 * every lake file, with the `_kura_redactions` ledger; `shop/redact` of one account. Real DuckDB
 * and a real lake directory; the lake rewrite also on the fake GCS, and the SQL through the
 * BigQuery grammar check.
 */
import { createHash } from "node:crypto"
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { gunzipSync } from "node:zlib"
import { assert, describe, it } from "@effect/vitest"
import { Storage } from "@google-cloud/storage"
import { makeFileTokenStore, removeFileTokens, type TokenSet } from "@kura/core"
import { Effect, Layer, Option, Redacted, Stream } from "effect"
import {
  AllTables,
  bigQueryDialect,
  CanonicalTables,
  DuckDbWarehouse,
  erasedAccounts,
  GcsObjectStore,
  LEDGER_MARKER_PATH,
  LocalObjectStore,
  makeRedaction,
  ObjectStore,
  RawLake,
  RawLoader,
  REDACTED,
  Redaction,
  RedactionError,
  rewriteLakeFile,
  TOKEN_FILE_ENTRY,
  Warehouse,
  WarehouseTokenStore
} from "../src/index.js"
import { makeSubject, mentions, rewriteLine, scrub, subjectTokens } from "../src/internal/redactionPayload.js"
import * as RSql from "../src/internal/redactionSql.js"
import { assertBigQuery } from "./bigQueryGrammar.js"
import { startFakeGcs } from "./fakeGcs.js"
import { withBigQuery } from "./withBigQuery.js"

const A = "a-shop.myshopify.com"
const B = "b-shop.myshopify.com"
const DT = "2026-11-20"
const ALICE = {
  id: "101",
  email: "Alice.Doe@example.com",
  first: "Alice",
  last: "Doe",
  phone: "+81 90 1111 2222"
}
const BOB = { id: "102", email: "bob@example.com", first: "Bob", last: "Roe", phone: "+81 90 3333 4444" }

const gqlCustomer = (c: typeof ALICE, updatedAt = "2026-11-19T10:00:00Z") => ({
  __typename: "Customer",
  id: `gid://shopify/Customer/${c.id}`,
  legacyResourceId: c.id,
  firstName: c.first,
  lastName: c.last,
  displayName: `${c.first} ${c.last}`,
  state: "ENABLED",
  createdAt: "2026-01-01T00:00:00Z",
  updatedAt,
  tags: ["vip", c.last],
  verifiedEmail: true,
  taxExempt: false,
  defaultEmailAddress: { emailAddress: c.email },
  defaultPhoneNumber: { phoneNumber: c.phone }
})

const gqlOrder = (id: string, customer: string | null) => ({
  __typename: "Order",
  id: `gid://shopify/Order/${id}`,
  legacyResourceId: id,
  name: `#${id}`,
  updatedAt: "2026-11-19T11:00:00Z",
  customer:
    customer === null ? null : { id: `gid://shopify/Customer/${customer}`, legacyResourceId: customer },
  totalPriceSet: { shopMoney: { amount: "1200.00", currencyCode: "JPY" } }
})

const restOrderBody = (id: string, c: typeof ALICE) =>
  JSON.stringify({
    id: Number(id),
    name: `#${id}`,
    email: c.email,
    phone: c.phone,
    updated_at: "2026-11-19T12:00:00Z",
    customer: { id: Number(c.id), email: c.email, first_name: c.first, last_name: c.last, phone: c.phone },
    billing_address: { first_name: c.first, last_name: c.last, address1: "1-2-3 Ginza", phone: c.phone },
    line_items: [{ id: 1, title: "Matcha 30g", quantity: 1 }]
  })

const envelope = (id: string, c: typeof ALICE) =>
  JSON.stringify({
    topic: "orders/create",
    shop: "x",
    event_id: `ev-${id}`,
    webhook_id: `wh-${id}`,
    api_version: "2026-01",
    triggered_at: null,
    received_at: "2026-11-20T00:00:00.000Z",
    body: restOrderBody(id, c)
  })

const lineage = (account: string, id: string, updatedAt = "2026-11-19T10:00:00Z") => ({
  source: "shopify",
  source_account: account,
  source_id: id,
  updated_at: updatedAt,
  _synced_at: "2026-11-20T00:00:00Z",
  _batch_id: "b1"
})

const customerRow = (account: string, c: typeof ALICE, updatedAt?: string) => ({
  ...lineage(account, c.id, updatedAt),
  email: c.email,
  first_name: c.first,
  last_name: c.last,
  phone: c.phone,
  created_at: "2026-01-01T00:00:00Z"
})

const orderRow = (account: string, id: string, customer: string) => ({
  ...lineage(account, id),
  channel: "online",
  order_number: `#${id}`,
  customer_id: customer,
  currency: "JPY",
  total: "1200",
  subtotal: "1200",
  created_at: "2026-11-19T09:00:00Z",
  business_date: "2026-11-19"
})

const refundRow = (account: string, id: string, order: string, note: string) => ({
  ...lineage(account, id),
  order_id: order,
  channel: "online",
  currency: "JPY",
  amount: "100",
  note,
  created_at: "2026-11-19T10:00:00Z",
  business_date: "2026-11-19"
})

/** Loads one account's data the way a sync and the webhook path would: lake files, raw rows, canonical rows. */
const seed = (account: string) =>
  Effect.gen(function* () {
    const w = yield* Warehouse
    const lake = yield* RawLake
    const land = (stream: string, batchId: string, lines: ReadonlyArray<string>) =>
      Effect.gen(function* () {
        const key = { source: "shopify", account, stream }
        const obj = yield* lake.writeBatch({ key, batchId, lines: Stream.fromIterable(lines), dt: DT })
        yield* RawLoader.loadRawBatch({
          warehouse: w,
          key,
          batch: obj,
          lines: Stream.fromIterable(lines),
          fetchedAt: "2026-11-20T00:00:00Z"
        })
      })
    yield* land("customers", "c1", [JSON.stringify(gqlCustomer(ALICE)), JSON.stringify(gqlCustomer(BOB))])
    yield* land("orders", "o1", [
      JSON.stringify(gqlOrder("9001", ALICE.id)),
      JSON.stringify(gqlOrder("9002", BOB.id))
    ])
    yield* land("orders", "o2", [JSON.stringify(gqlOrder("9003", null))])
    // The webhook batch: envelopes in the lake, the signed body in _kura_raw.
    const key = { source: "shopify", account, stream: "webhooks" }
    yield* lake.writeBatch({
      key,
      batchId: "wh1",
      lines: Stream.fromIterable([envelope("9001", ALICE), envelope("9002", BOB)]),
      dt: DT
    })
    yield* w.load(
      "_kura_raw",
      [ALICE, BOB].map((c, i) => ({
        source: "shopify",
        source_account: account,
        stream: "webhook.orders_create",
        source_id: `ev-900${i + 1}`,
        updated_at: "2026-11-19T12:00:00Z",
        payload: restOrderBody(`900${i + 1}`, c),
        fetched_at: "2026-11-20T00:00:00Z",
        _batch_id: "wh1",
        lake_path: `source=shopify/account=${account}/stream=webhooks/dt=${DT}/wh1.ndjson.gz`
      }))
    )
    yield* w.load("customers", [customerRow(account, ALICE), customerRow(account, BOB)])
    yield* w.load("orders", [orderRow(account, "9001", ALICE.id), orderRow(account, "9002", BOB.id)])
    yield* w.load("refunds", [
      refundRow(account, "r1", "9001", "Alice Doe asked for a refund"),
      refundRow(account, "r2", "9002", "damaged")
    ])
    yield* w.deadLetters.write([
      {
        key: { source: "shopify", account, stream: "customers" },
        sourceId: ALICE.id,
        payload: JSON.stringify(gqlCustomer(ALICE)),
        reason: "decode",
        detail: "test letter",
        origin: "test",
        at: 1
      }
    ])
  })

const withStores = <A, E>(
  f: (dir: string) => Effect.Effect<A, E, Warehouse | RawLake | ObjectStore | Redaction>
) =>
  Effect.acquireUseRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "kura-redact-"))),
    (dir) => {
      const store = LocalObjectStore.layer(dir)
      const base = Layer.mergeAll(
        DuckDbWarehouse.layerMemory,
        store,
        RawLake.layer.pipe(Layer.provide(store))
      )
      return Effect.provide(
        Effect.gen(function* () {
          yield* (yield* Warehouse).migrate
          return yield* f(dir)
        }),
        Redaction.layer.pipe(Layer.provideMerge(base))
      )
    },
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )

/** Every lake file under the lake dir (the ledger's marker is not one): relative path → bytes. */
const files = (dir: string): Map<string, Buffer> => {
  const out = new Map<string, Buffer>()
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true }))
    if (e.isFile()) {
      const full = join(e.parentPath, e.name)
      const path = full.slice(dir.length + 1)
      if (path !== LEDGER_MARKER_PATH) out.set(path, readFileSync(full))
    }
  return out
}
const linesOf = (gz: Buffer) =>
  gunzipSync(gz)
    .toString("utf8")
    .split("\n")
    .filter((l) => l.length > 0)

const PII = (c: typeof ALICE) => [c.email, c.email.toLowerCase(), c.first, c.last, c.phone]
const hasPii = (text: string, c: typeof ALICE) => PII(c).some((p) => text.includes(p))

const q = (sql: string) => Effect.flatMap(Effect.service(Warehouse), (w) => w.query(sql))
const snapshot = Effect.gen(function* () {
  const w = yield* Warehouse
  return {
    sales: yield* w.query("SELECT * FROM v_daily_sales ORDER BY ALL"),
    reconcile: yield* w.reconcile,
    orders: yield* w.query("SELECT * EXCLUDE (_synced_at) FROM orders ORDER BY ALL")
  }
})

describe("Redaction.redactCustomer", () => {
  it.effect(
    "erases one customer everywhere, leaves others byte for byte, keeps revenue; a second run is a no-op",
    () =>
      withStores((dir) =>
        Effect.gen(function* () {
          yield* seed(A)
          yield* seed(B)
          const before = files(dir)
          const kept = yield* snapshot
          const others = yield* q(
            `SELECT * FROM customers WHERE NOT (source_account = '${A}' AND source_id = '101') ORDER BY ALL`
          )
          const r = yield* Redaction
          const out = yield* r.redactCustomer({
            source: "shopify",
            sourceAccount: A,
            customerId: "101",
            trigger: "cli"
          })

          // Canonical: PII columns null, ids and money kept.
          const [alice] = yield* q(
            `SELECT * FROM customers WHERE source_account = '${A}' AND source_id = '101'`
          )
          assert.deepStrictEqual(
            [alice?.email, alice?.first_name, alice?.last_name, alice?.phone, alice?.source_id],
            [null, null, null, null, "101"]
          )
          const notes = yield* q(
            `SELECT source_id, note FROM refunds WHERE source_account = '${A}' ORDER BY 1`
          )
          assert.deepStrictEqual(notes, [
            { source_id: "r1", note: null },
            { source_id: "r2", note: "damaged" }
          ])
          assert.deepStrictEqual(
            yield* q(
              `SELECT * FROM customers WHERE NOT (source_account = '${A}' AND source_id = '101') ORDER BY ALL`
            ),
            others
          )
          assert.deepStrictEqual(yield* snapshot, kept)

          // _kura_raw and dead letters of account A hold no PII of Alice; Bob's and B's are untouched.
          const raw = yield* q(`SELECT source_account, CAST(payload AS VARCHAR) AS p FROM _kura_raw`)
          for (const row of raw) {
            const p = String(row.p)
            if (row.source_account === A) assert.isFalse(hasPii(p, ALICE), p)
          }
          assert.isTrue(raw.some((row) => row.source_account === A && hasPii(String(row.p), BOB)))
          assert.isTrue(raw.some((row) => row.source_account === B && hasPii(String(row.p), ALICE)))
          // The rewritten payloads' hashes are theirs (a re-read of the source's copy differs).
          const [stale] = yield* q(
            "SELECT COUNT(*) AS n FROM _kura_raw WHERE payload_hash IS DISTINCT FROM md5(CAST(payload AS VARCHAR))"
          )
          assert.strictEqual(Number(stale?.n), 0)
          const letters = yield* q(`SELECT source_account, payload FROM _kura_dead_letters`)
          assert.isFalse(letters.some((l) => l.source_account === A && hasPii(String(l.payload), ALICE)))
          assert.isTrue(letters.some((l) => l.source_account === B && hasPii(String(l.payload), ALICE)))

          // Every lake file: A's hold no PII of Alice; every other line (and every file without
          // her) is unchanged byte for byte; the format is still gzip NDJSON.
          const after = files(dir)
          assert.deepStrictEqual([...after.keys()].sort(), [...before.keys()].sort())
          const changed: Array<string> = []
          for (const [path, bytes] of after) {
            const old = before.get(path)!
            if (!bytes.equals(old)) changed.push(path)
            const lines = linesOf(bytes)
            const oldLines = linesOf(old)
            assert.strictEqual(lines.length, oldLines.length)
            for (const [i, line] of lines.entries()) {
              JSON.parse(line)
              if (path.includes(`account=${A}`)) assert.isFalse(hasPii(line, ALICE), `${path}: ${line}`)
              if (!hasPii(oldLines[i]!, ALICE)) assert.strictEqual(line, oldLines[i])
            }
          }
          assert.deepStrictEqual(changed.sort(), [...out.files].sort())
          // GraphQL order lines hold only the customer's id: no personal field to null, file kept.
          assert.strictEqual(changed.length, 2, "the customers and webhooks files of A")
          assert.isTrue(changed.every((p) => p.includes(`account=${A}`)))
          // The scrubbed customer line still decodes as a Customer record would (required fields kept).
          const customers = linesOf(after.get(changed.find((p) => p.includes("stream=customers"))!)!)
          const scrubbed = JSON.parse(customers[0]!)
          assert.deepStrictEqual(
            [
              scrubbed.displayName,
              scrubbed.firstName,
              scrubbed.tags,
              scrubbed.defaultEmailAddress,
              scrubbed.legacyResourceId
            ],
            [REDACTED, null, [], null, "101"]
          )

          // Ledger, and a second run changes nothing.
          assert.isAbove(out.rowsChanged, 0)
          const again = yield* r.redactCustomer({
            source: "shopify",
            sourceAccount: A,
            customerId: "gid://shopify/Customer/101"
          })
          assert.strictEqual(again.rowsChanged, 0)
          assert.strictEqual(again.filesChanged, 0)
          assert.deepStrictEqual(files(dir), after)
          const ledger = yield* r.list
          assert.strictEqual(ledger.length, 1)
          assert.strictEqual(ledger[0]?.status, "done")
          assert.strictEqual(ledger[0]?.trigger, "cli")
          assert.strictEqual(ledger[0]?.rowsChanged, out.rowsChanged)
          assert.strictEqual(ledger[0]?.filesChanged, 2)
        })
      )
  )

  it.effect(
    "re-applies to a later load that brings the customer back (canonical, raw and a new lake file)",
    () =>
      withStores((dir) =>
        Effect.gen(function* () {
          yield* seed(A)
          const r = yield* Redaction
          yield* r.redactCustomer({ source: "shopify", sourceAccount: A, customerId: "101" })
          // A later sync: a newer customer version with PII, in a new lake file and raw row.
          const w = yield* Warehouse
          const lake = yield* RawLake
          const key = { source: "shopify", account: A, stream: "customers" }
          const line = JSON.stringify(gqlCustomer(ALICE, "2026-11-21T00:00:00Z"))
          const obj = yield* lake.writeBatch({
            key,
            batchId: "c2",
            lines: Stream.make(line),
            dt: "2026-11-21"
          })
          yield* RawLoader.loadRawBatch({
            warehouse: w,
            key,
            batch: obj,
            lines: Stream.make(line),
            fetchedAt: new Date().toISOString()
          })
          yield* w.load("customers", [customerRow(A, ALICE, "2026-11-21T00:00:00Z")])
          assert.isTrue(hasPii(JSON.stringify(yield* q("SELECT * FROM customers")), ALICE))

          const outs = yield* r.reapply()
          assert.strictEqual(outs.length, 1)
          assert.deepStrictEqual(outs[0]?.files, [obj.path])
          assert.isFalse(hasPii(JSON.stringify(yield* q("SELECT * FROM customers")), ALICE))
          assert.isFalse(
            hasPii(JSON.stringify(yield* q("SELECT CAST(payload AS VARCHAR) AS p FROM _kura_raw")), ALICE)
          )
          for (const [, bytes] of files(dir)) assert.isFalse(hasPii(linesOf(bytes).join("\n"), ALICE))
          // Nothing new: nothing changes.
          const again = yield* r.reapply()
          assert.strictEqual(again[0]?.rowsChanged, 0)
          assert.strictEqual(again[0]?.filesChanged, 0)
        })
      )
  )

  it.effect(
    "reapply with 50 ledger entries makes one pass per account: one lake listing, each file read at most twice, a bounded number of statements",
    () =>
      withStores(() =>
        Effect.gen(function* () {
          yield* seed(A)
          yield* seed(B)
          const w = yield* Warehouse
          const local = yield* ObjectStore
          const r = yield* Redaction
          // 47 customers of A (Alice among them), 2 by e-mail (one of them Bob's), 1 of B.
          for (let i = 0; i < 46; i++)
            yield* r.redactCustomer({ source: "shopify", sourceAccount: A, customerId: String(3000 + i) })
          yield* r.redactCustomer({ source: "shopify", sourceAccount: A, customerId: ALICE.id })
          yield* r.redactCustomer({ source: "shopify", sourceAccount: A, email: "nobody@example.com" })
          yield* r.redactCustomer({ source: "shopify", sourceAccount: A, email: BOB.email })
          yield* r.redactCustomer({ source: "shopify", sourceAccount: B, customerId: ALICE.id })
          assert.strictEqual((yield* r.list).length, 50)
          // A later sync brings Alice back in A: a new lake file, raw row and customers row.
          const key = { source: "shopify", account: A, stream: "customers" }
          const line = JSON.stringify(gqlCustomer(ALICE, "2026-11-21T00:00:00Z"))
          const obj = yield* (yield* RawLake).writeBatch({
            key,
            batchId: "c2",
            lines: Stream.make(line),
            dt: "2026-11-21"
          })
          yield* RawLoader.loadRawBatch({
            warehouse: w,
            key,
            batch: obj,
            lines: Stream.make(line),
            fetchedAt: "2026-11-21T00:00:00Z"
          })
          yield* w.load("customers", [customerRow(A, ALICE, "2026-11-21T00:00:00Z")])

          const calls = { list: 0, get: new Map<string, number>(), statements: 0 }
          const store: ObjectStore["Service"] = {
            ...local,
            list: (prefix) => {
              calls.list++
              return local.list(prefix)
            },
            get: (path) => {
              calls.get.set(path, (calls.get.get(path) ?? 0) + 1)
              return local.get(path)
            }
          }
          const counted: Warehouse["Service"] = {
            ...w,
            query: (sql, params) => {
              calls.statements++
              return w.query(sql, params)
            },
            exclusive: (use) =>
              w.exclusive((x) =>
                use({
                  run: (sql, params) => {
                    calls.statements++
                    return x.run(sql, params)
                  },
                  query: (sql, params) => {
                    calls.statements++
                    return x.query(sql, params)
                  }
                })
              )
          }
          const started = performance.now()
          const outs = yield* makeRedaction(counted, store).reapply()
          const ms = performance.now() - started
          console.log(
            `KURA_REDACT_REAPPLY {"entries":50,"accounts":2,"ms":${ms.toFixed(0)},"statements":${calls.statements},"lakeListings":${calls.list},"lakeReads":${[...calls.get.values()].reduce((a, b) => a + b, 0)}}`
          )
          assert.strictEqual(outs.length, 50)
          assert.strictEqual(calls.list, 2, "one listing per account, not per entry")
          for (const [path, n] of calls.get) assert.isAtMost(n, 2, path)
          // Per account: ledger read + e-mail hashes + 3 counts + 2 candidate reads + the UPDATEs that
          // found rows + 1 ledger MERGE; 50 entries one by one took ~7 each.
          assert.isAtMost(calls.statements, 25)
          // Alice's entry of A is the one credited with what came back; the others changed nothing.
          const alice = outs.find((o) => o.id === `customer:shopify:${A}:${ALICE.id}`)
          assert.deepStrictEqual(alice?.files, [obj.path])
          assert.deepStrictEqual(alice?.tables, { customers: 1, _kura_raw: 1 })
          assert.strictEqual(
            outs.filter((o) => o !== alice).reduce((n, o) => n + o.rowsChanged + o.filesChanged, 0),
            0
          )
          assert.isFalse(
            hasPii(
              JSON.stringify(
                yield* q("SELECT * FROM customers WHERE source_account = 'a-shop.myshopify.com'")
              ),
              ALICE
            )
          )
          const ledger = yield* r.list
          assert.isTrue(ledger.every((e) => e.status === "done"))
        })
      )
  )

  it.live(
    "late arrivals: reapply takes a page fetched before the request, and one landed now whatever its fetch time or lake day; reapplyLanded takes one batch",
    () =>
      withStores((dir) =>
        Effect.gen(function* () {
          yield* seed(A)
          const r = yield* Redaction
          const w = yield* Warehouse
          const lake = yield* RawLake
          yield* r.redactCustomer({ source: "shopify", sourceAccount: A, customerId: ALICE.id })
          const now = Date.now()
          const land = (batchId: string, fetchedAt: number, updatedAt: string, dt?: string) =>
            Effect.gen(function* () {
              const key = { source: "shopify", account: A, stream: "customers" }
              const line = JSON.stringify(gqlCustomer(ALICE, updatedAt))
              const obj = yield* lake.writeBatch({
                key,
                batchId,
                lines: Stream.make(line),
                dt: dt ?? new Date(fetchedAt).toISOString().slice(0, 10)
              })
              yield* RawLoader.loadRawBatch({
                warehouse: w,
                key,
                batch: obj,
                lines: Stream.make(line),
                fetchedAt: new Date(fetchedAt).toISOString()
              })
              return { path: obj.path, line }
            })
          const rawOf = (batch: string) =>
            q(`SELECT CAST(payload AS VARCHAR) AS p FROM _kura_raw WHERE _batch_id = '${batch}'`).pipe(
              Effect.map((rows) => JSON.stringify(rows))
            )
          const fileOf = (path: string) => linesOf(files(dir).get(path)!).join("\n")

          // A webhook accepted three days earlier, landed now (a write-ahead log replayed after
          // downtime): the landing path applies the ledger to that one batch.
          const old = yield* land("wal", now - 3 * 86_400_000, "2026-11-22T00:00:00Z")
          const before = (yield* r.list)[0]!
          const landed = yield* r.reapplyLanded({
            source: "shopify",
            sourceAccount: A,
            batchId: "wal",
            texts: [old.line]
          })
          assert.deepStrictEqual(landed[0]?.files, [old.path])
          assert.isFalse(hasPii(yield* rawOf("wal"), ALICE))
          assert.isFalse(hasPii(fileOf(old.path), ALICE))
          const entry = (yield* r.list)[0]!
          assert.strictEqual(entry.appliedAt, before.appliedAt, "a one-batch pass does not move the window")
          assert.strictEqual(entry.filesChanged, before.filesChanged + 1)
          // A batch that names nobody erased changes nothing and reads nothing but the ledger.
          assert.deepStrictEqual(
            yield* r.reapplyLanded({
              source: "shopify",
              sourceAccount: A,
              batchId: "wal",
              texts: [JSON.stringify(gqlCustomer(BOB))]
            }),
            []
          )
          // A lake-only landing (no raw row names its file): the file it names is rewritten.
          const lakeOnly = yield* lake.writeBatch({
            key: { source: "shopify", account: A, stream: "webhook.customers_update" },
            batchId: "lake-only",
            lines: Stream.make(JSON.stringify(gqlCustomer(ALICE))),
            dt: DT
          })
          assert.isTrue(hasPii(fileOf(lakeOnly.path), ALICE))
          const [lakeOnlyOut] = yield* r.reapplyLanded({
            source: "shopify",
            sourceAccount: A,
            batchId: "lake-only",
            texts: [JSON.stringify(gqlCustomer(ALICE))],
            lakePaths: [lakeOnly.path]
          })
          assert.deepStrictEqual(lakeOnlyOut?.files, [lakeOnly.path])
          assert.isFalse(hasPii(fileOf(lakeOnly.path), ALICE))

          // A sync page fetched two hours before the request, loaded after it.
          const page = yield* land("page", now - 2 * 3_600_000, "2026-11-21T00:00:00Z")
          // A page fetched ten days before and loaded now, filed under its backfill window's day
          // (a month back): outside any fixed window of fetch time or lake day.
          const slow = yield* land("slow", now - 10 * 86_400_000, "2026-11-23T00:00:00Z", "2026-10-01")
          const [after] = yield* r.reapply()
          assert.deepStrictEqual([...(after?.files ?? [])].sort(), [page.path, slow.path].sort())
          for (const [batch, path] of [
            ["page", page.path],
            ["slow", slow.path]
          ] as const) {
            assert.isFalse(hasPii(yield* rawOf(batch), ALICE), batch)
            assert.isFalse(hasPii(fileOf(path), ALICE), batch)
          }

          // The same record version fetched again by a backfill: the raw table keeps its first
          // (redacted) row, but the new lake file holds the data again, under an old day.
          const again = yield* land("again", now - 10 * 86_400_000, "2026-11-23T00:00:00Z", "2026-10-02")
          assert.isTrue(hasPii(fileOf(again.path), ALICE))
          const [third] = yield* r.reapply()
          assert.deepStrictEqual(third?.files, [again.path])
          assert.isFalse(hasPii(fileOf(again.path), ALICE))
          // Nothing came back since: the next re-application changes nothing.
          const [fourth] = yield* r.reapply()
          assert.deepStrictEqual([fourth?.rowsChanged, fourth?.filesChanged], [0, 0])
        })
      )
  )

  it.effect("finds a customer by e-mail (case-insensitive) and keeps only its hash in the ledger", () =>
    withStores(() =>
      Effect.gen(function* () {
        yield* seed(A)
        // A supplier contact with the same address (Stocky's contact_email): a person too.
        yield* (yield* Warehouse).load("suppliers", [
          { ...lineage(A, "s1"), name: "Doe Tea Farm", email: ALICE.email },
          { ...lineage(A, "s2"), name: "Roe Farm", email: BOB.email }
        ])
        const r = yield* Redaction
        // orders_to_redact names an order of another customer: its refund note goes too.
        yield* r.redactCustomer({
          source: "shopify",
          sourceAccount: A,
          email: "alice.doe@EXAMPLE.com",
          orderIds: ["9002"]
        })
        assert.deepStrictEqual(yield* q("SELECT source_id, note FROM refunds ORDER BY 1"), [
          { source_id: "r1", note: null },
          { source_id: "r2", note: null }
        ])
        assert.deepStrictEqual(yield* q("SELECT source_id, name, email FROM suppliers ORDER BY 1"), [
          { source_id: "s1", name: "Doe Tea Farm", email: null },
          { source_id: "s2", name: "Roe Farm", email: BOB.email }
        ])
        assert.isFalse(hasPii(JSON.stringify(yield* q("SELECT * FROM customers")), ALICE))
        assert.isFalse(
          hasPii(JSON.stringify(yield* q("SELECT CAST(payload AS VARCHAR) AS p FROM _kura_raw")), ALICE)
        )
        const [entry] = yield* r.list
        assert.strictEqual(
          entry?.emailSha256,
          createHash("sha256").update("alice.doe@example.com").digest("hex")
        )
        assert.strictEqual(entry?.customerId, "101")
        assert.notInclude(JSON.stringify(yield* q("SELECT * FROM _kura_redactions")), "example.com")
      })
    )
  )

  it.effect("refuses a request without an id or e-mail, naming both", () =>
    withStores(() =>
      Effect.gen(function* () {
        const e = yield* Effect.flip(
          (yield* Redaction).redactCustomer({ source: "shopify", sourceAccount: A })
        )
        assert.strictEqual(e.reason, "InvalidInput")
        assert.include(e.message, "--email")
      })
    )
  )
})

describe("Redaction.redactShop", () => {
  it.effect("deletes exactly one account's rows and lake prefix, only when confirmed", () =>
    withStores((dir) =>
      Effect.gen(function* () {
        yield* seed(A)
        yield* seed(B)
        const r = yield* Redaction
        const refused = yield* Effect.flip(
          r.redactShop({ source: "shopify", sourceAccount: A, confirm: false })
        )
        assert.strictEqual(refused.reason, "NotConfirmed")
        const count = (account: string) =>
          Effect.map(
            q(
              // The ledger keeps its row: the proof that the shop was erased.
              AllTables.filter(
                (t) => t.name !== "_kura_redactions" && t.columns.some((c) => c.name === "source_account")
              )
                .map((t) => `SELECT count(*)::INT AS n FROM "${t.name}" WHERE source_account = '${account}'`)
                .join(" UNION ALL ")
            ),
            (rows) => rows.reduce((a, x) => a + Number(x.n), 0)
          )
        const bBefore = yield* count(B)
        const bFiles = [...files(dir)].filter(([p]) => p.includes(`account=${B}`))
        const out = yield* r.redactShop({
          source: "shopify",
          sourceAccount: A,
          confirm: true,
          trigger: "webhook"
        })
        assert.strictEqual(yield* count(A), 0)
        assert.strictEqual(yield* count(B), bBefore)
        assert.strictEqual(out.filesChanged, 4)
        assert.deepStrictEqual(
          [...files(dir)].filter(([p]) => p.includes(`account=${A}`)),
          []
        )
        assert.deepStrictEqual(
          [...files(dir)].filter(([p]) => p.includes(`account=${B}`)),
          bFiles
        )
        const [entry] = yield* r.list
        assert.deepStrictEqual([entry?.kind, entry?.status, entry?.trigger], ["shop", "done", "webhook"])
      })
    )
  )
})

describe("Redaction: erased accounts and the ledger marker", () => {
  it.effect("an erased shop stays erased until reinstated; each request gives the marker a new token", () =>
    withStores(() =>
      Effect.gen(function* () {
        yield* seed(A)
        const r = yield* Redaction
        assert.isUndefined(yield* r.ledgerVersion)
        const never = yield* Effect.flip(
          r.reinstateShop({ source: "shopify", sourceAccount: A, confirm: true })
        )
        assert.strictEqual(never.reason, "InvalidInput")
        yield* r.redactCustomer({ source: "shopify", sourceAccount: B, customerId: "102" })
        const v1 = yield* r.ledgerVersion
        assert.isString(v1)
        assert.deepStrictEqual(erasedAccounts(yield* r.list), [])

        yield* r.redactShop({ source: "shopify", sourceAccount: A, confirm: true, trigger: "webhook" })
        const v2 = yield* r.ledgerVersion
        assert.notStrictEqual(v2, v1)
        assert.deepStrictEqual(
          erasedAccounts(yield* r.list).map((e) => [e.source, e.sourceAccount, e.status]),
          [["shopify", A, "done"]]
        )
        const unconfirmed = yield* Effect.flip(
          r.reinstateShop({ source: "shopify", sourceAccount: A, confirm: false })
        )
        assert.strictEqual(unconfirmed.reason, "NotConfirmed")

        const back = yield* r.reinstateShop({
          source: "shopify",
          sourceAccount: A,
          confirm: true,
          trigger: "cli"
        })
        assert.strictEqual(back.status, "reinstated")
        assert.match(back.detail ?? "", /^reinstated .* by cli/)
        assert.notStrictEqual(yield* r.ledgerVersion, v2)
        assert.deepStrictEqual(erasedAccounts(yield* r.list), [])
        // The proof stays: the entry, its application time and what it deleted.
        const kept = (yield* r.list).find((e) => e.id === `shop:shopify:${A}`)
        assert.isTrue((kept?.rowsChanged ?? 0) > 0 && kept?.appliedAt !== null)

        // A second shop/redact (the merchant uninstalled again) erases it again.
        yield* r.redactShop({ source: "shopify", sourceAccount: A, confirm: true })
        assert.deepStrictEqual(
          erasedAccounts(yield* r.list).map((e) => e.status),
          ["done"]
        )
      })
    )
  )
})

describe("Redaction.redactShop: credentials", () => {
  const tokenSet = (access: string): TokenSet => ({
    accessToken: Redacted.make(access),
    refreshToken: Redacted.make(`${access}-refresh`),
    expiresAt: null,
    refreshExpiresAt: null,
    issuedAt: 1,
    scope: null
  })
  it.effect(
    "deletes the shop's OAuth tokens from _kura_tokens and the file token store, and nobody else's",
    () =>
      withStores((dir) =>
        Effect.gen(function* () {
          const w = yield* Warehouse
          const tokens = WarehouseTokenStore.make(w)
          const tokenFile = `${dir}-tokens.json`
          const file = makeFileTokenStore(tokenFile)
          const ofA = [`shopify:${A}`, `shopify:client-1:${A}`]
          // Another shop, another source with the same name, and a key that only mentions A.
          const others = [`shopify:${B}`, `lightspeed:client-1:${A}`, `shopify:${A}:legacy`]
          for (const key of [...ofA, ...others]) {
            yield* tokens.put(key, tokenSet(key))
            yield* file.put(key, tokenSet(key))
          }
          const r = makeRedaction(w, yield* ObjectStore, {
            eraseCredentials: (isAccounts) => removeFileTokens(tokenFile, isAccounts)
          })
          const out = yield* r.redactShop({ source: "shopify", sourceAccount: A, confirm: true })
          assert.strictEqual(out.tables._kura_tokens, 2)
          assert.strictEqual(out.tables[TOKEN_FILE_ENTRY], 2)
          const keys = yield* q(`SELECT "key" FROM "_kura_tokens" ORDER BY "key"`)
          assert.deepStrictEqual(
            keys.map((k) => k.key),
            [...others].sort()
          )
          for (const key of ofA) {
            assert.isTrue(Option.isNone(yield* tokens.get(key)), key)
            assert.isTrue(Option.isNone(yield* file.get(key)), key)
          }
          for (const key of others) assert.isTrue(Option.isSome(yield* file.get(key)), key)
          assert.notInclude(readFileSync(tokenFile, "utf8"), `shopify:client-1:${A}-refresh`)
          // Again: nothing left to remove.
          const again = yield* r.redactShop({ source: "shopify", sourceAccount: A, confirm: true })
          assert.isUndefined(again.tables._kura_tokens)
          assert.isUndefined(again.tables[TOKEN_FILE_ENTRY])
          rmSync(tokenFile, { force: true })
        })
      )
  )
})

describe("Redaction on BigQuery (fake BigQuery and GCS)", () => {
  it.live(
    "runs the same statements: PII nulled, raw payload and the GCS lake file scrubbed, ledger written",
    () =>
      withBigQuery(({ bq, gcs }) =>
        Effect.gen(function* () {
          const w = yield* Warehouse
          yield* w.migrate
          const storage = new Storage({ projectId: "demo-proj", apiEndpoint: gcs.endpoint })
          const store = GcsObjectStore.layer({ bucket: "kura-lake", prefix: "lake", storage })
          return yield* Effect.gen(function* () {
            const lake = yield* RawLake
            const key = { source: "shopify", account: A, stream: "customers" }
            const lines = [JSON.stringify(gqlCustomer(ALICE)), JSON.stringify(gqlCustomer(BOB))]
            const obj = yield* lake.writeBatch({
              key,
              batchId: "c1",
              dt: DT,
              lines: Stream.fromIterable(lines)
            })
            yield* RawLoader.loadRawBatch({
              warehouse: w,
              key,
              batch: obj,
              lines: Stream.fromIterable(lines),
              fetchedAt: "2026-11-20T00:00:00Z"
            })
            yield* w.load("customers", [customerRow(A, ALICE), customerRow(A, BOB)])
            const out = yield* (yield* Redaction).redactCustomer({
              source: "shopify",
              sourceAccount: A,
              customerId: "101"
            })
            assert.deepStrictEqual(out.tables, { customers: 1, _kura_raw: 1 })
            assert.deepStrictEqual(out.files, [obj.path])
            const rows = yield* Effect.promise(() =>
              bq.duck('SELECT source_id, email, first_name FROM "customers" ORDER BY source_id')
            )
            assert.deepStrictEqual(rows, [
              { source_id: "101", email: null, first_name: null },
              { source_id: "102", email: BOB.email, first_name: BOB.first }
            ])
            const raw = yield* Effect.promise(() =>
              bq.duck('SELECT CAST(payload AS VARCHAR) AS p FROM "_kura_raw"')
            )
            assert.isFalse(raw.some((r) => hasPii(String(r.p), ALICE)))
            assert.isTrue(raw.some((r) => hasPii(String(r.p), BOB)))
            const read = [...(yield* Stream.runCollect(lake.readLines(obj.path)))]
            assert.isFalse(hasPii(read.join("\n"), ALICE))
            assert.strictEqual(read[1], lines[1])
            const [entry] = yield* (yield* Redaction).list
            assert.deepStrictEqual([entry?.status, entry?.rowsChanged, entry?.filesChanged], ["done", 2, 1])
            assert.isTrue(
              bq.queries.some((x) => x.sql.startsWith("UPDATE `demo-proj.kura.customers` SET `email` = NULL"))
            )
          }).pipe(
            Effect.provide(
              Redaction.layer.pipe(
                Layer.provideMerge(RawLake.layer.pipe(Layer.provideMerge(store))),
                Layer.provideMerge(Layer.succeed(Warehouse, w))
              )
            )
          )
        })
      )
  )
})

describe("Redaction on a GCS bucket with object versioning (fake BigQuery and GCS)", () => {
  it.live("no generation keeps the customer after a redaction, and none of the shop after its erasure", () =>
    withBigQuery(({ gcs }) =>
      Effect.gen(function* () {
        const w = yield* Warehouse
        yield* w.migrate
        gcs.versioning = true
        const storage = new Storage({ projectId: "demo-proj", apiEndpoint: gcs.endpoint })
        const store = GcsObjectStore.layer({ bucket: "kura-lake", prefix: "lake", storage })
        return yield* Effect.gen(function* () {
          const lake = yield* RawLake
          const r = yield* Redaction
          const write = (account: string, batchId: string) =>
            lake.writeBatch({
              key: { source: "shopify", account, stream: "customers" },
              batchId,
              dt: DT,
              lines: Stream.make(JSON.stringify(gqlCustomer(ALICE)), JSON.stringify(gqlCustomer(BOB)))
            })
          const obj = yield* write(A, "c1")
          // A file a sync deleted (lake retention) stays as a noncurrent generation only.
          const gone = yield* write(A, "c0")
          yield* (yield* ObjectStore).delete(gone.path)
          const other = yield* write(B, "c1")
          const generations = (account: string) =>
            [...gcs.objects.values(), ...gcs.noncurrent]
              .filter((o) => o.name.includes(`account=${account}/`))
              .sort((a, b) => a.generation - b.generation)
          const text = (o: { readonly data: Buffer }) => gunzipSync(o.data).toString("utf8")
          assert.strictEqual(generations(A).length, 2)

          yield* r.redactCustomer({ source: "shopify", sourceAccount: A, customerId: "101" })
          const named = `lake/${obj.path}`
          // The rewritten file's old generation held Alice: purged, the new one is the only one.
          assert.deepStrictEqual(
            generations(A).map((o) => [o.name, o.timeDeleted === undefined]),
            [
              [`lake/${gone.path}`, false],
              [named, true]
            ]
          )
          assert.isFalse(hasPii(text(gcs.objects.get(named)!), ALICE))
          assert.isTrue(hasPii(text(gcs.objects.get(named)!), BOB))

          const out = yield* r.redactShop({ source: "shopify", sourceAccount: A, confirm: true })
          // Live and noncurrent generations alike, each deleted by its number.
          assert.deepStrictEqual(generations(A), [])
          assert.deepStrictEqual(out.files, [gone.path, obj.path].sort())
          assert.isTrue(
            gcs.requests.some(
              (q) =>
                q.method === "DELETE" &&
                q.path.endsWith(encodeURIComponent(`lake/${gone.path}`)) &&
                q.query.has("generation")
            )
          )
          assert.deepStrictEqual(
            generations(B).map((o) => o.name),
            [`lake/${other.path}`]
          )
        }).pipe(
          Effect.provide(
            Redaction.layer.pipe(
              Layer.provideMerge(RawLake.layer.pipe(Layer.provideMerge(store))),
              Layer.provideMerge(Layer.succeed(Warehouse, w))
            )
          )
        )
      })
    )
  )
})

describe("Redaction on BigQuery: bounded DML", () => {
  it.live(
    "a customer with 43 raw payloads and 3 dead letters costs 3 + 1 UPDATE jobs at 16 rows a statement, not 46",
    () =>
      withBigQuery(({ bq, gcs }) =>
        Effect.gen(function* () {
          const w = yield* Warehouse
          yield* w.migrate
          const storage = new Storage({ projectId: "demo-proj", apiEndpoint: gcs.endpoint })
          const store = yield* Effect.provide(
            Effect.service(ObjectStore),
            GcsObjectStore.layer({ bucket: "kura-lake", prefix: "lake", storage })
          )
          // 40 order webhooks of Alice (three without updated_at: the key's null-safe match), 2 of Bob.
          const rawRow = (i: number, c: typeof ALICE, updatedAt: string | null) => ({
            source: "shopify",
            source_account: A,
            stream: "webhook.orders_create",
            source_id: `ev-${i}`,
            updated_at: updatedAt,
            payload: restOrderBody(String(5000 + i), c),
            fetched_at: "2026-11-20T00:00:00Z",
            _batch_id: "wh1",
            lake_path: null
          })
          yield* w.load("_kura_raw", [
            ...Array.from({ length: 40 }, (_, i) => rawRow(i, ALICE, "2026-11-19T12:00:00Z")),
            ...Array.from({ length: 3 }, (_, i) => rawRow(40 + i, ALICE, null)),
            rawRow(98, BOB, "2026-11-19T12:00:00Z"),
            rawRow(99, BOB, null)
          ])
          yield* w.deadLetters.write(
            Array.from({ length: 3 }, (_, i) => ({
              key: { source: "shopify", account: A, stream: "customers" },
              sourceId: `${ALICE.id}-${i}`,
              payload: JSON.stringify(gqlCustomer(ALICE)),
              reason: "decode",
              detail: "test letter",
              origin: "test",
              at: 1
            }))
          )
          const before = bq.queries.length
          const r = makeRedaction(w, store, { maxStatementRows: 16 })
          const out = yield* r.redactCustomer({ source: "shopify", sourceAccount: A, customerId: "101" })
          assert.deepStrictEqual(out.tables, { _kura_raw: 43, _kura_dead_letters: 3 })
          const sent = bq.queries.slice(before).map((x) => x.sql)
          const updates = (table: string) =>
            sent.filter((x) => x.startsWith(`UPDATE \`demo-proj.kura.${table}\``)).length
          assert.strictEqual(updates("_kura_raw"), 3, "ceil(43 / 16) statements")
          assert.strictEqual(updates("_kura_dead_letters"), 1)
          // Canonical tables: counted, not updated, when nothing holds the customer's data.
          assert.strictEqual(updates("customers") + updates("refunds") + updates("suppliers"), 0)
          const raw = yield* Effect.promise(() =>
            bq.duck(`SELECT source_id, CAST(payload AS VARCHAR) AS p FROM "_kura_raw" ORDER BY source_id`)
          )
          assert.strictEqual(raw.length, 45)
          for (const row of raw) {
            const bob = row.source_id === "ev-98" || row.source_id === "ev-99"
            assert.strictEqual(hasPii(String(row.p), bob ? BOB : ALICE), bob, String(row.source_id))
            JSON.parse(String(row.p))
          }
          const letters = yield* Effect.promise(() => bq.duck(`SELECT payload FROM "_kura_dead_letters"`))
          assert.isFalse(letters.some((l) => hasPii(String(l.payload), ALICE)))
          // A byte cap splits too: every payload is ~500 characters, so 2,000 allows 4 a statement.
          const again = bq.queries.length
          yield* w.load(
            "_kura_raw",
            Array.from({ length: 8 }, (_, i) => rawRow(200 + i, ALICE, null))
          )
          const capped = makeRedaction(w, store, { maxStatementBytes: 2_000 })
          const second = yield* capped.redactCustomer({
            source: "shopify",
            sourceAccount: A,
            customerId: "101"
          })
          assert.strictEqual(second.tables._kura_raw, 8)
          const rawUpdates = bq.queries
            .slice(again)
            .filter((x) => x.sql.startsWith("UPDATE `demo-proj.kura._kura_raw`"))
          assert.isAtLeast(rawUpdates.length, 2)
          assert.isAtMost(rawUpdates.length, 4)
          for (const u of rawUpdates) {
            const chars = Object.entries(u.params)
              .filter(([k]) => k.endsWith("_payload"))
              .reduce((n, [, v]) => n + (v?.length ?? 0), 0)
            assert.isAtMost(chars, 2_000)
          }
          // Two entries of one account re-applied with nothing come back: one pass of reads
          // (counts with both persons' scopes, one candidate read each) and one ledger MERGE for
          // both, no UPDATE job.
          yield* capped.redactCustomer({ source: "shopify", sourceAccount: A, customerId: BOB.id })
          const third = bq.queries.length
          const outs = yield* capped.reapply()
          assert.deepStrictEqual(
            outs.map((o) => [o.id, o.rowsChanged]),
            [
              [`customer:shopify:${A}:101`, 0],
              [`customer:shopify:${A}:${BOB.id}`, 0]
            ]
          )
          const reapplied = bq.queries.slice(third).map((x) => x.sql)
          assert.isFalse(reapplied.some((x) => x.startsWith("UPDATE")))
          assert.strictEqual(
            reapplied.filter((x) => x.startsWith("MERGE INTO `demo-proj.kura._kura_redactions`")).length,
            1
          )
        })
      )
  )
})

describe("lake file rewrite", () => {
  it.effect("a failure while the new file is written leaves the old file whole (local store)", () =>
    withStores((dir) =>
      Effect.gen(function* () {
        yield* seed(A)
        const path = `source=shopify/account=${A}/stream=customers/dt=${DT}/c1.ndjson.gz`
        const before = files(dir)
        const store = yield* ObjectStore
        let seen = 0
        const failed = yield* Effect.exit(
          rewriteLakeFile(store, path, (line) => {
            if (++seen > 2) throw new Error("crash mid-rewrite")
            return line.includes("Alice") ? line.replaceAll("Alice", "X") : undefined
          })
        )
        assert.isTrue(failed._tag === "Failure")
        assert.deepStrictEqual(files(dir), before, "old file intact, no temp file left")
      })
    )
  )

  it.effect("rewrites a GCS object in place as gzip NDJSON (fake GCS)", () =>
    Effect.acquireUseRelease(
      Effect.promise(() => startFakeGcs("kura-lake")),
      (gcs) =>
        Effect.gen(function* () {
          const store = yield* ObjectStore
          const lake = yield* RawLake
          const key = { source: "shopify", account: A, stream: "customers" }
          const obj = yield* lake.writeBatch({
            key,
            batchId: "c1",
            dt: DT,
            lines: Stream.make(JSON.stringify(gqlCustomer(ALICE)), JSON.stringify(gqlCustomer(BOB)))
          })
          const subject = makeSubject({ customerIds: ["101"] })
          const tokens = subjectTokens(subject)
          assert.isTrue(
            yield* rewriteLakeFile(store, obj.path, (l) => rewriteLine(l, subject, tokens, "customers"))
          )
          const lines = [...(yield* Stream.runCollect(lake.readLines(obj.path)))]
          assert.strictEqual(lines.length, 2)
          assert.isFalse(hasPii(lines[0]!, ALICE))
          assert.strictEqual(lines[1], JSON.stringify(gqlCustomer(BOB)))
          assert.isFalse(
            yield* rewriteLakeFile(store, obj.path, (l) => rewriteLine(l, subject, tokens, "customers"))
          )
        }).pipe(
          Effect.provide(
            RawLake.layer.pipe(
              Layer.provideMerge(
                GcsObjectStore.layer({
                  bucket: "kura-lake",
                  prefix: "lake",
                  storage: new Storage({ projectId: "demo-proj", apiEndpoint: gcs.endpoint })
                })
              )
            )
          )
        ),
      (gcs) => Effect.promise(() => gcs.close())
    )
  )
})

describe("payload matching", () => {
  const s = makeSubject({ customerIds: ["gid://shopify/Customer/101"] })
  it("knows a customer by gid or number, in customer records, order references and webhook envelopes", () => {
    assert.isTrue(mentions(gqlCustomer(ALICE), s, "customers"))
    assert.isFalse(mentions(gqlCustomer(BOB), s, "customers"))
    assert.isTrue(mentions(gqlOrder("1", "101"), s, "orders"))
    assert.isFalse(mentions(gqlOrder("1", "102"), s, "orders"))
    assert.isTrue(mentions(JSON.parse(envelope("9", ALICE)), s, "webhooks"))
    assert.isFalse(mentions(JSON.parse(envelope("9", BOB)), s, "webhooks"))
    // An order whose own id equals the customer's number is not the customer.
    assert.isFalse(
      mentions({ __typename: "Order", id: "gid://shopify/Order/101", legacyResourceId: "101" }, s, "orders")
    )
  })
  it("nulls personal fields and keeps ids, money and line items", () => {
    const body = JSON.parse(String((scrub(JSON.parse(envelope("9", ALICE)), s) as { body: string }).body))
    assert.deepStrictEqual(body.customer, {
      id: 101,
      email: null,
      first_name: null,
      last_name: null,
      phone: null
    })
    assert.deepStrictEqual([body.email, body.phone, body.billing_address], [null, null, null])
    assert.deepStrictEqual(body.line_items, [{ id: 1, title: "Matcha 30g", quantity: 1 }])
    assert.strictEqual(body.name, "#9")
  })
})

describe("redaction SQL", () => {
  const bq = bigQueryDialect("demo-proj", "kura")
  it("every statement passes the BigQuery grammar", () => {
    const c = RSql.listParams(bq, "c", ["1", "2"])
    const o = RSql.listParams(bq, "o", [])
    for (const [name, scope] of Object.entries(RSql.customerScopes)) {
      const table = CanonicalTables[name as keyof typeof CanonicalTables]
      assertBigQuery(RSql.nullPii(bq, table, scope(bq, c.sql, o.sql, c.sql)))
    }
    assertBigQuery(RSql.customerIdsByEmail(bq, c.sql))
    assertBigQuery(RSql.customerEmails(bq))
    assertBigQuery(RSql.rawCandidates(bq, 2, true))
    assertBigQuery(RSql.rawCandidates(bq, 1, false))
    assertBigQuery(RSql.rawCandidatesInFiles(bq, 2, c.sql))
    assertBigQuery(RSql.updateRawPayloads(bq, 1))
    assertBigQuery(RSql.updateRawPayloads(bq, 3))
    for (const table of Object.values(CanonicalTables)) {
      const scope = RSql.customerScopes[table.name]
      if (scope !== undefined)
        assertBigQuery(
          RSql.countPii(bq, table, [scope(bq, c.sql, o.sql, c.sql), scope(bq, o.sql, c.sql, c.sql)])
        )
    }
    assertBigQuery(RSql.deadLetterCandidates(bq, 2))
    assertBigQuery(RSql.updateDeadLetterPayloads(bq, 2))
    for (const t of RSql.accountTables) assertBigQuery(RSql.deleteAccount(bq, t))
    assertBigQuery(RSql.selectTokenKeys(bq))
    assertBigQuery(RSql.deleteTokens(bq, c.sql))
    assertBigQuery(RSql.upsertLedgerRows(bq, 1))
    assertBigQuery(RSql.upsertLedgerRows(bq, 2))
    assertBigQuery(RSql.selectLedger(bq, true))
    assertBigQuery(RSql.selectLedger(bq, false))
  })
  it("every canonical table with a personal column has a customer scope", () => {
    const withPii = Object.values(CanonicalTables).filter((t) => RSql.piiColumns(t).length > 0)
    assert.deepStrictEqual(withPii.map((t) => t.name).sort(), Object.keys(RSql.customerScopes).sort())
  })
  it("RedactionError names its reason", () => {
    assert.strictEqual(new RedactionError({ reason: "Lake", message: "x" }).reason, "Lake")
  })
})
