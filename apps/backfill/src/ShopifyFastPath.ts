/**
 * Shopify orders on DuckDB through the fast path: each finished bulk job's result is written to a
 * local file byte for byte (`BulkDownload.downloadTo`, no JSON parsing in Node), gzipped unchanged
 * into the raw lake, then DuckDB does the rest: `_kura_raw` gets one row per line straight from
 * the file (`read_ndjson_objects`) and `BulkLoader.loadShopifyOrdersFile` maps the canonical
 * tables. Memory is the download buffers plus DuckDB's bounded `memory_limit`, whatever the
 * window size: no window is ever held in the JS heap.
 *
 * The window's slicing keeps the bulk export's rules: a job that fails with partial data keeps
 * its complete prefix (the roots before the last second it reached) and only the rest of the
 * window is exported again, in a smaller slice; slices grow back when jobs are quick.
 */
import { createReadStream, createWriteStream, type WriteStream } from "node:fs"
import { mkdtemp, readdir, rm, truncate } from "node:fs/promises"
import { hostname, tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { pipeline, Readable } from "node:stream"
import { createGzip } from "node:zlib"
import { isDeadLocalProcess } from "@kura/core"
import { BulkDownload, Resources, ShopifyBulk, type TimeWindow } from "@kura/shopify-client"
import {
  BulkLoader,
  type ExclusiveSql,
  type LakeObject,
  lakePath,
  ObjectStore,
  Warehouse
} from "@kura/warehouse"
import { Effect, Semaphore, Stream } from "effect"
import { BackfillError } from "./BackfillError.js"
import type { ShopInfo } from "./Canonical.js"
import type { PlannedWindow } from "./Plan.js"
import { batchIdOf, countWindow, rawKey } from "./ShopifyWindow.js"
import type { WindowOutcome } from "./WindowOutcome.js"

/** One downloaded (and, for partial data, trimmed) bulk result of a window. */
export interface WindowFile {
  readonly file: string
  readonly jobId: string
  /** Lines kept (orders and their children). */
  readonly lines: number
  /** Orders (root lines) kept. */
  readonly roots: number
}

/** Settings of the fast path. */
export interface FastPathOptions {
  /** Where the per-window download directories go (default: the OS temp dir). */
  readonly tempDir?: string
  /** Smallest slice before a failing window is reported (default 1 minute). */
  readonly minSliceMillis?: number
  /** A job slower than this halves the next slice; four times faster doubles it (default 20 min). */
  readonly targetJobMillis?: number
  /**
   * Orders per DuckDB load (default 10,000): a larger result is cut at order boundaries into
   * files of at most this many orders, so each load's working set stays bounded whatever the
   * window holds (a 30-day window of a 1M-order shop is ~200 MB; one load of it ran DuckDB out
   * of memory).
   */
  readonly ordersPerLoad?: number
}

const failed = (message: string) => new BackfillError({ reason: "Failed", message })
const why = (e: unknown) => (e instanceof Error ? e.message : String(e))

/** What `trimPartial` kept of a partial result, and where the window must go on from. */
interface Trimmed {
  readonly lines: number
  readonly roots: number
  /** The second (ms) the re-run starts at, or null when nothing usable was kept. */
  readonly resumeAt: number | null
}

/**
 * Keeps the complete prefix of a partial result: every order (with its children, which follow it
 * in grouped output) whose `updatedAt` second is before the last second the file reached. Orders
 * of that last second may be incomplete or cut, so they are dropped and re-read by the gap re-run
 * from that second, which therefore neither loses nor repeats an order. Returns null when the
 * roots are not ordered by `updatedAt` (then the partial data cannot mark a point in time).
 */
export const trimPartial = (file: string): Promise<Trimmed | null> =>
  (async () => {
    const rl = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY })
    let offset = 0
    let lines = 0
    let roots = 0
    let lastSecond = -1
    let cutAt = 0
    let keptLines = 0
    let keptRoots = 0
    try {
      for await (const line of rl) {
        const size = Buffer.byteLength(line) + 1
        let parsed: unknown
        try {
          parsed = JSON.parse(line)
        } catch {
          // A cut last line: everything from here on is dropped.
          break
        }
        if (typeof parsed !== "object" || parsed === null) break
        if (!("__parentId" in parsed)) {
          const at =
            "updatedAt" in parsed && typeof parsed.updatedAt === "string" ? Date.parse(parsed.updatedAt) : NaN
          if (Number.isNaN(at)) return null
          const second = Math.floor(at / 1000)
          if (second < lastSecond) return null
          if (second > lastSecond) {
            lastSecond = second
            cutAt = offset
            keptLines = lines
            keptRoots = roots
          }
          roots++
        }
        lines++
        offset += size
      }
    } finally {
      rl.close()
    }
    if (roots === 0) {
      await truncate(file, 0)
      return { lines: 0, roots: 0, resumeAt: null }
    }
    await truncate(file, cutAt)
    return { lines: keptLines, roots: keptRoots, resumeAt: lastSecond * 1000 }
  })()

