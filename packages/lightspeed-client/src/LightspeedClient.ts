/**
 * The typed K-Series client: business locations, Financial API V1 and V2 (business days and date
 * ranges), items and item availability. Paginated endpoints return a `Stream`; every response is
 * decoded with Schema; failures are core `ApiError` (or `StoreError` from the token store).
 *
 * Records that fail to decode are written to the core `DeadLetterSink` and skipped when one is
 * provided; without a sink they fail the call, so nothing is ever dropped silently.
 */
import {
  AdaptiveLimiter,
  type ApiError,
  DeadLetterSink,
  decodeError,
  HttpTransport,
  makeAdaptiveLimiter,
  recordRecords,
  type StoreError,
  type TokenStore
} from "@kura/core"
import { Clock, Context, Effect, Layer, Option, Schema, Stream } from "effect"
import { Business, type LocationInfo, locationsOf } from "./Business.js"
import {
  addDays,
  type BusinessDay,
  businessDateAt,
  cutoverOf,
  datesBetween,
  isIsoDate,
  isoInstant,
  splitWindows,
  type TimeWindow
} from "./BusinessDay.js"
import type { TaxRate } from "./Fields.js"
import { PaymentMethod, TaxRateInfo } from "./Financials.js"
import { Item, ItemAvailability } from "./Item.js"
import { type GetResult, type LightspeedHttp, makeLightspeedHttp, rebase } from "./internal/http.js"
import { LightspeedAuth } from "./LightspeedAuth.js"
import type { FinancialsApi, LightspeedConfigInput } from "./LightspeedConfig.js"
import { LightspeedConfigError } from "./LightspeedConfig.js"
import { LightspeedConfigService } from "./LightspeedConfigService.js"
import { normalizeSale, type Sale, SaleWire } from "./Sale.js"
import { VERSION } from "./version.js"

/** Every failure of a client call: an API failure (with a `reason`) or a token-store failure. */
export type LightspeedError = ApiError | StoreError

/** The items `amount` ceiling the K-Series docs state; a newer harvest says 1000 (UNCONFIRMED). */
export const ITEMS_DOCUMENTED_MAX_AMOUNT = 100

/** The largest items `amount` the client asks for. */
export const ITEMS_MAX_AMOUNT = 1000

/** Options of one items read. */
export interface ItemsOptions {
  /** Items per request (1–1000); default the configured `itemsPageSize`. */
  readonly pageSize?: number
}

/** A UTC time range: ISO-8601 strings (with Z or an offset) or epoch milliseconds. Half-open [from, to). */
export interface TimeRange {
  readonly from: string | number
  readonly to: string | number
}

/** Options of `syncDays`. */
export interface SyncDaysOptions {
  /** First business date to read (usually the checkpointed cursor), YYYY-MM-DD. */
  readonly from: string
  /** Last business date to read (inclusive). Defaults to the location's current business date. */
  readonly to?: string
  /** The location's IANA zone; looked up from `/f/data/businesses` when omitted and `to` is omitted. */
  readonly timeZone?: string
}

/** A tax rate from the location's tax-rate list, with the rate as multiplier and percent. */
export interface TaxRateEntry {
  readonly code: string
  readonly description: string | null
  readonly rate: TaxRate
  readonly taxIncluded: boolean | null
  readonly accountingReference: string | null
}

