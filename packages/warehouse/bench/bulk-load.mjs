// Bulk JSONL → canonical DuckDB tables, with its two baselines in the same run.
// Usage: npm run bench -w @kura/warehouse   (builds first; KURA_BENCH_QUICK=1 → 5k orders: quick runs prove it works)
//   or, after a build: npx node bench/bulk-load.mjs [orders…]   (default: 100000 1000000)
//
// Input: the sandbox's own Shopify bulk export of the orders resource (the client's bulk query,
// interleaved output: Order lines, then LineItem / ShippingLine / RefundLineItem / refund
// OrderTransaction lines carrying `__parentId`), 500 orders, replicated with shifted ids up to
// the size measured. Every path reads the same file.
//
// Paths, each in its own child process so its peak RSS (resourceUsage().maxRSS: JS heap, DuckDB
// and everything else) and CPU time (user + system, DuckDB's threads included) are its own:
//   sql       BulkLoader.loadShopifyOrdersFile: DuckDB reads the file once into a compact typed
//             staging table and maps it in SQL into all seven order tables (plain INSERT into an
//             empty target; MERGE, newer updated_at wins, when the account already has rows),
//             in passes of 1M orders (default) over the staged lines.
//   sql-memory-safe  the same with the staging read on one DuckDB thread, memory_limit 150MB and
//             MALLOC_ARENA_MAX=2 (full runs; KURA_BENCH_MEMORY_SAFE=0 skips it, =1 adds it to quick)
//   naive     read the whole file, JSON.parse every line, reassemble, decode, map with
//             makeShopifyOrderMapper, one Warehouse.load per table. It holds everything in memory
//             (a 100k-order file is a string longer than V8 allows), so it is measured on a
//             sample it can hold (KURA_BENCH_NAIVE_ORDERS, default 20k orders) and its time is
//             extrapolated per line to the biggest size, labelled as such.
//   read_json DuckDB's read_ndjson of the same columns into a table: no mapping, no MERGE (floor).
// Lines per CPU-second is the figure other load on a shared machine distorts least: every row
// carries the load average (1 min) at its start and end.
import { fork } from "node:child_process"
import { createWriteStream, mkdtempSync, rmSync, statSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const self = fileURLToPath(import.meta.url)
const TEMPLATE_ORDERS = 500
const duckConfig = {
  memory_limit: process.env.KURA_BENCH_DUCKDB_MEMORY ?? "300MB",
  threads: process.env.KURA_BENCH_DUCKDB_THREADS ?? "2",
  preserve_insertion_order: "false",
  // DuckDB keeps freed memory in its allocator up to this threshold (default 128MB): kura-backfill
  // runs with 8MB (KURA_DUCKDB_ALLOCATOR_FLUSH). KURA_BENCH_DUCKDB_ALLOCATOR_FLUSH sets it here.
  ...(process.env.KURA_BENCH_DUCKDB_ALLOCATOR_FLUSH === undefined
    ? {}
    : { allocator_flush_threshold: process.env.KURA_BENCH_DUCKDB_ALLOCATOR_FLUSH })
}
const ctx = {
  source: "shopify",
  sourceAccount: "kura-sandbox.myshopify.com",
  syncedAt: "2026-11-26T00:00:00.000Z",
  batchId: "bench",
  timeZoneOf: () => "Asia/Tokyo"
}
const LOCATION = "70000000001"

/** The sandbox's bulk export of its first orders: the template replicated below. */
const sandboxExport = async () => {
  const { startSandbox } = await import("@kura/sandbox")
  const { Resources } = await import("@kura/shopify-client")
  const sandbox = await startSandbox({ seed: 42, scale: TEMPLATE_ORDERS, timeScale: 1000 })
  try {
    const url = `${sandbox.shopify.baseUrl}/admin/api/2026-01/graphql.json`
    const gql = async (query, variables = {}) =>
      (
        await fetch(url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "x-shopify-access-token": sandbox.shopify.credentials.accessToken
          },
          body: JSON.stringify({ query, variables })
        })
      ).json()
    await gql("mutation($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id } } }", {
      q: Resources.orders.documents.bulk(null)
    })
    for (;;) {
      const op = (await gql("{ currentBulkOperation { status url } }")).data.currentBulkOperation
      if (op?.status === "COMPLETED") return (await (await fetch(op.url)).text()).split("\n").filter(Boolean)
      if (op?.status === "FAILED") throw new Error("sandbox bulk export failed")
      await new Promise((r) => setTimeout(r, 50))
    }
  } finally {
    await sandbox.close()
  }
}

