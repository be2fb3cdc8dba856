import { assert, describe, it } from "@effect/vitest"
import { type Duration, Effect, Exit, Fiber, Logger, Schema } from "effect"
import { TestClock } from "effect/testing"
import { callJson } from "../src/ApiCall.js"
import { ApiError, RateLimited, ServerError, Unauthorized } from "../src/ApiError.js"
import { cloudLogger } from "../src/CloudLogger.js"
import { HttpTransport } from "../src/HttpTransport.js"
import { makeLeakyBucket } from "../src/LeakyBucket.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import { failure } from "./support/exit.js"
import { withServer } from "./support/server.js"

const fast: RetryPolicy.RetryPolicyOptions = { baseDelayMillis: 5, maxDelayMillis: 20 }

/** GET through the real transport with the policy; returns the exit, the server's log and retry infos. */
const run = (
  replies: Parameters<typeof withServer>[0],
  options: RetryPolicy.RetryPolicyOptions = {},
  request: { method?: "GET" | "POST"; idempotent?: boolean } = {}
) =>
  Effect.gen(function* () {
    const server = yield* withServer(replies)
    const http = yield* HttpTransport
    const retries: Array<RetryPolicy.RetryInfo> = []
    const throttles: Array<RetryPolicy.RetryInfo> = []
    const exit = yield* Effect.exit(
      RetryPolicy.withRetry(
        {
          ...fast,
          ...options,
          onRetry: (info) => {
            retries.push(info)
            return options.onRetry?.(info)
          },
          onThrottle: (info) => {
            throttles.push(info)
            return options.onThrottle?.(info)
          }
        },
        (attempt) =>
          http.requestOk({
            method: request.method ?? "GET",
            url: `${server.url}/r`,
            attempt,
            idempotent: request.idempotent
          })
      )
    )
    return { exit, seen: server.seen, retries, throttles }
  }).pipe(Effect.provide(HttpTransport.layer({ connectionRetryDelayMillis: 1 })))

