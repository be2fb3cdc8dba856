/**
 * The live Stocky v2 client: every documented read endpoint as a Stream of typed records (or an
 * Effect for single records), with Stocky's paging quirks handled and a shut-down API reported as
 * one permanent `Retired` error.
 */
import {
  AdaptiveLimiter,
  type ApiError,
  type ConfigValidationError,
  type DeadLetter,
  DeadLetterSink,
  HttpTransport,
  incrementCounter,
  MetricNames,
  makeAdaptiveLimiter,
  Pagination,
  type StoreError,
  validateConfig
} from "@kura/core"
import { Clock, Context, DateTime, Effect, Layer, Option, Schema, Stream } from "effect"
import { rawId, toDeadLetter } from "./internal/deadLetters.js"
import { decodeRecord } from "./internal/decodeRecord.js"
import { type FetchOutcome, getJson, mentionsShutdown } from "./internal/http.js"
import {
  advancePaging,
  initialPaging,
  type PagePosition,
  type PagingState,
  pageQuery,
  resumeSinceId
} from "./internal/Paging.js"
import type { PurchaseOrder } from "./PurchaseOrder.js"
import type { StockAdjustment } from "./StockAdjustment.js"
import type { StockAdjustmentItem } from "./StockAdjustmentItem.js"
import type { StockTransfer } from "./StockTransfer.js"
import {
  type ResolvedStockyConfig,
  resolveStockyConfig,
  StockyClientConfig,
  type StockyClientOptions
} from "./StockyConfig.js"
import { Decode, InvalidConfig, NotFound, PagingStalled, Retired, StockyError } from "./StockyError.js"
import { type StockyRecords, type StockyResourceName, StockyResources } from "./StockyResource.js"
import { StockyTimeZone } from "./StockyTimeZone.js"
import type { Supplier } from "./Supplier.js"
import type { TaxType } from "./TaxType.js"

/** A point in time for filters: a DateTime, a Date, or an ISO 8601 string. */
export type Instant = DateTime.DateTime | Date | string

/** Filters and paging options for list endpoints. */
export interface ListOptions {
  /** Records per page (1–250); defaults to the client's `pageSize`. */
  readonly limit?: number | undefined
  /** Resume after this id (ascending resources) or before it (purchase orders, newest first). */
  readonly sinceId?: number | undefined
  /** Only records updated on or after this instant (not supported by tax_types). */
  readonly updatedSince?: Instant | undefined
  /** Only records adjusted on or after this instant (stock adjustments and their items). */
  readonly adjustedSince?: Instant | undefined
  /** Passed through as `status` (items: "adjusted"; POs: e.g. "confirmed-unarchived"). */
  readonly status?: string | undefined
}

/** One page as Stocky served it, with the records it contributed after de-duplication. */
export interface StockyPage<R extends StockyResourceName = StockyResourceName> {
  readonly resource: R
  /** 1-based page number. */
  readonly page: number
  /** The request URL (no secrets: the key travels in a header). */
  readonly url: string
  /** The response body exactly as received (what an archive stores). */
  readonly body: string
  /** How many records the page held before de-duplication. */
  readonly rawCount: number
  /** The page's new records, decoded. */
  readonly records: ReadonlyArray<StockyRecords[R]>
  /** Records sent to the DeadLetterSink (with `invalidRecords: "dead-letter"`). */
  readonly rejected: number
  /**
   * The `sinceId` to pass in `ListOptions` to resume after this page (a checkpoint), or null on
   * the last page and while paging by offset.
   */
  readonly resumeSinceId: number | null
  /** False when the deployment does not serve this (optional) resource; then `body` is "". */
  readonly served: boolean
}

/** Everything the client can fail with (StoreError only when dead-lettering). */
export type StockyClientError = ApiError | StockyError | StoreError

