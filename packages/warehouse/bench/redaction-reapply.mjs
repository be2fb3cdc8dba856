// Redaction.reapply with a long ledger: 50 customer entries of one account whose records a later
// sync brought back, over a lake of FILES files of LINES order lines each (and as many
// `_kura_raw` rows), DuckDB in memory and a local lake directory.
// Usage (after a build): npx node bench/redaction-reapply.mjs [entries] [files] [lines]
//   (default 50 20 2000; KURA_BENCH_QUICK=1 → 50 4 500). KURA_BENCH_WAREHOUSE_DIST=<dir> runs
//   the same script against another build of @kura/warehouse (e.g. an older commit's dist) for
//   a before/after in one run.
// Prints `KURA_BENCH_RESULT {json}` with wall ms, CPU-s (user + system, DuckDB's threads
// included) and the 1-minute load average at start and end.
import { mkdtempSync, rmSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { Effect, Layer, Stream } from "effect"

const quick = process.env.KURA_BENCH_QUICK === "1"
const [entries, files, lines] = [
  Number(process.argv[2] ?? 50),
  Number(process.argv[3] ?? (quick ? 4 : 20)),
  Number(process.argv[4] ?? (quick ? 500 : 2000))
]
const dist = resolve(process.env.KURA_BENCH_WAREHOUSE_DIST ?? join(import.meta.dirname, "../dist"))
const W = await import(pathToFileURL(join(dist, "index.js")).href)
const ACCOUNT = "bench-shop.myshopify.com"
const CUSTOMERS = 500
const today = new Date().toISOString().slice(0, 10)

const orderLine = (n) => {
  const c = 1000 + (n % CUSTOMERS)
  return JSON.stringify({
    __typename: "Order",
    id: `gid://shopify/Order/${900000 + n}`,
    legacyResourceId: String(900000 + n),
    name: `#${n}`,
    updatedAt: "2026-11-27T00:00:00Z",
    email: `c${c}@example.com`,
    customer: {
      id: `gid://shopify/Customer/${c}`,
      legacyResourceId: String(c),
      email: `c${c}@example.com`,
      firstName: `First${c}`,
      lastName: `Last${c}`
    },
    totalPriceSet: { shopMoney: { amount: "1200.00", currencyCode: "JPY" } }
  })
}

const dir = mkdtempSync(join(tmpdir(), "kura-bench-redact-"))
const store = W.LocalObjectStore.layer(dir)
const layer = Layer.mergeAll(W.DuckDbWarehouse.layerMemory, store, W.RawLake.layer.pipe(Layer.provide(store)))

const program = Effect.gen(function* () {
  const w = yield* W.Warehouse
  const objects = yield* W.ObjectStore
  const lake = yield* W.RawLake
  yield* w.migrate
  const redaction = W.makeRedaction(w, objects)
  // The requests first (cheap passes over an empty account), then the sync that brings them back.
  for (let i = 0; i < entries; i++)
    yield* redaction.redactCustomer({
      source: "shopify",
      sourceAccount: ACCOUNT,
      customerId: String(1000 + i)
    })
  const key = { source: "shopify", account: ACCOUNT, stream: "orders" }
  for (let f = 0; f < files; f++) {
    const batch = Array.from({ length: lines }, (_, i) => orderLine(f * lines + i))
    const obj = yield* lake.writeBatch({
      key,
      batchId: `b${f}`,
      dt: today,
      lines: Stream.fromIterable(batch)
    })
    yield* W.RawLoader.loadRawBatch({
      warehouse: w,
      key,
      batch: obj,
      lines: Stream.fromIterable(batch),
      fetchedAt: new Date().toISOString()
    })
  }
  const load0 = loadavg()[0]
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const outs = yield* redaction.reapply()
  const ms = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  const rows = outs.reduce((n, o) => n + o.rowsChanged, 0)
  const changedFiles = outs.reduce((n, o) => n + o.filesChanged, 0)
  console.log(
    `KURA_BENCH_RESULT ${JSON.stringify({
      figure: `redaction reapply, ${entries} ledger entries, ${files}x${lines} lake lines`,
      value: Math.round(ms),
      unit: "ms",
      cpuSeconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(2)),
      rowsChanged: rows,
      filesChanged: changedFiles,
      load1: [Number(load0.toFixed(2)), Number(loadavg()[0].toFixed(2))],
      cpus: cpus().length,
      dist
    })}`
  )
})

try {
  await Effect.runPromise(Effect.provide(program, layer))
} finally {
  rmSync(dir, { recursive: true, force: true })
}
