/**
 * The Warehouse port: loading canonical and raw rows idempotently, soft deletes, sync state,
 * the run ledger, dead letters, stream leases and reconciliation. The DuckDB and BigQuery
 * adapters implement it with the same SQL generated from the table registry.
 */
import type {
  BulkJobStore,
  Checkpoint,
  CheckpointStore,
  DeadLetter,
  DeadLetterSink,
  StreamKey
} from "@kura/core"
import { Context, type Effect, type Option, type Result, type Stream } from "effect"
import type { Dialect } from "./Dialect.js"
import type { ReconciliationReport } from "./Reconciliation.js"
import type { RunApiUsage } from "./RunApiUsage.js"
import type { ShopifySalesDay } from "./ShopifySalesByDay.js"
import type { ColumnType } from "./TableDefinition.js"
import type { CanonicalTableName, LoadableTableName } from "./Tables.js"
import type { LeaseError, WarehouseError } from "./WarehouseError.js"

/** A row handed to `load`: column name → value (extra fields become new nullable columns). */
export type LoadRow = Readonly<Record<string, unknown>>

/** Where a batch came from, recorded on dead letters. */
export interface LoadOptions {
  readonly origin?: string
}

/** What a load did. `unchanged` counts rows ignored as not newer (reloads, late older updates). */
export interface LoadResult {
  readonly table: string
  readonly received: number
  readonly inserted: number
  readonly updated: number
  readonly unchanged: number
  readonly deadLettered: number
  readonly addedColumns: ReadonlyArray<{ readonly name: string; readonly type: ColumnType }>
}

/** The key of a canonical row. */
export interface RowKey {
  readonly source: string
  readonly source_account: string
  readonly source_id: string
}

/** One `_kura_sync_runs` ledger entry. */
export interface SyncRun {
  readonly runId: string
  readonly key: StreamKey
  readonly startedAt: number
  readonly finishedAt: number | null
  readonly cursorBefore: string | null
  readonly cursorAfter: string | null
  readonly reportedCount: number | null
  readonly reportedTotal: string | null
  readonly rowsFetched: number | null
  readonly rowsLoaded: number | null
  readonly loadedTotal: string | null
  readonly status: "running" | "complete" | "incomplete" | "failed"
  readonly detail: string | null
  /** What the run cost the API, when the runner recorded it. */
  readonly apiUsage: RunApiUsage | null
}

/** What a run reports when it is done with a stream. */
export interface CommitRunInput {
  readonly runId: string
  readonly key: StreamKey
  /** The cursor the stream reached; stored only if the run reconciles. */
  readonly cursorAfter: string
  /** Count the API reported (e.g. bulk objectCount), or null when it reports none. */
  readonly reportedCount: number | null
  /** Money total the API reported (decimal string), or null. */
  readonly reportedTotal: string | null
  readonly rowsFetched: number
  readonly rowsLoaded: number
  readonly loadedTotal: string | null
  readonly meta?: Readonly<Record<string, unknown>>
  /** What the run cost the API so far (the runner may record the final figure later). */
  readonly apiUsage?: RunApiUsage
  /**
   * The entry as `startRun` opened it, when the caller kept it: the commit then writes it without
   * reading it back (one statement less per run). Omit it when unsure; the entry is read.
   */
  readonly opened?: { readonly startedAt: number; readonly cursorBefore: string | null }
}

/** The outcome of `commitRun`. */
export interface CommitRunResult {
  readonly status: "complete" | "incomplete"
  readonly cursorAdvanced: boolean
  /** Why the run is incomplete (empty when complete). */
  readonly mismatches: ReadonlyArray<string>
}

/** A held lease on a stream. */
export interface Lease {
  readonly streamKey: string
  readonly holder: string
  readonly expiresAt: number
}

/**
 * Dead-letter reasons `Warehouse.load` writes: such a letter's payload is a canonical row of the
 * table its stream names, so it replays through a load once the column or value is fixed.
 * Decode and map letters hold API payloads instead and need their stream's own replay.
 */
export const LOAD_REJECTIONS: ReadonlySet<string> = new Set([
  "type_changed",
  "missing_field",
  "invalid_field"
])