describe("RetryPolicy against a real server", () => {
  it.live("429 without Retry-After backs off and succeeds", () =>
    Effect.gen(function* () {
      const { exit, seen, throttles } = yield* run([{ status: 429 }, { status: 200, body: "ok" }])
      assert.isTrue(Exit.isSuccess(exit))
      assert.strictEqual(seen.length, 2)
      assert.strictEqual(throttles.length, 1)
      assert.isNull(throttles[0]?.retryAfterMillis)
      assert.isAtMost(throttles[0]?.delayMillis ?? -1, 5)
    })
  )

  it.live("429 with decimal Retry-After seconds waits that many seconds (never ms)", () =>
    Effect.gen(function* () {
      const start = Date.now()
      const { exit, throttles } = yield* run([
        { status: 429, headers: { "Retry-After": "0.05" } },
        { status: 200 }
      ])
      assert.isTrue(Exit.isSuccess(exit))
      assert.strictEqual(throttles[0]?.delayMillis, 50)
      assert.isAtLeast(Date.now() - start, 50)
    })
  )

  it.live("429 with Retry-After: 2.0 means 2000 ms; onThrottle returning false stops", () =>
    Effect.gen(function* () {
      const { exit, seen, throttles } = yield* run([{ status: 429, headers: { "Retry-After": "2.0" } }], {
        onThrottle: () => false
      })
      const error = failure(exit)
      assert.strictEqual(error.reason._tag, "RateLimited")
      if (error.reason._tag === "RateLimited") assert.strictEqual(error.reason.retryAfterMillis, 2000)
      assert.strictEqual(throttles[0]?.delayMillis, 2000)
      assert.strictEqual(seen.length, 1)
    })
  )

  it.live("429 with an HTTP-date Retry-After waits until that date", () =>
    Effect.gen(function* () {
      const at = new Date(Date.now() + 5_000).toUTCString()
      const { throttles } = yield* run([{ status: 429, headers: { "Retry-After": at } }], {
        onThrottle: () => false
      })
      const delay = throttles[0]?.delayMillis ?? -1
      // Second resolution of HTTP dates plus request time: somewhere in (2 s, 5 s], never ms-scale.
      assert.isAtLeast(delay, 2_000)
      assert.isAtMost(delay, 5_000)
    })
  )

  it.live("503 then 200 is retried", () =>
    Effect.gen(function* () {
      const { exit, seen, retries } = yield* run([{ status: 503 }, { status: 200 }])
      assert.isTrue(Exit.isSuccess(exit))
      assert.strictEqual(seen.length, 2)
      assert.strictEqual(retries[0]?.error.reason._tag, "ServerError")
    })
  )

  it.live("500, 500 then success; errors carry their attempt numbers", () =>
    Effect.gen(function* () {
      const { exit, seen, retries } = yield* run([{ status: 500 }, { status: 500 }, { status: 200 }])
      assert.isTrue(Exit.isSuccess(exit))
      assert.strictEqual(seen.length, 3)
      assert.deepStrictEqual(
        retries.map((r) => r.error.reason.attempt),
        [1, 2]
      )
    })
  )

  it.live("stops at maxAttempts and returns the last error", () =>
    Effect.gen(function* () {
      const { exit, seen } = yield* run([{ status: 500, body: "boom" }], { maxAttempts: 4 })
      const error = failure(exit)
      assert.strictEqual(error.reason._tag, "ServerError")
      assert.strictEqual(error.reason.attempt, 4)
      assert.strictEqual(seen.length, 4)
    })
  )

  it.live("a 429 with Retry-After does not spend the attempt budget; one without it does", () =>
    Effect.gen(function* () {
      // Eight server-paced throttles, then success, with only 3 attempts allowed: the server's
      // waits are pacing, not failures (a shared limit still slowing down must not fail the call).
      const paced = yield* run(
        [
          ...Array.from({ length: 8 }, () => ({ status: 429, headers: { "Retry-After": "0.01" } })),
          { status: 200 }
        ],
        { maxAttempts: 3 }
      )
      assert.isTrue(Exit.isSuccess(paced.exit))
      assert.strictEqual(paced.seen.length, 9)
      // Without a server wait a 429 is an attempt like any other.
      const unpaced = yield* run([{ status: 429 }], { maxAttempts: 3 })
      assert.strictEqual(failure(unpaced.exit).reason._tag, "RateLimited")
      assert.strictEqual(unpaced.seen.length, 3)
      // Other failures still count, around the paced ones.
      const mixed = yield* run(
        [
          { status: 500 },
          { status: 429, headers: { "Retry-After": "0.01" } },
          { status: 500 },
          { status: 500 }
        ],
        { maxAttempts: 3 }
      )
      assert.strictEqual(failure(mixed.exit).reason._tag, "ServerError")
      assert.strictEqual(mixed.seen.length, 4)
    })
  )

  it.live("stops when the next wait would pass maxElapsedMillis", () =>
    Effect.gen(function* () {
      const { exit, seen } = yield* run([{ status: 429, headers: { "Retry-After": "10" } }], {
        maxElapsedMillis: 5_000
      })
      assert.strictEqual(failure(exit).reason._tag, "RateLimited")
      assert.strictEqual(seen.length, 1)
    })
  )

  it.live("401 is never retried", () =>
    Effect.gen(function* () {
      const { exit, seen, retries } = yield* run([{ status: 401 }, { status: 200 }])
      assert.strictEqual(failure(exit).reason._tag, "Unauthorized")
      assert.strictEqual(seen.length, 1)
      assert.strictEqual(retries.length, 0)
    })
  )

  it.live("other 4xx are not retried, 408 is", () =>
    Effect.gen(function* () {
      for (const status of [400, 403, 404, 409, 422]) {
        const { seen } = yield* run([{ status }, { status: 200 }])
        assert.strictEqual(seen.length, 1, `status ${status}`)
      }
      const { exit, seen } = yield* run([{ status: 408 }, { status: 200 }])
      assert.isTrue(Exit.isSuccess(exit))
      assert.strictEqual(seen.length, 2)
    })
  )

  it.live("a POST is not retried on 5xx (it may have been applied) but is on 429", () =>
    Effect.gen(function* () {
      const post = yield* run([{ status: 503 }, { status: 200 }], {}, { method: "POST" })
      assert.strictEqual(failure(post.exit).reason._tag, "ServerError")
      assert.strictEqual(post.seen.length, 1)
      const throttled = yield* run([{ status: 429 }, { status: 200 }], {}, { method: "POST" })
      assert.isTrue(Exit.isSuccess(throttled.exit))
      assert.strictEqual(throttled.seen.length, 2)
      // A read-only POST (GraphQL query) marked idempotent is retried like a GET.
      const query = yield* run([{ status: 502 }, { status: 200 }], {}, { method: "POST", idempotent: true })
      assert.isTrue(Exit.isSuccess(query.exit))
      assert.strictEqual(query.seen.length, 2)
    })
  )

  it.live("a POST whose connection was reset after sending is not retried at any layer", () =>
    Effect.gen(function* () {
      const { exit, seen } = yield* run([{ destroy: true }, { status: 200 }], {}, { method: "POST" })
      assert.strictEqual(failure(exit).reason._tag, "Transport")
      assert.strictEqual(seen.length, 1)
    })
  )

  it.live("a GET reset is retried by the transport, not by the policy (retries never multiply)", () =>
    Effect.gen(function* () {
      const { exit, seen, retries } = yield* run([{ destroy: true }, { status: 200 }])
      assert.isTrue(Exit.isSuccess(exit))
      assert.strictEqual(seen.length, 2)
      assert.strictEqual(retries.length, 0)
    })
  )
})