/** The client service. */
export class StockyClient extends Context.Service<
  StockyClient,
  {
    /** Streams every record of a resource, page by page. */
    readonly list: <R extends StockyResourceName>(
      resource: R,
      options?: ListOptions
    ) => Stream.Stream<StockyRecords[R], StockyClientError>
    /** Streams the raw pages (body as received plus decoded records); used by `exportArchive`. */
    readonly pages: <R extends StockyResourceName>(
      resource: R,
      options?: ListOptions
    ) => Stream.Stream<StockyPage<R>, StockyClientError>
    /** Fetches one record; fails with reason `NotFound` when Stocky has no such id. */
    readonly get: <R extends StockyResourceName>(
      resource: R,
      id: number
    ) => Effect.Effect<StockyRecords[R], StockyClientError>
    /** Succeeds when the API answers; fails with reason `Retired` when it has been shut down. */
    readonly checkAvailable: Effect.Effect<void, StockyClientError>
    /** Purchase orders, newest first. */
    readonly purchaseOrders: (options?: ListOptions) => Stream.Stream<PurchaseOrder, StockyClientError>
    /** Stock adjustment headers (items come from `stockAdjustmentItems`). */
    readonly stockAdjustments: (options?: ListOptions) => Stream.Stream<StockAdjustment, StockyClientError>
    /** Signed quantity changes, joined to their adjustment by `stock_adjustment_id`. */
    readonly stockAdjustmentItems: (
      options?: ListOptions
    ) => Stream.Stream<StockAdjustmentItem, StockyClientError>
    /** Empty when the deployment no longer serves transfers (404 while other endpoints answer). */
    readonly stockTransfers: (options?: ListOptions) => Stream.Stream<StockTransfer, StockyClientError>
    /** Suppliers. */
    readonly suppliers: (options?: ListOptions) => Stream.Stream<Supplier, StockyClientError>
    /** Tax types (no date filter). */
    readonly taxTypes: (options?: ListOptions) => Stream.Stream<TaxType, StockyClientError>
    /** The validated configuration (the key stays redacted). */
    readonly config: ResolvedStockyConfig
  }
>()("@kura/stocky-client/StockyClient") {
  /** The client over the given options; needs core's HttpTransport. */
  static readonly layer = (
    options: StockyClientOptions
  ): Layer.Layer<StockyClient, StockyError, HttpTransport> =>
    Layer.effect(StockyClient, Effect.flatMap(resolveStockyConfig(options), makeStockyClient))

  /** The client configured from STOCKY_* variables (see `StockyClientConfig`); needs HttpTransport. */
  static readonly layerConfig: Layer.Layer<StockyClient, StockyError | ConfigValidationError, HttpTransport> =
    Layer.effect(
      StockyClient,
      Effect.gen(function* () {
        const options = yield* validateConfig(StockyClientConfig)
        const config = yield* resolveStockyConfig(options)
        return yield* makeStockyClient(config)
      })
    )

  /**
   * A self-contained client for tests: its own HttpTransport and a quick, deterministic retry
   * policy, pointed at `baseUrl` (the sandbox's Stocky emulator or a local server).
   */
  static readonly layerTest = (options: StockyClientOptions): Layer.Layer<StockyClient, StockyError> =>
    StockyClient.layer({
      ...options,
      retry: options.retry ?? { baseDelayMillis: 5, maxDelayMillis: 50, maxAttempts: 6, jitter: false },
      rateLimit: options.rateLimit ?? { maxRatePerSecond: 1000, initialRatePerSecond: 1000 }
    }).pipe(
      Layer.provide(HttpTransport.layer({ responseTimeoutMillis: 10_000, connectionRetryDelayMillis: 5 }))
    )
}

const stockyError = (reason: ConstructorParameters<typeof StockyError>[0]["reason"]) =>
  new StockyError({ reason })

const toIso = (what: string, instant: Instant): Effect.Effect<string, StockyError> => {
  const dt = DateTime.make(instant)
  return Option.isSome(dt)
    ? Effect.succeed(DateTime.formatIso(DateTime.toUtc(dt.value)))
    : Effect.fail(
        stockyError(
          new InvalidConfig({
            field: what,
            detail: `expected a DateTime, Date or ISO 8601 string, got ${String(instant)}`
          })
        )
      )
}

const RootKey = (name: string) => Schema.Struct({ [name]: Schema.Array(Schema.Unknown) })

