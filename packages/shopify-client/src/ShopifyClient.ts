/**
 * The Shopify Admin GraphQL client: cost-paced queries, paged streams of decoded records, and
 * incremental `updated_at` streams per resource.
 *
 * @since 0.1.0
 */
import { type DeadLetter, DeadLetterSink, HttpTransport, QueryCostBucket, type RetryPolicy } from "@kura/core"
import { Clock, Context, Effect, Layer, Option, Predicate, Ref, Schema, Stream } from "effect"
import {
  type CostBucketStats,
  makeCostBucket,
  STANDARD_BUCKET,
  type ThrottleStatus
} from "./internal/CostBucket.js"
import { type CostInfo, type GraphqlOptions, makeExecutor } from "./internal/http.js"
import { appendTo, normalizeConnections, type Truncation } from "./internal/normalize.js"
import { largestAffordablePage } from "./QueryCost.js"
import { type ResourceSpec, Resources } from "./Resources.js"
import { ShopifyAuth } from "./ShopifyAuth.js"
import { ShopifyConfig, type ShopifyConfigShape, versionAtLeast } from "./ShopifyConfig.js"
import { DataLoss, Decode, ShopifyError, UnsupportedVersion } from "./ShopifyError.js"
import { type BulkJobEvent, makeShopifyCounters, type ShopifyTelemetryCounts } from "./ShopifyTelemetry.js"
import { incrementalWindow, type TimeWindow, updatedAtQuery } from "./UpdatedAtWindow.js"

/**
 * One page of a paged stream. `endCursor` is what to resume `after` from.
 *
 * @since 0.1.0
 * @category models
 */
export interface Page<A> {
  readonly records: ReadonlyArray<A>
  readonly endCursor: string | null
  readonly hasNextPage: boolean
  /** The page size used (lowered when the cost ceiling required it). */
  readonly pageSize: number
  readonly cost: CostInfo
  /** Records that failed to decode and went to the DeadLetterSink. */
  readonly rejected: number
}

/**
 * Options of a paged read.
 *
 * @since 0.1.0
 * @category models
 */
export interface PageOptions {
  /** Shopify search syntax, e.g. from `updatedAtQuery`. */
  readonly search?: string | null
  /** Resume after this cursor. */
  readonly after?: string | null
  /** Upper bound on the page size (the client lowers it to fit the cost ceiling). */
  readonly pageSize?: number
}

/**
 * Options of an incremental read.
 *
 * @since 0.1.0
 * @category models
 */
export interface IncrementalOptions {
  /** The previous run's high-water mark (epoch ms); null or absent reads from `floor`. */
  readonly since?: number | null
  /** Where a first run starts (epoch ms). Default 0 (everything). */
  readonly floor?: number
  /** End of the window (epoch ms, exclusive). Default now. */
  readonly until?: number
  /** Look-back overlap in ms. Default the config's `lookbackMillis`. */
  readonly overlapMillis?: number
  /** Extra AND-ed search terms. */
  readonly search?: string
  readonly pageSize?: number
  /** Resume after this cursor within the same window. */
  readonly after?: string | null
}

/**
 * The client service.
 *
 * @since 0.1.0
 * @category services
 */
export class ShopifyClient extends Context.Service<
  ShopifyClient,
  {
    readonly config: ShopifyConfigShape
    /** Runs a GraphQL document; returns `data` (undecoded) and the cost figures. */
    readonly query: (
      document: string,
      variables?: Readonly<Record<string, unknown>>,
      options?: Partial<GraphqlOptions>
    ) => Effect.Effect<{ readonly data: unknown; readonly cost: CostInfo }, ShopifyError>
    /** Pages of a resource, each with its end cursor. */
    readonly pages: <A>(
      resource: ResourceSpec<A>,
      options?: PageOptions
    ) => Stream.Stream<Page<A>, ShopifyError>
    /** Records of a resource changed in an `updated_at` window (with look-back overlap). */
    readonly incremental: <A>(
      resource: ResourceSpec<A>,
      options?: IncrementalOptions
    ) => Stream.Stream<A, ShopifyError>
    /** The window an incremental read with these options covers. */
    readonly windowOf: (options?: IncrementalOptions) => Effect.Effect<TimeWindow>
    /** The API version the shop last answered with (`X-Shopify-API-Version`). */
    readonly servedVersion: Effect.Effect<Option.Option<string>>
    /** The mirrored cost bucket and pacing counters. */
    readonly costStats: Effect.Effect<CostBucketStats>
    /** What this client did so far (calls, cost points, throttling, retries, bulk jobs). */
    readonly telemetry: Effect.Effect<ShopifyTelemetryCounts>
    /** Counts a bulk job event (used by `ShopifyBulk`, which works through this client). */
    readonly recordBulkJob: (event: BulkJobEvent) => Effect.Effect<void>
  }
