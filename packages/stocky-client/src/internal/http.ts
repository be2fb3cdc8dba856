/**
 * The only place the Stocky client touches HTTP. It sends through core's HttpTransport, retries
 * under core's RetryPolicy, and sorts every answer into: a JSON body, a "not found" (a live API's
 * 404), or proof that the API has been shut down. Shutdown evidence is returned, not retried, so
 * a retired API yields one clear error instead of a retry loop.
 */
import {
  type AdaptiveLimiter,
  ApiError,
  fromResponse,
  type HttpResponse,
  HttpTransport,
  RetryPolicy,
  redactUrl,
  requestFields,
  Transport
} from "@kura/core"
import { Effect, Redacted } from "effect"
import type { ResolvedStockyConfig } from "../StockyConfig.js"

/** How a GET ended (after retries). */
export type FetchOutcome =
  | { readonly _tag: "Ok"; readonly url: string; readonly body: string; readonly json: unknown }
  | { readonly _tag: "NotFound"; readonly url: string; readonly status: number; readonly body: string }
  | { readonly _tag: "Retired"; readonly url: string; readonly evidence: string }

const SHUTDOWN_PHRASES = [
  "discontinued",
  "no longer available",
  "no longer supported",
  "no longer exists",
  "has been shut down",
  "has been retired",
  "shut down",
  "sunset",
  "end of life"
]

/** Whether a body reads like a shutdown notice. */
export const mentionsShutdown = (body: string): string | undefined => {
  const head = body.slice(0, 8192).toLowerCase()
  return SHUTDOWN_PHRASES.find((p) => head.includes(p))
}

const isHtml = (response: HttpResponse): boolean =>
  /text\/html/i.test(response.headers["content-type"] ?? "") || /^\s*<(!doctype|html)/i.test(response.body)

const path = (url: string): string => {
  try {
    return new URL(url).pathname
  } catch {
    return url
  }
}

/** Sorts one response; only errors the retry policy may retry are failures. */
const classify = (response: HttpResponse): Effect.Effect<FetchOutcome, ApiError> => {
  const url = redactUrl(response.request.url)
  const { status, body } = response
  if (status === 410) return Effect.succeed({ _tag: "Retired", url, evidence: `410 Gone on ${path(url)}` })
  if (status === 404) {
    const phrase = mentionsShutdown(body)
    if (phrase !== undefined)
      return Effect.succeed({ _tag: "Retired", url, evidence: `404 on ${path(url)} saying "${phrase}"` })
    if (isHtml(response))
      return Effect.succeed({ _tag: "Retired", url, evidence: `404 HTML page (not the API) on ${path(url)}` })
    return Effect.succeed({ _tag: "NotFound", url, status, body })
  }
  if (status >= 200 && status < 300) {
    let json: unknown
    try {
      json = JSON.parse(body)
    } catch {
      const phrase = mentionsShutdown(body)
      if (phrase !== undefined)
        return Effect.succeed({
          _tag: "Retired",
          url,
          evidence: `${status} non-JSON page on ${path(url)} saying "${phrase}"`
        })
      // A cut-off or garbled body is a transport fault: the same request usually succeeds again.
      return Effect.fail(
        new ApiError({
          reason: new Transport({
            ...requestFields(response.request),
            code: "INVALID_BODY",
            mayHaveReachedServer: true,
            cause: new Error(
              `${status} body is not JSON (${body.length} bytes${isHtml(response) ? ", HTML" : ""})`
            )
          })
        })
      )
    }
    return Effect.succeed({ _tag: "Ok", url, body, json })
  }
  const error = fromResponse(response.request, status, response.headers, body)
  return error === null ? Effect.succeed({ _tag: "NotFound", url, status, body }) : Effect.fail(error)
}

/**
 * GETs `baseUrl + path` with Stocky's headers. Every attempt passes through the adaptive limiter
 * (Stocky publishes no limits, so a 429 halves the pace and Retry-After pauses it), and transient
 * failures are retried under the policy.
 */
export const getJson = (
  config: ResolvedStockyConfig,
  limiter: AdaptiveLimiter["Service"],
  resourcePath: string,
  query: Readonly<Record<string, string | number | undefined>>
): Effect.Effect<FetchOutcome, ApiError, HttpTransport> =>
  Effect.gen(function* () {
    const transport = yield* HttpTransport
    const url = `${config.baseUrl}${resourcePath}`
    const headers = {
      "Store-Name": config.storeName,
      Authorization: `API KEY=${Redacted.value(config.apiKey)}`,
      Accept: "application/json"
    }
    return yield* RetryPolicy.withRetry(config.retry, (attempt) =>
      limiter
        .withLimit(
          `stocky:${config.storeName}`,
          Effect.flatMap(transport.request({ method: "GET", url, query, headers, attempt }), classify)
        )
        .pipe(
          Effect.catch((error): Effect.Effect<FetchOutcome, ApiError> => {
            const r = error.reason
            if (config.retiredOnDnsFailure && r._tag === "Transport" && r.code === "ENOTFOUND")
              return Effect.succeed({
                _tag: "Retired",
                url: r.url,
                evidence: "DNS: the API host no longer resolves (ENOTFOUND)"
              })
            return Effect.fail(error)
          })
        )
    )
  })
