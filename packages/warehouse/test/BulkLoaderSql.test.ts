/**
 * The DuckDB SQL bulk path against the JS path on the same sandbox bulk export: the canonical
 * tables must be identical row for row (every column), the malformed orders the sandbox injects
 * must be dead-lettered by both, and broken lines must be dead-lettered while the rest loads.
 */
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { startSandbox } from "@kura/sandbox"
import { Reassembler, Resources } from "@kura/shopify-client"
import { Effect, Layer, Result, Schema } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as BulkLoader from "../src/BulkLoader.js"
import * as DuckDbWarehouse from "../src/DuckDbWarehouse.js"
import { parseDuckDbBytes, restorableLimit, stagingThreadsFor } from "../src/internal/stagingThreads.js"
import type { MapContext } from "../src/Mapper.js"
import { makeShopifyOrderMapper } from "../src/mappers/ShopifyOrderMapper.js"
import type { CanonicalTableName } from "../src/Tables.js"
import { type ExclusiveSql, type LoadRow, Warehouse } from "../src/Warehouse.js"
import { bulkExport } from "./sandboxBulkExport.js"

const LOCATION = "70000000001"
const ctx: MapContext = {
  source: "shopify",
  sourceAccount: "kura-sandbox.myshopify.com",
  syncedAt: "2026-11-26T00:00:00.000Z",
  batchId: "bulk-test",
  timeZoneOf: (location) => (location === null ? "Asia/Tokyo" : "Asia/Tokyo")
}
const key = { source: "shopify", account: ctx.sourceAccount, stream: "orders" }
const TABLES: ReadonlyArray<CanonicalTableName> = [
  "orders",
  "order_lines",
  "payments",
  "refunds",
  "refund_lines",
  "tax_lines",
  "inventory_movements"
]

