/**
 * The one place this package sends GraphQL over HTTP: cost pacing, THROTTLED handling (HTTP 200
 * or 429), renewal-and-retry on 401, retries of transport faults and 5xx through core's
 * RetryPolicy, version and deprecation headers, and classification into `ShopifyError`.
 */
import {
  type ApiError,
  fromResponse,
  type HttpResponse,
  type HttpTransport,
  parseRetryAfter,
  RetryPolicy
} from "@kura/core"
import { Clock, Effect, Option, Redacted, Ref, Schema } from "effect"
import { estimateQueryCost } from "../QueryCost.js"
import type { ShopifyAuth } from "../ShopifyAuth.js"
import type { ShopifyConfigShape } from "../ShopifyConfig.js"
import {
  AccessDenied,
  Decode,
  GraphqlErrors,
  Http,
  MaxCostExceeded,
  ShopifyError,
  Throttled,
  Unauthorized
} from "../ShopifyError.js"
import type { ShopifyCounters } from "../ShopifyTelemetry.js"
import type { CostBucket, ThrottleStatus } from "./CostBucket.js"

const ThrottleStatusSchema = Schema.Struct({
  maximumAvailable: Schema.Number,
  currentlyAvailable: Schema.Number,
  restoreRate: Schema.Number
})

const CostSchema = Schema.Struct({
  requestedQueryCost: Schema.optional(Schema.NullOr(Schema.Number)),
  actualQueryCost: Schema.optional(Schema.NullOr(Schema.Number)),
  throttleStatus: ThrottleStatusSchema
})

const GraphqlErrorSchema = Schema.Struct({
  message: Schema.String,
  extensions: Schema.optional(
    Schema.NullOr(
      Schema.Struct({
        code: Schema.optional(Schema.NullOr(Schema.String)),
        requiredAccess: Schema.optional(Schema.NullOr(Schema.String))
      })
    )
  )
})

const Envelope = Schema.Struct({
  data: Schema.optional(Schema.NullOr(Schema.Unknown)),
  errors: Schema.optional(Schema.Union([Schema.Array(GraphqlErrorSchema), Schema.String])),
  extensions: Schema.optional(
    Schema.NullOr(Schema.Struct({ cost: Schema.optional(Schema.NullOr(CostSchema)) }))
  )
})

const decodeEnvelope = Schema.decodeUnknownOption(Schema.fromJsonString(Envelope))

/** Cost figures of one answered request. */
export interface CostInfo {
  readonly estimated: number
  readonly requested: number | null
  readonly actual: number | null
  readonly throttleStatus: ThrottleStatus | null
}

/** The result of one GraphQL request. */
export interface GraphqlResult {
  readonly data: unknown
  readonly cost: CostInfo
}

/** Per-request options. */
export interface GraphqlOptions {
  /** Names the call in errors and logs, e.g. "orders page". */
  readonly operation: string
  /** The scope to name when Shopify denies access without saying which (e.g. read_all_orders). */
  readonly scopeHint?: string | undefined
}

/** What the executor needs. */
export interface ExecutorDeps {
  readonly config: ShopifyConfigShape
  readonly auth: ShopifyAuth["Service"]
  readonly bucket: CostBucket
  readonly transport: HttpTransport["Service"]
  readonly servedVersion: Ref.Ref<Option.Option<string>>
  readonly retry?: RetryPolicy.RetryPolicyOptions | undefined
  readonly counters: ShopifyCounters
}

const SCOPE_PATTERN = /\b((?:read|write)_[a-z_]+)\b/

/** Finds the scope Shopify says is missing, else the caller's hint. */
export const requiredScopeOf = (
  message: string,
  requiredAccess: string | null | undefined,
  hint?: string
) => {
  const fromAccess = requiredAccess ? SCOPE_PATTERN.exec(requiredAccess)?.[1] : undefined
  const fromMessage = SCOPE_PATTERN.exec(message)?.[1]
  if (/60 days|read_all_orders/i.test(message)) return "read_all_orders"
  return fromAccess ?? fromMessage ?? hint ?? null
}

const httpReason = (e: ApiError) =>
  new Http({
    status: "status" in e.reason ? e.reason.status : null,
    retryable: e.retryable,
    message: e.message
  })