>()("@kura/shopify-client/ShopifyClient") {
  /**
   * The client over `ShopifyConfig`, `ShopifyAuth` and core `HttpTransport`.
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layer: Layer.Layer<ShopifyClient, never, ShopifyConfig | ShopifyAuth | HttpTransport> =
    Layer.effect(
      ShopifyClient,
      Effect.suspend(() => makeShopifyClient())
    )

  /**
   * The client with custom retry settings for transport faults and 5xx, or a known bucket.
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layerWith = (options: {
    readonly retry?: RetryPolicy.RetryPolicyOptions
    readonly initialBucket?: ThrottleStatus
  }): Layer.Layer<ShopifyClient, never, ShopifyConfig | ShopifyAuth | HttpTransport> =>
    Layer.effect(ShopifyClient, makeShopifyClient(options))

  /**
   * A complete client for a shop with a static token (config + auth + a new transport).
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layerStatic = (options: {
    readonly shop: string
    readonly accessToken: string
    readonly apiVersion?: string
    readonly baseUrl?: string
  }): Layer.Layer<ShopifyClient | ShopifyConfig, ShopifyError> =>
    ShopifyClient.layer.pipe(
      Layer.provideMerge(ShopifyConfig.layer(stripUndefined(options))),
      Layer.provide(ShopifyAuth.layerStatic(options.accessToken)),
      Layer.provide(HttpTransport.layer())
    )

  /**
   * Reads SHOPIFY_* settings through Effect Config (see `ShopifyConfig.layerConfig`, `ShopifyAuth.layerConfig`).
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layerConfig = ShopifyClient.layer.pipe(
    Layer.provide(ShopifyAuth.layerConfig),
    Layer.provideMerge(ShopifyConfig.layerConfig),
    Layer.provide(HttpTransport.layerConfig)
  )
}

const stripUndefined = (o: {
  readonly shop: string
  readonly apiVersion?: string
  readonly baseUrl?: string
}): { shop: string; apiVersion?: string; baseUrl?: string } => ({
  shop: o.shop,
  ...(o.apiVersion === undefined ? {} : { apiVersion: o.apiVersion }),
  ...(o.baseUrl === undefined ? {} : { baseUrl: o.baseUrl })
})

const PageEnvelope = Schema.Struct({
  pageInfo: Schema.Struct({ hasNextPage: Schema.Boolean, endCursor: Schema.NullOr(Schema.String) }),
  nodes: Schema.Array(Schema.Unknown)
})
const decodePageEnvelope = Schema.decodeUnknownOption(PageEnvelope)

interface PageState {
  readonly after: string | null
  readonly size: number
}

const SIXTY_DAYS = 60 * 24 * 3600 * 1000

/** Records decoded between two yields of `decodeRecords`. */
const DECODE_SLICE = 64

/**
 * Decodes raw records of a resource (paged nodes or reassembled bulk records): normalizes
 * nested connections, rejects truncated ones, and sends undecodable records to the
 * DeadLetterSink when one is provided (otherwise fails with `Decode`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const decodeRecords = Effect.fnUntraced(function* <A>(
  resource: ResourceSpec<A>,
  raw: ReadonlyArray<unknown>,
  operation: string,
  origin: string,
  fetchRest?: (truncation: Truncation) => Effect.Effect<ReadonlyArray<unknown> | null, ShopifyError>
) {
  const sink = yield* Effect.serviceOption(DeadLetterSink)
  const decode = Schema.decodeUnknownResult(resource.schema)
  const records: Array<A> = []
  const letters: Array<DeadLetter> = []
  const now = yield* Clock.currentTimeMillis
  for (const [i, node] of raw.entries()) {
    // A batch is up to 500 reassembled records: decoding it in one stretch held the event loop
    // (~100 ms for an incremental pass's orders), and every warehouse statement finishing
    // meanwhile waited for it, with the connection idle. Other fibers get a turn between slices.
    if (i > 0 && i % DECODE_SLICE === 0) yield* Effect.yieldNow
    const truncations: Array<Truncation> = []
    const normalized = normalizeConnections(node, truncations)
    for (const t of truncations) {
      // Read the rest of a nested connection that did not fit in the page, or fail loudly.
      const rest = fetchRest === undefined || t.parentId === null ? null : yield* fetchRest(t)
      const field = t.path.split(".").pop() ?? t.path
      if (rest === null || t.parentId === null || !appendTo(normalized, t.parentId, field, rest)) {
        return yield* new ShopifyError({
          operation,
          reason: new DataLoss({
            jobId: null,
            expected: null,
            actual: null,
            message: `nested connection ${t.path} of ${t.parentId} has more items than one page holds and cannot be followed; use the bulk export for this window`
          })
        })
      }
    }
    const result = decode(normalized)
    if (result._tag === "Success") {
      records.push(result.success)
      continue
    }
    const message = String(result.failure.message ?? result.failure)
    const payload = JSON.stringify(node)
    if (Option.isNone(sink)) {
      return yield* new ShopifyError({
        operation,
        reason: new Decode({ message, excerpt: payload.slice(0, 300) })
      })
    }
    const id = Predicate_id(node)
    letters.push({
      key: { source: "shopify", account: "", stream: resource.name },
      sourceId: id,
      payload,
      reason: "decode",
      detail: message,
      origin,
      at: now
    })
  }
  if (letters.length > 0 && Option.isSome(sink)) {
    yield* sink.value.write(letters).pipe(
      Effect.mapError(
        (e) =>
          new ShopifyError({
            operation,
            reason: new Decode({ message: `dead-letter write failed: ${e.message}`, excerpt: "" })
          })
      )
    )
  }
  return { records, rejected: letters.length }
})

const Predicate_id = (node: unknown): string | null => {
  if (typeof node !== "object" || node === null || !("id" in node)) return null
  return typeof node.id === "string" ? node.id : null
}

/**
 * Fails with `UnsupportedVersion` when the configured API version predates the resource.
 *
 * @since 0.1.0
 * @category constructors
 */
export const requireVersion = (config: ShopifyConfigShape, resource: ResourceSpec<unknown>) =>
  resource.documents.minVersion !== null && !versionAtLeast(config.apiVersion, resource.documents.minVersion)
    ? Effect.fail(
        new ShopifyError({
          operation: resource.name,
          reason: new UnsupportedVersion({
            feature: resource.name,
            requiredVersion: resource.documents.minVersion,
            apiVersion: config.apiVersion
          })
        })
      )
    : Effect.void

/**
 * Builds the client.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeShopifyClient = (
  options: { readonly retry?: RetryPolicy.RetryPolicyOptions; readonly initialBucket?: ThrottleStatus } = {}
) =>
  Effect.gen(function* () {
    const config = yield* ShopifyConfig
    const auth = yield* ShopifyAuth
    const transport = yield* HttpTransport
    // A QueryCostBucket in context is shared (several clients or streams of one shop).
    const shared = yield* Effect.serviceOption(QueryCostBucket)
    const bucket = yield* makeCostBucket(
      config.shop,
      options.initialBucket ?? STANDARD_BUCKET,
      Option.getOrUndefined(shared)
    )
    const servedVersion = yield* Ref.make(Option.none<string>())
    const counters = makeShopifyCounters(config.shop)
    // One executor and one bucket per client: every concurrent caller (streams, bulk lookups,
    // polls, cancels, starts) is paced against the same model of the shop's bucket.
    const executor = makeExecutor({
      config,
      auth,
      bucket,
      transport,
      servedVersion,
      retry: options.retry,
      counters
    })

    const query = (
      document: string,
      variables: Readonly<Record<string, unknown>> = {},
      opts: Partial<GraphqlOptions> = {}
    ) =>
      executor.execute(document, variables, {
        operation: opts.operation ?? "query",
        scopeHint: opts.scopeHint
      })

    const MoreEnvelope = Schema.Struct({
      node: Schema.NullOr(Schema.Record(Schema.String, Schema.Unknown))
    })
    const fetchRest =
      (resource: ResourceSpec<unknown>, operation: string) =>
      (t: Truncation): Effect.Effect<ReadonlyArray<unknown> | null, ShopifyError> =>
        Effect.gen(function* () {
          const doc = resource.documents.followUps[t.path]
          if (doc === undefined || t.parentId === null) return null
          const field = t.path.split(".").pop() ?? t.path
          const first = largestAffordablePage(
            doc,
            { id: t.parentId },
            { max: 250, budget: config.maxQueryCost }
          )
          const items: Array<unknown> = []
          let after = t.endCursor
          for (;;) {
            const r = yield* executor.execute(
              doc,
              { id: t.parentId, first, after },
              { operation: `${operation} (rest of ${t.path})` }
            )
            const node = Option.getOrNull(Schema.decodeUnknownOption(MoreEnvelope)(r.data))?.node ?? null
            const conn = decodePageEnvelope(node?.[field])
            if (Option.isNone(conn)) return null
            const nested: Array<Truncation> = []
            for (const n of conn.value.nodes) items.push(normalizeConnections(n, nested))
            if (nested.length > 0) return null
            if (!conn.value.pageInfo.hasNextPage || conn.value.pageInfo.endCursor === null) return items
            after = conn.value.pageInfo.endCursor
          }
        })

    const NodesEnvelope = Schema.Struct({
      nodes: Schema.Array(Schema.NullOr(Schema.Record(Schema.String, Schema.Unknown)))
    })
    const decodeNodes = Schema.decodeUnknownOption(NodesEnvelope)
    /**
     * Replaces each detached list of a page's records (`refunds { id }`) by the full objects,
     * read with as few `nodes(ids:)` queries as the cost ceiling allows. An id Shopify does not
     * return is `DataLoss`, never a record quietly missing a refund.
     */
    const attachDetached = (
      resource: ResourceSpec<unknown>,
      raw: ReadonlyArray<unknown>,
      operation: string,
      scopeHint: string
    ): Effect.Effect<ReadonlyArray<unknown>, ShopifyError> =>
      Effect.gen(function* () {
        const detached = Object.entries(resource.documents.detached)
        if (detached.length === 0) return raw
        const records = raw.map((n) => (Predicate.isObject(n) ? { ...n } : n))
        for (const [field, doc] of detached) {
          const ids: Array<string> = []
          for (const r of records) {
            const list = Predicate.isObject(r) ? r[field] : undefined
            if (!Array.isArray(list)) continue
            for (const item of list)
              if (Predicate.isObject(item) && typeof item.id === "string") ids.push(item.id)
          }
          if (ids.length === 0) continue
          const found = new Map<string, Record<string, unknown>>()
          const perItem = Math.max(1, executor.estimate(doc, { ids: [ids[0]] }))
          let batch = Math.max(1, Math.min(250, Math.floor(config.maxQueryCost / perItem)))
          for (let i = 0; i < ids.length; ) {
            const chunk = ids.slice(i, i + batch)
            const answer = yield* executor
              .execute(doc, { ids: chunk }, { operation: `${operation} (${field} by id)`, scopeHint })
              .pipe(
                Effect.map((r) => ({ ok: true as const, r })),
                Effect.catchIf(
                  (e) => e.reason._tag === "MaxCostExceeded" && batch > 1,
                  () => Effect.succeed({ ok: false as const })
                )
              )
            if (!answer.ok) {
              batch = Math.max(1, Math.floor(batch / 2))
              continue
            }
            const nodes = decodeNodes(answer.r.data)
            if (Option.isNone(nodes)) {
              return yield* new ShopifyError({
                operation,
                reason: new Decode({
                  message: `the ${field} nodes(ids:) response has no nodes list`,
                  excerpt: JSON.stringify(answer.r.data ?? null).slice(0, 300)
                })
              })
            }
            for (const node of nodes.value.nodes)
              if (node !== null && typeof node.id === "string") found.set(node.id, node)
            i += chunk.length
          }
          for (const r of records) {
            if (!Predicate.isObject(r) || !Array.isArray(r[field])) continue
            const full: Array<unknown> = []
            for (const item of r[field]) {
              const id = Predicate.isObject(item) && typeof item.id === "string" ? item.id : null
              const node = id === null ? undefined : found.get(id)
              if (node === undefined) {
                return yield* new ShopifyError({
                  operation,
                  reason: new DataLoss({
                    jobId: null,
                    expected: id,
                    actual: null,
                    message: `${String(r.id)} lists ${field} ${String(id)} but nodes(ids:) did not return it; re-read the window`
                  })
                })
              }
              full.push(node)
            }
            r[field] = full
          }
        }
        return records
      })

    const fetchPage = <A>(
      resource: ResourceSpec<A>,
      search: string | null,
      after: string | null,
      size: number,
      scopeHint: string
    ): Effect.Effect<readonly [Page<A>, number], ShopifyError> =>
      Effect.gen(function* () {
        let pageSize = size
        for (;;) {
          const variables = { first: pageSize, after, query: search }
          const operation = `${resource.name} page`
          const answer = yield* executor
            .execute(resource.documents.page, variables, { operation, scopeHint })
            .pipe(
              Effect.map((r) => ({ ok: true as const, r })),
              Effect.catchIf(
                (e) => e.reason._tag === "MaxCostExceeded" && pageSize > 1,
                () => Effect.succeed({ ok: false as const })
              )
            )
          if (!answer.ok) {
            // Shopify priced the page above the single-query ceiling: halve it and ask again.
            pageSize = Math.max(1, Math.floor(pageSize / 2))
            continue
          }
          const data = answer.r.data
          const rootValue =
            typeof data === "object" && data !== null && resource.documents.root in data
              ? Reflect.get(data, resource.documents.root)
              : undefined
          const envelope = decodePageEnvelope(rootValue)
          if (Option.isNone(envelope)) {
            return yield* new ShopifyError({
              operation,
              reason: new Decode({
                message: `the response has no ${resource.documents.root} connection`,
                excerpt: JSON.stringify(data ?? null).slice(0, 300)
              })
            })
          }
          const withDetached = yield* attachDetached(resource, envelope.value.nodes, operation, scopeHint)
          const { records, rejected } = yield* decodeRecords(
            resource,
            withDetached,
            operation,
            `graphql:${resource.name}`,
            fetchRest(resource, operation)
          )
          const page: Page<A> = {
            records,
            endCursor: envelope.value.pageInfo.endCursor,
            hasNextPage: envelope.value.pageInfo.hasNextPage,
            pageSize,
            cost: answer.r.cost,
            rejected
          }
          return [page, pageSize] as const
        }
      })

    const pagesWith = <A>(
      resource: ResourceSpec<A>,
      opts: PageOptions,
      scopeHint: string
    ): Stream.Stream<Page<A>, ShopifyError> =>
      Stream.unwrap(
        Effect.gen(function* () {
          yield* requireVersion(config, resource)
          const search = opts.search ?? null
          const max = Math.min(opts.pageSize ?? config.maxPageSize, config.maxPageSize)
          const ratio = executor.ratioOf(resource.documents.page)
          const initial = largestAffordablePage(
            resource.documents.page,
            { query: search },
            { max, budget: Math.floor(config.maxQueryCost / ratio) }
          )
          return Stream.paginate<PageState, Page<A>, ShopifyError, never>(
            { after: opts.after ?? null, size: initial },
            (state) =>
              Effect.map(
                fetchPage(resource, search, state.after, state.size, scopeHint),
                ([page, size]): readonly [ReadonlyArray<Page<A>>, Option.Option<PageState>] => [
                  [page],
                  page.hasNextPage && page.endCursor !== null
                    ? Option.some({ after: page.endCursor, size })
                    : Option.none()
                ]
              )
          )
        })
      )

    const pages = <A>(resource: ResourceSpec<A>, opts: PageOptions = {}) =>
      pagesWith(resource, opts, resource.scope)

    const windowOf = (opts: IncrementalOptions = {}) =>
      Effect.map(Clock.currentTimeMillis, (now) =>
        incrementalWindow({
          since: opts.since ?? null,
          floor: opts.floor ?? 0,
          now: opts.until ?? now,
          overlap: opts.overlapMillis ?? config.lookbackMillis
        })
      )

    const incremental = <A>(
      resource: ResourceSpec<A>,
      opts: IncrementalOptions = {}
    ): Stream.Stream<A, ShopifyError> =>
      Stream.unwrap(
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const window = yield* windowOf(opts)
          const search =
            resource.documents.cursorField === "none"
              ? (opts.search ?? null)
              : updatedAtQuery(window, opts.search, resource.documents.cursorField)
          const scopeHint =
            resource.name === Resources.orders.name && window.start < now - SIXTY_DAYS
              ? "read_all_orders"
              : resource.scope
          return pagesWith(
            resource,
            {
              search,
              after: opts.after ?? null,
              ...(opts.pageSize === undefined ? {} : { pageSize: opts.pageSize })
            },
            scopeHint
          ).pipe(Stream.flatMap((page) => Stream.fromIterable(page.records)))
        })
      )

    return ShopifyClient.of({
      config,
      query,
      pages,
      incremental,
      windowOf,
      servedVersion: Ref.get(servedVersion),
      costStats: bucket.stats,
      telemetry: counters.snapshot,
      recordBulkJob: counters.bulkJob
    })
  })