/** The client service. */
export class LightspeedClient extends Context.Service<
  LightspeedClient,
  {
    /** Every business the token can see, with its locations (`/f/data/businesses`, paged). */
    readonly businesses: Stream.Stream<Business, LightspeedError>
    /** Every business location, flattened with its business's id, name and currency. */
    readonly locations: Stream.Stream<LocationInfo, LightspeedError>
    /** One business day through Financial API V1 (`dailyFinancials`; back-office edits dated to the original day). */
    readonly dailyFinancials: (
      businessLocationId: string,
      date: string
    ) => Effect.Effect<BusinessDay, LightspeedError>
    /** One business day through Financial API V2 (`sales-daily`; back-office edits dated when made). */
    readonly salesDaily: (
      businessLocationId: string,
      date: string
    ) => Effect.Effect<BusinessDay, LightspeedError>
    /** One business day through the configured `financialsApi`. */
    readonly businessDay: (
      businessLocationId: string,
      date: string
    ) => Effect.Effect<BusinessDay, LightspeedError>
    /**
     * Business days `from`..`to` in order, each with its sales and whether it is final
     * (`dataComplete`). Feed the result to `nextCursorDay` to know where the next run starts.
     */
    readonly syncDays: (
      businessLocationId: string,
      options: SyncDaysOptions
    ) => Stream.Stream<BusinessDay, LightspeedError | LightspeedConfigError>
    /** Sales in a time range through V1 `financials/{from}/{to}` (≤365-day windows, `_links.nextPage` paging). */
    readonly financials: (
      businessLocationId: string,
      range: TimeRange
    ) => Stream.Stream<Sale, LightspeedError | LightspeedConfigError>
    /** Sales closed in a time range through V2 `sales?from&to` (`nextPageToken` paging, sorted by timeClosed). */
    readonly sales: (
      businessLocationId: string,
      range: TimeRange
    ) => Stream.Stream<Sale, LightspeedError | LightspeedConfigError>
    /** Sales in a time range through the configured `financialsApi`. */
    readonly salesInRange: (
      businessLocationId: string,
      range: TimeRange
    ) => Stream.Stream<Sale, LightspeedError | LightspeedConfigError>
    /**
     * The items catalogue of a location (offset + amount paging). `pageSize` overrides the
     * configured `itemsPageSize` for this read; above the documented 100 see `itemsPageSize`.
     */
    readonly items: (
      businessLocationId: string,
      options?: ItemsOptions
    ) => Stream.Stream<Item, LightspeedError>
    /**
     * The largest items `amount` this client still asks for: 1000, or 100 once the API refused a
     * larger one with a 400 (every later read on this client then asks for at most 100).
     */
    readonly itemsMaxAmount: Effect.Effect<number>
    /** Stock counts for SKUs at a location (`itemAvailability`, 50 SKUs per request, page + size paging). */
    readonly itemAvailability: (
      businessLocationId: string,
      skus: ReadonlyArray<string>
    ) => Stream.Stream<ItemAvailability, LightspeedError>
    /** The location's tax rates (reference data for tax lines). */
    readonly taxRates: (
      businessLocationId: string
    ) => Effect.Effect<ReadonlyArray<TaxRateEntry>, LightspeedError>
    /** The location's payment methods (reference data for payments). */
    readonly paymentMethods: (
      businessLocationId: string
    ) => Effect.Effect<ReadonlyArray<PaymentMethod>, LightspeedError>
  }
>()("@kura/lightspeed-client/LightspeedClient") {
  /** The client over `LightspeedConfigService`, `LightspeedAuth` and core `HttpTransport`. */
  static readonly layerNoDeps: Layer.Layer<
    LightspeedClient,
    never,
    LightspeedConfigService | LightspeedAuth | HttpTransport
  > = Layer.effect(
    LightspeedClient,
    Effect.gen(function* () {
      const config = yield* LightspeedConfigService
      const auth = yield* LightspeedAuth
      const transport = yield* HttpTransport
      const shared = yield* Effect.serviceOption(AdaptiveLimiter)
      return makeLightspeedClient(config, transport, auth, Option.getOrUndefined(shared))
    })
  )

  /**
   * Everything from validated values: config, auth (over the `TokenStore` you provide) and the
   * client. Provide `HttpTransport` (e.g. `HttpTransport.layer()`) and a `TokenStore`.
   */
  static readonly layer = (
    input: LightspeedConfigInput
  ): Layer.Layer<LightspeedClient | LightspeedAuth, LightspeedConfigError, HttpTransport | TokenStore> =>
    Layer.provideMerge(LightspeedClient.layerNoDeps, LightspeedAuth.layer).pipe(
      Layer.provide(LightspeedConfigService.layer(input))
    )

  /** Like `layer`, reading `LIGHTSPEED_*` settings through Effect Config. */
  static readonly layerConfig = Layer.provideMerge(LightspeedClient.layerNoDeps, LightspeedAuth.layer).pipe(
    Layer.provide(LightspeedConfigService.layerConfig)
  )

  /**
   * A client against any server (an emulator or a recorded fixture server) with a fixed token:
   * no OAuth, in-memory everything. Provide `HttpTransport`.
   */
  static readonly layerTest = (
    input: Partial<LightspeedConfigInput> & { readonly apiBaseUrl: string; readonly accessToken?: string }
  ): Layer.Layer<LightspeedClient | LightspeedAuth, LightspeedConfigError, HttpTransport> =>
    Layer.provideMerge(LightspeedClient.layerNoDeps, LightspeedAuth.layerTest(input.accessToken)).pipe(
      Layer.provide(
        LightspeedConfigService.layer({
          clientId: "test-client",
          clientSecret: "test-secret",
          allowInsecureRequests: true,
          ...input
        })
      )
    )
}

