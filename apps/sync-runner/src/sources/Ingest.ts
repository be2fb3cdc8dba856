/**
 * The one ingest loop every source stream shares: each fetched page is landed unchanged in the raw
 * lake and `_kura_raw`, mapped to canonical rows and upserted, with undecodable or unmappable
 * records dead-lettered (never dropped); the run is then committed through the warehouse ledger,
 * which refuses to move the cursor when the API's own count disagrees with what was loaded.
 */
import type { DeadLetter, StreamKey } from "@kura/core"
import {
  type CanonicalRows,
  type CanonicalTableName,
  type MapContext,
  mergeRows,
  type RawLake,
  RawLoader,
  type Warehouse
} from "@kura/warehouse"
import { Clock, Effect, Option, Ref, Stream } from "effect"
import type { RunContext, RunResult } from "../SyncStream.js"
import { SyncError } from "../SyncStream.js"

/**
 * The most records a run may fetch and still hand its commit to the pass (see `ingest`): an
 * incremental run's handful, not a first sync's history, whose cursor is worth writing at once.
 */
export const DEFER_COMMIT_MAX_RECORDS = 5_000

/** A soft delete to apply after a page lands. */
export interface PageDeletion {
  readonly table: CanonicalTableName
  readonly key: { readonly source: string; readonly source_account: string; readonly source_id: string }
  readonly deletedAt: string
}

/** One fetched page, ready to land. */
export interface IngestPage {
  /** The page's records as received (written to the lake one JSON line each). */
  readonly raw: ReadonlyArray<unknown>
  /** Canonical rows mapped from the page. */
  readonly rows: CanonicalRows
  readonly deletions?: ReadonlyArray<PageDeletion>
  /** Records that could not be decoded or mapped (written to `_kura_dead_letters`). */
  readonly deadLetters?: ReadonlyArray<DeadLetter>
  /** Records the client already dead-lettered while decoding (counted, not written again). */
  readonly rejected?: number
  /** A cursor that is safe to commit once this page has landed (resumable page boundary). */
  readonly cursor?: string
  /** When present, the lake partition day (YYYY-MM-DD) for this page. */
  readonly dt?: string
}

/** Running totals of one ingest. */
export interface IngestTotals {
  readonly pages: number
  /** Records fetched (decoded, plus any the client rejected). */
  readonly fetched: number
  /** Records accounted for: landed as canonical rows or dead-lettered. */
  readonly accounted: number
  readonly deadLettered: number
  /** Canonical rows upserted, per table. */
  readonly rows: Readonly<Record<string, number>>
  /** Rows inserted or changed (0 on an idempotent re-run), per table. */
  readonly changed: Readonly<Record<string, number>>
  readonly lastCursor: string | undefined
}

/** What the warehouse and lake look like to a stream. */
export interface IngestTarget {
  readonly warehouse: Warehouse["Service"]
  readonly lake: RawLake["Service"]
}

/** Serializes a decoded record: ids that are bigints become strings (JSON has no bigint). */
export const toJsonLine = (record: unknown): string =>
  JSON.stringify(record, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))

const upstream = (message: string, cause?: unknown) =>
  new SyncError({ reason: "Upstream", message, ...(cause === undefined ? {} : { cause }) })

const warehouseError = (e: { readonly message: string }) =>
  new SyncError({ reason: "Warehouse", message: e.message, cause: e })

/** Merges consecutive pages into one landing (fewer, larger loads); the last page's cursor wins. */
export const mergePages = (pages: ReadonlyArray<IngestPage>): IngestPage => {
  const last = pages.at(-1)
  return {
    raw: pages.flatMap((p) => p.raw),
    rows: mergeRows(...pages.map((p) => p.rows)),
    deletions: pages.flatMap((p) => p.deletions ?? []),
    deadLetters: pages.flatMap((p) => p.deadLetters ?? []),
    rejected: pages.reduce((n, p) => n + (p.rejected ?? 0), 0),
    ...(last?.cursor === undefined ? {} : { cursor: last.cursor }),
    ...(last?.dt === undefined ? {} : { dt: last.dt })
  }
}

/** Applies a mapper to each record; a mapper that throws dead-letters the record instead. */
export const mapAll = <A>(
  records: ReadonlyArray<A>,
  map: (record: A) => CanonicalRows,
  letter: (record: A, detail: string) => DeadLetter
): { readonly rows: CanonicalRows; readonly deadLetters: ReadonlyArray<DeadLetter> } => {
  const out: Partial<Record<CanonicalTableName, Array<unknown>>> = {}
  const deadLetters: Array<DeadLetter> = []
  for (const record of records) {
    let rows: CanonicalRows
    try {
      rows = map(record)
    } catch (e) {
      deadLetters.push(letter(record, e instanceof Error ? e.message : String(e)))
      continue
    }
    for (const table of Object.keys(rows) as Array<CanonicalTableName>) {
      const list = out[table] ?? []
      for (const row of rows[table] ?? []) list.push(row)
      out[table] = list
    }
  }
  return { rows: out as CanonicalRows, deadLetters }
}

