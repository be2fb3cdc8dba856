/**
 * Bulk operations as durable jobs.
 *
 * - A job's id and window are written to core `BulkJobStore` right after Shopify accepts it and
 *   before any polling, so a crashed run's successor resumes (or cancels) it instead of paying
 *   for a duplicate or losing its result.
 * - `OPERATION_IN_PROGRESS` / `LIMIT_REACHED` wait and retry; a per-shop semaphore allows 5
 *   concurrent jobs on API 2026-01 and later (1 before), shared by every stream of the shop.
 * - Polling backs off, and finishes early when the `bulk_operations/finish` webhook is relayed
 *   through `notifyFinished`.
 * - Results stream from the URL with flat memory and are reassembled through `__parentId`.
 * - FAILED / TIMEOUT: the partial data is loaded, then only the rest of the window is re-run
 *   with a smaller slice. Slices shrink when jobs run long and grow back when they are fast.
 * - No silent loss: COMPLETED without a URL but with objects, or a line count different from
 *   `objectCount`, fails with `DataLoss`.
 *
 * @since 0.1.0
 */
import {
  type BulkJobRecord,
  type BulkJobState,
  BulkJobStore,
  HttpTransport,
  type StreamKey
} from "@kura/core"
import {
  Clock,
  Context,
  Deferred,
  Duration,
  Effect,
  Layer,
  Option,
  Predicate,
  Result,
  Schema,
  Semaphore,
  Stream
} from "effect"
import { childTypeOf, jsonlLines, reassemble } from "./BulkJsonl.js"
import { Boundary } from "./internal/Boundary.js"
import {
  BULK_CANCEL,
  BULK_CURRENT,
  BULK_OPERATION,
  BULK_RECENT,
  BULK_RUN_QUERY
} from "./internal/documents/index.js"
import type { ResourceSpec } from "./Resources.js"
import { decodeRecords, requireVersion, ShopifyClient } from "./ShopifyClient.js"
import { versionAtLeast } from "./ShopifyConfig.js"
import { BulkOperationFailed, DataLoss, Decode, Http, ShopifyError, UserErrors } from "./ShopifyError.js"
import { type TimeWindow, updatedAtQuery } from "./UpdatedAtWindow.js"

const Count = Schema.Union([Schema.String, Schema.Number])

/**
 * A bulk operation as Shopify reports it (UnsignedInt64 counts arrive as strings).
 *
 * @since 0.1.0
 * @category schemas
 */
export const BulkOperation = Schema.Struct({
  id: Schema.String,
  status: Schema.String,
  errorCode: Schema.NullOr(Schema.String),
  createdAt: Schema.String,
  completedAt: Schema.NullOr(Schema.String),
  objectCount: Count,
  rootObjectCount: Count,
  fileSize: Schema.NullOr(Count),
  url: Schema.NullOr(Schema.String),
  partialDataUrl: Schema.NullOr(Schema.String),
  type: Schema.String
})

/**
 * The decoded type of {@link BulkOperation}.
 *
 * @since 0.1.0
 * @category models
 */
export type BulkOperation = typeof BulkOperation.Type

const RunPayload = Schema.Struct({
  bulkOperationRunQuery: Schema.NullOr(
    Schema.Struct({
      bulkOperation: Schema.NullOr(BulkOperation),
      userErrors: Schema.Array(
        Schema.Struct({
          field: Schema.optional(Schema.NullOr(Schema.Array(Schema.String))),
          message: Schema.String,
          code: Schema.optional(Schema.NullOr(Schema.String))
        })
      )
    })
  )
})
const PollPayload = Schema.Struct({ bulkOperation: Schema.NullOr(BulkOperation) })
const Listed = Schema.Struct({ ...BulkOperation.fields, query: Schema.NullOr(Schema.String) })
const RecentPayload = Schema.Struct({ bulkOperations: Schema.Struct({ nodes: Schema.Array(Listed) }) })
const CurrentPayload = Schema.Struct({ currentBulkOperation: Schema.NullOr(Listed) })

const TERMINAL = new Set(["COMPLETED", "FAILED", "CANCELED", "EXPIRED"])

const DEFAULT_POLL_MIN_MILLIS = 250
const DEFAULT_POLL_MAX_MILLIS = 30_000

/**
 * The waits between the polls of one bulk job: `pollMinMillis` (default 250), then ×1.5 each time
 * up to `pollMaxMillis` (default 30 000). Fast first so a small job is seen within a few hundred
 * ms (each poll is one cheap `bulkOperation` query); geometric so a long export costs few polls
 * (≈ 13 in its first two minutes, then two a minute). A `bulk_operations/finish` webhook cuts any
 * wait short.
 */
export const bulkPollDelays = (
  options: Pick<BulkOptions, "pollMinMillis" | "pollMaxMillis"> = {}
): Iterable<number> => {
  const max = options.pollMaxMillis ?? DEFAULT_POLL_MAX_MILLIS
  const min = Math.min(max, options.pollMinMillis ?? DEFAULT_POLL_MIN_MILLIS)
  return {
    *[Symbol.iterator]() {
      for (let delay = min; ; delay = Math.min(max, Math.ceil(delay * 1.5))) yield delay
    }
  }
}

