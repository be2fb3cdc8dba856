/**
 * The one error every API call made through @kura/core fails with. Callers match on
 * `error.reason._tag` (or `Effect.catchReason("ApiError", "RateLimited", ...)`) instead of
 * parsing status codes, and the retry policy asks `isRetryable` instead of keeping its own lists,
 * so classification lives in exactly one place.
 */
import { Schema } from "effect"
import { excerpt as makeExcerpt, redact, redactUrl } from "./Redaction.js"
import { parseRetryAfter } from "./RetryAfter.js"

/** HTTP methods whose repetition has no extra effect (RFC 9110 §9.2.2). */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set([
  "GET",
  "HEAD",
  "OPTIONS",
  "PUT",
  "DELETE",
  "TRACE"
])

/** True when `method` is idempotent by definition (GraphQL queries sent with POST need `idempotent: true`). */
export const isIdempotentMethod = (method: string): boolean => IDEMPOTENT_METHODS.has(method.toUpperCase())

/** Fields every reason carries so an error alone says what was called and on which try. */
const RequestFields = {
  /** Upper-case HTTP method. */
  method: Schema.String,
  /** The request URL with secrets redacted. */
  url: Schema.String,
  /** 1-based attempt number at the policy layer. */
  attempt: Schema.Number,
  /** Whether repeating the request is safe (GET, or a POST the caller marked idempotent, e.g. a GraphQL query). */
  idempotent: Schema.Boolean,
  /** The server's request id (`X-Request-Id`), to quote to the vendor's support. */
  requestId: Schema.optional(Schema.String)
}

/** 429, or a throttle signalled in a 200 body (Shopify GraphQL THROTTLED). Always retryable. */
export class RateLimited extends Schema.TaggedClass<RateLimited>()("RateLimited", {
  ...RequestFields,
  status: Schema.Number,
  /** Server-requested wait in milliseconds (parsed from `Retry-After` seconds or HTTP date), if any. */
  retryAfterMillis: Schema.NullOr(Schema.Number),
  excerpt: Schema.String
}) {}

/** 401: credentials missing, wrong or expired. Never retried; refresh or fix the token. */
export class Unauthorized extends Schema.TaggedClass<Unauthorized>()("Unauthorized", {
  ...RequestFields,
  excerpt: Schema.String
}) {}

/** 403: the credential lacks a scope or the resource is off-limits. Never retried. */
export class Forbidden extends Schema.TaggedClass<Forbidden>()("Forbidden", {
  ...RequestFields,
  excerpt: Schema.String
}) {}

/** 404 (and 410). Never retried. */
export class NotFound extends Schema.TaggedClass<NotFound>()("NotFound", {
  ...RequestFields,
  status: Schema.Number,
  excerpt: Schema.String
}) {}

/** 5xx. Retried only when the request is idempotent (a POST may already have been applied). */
export class ServerError extends Schema.TaggedClass<ServerError>()("ServerError", {
  ...RequestFields,
  status: Schema.Number,
  /** `Retry-After` on a 503, in milliseconds, if sent. */
  retryAfterMillis: Schema.NullOr(Schema.Number),
  excerpt: Schema.String
}) {}

/** Any other 4xx (400, 409, 422 ...). Never retried, except 408 Request Timeout on idempotent requests. */
export class ClientError extends Schema.TaggedClass<ClientError>()("ClientError", {
  ...RequestFields,
  status: Schema.Number,
  /** Redacted, truncated response body: usually says which field was wrong. */
  excerpt: Schema.String
}) {}

/** No response arrived: connection refused/reset, DNS failure, TLS failure. */
export class Transport extends Schema.TaggedClass<Transport>()("Transport", {
  ...RequestFields,
  /** Node error code, e.g. ECONNRESET, ECONNREFUSED, ENOTFOUND; "UNKNOWN" otherwise. */
  code: Schema.String,
  /** False only when the request provably never reached the server (refused, DNS), so even a POST is safe to repeat. */
  mayHaveReachedServer: Schema.Boolean,
  cause: Schema.Defect()
}) {}

