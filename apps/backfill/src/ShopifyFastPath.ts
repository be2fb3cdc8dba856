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
import { BulkLoader, lakePath, ObjectStore, RawFileLoader, Sql, Warehouse } from "@kura/warehouse"
import { Effect, Semaphore, Stream } from "effect"
import { BackfillError } from "./BackfillError.js"
import type { ShopInfo } from "./Canonical.js"
import { CheckpointPacer } from "./internal/CheckpointPacer.js"
import { type MemoryTrace, noMemoryTrace } from "./MemoryTrace.js"
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
   * Orders per DuckDB load (default 20,000): a larger result is cut at order boundaries into
   * files of at most this many orders, so each load's working set stays bounded whatever the
   * window holds (a 30-day window of a 1M-order shop is ~200 MB; one load of it ran DuckDB out
   * of memory on two threads at 256MB). Each load MERGEs into the whole canonical tables, so
   * fewer, larger loads cost less CPU: with DuckDB's freed pages returned at once (main.ts), 3 ×
   * 40k-order windows took 37.8 CPU-s at 5,000 and 27.7 at 20,000, peaking at 339 / 313 MiB.
   */
  readonly ordersPerLoad?: number
  /**
   * CHECKPOINT after a window's loads (default true). The rows a load appends stay in DuckDB's
   * memory until a checkpoint writes them out, so without it the next window's raw insert ran
   * on top of them: peak RSS 436–446 → 405 MiB at `memory_limit` 160MB, and 128MB ran out of
   * memory only without it (bench/window-memory.mjs, 12 × 5,000 orders). Costs ~0.4 CPU-s per
   * window there.
   */
  readonly checkpointAfterLoads?: boolean
  /**
   * Orders appended since the last CHECKPOINT that call for the next one (default 1,000; see
   * `CheckpointPacer`). A checkpoint costs about the same whatever it writes (0.4–0.7 s on this
   * box), so after every window it dominated backfills of small windows: 25 windows of 200 orders
   * spent 16 of 56 s of DuckDB time in them. A window of at least this many orders starts and ends
   * with nothing held, as before, so the memory bound above holds. At 5,000, 4,000-order windows
   * held two windows' rows and ran out of memory at 128MB: ~20 MiB of DuckDB memory per 1,000
   * orders held.
   */
  readonly checkpointEveryOrders?: number
  /** Memory per phase, for debugging (`KURA_BACKFILL_MEMORY_TRACE`); off by default. */
  readonly trace?: MemoryTrace
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
        // A child line needs no parsing: children follow their order, so every line after the
        // last order's start (a cut last line included) belongs to the last second, which is dropped.
        if (line.includes('"__parentId"')) {
          lines++
          offset += size
          continue
        }
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

/** A file of at most `ordersPerLoad` orders, for one DuckDB load. */
export interface LoadFile {
  readonly file: string
  readonly lines: number
  readonly roots: number
}

const PARENT = Buffer.from('"__parentId"')
const NEWLINE = 0x0a

/**
 * Cuts one file's lines into files of at most `maxOrders` orders each, at order boundaries
 * (children follow their order in grouped output, so every part is whole), fed chunk by chunk.
 * A line is an order when it has no `"__parentId"` key (inside a JSON string those quotes would
 * be escaped). Whole runs of lines are written at once, not line by line.
 */
class OrderSplitter {
  readonly parts: Array<{ file: string; lines: number; roots: number }> = []
  private out: WriteStream | null = null
  private carry: Buffer = Buffer.alloc(0)

  constructor(
    private readonly base: string,
    private readonly maxOrders: number
  ) {}

