// The fast path's DuckDB work, window after window, without the sandbox's HTTP or bulk waits: a
// quick reproduction of how kura-backfill's RSS grows with the history it has loaded.
//
// Usage (after `npm run build -w @kura/warehouse -w @kura/backfill`), from apps/backfill:
//   npx node bench/window-memory.mjs [windows=30] [ordersPerWindow=10000]
// Knobs (environment, as for kura-backfill): KURA_DUCKDB_MEMORY_LIMIT (256MB), KURA_DUCKDB_THREADS
// (1), MALLOC_ARENA_MAX / MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ (set on the child), and
// KURA_BENCH_DUCKDB_SET="k=v;k=v" (extra DuckDB settings), KURA_BENCH_CHECKPOINT=1|raw|load (CHECKPOINT
// after each window, after its raw load, or after the raw load and every canonical load), KURA_BENCH_COUNT=json|id (the loaded count), KURA_BENCH_RAW=file|perfile|none (how `_kura_raw` is loaded),
// KURA_BENCH_CANONICAL=0 (skip the canonical load), KURA_ORDERS_PER_LOAD (cut each window into
// files of this many orders, as kura-backfill does; default: one file per window).
//
// Input: the sandbox's own bulk export of 500 orders (the client's bulk query), replicated with
// shifted ids into one file per window, so every window holds new orders as in a backfill (the
// windows cut `updated_at`). The child process loads them into one DuckDB file in order: the raw
// load (`RawFileLoader.loadRawFiles`) then `BulkLoader.loadShopifyOrdersFile`, and prints its
// RSS after each window (MiB) and its peak, CPU seconds and the load average.
import { fork } from "node:child_process"
import { createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const self = fileURLToPath(import.meta.url)
const TEMPLATE_ORDERS = 500
const SHOP = "kura-sandbox.myshopify.com"

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

const writeWindow = async (template, file, firstCopy, copies) => {
  const out = createWriteStream(file)
  for (let k = firstCopy; k < firstCopy + copies; k++) {
    const shift = BigInt(k) * 10n ** 15n
    const text = `${template.map((l) => l.replace(GID, (_, p, d) => p + (BigInt(d) + shift))).join("\n")}\n`
    if (!out.write(text)) await new Promise((r) => out.once("drain", r))
  }
  await new Promise((r) => out.end(r))
}

const rssMiB = () => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))
  return m === null ? 0 : Math.round(Number(m[1]) / 1024)
}