/**
 * Cuts a grouped bulk file into files of at most `maxOrders` orders each, at order boundaries
 * (children follow their order, so every part is whole). A line is an order when it has no
 * `"__parentId"` key (inside a JSON string those quotes would be escaped). The original is removed.
 */
export const splitByOrders = async (
  file: string,
  maxOrders: number
): Promise<ReadonlyArray<{ readonly file: string; readonly lines: number; readonly roots: number }>> => {
  const parts: Array<{ file: string; lines: number; roots: number }> = []
  const rl = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY })
  let out: WriteStream | null = null
  let current: { file: string; lines: number; roots: number } | null = null
  const close = (w: WriteStream) =>
    new Promise<void>((resolve, reject) => w.end((e?: Error | null) => (e ? reject(e) : resolve())))
  try {
    for await (const line of rl) {
      if (line.length === 0) continue
      const root = !line.includes('"__parentId"')
      if (current === null || out === null || (root && current.roots >= maxOrders)) {
        if (out !== null) await close(out)
        current = { file: `${file}.${parts.length}.jsonl`, lines: 0, roots: 0 }
        parts.push(current)
        out = createWriteStream(current.file)
      }
      if (root) current.roots++
      current.lines++
      if (!out.write(`${line}\n`)) await new Promise<void>((resolve) => out?.once("drain", () => resolve()))
    }
  } finally {
    rl.close()
    if (out !== null) await close(out)
  }
  await rm(file, { force: true })
  return parts
}

/**
 * Exports a window's orders with bulk jobs into local files: one file per COMPLETED slice, plus
 * the trimmed prefix of any partial result. Fails when a slice fails even at the smallest size.
 */