describe("RetryPolicy schedule timing (TestClock)", () => {
  const fields = { method: "GET", url: "https://x.test/a", idempotent: true }
  const rateLimited = (attempt: number, retryAfterMillis: number | null) =>
    new ApiError({
      reason: new RateLimited({ ...fields, attempt, status: 429, retryAfterMillis, excerpt: "" })
    })
  const serverError = (attempt: number, status: number, requestId?: string) =>
    new ApiError({
      reason: new ServerError({
        ...fields,
        attempt,
        status,
        retryAfterMillis: null,
        excerpt: "",
        ...(requestId === undefined ? {} : { requestId })
      })
    })
  /** Runs a call that always fails with `status` under `options` and returns the delays it chose. */
  const delaysAlwaysFailing = (
    options: RetryPolicy.RetryPolicyOptions,
    status: number,
    run: Duration.Input
  ) =>
    Effect.gen(function* () {
      const delays: Array<number> = []
      const fiber = yield* Effect.forkChild(
        Effect.exit(
          RetryPolicy.withRetry(
            { ...options, onRetry: (info) => void delays.push(info.delayMillis) },
            (attempt) => Effect.fail(serverError(attempt, status))
          )
        )
      )
      yield* TestClock.adjust(run)
      const exit = yield* Fiber.join(fiber)
      return { delays, exit }
    })

  it.effect("waits exactly Retry-After before the next attempt", () =>
    Effect.gen(function* () {
      const attempts: Array<number> = []
      const fiber = yield* Effect.forkChild(
        RetryPolicy.withRetry({}, (attempt) => {
          attempts.push(attempt)
          return attempt === 1 ? Effect.fail(rateLimited(attempt, 2_000)) : Effect.succeed("ok")
        })
      )
      yield* TestClock.adjust("1999 millis")
      assert.deepStrictEqual(attempts, [1])
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(attempts, [1, 2])
      assert.strictEqual(yield* Fiber.join(fiber), "ok")
    })
  )

  it.effect("exponential backoff without jitter doubles up to the cap", () =>
    Effect.gen(function* () {
      const { delays, exit } = yield* delaysAlwaysFailing(
        { baseDelayMillis: 100, maxDelayMillis: 500, maxAttempts: 6, jitter: false },
        500,
        "10 seconds"
      )
      assert.isTrue(Exit.isFailure(exit))
      assert.deepStrictEqual(delays, [100, 200, 400, 500, 500])
    })
  )

  it.effect("full jitter stays within [0, ceiling]", () =>
    Effect.gen(function* () {
      const { delays } = yield* delaysAlwaysFailing(
        { baseDelayMillis: 100, maxDelayMillis: 1_000, maxAttempts: 8 },
        503,
        "1 minute"
      )
      assert.strictEqual(delays.length, 7)
      delays.forEach((d, i) => {
        assert.isAtLeast(d, 0)
        assert.isAtMost(d, Math.min(1_000, 100 * 2 ** i))
      })
    })
  )

  it.effect("logRetry writes a structured warning and lets the retry proceed", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const fiber = yield* Effect.forkChild(
        RetryPolicy.withRetry(
          { onRetry: RetryPolicy.logRetry, jitter: false, baseDelayMillis: 10 },
          (attempt) => (attempt === 1 ? Effect.fail(serverError(attempt, 502, "r-9")) : Effect.succeed("ok"))
        ).pipe(Effect.provide(Logger.layer([cloudLogger({ write: (l) => void lines.push(l) })])))
      )
      yield* TestClock.adjust("10 millis")
      assert.strictEqual(yield* Fiber.join(fiber), "ok")
      const entry = JSON.parse(lines[0] ?? "{}")
      assert.strictEqual(entry.severity, "WARNING")
      assert.strictEqual(entry.reason, "ServerError")
      assert.strictEqual(entry.requestId, "r-9")
      assert.strictEqual(entry.delayMillis, 10)
    })
  )

  it.effect("permanent errors fail immediately", () =>
    Effect.gen(function* () {
      let calls = 0
      const exit = yield* Effect.exit(
        RetryPolicy.withRetry({}, (attempt) => {
          calls++
          return Effect.fail(new ApiError({ reason: new Unauthorized({ ...fields, attempt, excerpt: "" }) }))
        })
      )
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual(calls, 1)
    })
  )
})

describe("ApiCall", () => {
  it.live("callJson retries under a limiter and decodes", () =>
    Effect.gen(function* () {
      const server = yield* withServer([
        { status: 429, headers: { "X-Shopify-Shop-Api-Call-Limit": "40/40", "Retry-After": "0.01" } },
        { status: 200, headers: { "X-Shopify-Shop-Api-Call-Limit": "3/40" }, body: '{"orders":[{"id":1}]}' }
      ])
      const bucket = makeLeakyBucket({ capacity: 40, leakPerSecond: 2 })
      const result = yield* callJson(
        { method: "GET", url: `${server.url}/admin/api/2026-01/orders.json` },
        Schema.Struct({ orders: Schema.Array(Schema.Struct({ id: Schema.Number })) }),
        { retry: { baseDelayMillis: 1 }, limit: (send) => bucket.withBucket("shop", send) }
      )
      assert.deepStrictEqual(result.orders, [{ id: 1 }])
      assert.strictEqual(server.seen.length, 2)
      const state = yield* bucket.state("shop")
      assert.strictEqual(state.capacity, 40)
      assert.strictEqual(state.inFlight, 0)
      assert.isBelow(state.level, 5)
    }).pipe(Effect.provide(HttpTransport.layer()))
  )
})