const toMillis = (value: string | number, field: string): Effect.Effect<number, LightspeedConfigError> => {
  const t = typeof value === "number" ? value : Date.parse(value)
  return Number.isFinite(t)
    ? Effect.succeed(t)
    : Effect.fail(
        new LightspeedConfigError({
          field,
          message: `${field} must be an ISO-8601 date-time (e.g. 2024-03-01T00:00:00Z) or epoch ms, got ${JSON.stringify(value)}`
        })
      )
}

const checkDate = (date: string, field: string): Effect.Effect<string, LightspeedConfigError> =>
  isIsoDate(date)
    ? Effect.succeed(date)
    : Effect.fail(
        new LightspeedConfigError({
          field,
          message: `${field} must be a date as YYYY-MM-DD, got ${JSON.stringify(date)}`
        })
      )

/** Envelopes decoded before their records, so one bad record cannot hide the rest of a page. */
const RawList = Schema.Array(Schema.Unknown)
const V1Envelope = Schema.Struct({
  nextStartOfDayAsIso8601: Schema.optional(Schema.NullOr(Schema.String)),
  dataComplete: Schema.optional(Schema.NullOr(Schema.Boolean)),
  sales: Schema.optional(Schema.NullOr(RawList)),
  _links: Schema.optional(
    Schema.NullOr(
      Schema.Struct({
        nextPage: Schema.optional(Schema.NullOr(Schema.Struct({ href: Schema.String })))
      })
    )
  )
})
const V2Envelope = Schema.Struct({
  sales: Schema.optional(Schema.NullOr(RawList)),
  nextPageToken: Schema.optional(Schema.NullOr(Schema.String)),
  nextStartOfDayAsIso8601: Schema.optional(Schema.NullOr(Schema.String)),
  dataComplete: Schema.optional(Schema.NullOr(Schema.Boolean))
})
const ItemsEnvelope = Schema.Union([
  RawList,
  Schema.Struct({ items: RawList }),
  Schema.Struct({ data: RawList }),
  Schema.Struct({ _embedded: Schema.Struct({ itemList: RawList }) })
])
const AvailabilityEnvelope = Schema.Struct({
  data: Schema.optional(Schema.NullOr(RawList)),
  metadata: Schema.optional(
    Schema.NullOr(Schema.Struct({ totalPages: Schema.optional(Schema.NullOr(Schema.Number)) }))
  )
})
const BusinessesEnvelope = Schema.Struct({
  _embedded: Schema.optional(
    Schema.NullOr(Schema.Struct({ businessList: Schema.optional(Schema.NullOr(RawList)) }))
  )
})
const TaxRatesEnvelope = Schema.Struct({
  _embedded: Schema.optional(
    Schema.NullOr(Schema.Struct({ taxRateList: Schema.optional(Schema.NullOr(RawList)) }))
  )
})
const PaymentMethodsEnvelope = Schema.Struct({
  _embedded: Schema.optional(
    Schema.NullOr(Schema.Struct({ paymentMethodList: Schema.optional(Schema.NullOr(RawList)) }))
  )
})

const isList = (u: unknown): u is ReadonlyArray<unknown> => Array.isArray(u)

const idOf = (raw: unknown, keys: ReadonlyArray<string>): string | null => {
  if (typeof raw !== "object" || raw === null) return null
  for (const key of keys) {
    const value: unknown = Reflect.get(raw, key)
    if (typeof value === "string" || typeof value === "number") return String(value)
  }
  return null
}