/** A stored dead letter with its replay bookkeeping. */
export interface StoredDeadLetter extends DeadLetter {
  readonly id: string
  readonly attempts: number
  readonly replayedAt: number | null
}

/** Which dead letters to list or replay. */
export interface DeadLetterFilter {
  readonly key?: Partial<StreamKey>
  readonly reason?: string
  /** Only these letter ids (an empty list selects none). */
  readonly ids?: ReadonlyArray<string>
  /** Only letters written at or after this time (epoch ms, the letter's `at`). */
  readonly since?: number
  /** Include already replayed letters (listing only). */
  readonly includeReplayed?: boolean
}

/** What one replay attempt of dead letters came to, for `Warehouse.markDeadLetters`. */
export type DeadLetterMark = "replayed" | "failed"

/** What a replay did. */
export interface ReplayResult {
  readonly attempted: number
  readonly replayed: number
  readonly failed: number
}

/**
 * Memory the embedded engine holds under one of its own tags (DuckDB's `duckdb_memory()`: base
 * tables, hash tables, the column data of open transactions…): what a memory limit on the
 * process is spent on beyond the JS heap.
 */
export interface EngineMemoryUse {
  readonly tag: string
  /** Bytes in memory. */
  readonly memoryBytes: number
  /** Bytes spilled to the engine's temporary files. */
  readonly temporaryBytes: number
}

/** Statement access inside `Warehouse.exclusive`. Parameters are text, cast in SQL. */
export interface ExclusiveSql {
  /** Runs a statement; resolves to the rows it changed. */
  readonly run: (
    sql: string,
    params?: Readonly<Record<string, string | null>>
  ) => Effect.Effect<number, WarehouseError>
  readonly query: (
    sql: string,
    params?: Readonly<Record<string, string | null>>
  ) => Effect.Effect<ReadonlyArray<Readonly<Record<string, unknown>>>, WarehouseError>
}

/** One stored `_kura_tokens` record: an opaque sealed token set and its refresh fingerprint. */
export interface TokenRecord {
  readonly sealed: string
  readonly refreshFingerprint: string | null
  readonly updatedAt: number
}

/**
 * `_kura_tokens` as opaque records (WarehouseTokenStore seals and fingerprints them). `put` with
 * `expectFingerprint` writes only if the stored fingerprint still equals it (or no record exists)
 * in one atomic statement, and says whether it wrote.
 */
export interface TokenRecords {
  readonly get: (key: string) => Effect.Effect<Option.Option<TokenRecord>, WarehouseError>
  readonly put: (
    key: string,
    record: TokenRecord,
    options?: { readonly expectFingerprint?: string | null }
  ) => Effect.Effect<boolean, WarehouseError>
}

