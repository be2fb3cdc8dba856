/**
 * The legacy REST Admin API (custom apps still use it): `Link` header pagination with
 * `page_info` (filters only on the first request — Shopify answers 400 when filters accompany
 * `page_info`), the core leaky bucket corrected by `X-Shopify-Shop-Api-Call-Limit`, and 429 with
 * `Retry-After` in seconds honoured exactly.
 *
 * @since 0.1.0
 */
import {
  fromResponse,
  HttpTransport,
  LeakyBucket,
  makeLeakyBucket,
  parseRetryAfter,
  RetryPolicy
} from "@kura/core"
import { Clock, Context, Effect, Layer, Option, Redacted, Schema, Stream } from "effect"
import { ShopifyAuth } from "./ShopifyAuth.js"
import { ShopifyConfig, type ShopifyConfigShape } from "./ShopifyConfig.js"
import { AccessDenied, Decode, Http, ShopifyError, Throttled, Unauthorized } from "./ShopifyError.js"

/**
 * One REST page.
 *
 * @since 0.1.0
 * @category models
 */
export interface RestPage<A> {
  readonly records: ReadonlyArray<A>
  /** The `rel="next"` URL (carries `page_info`), or null on the last page. */
  readonly next: string | null
}

/**
 * Parses a `Link` header into its relations (`next`, `previous`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseLinkHeader = (value: string | undefined): Readonly<Record<string, string>> => {
  const out: Record<string, string> = {}
  if (value === undefined) return out
  for (const part of value.split(",")) {
    const m = /<([^>]+)>\s*;\s*rel="?([^";]+)"?/.exec(part.trim())
    if (m?.[1] !== undefined && m[2] !== undefined) out[m[2]] = m[1]
  }
  return out
}

/**
 * The REST service.
 *
 * @since 0.1.0
 * @category services
 */
export class ShopifyRest extends Context.Service<
  ShopifyRest,
  {
    /** GETs `/admin/api/{version}/{path}.json` and returns the decoded body. */
    readonly get: <S extends Schema.Top>(
      path: string,
      schema: S,
      params?: Readonly<Record<string, string | number | undefined>>
    ) => Effect.Effect<S["Type"], ShopifyError, S["DecodingServices"]>
    /**
     * Pages a list endpoint (`key` is the array's field, e.g. "orders"). Filters go on the first
     * request only; later requests follow `Link: rel="next"` verbatim.
     */
    readonly list: <S extends Schema.Top>(
      path: string,
      key: string,
      schema: S,
      params?: Readonly<Record<string, string | number | undefined>>
    ) => Stream.Stream<RestPage<S["Type"]>, ShopifyError, S["DecodingServices"]>
  }
