import { assert, describe, it } from "@effect/vitest"
import axios from "axios"
import { Cause, ConfigProvider, Effect, Exit, Schema, Stream } from "effect"
import { decodeJson, HttpTransport } from "../src/HttpTransport.js"
import { MetricNames, MetricsRegistry, Telemetry } from "../src/Telemetry.js"
import { withServer } from "./support/server.js"

const transport = (options: Parameters<typeof HttpTransport.layer>[0] = {}) =>
  HttpTransport.layer({ connectionRetryDelayMillis: 5, ...options })

const failure = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const error = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (error?._tag !== "Fail") throw new Error(`expected a Fail, got ${String(exit.cause)}`)
  return error.error
}

describe("HttpTransport", () => {
  it.live("returns any status without retrying it (statuses belong to the policy layer)", () =>
    Effect.gen(function* () {
      const server = yield* withServer([{ status: 503, body: '{"errors":"down"}' }])
      const http = yield* HttpTransport
      const response = yield* http.request({ method: "GET", url: `${server.url}/x` })
      assert.strictEqual(response.status, 503)
      assert.strictEqual(response.body, '{"errors":"down"}')
      assert.strictEqual(server.seen.length, 1)
    }).pipe(Effect.provide(transport()))
  )

  it.live("requestOk classifies a 4xx/5xx into ApiError with a redacted URL", () =>
    Effect.gen(function* () {
      const server = yield* withServer([{ status: 401, body: '{"errors":"[API] Invalid API key"}' }])
      const http = yield* HttpTransport
      const exit = yield* Effect.exit(
        http.requestOk({
          method: "GET",
          url: `${server.url}/orders.json?access_token=shpat_supersecret123&limit=5`
        })
      )
      const error = failure(exit)
      assert.strictEqual(error.reason._tag, "Unauthorized")
      assert.include(error.reason.url, "access_token=<redacted>")
      assert.include(error.reason.url, "limit=5")
      assert.notInclude(error.message, "supersecret")
      assert.notInclude(JSON.stringify(error), "supersecret")
      assert.isFalse(error.retryable)
    }).pipe(Effect.provide(transport()))
  )

  it.live("retries a connection reset on a GET inside the transport (axios-retry)", () =>
    Effect.gen(function* () {
      const server = yield* withServer([{ destroy: true }, { status: 200, body: '{"ok":true}' }])
      const http = yield* HttpTransport
      const response = yield* http.request({ method: "GET", url: `${server.url}/reset` })
      assert.strictEqual(response.status, 200)
      assert.strictEqual(response.connectionRetries, 1)
      assert.strictEqual(server.seen.length, 2)
    }).pipe(Effect.provide(transport()))
  )

  it.live("never retries a POST after a reset (it may have been applied)", () =>
    Effect.gen(function* () {
      const server = yield* withServer([{ destroy: true }, { status: 200 }])
      const http = yield* HttpTransport
      const error = failure(
        yield* Effect.exit(http.request({ method: "POST", url: `${server.url}/orders`, json: { a: 1 } }))
      )
      assert.strictEqual(error.reason._tag, "Transport")
      if (error.reason._tag === "Transport") {
        assert.isTrue(error.reason.mayHaveReachedServer)
        assert.strictEqual(error.reason.code, "ECONNRESET")
      }
      assert.isFalse(error.retryable)
      assert.strictEqual(server.seen.length, 1)
    }).pipe(Effect.provide(transport()))
  )

  it.live("a transport error never carries request headers (tokens) in its cause", () =>
    Effect.gen(function* () {
      const server = yield* withServer([{ destroy: true }])
      const http = yield* HttpTransport
      const exit = yield* Effect.exit(
        http.request({
          method: "POST",
          url: `${server.url}/graphql`,
          headers: { "X-Shopify-Access-Token": "shpat_leakcheck0001", Authorization: "Bearer leakcheck0002" },
          json: { query: "{ shop { id } }" }
        })
      )
      const error = failure(exit)
      assert.strictEqual(error.reason._tag, "Transport")
      const rendered = [
        JSON.stringify(error),
        String(error),
        Cause.pretty(Exit.isFailure(exit) ? exit.cause : Cause.empty)
      ]
      for (const text of rendered) {
        assert.notInclude(text, "leakcheck0001")
        assert.notInclude(text, "leakcheck0002")
      }
    }).pipe(Effect.provide(transport()))
  )

  it.live("gives up after 3 tries of connection faults", () =>
    Effect.gen(function* () {
      const server = yield* withServer([{ destroy: true }])
      const http = yield* HttpTransport
      const error = failure(
        yield* Effect.exit(http.request({ method: "GET", url: `${server.url}/always-reset` }))
      )
      assert.strictEqual(error.reason._tag, "Transport")
      assert.strictEqual(server.seen.length, 3)
    }).pipe(Effect.provide(transport()))
  )

  it.live("response timeout fails with Timeout(response) after retrying the idempotent request", () =>
    Effect.gen(function* () {
      const server = yield* withServer([{ hang: true }])
      const http = yield* HttpTransport
      const error = failure(yield* Effect.exit(http.request({ method: "GET", url: `${server.url}/slow` })))
      assert.strictEqual(error.reason._tag, "Timeout")
      if (error.reason._tag === "Timeout") {
        assert.strictEqual(error.reason.phase, "response")
        assert.strictEqual(error.reason.timeoutMillis, 150)
      }
      assert.strictEqual(server.seen.length, 3)
    }).pipe(Effect.provide(transport({ responseTimeoutMillis: 150 })))
  )

  it.live("connect timeout fails with Timeout(connect) and counts as never sent", () =>
    Effect.gen(function* () {
      // A DNS lookup that never answers keeps the socket in its connecting phase.
      const instance = axios.create({ proxy: false, lookup: () => undefined })
      const start = Date.now()
      const error = failure(
        yield* Effect.exit(
          Effect.gen(function* () {
            const http = yield* HttpTransport
            return yield* http.request({ method: "GET", url: "http://never-resolves.test/x" })
          }).pipe(
            Effect.provide(
              HttpTransport.layerWithAxios(instance, { connectTimeoutMillis: 100, connectionTries: 1 })
            )
          )
        )
      )
      assert.strictEqual(error.reason._tag, "Timeout")
      if (error.reason._tag === "Timeout") {
        assert.strictEqual(error.reason.phase, "connect")
        assert.strictEqual(error.reason.timeoutMillis, 100)
      }
      assert.isTrue(error.retryable)
      assert.isBelow(Date.now() - start, 5_000)
    })
  )

  it.live("a refused connection is a Transport error that never reached the server", () =>
    Effect.gen(function* () {
      const server = yield* withServer([{ status: 200 }])
      const url = server.url
      yield* Effect.promise(() => server.close())
      const http = yield* HttpTransport
      const error = failure(yield* Effect.exit(http.request({ method: "POST", url: `${url}/x` })))
      assert.strictEqual(error.reason._tag, "Transport")
      if (error.reason._tag === "Transport") {
        assert.strictEqual(error.reason.code, "ECONNREFUSED")
        assert.isFalse(error.reason.mayHaveReachedServer)
      }
      // Safe to repeat even a POST: it never left this machine.
      assert.isTrue(error.retryable)
    }).pipe(Effect.provide(transport()))
  )

  it.live("an unparseable URL is a permanent Transport error naming the URL", () =>
    Effect.gen(function* () {
      const http = yield* HttpTransport
      const error = failure(
        yield* Effect.exit(http.request({ method: "GET", url: "not a url?access_token=abcd1234" }))
      )
      assert.strictEqual(error.reason._tag, "Transport")
      if (error.reason._tag === "Transport") assert.strictEqual(error.reason.code, "ERR_INVALID_URL")
      assert.isFalse(error.retryable)
      assert.notInclude(error.message, "abcd1234")
    }).pipe(Effect.provide(transport()))
  )

  it.live("uses an injected axios instance (its interceptors run)", () =>
    Effect.gen(function* () {
      const server = yield* withServer([{ status: 200, body: "[]" }])
      const instance = axios.create()
      instance.interceptors.request.use((config) => {
        config.headers.set("X-Injected", "yes")
        return config
      })
      const response = yield* Effect.gen(function* () {
        const http = yield* HttpTransport
        return yield* http.request({
          method: "GET",
          url: `${server.url}/i`,
          query: { limit: 5, skip: undefined }
        })
      }).pipe(Effect.provide(HttpTransport.layerWithAxios(instance)))
      assert.strictEqual(response.status, 200)
      assert.strictEqual(server.seen[0]?.headers["x-injected"], "yes")
      assert.strictEqual(server.seen[0]?.url, "/i?limit=5")
    })
  )

  it.live("sends JSON bodies and user agent; records metrics", () =>
    Effect.gen(function* () {
      const registry = new MetricsRegistry()
      const server = yield* withServer([{ status: 201, body: '{"id":1}' }])
      const http = yield* HttpTransport
      yield* http
        .request({ method: "POST", url: `${server.url}/p`, json: { q: "x" } })
        .pipe(Effect.provideService(Telemetry, registry))
      assert.strictEqual(server.seen[0]?.body, '{"q":"x"}')
      assert.strictEqual(server.seen[0]?.headers["content-type"], "application/json")
      assert.strictEqual(server.seen[0]?.headers["user-agent"], "kura-test/1")
      const host = new URL(server.url).host
      assert.strictEqual(registry.counter(MetricNames.requests, { host, method: "POST", status: "2xx" }), 1)
      assert.strictEqual(registry.counter(MetricNames.bytes, { host }), 8)
    }).pipe(Effect.provide(transport({ userAgent: "kura-test/1" })))
  )

  it.live("streams a large body chunk by chunk", () =>
    Effect.gen(function* () {
      const lines = Array.from({ length: 50 }, (_, i) => `{"id":${i}}\n`)
      const server = yield* withServer([{ chunks: lines }])
      const http = yield* HttpTransport
      const response = yield* http.stream({ method: "GET", url: `${server.url}/bulk.jsonl` })
      const text = yield* response.body.pipe(
        Stream.map((chunk) => Buffer.from(chunk).toString("utf8")),
        Stream.runCollect
      )
      assert.strictEqual(text.join(""), lines.join(""))
    }).pipe(Effect.provide(transport()))
  )

  it.live("stopping a stream early releases the connection (no buffering of the rest)", () =>
    Effect.gen(function* () {
      const lines = Array.from({ length: 200 }, (_, i) => `{"id":${i}}\n`)
      const server = yield* withServer([{ chunks: lines, delayMillis: 25 }])
      const http = yield* HttpTransport
      const firstTwo = yield* Effect.scoped(
        Effect.gen(function* () {
          const response = yield* http.stream({ method: "GET", url: `${server.url}/bulk.jsonl` })
          return yield* response.body.pipe(Stream.take(2), Stream.runCollect)
        })
      )
      assert.strictEqual(firstTwo.length, 2)
      // The server counts an abandoned response only if the client went away before the end: a
      // client that buffered the rest would let it finish, and this would stay 0 at any deadline.
      // So the deadline can be generous (it was 3 s, under the server's own 5 s, for a loaded box).
      const until = Date.now() + 20_000
      while (server.abandoned() === 0 && Date.now() < until) yield* Effect.sleep("20 millis")
      assert.strictEqual(server.abandoned(), 1)
    }).pipe(Effect.provide(transport()))
  )

  it.live("a streamed error status fails with the classified error", () =>
    Effect.gen(function* () {
      const server = yield* withServer([{ status: 403, body: '{"errors":"no scope"}' }])
      const http = yield* HttpTransport
      const error = failure(
        yield* Effect.exit(Effect.scoped(http.stream({ method: "GET", url: `${server.url}/bulk` })))
      )
      assert.strictEqual(error.reason._tag, "Forbidden")
      if (error.reason._tag === "Forbidden") assert.include(error.reason.excerpt, "no scope")
    }).pipe(Effect.provide(transport()))
  )

  it.live("decodeJson names the failing field and never retries", () =>
    Effect.gen(function* () {
      const server = yield* withServer([
        { status: 200, body: '{"orders":[{"id":"x"}]}' },
        { status: 200, body: "<html>" }
      ])
      const http = yield* HttpTransport
      const Orders = Schema.Struct({ orders: Schema.Array(Schema.Struct({ id: Schema.Number })) })
      const first = failure(
        yield* Effect.exit(
          http.requestOk({ method: "GET", url: `${server.url}/o` }).pipe(Effect.flatMap(decodeJson(Orders)))
        )
      )
      assert.strictEqual(first.reason._tag, "Decode")
      if (first.reason._tag === "Decode") {
        assert.include(first.reason.issues, "id")
        assert.include(first.reason.excerpt, '"x"')
      }
      assert.isFalse(first.retryable)
      const second = failure(
        yield* Effect.exit(
          http.requestOk({ method: "GET", url: `${server.url}/o` }).pipe(Effect.flatMap(decodeJson(Orders)))
        )
      )
      assert.strictEqual(second.reason._tag, "Decode")
      if (second.reason._tag === "Decode") assert.include(second.reason.issues, "not JSON")
    }).pipe(Effect.provide(transport()))
  )

  it.effect("layerTest answers from a handler and classifies like the real one", () =>
    Effect.gen(function* () {
      const http = yield* HttpTransport
      const ok = yield* http.request({ method: "GET", url: "https://s.test/a", query: { page: 2 } })
      assert.strictEqual(ok.status, 200)
      assert.strictEqual(ok.body, "https://s.test/a?page=2")
      assert.strictEqual(ok.headers["x-upper"], "1")
      const error = failure(
        yield* Effect.exit(http.requestOk({ method: "GET", url: "https://s.test/missing" }))
      )
      assert.strictEqual(error.reason._tag, "NotFound")
    }).pipe(
      Effect.provide(
        HttpTransport.layerTest((req) =>
          Effect.succeed(
            req.url.endsWith("missing")
              ? { status: 404 }
              : { status: 200, headers: { "X-Upper": "1" }, body: `${req.url}?page=${req.query?.page}` }
          )
        )
      )
    )
  )

  it.live("layerConfig reads timeouts from config", () =>
    Effect.gen(function* () {
      const server = yield* withServer([{ hang: true }])
      const http = yield* HttpTransport
      const error = failure(yield* Effect.exit(http.request({ method: "POST", url: `${server.url}/slow` })))
      assert.strictEqual(error.reason._tag, "Timeout")
      if (error.reason._tag === "Timeout") assert.strictEqual(error.reason.timeoutMillis, 120)
    }).pipe(
      Effect.provide(HttpTransport.layerConfig),
      Effect.provideService(
        ConfigProvider.ConfigProvider,
        ConfigProvider.fromEnv({ env: { KURA_HTTP_RESPONSE_TIMEOUT_MS: "120" } })
      )
    )
  )
})
