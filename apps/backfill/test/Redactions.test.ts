/**
 * A backfill re-reads history, so it lands again what an earlier erasure removed: the backfill
 * re-applies the redaction ledger when it ends (src/Redactions.ts).
 */
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { gunzipSync } from "node:zlib"
import { type Sandbox, startSandbox } from "@kura/sandbox"
import { DuckDbWarehouse, LocalObjectStore, makeRedaction, ObjectStore, Warehouse } from "@kura/warehouse"
import { Cause, Effect, Exit, Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { runBackfill } from "../src/Backfill.js"
import { reapplyAfter } from "../src/Redactions.js"
import type { WindowSource } from "../src/WindowSource.js"
import {
  argsFor,
  configOf,
  DAY,
  envFor,
  removeTempStores,
  rowsOf,
  runInProcess,
  tempStore
} from "./support.js"

let sandbox: Sandbox
let from: number
beforeAll(async () => {
  sandbox = await startSandbox({ seed: 11, scale: 400, historyDays: 60, timeScale: 120 })
  from = sandbox.groundTruth().anchor - 61 * DAY
})
afterAll(async () => {
  await sandbox?.close()
  removeTempStores()
})

/** Every lake line of the store, parsed, with the file it came from. */
const lakeLines = (dir: string) => {
  const out: Array<{ file: string; line: string }> = []
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (p.endsWith(".ndjson.gz"))
        for (const line of gunzipSync(readFileSync(p)).toString("utf8").split("\n"))
          if (line !== "") out.push({ file: p, line })
    }
  }
  walk(dir)
  return out
}