export const fetchWindowFiles = Effect.fn("ShopifyFastPath.fetchWindowFiles")(function* (
  window: TimeWindow,
  dir: string,
  options: FastPathOptions = {}
) {
  const bulk = yield* ShopifyBulk
  const minSlice = options.minSliceMillis ?? 60_000
  const target = options.targetJobMillis ?? 20 * 60_000
  const maxSlice = Math.max(minSlice, window.end - window.start)
  const files: Array<WindowFile> = []
  const jobs: Array<string> = []
  let start = window.start
  let slice = maxSlice
  let part = 0
  while (start < window.end) {
    // Search dates have whole seconds: slices end on one, so they neither overlap nor leave a gap.
    const sliceEnd = Math.min(window.end, Math.ceil((start + slice) / 1000) * 1000)
    const job = yield* bulk.run(Resources.orders, { start, end: sliceEnd })
    jobs.push(job.record.jobId)
    const op = job.operation
    const file = join(dir, `part-${part++}.jsonl`)
    if (op.status === "COMPLETED") {
      const got = yield* BulkDownload.downloadTo(job, file)
      files.push({ file, jobId: op.id, lines: got.lines, roots: Number(String(op.rootObjectCount)) })
      slice =
        job.durationMillis > target
          ? Math.max(minSlice, Math.floor(slice / 2))
          : job.durationMillis < target / 4
            ? Math.min(maxSlice, slice * 2)
            : slice
      start = sliceEnd
      continue
    }
    if (op.status === "EXPIRED" || slice <= minSlice) {
      return yield* failed(
        `bulk job ${op.id} for ${new Date(start).toISOString()}..${new Date(sliceEnd).toISOString()} ended ${op.status}${op.errorCode === null ? "" : ` (${op.errorCode})`} even at the smallest slice`
      )
    }
    yield* Effect.logWarning(
      "Bulk job did not complete; keeping its partial data and re-running the rest smaller"
    ).pipe(Effect.annotateLogs({ jobId: op.id, status: op.status, errorCode: op.errorCode ?? "" }))
    if (op.partialDataUrl !== null) {
      yield* BulkDownload.downloadTo(job, file)
      const kept = yield* Effect.tryPromise({
        try: () => trimPartial(file),
        catch: (e) => failed(`cannot read the partial data of ${op.id}: ${why(e)}`)
      })
      if (kept !== null && kept.roots > 0 && kept.resumeAt !== null) {
        files.push({ file, jobId: op.id, lines: kept.lines, roots: kept.roots })
        start = Math.max(start, kept.resumeAt)
      }
    }
    slice = Math.max(minSlice, Math.floor(slice / 2))
  }
  return { files, jobs }
})

/** The files' bytes, concatenated and gzipped (the lake keeps Shopify's lines unchanged). */
const gzipped = (files: ReadonlyArray<string>): Stream.Stream<Uint8Array, BackfillError> =>
  Stream.suspend(() => {
    const source = Readable.from(
      (async function* () {
        for (const f of files) yield* createReadStream(f, { highWaterMark: 1 << 20 })
      })()
    )
    const gz = createGzip({ level: 6 })
    // pipeline destroys gz on a source error, which rejects the iteration below.
    pipeline(source, gz, () => {})
    return Stream.fromAsyncIterable<Uint8Array, BackfillError>(gz, (e) =>
      failed(`cannot gzip the window's bulk files: ${why(e)}`)
    )
  })

let keySeq = 0

/** A SQL string literal. */
const lit = (s: string) => `'${s.replaceAll("'", "''")}'`

/**
 * Loads the files' lines into `_kura_raw` in DuckDB: one row per line (orders and their children,
 * verbatim), keyed by the line's `id` and `updatedAt`. The batch's earlier rows are replaced, and
 * a record version already landed by another batch is not added twice (the table's key).
 */