/**
 * Bulk settings.
 *
 * @since 0.1.0
 * @category models
 */
export interface BulkOptions {
  /** Concurrent jobs per shop. Default 5 on API 2026-01+, else 1. */
  readonly concurrency?: number
  /**
   * First poll delay in ms (grows ×1.5 to `pollMaxMillis`). Default 250: a small job (an
   * incremental window) finishing in a few hundred ms is seen at once instead of a second later;
   * a long export still settles at one poll per `pollMaxMillis` (see `bulkPollDelays`).
   */
  readonly pollMinMillis?: number
  /** Default 30 000. */
  readonly pollMaxMillis?: number
  /** Wait between retries when Shopify says a job is in progress / the limit is reached. Default 30 000. */
  readonly busyRetryMillis?: number
  /** Default 120 (≈ 1 h at the default wait). */
  readonly maxBusyRetries?: number
  /** A job running longer than this is cancelled and its window re-run smaller. Default 2 h. */
  readonly jobTimeoutMillis?: number
  /** Response timeout of the result download. Default 30 min. */
  readonly downloadTimeoutMillis?: number
  /**
   * Retries of a start whose answer was lost (5xx, connection reset, timeout) and that left no
   * job behind. Default 5.
   */
  readonly startRetries?: number
  /** First wait before such a retry in ms (doubles up to 30 s). Default 1000. */
  readonly startRetryMillis?: number
  /**
   * Tolerance in ms between this machine's clock and Shopify's when matching a job's `createdAt`
   * to the attempt that may have created it. Default 5000.
   */
  readonly clockSkewMillis?: number
}

/**
 * Options of one export.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExportOptions {
  readonly window: TimeWindow
  /** First slice size in ms. Default 30 days. */
  readonly sliceMillis?: number
  /** Smallest slice before a failing window is reported. Default 1 minute. */
  readonly minSliceMillis?: number
  /** Largest slice the adaptive sizing may grow to. Default 365 days. */
  readonly maxSliceMillis?: number
  /** A job slower than this halves the next slice; four times faster doubles it. Default 20 min. */
  readonly targetJobMillis?: number
  /**
   * Ask Shopify to group children after their parent. Default: true when the resource has child
   * connections (flat memory and exact partial-data recovery), else false.
   */
  readonly groupObjects?: boolean
  /** Extra AND-ed search terms. */
  readonly search?: string
  /** Resume jobs a crashed run left open for this stream before starting new ones. Default true. */
  readonly resumeOpenJobs?: boolean
}

/**
 * A job that reached a terminal status.
 *
 * @since 0.1.0
 * @category models
 */
export interface FinishedJob {
  readonly record: BulkJobRecord
  readonly operation: BulkOperation
  readonly durationMillis: number
}

/**
 * The bulk service.
 *
 * @since 0.1.0
 * @category services
 */
export class ShopifyBulk extends Context.Service<
  ShopifyBulk,
  {
    /** Starts a job for a window and records it (holding no slot: prefer `run`). */
    readonly start: <A>(
      resource: ResourceSpec<A>,
      window: TimeWindow,
      options?: StartOptions
    ) => Effect.Effect<BulkJobRecord, ShopifyError>
    /** Polls a job until it is terminal (or `notifyFinished` fires), updating the store. */
    readonly await: (record: BulkJobRecord) => Effect.Effect<FinishedJob, ShopifyError>
    /** Starts and awaits a job while holding one of the shop's bulk slots. */
    readonly run: <A>(
      resource: ResourceSpec<A>,
      window: TimeWindow,
      options?: StartOptions
    ) => Effect.Effect<FinishedJob, ShopifyError>
    /** Decoded records of a finished job (full or partial data). */
    readonly results: <A>(
      resource: ResourceSpec<A>,
      job: FinishedJob,
      options?: ResultOptions
    ) => Stream.Stream<A, ShopifyError>
    /** A backfill over a window: sliced, adaptive, resumable, with partial-data recovery. */
    readonly export: <A>(resource: ResourceSpec<A>, options: ExportOptions) => Stream.Stream<A, ShopifyError>
    /** Cancels a job and records it as canceled. */
    readonly cancel: (jobId: string) => Effect.Effect<void, ShopifyError>
    /** Cancels every open job of a resource (the alternative to resuming them). */
    readonly cancelOpen: <A>(resource: ResourceSpec<A>) => Effect.Effect<number, ShopifyError>
    /** Relays the `bulk_operations/finish` webhook: the job's poller checks at once. */
    readonly notifyFinished: (jobId: string) => Effect.Effect<void>
    /** Marks a job's results as loaded (the store stops listing it as open). */
    readonly markLoaded: (jobId: string) => Effect.Effect<void, ShopifyError>
  }