describe("kura-backfill and erasures", () => {
  it("a --restart backfill lands an erased customer's refund note again in the lake; the backfill's end erases it again", async () => {
    const store = tempStore()
    const env = envFor(sandbox, store)
    const shop = sandbox.shopify.credentials.shopDomain
    const first = await runInProcess(configOf(argsFor(from), env), env)
    expect(first.ok).toBe(true)
    expect(first.text).not.toContain("re-applied")
    // A customer whose order carries a refund note (personal data: free text).
    const [target] = await rowsOf(
      store.warehouse,
      `SELECT o.customer_id, o.source_id AS order_id, r.note FROM refunds r JOIN orders o
         ON o.source = r.source AND o.source_account = r.source_account AND o.source_id = r.order_id
       WHERE r.note IS NOT NULL AND o.customer_id IS NOT NULL ORDER BY 2 LIMIT 1`
    )
    expect(target).toBeDefined()
    const orderId = String(target?.order_id)
    const note = JSON.stringify(String(target?.note))
    const mentions = () =>
      lakeLines(join(store.dir, "lake")).filter(
        (l) => l.line.includes(`/Order/${orderId}"`) && l.line.includes(`"note":${note}`)
      )
    expect(mentions().length).toBeGreaterThan(0)
    const path = store.warehouse.slice("duckdb:".length)
    await Effect.runPromise(
      Effect.gen(function* () {
        const r = makeRedaction(yield* Warehouse, yield* ObjectStore)
        yield* r.redactCustomer({
          source: "shopify",
          sourceAccount: shop,
          customerId: String(target?.customer_id)
        })
      }).pipe(
        Effect.provide(
          Layer.mergeAll(DuckDbWarehouse.layer({ path }), LocalObjectStore.layer(join(store.dir, "lake")))
        )
      )
    )
    expect(mentions()).toEqual([])

    const again = await runInProcess(configOf(argsFor(from, { restart: true }), env), env)
    expect(again.ok).toBe(true)
    expect(again.text).toMatch(
      /redaction \S+ re-applied: \d+ row\(s\) and [1-9]\d* lake file\(s\) held the customer again/
    )
    expect(mentions()).toEqual([])
    const notes = await rowsOf(
      store.warehouse,
      `SELECT COUNT(*) AS n FROM refunds WHERE order_id = '${orderId}' AND note IS NOT NULL`
    )
    expect(Number(notes[0]?.n)).toBe(0)
  }, 120_000)

  it("refuses to backfill a shop erased by shop/redact, after which nothing of it is loaded; reinstated, it loads", async () => {
    const store = tempStore()
    const env = envFor(sandbox, store)
    const shop = sandbox.shopify.credentials.shopDomain
    const path = store.warehouse.slice("duckdb:".length)
    const withRedaction = <A>(f: (r: ReturnType<typeof makeRedaction>) => Effect.Effect<A, unknown>) =>
      Effect.runPromise(
        Effect.gen(function* () {
          const w = yield* Warehouse
          yield* w.migrate
          return yield* f(makeRedaction(w, yield* ObjectStore))
        }).pipe(
          Effect.provide(
            Layer.mergeAll(DuckDbWarehouse.layer({ path }), LocalObjectStore.layer(join(store.dir, "lake")))
          )
        )
      )
    await withRedaction((r) =>
      r.redactShop({ source: "shopify", sourceAccount: shop, confirm: true, trigger: "webhook" })
    )
    const refused = await runInProcess(configOf(argsFor(from), env), env)
    expect(refused.ok).toBe(false)
    const error = Exit.isFailure(refused.exit) ? Cause.squash(refused.exit.cause) : undefined
    expect(error).toMatchObject({ _tag: "BackfillError", reason: "Erased" })
    expect(String((error as { message?: string })?.message)).toContain(
      `shopify account ${shop} was erased (Shopify shop/redact`
    )
    expect(String((error as { message?: string })?.message)).toContain(
      `kura-sync redact reinstate --source shopify --account ${shop} --yes`
    )
    const loaded = await rowsOf(
      store.warehouse,
      `SELECT (SELECT COUNT(*) FROM orders) + (SELECT COUNT(*) FROM _kura_raw) AS n`
    )
    expect(Number(loaded[0]?.n)).toBe(0)
    expect(lakeLines(join(store.dir, "lake"))).toEqual([])

    await withRedaction((r) => r.reinstateShop({ source: "shopify", sourceAccount: shop, confirm: true }))
    const back = await runInProcess(configOf(argsFor(from), env), env)
    expect(back.ok).toBe(true)
  }, 120_000)

  it("a shop erased while the backfill runs: no window starts after it, and what a window landed after it is erased again at the end", async () => {
    const store = tempStore()
    const env = envFor(sandbox, store)
    const shop = "erased-mid-run.myshopify.com"
    const config = configOf(argsFor(from, { window: "15d", concurrency: 1 }), env)
    let started = 0
    // A stand-in source: its second window is where Shopify's shop/redact lands (recorded by the
    // webhook service in production), and then its own records, loaded after the erasure.
    const source: WindowSource<Warehouse | ObjectStore> = {
      account: shop,
      preflight: () => Effect.void,
      prepare: Effect.succeed((window) =>
        Effect.gen(function* () {
          started++
          const warehouse = yield* Warehouse
          if (started === 2) {
            yield* makeRedaction(warehouse, yield* ObjectStore).redactShop({
              source: "shopify",
              sourceAccount: shop,
              confirm: true,
              trigger: "webhook"
            })
            yield* warehouse.load("_kura_raw", [
              {
                source: "shopify",
                source_account: shop,
                stream: "orders",
                source_id: "gid://shopify/Order/1",
                updated_at: new Date(window.start).toISOString(),
                payload: { id: "gid://shopify/Order/1", email: "late@example.com" },
                fetched_at: new Date().toISOString(),
                _batch_id: "late-batch"
              }
            ])
          }
          return {
            window,
            reportedCount: 0,
            fetched: 0,
            loaded: 0,
            canonicalRows: 0,
            points: 0,
            lakePath: ""
          }
        }).pipe(Effect.orDie)
      )
    }
    let text = ""
    const out = {
      isTTY: false,
      write: (t: string) => {
        text += t
      }
    }
    const path = store.warehouse.slice("duckdb:".length)
    const exit = await Effect.runPromiseExit(
      runBackfill(config, out, source).pipe(
        Effect.onExit((e) => reapplyAfter(e, out, { source: "shopify", account: shop })),
        Effect.provide(
          Layer.mergeAll(DuckDbWarehouse.layer({ path }), LocalObjectStore.layer(join(store.dir, "lake")))
        )
      )
    )
    const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
    expect(error).toMatchObject({ _tag: "BackfillError", reason: "Erased" })
    expect(config.windowMillis).toBeLessThan(30 * DAY)
    expect(started).toBe(2)
    // The late raw row, and the windows' own checkpoints and run records (the account's too).
    expect(text).toMatch(
      new RegExp(
        `shopify account ${shop} was erased while the backfill ran: erased again \\([1-9]\\d* row\\(s\\)`
      )
    )
    const held = await rowsOf(
      store.warehouse,
      `SELECT COUNT(*) AS n FROM _kura_raw WHERE source_account = '${shop}'`
    )
    expect(Number(held[0]?.n)).toBe(0)
  }, 120_000)
})