  /** Takes the next bytes of the file. */
  async push(chunk: Buffer): Promise<void> {
    const buf = this.carry.length === 0 ? chunk : Buffer.concat([this.carry, chunk])
    let start = 0
    let runStart = 0
    for (;;) {
      const nl = buf.indexOf(NEWLINE, start)
      if (nl < 0) break
      if (nl > start) {
        const line = buf.subarray(start, nl)
        const root = line.indexOf(PARENT) < 0
        const current = this.parts.at(-1)
        if (current === undefined || (root && current.roots >= this.maxOrders)) {
          if (start > runStart) await this.write(buf.subarray(runStart, start))
          runStart = start
          await this.next()
        }
        const part = this.parts.at(-1)
        if (part !== undefined) {
          part.lines++
          if (root) part.roots++
        }
      }
      start = nl + 1
    }
    if (start > runStart) await this.write(buf.subarray(runStart, start))
    this.carry = Buffer.from(buf.subarray(start))
  }

  /** Ends the file (a last line without its newline gets one) and closes the last part. */
  async end(): Promise<void> {
    if (this.carry.length > 0) await this.push(Buffer.from([NEWLINE]))
    if (this.out !== null) await this.close(this.out)
    this.out = null
  }

  private async next(): Promise<void> {
    if (this.out !== null) await this.close(this.out)
    const part = { file: `${this.base}.${this.parts.length}.jsonl`, lines: 0, roots: 0 }
    this.parts.push(part)
    this.out = createWriteStream(part.file)
  }

  private async write(bytes: Buffer): Promise<void> {
    const out = this.out
    if (out === null) return
    if (!out.write(bytes)) await new Promise<void>((resolve) => out.once("drain", () => resolve()))
  }

  private close(w: WriteStream): Promise<void> {
    return new Promise<void>((resolve, reject) => w.end((e?: Error | null) => (e ? reject(e) : resolve())))
  }
}

/**
 * One pass over a window's downloaded files: their bytes, concatenated and gzipped, go to `put`
 * (the lake keeps Shopify's lines unchanged), and while they stream by, a file of more than
 * `maxOrders` orders is cut into load files of at most that many (its original is then removed).
 * A file within the limit is loaded as it is. Each file is read once.
 */
export const packWindowFiles = <A, E, R>(
  files: ReadonlyArray<WindowFile>,
  maxOrders: number,
  put: (gzipped: Stream.Stream<Uint8Array, BackfillError>) => Effect.Effect<A, E, R>
): Effect.Effect<{ readonly stored: A; readonly loads: ReadonlyArray<LoadFile> }, E | BackfillError, R> =>
  Effect.gen(function* () {
    // Fresh per read of the stream, should `put` read it again after a failed attempt.
    let splitters = new Map<string, OrderSplitter>()
    const gzipped = Stream.suspend(() => {
      splitters = new Map()
      for (const f of files)
        if (f.roots > maxOrders) splitters.set(f.file, new OrderSplitter(f.file, maxOrders))
      const source = Readable.from(
        (async function* () {
          for (const f of files) {
            const splitter = splitters.get(f.file)
            let last = NEWLINE
            for await (const chunk of createReadStream(f.file, { highWaterMark: 1 << 20 })) {
              if (!Buffer.isBuffer(chunk) || chunk.length === 0) continue
              yield chunk
              last = chunk[chunk.length - 1] ?? NEWLINE
              if (splitter !== undefined) await splitter.push(chunk)
            }
            // Files are concatenated: one without a final newline must not run into the next.
            if (last !== NEWLINE) yield Buffer.from([NEWLINE])
            if (splitter !== undefined) await splitter.end()
          }
        })()
      )
      const gz = createGzip({ level: 6 })
      // pipeline destroys gz on a source error, which rejects the iteration below.
      pipeline(source, gz, () => {})
      return Stream.fromAsyncIterable<Uint8Array, BackfillError>(gz, (e) =>
        failed(`cannot gzip or split the window's bulk files: ${why(e)}`)
      )
    })
    const stored = yield* put(gzipped)
    const loads: Array<LoadFile> = []
    for (const f of files) {
      const splitter = splitters.get(f.file)
      if (splitter === undefined) loads.push({ file: f.file, lines: f.lines, roots: f.roots })
      else {
        loads.push(...splitter.parts)
        yield* Effect.promise(() => rm(f.file, { force: true }))
      }
    }
    return { stored, loads }
  })

/**
 * Exports a window's orders with bulk jobs into local files: one file per COMPLETED slice, plus
 * the trimmed prefix of any partial result. Fails when a slice fails even at the smallest size.
 */
