/**
 * The HTTP transport every Kura client sends through: one axios instance, timeouts split into
 * connect and response, and axios-retry for connection faults only (no response arrived). HTTP
 * statuses are returned, never retried here, so the policy layer (`RetryPolicy`) is the only
 * place that retries on status and retries never multiply.
 */

import type { Readable } from "node:stream"
import type { AxiosError, AxiosInstance, AxiosRequestConfig, AxiosResponse } from "axios"
import axios from "axios"
import axiosRetryModule from "axios-retry"
import { Clock, Config, Context, Effect, Layer, Schema, type Scope, Stream } from "effect"
import {
  ApiError,
  decodeError,
  fromResponse,
  isIdempotentMethod,
  type RequestInfo,
  requestFields,
  Timeout,
  Transport
} from "./ApiError.js"
import { CONNECT_TIMEOUT_CODE, makeConnectTimeoutAgents } from "./internal/connectTimeoutAgent.js"
import { redact } from "./Redaction.js"
import { MetricNames, type MetricsRegistry, Telemetry } from "./Telemetry.js"

/**
 * axios-retry's CommonJS build puts the function on `exports.default`; Node-mode CJS interop (our
 * CJS bundle) hands over the whole exports object as the default import, so take the function
 * from whichever shape arrived.
 */
const axiosRetry: typeof axiosRetryModule =
  typeof axiosRetryModule === "function"
    ? axiosRetryModule
    : (axiosRetryModule as unknown as { readonly default: typeof axiosRetryModule }).default

/** HTTP methods the transport sends. */
export type HttpMethod = "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS"

/** One request. Bodies are sent as given; use `json` for JSON (it sets Content-Type). */
export interface HttpRequest {
  readonly method: HttpMethod
  /** Absolute URL (query parameters may be inline or in `query`). */
  readonly url: string
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** Query parameters appended to the URL; `undefined` values are skipped. */
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>> | undefined
  /** Raw body. */
  readonly body?: string | Uint8Array | undefined
  /** JSON body (serialised with JSON.stringify). */
  readonly json?: unknown
  /**
   * Whether repeating the request is harmless. Defaults to the method's idempotency; set it for
   * read-only POSTs such as GraphQL queries so they can be retried like GETs.
   */
  readonly idempotent?: boolean | undefined
  /** 1-based attempt number at the policy layer, carried into errors and logs. */
  readonly attempt?: number | undefined
  /** Overrides the transport's response timeout for this request (e.g. long bulk downloads). */
  readonly timeoutMillis?: number | undefined
}

/** A response of any status: statuses are classified by the caller or `requestOk`, never here. */
export interface HttpResponse {
  readonly status: number
  /** Header names are lower-case. */
  readonly headers: Readonly<Record<string, string>>
  /** The body decoded as UTF-8. */
  readonly body: string
  /** What the request was, for error classification (URL not yet redacted; use `requestFields`). */
  readonly request: RequestInfo
  /** Connection-fault retries axios-retry made before this response arrived. */
  readonly connectionRetries: number
  readonly elapsedMillis: number
}

/** A response whose body is streamed (bulk JSONL exports, large files) instead of buffered. */
export interface HttpStreamResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly request: RequestInfo
  /** The body in chunks as they arrive; the socket is released when the stream ends or is interrupted. */
  readonly body: Stream.Stream<Uint8Array, ApiError>
}

/** Transport settings. */
export interface HttpTransportOptions {
  /** Max time to establish a TCP/TLS connection. Default 10 s. */
  readonly connectTimeoutMillis?: number | undefined
  /** Max time for the whole response once sent (axios `timeout`). Default 60 s. */
  readonly responseTimeoutMillis?: number | undefined
  /** Total tries for a connection fault on an idempotent request, including the first (1-3). Default 3. */
  readonly connectionTries?: number | undefined
  /** Base delay between connection-fault retries in ms (doubled each retry, plus jitter). Default 100. */
  readonly connectionRetryDelayMillis?: number | undefined
  /** User-Agent sent unless the request sets one. */
  readonly userAgent?: string | undefined
  /** Called on each connection-fault retry (for logs; metrics are recorded already). */
  readonly onConnectionRetry?:
    | ((info: { readonly url: string; readonly code: string; readonly retry: number }) => void)
    | undefined
}