/** The JS path: reassemble, decode with the client's schema, map, `Warehouse.load`. */
const jsPath = (text: string, context: MapContext = ctx) =>
  Effect.gen(function* () {
    const w = yield* Warehouse
    const r = new Reassembler({
      grouped: false,
      // The emulator sends no __typename on shipping lines: name children by their gid.
      childField: (child) => {
        const t =
          typeof child.__typename === "string"
            ? child.__typename
            : (/^gid:\/\/shopify\/([A-Za-z]+)\//.exec(String(child.id))?.[1] ?? "ShippingLine")
        return Resources.orders.childFieldByType[t] ?? "children"
      },
      childFields: Resources.orders.documents.bulkChildFields,
      inlineParents: Resources.orders.inlineParents
    })
    const roots: Array<Record<string, unknown>> = []
    for (const line of text.split("\n")) {
      if (line.length === 0) continue
      try {
        const v: unknown = JSON.parse(line)
        if (typeof v === "object" && v !== null && !Array.isArray(v)) r.push({ ...v }, roots)
      } catch {
        // the SQL path dead-letters it; the JS path never sees it
      }
    }
    r.end(roots)
    const decode = Schema.decodeUnknownResult(Resources.orders.schema)
    const mapper = makeShopifyOrderMapper({ locationOf: () => LOCATION })
    const rows: Partial<Record<CanonicalTableName, Array<LoadRow>>> = {}
    let rejected = 0
    for (const root of roots) {
      const decoded = decode(root)
      if (Result.isFailure(decoded)) {
        rejected++
        continue
      }
      let mapped: ReturnType<typeof mapper>
      try {
        mapped = mapper(decoded.success, context)
      } catch {
        rejected++
        continue
      }
      for (const [t, list] of Object.entries(mapped) as Array<[CanonicalTableName, ReadonlyArray<LoadRow>]>) {
        const all = rows[t] ?? []
        all.push(...list)
        rows[t] = all
      }
    }
    for (const t of TABLES) if (rows[t] !== undefined) yield* w.load(t, rows[t])
    return { rejected, orders: roots.length }
  })

const dump = (table: CanonicalTableName) =>
  Effect.gen(function* () {
    const w = yield* Warehouse
    return yield* w.query(`SELECT * FROM "${table}" ORDER BY source_id`)
  })

const withWarehouse = <A, E>(
  program: Effect.Effect<A, E, Warehouse>,
  config?: Readonly<Record<string, string>>
) =>
  Effect.runPromise(
    Effect.provide(
      program,
      Layer.fresh(DuckDbWarehouse.layer({ path: ":memory:", ...(config === undefined ? {} : { config }) }))
    )
  )

describe("staging threads from DuckDB's memory limit", () => {
  it("reads DuckDB's sizes and allows one staging thread per ~145MB, at least one, at most the connection's", () => {
    expect(parseDuckDbBytes("286.1 MiB")).toBeCloseTo(286.1 * 1024 ** 2)
    expect(parseDuckDbBytes("1.5 GiB")).toBe(1.5 * 1024 ** 3)
    expect(parseDuckDbBytes("512 bytes")).toBe(512)
    expect(parseDuckDbBytes("unlimited")).toBeNull()
    // 300MB (as DuckDB reports it) keeps two threads; 270MB ran out of memory with two.
    expect(stagingThreadsFor(2, parseDuckDbBytes("286.1 MiB"))).toBe(2)
    expect(stagingThreadsFor(2, 270e6)).toBe(1)
    expect(stagingThreadsFor(2, 100e6)).toBe(1)
    expect(stagingThreadsFor(4, 20 * 1024 ** 3)).toBe(4)
    expect(stagingThreadsFor(3, null)).toBe(3)
  })

  it("restores a limit to the text DuckDB showed (one decimal, truncated)", () => {
    // 286.1 MiB shown means [286.1, 286.2) MiB: the middle of that range shows as 286.1 again.
    expect(restorableLimit("286.1 MiB")).toBe(`${Math.round(286.15 * 1024 ** 2)} bytes`)
    expect(restorableLimit("1.5 GiB")).toBe(`${Math.round(1.55 * 1024 ** 3)} bytes`)
    expect(restorableLimit("512 bytes")).toBe("512 bytes")
    expect(restorableLimit("unlimited")).toBeNull()
  })
})

describe("BulkLoader.loadShopifyOrdersFile (DuckDB SQL path)", () => {
  let dir: string
  let file: string
  let text: string
  let sandbox: Awaited<ReturnType<typeof startSandbox>>

  beforeAll(async () => {
    sandbox = await startSandbox({ seed: 11, scale: 400, malformedPerSource: 3, timeScale: 1000 })
    text = await bulkExport(sandbox.shopify.baseUrl, sandbox.shopify.credentials.accessToken)
    dir = mkdtempSync(join(tmpdir(), "kura-bulk-sql-"))
    file = join(dir, "orders.jsonl")
    writeFileSync(file, text)
  }, 120_000)

  afterAll(async () => {
    await sandbox?.close()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it("writes the same rows as the JS mapper, table by table, and dead-letters the same orders", async () => {
    const js = await withWarehouse(
      Effect.gen(function* () {
        const r = yield* jsPath(text)
        const tables: Record<string, ReadonlyArray<unknown>> = {}
        for (const t of TABLES) tables[t] = yield* dump(t)
        return { ...r, tables }
      })
    )
    const sql = await withWarehouse(
      Effect.gen(function* () {
        const w = yield* Warehouse
        const result = yield* BulkLoader.loadShopifyOrdersFile({
          warehouse: w,
          file,
          context: ctx,
          locationId: LOCATION,
          key,
          ordersPerPass: 120
        })
        const tables: Record<string, ReadonlyArray<unknown>> = {}
        for (const t of TABLES) tables[t] = yield* dump(t)
        const letters = yield* w.listDeadLetters()
        return { result, tables, letters }
      })
    )
    expect(js.rejected).toBe(3)
    expect(sql.letters.filter((l) => l.reason === "map")).toHaveLength(3)
    for (const t of TABLES) {
      expect(sql.tables[t]?.length, t).toBeGreaterThan(0)
      expect(sql.tables[t], t).toEqual(js.tables[t])
    }
    expect(sql.result.tables.orders?.inserted).toBe(js.orders - 3)
    // Each letter holds the order's own lines, so it can be replayed.
    const letter = sql.letters.find((l) => l.reason === "map")
    expect(letter?.payload.split("\n")[0]).toContain(`"legacyResourceId":"${letter?.sourceId}"`)
    expect(letter?.detail).toMatch(/not (a decimal|an ISO-8601 timestamp)/)
  }, 120_000)

  it("dead-letters unparseable and orphan lines, loads the rest, and a reload changes nothing", async () => {
    const broken = join(dir, "broken.jsonl")
    writeFileSync(broken, text)
    appendFileSync(broken, '{"__typename":"Order","id":"gid://shopify/Order/1", truncated\n')
    appendFileSync(
      broken,
      '{"__typename":"LineItem","id":"gid://shopify/LineItem/9","__parentId":"gid://shopify/Order/404"}\n'
    )
    const out = await withWarehouse(
      Effect.gen(function* () {
        const w = yield* Warehouse
        const load = BulkLoader.loadShopifyOrdersFile({
          warehouse: w,
          file: broken,
          context: ctx,
          locationId: LOCATION,
          key
        })
        const first = yield* load
        const second = yield* load
        const letters = yield* w.listDeadLetters()
        const n = yield* w.query("SELECT count(*) AS n FROM orders")
        return { first, second, letters, orders: Number(n[0]?.n) }
      })
    )
    const decode = out.letters.filter((l) => l.reason === "decode")
    // Two loads, so each letter twice.
    const orphan =
      '{"__typename":"LineItem","id":"gid://shopify/LineItem/9","__parentId":"gid://shopify/Order/404"}'
    const truncated = '{"__typename":"Order","id":"gid://shopify/Order/1", truncated'
    expect(decode.map((l) => l.payload).sort()).toEqual([orphan, orphan, truncated, truncated])
    expect(out.letters.filter((l) => l.reason === "map")).toHaveLength(6)
    expect(out.first.tables.orders?.inserted).toBe(out.orders)
    expect(out.second.tables.orders?.inserted).toBe(0)
    expect(out.second.tables.orders?.updated).toBe(0)
    expect(out.second.tables.orders?.unchanged).toBe(out.orders)
    expect(out.first.rejectedLines).toBe(out.second.rejectedLines)
    expect(out.first.rejectedLines).toBeGreaterThanOrEqual(2 + 3)
    expect(out.first.lines).toBe(text.split("\n").filter((l) => l.length > 0).length + 2)
  }, 120_000)

  it("appends with INSERT into an account's empty tables, MERGEs once it has rows: a newer copy wins, a late older one is ignored", async () => {
    const orderLines = text
      .split("\n")
      .filter((l) => l.startsWith('{"__typename":"Order"') && l.includes('"refunds":[]'))
    const shift = (line: string | undefined, hours: number, name: string) => {
      const o = JSON.parse(line ?? "{}") as { updatedAt: string }
      const at = new Date(Date.parse(o.updatedAt) + hours * 3_600_000).toISOString().replace(".000Z", "Z")
      return (line ?? "")
        .replace(`"updatedAt":"${o.updatedAt}"`, `"updatedAt":"${at}"`)
        .replace(/"name":"[^"]*"/, `"name":"${name}"`)
    }
    const idOf = (line: string | undefined) =>
      (JSON.parse(line ?? "{}") as { legacyResourceId: string }).legacyResourceId
    const [newer, older] = [orderLines[0], orderLines[1]]
    const update = join(dir, "update.jsonl")
    writeFileSync(update, `${shift(newer, 1, "#NEWER")}\n${shift(older, -1, "#OLDER")}\n`)
    const out = await withWarehouse(
      Effect.gen(function* () {
        const w = yield* Warehouse
        const load = (f: string, account: string) =>
          BulkLoader.loadShopifyOrdersFile({
            warehouse: w,
            file: f,
            context: { ...ctx, sourceAccount: account },
            locationId: LOCATION,
            key
          })
        const first = yield* load(file, ctx.sourceAccount)
        const before = yield* dump("orders")
        const second = yield* load(update, ctx.sourceAccount)
        // Another shop in the same warehouse: its tables are empty for it, so it appends again.
        const other = yield* load(update, "other-shop.myshopify.com")
        const names = yield* w.query(
          `SELECT source_account, source_id, order_number FROM orders WHERE source_id IN ('${idOf(newer)}', '${idOf(older)}') ORDER BY 1, 2`
        )
        const after = yield* w.query(
          `SELECT * FROM orders WHERE source_account = '${ctx.sourceAccount}' ORDER BY source_id`
        )
        return { first, second, other, names, before, after }
      })
    )
    for (const t of TABLES) expect(out.first.writes?.[t], t).toBe("insert")
    expect(out.second.writes?.orders).toBe("merge")
    expect(out.other.writes?.orders).toBe("insert")
    expect(out.second.tables.orders).toMatchObject({ received: 2, inserted: 0, updated: 1, unchanged: 1 })
    const byKey = new Map(
      out.names.map((r) => [`${String(r.source_account)}/${String(r.source_id)}`, r.order_number])
    )
    expect(byKey.get(`${ctx.sourceAccount}/${idOf(newer)}`)).toBe("#NEWER")
    expect(byKey.get(`${ctx.sourceAccount}/${idOf(older)}`)).not.toBe("#OLDER")
    expect(byKey.get(`other-shop.myshopify.com/${idOf(older)}`)).toBe("#OLDER")
    // Only the newer order changed in the first account.
    const changed = out.after.filter((r, i) => JSON.stringify(r) !== JSON.stringify(out.before[i]))
    expect(changed.map((r) => r.source_id)).toEqual([idOf(newer)])
    expect(out.after).toHaveLength(out.before.length)
  }, 120_000)

  it("stages on one thread when asked (memory for speed), with the same tables, and restores the thread count", async () => {
    const load = (stagingThreads?: number) =>
      withWarehouse(
        Effect.gen(function* () {
          const w = yield* Warehouse
          yield* w.query("SET threads = 3")
          yield* BulkLoader.loadShopifyOrdersFile({
            warehouse: w,
            file,
            context: ctx,
            locationId: LOCATION,
            key,
            ...(stagingThreads === undefined ? {} : { stagingThreads })
          })
          const tables: Record<string, ReadonlyArray<unknown>> = {}
          for (const t of TABLES) tables[t] = yield* dump(t)
          const threads = (yield* w.query("SELECT current_setting('threads')::INTEGER AS n"))[0]?.n
          return { tables, threads: Number(threads) }
        })
      )
    const [all, one] = [await load(), await load(1)]
    expect(one.threads).toBe(3)
    for (const t of TABLES) {
      expect(one.tables[t]?.length, t).toBeGreaterThan(0)
      expect(one.tables[t], t).toEqual(all.tables[t])
    }
  }, 120_000)

  it("maps within the mappingMemoryLimit asked for, with the same tables, and gives the connection's limit back exactly", async () => {
    // Every statement the loader runs, to see the limit it sets (not observable from outside).
    const load = (mappingMemoryLimit?: string | null) =>
      withWarehouse(
        Effect.gen(function* () {
          const w = yield* Warehouse
          const before = (yield* w.query("SELECT current_setting('memory_limit') AS m"))[0]?.m
          const ran: Array<string> = []
          const spy = <A, E, R>(use: (sql: ExclusiveSql) => Effect.Effect<A, E, R>) =>
            w.exclusive((sql) =>
              use({
                ...sql,
                run: (q, p) => {
                  ran.push(q)
                  return sql.run(q, p)
                }
              })
            )
          const result = yield* Effect.result(
            BulkLoader.loadShopifyOrdersFile({
              warehouse: { ...w, exclusive: spy },
              file,
              context: ctx,
              locationId: LOCATION,
              key,
              ...(mappingMemoryLimit === undefined ? {} : { mappingMemoryLimit })
            })
          )
          const tables: Record<string, ReadonlyArray<unknown>> = {}
          for (const t of TABLES) tables[t] = yield* dump(t)
          const after = (yield* w.query("SELECT current_setting('memory_limit') AS m"))[0]?.m
          return { result, tables, before, after, sets: ran.filter((q) => q.includes("memory_limit")) }
        }),
        { memory_limit: "300MB", threads: "2" }
      )
    const [asked, byDefault, kept, tiny] = [
      await load("150MB"),
      await load(),
      await load(null),
      await load("1KB")
    ]
    expect(asked.before).toBe("286.1 MiB")
    expect(asked.after).toBe("286.1 MiB")
    // 150MB, then the connection's own limit back; by default (or null) the limit is left alone.
    expect(asked.sets[0]).toContain("'150000000 bytes'")
    expect(asked.sets).toHaveLength(2)
    expect(byDefault.sets).toEqual([])
    expect(kept.sets).toEqual([])
    expect(Result.isSuccess(asked.result) && Result.isSuccess(byDefault.result)).toBe(true)
    for (const t of TABLES) {
      expect(asked.tables[t]?.length, t).toBeGreaterThan(0)
      expect(asked.tables[t], t).toEqual(byDefault.tables[t])
    }
    // A limit asked for is applied (1KB cannot hold the load: it fails) and given back all the same.
    expect(Result.isFailure(tiny.result)).toBe(true)
    expect(tiny.after).toBe("286.1 MiB")
  }, 120_000)

  it("refuses a mappingMemoryLimit that is not a DuckDB size, naming the option", async () => {
    const out = await withWarehouse(
      Effect.gen(function* () {
        const w = yield* Warehouse
        return yield* Effect.flip(
          BulkLoader.loadShopifyOrdersFile({
            warehouse: w,
            file,
            context: ctx,
            locationId: LOCATION,
            key,
            mappingMemoryLimit: "lots"
          })
        )
      })
    )
    expect(out.reason).toBe("InvalidInput")
    expect(out.message).toContain("mappingMemoryLimit")
  }, 60_000)

  it("books business dates in each channel's own zone, as the JS mapper does", async () => {
    // Online orders in Los Angeles, POS orders at the store in Tokyo: a day apart near midnight.
    // The emulator's Shopify orders are all online: every third becomes a POS sale.
    let n = 0
    const mixed = text.replaceAll('"sourceName":"web"', (web) => (n++ % 3 === 0 ? '"sourceName":"pos"' : web))
    const mixedFile = join(dir, "mixed.jsonl")
    writeFileSync(mixedFile, mixed)
    const zoned: MapContext = {
      ...ctx,
      timeZoneOf: (location) => (location === null ? "America/Los_Angeles" : "Asia/Tokyo")
    }
    const dates = (table: "orders" | "refunds") =>
      Effect.gen(function* () {
        const w = yield* Warehouse
        return yield* w.query(
          `SELECT source_id, channel, CAST(business_date AS VARCHAR) AS d FROM "${table}" ORDER BY source_id`
        )
      })
    const js = await withWarehouse(
      Effect.gen(function* () {
        yield* jsPath(mixed, zoned)
        return { orders: yield* dates("orders"), refunds: yield* dates("refunds") }
      })
    )
    const sql = await withWarehouse(
      Effect.gen(function* () {
        const w = yield* Warehouse
        yield* BulkLoader.loadShopifyOrdersFile({
          warehouse: w,
          file: mixedFile,
          context: zoned,
          locationId: LOCATION,
          key
        })
        return { orders: yield* dates("orders"), refunds: yield* dates("refunds") }
      })
    )
    expect(new Set(sql.orders.map((r) => r.channel))).toEqual(new Set(["online", "pos"]))
    expect(sql.refunds.length).toBeGreaterThan(0)
    expect(sql.orders).toEqual(js.orders)
    expect(sql.refunds).toEqual(js.refunds)
  }, 120_000)

  it("stages on fewer threads when memory_limit is too small for one per DuckDB thread, instead of running out of memory", async () => {
    // Two staging threads need ~290MB: at 128MB they fail even on this small file (measured).
    const out = await withWarehouse(
      Effect.gen(function* () {
        const w = yield* Warehouse
        const result = yield* BulkLoader.loadShopifyOrdersFile({
          warehouse: w,
          file,
          context: ctx,
          locationId: LOCATION,
          key
        })
        const tables: Record<string, ReadonlyArray<unknown>> = {}
        for (const t of TABLES) tables[t] = yield* dump(t)
        const threads = (yield* w.query("SELECT current_setting('threads')::INTEGER AS n"))[0]?.n
        return { result, tables, threads: Number(threads) }
      }),
      { memory_limit: "128MB", threads: "2" }
    )
    const roomy = await withWarehouse(
      Effect.gen(function* () {
        const w = yield* Warehouse
        yield* BulkLoader.loadShopifyOrdersFile({
          warehouse: w,
          file,
          context: ctx,
          locationId: LOCATION,
          key
        })
        const tables: Record<string, ReadonlyArray<unknown>> = {}
        for (const t of TABLES) tables[t] = yield* dump(t)
        return tables
      })
    )
    expect(out.threads).toBe(2)
    expect(out.result.tables.orders?.inserted).toBeGreaterThan(0)
    for (const t of TABLES) expect(out.tables[t], t).toEqual(roomy[t])
  }, 120_000)

  it("an order listed twice in one file keeps its newest version, children included", async () => {
    const first = text
      .split("\n")
      .find((l) => l.startsWith('{"__typename":"Order"') && l.includes('"refunds":[]'))
    expect(first).toBeDefined()
    const order = JSON.parse(first ?? "{}") as { id: string; legacyResourceId: string; updatedAt: string }
    const later = new Date(Date.parse(order.updatedAt) + 3_600_000).toISOString().replace(".000Z", "Z")
    const children = text.split("\n").filter((l) => l.includes(`"__parentId":"${order.id}"`))
    const twice = join(dir, "twice.jsonl")
    writeFileSync(twice, text)
    // The newer copy first: the file's order must not decide which version wins.
    appendFileSync(
      twice,
      `${[first?.replace(`"updatedAt":"${order.updatedAt}"`, `"updatedAt":"${later}"`).replace(/"name":"[^"]*"/, '"name":"#NEWER"'), ...children].join("\n")}\n`
    )
    const out = await withWarehouse(
      Effect.gen(function* () {
        const w = yield* Warehouse
        yield* BulkLoader.loadShopifyOrdersFile({
          warehouse: w,
          file: twice,
          context: ctx,
          locationId: LOCATION,
          key
        })
        const orders = yield* w.query(
          `SELECT order_number, CAST(updated_at AS VARCHAR) AS u FROM orders WHERE source_id = '${order.legacyResourceId}'`
        )
        const lines = yield* w.query(
          `SELECT count(*) AS n, count(DISTINCT source_id) AS d, min(CAST(updated_at AS VARCHAR)) AS u FROM order_lines WHERE order_id = '${order.legacyResourceId}'`
        )
        return { orders, lines: lines[0] }
      })
    )
    expect(out.orders).toHaveLength(1)
    expect(out.orders[0]?.order_number).toBe("#NEWER")
    expect(Number(out.lines?.n)).toBe(children.filter((l) => l.includes('"LineItem"')).length)
    expect(out.lines?.n).toBe(out.lines?.d)
    expect(String(out.lines?.u)).toContain(later.slice(0, 10))
  }, 120_000)
})