export const fetchWindowFiles = Effect.fn("ShopifyFastPath.fetchWindowFiles")(function* (
  window: TimeWindow & { readonly id?: string },
  dir: string,
  options: FastPathOptions = {}
) {
  const bulk = yield* ShopifyBulk
  const trace = options.trace ?? noMemoryTrace
  // The planned window's id when given, so its fetch phases trace under the same name as its loads.
  const wid = window.id ?? new Date(window.start).toISOString().slice(0, 10)
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
    const job = yield* trace.phase(wid, "bulk-job", bulk.run(Resources.orders, { start, end: sliceEnd }))
    jobs.push(job.record.jobId)
    const op = job.operation
    const file = join(dir, `part-${part++}.jsonl`)
    if (op.status === "COMPLETED") {
      const got = yield* trace.phase(wid, "download", BulkDownload.downloadTo(job, file))
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

/**
 * The orders of a window's files that this batch did not load but `_kura_raw` holds from another
 * batch at the same or a newer `updated_at` (a fetched order without one counts when any version is
 * held). An order held only at an older version is not counted: that is a real gap. Reads the
 * files' ids and timestamps only, never a payload.
 */
export const countHeldOrders = Effect.fn("ShopifyFastPath.countHeldOrders")(function* (input: {
  readonly warehouse: Warehouse["Service"]
  readonly shop: string
  readonly stream: string
  readonly batchId: string
  readonly files: ReadonlyArray<string>
}) {
  if (input.files.length === 0) return 0
  const scope = `source = 'shopify' AND source_account = ${Sql.stringLiteral(input.shop)} AND stream = ${Sql.stringLiteral(input.stream)} AND source_id LIKE 'gid://shopify/Order/%'`
  const rows = yield* input.warehouse.query(
    `WITH f AS (
  SELECT json ->> 'id' AS id,
         MAX(TRY_CAST(COALESCE(json ->> 'updatedAt', json ->> 'updated_at') AS TIMESTAMPTZ)) AS u
  FROM read_ndjson_objects([${input.files.map(Sql.stringLiteral).join(", ")}], ignore_errors = true, maximum_object_size = 16777216)
  WHERE json ->> 'id' LIKE 'gid://shopify/Order/%'
  GROUP BY 1
), r AS (SELECT source_id, updated_at, _batch_id FROM _kura_raw WHERE ${scope})
SELECT COUNT(*) AS n FROM f
WHERE NOT EXISTS (SELECT 1 FROM r WHERE r.source_id = f.id AND r._batch_id = ${Sql.stringLiteral(input.batchId)})
  AND EXISTS (SELECT 1 FROM r WHERE r.source_id = f.id AND r._batch_id <> ${Sql.stringLiteral(input.batchId)} AND (f.u IS NULL OR r.updated_at >= f.u))`
  )
  return Number(rows[0]?.n ?? 0)
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
  const trace = options.trace ?? noMemoryTrace
  const checkpoints = options.checkpointAfterLoads ?? true
  // Only touched under the `loads` permit.
  const pacer = new CheckpointPacer(Math.max(1, options.checkpointEveryOrders ?? 1_000))
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
      const wid = window.id
      const reported = yield* trace.phase(wid, "count", countWindow(window))
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
        const perLoad = Math.max(1, options.ordersPerLoad ?? 20_000)
        const fetched = fetchedFiles.files.reduce((n, f) => n + f.roots, 0)
        yield* onRecords(fetched)
        // An empty slice (no orders, no URL) leaves an empty file: nothing to read or load.
        const files = fetchedFiles.files.filter((f) => f.lines > 0)
        const dt = new Date(window.start).toISOString().slice(0, 10)
        const path = yield* Effect.try({
          try: () => lakePath({ key, dt, batchId }),
          catch: (e) => failed(`lake path: ${why(e)}`)
        })
        // One read of the downloads: gzipped into the lake while cut into loads of ≤ perLoad orders.
        const packed = yield* trace.phase(
          wid,
          "pack",
          packWindowFiles(files, perLoad, (gzipped) =>
            store.put(path, gzipped, { contentType: "application/x-ndjson" })
          )
        )
        const loadFiles = packed.loads.map((f) => f.file)
        // The data is committed either way: a checkpoint that fails only costs memory.
        const checkpoint = (when: string) =>
          trace.phase(
            wid,
            "checkpoint",
            warehouse
              .exclusive((sql) => sql.run("CHECKPOINT"))
              .pipe(
                Effect.tap(() => Effect.sync(() => pacer.done())),
                Effect.catch((e) => Effect.logWarning(`CHECKPOINT ${when} window ${window.id}: ${e.message}`))
              )
          )
        const canonical = yield* loads.withPermits(1)(
          trace.phase(
            wid,
            "loads",
            Effect.gen(function* () {
              if (checkpoints && pacer.before(fetched)) yield* checkpoint("before")
              // The raw rows in one statement over all the window's files (DuckDB streams them).
              yield* trace.phase(
                wid,
                "raw-load",
                RawFileLoader.loadRawFiles({
                  warehouse,
                  key,
                  files: loadFiles,
                  batchId,
                  lakePath: path,
                  fetchedAt,
                  replaceBatch: true
                })
              )
              let orders = 0
              for (const file of loadFiles) {
                const r = yield* trace.phase(
                  wid,
                  "canonical-load",
                  BulkLoader.loadShopifyOrdersFile({
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
                )
                orders += r.tables.orders?.received ?? 0
              }
              // Measured, not guessed: what DuckDB holds right after the heaviest step.
              const mem = yield* trace.phase(
                wid,
                "duckdb-memory",
                warehouse.query("SELECT CAST(SUM(memory_usage_bytes) AS BIGINT) AS b FROM duckdb_memory()")
              )
              if (checkpoints && pacer.after(orders)) yield* checkpoint("after")
              return { orders, duckDbBytes: Number(mem[0]?.b ?? 0) }
            }).pipe(
              // What failed loads appended is unknown: write it out before the window runs again.
              Effect.tapError(() => (checkpoints ? checkpoint("after the failed loads of") : Effect.void))
            )
          )
        )
        // Orders are the batch's rows with an Order id (children are line items, refunds and
        // transactions): counted from the key column, without reading a payload back.
        const rows = yield* trace.phase(
          wid,
          "tie-count",
          warehouse.query(
            `SELECT COUNT(DISTINCT source_id) AS n FROM _kura_raw WHERE source = 'shopify' AND source_account = ${warehouse.dialect.param("shop")} AND stream = ${warehouse.dialect.param("stream")} AND _batch_id = ${warehouse.dialect.param("batch")} AND source_id LIKE 'gid://shopify/Order/%'`,
            { shop, stream: window.stream, batch: batchId }
          )
        )
        const loaded = Number(rows[0]?.n ?? 0)
        // Versions another batch landed first are not loaded again (the raw table's key): count
        // those the warehouse holds at the same or a newer version, only when the batch falls short.
        const alreadyHeld =
          reported.count !== null && loaded < reported.count && loadFiles.length > 0
            ? // It reads the files again: with the loads, so no two DuckDB scans share memory_limit.
              yield* loads.withPermits(1)(
                trace.phase(
                  wid,
                  "tie-held",
                  countHeldOrders({ warehouse, shop, stream: window.stream, batchId, files: loadFiles })
                )
              )
            : 0
        yield* trace.phase(
          wid,
          "mark-loaded",
          Effect.forEach(jobs, (id) => bulk.markLoaded(id), { discard: true })
        )
        const outcome: WindowOutcome = {
          window,
          reportedCount: reported.count,
          fetched,
          loaded,
          alreadyHeld,
          canonicalRows: canonical.orders,
          points: reported.points + (window.estimatedCost - 1),
          lakePath: path,
          duckDbBytes: canonical.duckDbBytes
        }
        return outcome
      }).pipe(Effect.ensuring(Effect.promise(() => rm(dir, { recursive: true, force: true }))))
    })
})