const loadRaw = (input: {
  readonly files: ReadonlyArray<string>
  readonly shop: string
  readonly stream: string
  readonly batchId: string
  readonly lakePath: string
  readonly fetchedAt: string
  /** Removes the batch's earlier rows first (the first file of a window). */
  readonly replaceBatch: boolean
}) =>
  Effect.gen(function* () {
    const warehouse = yield* Warehouse
    if (input.files.length === 0) return 0
    const scope = `source = 'shopify' AND source_account = ${lit(input.shop)} AND stream = ${lit(input.stream)}`
    return yield* warehouse.exclusive((sql) =>
      Effect.gen(function* () {
        // Row order within the batch carries no meaning; keeping it makes DuckDB buffer the scan.
        yield* sql.run("SET preserve_insertion_order = false")
        return yield* Effect.ensuring(
          rawInsert(sql),
          Effect.ignore(sql.run("RESET preserve_insertion_order"))
        )
      })
    )
    function rawInsert(sql: ExclusiveSql) {
      return Effect.gen(function* () {
        if (input.replaceBatch)
          yield* sql.run(`DELETE FROM _kura_raw WHERE ${scope} AND _batch_id = ${lit(input.batchId)}`)
        // Lines without an id (none in Shopify's order export so far) are keyed by their content.
        const rows = `SELECT COALESCE(json ->> 'id', 'line:' || md5(CAST(json AS VARCHAR))) AS source_id,
         TRY_CAST(json ->> 'updatedAt' AS TIMESTAMPTZ) AS updated_at,
         json AS payload
  FROM read_ndjson_objects([${input.files.map(lit).join(", ")}], ignore_errors = true, maximum_object_size = 16777216)
  WHERE json IS NOT NULL`
        const insert = `INSERT INTO _kura_raw (source, source_account, stream, source_id, updated_at, payload, fetched_at, _batch_id, lake_path)
SELECT 'shopify', ${lit(input.shop)}, ${lit(input.stream)}, r.source_id, r.updated_at, r.payload, CAST(${lit(input.fetchedAt)} AS TIMESTAMPTZ), ${lit(input.batchId)}, ${lit(input.lakePath)}
FROM (${rows}) r`
        const present = yield* sql.query(`SELECT EXISTS (SELECT 1 FROM _kura_raw WHERE ${scope}) AS p`)
        // A stream with no raw row yet (a first backfill) cannot hold a line's key: append
        // without a join. Otherwise skip record versions another batch landed already (the
        // table's key), joining on the keys only so the payloads never sit in a hash table.
        if (present[0]?.p !== true) return yield* sql.run(insert)
        const keys = `_kura_raw_keys_${Date.now().toString(36)}_${(keySeq++).toString(36)}`
        return yield* Effect.ensuring(
          Effect.gen(function* () {
            yield* sql.run(
              `CREATE TEMP TABLE ${keys} AS SELECT DISTINCT t.source_id, t.updated_at FROM _kura_raw t
SEMI JOIN (SELECT COALESCE(json ->> 'id', 'line:' || md5(CAST(json AS VARCHAR))) AS source_id
           FROM read_ndjson_objects([${input.files.map(lit).join(", ")}], ignore_errors = true, maximum_object_size = 16777216)
           WHERE json IS NOT NULL) f ON t.source_id = f.source_id
WHERE t.${scope.replaceAll(" AND ", " AND t.")}`
            )
            return yield* sql.run(
              `${insert}\nANTI JOIN ${keys} k ON k.source_id = r.source_id AND k.updated_at IS NOT DISTINCT FROM r.updated_at`
            )
          }),
          Effect.ignore(sql.run(`DROP TABLE IF EXISTS ${keys}`))
        )
      })
    }
  })

/**
 * The fast-path window runner of a shop. DuckDB work (the raw and canonical loads) runs one window
 * at a time (`loads` permits) while other windows' jobs and downloads go on.
 */
