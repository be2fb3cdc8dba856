// Bulk JSONL → canonical DuckDB tables benchmark, with its two baselines in the same run.
// Usage: npm run bench -w @kura/warehouse   (builds first; KURA_BENCH_QUICK=1 → 100k orders only)
//   or, after a build: npx node bench/bulk-load.mjs [orders…]   (default: 100000 1000000)
// Each measurement runs in its own child process so peak RSS (resourceUsage().maxRSS) and CPU
// time (user + system, DuckDB's threads included) belong to that measurement alone; lines per
// CPU-second is the figure that other load on a shared machine does not distort.
//
// The input is the Shopify bulk-operation shape: one order line, then its line items as separate
// lines carrying `__parentId` (grouped output), money as MoneyBag sets. It is written to a temp
// file first, and all three paths read that same file.
import { fork } from "node:child_process"
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"

const LINES_PER_ORDER = 3
const self = fileURLToPath(import.meta.url)

const money = (amount, currency = "JPY") => ({
  shopMoney: { amount, currencyCode: currency },
  presentmentMoney: { amount, currencyCode: currency }
})

/** Writes `orders` orders (each with two line items) as Shopify bulk JSONL. */
const writeJsonl = async (file, orders) => {
  const out = createWriteStream(file)
  let buf = ""
  for (let i = 0; i < orders; i++) {
    const gid = `gid://shopify/Order/${i + 1}`
    const total = `${1000 + (i % 997)}.5`
    buf += `${JSON.stringify({
      id: gid,
      legacyResourceId: String(i + 1),
      name: `#${1000 + i}`,
      createdAt: "2026-01-04T16:30:00Z",
      updatedAt: "2026-01-05T00:00:00Z",
      processedAt: "2026-01-04T16:30:00Z",
      cancelledAt: null,
      closed: false,
      currencyCode: "JPY",
      presentmentCurrencyCode: "JPY",
      displayFinancialStatus: "PAID",
      displayFulfillmentStatus: "FULFILLED",
      sourceName: i % 5 === 0 ? "pos" : "web",
      customer: { legacyResourceId: String(5000 + (i % 1000)) },
      subtotalPriceSet: money(total),
      totalDiscountsSet: money("0.0"),
      totalShippingPriceSet: money("0.0"),
      totalTaxSet: money("91.0"),
      totalPriceSet: money(total),
      totalRefundedSet: money("0.0")
    })}\n`
    for (let j = 1; j <= 2; j++) {
      buf += `${JSON.stringify({
        id: `gid://shopify/LineItem/${i * 2 + j}`,
        sku: j === 1 ? "TEA-001" : "CUP-002",
        title: j === 1 ? "Sencha" : "Cup",
        variantTitle: null,
        quantity: j,
        product: { id: `gid://shopify/Product/${j}` },
        variant: { id: `gid://shopify/ProductVariant/${10 + j}` },
        originalUnitPriceSet: money("500.25"),
        totalDiscountSet: money("0.0"),
        discountedTotalSet: money(j === 1 ? "500.25" : "1000.5"),
        __parentId: gid
      })}\n`
    }
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await new Promise((r) => out.once("drain", r))
      buf = ""
    }
  }
  out.end(buf)
  await new Promise((r) => out.once("close", r))
}

const gidId = (gid) => gid.slice(gid.lastIndexOf("/") + 1)

/** Per-line mapper for bulk order output: order lines → orders, LineItem lines → order_lines. */
const makeMapper = (W) => (r, c) => {
  if (r.__parentId !== undefined) {
    return {
      order_lines: [
        {
          ...W.lineage(c, gidId(r.id), c.syncedAt),
          order_id: gidId(r.__parentId),
          product_id: r.product ? gidId(r.product.id) : null,
          variant_id: r.variant ? gidId(r.variant.id) : null,
          sku: r.sku,
          title: r.variantTitle === null ? r.title : `${r.title} - ${r.variantTitle}`,
          quantity: r.quantity,
          unit_price: r.originalUnitPriceSet.shopMoney.amount,
          discount: r.totalDiscountSet.shopMoney.amount,
          total: r.discountedTotalSet.shopMoney.amount,
          unit_price_presentment: r.originalUnitPriceSet.presentmentMoney.amount,
          total_presentment: r.discountedTotalSet.presentmentMoney.amount
        }
      ]
    }
  }
  const channel = r.sourceName === "pos" ? "pos" : "online"
  return {
    orders: [
      {
        ...W.lineage(c, r.legacyResourceId, r.updatedAt),
        channel,
        order_number: r.name,
        customer_id: r.customer?.legacyResourceId ?? null,
        currency: r.currencyCode,
        subtotal: r.subtotalPriceSet.shopMoney.amount,
        discounts: r.totalDiscountsSet.shopMoney.amount,
        shipping: r.totalShippingPriceSet.shopMoney.amount,
        tax: r.totalTaxSet.shopMoney.amount,
        total: r.totalPriceSet.shopMoney.amount,
        refunded: r.totalRefundedSet.shopMoney.amount,
        presentment_currency: r.presentmentCurrencyCode,
        total_presentment: r.totalPriceSet.presentmentMoney.amount,
        financial_status: r.displayFinancialStatus,
        fulfillment_status: r.displayFulfillmentStatus,
        status: r.cancelledAt !== null ? "cancelled" : r.closed ? "closed" : "open",
        created_at: r.createdAt,
        processed_at: r.processedAt,
        business_date: W.businessDate(r.createdAt, "Asia/Tokyo"),
        cancelled_at: r.cancelledAt
      }
    ]
  }
}

const rssSamples = []
const ctx = {
  source: "shopify",
  sourceAccount: "bench.myshopify.com",
  syncedAt: "2026-01-10T00:00:00Z",
  batchId: "bench",
  timeZoneOf: () => "Asia/Tokyo"
}
const duckConfig = {
  memory_limit: process.env.KURA_BENCH_DUCKDB_MEMORY ?? "256MB",
  threads: process.env.KURA_BENCH_DUCKDB_THREADS ?? "2",
  preserve_insertion_order: "false"
}

const usage = (startedWall, startCpu) => {
  const u = process.resourceUsage()
  return {
    wallSeconds: (performance.now() - startedWall) / 1000,
    cpuSeconds: (u.userCPUTime + u.systemCPUTime - startCpu) / 1e6,
    peakRssMB: Math.round(u.maxRSS / 1024)
  }
}
const cpuNow = () => {
  const u = process.resourceUsage()
  return u.userCPUTime + u.systemCPUTime
}

/** Child: one measurement. */
const child = async (kind, file, lineLimit, dir) => {
  const { Effect, Stream } = await import("effect")
  const W = await import("../dist/index.js")
  const { DuckDBInstance } = await import("@duckdb/node-api")
  const db = join(dir, `${kind}-${lineLimit}.duckdb`)
  const started = performance.now()
  const cpu0 = cpuNow()
  let out
  if (kind === "read_json") {
    const instance = await DuckDBInstance.create(db, duckConfig)
    const c = await instance.connect()
    await c.run(
      `CREATE TABLE raw AS SELECT * FROM read_ndjson('${file}', columns = {id: 'VARCHAR', legacyResourceId: 'VARCHAR', updatedAt: 'TIMESTAMPTZ', totalPriceSet: 'STRUCT(shopMoney STRUCT(amount DECIMAL(38,9)))', sku: 'VARCHAR', quantity: 'BIGINT', __parentId: 'VARCHAR'})`
    )
    const r = await c.runAndReadAll("SELECT COUNT(*)::INTEGER AS n FROM raw")
    out = { lines: Number(r.getRowObjectsJS()[0].n) }
    c.closeSync()
    instance.closeSync()
  } else {
    const mapper = makeMapper(W)
    const layer = W.DuckDbWarehouse.layer({ path: db, config: duckConfig })
    const key = { source: "shopify", account: "bench", stream: "orders" }
    const program = Effect.gen(function* () {
      const w = yield* W.Warehouse
      if (kind === "naive") {
        // Read everything, parse everything, then insert: the pattern the loader replaces.
        const { readFileSync } = yield* Effect.promise(() => import("node:fs"))
        const all = readFileSync(file, "utf8")
          .split("\n")
          .filter((l) => l.length > 0)
          .slice(0, lineLimit)
        const rows = { orders: [], order_lines: [] }
        for (const r of all.map((l) => JSON.parse(l))) {
          for (const [t, rs] of Object.entries(mapper(r, ctx))) rows[t].push(...rs)
        }
        const o = yield* w.load("orders", rows.orders)
        const l = yield* w.load("order_lines", rows.order_lines)
        return { lines: all.length, inserted: { orders: o.inserted, order_lines: l.inserted } }
      }
      let seen = 0
      const rl = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY })
      const lines = Stream.fromAsyncIterable(rl, (e) => e).pipe(
        Stream.take(lineLimit),
        Stream.rechunk(4096),
        Stream.mapArray((chunk) => {
          // RSS every 300k lines (100k orders): flat means it does not grow with the file.
          const before = seen
          seen += chunk.length
          if (Math.floor(seen / 300_000) > Math.floor(before / 300_000)) {
            rssSamples.push(`${seen}:${Math.round(process.memoryUsage().rss / 1e6)}MB`)
          }
          return chunk
        })
      )
      const chunkSize = process.env.KURA_BENCH_CHUNK ? Number(process.env.KURA_BENCH_CHUNK) : undefined
      const result = yield* W.BulkLoader.loadJsonl({
        warehouse: w,
        lines,
        mapper,
        context: ctx,
        key,
        origin: file,
        ...(chunkSize ? { chunkSize } : {})
      })
      return {
        lines: result.lines,
        rejected: result.rejectedLines,
        rssSamples,
        inserted: { orders: result.tables.orders?.inserted, order_lines: result.tables.order_lines?.inserted }
      }
    })
    out = await Effect.runPromise(Effect.provide(program, layer))
  }
  if (process.env.KURA_BENCH_MEM) console.error(process.memoryUsage())
  process.send({ ...out, ...usage(started, cpu0) })
}

const runChild = (kind, file, lines, dir) =>
  new Promise((resolve, reject) => {
    const p = fork(self, ["--child", kind, file, String(lines), dir], { stdio: "inherit" })
    let msg
    p.on("message", (m) => {
      msg = m
    })
    p.on("exit", (code) => (code === 0 && msg ? resolve(msg) : reject(new Error(`${kind} exited ${code}`))))
  })

const fmt = (kind, r, extrapolatedTo) => {
  const scale = extrapolatedTo ? extrapolatedTo / r.lines : 1
  return {
    path: kind,
    lines: r.lines,
    wallSeconds: +r.wallSeconds.toFixed(2),
    cpuSeconds: +r.cpuSeconds.toFixed(2),
    linesPerSecond: Math.round(r.lines / r.wallSeconds),
    linesPerCpuSecond: Math.round(r.lines / r.cpuSeconds),
    peakRssMB: r.peakRssMB,
    ...(extrapolatedTo ? { extrapolatedWallSeconds: +(r.wallSeconds * scale).toFixed(1) } : {}),
    ...(r.inserted ? { inserted: r.inserted } : {}),
    ...(r.rssSamples ? { rssSamples: r.rssSamples.join(" ") } : {})
  }
}

const main = async () => {
  const quick = process.env.KURA_BENCH_QUICK === "1"
  const sizes = process.argv
    .slice(2)
    .map(Number)
    .filter((n) => n > 0)
  const orderCounts = sizes.length > 0 ? sizes : quick ? [100_000] : [100_000, 1_000_000]
  const dir = mkdtempSync(join(tmpdir(), "kura-bulk-bench-"))
  try {
    const biggest = Math.max(...orderCounts)
    const file = join(dir, "orders.jsonl")
    await writeJsonl(file, biggest)
    console.log(
      `# ${biggest} orders → ${biggest * LINES_PER_ORDER} JSONL lines, ${(statSync(file).size / 1e6).toFixed(0)} MB`
    )
    const results = []
    for (const n of orderCounts) {
      results.push({
        orders: n,
        ...fmt("BulkLoader.loadJsonl", await runChild("loader", file, n * LINES_PER_ORDER, dir))
      })
    }
    if (process.env.KURA_BENCH_BASELINES === "0") {
      console.log(JSON.stringify(results, null, 2))
      return
    }
    // Baselines: naive on at most 100k orders (it holds everything in memory), extrapolated.
    const sampleOrders = Math.min(biggest, 100_000)
    const sample = sampleOrders * LINES_PER_ORDER
    const sampleFile = join(dir, "sample.jsonl")
    await writeJsonl(sampleFile, sampleOrders)
    results.push(
      fmt(
        "naive read-all/parse-all/insert",
        await runChild("naive", sampleFile, sample, dir),
        biggest * LINES_PER_ORDER
      )
    )
    results.push(
      fmt("DuckDB read_ndjson (floor, no mapping/merge)", await runChild("read_json", file, 0, dir))
    )
    console.log(
      JSON.stringify(
        { machine: `${(await import("node:os")).cpus().length} cores`, duckdb: duckConfig, results },
        null,
        2
      )
    )
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[2] === "--child") {
  const [, , , kind, file, lines, dir] = process.argv
  await child(kind, file, Number(lines), dir)
} else {
  await main()
}