/** The transport service. */
export class HttpTransport extends Context.Service<
  HttpTransport,
  {
    /** Sends a request and returns the response whatever its status; fails only with Transport or Timeout. */
    readonly request: (request: HttpRequest) => Effect.Effect<HttpResponse, ApiError>
    /** Like `request`, but a 4xx/5xx fails with the classified `ApiError`. */
    readonly requestOk: (request: HttpRequest) => Effect.Effect<HttpResponse, ApiError>
    /** Opens a streamed response; a 4xx/5xx fails with the classified `ApiError` (its body read as the excerpt). */
    readonly stream: (request: HttpRequest) => Effect.Effect<HttpStreamResponse, ApiError, Scope.Scope>
  }
>()("@kura/core/HttpTransport") {
  /** A transport over a new axios instance. */
  static readonly layer = (options: HttpTransportOptions = {}): Layer.Layer<HttpTransport> =>
    Layer.sync(HttpTransport, () => makeHttpTransport(options))

  /** A transport over the caller's axios instance (proxies, interceptors, custom agents). */
  static readonly layerWithAxios = (
    instance: AxiosInstance,
    options: HttpTransportOptions = {}
  ): Layer.Layer<HttpTransport> => Layer.sync(HttpTransport, () => makeHttpTransport(options, instance))

  /**
   * A transport that answers from `handler` without any network (for client unit tests): the
   * handler sees every request and returns a status, headers and body. Prefer real local servers
   * for transport behaviour; this is for testing code *above* the transport.
   */
  static readonly layerTest = (
    handler: (request: HttpRequest) => Effect.Effect<{
      readonly status: number
      readonly headers?: Readonly<Record<string, string>> | undefined
      readonly body?: string | undefined
    }>
  ): Layer.Layer<HttpTransport> => Layer.succeed(HttpTransport, makeTestTransport(handler))

  /**
   * Reads KURA_HTTP_CONNECT_TIMEOUT_MS, KURA_HTTP_RESPONSE_TIMEOUT_MS and KURA_HTTP_CONNECTION_TRIES
   * (all optional) through Effect Config.
   */
  static readonly layerConfig: Layer.Layer<HttpTransport, Config.ConfigError> = Layer.effect(
    HttpTransport,
    Effect.gen(function* () {
      const config = yield* HttpTransportConfig
      return makeHttpTransport(config)
    })
  )
}

/** The transport settings read from the environment by `HttpTransport.layerConfig`. */
export const HttpTransportConfig: Config.Config<HttpTransportOptions> = Config.all({
  connectTimeoutMillis: Config.Int("KURA_HTTP_CONNECT_TIMEOUT_MS").pipe(Config.withDefault(10_000)),
  responseTimeoutMillis: Config.Int("KURA_HTTP_RESPONSE_TIMEOUT_MS").pipe(Config.withDefault(60_000)),
  connectionTries: Config.Int("KURA_HTTP_CONNECTION_TRIES").pipe(Config.withDefault(3))
})

const retryInstalled = new WeakSet<AxiosInstance>()

/** The `Transport.code` of a request whose URL does not parse (a bug to fix, never retried). */
export const INVALID_URL_CODE = "ERR_INVALID_URL"

const errorCode = (error: unknown): string => {
  const direct = Reflect.get(Object(error), "code")
  if (typeof direct === "string" && direct !== "ERR_NETWORK") return direct
  const cause = Reflect.get(Object(error), "cause")
  const nested = cause === undefined ? undefined : Reflect.get(Object(cause), "code")
  if (typeof nested === "string") return nested
  return typeof direct === "string" ? direct : "UNKNOWN"
}

/** Codes proving the request never reached the server, so even a POST may be repeated. */
const NEVER_SENT_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  CONNECT_TIMEOUT_CODE
])

/**
 * The cause kept in a `Transport` error: name, code, redacted message and stack only. An
 * AxiosError carries the request config (headers with the access token) and would leak it through
 * JSON.stringify or a pretty-printed cause.
 */