const GID = /(gid:\/\/shopify\/[A-Za-z]+\/|"legacyResourceId":")(\d+)/g

/** Writes `copies` copies of the template (ids shifted per copy) into each target while it wants more. */
const writeCopies = async (template, targets) => {
  const outs = targets.map((t) => ({ ...t, stream: createWriteStream(t.file), lines: 0 }))
  const most = Math.max(...targets.map((t) => t.copies))
  for (let k = 0; k < most; k++) {
    const shift = BigInt(k) * 10n ** 15n
    const text =
      k === 0
        ? `${template.join("\n")}\n`
        : `${template.map((l) => l.replace(GID, (_, p, d) => p + (BigInt(d) + shift))).join("\n")}\n`
    for (const o of outs) {
      if (k >= o.copies) continue
      o.lines += template.length
      if (!o.stream.write(text)) await new Promise((r) => o.stream.once("drain", r))
    }
  }
  await Promise.all(
    outs.map((o) => new Promise((r) => o.stream.end(r)).then(() => ({ file: o.file, lines: o.lines })))
  )
  return outs.map((o) => ({ file: o.file, lines: o.lines }))
}

const cpuNow = () => {
  const u = process.resourceUsage()
  return u.userCPUTime + u.systemCPUTime
}

/** Child: one measurement. */
const child = async (kind, file, dir) => {
  const { Effect, Layer, Result, Schema } = await import("effect")
  const W = await import("../dist/index.js")
  const db = join(dir, `${kind}-${Date.now()}.duckdb`)
  const rss = []
  const sampler = setInterval(() => rss.push(Math.round(process.memoryUsage().rss / 1e6)), 500)
  const started = performance.now()
  const cpu0 = cpuNow()
  let out
  if (kind === "read_json") {
    const { DuckDBInstance } = await import("@duckdb/node-api")
    const instance = await DuckDBInstance.create(db, duckConfig)
    const c = await instance.connect()
    await c.run(`CREATE TABLE raw AS SELECT * FROM ${W.BulkLoader.shopifyOrdersReader(file)}`)
    const r = await c.runAndReadAll("SELECT COUNT(*)::INTEGER AS n FROM raw")
    out = { lines: Number(r.getRowObjectsJS()[0].n) }
    c.closeSync()
    instance.closeSync()
  } else {
    const layer = Layer.fresh(W.DuckDbWarehouse.layer({ path: db, config: duckConfig }))
    const key = { source: "shopify", account: ctx.sourceAccount, stream: "orders" }
    const program = Effect.gen(function* () {
      const w = yield* W.Warehouse
      if (kind === "naive") {
        // Read everything, parse everything, then insert: the pattern the loader replaces.
        const { readFileSync } = yield* Effect.promise(() => import("node:fs"))
        const { Reassembler, Resources } = yield* Effect.promise(() => import("@kura/shopify-client"))
        const all = readFileSync(file, "utf8").split("\n").filter(Boolean)
        const r = new Reassembler({
          grouped: false,
          childField: (c) => {
            const t =
              typeof c.__typename === "string"
                ? c.__typename
                : (/^gid:\/\/shopify\/([A-Za-z]+)\//.exec(String(c.id))?.[1] ?? "ShippingLine")
            return Resources.orders.childFieldByType[t] ?? "children"
          },
          childFields: Resources.orders.documents.bulkChildFields,
          inlineParents: Resources.orders.inlineParents
        })
        const roots = []
        for (const line of all) r.push(JSON.parse(line), roots)
        r.end(roots)
        const decode = Schema.decodeUnknownResult(Resources.orders.schema)
        const mapper = W.makeShopifyOrderMapper({ locationOf: () => LOCATION })
        const rows = {}
        for (const root of roots) {
          const d = decode(root)
          if (Result.isFailure(d)) continue
          for (const [t, list] of Object.entries(mapper(d.success, ctx))) {
            rows[t] ??= []
            for (const row of list) rows[t].push(row)
          }
        }
        const inserted = {}
        for (const [t, list] of Object.entries(rows)) inserted[t] = (yield* w.load(t, list)).inserted
        return { lines: all.length, inserted }
      }
      const result = yield* W.BulkLoader.loadShopifyOrdersFile({
        warehouse: w,
        file,
        context: ctx,
        locationId: LOCATION,
        key,
        // KURA_BENCH_STAGING_THREADS=1 (with KURA_BENCH_DUCKDB_MEMORY=150MB): the memory-for-speed
        // setting of the staging read.
        ...(process.env.KURA_BENCH_STAGING_THREADS === undefined
          ? {}
          : { stagingThreads: Number(process.env.KURA_BENCH_STAGING_THREADS) }),
        // KURA_BENCH_MAPPING_MEMORY=150MB: mappingMemoryLimit, the memory_limit after the staging
        // read ("keep" or unset: the connection's own limit throughout).
        ...(process.env.KURA_BENCH_MAPPING_MEMORY === undefined
          ? {}
          : {
              mappingMemoryLimit:
                process.env.KURA_BENCH_MAPPING_MEMORY === "keep"
                  ? null
                  : process.env.KURA_BENCH_MAPPING_MEMORY
            })
      })
      const inserted = {}
      for (const [t, r] of Object.entries(result.tables)) inserted[t] = r.inserted
      return { lines: result.lines, rejected: result.rejectedLines, inserted }
    })
    out = await Effect.runPromise(Effect.provide(program, layer))
  }
  clearInterval(sampler)
  const u = process.resourceUsage()
  // Run directly (`--child <kind> <file> <dir>`, no parent): print the measurement instead.
  const report =
    process.send?.bind(process) ?? ((m) => console.log(JSON.stringify({ ...m, rssSamples: undefined })))
  report({
    ...out,
    wallSeconds: (performance.now() - started) / 1000,
    cpuSeconds: (u.userCPUTime + u.systemCPUTime - cpu0) / 1e6,
    peakRssMB: Math.round(u.maxRSS / 1024),
    rssSamples: rss
  })
}

// The memory-safe setting, measured in the same run as the default: the staging read on one
// DuckDB thread (it holds ~100 MB per thread), `memory_limit` 150MB, and glibc limited to two
// malloc arenas as kura-sync and kura-backfill run (BoundedRuntime / KURA_NODE_HEAP_MB banner set
// MALLOC_ARENA_MAX=2). KURA_BENCH_MEMORY_SAFE=0 skips it; quick runs skip it unless =1.
const MEMORY_SAFE_ENV = {
  KURA_BENCH_STAGING_THREADS: "1",
  KURA_BENCH_DUCKDB_MEMORY: "150MB",
  MALLOC_ARENA_MAX: "2"
}

const runChild = (kind, file, dir, env = {}) =>
  new Promise((resolve) => {
    const loadBefore = +loadavg()[0].toFixed(1)
    const p = fork(self, ["--child", kind, file, dir], { stdio: "inherit", env: { ...process.env, ...env } })
    let msg
    p.on("message", (m) => {
      msg = m
    })
    // A failed measurement (e.g. out of memory) is reported, not fatal: the others still run.
    p.on("exit", (code) =>
      resolve(
        code === 0 && msg
          ? { ...msg, load: `${loadBefore}→${+loadavg()[0].toFixed(1)}` }
          : { error: `${kind} exited ${code}` }
      )
    )
  })

// Each result is printed as it lands, so a run stopped early still leaves its figures.
const row = (path, orders, r, extrapolateTo) => {
  const out = r.error !== undefined ? { path, orders, error: r.error } : okRow(path, orders, r, extrapolateTo)
  console.log(`# result ${JSON.stringify(out)}`)
  return out
}
const okRow = (path, orders, r, extrapolateTo) => ({
  path,
  orders,
  lines: r.lines,
  wallSeconds: +r.wallSeconds.toFixed(2),
  cpuSeconds: +r.cpuSeconds.toFixed(2),
  linesPerSecond: Math.round(r.lines / r.wallSeconds),
  linesPerCpuSecond: Math.round(r.lines / r.cpuSeconds),
  peakRssMB: r.peakRssMB,
  loadAverage1m: r.load,
  ...(extrapolateTo
    ? {
        extrapolatedTo: extrapolateTo,
        extrapolatedWallSeconds: +((r.wallSeconds * extrapolateTo) / r.lines).toFixed(1),
        extrapolatedCpuSeconds: +((r.cpuSeconds * extrapolateTo) / r.lines).toFixed(1)
      }
    : {}),
  ...(r.inserted ? { inserted: r.inserted } : {}),
  ...(r.rejected !== undefined ? { rejected: r.rejected } : {}),
  rssMBSampled: r.rssSamples.length > 0 ? `${Math.min(...r.rssSamples)}–${Math.max(...r.rssSamples)}` : "n/a"
})

const main = async () => {
  const quick = process.env.KURA_BENCH_QUICK === "1"
  const sizes = process.argv
    .slice(2)
    .map(Number)
    .filter((n) => n > 0)
  const orderCounts = (sizes.length > 0 ? sizes : quick ? [5_000] : [100_000, 1_000_000]).map(
    (n) => Math.max(1, Math.round(n / TEMPLATE_ORDERS)) * TEMPLATE_ORDERS
  )
  const dir = mkdtempSync(join(process.env.KURA_BENCH_DIR ?? tmpdir(), "kura-bulk-bench-"))
  try {
    const template = await sandboxExport()
    const naiveOrders =
      Math.max(
        1,
        Math.round(
          Math.min(...orderCounts, Number(process.env.KURA_BENCH_NAIVE_ORDERS ?? 20_000)) / TEMPLATE_ORDERS
        )
      ) * TEMPLATE_ORDERS
    const targets = [
      ...orderCounts.map((n) => ({
        orders: n,
        file: join(dir, `orders-${n}.jsonl`),
        copies: n / TEMPLATE_ORDERS
      })),
      { orders: naiveOrders, file: join(dir, "naive.jsonl"), copies: naiveOrders / TEMPLATE_ORDERS }
    ]
    const written = await writeCopies(template, targets)
    for (const [i, t] of targets.entries()) {
      console.log(
        `# ${t.orders} orders → ${written[i].lines} JSONL lines, ${(statSync(t.file).size / 1e6).toFixed(0)} MB (${t.file.endsWith("naive.jsonl") ? "naive sample" : "measured"})`
      )
    }
    const results = []
    // Quick runs (CI: proof the bench works, under a 30 s cap) skip it unless asked for.
    const memorySafe = quick
      ? process.env.KURA_BENCH_MEMORY_SAFE === "1"
      : process.env.KURA_BENCH_MEMORY_SAFE !== "0"
    for (const t of targets.slice(0, -1)) {
      results.push(row("sql: BulkLoader.loadShopifyOrdersFile", t.orders, await runChild("sql", t.file, dir)))
      if (memorySafe)
        results.push(
          row(
            "sql-memory-safe: BulkLoader.loadShopifyOrdersFile, stagingThreads 1, memory_limit 150MB, MALLOC_ARENA_MAX=2",
            t.orders,
            await runChild("sql", t.file, dir, MEMORY_SAFE_ENV)
          )
        )
    }
    const biggestLines = written[targets.length - 2].lines
    const naive = targets[targets.length - 1]
    results.push(
      row(
        `naive: read all, parse all, map, insert (measured at ${naive.orders} orders, extrapolated per line)`,
        naive.orders,
        await runChild("naive", naive.file, dir),
        biggestLines
      )
    )
    for (const t of targets.slice(0, -1)) {
      results.push(
        row(
          "read_json: DuckDB read_ndjson into a table (floor)",
          t.orders,
          await runChild("read_json", t.file, dir)
        )
      )
    }
    const report = {
      machine: `${cpus().length}× ${cpus()[0]?.model ?? "cpu"}`,
      loadAverage: loadavg().map((l) => +l.toFixed(1)),
      duckdb: duckConfig,
      results
    }
    console.log(JSON.stringify(report, null, 2))
    const ours = results.filter((r) => r.path.startsWith("sql:") && r.error === undefined)
    const safe = results.filter((r) => r.path.startsWith("sql-memory-safe") && r.error === undefined)
    if (ours.length === 0) throw new Error("every measurement of our path failed")
    const floorOf = (orders) =>
      results.find((r) => r.path.startsWith("read_json") && r.orders === orders && r.error === undefined)
    const naiveRow = results.find((r) => r.path.startsWith("naive") && r.error === undefined)
    const line = (figure, value, extra = {}) =>
      console.log(`KURA_BENCH_RESULT ${JSON.stringify({ figure, value, ...extra })}`)
    for (const r of ours) {
      const floor = floorOf(r.orders)
      line(`bulk JSONL → 7 DuckDB tables, ${r.orders} orders: lines/s (wall)`, r.linesPerSecond, {
        unit: "lines/s",
        target: "≥ 200,000",
        met: r.linesPerSecond >= 200_000,
        cpuSeconds: r.cpuSeconds,
        linesPerCpuSecond: r.linesPerCpuSecond,
        load: r.loadAverage1m
      })
      if (floor)
        line(
          `bulk JSONL ${r.orders} orders: ours vs read_json floor (wall, CPU)`,
          `${(r.wallSeconds / floor.wallSeconds).toFixed(2)}× / ${(r.cpuSeconds / floor.cpuSeconds).toFixed(2)}×`,
          {
            floorLinesPerSecond: floor.linesPerSecond,
            floorCpuSeconds: floor.cpuSeconds,
            load: floor.loadAverage1m
          }
        )
      if (naiveRow)
        line(
          `bulk JSONL ${r.orders} orders: ours vs naive, lines per CPU-s`,
          `${(r.linesPerCpuSecond / naiveRow.linesPerCpuSecond).toFixed(1)}×`,
          {
            naiveLinesPerCpuSecond: naiveRow.linesPerCpuSecond,
            naiveMeasuredAtOrders: naiveRow.orders,
            naiveLinesPerSecond: naiveRow.linesPerSecond
          }
        )
    }
    const rssLine = (label, rows) =>
      line(
        `bulk JSONL${label}: peak RSS at ${rows.map((r) => r.orders).join(" / ")} orders`,
        rows.map((r) => r.peakRssMB).join(" / "),
        {
          unit: "MB",
          target: "≤ 500, flat",
          met:
            rows.every((r) => r.peakRssMB <= 500) &&
            Math.max(...rows.map((r) => r.peakRssMB)) - Math.min(...rows.map((r) => r.peakRssMB)) <= 50
        }
      )
    rssLine("", ours)
    for (const r of safe) {
      const same = ours.find((o) => o.orders === r.orders)
      line(
        `bulk JSONL → 7 DuckDB tables, memory-safe setting, ${r.orders} orders: lines/s (wall)`,
        r.linesPerSecond,
        {
          unit: "lines/s",
          cpuSeconds: r.cpuSeconds,
          linesPerCpuSecond: r.linesPerCpuSecond,
          peakRssMB: r.peakRssMB,
          ...(same
            ? {
                wallVsDefault: +(r.wallSeconds / same.wallSeconds).toFixed(2),
                defaultPeakRssMB: same.peakRssMB
              }
            : {}),
          load: r.loadAverage1m
        }
      )
    }
    if (safe.length > 0) rssLine(", memory-safe setting", safe)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[2] === "--child") {
  const [, , , kind, file, dir] = process.argv
  await child(kind, file, dir)
} else {
  await main()
}