>()("@kura/shopify-client/ShopifyBulk") {
  /**
   * The bulk service over `ShopifyClient`, core `BulkJobStore` and core `HttpTransport`.
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layer = (
    options: BulkOptions = {}
  ): Layer.Layer<ShopifyBulk, never, ShopifyClient | BulkJobStore | HttpTransport> =>
    Layer.effect(ShopifyBulk, makeShopifyBulk(options))
}

/**
 * Options of one job.
 *
 * @since 0.1.0
 * @category models
 */
export interface StartOptions {
  readonly groupObjects?: boolean
  readonly search?: string
}

/**
 * Options of a result read.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResultOptions {
  /** Whether the job was run with groupObjects (default: as `export` decides). */
  readonly grouped?: boolean
  /** Called with every emitted root's raw cursor value (e.g. updatedAt). */
  readonly onCursor?: (value: string) => void
}

const storeFailure = (operation: string) => (e: { readonly message: string }) =>
  new ShopifyError({
    operation,
    reason: new Http({ status: null, retryable: true, message: `bulk job store: ${e.message}` })
  })

const cursorKeyOf = (cursorField: string): string =>
  cursorField.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())

/**
 * Whether a failed start may have reached Shopify: core marks transport faults of a non-idempotent
 * POST as not retryable, so the status (none, or 5xx) decides, plus an unreadable answer.
 */
const answerMayBeLost = (error: ShopifyError): boolean => {
  const r = error.reason
  // THROTTLED means Shopify did not run the mutation (and the client only gives up on it after
  // `throttleTimeoutMillis`), so no job can exist.
  if (r._tag === "Decode") return true
  return r._tag === "Http" && (r.status === null || r.status >= 500 || r.status === 408 || r.status === 429)
}

/** Where child lines that fit no child field of the resource are parked (and then reported). */
const UNPLACED = "__kuraUnplacedChildren"

/** Child lines parked under UNPLACED in a record or in its child records, or null. */
const unplacedOf = (record: { readonly [k: string]: unknown }, depth = 0): ReadonlyArray<unknown> | null => {
  const here = record[UNPLACED]
  if (Array.isArray(here) && here.length > 0) return here
  if (depth >= 2) return null
  for (const value of Object.values(record)) {
    if (!Array.isArray(value)) continue
    for (const item of value) {
      if (!Predicate.isObject(item)) continue
      const found = unplacedOf(item, depth + 1)
      if (found !== null) return found
    }
  }
  return null
}

const START_TAG_PREFIX = "# kura-start "

/** The comment line that makes one start attempt's job recognisable in `bulkOperations`. */
const startTag = (nonce: string) => `${START_TAG_PREFIX}${nonce}`