const safeCause = (error: unknown, code: string): Error => {
  const source = Object(error)
  const message = Reflect.get(source, "message")
  const safe = new Error(redact(typeof message === "string" ? message : String(error)))
  const name = Reflect.get(source, "name")
  safe.name = typeof name === "string" ? name : "Error"
  const stack = Reflect.get(source, "stack")
  safe.stack = typeof stack === "string" ? redact(stack) : ""
  return Object.assign(safe, { code })
}

const isResponseTimeout = (code: string, error: unknown) =>
  code === "ECONNABORTED" ||
  (code === "ETIMEDOUT" && /timeout/i.test(String(Reflect.get(Object(error), "message"))))

const normaliseHeaders = (headers: AxiosResponse["headers"] | undefined): Record<string, string> => {
  const out: Record<string, string> = {}
  if (!headers) return out
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || value === null) continue
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : String(value)
  }
  return out
}

/** Resolves the request URL (relative URLs against `baseUrl`, e.g. an injected instance's `baseURL`) and appends `query`. */
const buildUrl = (request: HttpRequest, baseUrl?: string): string => {
  const url = new URL(request.url, baseUrl)
  for (const [name, value] of Object.entries(request.query ?? {})) {
    if (value !== undefined) url.searchParams.set(name, String(value))
  }
  return url.toString()
}

const hostOf = (url: string): string => {
  try {
    return new URL(url).host
  } catch {
    return "invalid"
  }
}