>()("@kura/shopify-client/ShopifyRest") {
  /**
   * REST over `ShopifyConfig`, `ShopifyAuth` and core `HttpTransport`; a core `LeakyBucket` in
   * context is shared, else a standard-plan bucket (40, 2/s) corrected by headers is used.
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layer: Layer.Layer<ShopifyRest, never, ShopifyConfig | ShopifyAuth | HttpTransport> =
    Layer.effect(
      ShopifyRest,
      Effect.suspend(() => makeShopifyRest())
    )
}

const ErrorBody = Schema.Struct({ errors: Schema.optional(Schema.Unknown) })

/**
 * Builds the REST service.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeShopifyRest = (options: { readonly retry?: RetryPolicy.RetryPolicyOptions } = {}) =>
  Effect.gen(function* () {
    const config: ShopifyConfigShape = yield* ShopifyConfig
    const auth = yield* ShopifyAuth
    const transport = yield* HttpTransport
    const shared = yield* Effect.serviceOption(LeakyBucket)
    const bucket = Option.getOrElse(shared, () => makeLeakyBucket({ capacity: 40, leakPerSecond: 2 }))
    const key = `rest:${config.shop}`

    const urlOf = (path: string, params: Readonly<Record<string, string | number | undefined>>) => {
      const url = new URL(
        `${config.baseUrl}/admin/api/${config.apiVersion}/${path.replace(/^\/+/, "").replace(/\.json$/, "")}.json`
      )
      for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, String(v))
      return url.toString()
    }

    /** One GET with pacing, 429 waits, one renewal on 401, and transport/5xx retries. */
    const fetch = (url: string, operation: string) =>
      Effect.gen(function* () {
        let token = yield* auth.token
        let renewed = false
        // 429s are waited out for as long as `throttleTimeoutMillis` allows, however many come.
        let limitedSince: number | null = null
        for (;;) {
          yield* bucket.acquire(key)
          // When the (last) attempt left: the call-limit reading is credited with the leak since.
          let sentAt = yield* Clock.currentTimeMillis
          const response = yield* RetryPolicy.withRetry(options.retry ?? {}, (attempt) =>
            Clock.currentTimeMillis.pipe(
              Effect.tap((t) =>
                Effect.sync(() => {
                  sentAt = t
                })
              ),
              Effect.andThen(() =>
                transport
                  .request({
                    method: "GET",
                    url,
                    attempt,
                    headers: { accept: "application/json", "x-shopify-access-token": Redacted.value(token) }
                  })
                  .pipe(
                    Effect.flatMap((r) => {
                      const e = r.status >= 500 ? fromResponse(r.request, r.status, r.headers, r.body) : null
                      return e === null ? Effect.succeed(r) : Effect.fail(e)
                    })
                  )
              )
            )
          ).pipe(
            Effect.tapError(() => bucket.release(key)),
            Effect.mapError(
              (e) =>
                new ShopifyError({
                  operation,
                  reason: new Http({ status: null, retryable: e.retryable, message: e.message })
                })
            )
          )
          yield* bucket.observe(key, response.headers, 1, sentAt)
          if (response.status === 429) {
            const now = yield* Clock.currentTimeMillis
            limitedSince ??= now
            // Retry-After is in seconds (possibly fractional), never milliseconds.
            const wait = parseRetryAfter(response.headers["retry-after"], now) ?? 1000
            if (now - limitedSince + wait > config.throttleTimeoutMillis) {
              return yield* new ShopifyError({
                operation,
                reason: new Throttled({ retryAfterMs: wait, requestedCost: null, currentlyAvailable: null })
              })
            }
            yield* Effect.sleep(wait)
            continue
          }
          if (response.status === 401 && !renewed) {
            const next = yield* auth.renew(token)
            if (Option.isSome(next)) {
              renewed = true
              token = next.value
              continue
            }
          }
          if (response.status === 401) {
            return yield* new ShopifyError({
              operation,
              reason: new Unauthorized({ message: "Shopify rejected the access token (401)" })
            })
          }
          if (response.status === 403) {
            const scope = /\b((?:read|write)_[a-z_]+)\b/.exec(response.body)?.[1] ?? null
            return yield* new ShopifyError({
              operation,
              reason: new AccessDenied({ requiredScope: scope, message: response.body.slice(0, 300) })
            })
          }
          if (response.status >= 400) {
            const body = Schema.decodeUnknownOption(Schema.fromJsonString(ErrorBody))(response.body)
            const detail = Option.isSome(body)
              ? JSON.stringify(body.value.errors ?? null)
              : response.body.slice(0, 300)
            return yield* new ShopifyError({
              operation,
              reason: new Http({ status: response.status, retryable: false, message: detail })
            })
          }
          return response
        }
      })

    const decodeBody = <S extends Schema.Top>(schema: S, body: string, operation: string) =>
      Schema.decodeUnknownEffect(Schema.fromJsonString(schema))(body).pipe(
        Effect.mapError(
          (e) =>
            new ShopifyError({
              operation,
              reason: new Decode({ message: e.message, excerpt: body.slice(0, 300) })
            })
        )
      )

    const get = <S extends Schema.Top>(
      path: string,
      schema: S,
      params: Readonly<Record<string, string | number | undefined>> = {}
    ) =>
      Effect.flatMap(fetch(urlOf(path, params), `GET ${path}`), (r) =>
        decodeBody(schema, r.body, `GET ${path}`)
      )

    const list = <S extends Schema.Top>(
      path: string,
      key: string,
      schema: S,
      params: Readonly<Record<string, string | number | undefined>> = {}
    ): Stream.Stream<RestPage<S["Type"]>, ShopifyError, S["DecodingServices"]> => {
      const pageSchema = Schema.Struct({ [key]: Schema.Array(schema) })
      const first = urlOf(path, { limit: 250, ...params })
      return Stream.paginate<string, RestPage<S["Type"]>, ShopifyError, S["DecodingServices"]>(first, (url) =>
        Effect.gen(function* () {
          const response = yield* fetch(url, `GET ${path}`)
          const decoded = yield* decodeBody(pageSchema, response.body, `GET ${path}`)
          const records: ReadonlyArray<S["Type"]> = Reflect.get(decoded, key) ?? []
          const next = parseLinkHeader(response.headers.link).next ?? null
          const page: RestPage<S["Type"]> = { records, next }
          return [[page], next === null ? Option.none() : Option.some(next)] as const
        })
      )
    }

    return ShopifyRest.of({ get, list })
  })