const child = async (dir, files) => {
  const { Effect } = await import("effect")
  const W = await import("@kura/warehouse")
  const extra = Object.fromEntries(
    (process.env.KURA_BENCH_DUCKDB_SET ?? "")
      .split(";")
      .filter(Boolean)
      .map((kv) => kv.split("="))
  )
  const config = {
    memory_limit: process.env.KURA_DUCKDB_MEMORY_LIMIT ?? "256MB",
    threads: process.env.KURA_DUCKDB_THREADS ?? "1",
    ...extra
  }
  // KURA_BENCH_RAW_PRECREATE="<payload column options>": create `_kura_raw` first with these
  // column options (e.g. "USING COMPRESSION zstd"), to try a storage before it is in Tables.ts.
  if (process.env.KURA_BENCH_RAW_PRECREATE) {
    const { DuckDBInstance } = await import("@duckdb/node-api")
    const version = process.env.KURA_BENCH_STORAGE_VERSION
    const db = await DuckDBInstance.create(
      join(dir, "kura.duckdb"),
      version === undefined ? {} : { storage_compatibility_version: version }
    )
    const c = await db.connect()
    await c.run(`CREATE TABLE _kura_raw (source VARCHAR NOT NULL, source_account VARCHAR NOT NULL, stream VARCHAR NOT NULL,
      source_id VARCHAR NOT NULL, updated_at TIMESTAMPTZ, payload JSON ${process.env.KURA_BENCH_RAW_PRECREATE} NOT NULL,
      fetched_at TIMESTAMPTZ NOT NULL, _batch_id VARCHAR NOT NULL, lake_path VARCHAR)`)
    c.closeSync()
    db.closeSync()
  }
  const layer = W.DuckDbWarehouse.layer({ path: join(dir, "kura.duckdb"), config })
  const key = { source: "shopify", account: SHOP, stream: "orders" }
  const rawMode = process.env.KURA_BENCH_RAW ?? "file"
  const series = []
  // The peak within each window (DuckDB runs queries off the event loop, so a timer can sample).
  let windowPeak = 0
  const sampler = setInterval(() => {
    windowPeak = Math.max(windowPeak, rssMiB())
  }, 100)
  const started = performance.now()
  const program = Effect.gen(function* () {
    const w = yield* W.Warehouse
    for (const [i, group] of files.entries()) {
      // A window is one or more load files (comma-joined), as kura-backfill cuts a window's
      // result into loads of KURA_ORDERS_PER_LOAD orders: one raw statement, then one
      // canonical load per file.
      const parts = group.split(",")
      const batchId = `window-${i}`
      // "file": one raw statement over the window's files; "perfile": one per file.
      const rawGroups = rawMode === "file" ? [parts] : rawMode === "perfile" ? parts.map((p) => [p]) : []
      for (const [k, group] of rawGroups.entries())
        yield* W.RawFileLoader.loadRawFiles({
          warehouse: w,
          key,
          files: group,
          batchId,
          lakePath: `lake/${batchId}.jsonl.gz`,
          fetchedAt: "2026-11-27T00:00:00.000Z",
          replaceBatch: k === 0
        })
      if (process.env.KURA_BENCH_CHECKPOINT === "raw") yield* w.exclusive((sql) => sql.run("CHECKPOINT"))
      if (process.env.KURA_BENCH_CHECKPOINT === "load") yield* w.exclusive((sql) => sql.run("CHECKPOINT"))
      if (process.env.KURA_BENCH_CANONICAL !== "0")
        for (const file of parts) {
          yield* W.BulkLoader.loadShopifyOrdersFile({
            warehouse: w,
            file,
            context: {
              source: "shopify",
              sourceAccount: SHOP,
              syncedAt: "2026-11-27T00:00:00.000Z",
              batchId,
              timeZoneOf: () => "Asia/Tokyo"
            },
            locationId: "70000000001",
            key,
            origin: file
          })
          if (process.env.KURA_BENCH_CHECKPOINT === "load") yield* w.exclusive((sql) => sql.run("CHECKPOINT"))
        }
      if (process.env.KURA_BENCH_CHECKPOINT === "1") yield* w.exclusive((sql) => sql.run("CHECKPOINT"))
      // KURA_BENCH_COUNT=json|id: kura-backfill's loaded-order count of the batch, from the
      // payloads (json) or from the ids (id).
      if (process.env.KURA_BENCH_COUNT)
        yield* w.query(
          `SELECT COUNT(DISTINCT source_id) AS n FROM _kura_raw WHERE _batch_id = '${batchId}' AND ${process.env.KURA_BENCH_COUNT === "id" ? "source_id LIKE 'gid://shopify/Order/%'" : "json_extract_string(payload, '$.__parentId') IS NULL"}`
        )
      series.push(Math.max(windowPeak, rssMiB()))
      windowPeak = 0
    }
    if (process.env.KURA_BENCH_STORAGE === "1")
      console.log(
        JSON.stringify(
          yield* w.query(
            "SELECT column_name, compression, count(*) AS segments, CAST(sum(count) AS BIGINT) AS rows FROM pragma_storage_info('_kura_raw') WHERE column_name = 'payload' GROUP BY ALL"
          )
        )
      )
    const mem = yield* w.query("SELECT CAST(SUM(memory_usage_bytes) AS BIGINT) AS b FROM duckdb_memory()")
    return Math.round(Number(mem[0]?.b ?? 0) / 2 ** 20)
  })
  const duck = await Effect.runPromise(Effect.provide(program, layer))
  clearInterval(sampler)
  const u = process.resourceUsage()
  process.send({
    series,
    duckDbMiB: duck,
    peakMiB: Math.round(u.maxRSS / 1024),
    dbMiB: Math.round(statSync(join(dir, "kura.duckdb")).size / 2 ** 20),
    cpuSeconds: +((u.userCPUTime + u.systemCPUTime) / 1e6).toFixed(1),
    wallSeconds: +((performance.now() - started) / 1000).toFixed(1)
  })
}

if (process.argv[2] === "--child") {
  await child(process.argv[3], process.argv.slice(4))
} else {
  const windows = Number(process.argv[2] ?? 30)
  const perWindow = Number(process.argv[3] ?? 10_000)
  const dir = mkdtempSync(join(tmpdir(), "kura-window-memory-"))
  try {
    const template = await sandboxExport()
    const copies = Math.max(1, Math.round(perWindow / TEMPLATE_ORDERS))
    const perLoad = Math.max(
      1,
      Math.round(Number(process.env.KURA_ORDERS_PER_LOAD ?? perWindow) / TEMPLATE_ORDERS)
    )
    const files = []
    for (let i = 0; i < windows; i++) {
      const parts = []
      for (let first = 0; first < copies; first += perLoad) {
        const file = join(dir, `window-${i}-${first}.jsonl`)
        await writeWindow(template, file, i * copies + first, Math.min(perLoad, copies - first))
        parts.push(file)
      }
      files.push(parts.join(","))
    }
    const load0 = loadavg()[0].toFixed(1)
    const result = await new Promise((resolve, reject) => {
      const p = fork(self, ["--child", dir, ...files], { stdio: "inherit" })
      let msg
      p.on("message", (m) => {
        msg = m
      })
      p.on("exit", (code) => (code === 0 && msg ? resolve(msg) : reject(new Error(`child exited ${code}`))))
    })
    const knobs = Object.fromEntries(
      Object.entries(process.env).filter(([k]) =>
        /^(MALLOC_\w+|LD_PRELOAD|KURA_DUCKDB_\w+|KURA_BENCH_\w+)$/.test(k)
      )
    )
    console.log(`peak RSS MiB within each window: ${result.series.join(" ")}`)
    console.log(
      `KURA_BENCH_RESULT ${JSON.stringify({
        figure: `window memory: ${windows} windows × ${copies * TEMPLATE_ORDERS} orders, peak RSS`,
        value: result.peakMiB,
        unit: "MiB",
        lastMiB: result.series.at(-1),
        duckDbMiB: result.duckDbMiB,
        dbFileMiB: result.dbMiB,
        cpuSeconds: result.cpuSeconds,
        wallSeconds: result.wallSeconds,
        knobs,
        loadavg: `${load0} → ${loadavg()[0].toFixed(1)}`
      })}`
    )
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