export const makeFastOrdersWindow = Effect.fn("ShopifyFastPath.make")(function* (
  shop: string,
  info: ShopInfo,
  options: FastPathOptions = {}
) {
  const loads = yield* Semaphore.make(1)
  const temp = options.tempDir ?? tmpdir()
  // A killed run leaves its window files behind: remove those of dead processes of this host.
  yield* Effect.promise(async () => {
    const names = await readdir(temp).catch(() => [] as Array<string>)
    for (const name of names) {
      const m = /^kura-backfill-dl-(\d+)-/.exec(name)
      if (m !== null && isDeadLocalProcess(hostname(), Number(m[1])))
        await rm(join(temp, name), { recursive: true, force: true }).catch(() => undefined)
    }
  })
  return (window: PlannedWindow, onRecords: (n: number) => Effect.Effect<void>) =>
    Effect.gen(function* () {
      const bulk = yield* ShopifyBulk
      const store = yield* ObjectStore
      const warehouse = yield* Warehouse
      const reported = yield* countWindow(window)
      const key = rawKey(shop, window.stream)
      const batchId = batchIdOf(window)
      const fetchedAt = new Date().toISOString()
      const dir = yield* Effect.tryPromise({
        try: () => mkdtemp(join(temp, `kura-backfill-dl-${process.pid}-`)),
        catch: (e) => failed(`cannot create a temp directory for the bulk files: ${why(e)}`)
      })
      return yield* Effect.gen(function* () {
        const fetchedFiles = yield* fetchWindowFiles(window, dir, options)
        const jobs = fetchedFiles.jobs
        const perLoad = Math.max(1, options.ordersPerLoad ?? 10_000)
        const files: Array<WindowFile> = []
        for (const f of fetchedFiles.files) {
          if (f.roots <= perLoad) {
            files.push(f)
            continue
          }
          const parts = yield* Effect.tryPromise({
            try: () => splitByOrders(f.file, perLoad),
            catch: (e) => failed(`cannot split ${f.file}: ${why(e)}`)
          })
          for (const part of parts) files.push({ ...part, jobId: f.jobId })
        }
        const fetched = files.reduce((n, f) => n + f.roots, 0)
        yield* onRecords(fetched)
        // An empty slice (no orders, no URL) leaves an empty file: nothing to read or load.
        const paths = files.filter((f) => f.lines > 0).map((f) => f.file)
        const dt = new Date(window.start).toISOString().slice(0, 10)
        const path = yield* Effect.try({
          try: () => lakePath({ key, dt, batchId }),
          catch: (e) => failed(`lake path: ${why(e)}`)
        })
        const stored = yield* store.put(path, gzipped(paths), { contentType: "application/x-ndjson" })
        const object: LakeObject = {
          key,
          dt,
          batchId,
          path,
          lines: files.reduce((n, f) => n + f.lines, 0),
          bytes: 0,
          storedBytes: stored.size
        }
        const canonical = yield* loads.withPermits(1)(
          Effect.gen(function* () {
            for (const [i, file] of paths.entries())
              yield* loadRaw({
                files: [file],
                shop,
                stream: window.stream,
                batchId,
                lakePath: path,
                fetchedAt,
                replaceBatch: i === 0
              })
            let orders = 0
            for (const file of paths) {
              const r = yield* BulkLoader.loadShopifyOrdersFile({
                warehouse,
                file,
                context: {
                  source: "shopify",
                  sourceAccount: shop,
                  syncedAt: fetchedAt,
                  batchId,
                  timeZoneOf: () => info.zone
                },
                locationId: info.onlineLocation,
                key,
                origin: path
              })
              orders += r.tables.orders?.received ?? 0
            }
            // Measured, not guessed: what DuckDB holds right after the heaviest step.
            const mem = yield* warehouse.query(
              "SELECT CAST(SUM(memory_usage_bytes) AS BIGINT) AS b FROM duckdb_memory()"
            )
            return { orders, duckDbBytes: Number(mem[0]?.b ?? 0) }
          })
        )
        const rows = yield* warehouse.query(
          `SELECT COUNT(DISTINCT source_id) AS n FROM _kura_raw WHERE source = 'shopify' AND source_account = ${lit(shop)} AND stream = ${lit(window.stream)} AND _batch_id = ${lit(batchId)} AND json_extract_string(payload, '$.__parentId') IS NULL`
        )
        for (const id of jobs) yield* bulk.markLoaded(id)
        const outcome: WindowOutcome = {
          window,
          reportedCount: reported.count,
          fetched,
          loaded: Number(rows[0]?.n ?? 0),
          canonicalRows: canonical.orders,
          points: reported.points + (window.estimatedCost - 1),
          lakePath: object.path,
          duckDbBytes: canonical.duckDbBytes
        }
        return outcome
      }).pipe(Effect.ensuring(Effect.promise(() => rm(dir, { recursive: true, force: true }))))
    })
})