/** Builds the client (exported for apps wiring services by hand). */
export const makeLightspeedClient = (
  config: LightspeedConfigService["Service"],
  transport: HttpTransport["Service"],
  auth: LightspeedAuth["Service"],
  limiter?: AdaptiveLimiter["Service"]
): LightspeedClient["Service"] => {
  // K-Series publishes no limit: start at `initialRequestsPerSecond` and let AIMD find the real one.
  const ceiling = config.maxRequestsPerSecond ?? 50
  const pacer =
    limiter ??
    makeAdaptiveLimiter({
      maxRatePerSecond: Math.max(ceiling, config.initialRequestsPerSecond),
      initialRatePerSecond: config.initialRequestsPerSecond
    })
  const http: LightspeedHttp = makeLightspeedHttp(
    config,
    transport,
    auth,
    pacer,
    `lightspeed:${config.tokenKey}`,
    `kura-lightspeed-client/${VERSION}`
  )
  const account = config.account

  /**
   * Decodes each raw record; a failure goes to the DeadLetterSink (when provided) and is skipped,
   * otherwise it fails the call with a `Decode` error naming the record and field.
   */
  const decodeRecords = <S extends Schema.Decoder<unknown>>(
    schema: S,
    raws: ReadonlyArray<unknown>,
    result: GetResult,
    stream: string,
    idKeys: ReadonlyArray<string>
  ): Effect.Effect<ReadonlyArray<S["Type"]>, ApiError | StoreError> =>
    Effect.gen(function* () {
      const decodeOne = Schema.decodeUnknownResult(schema)
      const out: Array<S["Type"]> = []
      const bad: Array<{ raw: unknown; message: string }> = []
      for (const raw of raws) {
        const decoded = decodeOne(raw)
        if (decoded._tag === "Success") out.push(decoded.success)
        else bad.push({ raw, message: decoded.failure.message })
      }
      if (bad.length > 0) {
        const sink = yield* Effect.serviceOption(DeadLetterSink)
        if (Option.isNone(sink)) {
          const first = bad[0]!
          return yield* decodeError(
            result.response.request,
            `${bad.length} ${stream} record(s) did not decode (provide a DeadLetterSink to skip them); first (id ${idOf(first.raw, idKeys) ?? "unknown"}): ${first.message}`,
            JSON.stringify(first.raw)
          )
        }
        const at = yield* Clock.currentTimeMillis
        yield* sink.value.write(
          bad.map(({ raw, message }) => ({
            key: { source: "lightspeed", account, stream },
            sourceId: idOf(raw, idKeys),
            payload: JSON.stringify(raw),
            reason: "decode",
            detail: message,
            origin: result.response.request.url,
            at
          }))
        )
        yield* Effect.logWarning(`lightspeed ${stream}: ${bad.length} record(s) sent to dead letters`)
      }
      yield* recordRecords(out.length, { source: "lightspeed", stream })
      return out
    })

  // Decoding the wire form and renaming in plain code is the `Sale` schema without its second
  // (type-side) validation pass: same result, about twice as fast on 1000-sale pages.
  const decodeSales = (raws: ReadonlyArray<unknown> | null | undefined, result: GetResult) =>
    Effect.map(
      decodeRecords(SaleWire, raws ?? [], result, "sales", ["accountReference", "accountFiscId"]),
      (wire): ReadonlyArray<Sale> => wire.map(normalizeSale)
    )

  const location = (id: string) => encodeURIComponent(id)

  /** A server that hands back the page we just read would loop forever: fail loudly instead. */
  const repeatedCursor = (result: GetResult, field: string) =>
    Effect.fail(
      decodeError(
        result.response.request,
        `${field} points at the page just read; stopping instead of looping (report this to Lightspeed)`,
        result.response.body
      )
    )

  const businesses: Stream.Stream<Business, LightspeedError> = Stream.paginate(0, (page: number) =>
    Effect.gen(function* () {
      const size = 1000
      const result = yield* http.getJson("/f/data/businesses", { page, size })
      const envelope = yield* http.decode(BusinessesEnvelope, result)
      const raws = envelope._embedded?.businessList ?? []
      const list = yield* decodeRecords(Business, raws, result, "businesses", ["businessId"])
      const next: Option.Option<number> = raws.length < size ? Option.none() : Option.some(page + 1)
      return [list, next] as const
    })
  )

  const locations = businesses.pipe(Stream.flatMap((b) => Stream.fromIterable(locationsOf(b))))

  const dailyFinancials = Effect.fn("LightspeedClient.dailyFinancials")(function* (
    businessLocationId: string,
    date: string
  ) {
    const result = yield* http.getJson(`/f/finance/${location(businessLocationId)}/dailyFinancials`, {
      date,
      include: "payments"
    })
    const envelope = yield* http.decode(V1Envelope, result)
    const sales = yield* decodeSales(envelope.sales, result)
    const dataComplete = envelope.dataComplete === true
    const day: BusinessDay = {
      businessLocationId,
      date,
      api: "v1",
      sales,
      dataComplete,
      nextStartOfDay: envelope.nextStartOfDayAsIso8601 ?? null,
      final: dataComplete
    }
    return day
  })

  const salesDaily = Effect.fn("LightspeedClient.salesDaily")(function* (
    businessLocationId: string,
    date: string
  ) {
    const fetched = yield* http
      .getJson(`/f/v2/business-location/${location(businessLocationId)}/sales-daily`, {
        date,
        include: "payments"
      })
      .pipe(
        Effect.map(Option.some),
        // V2 answers 400 "not operational on <date>" for days before the location existed:
        // such a day has no sales and never will, so it is an empty, final day.
        Effect.catchIf(
          (error) =>
            error._tag === "ApiError" &&
            error.reason._tag === "ClientError" &&
            error.reason.status === 400 &&
            /not operational/i.test(error.reason.excerpt),
          () => Effect.succeed(Option.none<GetResult>())
        )
      )
    if (Option.isNone(fetched)) {
      const empty: BusinessDay = {
        businessLocationId,
        date,
        api: "v2",
        sales: [],
        dataComplete: false,
        nextStartOfDay: null,
        final: true
      }
      return empty
    }
    const result = fetched.value
    const envelope = yield* http.decode(V2Envelope, result)
    const sales = yield* decodeSales(envelope.sales, result)
    const dataComplete = envelope.dataComplete === true
    const day: BusinessDay = {
      businessLocationId,
      date,
      api: "v2",
      sales,
      dataComplete,
      nextStartOfDay: envelope.nextStartOfDayAsIso8601 ?? null,
      final: dataComplete
    }
    return day
  })

  const dayBy = (api: FinancialsApi) => (api === "v1" ? dailyFinancials : salesDaily)
  const businessDay = (businessLocationId: string, date: string) =>
    dayBy(config.financialsApi)(businessLocationId, date)

  const timeZoneOf = (businessLocationId: string) =>
    locations.pipe(
      Stream.filter((l) => l.businessLocationId === businessLocationId),
      Stream.runHead,
      Effect.flatMap(
        Option.match({
          onNone: () =>
            Effect.fail(
              new LightspeedConfigError({
                field: "businessLocationId",
                message: `business location ${businessLocationId} is not visible to this token; list them with LightspeedClient.locations`
              })
            ),
          onSome: (l) => Effect.succeed(l.timezone)
        })
      )
    )

  const syncDays = (businessLocationId: string, options: SyncDaysOptions) =>
    Stream.unwrap(
      Effect.gen(function* () {
        const from = yield* checkDate(options.from, "from")
        const read = dayBy(config.financialsApi)
        const readAll = (dates: ReadonlyArray<string>) =>
          Stream.fromIterable(dates).pipe(Stream.mapEffect((date) => read(businessLocationId, date)))
        if (options.to !== undefined) {
          const to = yield* checkDate(options.to, "to")
          return readAll(datesBetween(from, to))
        }
        const zone = options.timeZone ?? (yield* timeZoneOf(businessLocationId))
        const now = yield* Clock.currentTimeMillis
        // Midnight is the latest a business day can start (cutovers are early-morning hours), so
        // no date after this one has begun yet.
        if (from > businessDateAt(now, zone)) return Stream.empty
        // The first day tells the cutover (`nextStartOfDayAsIso8601`); today's business date follows from it.
        const first = yield* read(businessLocationId, from)
        const cutover =
          first.nextStartOfDay === null ? undefined : (cutoverOf(first.nextStartOfDay) ?? undefined)
        const to = businessDateAt(now, zone, cutover)
        if (from > to) return Stream.empty
        return Stream.concat(Stream.make(first), readAll(datesBetween(addDays(from, 1), to)))
      })
    )

  const rangeWindows = (range: TimeRange) =>
    Effect.gen(function* () {
      const from = yield* toMillis(range.from, "from")
      const to = yield* toMillis(range.to, "to")
      return splitWindows(from, to, 365)
    })

  /** Reads `range` one window of at most 365 days (K-Series' limit) at a time, in order. */
  const perWindow = <A, E>(
    range: TimeRange,
    read: (window: TimeWindow) => Stream.Stream<A, E>
  ): Stream.Stream<A, E | LightspeedConfigError> =>
    Stream.unwrap(
      Effect.map(rangeWindows(range), (windows) =>
        Stream.fromIterable(windows).pipe(Stream.flatMap(read, { concurrency: 1 }))
      )
    )

  /** A next-page cursor counts only when it is non-empty and its page held sales. */
  const hasNext = (
    next: string | null | undefined,
    sales: ReadonlyArray<unknown> | null | undefined
  ): next is string => next !== undefined && next !== null && next !== "" && (sales?.length ?? 0) > 0

  const financials = (
    businessLocationId: string,
    range: TimeRange
  ): Stream.Stream<Sale, LightspeedError | LightspeedConfigError> =>
    perWindow(range, (window) =>
      Stream.paginate(
        `/f/finance/${location(businessLocationId)}/financials/${encodeURIComponent(isoInstant(window.from))}/${encodeURIComponent(isoInstant(window.to))}?include=payments&pageSize=${config.financialsPageSize}`,
        (url: string) =>
          Effect.gen(function* () {
            const result = yield* http.getJson(url)
            const envelope = yield* http.decode(V1Envelope, result)
            const sales = yield* decodeSales(envelope.sales, result)
            const next = envelope._links?.nextPage?.href
            const more = hasNext(next, envelope.sales)
            if (more && rebase(config.apiBaseUrl, next) === rebase(config.apiBaseUrl, url)) {
              return yield* repeatedCursor(result, "_links.nextPage")
            }
            return [sales, more ? Option.some(next) : Option.none<string>()] as const
          })
      )
    )

  const sales = (
    businessLocationId: string,
    range: TimeRange
  ): Stream.Stream<Sale, LightspeedError | LightspeedConfigError> =>
    perWindow(range, (window) =>
      Stream.paginate(Option.none<string>(), (token: Option.Option<string>) =>
        Effect.gen(function* () {
          const result = yield* http.getJson(
            `/f/v2/business-location/${location(businessLocationId)}/sales`,
            {
              from: isoInstant(window.from),
              to: isoInstant(window.to),
              include: "payments",
              pageSize: config.salesPageSize,
              nextPageToken: Option.getOrUndefined(token)
            }
          )
          const envelope = yield* http.decode(V2Envelope, result)
          const page = yield* decodeSales(envelope.sales, result)
          const next = envelope.nextPageToken
          const more = hasNext(next, envelope.sales)
          if (more && Option.getOrUndefined(token) === next) {
            return yield* repeatedCursor(result, "nextPageToken")
          }
          return [page, more ? Option.some(Option.some(next)) : Option.none()] as const
        })
      )
    )

  const salesInRange = (businessLocationId: string, range: TimeRange) =>
    config.financialsApi === "v1" ? financials(businessLocationId, range) : sales(businessLocationId, range)

  // Whether the API takes an items `amount` above the documented 100 is UNCONFIRMED: it may honour
  // it, clamp it silently, or refuse it (400). A refusal drops this client to 100 for good.
  let itemsCeiling = ITEMS_MAX_AMOUNT
  const itemsMaxAmount = Effect.sync(() => itemsCeiling)
  const items = (
    businessLocationId: string,
    options: ItemsOptions = {}
  ): Stream.Stream<Item, LightspeedError> =>
    Stream.paginate({ offset: 0, honoured: false }, ({ offset, honoured }) =>
      Effect.gen(function* () {
        const asked = Math.max(1, Math.min(options.pageSize ?? config.itemsPageSize, itemsCeiling))
        const get = (amount: number) =>
          http.getJson("/items/v1/items", { businessLocationId, offset, amount })
        let amount = asked
        const result = yield* get(asked).pipe(
          Effect.catchIf(
            (e) =>
              asked > ITEMS_DOCUMENTED_MAX_AMOUNT &&
              e._tag === "ApiError" &&
              e.reason._tag === "ClientError" &&
              e.reason.status === 400,
            () =>
              Effect.gen(function* () {
                itemsCeiling = ITEMS_DOCUMENTED_MAX_AMOUNT
                amount = ITEMS_DOCUMENTED_MAX_AMOUNT
                yield* Effect.logWarning(
                  `lightspeed items: the API refused amount=${asked} (400); reading ${ITEMS_DOCUMENTED_MAX_AMOUNT} per request`
                )
                return yield* get(ITEMS_DOCUMENTED_MAX_AMOUNT)
              })
          )
        )
        const envelope = yield* http.decode(ItemsEnvelope, result)
        const raws = isList(envelope)
          ? envelope
          : "items" in envelope
            ? envelope.items
            : "data" in envelope
              ? envelope.data
              : envelope._embedded.itemList
        const list = yield* decodeRecords(Item, raws, result, "items", ["id", "sku"])
        // A short page ends the list. Above the documented 100 a server may clamp `amount`
        // silently, so until a page as long as `amount` proves it honoured, a page of 100 or
        // more is not taken as short: the next offset tells (one extra request at most).
        const full = honoured || raws.length === amount
        const last = raws.length < (full ? amount : Math.min(amount, ITEMS_DOCUMENTED_MAX_AMOUNT))
        return [
          list,
          last ? Option.none() : Option.some({ offset: offset + raws.length, honoured: full })
        ] as const
      })
    )

  const itemAvailability = (businessLocationId: string, skus: ReadonlyArray<string>) => {
    const chunks: Array<ReadonlyArray<string>> = []
    for (let i = 0; i < skus.length; i += 50) chunks.push(skus.slice(i, i + 50))
    return Stream.fromIterable(chunks).pipe(
      Stream.flatMap(
        (chunk) =>
          Stream.paginate(0, (page: number) =>
            Effect.gen(function* () {
              const size = config.availabilityPageSize
              const result = yield* http.getJson("/o/op/1/itemAvailability", {
                businessLocationId,
                skus: chunk.join(","),
                page,
                size
              })
              const envelope = yield* http.decode(AvailabilityEnvelope, result)
              const raws = envelope.data ?? []
              const list = yield* decodeRecords(ItemAvailability, raws, result, "item_availability", ["sku"])
              const totalPages = envelope.metadata?.totalPages
              const more =
                typeof totalPages === "number"
                  ? page + 1 < totalPages
                  : raws.length >= size && raws.length > 0
              return [list, more ? Option.some(page + 1) : Option.none<number>()] as const
            })
          ),
        { concurrency: 1 }
      )
    )
  }

  const taxRates = Effect.fn("LightspeedClient.taxRates")(function* (businessLocationId: string) {
    const result = yield* http.getJson(`/f/finance/${location(businessLocationId)}/tax-rates`)
    const envelope = yield* http.decode(TaxRatesEnvelope, result)
    const list = yield* decodeRecords(
      TaxRateInfo,
      envelope._embedded?.taxRateList ?? [],
      result,
      "tax_rates",
      ["code"]
    )
    return list.map(
      (entry): TaxRateEntry => ({
        code: entry.code,
        description: entry.description ?? null,
        rate: entry.rate,
        taxIncluded: entry.taxIncluded ?? null,
        accountingReference: entry.accountingReference ?? null
      })
    )
  })

  const paymentMethods = Effect.fn("LightspeedClient.paymentMethods")(function* (businessLocationId: string) {
    const result = yield* http.getJson(`/f/finance/${location(businessLocationId)}/paymentMethods`)
    const envelope = yield* http.decode(PaymentMethodsEnvelope, result)
    return yield* decodeRecords(
      PaymentMethod,
      envelope._embedded?.paymentMethodList ?? [],
      result,
      "payment_methods",
      ["pmId", "code"]
    )
  })

  return LightspeedClient.of({
    businesses,
    locations,
    dailyFinancials,
    salesDaily,
    businessDay,
    syncDays,
    financials,
    sales,
    salesInRange,
    items,
    itemsMaxAmount,
    itemAvailability,
    taxRates,
    paymentMethods
  })
}