/** Builds the executor. */
export const makeExecutor = (deps: ExecutorDeps) => {
  const { auth, bucket, config, counters, transport } = deps
  const url = `${config.baseUrl}/admin/api/${config.apiVersion}/graphql.json`
  // Learned ratio requestedQueryCost / our estimate, per document, so pacing converges on Shopify's numbers.
  const ratios = new Map<string, number>()
  const warned = new Set<string>()

  const warnOnce = (key: string, message: string, annotations: Record<string, string>) =>
    warned.has(key)
      ? Effect.void
      : Effect.sync(() => warned.add(key)).pipe(
          Effect.andThen(Effect.logWarning(message).pipe(Effect.annotateLogs(annotations)))
        )

  const inspectHeaders = (response: HttpResponse) =>
    Effect.gen(function* () {
      const served = response.headers["x-shopify-api-version"]
      if (served !== undefined && served !== "") {
        yield* Ref.set(deps.servedVersion, Option.some(served))
        if (served !== config.apiVersion) {
          yield* warnOnce(
            `version:${served}`,
            `Shopify served API version ${served} instead of the requested ${config.apiVersion} (retired or unknown versions fall forward); update apiVersion`,
            { requested: config.apiVersion, served }
          )
        }
      }
      const deprecated = response.headers["x-shopify-api-deprecated-reason"]
      if (deprecated !== undefined && deprecated !== "") {
        yield* warnOnce(`deprecated:${deprecated}`, `Shopify flagged deprecated API usage: ${deprecated}`, {
          reason: deprecated
        })
      }
    })

  const fail = (operation: string, reason: ShopifyError["reason"]) =>
    Effect.fail(new ShopifyError({ operation, reason }))

  /** Sends once at the HTTP level; transport faults and 5xx are retried by core's policy. */
  const send = (body: string, token: Redacted.Redacted<string>, idempotent: boolean) =>
    RetryPolicy.withRetry(deps.retry ?? {}, (attempt) =>
      Effect.gen(function* () {
        if (attempt > 1) yield* counters.retry("transport")
        yield* counters.call
        const response = yield* transport.request({
          method: "POST",
          url,
          body,
          idempotent,
          attempt,
          headers: {
            "content-type": "application/json",
            accept: "application/json",
            "x-shopify-access-token": Redacted.value(token)
          }
        })
        if (response.status >= 500) {
          const error = fromResponse(response.request, response.status, response.headers, response.body)
          if (error !== null) return yield* Effect.fail(error)
        }
        return response
      })
    )

  const execute = (
    document: string,
    variables: Readonly<Record<string, unknown>>,
    options: GraphqlOptions
  ): Effect.Effect<GraphqlResult, ShopifyError> =>
    Effect.gen(function* () {
      const op = options.operation
      const isMutation = /^\s*mutation\b/.test(document)
      const base = estimateQueryCost(document, variables)
      const estimated = Math.ceil(base * (ratios.get(document) ?? 1))
      const body = JSON.stringify({ query: document, variables })
      let token = yield* auth.token
      let renewed = false
      let retryReason: "throttled" | "malformed" | "renewal" = "throttled"
      // THROTTLED is never fatal by count: only waiting longer than `throttleTimeoutMillis` in
      // total (the shop is saturated by something else for that long) fails the request.
      let throttledSince: number | null = null
      let malformed = 0
      let retrying = false
      for (;;) {
        if (retrying) yield* counters.retry(retryReason)
        retrying = true
        const queued = yield* Clock.currentTimeMillis
        const ticket = yield* bucket.acquire(estimated)
        yield* counters.paced((yield* Clock.currentTimeMillis) - queued)
        const response = yield* send(body, token, !isMutation).pipe(
          Effect.tapError(() => bucket.settle(ticket, null)),
          // An abandoned request must release its hold, or the shop's bucket (and, before the first
          // answer, its single probe slot) would stay taken.
          Effect.onInterrupt(() => bucket.settle(ticket, null)),
          Effect.mapError((e) => new ShopifyError({ operation: op, reason: httpReason(e) }))
        )
        yield* inspectHeaders(response)
        const envelope = decodeEnvelope(response.body)
        const costExt = Option.isSome(envelope) ? (envelope.value.extensions?.cost ?? null) : null
        const status = costExt?.throttleStatus ?? null
        const errors =
          Option.isSome(envelope) && Array.isArray(envelope.value.errors) ? envelope.value.errors : []
        const codes = errors.map((e) => e.extensions?.code ?? null)
        const isThrottled = response.status === 429 || codes.includes("THROTTLED")

        if (isThrottled) {
          const requested = costExt?.requestedQueryCost ?? estimated
          const bucketWait = yield* bucket.throttled(ticket, status, requested)
          const now = yield* Clock.currentTimeMillis
          const retryAfter = parseRetryAfter(response.headers["retry-after"], now)
          const wait = Math.max(bucketWait, retryAfter ?? 0)
          throttledSince ??= now
          if (now - throttledSince + wait > config.throttleTimeoutMillis) {
            yield* counters.throttled(0)
            return yield* fail(
              op,
              new Throttled({
                retryAfterMs: wait,
                requestedCost: requested,
                currentlyAvailable: status?.currentlyAvailable ?? null
              })
            )
          }
          yield* counters.throttled(wait)
          yield* Effect.logDebug("Shopify throttled the request; waiting for the bucket").pipe(
            Effect.annotateLogs({ operation: op, waitMillis: String(wait) })
          )
          yield* Effect.sleep(wait)
          retryReason = "throttled"
          continue
        }
        yield* bucket.settle(
          ticket,
          status,
          costExt?.requestedQueryCost ?? null,
          costExt?.actualQueryCost ?? null
        )
        yield* counters.cost(costExt?.requestedQueryCost ?? null, costExt?.actualQueryCost ?? null)

        if (response.status === 401) {
          if (!renewed) {
            const next = yield* auth.renew(token)
            if (Option.isSome(next)) {
              renewed = true
              token = next.value
              retryReason = "renewal"
              continue
            }
          }
          return yield* fail(
            op,
            new Unauthorized({
              message: `Shopify rejected the access token (401)${renewed ? " even after renewing it" : ""}: check the app's credentials and installation`
            })
          )
        }
        if (response.status === 403) {
          const message = errors[0]?.message ?? response.body.slice(0, 300)
          return yield* fail(
            op,
            new AccessDenied({ requiredScope: requiredScopeOf(message, null, options.scopeHint), message })
          )
        }
        if (response.status >= 400) {
          const error = fromResponse(response.request, response.status, response.headers, response.body)
          return yield* fail(
            op,
            error === null
              ? new Http({ status: response.status, retryable: false, message: "unexpected status" })
              : httpReason(error)
          )
        }
        if (Option.isNone(envelope) && !isMutation && malformed < 3) {
          // A cut-off or garbled body on a read: the query is safe to repeat.
          malformed++
          retryReason = "malformed"
          yield* Effect.logWarning("Shopify sent an unreadable GraphQL response; retrying").pipe(
            Effect.annotateLogs({ operation: op, status: String(response.status) })
          )
          continue
        }
        if (Option.isNone(envelope)) {
          return yield* fail(
            op,
            new Decode({
              message: "the GraphQL response is not a JSON object",
              excerpt: response.body.slice(0, 300)
            })
          )
        }
        const requested = costExt?.requestedQueryCost ?? null
        if (requested !== null && requested > 0 && !isMutation)
          ratios.set(document, Math.max(0.1, requested / base))
        const cost: CostInfo = {
          estimated,
          requested,
          actual: costExt?.actualQueryCost ?? null,
          throttleStatus: status
        }
        if (codes.includes("MAX_COST_EXCEEDED")) {
          return yield* fail(
            op,
            new MaxCostExceeded({
              requestedCost: requested,
              message: errors[0]?.message ?? "MAX_COST_EXCEEDED"
            })
          )
        }
        const denied = errors.find((e) => e.extensions?.code === "ACCESS_DENIED")
        if (denied !== undefined) {
          return yield* fail(
            op,
            new AccessDenied({
              requiredScope: requiredScopeOf(
                denied.message,
                denied.extensions?.requiredAccess,
                options.scopeHint
              ),
              message: denied.message
            })
          )
        }
        if (typeof envelope.value.errors === "string" || errors.length > 0) {
          const list =
            typeof envelope.value.errors === "string"
              ? [{ message: envelope.value.errors, code: null }]
              : errors.map((e) => ({ message: e.message, code: e.extensions?.code ?? null }))
          return yield* fail(op, new GraphqlErrors({ errors: list }))
        }
        return { data: envelope.value.data ?? null, cost }
      }
    })

  /** The estimate `execute` would debit for this document and variables (learned ratio applied). */
  const estimate = (document: string, variables: Readonly<Record<string, unknown>>): number =>
    Math.ceil(estimateQueryCost(document, variables) * (ratios.get(document) ?? 1))

  /** The learned requested/estimated ratio of a document (1 until Shopify answered it once). */
  const ratioOf = (document: string): number => ratios.get(document) ?? 1

  return { execute, estimate, ratioOf }
}