/** Builds a transport (exported for apps that assemble services by hand). */
export const makeHttpTransport = (
  options: HttpTransportOptions = {},
  injected?: AxiosInstance
): HttpTransport["Service"] => {
  const connectTimeoutMillis = options.connectTimeoutMillis ?? 10_000
  const responseTimeoutMillis = options.responseTimeoutMillis ?? 60_000
  const tries = Math.min(3, Math.max(1, Math.trunc(options.connectionTries ?? 3)))
  const baseDelay = options.connectionRetryDelayMillis ?? 100
  const instance = injected ?? axios.create()
  // Our connect-timeout agents only where the caller has not brought their own (proxy agents etc.).
  const agents =
    injected?.defaults.httpAgent !== undefined || injected?.defaults.httpsAgent !== undefined
      ? undefined
      : makeConnectTimeoutAgents(connectTimeoutMillis)

  if (!retryInstalled.has(instance)) {
    retryInstalled.add(instance)
    axiosRetry(instance, {
      retries: tries - 1,
      shouldResetTimeout: true,
      // Only when no response arrived and the request was not cancelled: statuses belong to the policy layer.
      retryCondition: (error: AxiosError) => error.response === undefined && error.code !== "ERR_CANCELED",
      retryDelay: (retry) => Math.min(2_000, baseDelay * 2 ** (retry - 1)) * (0.5 + Math.random() / 2)
    })
  }

  const axiosConfig = (
    request: HttpRequest,
    url: string,
    signal: AbortSignal,
    idempotent: boolean,
    registry: MetricsRegistry
  ): AxiosRequestConfig => {
    const headers: Record<string, string> = { ...request.headers }
    const hasHeader = (name: string) => Object.keys(headers).some((h) => h.toLowerCase() === name)
    if (options.userAgent !== undefined && !hasHeader("user-agent")) headers["User-Agent"] = options.userAgent
    let data: string | Uint8Array | undefined = request.body
    if (request.json !== undefined) {
      data = JSON.stringify(request.json)
      if (!hasHeader("content-type")) headers["Content-Type"] = "application/json"
    }
    return {
      method: request.method,
      url,
      headers,
      data,
      signal,
      timeout: request.timeoutMillis ?? responseTimeoutMillis,
      validateStatus: () => true,
      maxRedirects: 5,
      // Bodies are bounded by the caller (bulk uploads go through staged uploads), not by axios' 10 MB default.
      maxBodyLength: Number.POSITIVE_INFINITY,
      maxContentLength: -1,
      ...(agents ? { httpAgent: agents.httpAgent, httpsAgent: agents.httpsAgent } : {}),
      "axios-retry": {
        retries: idempotent ? tries - 1 : 0,
        onRetry: (retry, error) => {
          const code = errorCode(error)
          registry.increment(MetricNames.connectionRetries, { host: hostOf(url), code })
          options.onConnectionRetry?.({
            url: requestFields({ method: request.method, url, attempt: 1 }).url,
            code,
            retry
          })
        }
      }
    }
  }

  const fail = (info: RequestInfo, error: unknown, timeoutMillis: number): ApiError => {
    const code = errorCode(error)
    const fields = requestFields(info)
    if (code === CONNECT_TIMEOUT_CODE) {
      return new ApiError({
        reason: new Timeout({ ...fields, phase: "connect", timeoutMillis: connectTimeoutMillis })
      })
    }
    if (isResponseTimeout(code, error)) {
      return new ApiError({ reason: new Timeout({ ...fields, phase: "response", timeoutMillis }) })
    }
    return new ApiError({
      reason: new Transport({
        ...fields,
        code,
        mayHaveReachedServer: !NEVER_SENT_CODES.has(code),
        cause: safeCause(error, code)
      })
    })
  }

  const send = <T>(request: HttpRequest, responseType: "arraybuffer" | "stream") =>
    Effect.gen(function* () {
      const registry = yield* Telemetry
      const url = yield* Effect.try({
        try: () => buildUrl(request, instance.defaults.baseURL),
        catch: (error) =>
          new ApiError({
            reason: new Transport({
              ...requestFields({ method: request.method, url: request.url, attempt: request.attempt ?? 1 }),
              code: INVALID_URL_CODE,
              mayHaveReachedServer: false,
              cause: safeCause(error, INVALID_URL_CODE)
            })
          })
      })
      const idempotent = request.idempotent ?? isIdempotentMethod(request.method)
      const info: RequestInfo = { method: request.method, url, attempt: request.attempt ?? 1, idempotent }
      const timeoutMillis = request.timeoutMillis ?? responseTimeoutMillis
      const start = yield* Clock.currentTimeMillis
      const response = yield* Effect.tryPromise({
        try: (signal) =>
          instance.request<T>({ ...axiosConfig(request, url, signal, idempotent, registry), responseType }),
        catch: (error) => fail(info, error, timeoutMillis)
      }).pipe(
        Effect.tapError((error) =>
          Effect.sync(() =>
            registry.increment(MetricNames.requests, {
              host: hostOf(url),
              method: request.method,
              status: error.reason._tag === "Timeout" ? "timeout" : "error"
            })
          )
        )
      )
      const elapsedMillis = (yield* Clock.currentTimeMillis) - start
      registry.increment(MetricNames.requests, {
        host: hostOf(url),
        method: request.method,
        status: `${Math.floor(response.status / 100)}xx`
      })
      registry.observe(MetricNames.requestDuration, elapsedMillis / 1000, { host: hostOf(url) })
      const retryState = response.config["axios-retry"]
      return { response, info, elapsedMillis, connectionRetries: retryState?.retryCount ?? 0, registry }
    })

  const request = (request: HttpRequest): Effect.Effect<HttpResponse, ApiError> =>
    Effect.map(
      send<ArrayBuffer>(request, "arraybuffer"),
      ({ response, info, elapsedMillis, connectionRetries, registry }) => {
        const buffer = Buffer.from(response.data ?? new ArrayBuffer(0))
        registry.increment(MetricNames.bytes, { host: hostOf(info.url) }, buffer.byteLength)
        return {
          status: response.status,
          headers: normaliseHeaders(response.headers),
          body: buffer.toString("utf8"),
          request: info,
          connectionRetries,
          elapsedMillis
        }
      }
    )

  const requestOk = (req: HttpRequest): Effect.Effect<HttpResponse, ApiError> =>
    Effect.flatMap(request(req), (response) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const error = fromResponse(response.request, response.status, response.headers, response.body, now)
        return error === null ? Effect.succeed(response) : Effect.fail(error)
      })
    )

  const stream = (req: HttpRequest): Effect.Effect<HttpStreamResponse, ApiError, Scope.Scope> =>
    Effect.gen(function* () {
      const { response, info, registry } = yield* Effect.acquireRelease(
        send<Readable>(req, "stream"),
        ({ response }) => Effect.sync(() => response.data.destroy())
      )
      const headers = normaliseHeaders(response.headers)
      const readable = response.data
      if (response.status >= 400) {
        const chunks: Array<Buffer> = []
        let size = 0
        const body = yield* Effect.tryPromise({
          try: async () => {
            for await (const chunk of readable) {
              const buffer = Buffer.from(chunk)
              if (size < 64 * 1024) chunks.push(buffer)
              size += buffer.byteLength
            }
            return Buffer.concat(chunks).toString("utf8")
          },
          catch: (error) => fail(info, error, req.timeoutMillis ?? responseTimeoutMillis)
        })
        const now = yield* Clock.currentTimeMillis
        const error = fromResponse(info, response.status, headers, body, now)
        if (error !== null) return yield* Effect.fail(error)
      }
      const host = hostOf(info.url)
      const body = Stream.fromAsyncIterable(readable, (error) =>
        fail(info, error, req.timeoutMillis ?? responseTimeoutMillis)
      ).pipe(
        Stream.map((chunk: unknown) => {
          const bytes = chunk instanceof Uint8Array ? chunk : Buffer.from(String(chunk))
          registry.increment(MetricNames.bytes, { host }, bytes.byteLength)
          return bytes
        })
      )
      return { status: response.status, headers, request: info, body }
    })

  // Spans give every request a trace id (CloudLogger writes it) and a place for the redacted URL.
  const span = (name: string, req: HttpRequest) =>
    Effect.withSpan(name, {
      attributes: {
        "http.request.method": req.method,
        "url.full": requestFields({ method: req.method, url: req.url, attempt: 1 }).url,
        "kura.attempt": req.attempt ?? 1
      }
    })

  return HttpTransport.of({
    request: (req) => request(req).pipe(span("HttpTransport.request", req)),
    requestOk: (req) => requestOk(req).pipe(span("HttpTransport.requestOk", req)),
    stream: (req) => stream(req).pipe(span("HttpTransport.stream", req))
  })
}

