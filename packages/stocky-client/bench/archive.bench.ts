/**
 * Archive import and live paging throughput with peak RSS. CSV: 50k purchase orders with 200k
 * lines (PO lines are grouped in memory, POs stream). Raw pages: 100k suppliers in 400 pages of
 * 250. Live: 20k suppliers paged at limit 250 from a local server. A measurement, not an assertion.
 */

import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Redacted, Stream } from "effect"
import { test } from "vitest"
import { directoryReader, readArchive, StockyClient } from "../src/index.js"
import { startStockyServer } from "../test/support/stockyServer.js"

const peak = () => {
  let max = process.memoryUsage().rss
  const timer = setInterval(() => {
    max = Math.max(max, process.memoryUsage().rss)
  }, 20)
  return () => {
    clearInterval(timer)
    return Math.round(Math.max(max, process.memoryUsage().rss) / 1024 / 1024)
  }
}

const report = (label: string, records: number, ms: number, rssMb: number) =>
  console.log(
    `${label}: ${records} records in ${ms} ms (${Math.round((records / ms) * 1000)}/s), peak RSS ${rssMb} MB`
  )

const writeLines = async (file: string, lines: Iterable<string>) => {
  const out = fs.createWriteStream(file)
  for (const line of lines)
    if (!out.write(`${line}\n`)) await new Promise<void>((r) => out.once("drain", () => r()))
  await new Promise<void>((resolve) => out.end(resolve))
}

test("CSV archive: 50k POs + 200k lines", { timeout: 600_000 }, async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "stocky-bench-"))
  try {
    const POS = 50_000
    await writeLines(
      path.join(dir, "purchase_orders.csv"),
      (function* () {
        yield "id,number,created_at,updated_at,supplier_id,currency,shipping,paid,archived"
        for (let i = 1; i <= POS; i++)
          yield `${i},${i}A,2025-01-01T00:00:00Z,2025-01-02T00:00:00Z,${(i % 40) + 1},JPY,1200.00,false,false`
      })()
    )
    await writeLines(
      path.join(dir, "purchase_order_items.csv"),
      (function* () {
        yield "purchase_order_id,id,sku,quantity,retail_price,cost_price,updated_at,inventory_item_id,status"
        for (let i = 1; i <= POS; i++)
          for (let k = 0; k < 4; k++)
            yield `${i},${i * 10 + k},SKU-${k},${k + 1},49.61,"12.30",02/01/2025 09:15,${44_000_000_000 + k},not delivered`
      })()
    )
    const stop = peak()
    const started = Date.now()
    const count = await Effect.runPromise(
      Stream.runFold(
        readArchive(directoryReader(dir), "purchase_orders"),
        () => 0,
        (n) => n + 1
      )
    )
    report("csv purchase_orders", count, Date.now() - started, stop())
  } finally {
    await fsp.rm(dir, { recursive: true, force: true })
  }
})

test("raw-page archive: 100k suppliers in 400 pages", { timeout: 600_000 }, async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "stocky-bench-"))
  try {
    await fsp.mkdir(path.join(dir, "raw", "suppliers"), { recursive: true })
    for (let p = 0; p < 400; p++) {
      const suppliers = Array.from({ length: 250 }, (_, i) => {
        const id = p * 250 + i + 1
        return {
          id,
          name: `Supplier ${id}`,
          created_at: "2025-01-01T00:00:00.000Z",
          updated_at: "2025-01-01T00:00:00.000Z",
          is_hidden: false
        }
      })
      await fsp.writeFile(
        path.join(dir, "raw", "suppliers", `page-${String(p + 1).padStart(4, "0")}.json`),
        JSON.stringify({ suppliers })
      )
    }
    const stop = peak()
    const started = Date.now()
    const count = await Effect.runPromise(
      Stream.runFold(
        readArchive(directoryReader(dir), "suppliers"),
        () => 0,
        (n) => n + 1
      )
    )
    report("raw suppliers", count, Date.now() - started, stop())
  } finally {
    await fsp.rm(dir, { recursive: true, force: true })
  }
})

test("live paging: 20k suppliers at limit 250", { timeout: 600_000 }, async () => {
  const server = await startStockyServer({ count: 20_000 })
  try {
    const stop = peak()
    const started = Date.now()
    const count = await Effect.runPromise(
      Effect.flatMap(StockyClient, (c) =>
        Stream.runFold(
          c.suppliers(),
          () => 0,
          (n) => n + 1
        )
      ).pipe(
        Effect.provide(
          StockyClient.layerTest({
            baseUrl: server.baseUrl,
            storeName: server.storeName,
            apiKey: Redacted.make(server.apiKey)
          })
        )
      )
    )
    report("live suppliers (unthrottled)", count, Date.now() - started, stop())
  } finally {
    await server.close()
  }
})