/** The connect or response timeout elapsed. */
export class Timeout extends Schema.TaggedClass<Timeout>()("Timeout", {
  ...RequestFields,
  phase: Schema.Literals(["connect", "response"]),
  timeoutMillis: Schema.Number
}) {}

/** The body did not match the expected shape (or was not JSON). Never retried: a retry returns the same body. */
export class Decode extends Schema.TaggedClass<Decode>()("Decode", {
  ...RequestFields,
  /** Human-readable schema issues naming the failing fields. */
  issues: Schema.String,
  excerpt: Schema.String
}) {}

/** Every reason an API call can fail. */
export const ApiErrorReason = Schema.Union([
  RateLimited,
  Unauthorized,
  Forbidden,
  NotFound,
  ServerError,
  ClientError,
  Transport,
  Timeout,
  Decode
])

/** Every reason an API call can fail. */
export type ApiErrorReason = typeof ApiErrorReason.Type

/** The error of every API call. `reason._tag` says what happened; `retryable` whether trying again can help. */
export class ApiError extends Schema.TaggedError<ApiError>()("ApiError", {
  reason: ApiErrorReason
}) {
  /** Whether the retry policy may try again (see `isRetryable`). */
  get retryable(): boolean {
    return isRetryable(this)
  }

  /** One line naming the reason, request and attempt; secrets are already redacted. */
  override get message(): string {
    return describeReason(this.reason)
  }
}

/**
 * True for an `ApiError`, checked by tag rather than `instanceof` so it also holds when two copies
 * of @kura/core are loaded (ESM and CJS builds side by side).
 */
export const isApiError = (u: unknown): u is ApiError =>
  typeof u === "object" &&
  u !== null &&
  Reflect.get(u, "_tag") === "ApiError" &&
  typeof Reflect.get(u, "reason") === "object"

/** Renders a reason as one human-readable line. */
export const describeReason = (reason: ApiErrorReason): string => {
  const id = reason.requestId === undefined ? "" : `, request id ${reason.requestId}`
  const where = `${reason.method} ${reason.url} (attempt ${reason.attempt}${id})`
  switch (reason._tag) {
    case "RateLimited":
      return `Rate limited (${reason.status}) on ${where}${reason.retryAfterMillis === null ? "" : `; retry after ${reason.retryAfterMillis} ms`}`
    case "Unauthorized":
      return `Unauthorized (401) on ${where}: check or refresh the access token. ${reason.excerpt}`
    case "Forbidden":
      return `Forbidden (403) on ${where}: the credential lacks a scope or access. ${reason.excerpt}`
    case "NotFound":
      return `Not found (${reason.status}) on ${where}`
    case "ServerError":
      return `Server error ${reason.status} on ${where}: ${reason.excerpt}`
    case "ClientError":
      return `Client error ${reason.status} on ${where}: ${reason.excerpt}`
    case "Transport":
      return `Transport failure ${reason.code} on ${where}`
    case "Timeout":
      return `${reason.phase === "connect" ? "Connect" : "Response"} timeout after ${reason.timeoutMillis} ms on ${where}`
    case "Decode":
      return `Could not decode the response of ${where}: ${reason.issues}`
  }
}

/**
 * Whether trying again can help. Permanent: 401, 403, 404, other 4xx, decoding failures.
 * Always retryable: 429 / throttles (the server did not process the request). Retryable only for
 * idempotent requests: 5xx, 408, timeouts and connection faults that may have reached the server,
 * because repeating a POST that was applied would duplicate its effect.
 */