/** A query's text without comments and with collapsed whitespace (for shops that normalize it). */
const normalizeQuery = (query: string) =>
  query
    .replace(/#[^\n\r]*/g, " ")
    .replace(/\s+/g, " ")
    .trim()

/** Whether bulk output is sorted by the field the export's windows filter on. */
const orderedByCursor = (sortKey: string | null, cursorField: string): boolean =>
  sortKey !== null && sortKey.toLowerCase() === cursorField.toLowerCase()

const hasChildren = (resource: ResourceSpec<unknown>) =>
  resource.documents.bulkChildFields.length > 0 || Object.keys(resource.inlineParents).length > 0

/**
 * Builds the bulk service.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeShopifyBulk = (options: BulkOptions = {}) =>
  Effect.gen(function* () {
    const client = yield* ShopifyClient
    const store = yield* BulkJobStore
    const transport = yield* HttpTransport
    const config = client.config
    const slots = yield* Semaphore.make(
      options.concurrency ?? (versionAtLeast(config.apiVersion, "2026-01") ? 5 : 1)
    )
    const signals = new Map<string, Deferred.Deferred<void>>()
    const busyWait = options.busyRetryMillis ?? 30_000
    const maxBusy = options.maxBusyRetries ?? 120
    const jobTimeout = options.jobTimeoutMillis ?? 2 * 3600_000

    const keyOf = (resource: ResourceSpec<unknown>): StreamKey => ({
      source: "shopify",
      account: config.shop,
      stream: resource.name
    })

    // The latest record per open job (the last one written, or a completed job's, which is
    // written when the job is marked loaded), so marking a job it finished loaded needs no read
    // of the store first (one statement per job less on the warehouse's one connection).
    // Only open jobs are kept: a long-running service forgets each job once it is closed.
    const written = new Map<string, BulkJobRecord>()
    const put = (record: BulkJobRecord) =>
      store.put(record).pipe(
        Effect.tap(() =>
          Effect.sync(() => {
            if (record.state === "started" || record.state === "completed") written.set(record.jobId, record)
            else written.delete(record.jobId)
          })
        ),
        Effect.mapError(storeFailure("bulk job store put"))
      )

    const decodeData = <S extends Schema.Top>(schema: S, data: unknown, operation: string) =>
      Schema.decodeUnknownEffect(schema)(data).pipe(
        Effect.mapError(
          (e) =>
            new ShopifyError({
              operation,
              reason: new Decode({ message: e.message, excerpt: JSON.stringify(data).slice(0, 300) })
            })
        )
      )

    const fetchOperation = (jobId: string) =>
      Effect.gen(function* () {
        const { data } = yield* client.query(
          BULK_OPERATION,
          { id: jobId },
          { operation: "bulkOperation poll" }
        )
        const payload = yield* decodeData(PollPayload, data, "bulkOperation poll")
        if (payload.bulkOperation === null) {
          return yield* new ShopifyError({
            operation: "bulkOperation poll",
            reason: new BulkOperationFailed({
              jobId,
              status: "UNKNOWN",
              errorCode: null,
              message: "Shopify does not know this bulk operation"
            })
          })
        }
        return payload.bulkOperation
      })

    /** True for the error `fetchOperation` gives when Shopify no longer knows a job id. */
    const isUnknownJob = (e: ShopifyError) =>
      e.reason._tag === "BulkOperationFailed" && e.reason.status === "UNKNOWN"

    /**
     * A stored job Shopify no longer knows (results expire; a different shop or store; an emulator
     * restarted) can neither be resumed nor cancelled: it is closed as failed, so its window is
     * exported again by the caller, whose cursor never moved past it.
     */
    const forgetUnknown = (record: BulkJobRecord) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        yield* Effect.logWarning(
          "A stored bulk job is unknown to Shopify; its window will be exported again"
        ).pipe(
          Effect.annotateLogs({
            jobId: record.jobId,
            windowStart: record.windowStart,
            windowEnd: record.windowEnd
          })
        )
        yield* put({ ...record, state: "failed", remoteStatus: "UNKNOWN", updatedAt: now })
      })

    const recordStarted = (resource: ResourceSpec<unknown>, window: TimeWindow, op: BulkOperation) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const record: BulkJobRecord = {
          jobId: op.id,
          key: keyOf(resource),
          windowStart: new Date(window.start).toISOString(),
          windowEnd: new Date(window.end).toISOString(),
          state: "started",
          remoteStatus: op.status,
          objectCount: null,
          createdAt: now,
          updatedAt: now
        }
        // Durable before polling: a crash from here on leaves a job the next run can find.
        yield* put(record)
        return record
      })

    /**
     * The job a start whose answer was lost may have created, and that no record of ours owns.
     * Every attempt sends its query with a unique `# kura-start <nonce>` comment line, which
     * Shopify keeps verbatim in `query`, so a job is matched by its nonce: two jobs with the same
     * query created within clock skew (two runs, or an earlier attempt) are never confused. If the
     * shop returns the query without the comment (normalized), a job is only adopted when exactly
     * one untagged job with the same query text was created since `since`.
     * `bulkOperations` where the API has it, else `currentBulkOperation` (only the latest job).
     */
    const findStarted = (nonces: ReadonlyArray<string>, bare: string, since: number) =>
      Effect.gen(function* () {
        const recent = yield* client
          .query(BULK_RECENT, { first: 25 }, { operation: "bulkOperations lookup" })
          .pipe(
            Effect.flatMap(({ data }) => decodeData(RecentPayload, data, "bulkOperations lookup")),
            Effect.map((p) => p.bulkOperations.nodes),
            Effect.catch((e) =>
              e.reason._tag === "GraphqlErrors"
                ? client.query(BULK_CURRENT, {}, { operation: "currentBulkOperation lookup" }).pipe(
                    Effect.flatMap(({ data }) =>
                      decodeData(CurrentPayload, data, "currentBulkOperation lookup")
                    ),
                    Effect.map((p) => (p.currentBulkOperation === null ? [] : [p.currentBulkOperation]))
                  )
                : Effect.fail(e)
            )
          )
        const unowned = (candidate: (typeof recent)[number]) =>
          Effect.map(
            store.get(candidate.id).pipe(Effect.mapError(storeFailure("bulk job store get"))),
            Option.isNone
          )
        const strip = ({ query: _query, ...operation }: (typeof recent)[number]): BulkOperation => operation
        for (const candidate of recent) {
          const q = candidate.query ?? ""
          if (nonces.some((n) => q.includes(startTag(n))) && (yield* unowned(candidate)))
            return Option.some(strip(candidate))
        }
        const untagged: Array<(typeof recent)[number]> = []
        for (const candidate of recent) {
          const created = Date.parse(candidate.createdAt)
          const q = candidate.query ?? ""
          if (q.includes(START_TAG_PREFIX) || normalizeQuery(q) !== bare) continue
          if (Number.isNaN(created) || created < since) continue
          if (yield* unowned(candidate)) untagged.push(candidate)
        }
        const only = untagged[0]
        if (untagged.length === 1 && only !== undefined) return Option.some(strip(only))
        if (untagged.length > 1) {
          yield* Effect.logWarning(
            "Several untagged bulk jobs match a lost start; adopting none (the shop dropped the start tag)"
          ).pipe(Effect.annotateLogs({ candidates: untagged.map((c) => c.id).join(",") }))
        }
        return Option.none<BulkOperation>()
      })

    type RunOutcome =
      | { readonly _tag: "Answered"; readonly payload: typeof RunPayload.Type }
      | { readonly _tag: "Adopted"; readonly operation: BulkOperation }

    /**
     * `bulkOperationRunQuery` is a non-idempotent POST, so the transport never retries it. When its
     * answer is lost the job may or may not exist: adopt it if Shopify lists it, else start again
     * with backoff (bounded), so a transient fault neither fails the run nor pays for a duplicate.
     */
    const runQueryDurably = (query: string, groupObjects: boolean, scope: string) =>
      Effect.gen(function* () {
        const retries = options.startRetries ?? 5
        const skew = options.clockSkewMillis ?? 5000
        let wait = options.startRetryMillis ?? 1000
        const nonces: Array<string> = []
        const bare = normalizeQuery(query)
        let began: number | null = null
        for (let attempt = 0; ; attempt++) {
          began ??= yield* Clock.currentTimeMillis
          const nonce = globalThis.crypto.randomUUID()
          nonces.push(nonce)
          const answer = yield* client
            .query(
              BULK_RUN_QUERY,
              { query: `${startTag(nonce)}\n${query}`, groupObjects },
              { operation: "bulkOperationRunQuery", scopeHint: scope }
            )
            .pipe(
              Effect.flatMap(({ data }) => decodeData(RunPayload, data, "bulkOperationRunQuery")),
              Effect.result
            )
          if (Result.isSuccess(answer))
            return { _tag: "Answered", payload: answer.success } satisfies RunOutcome
          const error = answer.failure
          if (!answerMayBeLost(error)) return yield* Effect.fail(error)
          // Shopify's DateTime has whole seconds: compare from the start of the attempt's second.
          const found = yield* findStarted(nonces, bare, Math.floor((began - skew) / 1000) * 1000)
          if (Option.isSome(found)) {
            yield* Effect.logInfo("Bulk start answer was lost; adopting the job it created").pipe(
              Effect.annotateLogs({ jobId: found.value.id, error: error.message })
            )
            return { _tag: "Adopted", operation: found.value } satisfies RunOutcome
          }
          if (attempt >= retries) return yield* Effect.fail(error)
          yield* Effect.logWarning("Bulk start failed before creating a job; retrying").pipe(
            Effect.annotateLogs({ attempt: String(attempt + 1), error: error.message })
          )
          yield* Effect.sleep(Duration.millis(wait))
          wait = Math.min(30_000, wait * 2)
        }
      })

    const start = <A>(resource: ResourceSpec<A>, window: TimeWindow, opts: StartOptions = {}) =>
      Effect.gen(function* () {
        yield* requireVersion(config, resource)
        const search =
          resource.documents.cursorField === "none"
            ? (opts.search ?? null)
            : updatedAtQuery(window, opts.search, resource.documents.cursorField)
        const query = resource.documents.bulk(search)
        const groupObjects = opts.groupObjects ?? hasChildren(resource)
        for (let busy = 0; ; busy++) {
          const outcome = yield* runQueryDurably(query, groupObjects, resource.scope)
          if (outcome._tag === "Adopted") {
            yield* client.recordBulkJob("adopted")
            return yield* recordStarted(resource, window, outcome.operation)
          }
          const payload = outcome.payload
          const result = payload.bulkOperationRunQuery
          const errors = result?.userErrors ?? []
          const busyError = errors.find(
            (e) =>
              e.code === "OPERATION_IN_PROGRESS" ||
              e.code === "LIMIT_REACHED" ||
              /in progress|limit reached/i.test(e.message)
          )
          if (busyError !== undefined && busy < maxBusy) {
            yield* Effect.logInfo("Shopify bulk slot busy; waiting").pipe(
              Effect.annotateLogs({ code: busyError.code ?? "", stream: resource.name })
            )
            yield* Effect.sleep(Duration.millis(busyWait))
            continue
          }
          if (errors.length > 0 || result?.bulkOperation === null || result?.bulkOperation === undefined) {
            return yield* new ShopifyError({
              operation: "bulkOperationRunQuery",
              reason: new UserErrors({
                errors: errors.map((e) => ({
                  field: e.field ?? null,
                  message: e.message,
                  code: e.code ?? null
                }))
              })
            })
          }
          yield* client.recordBulkJob("started")
          return yield* recordStarted(resource, window, result.bulkOperation)
        }
      })

    const signalFor = (jobId: string) =>
      Effect.gen(function* () {
        const existing = signals.get(jobId)
        if (existing !== undefined) return existing
        const d = yield* Deferred.make<void>()
        signals.set(jobId, d)
        return d
      })

    const stateOf = (status: string): BulkJobState =>
      status === "COMPLETED"
        ? "completed"
        : status === "CANCELED"
          ? "canceled"
          : TERMINAL.has(status)
            ? "failed"
            : "started"

    const cancel = (jobId: string) =>
      Effect.gen(function* () {
        yield* client.query(BULK_CANCEL, { id: jobId }, { operation: "bulkOperationCancel" })
        const existing = yield* store.get(jobId).pipe(Effect.mapError(storeFailure("bulk job store get")))
        if (Option.isSome(existing)) {
          const now = yield* Clock.currentTimeMillis
          yield* put({ ...existing.value, state: "canceled", remoteStatus: "CANCELED", updatedAt: now })
        }
      })

    const awaitJob = (record: BulkJobRecord) =>
      Effect.gen(function* () {
        let signal = yield* signalFor(record.jobId)
        const started = record.createdAt
        let delays = bulkPollDelays(options)[Symbol.iterator]()
        let cancelled = false
        for (;;) {
          const op = yield* fetchOperation(record.jobId)
          const now = yield* Clock.currentTimeMillis
          if (TERMINAL.has(op.status)) {
            signals.delete(record.jobId)
            const next: BulkJobRecord = {
              ...record,
              state: stateOf(op.status),
              remoteStatus: op.status,
              objectCount: String(op.objectCount),
              updatedAt: now
            }
            // A completed job's record is written once, when it is marked loaded (its count and
            // status carried over): the job is open ("started" or "completed", resumed alike) until
            // then either way, and the write in between was a statement on the warehouse's one
            // connection ahead of every download. A job that ended otherwise is closed at once.
            if (op.status === "COMPLETED") written.set(record.jobId, next)
            else yield* put(next)
            yield* client.recordBulkJob(
              op.status === "COMPLETED" ? "completed" : op.status === "CANCELED" ? "canceled" : "failed"
            )
            return { record: next, operation: op, durationMillis: now - started } satisfies FinishedJob
          }
          if (!cancelled && now - started > jobTimeout) {
            // Too slow: stop paying for it; export re-runs the window in smaller slices.
            cancelled = true
            yield* client.query(BULK_CANCEL, { id: record.jobId }, { operation: "bulkOperationCancel" })
          }
          const delay = delays.next().value ?? DEFAULT_POLL_MAX_MILLIS
          const notified = yield* Effect.raceFirst(
            Effect.as(Effect.sleep(Duration.millis(delay)), false),
            Effect.as(Deferred.await(signal), true)
          )
          if (notified) {
            // The poll after a notification can still read RUNNING (Shopify's status lags its
            // webhook): a fresh signal and the short end of the schedule keep that from turning
            // into polls back to back, while the job is still seen within a few hundred ms.
            signal = yield* Deferred.make<void>()
            signals.set(record.jobId, signal)
            delays = bulkPollDelays(options)[Symbol.iterator]()
          }
        }
      })

    const run = <A>(resource: ResourceSpec<A>, window: TimeWindow, opts: StartOptions = {}) =>
      slots.withPermits(1)(Effect.flatMap(start(resource, window, opts), awaitJob))

    const download = (url: string, operation: string) =>
      Stream.unwrap(
        transport
          .stream({ method: "GET", url, timeoutMillis: options.downloadTimeoutMillis ?? 30 * 60_000 })
          .pipe(
            Effect.map((r) => r.body),
            Effect.mapError(
              (e) =>
                new ShopifyError({
                  operation,
                  reason: new Http({ status: null, retryable: e.retryable, message: e.message })
                })
            )
          )
      ).pipe(
        Stream.mapError((e) =>
          e instanceof ShopifyError
            ? e
            : new ShopifyError({
                operation,
                reason: new Http({ status: null, retryable: e.retryable, message: e.message })
              })
        )
      )

    const results = <A>(
      resource: ResourceSpec<A>,
      job: FinishedJob,
      opts: ResultOptions = {},
      boundary?: Boundary
    ): Stream.Stream<A, ShopifyError> => {
      const op = job.operation
      const operation = `${resource.name} bulk results`
      const partial = op.status !== "COMPLETED"
      const url = partial ? op.partialDataUrl : op.url
      const objectCount = BigInt(String(op.objectCount))
      if (url === null) {
        if (!partial && objectCount > 0n) {
          return Stream.fail(
            new ShopifyError({
              operation,
              reason: new DataLoss({
                jobId: op.id,
                expected: String(objectCount),
                actual: "0",
                message: `bulk job ${op.id} COMPLETED with objectCount ${objectCount} but no result URL`
              })
            })
          )
        }
        return Stream.empty
      }
      const grouped = opts.grouped ?? hasChildren(resource)
      const cursorKey = cursorKeyOf(resource.documents.cursorField)
      // A child line whose type cannot be told (no __typename, no gid) or that maps to no child
      // field of the resource would be dropped by the decoder: park it under UNPLACED, which
      // fails the stream below instead of losing it silently.
      const known = new Set(Object.values(resource.childFieldByType))
      const childField = (child: { readonly [k: string]: unknown }) => {
        const t = childTypeOf(child)
        if (t === null) return UNPLACED
        const field = resource.childFieldByType[t] ?? `${t.charAt(0).toLowerCase()}${t.slice(1)}s`
        return known.size === 0 || known.has(field) ? field : UNPLACED
      }
      return jsonlLines(download(url, operation)).pipe(
        reassemble({
          grouped,
          childField,
          childFields: resource.documents.bulkChildFields,
          inlineParents: resource.inlineParents,
          partial,
          jobId: op.id,
          ...(partial ? {} : { expectedLines: objectCount })
        }),
        // Roots a previous partial result already emitted at the boundary second are read again
        // by the gap re-run: skip them, children included (they travel inside the root).
        boundary === undefined ? (s) => s : Stream.filter((raw) => boundary.admit(raw.id, raw[cursorKey])),
        Stream.tap((raw) =>
          Effect.suspend(() => {
            const stray = unplacedOf(raw)
            if (stray !== null) {
              return Effect.fail(
                new ShopifyError({
                  operation,
                  reason: new DataLoss({
                    jobId: op.id,
                    expected: null,
                    actual: null,
                    message: `bulk job ${op.id}: ${stray.length} child line(s) of ${String(raw.id)} have no recognisable type (__typename ${JSON.stringify(
                      Predicate.isObject(stray[0]) ? (stray[0].__typename ?? null) : null
                    )}); add the type to the resource's childFieldByType`
                  })
                })
              )
            }
            const v = raw[cursorKey]
            if (opts.onCursor !== undefined && typeof v === "string") opts.onCursor(v)
            return Effect.void
          })
        ),
        Stream.grouped(500),
        Stream.mapEffect((batch) => decodeRecords(resource, batch, operation, op.id)),
        Stream.flatMap((r) => Stream.fromIterable(r.records))
      )
    }

    const markLoaded = (jobId: string) =>
      Effect.gen(function* () {
        const known = written.get(jobId)
        const existing =
          known !== undefined
            ? Option.some(known)
            : yield* store.get(jobId).pipe(Effect.mapError(storeFailure("bulk job store get")))
        if (Option.isNone(existing)) return
        const now = yield* Clock.currentTimeMillis
        yield* put({ ...existing.value, state: "loaded", updatedAt: now })
      })

    const cancelOpen = <A>(resource: ResourceSpec<A>) =>
      Effect.gen(function* () {
        const open = yield* store
          .listOpen(keyOf(resource))
          .pipe(Effect.mapError(storeFailure("bulk job store listOpen")))
        for (const job of open) {
          const found = yield* fetchOperation(job.jobId).pipe(
            Effect.map(Option.some),
            Effect.catch((e) =>
              isUnknownJob(e) ? Effect.as(forgetUnknown(job), Option.none<BulkOperation>()) : Effect.fail(e)
            )
          )
          if (Option.isNone(found)) continue
          const op = found.value
          if (!TERMINAL.has(op.status)) yield* cancel(job.jobId)
          else {
            const now = yield* Clock.currentTimeMillis
            yield* put({
              ...job,
              state: op.status === "CANCELED" ? "canceled" : "failed",
              remoteStatus: op.status,
              updatedAt: now
            })
          }
        }
        return open.length
      })

    /** Records of jobs a crashed run left open for this resource. */
    const resumeOpen = <A>(resource: ResourceSpec<A>, grouped: boolean): Stream.Stream<A, ShopifyError> =>
      Stream.unwrap(
        Effect.gen(function* () {
          const open = yield* store
            .listOpen(keyOf(resource))
            .pipe(Effect.mapError(storeFailure("bulk job store listOpen")))
          return Stream.fromIterable(open).pipe(
            Stream.flatMap((record) =>
              Stream.unwrap(
                Effect.gen(function* () {
                  yield* Effect.logInfo("Resuming a bulk job left open by a previous run").pipe(
                    Effect.annotateLogs({ jobId: record.jobId, stream: resource.name })
                  )
                  const awaited = yield* slots
                    .withPermits(1)(awaitJob(record))
                    .pipe(
                      Effect.map(Option.some),
                      Effect.catch((e) =>
                        isUnknownJob(e) ? Effect.as(forgetUnknown(record), Option.none()) : Effect.fail(e)
                      )
                    )
                  if (Option.isNone(awaited)) return Stream.empty
                  const job = awaited.value
                  if (job.operation.status !== "COMPLETED") {
                    yield* Effect.logWarning(
                      "A resumed bulk job did not complete; its window must be re-exported"
                    ).pipe(
                      Effect.annotateLogs({
                        jobId: record.jobId,
                        status: job.operation.status,
                        windowStart: record.windowStart,
                        windowEnd: record.windowEnd
                      })
                    )
                    return Stream.empty
                  }
                  return results(resource, job, { grouped }).pipe(
                    Stream.concat(Stream.fromEffectDrain(markLoaded(record.jobId)))
                  )
                })
              )
            )
          )
        })
      )

    interface SliceState {
      readonly start: number
      readonly slice: number
      /** Filled while a partial result streams: where its complete data ended, and the ids there. */
      readonly boundary: Boundary | null
    }

    const exportStream = <A>(
      resource: ResourceSpec<A>,
      opts: ExportOptions
    ): Stream.Stream<A, ShopifyError> => {
      const end = opts.window.end
      const minSlice = opts.minSliceMillis ?? 60_000
      const maxSlice = opts.maxSliceMillis ?? 365 * 86_400_000
      const target = opts.targetJobMillis ?? 20 * 60_000
      const grouped = opts.groupObjects ?? hasChildren(resource)
      // Partial data is a prefix of the job's output; it marks a point in time only when the output
      // is ordered by the window's field (and children travel with their root).
      const canResumePartial =
        (grouped || !hasChildren(resource)) &&
        orderedByCursor(resource.documents.sortKey, resource.documents.cursorField)
      const startOpts: StartOptions = {
        groupObjects: grouped,
        ...(opts.search === undefined ? {} : { search: opts.search })
      }
      const step = (
        state: SliceState
      ): Effect.Effect<
        readonly [ReadonlyArray<Stream.Stream<A, ShopifyError>>, Option.Option<SliceState>],
        ShopifyError
      > =>
        Effect.gen(function* () {
          const b = state.boundary
          let boundary = b
          let start = state.start
          if (b?.replaying === true) {
            // Already re-reading from the origin: go on from where the slices got to.
          } else if (b?.disordered === true && b.emitted !== null) {
            // Not time-ordered after all: re-read the chain's window whole, skipping every root
            // already emitted (their ids were kept, up to a bound).
            b.replayFromOrigin()
            start = b.origin
          } else if (b?.disordered === true) {
            yield* Effect.logWarning(
              "Partial bulk data was not ordered by its window field and too large to remember; re-reading its whole slice (records may repeat)"
            ).pipe(Effect.annotateLogs({ stream: resource.name }))
            boundary = null
            start = b.origin
          } else if (b !== null && b.second !== null) {
            start = Math.max(state.start, b.second * 1000)
          }
          if (start >= end) return [[], Option.none()] as const
          // Search dates have whole seconds: slice ends on a whole second so that consecutive
          // slices neither overlap nor leave a gap.
          const sliceEnd = Math.min(end, Math.ceil((start + state.slice) / 1000) * 1000)
          const job = yield* run(resource, { start, end: sliceEnd }, startOpts)
          const status = job.operation.status
          if (status === "COMPLETED") {
            const nextSlice =
              job.durationMillis > target
                ? Math.max(minSlice, Math.floor(state.slice / 2))
                : job.durationMillis < target / 4
                  ? Math.min(maxSlice, state.slice * 2)
                  : state.slice
            const records = results(resource, job, { grouped }, boundary ?? undefined).pipe(
              Stream.concat(Stream.fromEffectDrain(markLoaded(job.record.jobId)))
            )
            return [
              [records],
              sliceEnd < end
                ? Option.some({
                    start: sliceEnd,
                    slice: nextSlice,
                    // A replayed (disordered) chain may have emitted roots past this slice already.
                    boundary: boundary?.disordered === true ? boundary : null
                  })
                : Option.none()
            ] as const
          }
          if (status === "EXPIRED" || state.slice <= minSlice) {
            return yield* new ShopifyError({
              operation: `${resource.name} bulk export`,
              reason: new BulkOperationFailed({
                jobId: job.operation.id,
                status,
                errorCode: job.operation.errorCode,
                message: `bulk job for ${new Date(start).toISOString()}..${new Date(sliceEnd).toISOString()} ended ${status} even at the smallest slice`
              })
            })
          }
          yield* Effect.logWarning(
            "Bulk job did not complete; loading partial data and re-running the rest smaller"
          ).pipe(
            Effect.annotateLogs({ jobId: job.operation.id, status, errorCode: job.operation.errorCode ?? "" })
          )
          const half = Math.max(minSlice, Math.floor(state.slice / 2))
          if (job.operation.partialDataUrl !== null && canResumePartial) {
            // Filled while the partial records stream (before the next step runs); a re-run of a
            // re-run keeps the same boundary, so nothing emitted earlier comes out twice.
            const next = boundary ?? new Boundary(start)
            const records = results(resource, job, { grouped }, next)
            return [[records], Option.some({ start, slice: half, boundary: next })] as const
          }
          return [[], Option.some({ start, slice: half, boundary })] as const
        })
      // A resource without a time filter is read whole by one job, whatever the window.
      const firstSlice =
        resource.documents.cursorField === "none"
          ? Math.max(1, end - opts.window.start)
          : (opts.sliceMillis ?? 30 * 86_400_000)
      const fresh = Stream.paginate<SliceState, Stream.Stream<A, ShopifyError>, ShopifyError, never>(
        { start: opts.window.start, slice: firstSlice, boundary: null },
        step
      ).pipe(Stream.flatten())
      return Stream.unwrap(
        Effect.map(requireVersion(config, resource), () =>
          opts.resumeOpenJobs === false ? fresh : resumeOpen(resource, grouped).pipe(Stream.concat(fresh))
        )
      )
    }

    const notifyFinished = (jobId: string) =>
      Effect.suspend(() => {
        const d = signals.get(jobId)
        // No poller registered: its first poll, which comes before any wait, sees the job's end.
        return d === undefined ? Effect.void : Deferred.succeed(d, undefined).pipe(Effect.asVoid)
      })

    return ShopifyBulk.of({
      start,
      await: awaitJob,
      run,
      results,
      export: exportStream,
      cancel,
      cancelOpen,
      notifyFinished,
      markLoaded
    })
  })