const makeTestTransport = (
  handler: (request: HttpRequest) => Effect.Effect<{
    readonly status: number
    readonly headers?: Readonly<Record<string, string>> | undefined
    readonly body?: string | undefined
  }>
): HttpTransport["Service"] => {
  const request = (req: HttpRequest): Effect.Effect<HttpResponse, ApiError> =>
    Effect.map(handler(req), (reply) => {
      const headers: Record<string, string> = {}
      for (const [name, value] of Object.entries(reply.headers ?? {})) headers[name.toLowerCase()] = value
      return {
        status: reply.status,
        headers,
        body: reply.body ?? "",
        request: {
          method: req.method,
          url: req.query ? buildUrl(req) : req.url,
          attempt: req.attempt ?? 1,
          idempotent: req.idempotent ?? isIdempotentMethod(req.method)
        },
        connectionRetries: 0,
        elapsedMillis: 0
      }
    })
  const requestOk = (req: HttpRequest) =>
    Effect.flatMap(request(req), (response) => {
      const error = fromResponse(response.request, response.status, response.headers, response.body)
      return error === null ? Effect.succeed(response) : Effect.fail(error)
    })
  const stream = (req: HttpRequest) =>
    Effect.map(requestOk(req), (response) => ({
      status: response.status,
      headers: response.headers,
      request: response.request,
      body: Stream.make(new TextEncoder().encode(response.body))
    }))
  return HttpTransport.of({ request, requestOk, stream })
}

/**
 * Decodes a JSON response body with a schema; a non-JSON body or a schema mismatch fails with a
 * `Decode` reason whose `issues` name the failing fields.
 */
export const decodeJson =
  <S extends Schema.Decoder<unknown>>(schema: S) =>
  (response: Pick<HttpResponse, "body" | "request">): Effect.Effect<S["Type"], ApiError> => {
    let parsed: unknown
    try {
      parsed = JSON.parse(response.body)
    } catch (error) {
      return Effect.fail(decodeError(response.request, `body is not JSON: ${String(error)}`, response.body))
    }
    return Schema.decodeUnknownEffect(schema)(parsed).pipe(
      Effect.mapError((error) => decodeError(response.request, error.message, response.body))
    )
  }