/** Builds the client from validated settings. */
export const makeStockyClient = (
  config: ResolvedStockyConfig
): Effect.Effect<StockyClient["Service"], StockyError, HttpTransport> =>
  Effect.gen(function* () {
    const transport = yield* HttpTransport
    // A limiter in context is shared (one pace per store across clients); otherwise the client keeps its own.
    const shared = yield* Effect.serviceOption(AdaptiveLimiter)
    const limiter = Option.getOrElse(shared, () => makeAdaptiveLimiter(config.rateLimit))
    const sink = yield* Effect.serviceOption(DeadLetterSink)
    if (config.invalidRecords === "dead-letter" && Option.isNone(sink))
      return yield* stockyError(
        new InvalidConfig({
          field: "invalidRecords",
          detail:
            '"dead-letter" needs a DeadLetterSink layer (e.g. the warehouse\'s); provide one or use "fail"'
        })
      )
    const deadLetters = config.invalidRecords === "dead-letter" ? Option.getOrUndefined(sink) : undefined
    const fetch = (resourcePath: string, query: Record<string, string | number | undefined>) =>
      getJson(config, limiter, resourcePath, query).pipe(Effect.provideService(HttpTransport, transport))
    const retired = (outcome: { readonly url: string; readonly evidence: string }) =>
      stockyError(new Retired({ url: outcome.url, evidence: outcome.evidence }))
    const withZone = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.provideService(effect, StockyTimeZone, config.timeZone)

    const baseQuery = Effect.fnUntraced(function* (resource: StockyResourceName, options: ListOptions) {
      const spec = StockyResources[resource]
      const limit = options.limit ?? config.pageSize
      if (!Number.isInteger(limit) || limit < 1 || limit > 250)
        return yield* stockyError(
          new InvalidConfig({ field: "limit", detail: `expected an integer from 1 to 250, got ${limit}` })
        )
      const query: Record<string, string | number | undefined> = { limit }
      if (options.updatedSince !== undefined) {
        if (!spec.supportsUpdatedSince)
          return yield* stockyError(
            new InvalidConfig({
              field: "updatedSince",
              detail: `${resource} has no updated_since filter; filter after reading`
            })
          )
        query.updated_since = yield* toIso("updatedSince", options.updatedSince)
      }
      if (options.adjustedSince !== undefined) {
        if (!spec.supportsAdjustedSince)
          return yield* stockyError(
            new InvalidConfig({ field: "adjustedSince", detail: `${resource} has no adjusted_since filter` })
          )
        query.adjusted_since = yield* toIso("adjustedSince", options.adjustedSince)
      }
      if (options.status !== undefined) query.status = options.status
      return { limit, query }
    })

    /** Decides what a 404 on an optional list means: not served (another endpoint answers) or retired. */
    const optionalNotFound = Effect.fnUntraced(function* (
      outcome: Extract<FetchOutcome, { _tag: "NotFound" }>
    ) {
      const probe = yield* fetch("/tax_types.json", { limit: 1 })
      if (probe._tag === "Ok") return false
      return yield* retired(
        probe._tag === "Retired"
          ? probe
          : {
              url: outcome.url,
              evidence: `404 on ${outcome.url} and on ${probe.url}: every endpoint is gone`
            }
      )
    })

    const pages = <R extends StockyResourceName>(
      resource: R,
      options: ListOptions = {}
    ): Stream.Stream<StockyPage<R>, StockyClientError> =>
      Stream.unwrap(
        Effect.gen(function* () {
          const spec = StockyResources[resource]
          const { limit, query } = yield* baseQuery(resource, options)
          // Stocky's own state (dedupe set, cursors used, fallback to offset) lives beside core's
          // paginator, which supplies the repeated-cursor guard on the position it is handed.
          let state: PagingState = initialPaging(options.sinceId ?? null)
          const fetchPage = (): Effect.Effect<
            Pagination.Fetched<StockyPage<R>, PagePosition>,
            StockyClientError
          > =>
            Effect.gen(function* () {
              const outcome = yield* fetch(`/${resource}.json`, { ...query, ...pageQuery(state) })
              if (outcome._tag === "Retired") return yield* retired(outcome)
              if (outcome._tag === "NotFound") {
                if (spec.optional && state.page === 0 && (yield* optionalNotFound(outcome)) === false)
                  return {
                    items: [
                      {
                        resource,
                        page: 1,
                        url: outcome.url,
                        body: "",
                        rawCount: 0,
                        records: [],
                        rejected: 0,
                        resumeSinceId: null,
                        served: false
                      }
                    ],
                    next: null
                  }
                return yield* retired({
                  url: outcome.url,
                  evidence: `${outcome.status} on the list endpoint ${outcome.url}`
                })
              }
              const envelope = Schema.decodeUnknownOption(RootKey(resource))(outcome.json)
              if (Option.isNone(envelope)) {
                const phrase = mentionsShutdown(outcome.body)
                if (phrase !== undefined)
                  return yield* retired({ url: outcome.url, evidence: `answer saying "${phrase}"` })
                return yield* stockyError(
                  new Decode({
                    resource,
                    source: outcome.url,
                    line: null,
                    index: null,
                    field: resource,
                    detail: `expected a list body {"${resource}": [...]}`
                  })
                )
              }
              const raw = Reflect.get(envelope.value, resource)
              const rawRecords: ReadonlyArray<unknown> = Array.isArray(raw) ? raw : []
              const decoded = yield* withZone(
                Effect.forEach(rawRecords, (r, index) =>
                  Effect.result(decodeRecord(resource, r, { source: outcome.url, index }))
                )
              )
              // A record that does not decode still moves the cursor when its id is readable.
              const ids = decoded.map((d, i) => (d._tag === "Success" ? d.success.id : rawId(rawRecords[i])))
              const next = advancePaging(state, ids, limit, spec.direction)
              const records: Array<StockyRecords[R]> = []
              const letters: Array<DeadLetter> = []
              for (const i of next.fresh) {
                const result = decoded[i]
                if (result === undefined) continue
                if (result._tag === "Success") records.push(result.success)
                else if (deadLetters === undefined) return yield* result.failure
                else {
                  const at = yield* Clock.currentTimeMillis
                  letters.push(
                    toDeadLetter(
                      { source: "stocky", account: config.storeName, stream: resource },
                      rawRecords[i],
                      result.failure,
                      at
                    )
                  )
                }
              }
              if (letters.length > 0 && deadLetters !== undefined) yield* deadLetters.write(letters)
              yield* incrementCounter(MetricNames.records, { source: "stocky", resource }, records.length)
              const page: StockyPage<R> = {
                resource,
                page: state.page + 1,
                url: outcome.url,
                body: outcome.body,
                rawCount: rawRecords.length,
                records,
                rejected: letters.length,
                resumeSinceId: next._tag === "Continue" ? resumeSinceId(next.next.position) : null,
                served: true
              }
              if (next._tag === "Stalled")
                return yield* stockyError(
                  new PagingStalled({ resource, url: outcome.url, detail: next.detail })
                )
              if (next._tag === "Done") return { items: [page], next: null }
              state = next.next
              return { items: [page], next: state.position }
            })
          return Pagination.paginate(fetchPage, { label: `stocky/${resource}` }).pipe(
            Stream.flatMap((p) => Stream.fromIterable(p.items)),
            Stream.mapError((e) =>
              e._tag === "PaginationError"
                ? stockyError(new PagingStalled({ resource, url: `/${resource}.json`, detail: e.message }))
                : e
            )
          )
        })
      )

    const list = <R extends StockyResourceName>(resource: R, options?: ListOptions) =>
      pages(resource, options).pipe(Stream.flatMap((p) => Stream.fromIterable(p.records)))

    const get = Effect.fn("StockyClient.get")(function* <R extends StockyResourceName>(
      resource: R,
      id: number
    ) {
      if (!Number.isSafeInteger(id) || id < 1)
        return yield* stockyError(
          new InvalidConfig({ field: "id", detail: `expected a positive integer id, got ${id}` })
        )
      const outcome = yield* fetch(`/${resource}/${id}.json`, {})
      if (outcome._tag === "Retired") return yield* retired(outcome)
      if (outcome._tag === "NotFound") return yield* stockyError(new NotFound({ resource, id }))
      // The docs show the bare object; one client reads a singular wrapper. Accept both.
      const singular = StockyResources[resource].singular
      const wrapped = Reflect.get(Object(outcome.json), singular)
      const body =
        wrapped !== null && typeof wrapped === "object" && !Array.isArray(wrapped) ? wrapped : outcome.json
      return yield* withZone(decodeRecord(resource, body, { source: outcome.url }))
    })

    const checkAvailable = Effect.gen(function* () {
      const outcome = yield* fetch("/tax_types.json", { limit: 1 })
      if (outcome._tag === "Retired") return yield* retired(outcome)
      if (outcome._tag === "NotFound")
        return yield* retired({
          url: outcome.url,
          evidence: `${outcome.status} on the list endpoint ${outcome.url}`
        })
    }).pipe(Effect.withSpan("StockyClient.checkAvailable"))

    return StockyClient.of({
      list,
      pages,
      get,
      checkAvailable,
      purchaseOrders: (options) => list("purchase_orders", options),
      stockAdjustments: (options) => list("stock_adjustments", options),
      stockAdjustmentItems: (options) => list("stock_adjustment_items", options),
      stockTransfers: (options) => list("stock_transfers", options),
      suppliers: (options) => list("suppliers", options),
      taxTypes: (options) => list("tax_types", options),
      config
    })
  })