/** A mapper-failure dead letter for a record of `key`. */
export const mapLetter =
  (key: StreamKey, idOf: (record: never) => string | null, now: number) =>
  <A>(record: A, detail: string): DeadLetter => ({
    key,
    sourceId: (idOf as (r: A) => string | null)(record),
    payload: toJsonLine(record),
    reason: "map",
    detail,
    origin: `sync-runner:${key.stream}`,
    at: now
  })

/** A MapContext for one page of `key`. */
export const mapContext = (
  key: StreamKey & { readonly source: "shopify" | "lightspeed" | "stocky" },
  batchId: string,
  syncedAt: string,
  timeZoneOf: (locationId: string | null) => string
): MapContext => ({ source: key.source, sourceAccount: key.account, syncedAt, batchId, timeZoneOf })

/**
 * Lands `pages` for one run and commits it. `finish` gives the cursor to commit at the end and the
 * count the API reported (null when it reports none); it runs after the last page so it can use
 * the totals. A drain stops at the next page boundary: the run then commits the last page cursor
 * (when the stream gives page cursors) and reports `stoppedEarly`.
 */
export const ingest = <E>(options: {
  readonly ctx: RunContext
  readonly key: StreamKey
  readonly target: IngestTarget
  readonly pages: (batchId: (n: number) => string) => Stream.Stream<IngestPage, E>
  readonly finish: (totals: IngestTotals) => Effect.Effect<
    {
      readonly cursor: string
      readonly reportedCount: number | null
      readonly reportedTotal?: string | null
      readonly loadedTotal?: string | null
    },
    E
  >
  readonly onPage?: (totals: IngestTotals) => Effect.Effect<void>
  readonly toError: (e: E) => SyncError
}): Effect.Effect<RunResult & { readonly totals: IngestTotals }, SyncError> =>
  Effect.gen(function* () {
    const { ctx, key, target } = options
    const { warehouse, lake } = target
    // The runner read the checkpoint this run resumes from: the entry records it without a
    // second read (or the runner opened the entry with the pass's others), and the commit is
    // told what was opened instead of reading the entry back.
    const entry =
      ctx.opened ??
      (yield* warehouse
        .startRun({
          runId: ctx.runId,
          key,
          cursorBefore: Option.match(ctx.checkpoint, { onNone: () => null, onSome: (c) => c.cursor })
        })
        .pipe(
          Effect.map((run) => ({ startedAt: run.startedAt, cursorBefore: run.cursorBefore })),
          Effect.mapError(warehouseError)
        ))
    const totals = yield* Ref.make<IngestTotals>({
      pages: 0,
      fetched: 0,
      accounted: 0,
      deadLettered: 0,
      rows: {},
      changed: {},
      lastCursor: undefined
    })
    const stopped = yield* Ref.make(false)
    const batchId = (n: number) => `${ctx.runId}-${String(n).padStart(5, "0")}`

    const land = (page: IngestPage) =>
      Effect.gen(function* () {
        const before = yield* Ref.get(totals)
        const id = batchId(before.pages + 1)
        const fetchedAt = new Date(yield* Clock.currentTimeMillis).toISOString()
        const rows: Record<string, number> = { ...before.rows }
        const changed: Record<string, number> = { ...before.changed }
        if (page.raw.length > 0) {
          const lines = page.raw.map(toJsonLine)
          const object = yield* lake
            .writeBatch({
              key,
              batchId: id,
              lines: Stream.fromIterable(lines),
              ...(page.dt === undefined ? {} : { dt: page.dt })
            })
            .pipe(
              Effect.mapError((e) => new SyncError({ reason: "Warehouse", message: e.message, cause: e }))
            )
          yield* RawLoader.loadRawBatch({
            warehouse,
            key,
            batch: object,
            lines: Stream.fromIterable(lines),
            fetchedAt
          }).pipe(Effect.mapError(warehouseError))
          for (const [table, list] of Object.entries(page.rows) as Array<
            [CanonicalTableName, ReadonlyArray<Readonly<Record<string, unknown>>>]
          >) {
            if (list.length === 0) continue
            const result = yield* warehouse
              .load(table, list, { origin: object.path })
              .pipe(Effect.mapError(warehouseError))
            rows[table] = (rows[table] ?? 0) + list.length
            changed[table] = (changed[table] ?? 0) + result.inserted + result.updated
          }
        }
        // One statement per table for the page's deletions, each at its own time.
        const deletions = new Map<CanonicalTableName, Array<PageDeletion>>()
        for (const d of page.deletions ?? []) {
          const list = deletions.get(d.table)
          if (list === undefined) deletions.set(d.table, [d])
          else list.push(d)
        }
        for (const [table, list] of deletions)
          yield* warehouse
            .markDeletedEach(
              table,
              list.map((d) => ({ key: d.key, deletedAt: d.deletedAt }))
            )
            .pipe(Effect.mapError(warehouseError))
        const letters = page.deadLetters ?? []
        if (letters.length > 0)
          yield* warehouse.deadLetters
            .write(letters)
            .pipe(
              Effect.mapError((e) => new SyncError({ reason: "Warehouse", message: e.message, cause: e }))
            )
        const rejected = page.rejected ?? 0
        const next: IngestTotals = {
          pages: before.pages + 1,
          fetched: before.fetched + page.raw.length + rejected,
          accounted: before.accounted + page.raw.length + rejected,
          deadLettered: before.deadLettered + letters.length + rejected,
          rows,
          changed,
          lastCursor: page.cursor ?? before.lastCursor
        }
        yield* Ref.set(totals, next)
        if (options.onPage !== undefined) yield* options.onPage(next)
        if (yield* ctx.draining) {
          yield* Ref.set(stopped, true)
          return false
        }
        return true
      })

    const run = Stream.runForEachWhile(
      options.pages(batchId).pipe(Stream.mapError(options.toError)),
      (page) => land(page)
    )
    const exit = yield* Effect.exit(run)
    if (exit._tag === "Failure") {
      const t = yield* Ref.get(totals)
      yield* Effect.ignore(
        warehouse.failRun(ctx.runId, key, `failed after ${t.pages} page(s), ${t.fetched} record(s)`)
      )
      return yield* Effect.failCause(exit.cause)
    }
    const t = yield* Ref.get(totals)
    if (yield* Ref.get(stopped)) {
      // Drained: keep what landed, and move the cursor only to a page boundary the stream vouches for.
      if (t.lastCursor !== undefined) {
        yield* warehouse
          .commitRun({
            runId: ctx.runId,
            key,
            cursorAfter: t.lastCursor,
            reportedCount: null,
            reportedTotal: null,
            rowsFetched: t.fetched,
            rowsLoaded: t.accounted,
            loadedTotal: null,
            meta: { stoppedEarly: true },
            opened: entry
          })
          .pipe(Effect.mapError(warehouseError))
        return {
          rows: t.accounted,
          reconciliation: "not-checked",
          stoppedEarly: true,
          ledgerCommitted: true,
          totals: t
        } as const
      }
      yield* Effect.ignore(warehouse.failRun(ctx.runId, key, "stopped early by a drain; cursor unchanged"))
      return { rows: t.accounted, reconciliation: "not-checked", stoppedEarly: true, totals: t } as const
    }
    const fin = yield* options.finish(t).pipe(Effect.mapError(options.toError))
    const commit = {
      runId: ctx.runId,
      key,
      cursorAfter: fin.cursor,
      reportedCount: fin.reportedCount,
      reportedTotal: fin.reportedTotal ?? null,
      rowsFetched: t.fetched,
      rowsLoaded: t.accounted,
      loadedTotal: fin.loadedTotal ?? null,
      opened: entry
    }
    // A commit that cannot be a mismatch (no total to compare, and the count, if any, is what
    // landed) of a small run is handed to the pass, which writes it with the others' in one
    // transaction when it ends. Every stream of an incremental pass ends here: each commit of
    // its own was a turn on the warehouse's one connection, which a pass keeps busy from its
    // first page to its close. A crash before the pass ends leaves the cursor where it was (the
    // few records are read and upserted again); a big run (a first sync) commits at once.
    if (
      ctx.deferCommit !== undefined &&
      t.fetched <= DEFER_COMMIT_MAX_RECORDS &&
      (fin.reportedCount === null || fin.reportedCount === t.accounted) &&
      fin.reportedTotal == null
    ) {
      ctx.deferCommit(commit)
      return {
        rows: t.accounted,
        reconciliation: fin.reportedCount === null ? "not-checked" : "ok",
        detail: `${t.pages} page(s), ${t.fetched} fetched, ${t.deadLettered} dead-lettered`,
        ledgerCommitted: true,
        totals: t
      } as const
    }
    const result = yield* warehouse.commitRun(commit).pipe(Effect.mapError(warehouseError))
    if (result.status === "incomplete")
      return yield* new SyncError({
        reason: "Checkpoint",
        message: `${key.source}/${key.account}/${key.stream} did not reconcile, cursor not advanced: ${result.mismatches.join("; ")}`
      })
    return {
      rows: t.accounted,
      reconciliation: fin.reportedCount === null && fin.reportedTotal == null ? "not-checked" : "ok",
      detail: `${t.pages} page(s), ${t.fetched} fetched, ${t.deadLettered} dead-lettered`,
      ledgerCommitted: true,
      totals: t
    } as const
  })

export { upstream }