export const isRetryable = (error: ApiError | ApiErrorReason): boolean => {
  const reason = error._tag === "ApiError" ? error.reason : error
  switch (reason._tag) {
    case "RateLimited":
      return true
    case "ServerError":
      return reason.idempotent
    case "Timeout":
      // A connect timeout means nothing was sent, so even a POST may be repeated.
      return reason.idempotent || reason.phase === "connect"
    case "ClientError":
      return reason.status === 408 && reason.idempotent
    case "Transport":
      // An unparseable URL fails the same way every time.
      if (reason.code === "ERR_INVALID_URL") return false
      return reason.idempotent || !reason.mayHaveReachedServer
    case "Unauthorized":
    case "Forbidden":
    case "NotFound":
    case "Decode":
      return false
  }
}

/** Returns the server-requested wait in milliseconds carried by the error, if any. */
export const retryAfterMillis = (error: ApiError | ApiErrorReason): number | null => {
  const reason = error._tag === "ApiError" ? error.reason : error
  return reason._tag === "RateLimited" || reason._tag === "ServerError" ? reason.retryAfterMillis : null
}

/** What the classifier needs to know about the request. */
export interface RequestInfo {
  readonly method: string
  /** The raw URL; it is redacted before it is stored in the error. */
  readonly url: string
  readonly attempt: number
  /** Defaults to the method's idempotency. */
  readonly idempotent?: boolean | undefined
}

/** Builds the shared fields of a reason (redacts the URL). */
export const requestFields = (request: RequestInfo) => ({
  method: request.method.toUpperCase(),
  url: redactUrl(request.url),
  attempt: request.attempt,
  idempotent: request.idempotent ?? isIdempotentMethod(request.method)
})

/** Reads one header case-insensitively from a plain header record. */
export const headerValue = (
  headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>,
  name: string
): string | undefined => {
  const lower = name.toLowerCase()
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === lower) return typeof value === "string" ? value : value?.join(", ")
  }
  return undefined
}

/**
 * Classifies a response. Returns `null` for 1xx-3xx (success: the caller decodes the body) and an
 * `ApiError` for every 4xx/5xx. `now` (epoch ms) is used to turn an HTTP-date `Retry-After` into a wait.
 */
export const fromResponse = (
  request: RequestInfo,
  status: number,
  headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>,
  body: string,
  now: number = Date.now()
): ApiError | null => {
  if (status < 400) return null
  const requestId = headerValue(headers, "x-request-id")
  const fields = { ...requestFields(request), ...(requestId === undefined ? {} : { requestId }) }
  const text = makeExcerpt(body)
  const retryAfter = parseRetryAfter(headerValue(headers, "retry-after"), now)
  if (status === 429)
    return new ApiError({
      reason: new RateLimited({ ...fields, status, retryAfterMillis: retryAfter, excerpt: text })
    })
  if (status === 401) return new ApiError({ reason: new Unauthorized({ ...fields, excerpt: text }) })
  if (status === 403) return new ApiError({ reason: new Forbidden({ ...fields, excerpt: text }) })
  if (status === 404 || status === 410)
    return new ApiError({ reason: new NotFound({ ...fields, status, excerpt: text }) })
  if (status >= 500)
    return new ApiError({
      reason: new ServerError({ ...fields, status, retryAfterMillis: retryAfter, excerpt: text })
    })
  return new ApiError({ reason: new ClientError({ ...fields, status, excerpt: text }) })
}

/** Builds a `RateLimited` error for throttles signalled inside a successful response (GraphQL THROTTLED). */
export const throttled = (
  request: RequestInfo,
  status: number,
  retryAfterMillis: number | null,
  body: string
): ApiError =>
  new ApiError({
    reason: new RateLimited({
      ...requestFields(request),
      status,
      retryAfterMillis,
      excerpt: makeExcerpt(body)
    })
  })

/** Builds a `Decode` error; `issues` should name the failing fields. */
export const decodeError = (request: RequestInfo, issues: string, body: string): ApiError =>
  // Issues quote the offending values, which in a token response can be the token itself.
  new ApiError({
    reason: new Decode({ ...requestFields(request), issues: redact(issues), excerpt: makeExcerpt(body) })
  })