/** The Warehouse service. */
export class Warehouse extends Context.Service<
  Warehouse,
  {
    readonly dialect: Dialect
    /** Creates missing tables and (re)creates the views. Safe to run on every start. */
    readonly migrate: Effect.Effect<void, WarehouseError>
    /**
     * Upserts rows into a canonical table or the raw table through a staging table and one MERGE:
     * a row wins only if its `updated_at` is newer. New fields become nullable columns; values
     * whose type does not fit their column go to `_kura_dead_letters`.
     */
    readonly load: (
      table: LoadableTableName,
      rows: ReadonlyArray<LoadRow>,
      options?: LoadOptions
    ) => Effect.Effect<LoadResult, WarehouseError>
    /** `load` over a stream in bounded chunks (default 50,000 rows), for flat memory. */
    readonly loadStream: <E, R>(
      table: LoadableTableName,
      rows: Stream.Stream<LoadRow, E, R>,
      options?: LoadOptions & { readonly chunkSize?: number }
    ) => Effect.Effect<LoadResult, E | WarehouseError, R>
    /** Soft-deletes rows (sets `_deleted_at`); returns how many rows were marked. */
    readonly markDeleted: (
      table: CanonicalTableName,
      keys: ReadonlyArray<RowKey>,
      deletedAt: string
    ) => Effect.Effect<number, WarehouseError>
    /**
     * Soft-deletes rows, each at its own time (a page of deletion events): on DuckDB one
     * statement for the page, elsewhere one `markDeleted` per distinct time. A key listed twice
     * keeps its first time, as repeated `markDeleted` calls would. Returns how many rows were marked.
     */
    readonly markDeletedEach: (
      table: CanonicalTableName,
      entries: ReadonlyArray<{ readonly key: RowKey; readonly deletedAt: string }>
    ) => Effect.Effect<number, WarehouseError>
    /** Runs a read-only query (for reports and tests). Parameters are text, cast in SQL. */
    readonly query: (
      sql: string,
      params?: Readonly<Record<string, string | null>>
    ) => Effect.Effect<ReadonlyArray<Readonly<Record<string, unknown>>>, WarehouseError>
    /**
     * The engine's own memory by tag, for metrics. DuckDB answers on a connection of its own, so
     * it never waits behind a running load; BigQuery (whose memory is not ours) answers none.
     */
    readonly engineMemory: Effect.Effect<ReadonlyArray<EngineMemoryUse>, WarehouseError>
    /** `_kura_sync_state` as the core CheckpointStore. */
    readonly checkpoints: CheckpointStore["Service"]
    /** `_kura_sync_state` as the core BulkJobStore. */
    readonly bulkJobs: BulkJobStore["Service"]
    /** `_kura_tokens` records, for `WarehouseTokenStore` (a durable TokenStore). */
    readonly tokenRecords: TokenRecords
    /** `_kura_dead_letters` as the core DeadLetterSink. */
    readonly deadLetters: DeadLetterSink["Service"]
    readonly listDeadLetters: (
      filter?: DeadLetterFilter
    ) => Effect.Effect<ReadonlyArray<StoredDeadLetter>, WarehouseError>
    /**
     * Re-processes pending dead letters. The default handler re-loads load rejections
     * (type_changed, missing_field, invalid_field) into their table; decode and map failures
     * hold API payloads and need a handler (e.g. re-run the fixed mapper). A letter is
     * marked replayed only when its handler succeeds; failures bump `attempts`.
     */
    readonly replayDeadLetters: <E = never, R = never>(
      filter?: DeadLetterFilter,
      handler?: (letter: StoredDeadLetter) => Effect.Effect<void, E, R>
    ) => Effect.Effect<ReplayResult, WarehouseError, R>
    /**
     * The replay bookkeeping of `replayDeadLetters`, for callers that replay letters themselves:
     * every named pending letter counts one more attempt, and `replayed` also sets `replayed_at`
     * (`at`, default now). Letters already replayed are left alone. Resolves to the letters marked.
     */
    readonly markDeadLetters: (
      ids: ReadonlyArray<string>,
      mark: DeadLetterMark,
      at?: number
    ) => Effect.Effect<number, WarehouseError>
    /**
     * Links the rows that named only an inventory item (Stocky purchase-order lines, receipts and
     * transfers; Shopify's native transfers and purchase orders) to `shop`'s variant of that item,
     * where they hold none yet and the variant is now in the warehouse. Such a row was mapped
     * before its variant arrived (its product dead-lettered, then replayed; or loaded late), and its
     * source record may never change again (Stocky's history is frozen), so nothing else would
     * link it. Rows of the shop's own account only (a Stocky store is named by its shop's domain).
     * Resolves to the rows linked per table.
     */
    readonly relinkVariants: (
      shop: string
    ) => Effect.Effect<
      Readonly<Record<"purchase_order_lines" | "inventory_movements", number>>,
      WarehouseError
    >
    /** Opens a ledger entry; `cursorBefore` defaults to the stream's committed cursor. */
    readonly startRun: (run: {
      readonly runId: string
      readonly key: StreamKey
      readonly cursorBefore?: string | null
    }) => Effect.Effect<SyncRun, WarehouseError>
    /** `startRun` for a pass's runs in one write, each with the cursor it begins at. */
    readonly startRuns: (
      runs: ReadonlyArray<{
        readonly runId: string
        readonly key: StreamKey
        readonly cursorBefore: string | null
        /**
         * When the run began (epoch ms; default: now). A caller that opens its runs while they
         * already fetch gives the time it told them, so the entry and the commit agree.
         */
        readonly startedAt?: number
      }>
    ) => Effect.Effect<ReadonlyArray<SyncRun>, WarehouseError>
    /**
     * Closes a ledger entry. If the API-reported count or total differs from what was loaded the
     * run is `incomplete` and the cursor is NOT advanced; otherwise the cursor is committed.
     */
    readonly commitRun: (input: CommitRunInput) => Effect.Effect<CommitRunResult, WarehouseError>
    /**
     * `commitRun` for several runs in one transaction (every ledger row and cursor, or none): a
     * pass's runs that fetched nothing commit together. Outcomes in input order.
     */
    readonly commitRuns: (
      inputs: ReadonlyArray<CommitRunInput>
    ) => Effect.Effect<ReadonlyArray<CommitRunResult>, WarehouseError>
    /** Marks a run failed; the cursor stays where it was. */
    readonly failRun: (runId: string, key: StreamKey, detail: string) => Effect.Effect<void, WarehouseError>
    readonly listRuns: (key?: StreamKey) => Effect.Effect<ReadonlyArray<SyncRun>, WarehouseError>
    /**
     * Stores what a run cost the API on its ledger entry (`api_usage`), whatever its status; the
     * runner knows the figure only once the stream has committed. False when no entry exists.
     */
    readonly recordRunUsage: (
      runId: string,
      key: StreamKey,
      usage: RunApiUsage
    ) => Effect.Effect<boolean, WarehouseError>
    /** `recordRunUsage` for many runs in one write (a pass's runs); entries without a ledger row are skipped. */
    readonly recordRunUsages: (
      entries: ReadonlyArray<{ readonly runId: string; readonly key: StreamKey; readonly usage: RunApiUsage }>
    ) => Effect.Effect<void, WarehouseError>
    /** The committed checkpoints of `keys` in one read, by `streamKeyToString` (absent: none yet). */
    readonly checkpointsOf: (
      keys: ReadonlyArray<StreamKey>
    ) => Effect.Effect<ReadonlyMap<string, Checkpoint>, WarehouseError>
    /** Takes the stream's lease for `ttlMillis`, or fails with LeaseError("held"). */
    readonly acquireLease: (
      key: StreamKey,
      holder: string,
      ttlMillis: number
    ) => Effect.Effect<Lease, WarehouseError | LeaseError>
    /** Extends a lease still held; fails with LeaseError("lost") if it expired or was taken. */
    readonly renewLease: (
      lease: Lease,
      ttlMillis: number
    ) => Effect.Effect<Lease, WarehouseError | LeaseError>
    readonly releaseLease: (lease: Lease) => Effect.Effect<void, WarehouseError>
    /**
     * `acquireLease` for several streams in one write and one read (a pass's streams), each
     * request with its own holder: per request, its lease or why it is held. Keys must differ.
     */
    readonly acquireLeases: (
      requests: ReadonlyArray<{ readonly key: StreamKey; readonly holder: string }>,
      ttlMillis: number
    ) => Effect.Effect<ReadonlyArray<Result.Result<Lease, LeaseError>>, WarehouseError>
    /** `releaseLease` for several leases in one write. */
    readonly releaseLeases: (leases: ReadonlyArray<Lease>) => Effect.Effect<void, WarehouseError>
    /**
     * Runs set-based SQL with no other write interleaved (the warehouse's write lock), for fast
     * paths that let the engine do the work (e.g. `BulkLoader.loadShopifyOrdersFile`). Other
     * Warehouse methods take the same lock: do not call them inside.
     */
    readonly exclusive: <A, E, R>(
      use: (sql: ExclusiveSql) => Effect.Effect<A, E, R>
    ) => Effect.Effect<A, E, R>
    /** Reads the reconciliation views into a typed report. */
    readonly reconcile: Effect.Effect<ReconciliationReport, WarehouseError>
    /**
     * A Shopify shop's daily sales as Shopify's sales report books them (sale, refund and
     * cancellation events, each on its own day in `zone`), for tying to ShopifyQL. Days with no
     * event are absent.
     */
    readonly shopifySalesByDay: (input: {
      readonly account: string
      readonly zone: string
      readonly since: string
      readonly until: string
    }) => Effect.Effect<ReadonlyArray<ShopifySalesDay>, WarehouseError>
  }
>()("@kura/warehouse/Warehouse") {}
