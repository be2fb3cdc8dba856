import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { ApiError, decodeError, fromResponse, isRetryable, throttled } from "../src/ApiError.js"
import { clearRegisteredSecrets, redact, redactHeaders, redactUrl, registerSecret } from "../src/Redaction.js"
import { parseRetryAfter } from "../src/RetryAfter.js"

const get = {
  method: "GET",
  url: "https://shop.test/admin/api/2026-01/orders.json?access_token=abcd1234",
  attempt: 2
}
const post = { ...get, method: "post" }

describe("ApiError.fromResponse", () => {
  it("classifies every status family with request details", () => {
    assert.isNull(fromResponse(get, 200, {}, ""))
    assert.isNull(fromResponse(get, 304, {}, ""))
    const cases: ReadonlyArray<readonly [number, string, boolean]> = [
      [429, "RateLimited", true],
      [401, "Unauthorized", false],
      [403, "Forbidden", false],
      [404, "NotFound", false],
      [410, "NotFound", false],
      [400, "ClientError", false],
      [422, "ClientError", false],
      [408, "ClientError", true],
      [500, "ServerError", true],
      [503, "ServerError", true]
    ]
    for (const [status, tag, retryable] of cases) {
      const error = fromResponse(get, status, {}, '{"errors":"x"}')
      assert.instanceOf(error, ApiError)
      assert.strictEqual(error?.reason._tag, tag, `status ${status}`)
      assert.strictEqual(error?.retryable, retryable, `status ${status}`)
      assert.strictEqual(error?.reason.attempt, 2)
      assert.strictEqual(error?.reason.method, "GET")
      assert.notInclude(error?.reason.url ?? "", "abcd1234")
    }
  })

  it("carries the server's request id into the message", () => {
    const error = fromResponse(get, 500, { "X-Request-Id": "abc-123" }, "")
    assert.strictEqual(error?.reason.requestId, "abc-123")
    assert.include(error?.message ?? "", "request id abc-123")
    assert.isUndefined(fromResponse(get, 500, {}, "")?.reason.requestId)
  })

  it("non-idempotent requests are retryable only when rate limited", () => {
    assert.isFalse(isRetryable(fromResponse(post, 503, {}, "")!))
    assert.isFalse(isRetryable(fromResponse(post, 408, {}, "")!))
    assert.isTrue(isRetryable(fromResponse(post, 429, {}, "")!))
    assert.isTrue(isRetryable(fromResponse({ ...post, idempotent: true }, 503, {}, "")!))
  })

  it("reads Retry-After case-insensitively into milliseconds", () => {
    const error = fromResponse(get, 429, { "retry-after": "2.0" }, "")
    assert.strictEqual(error?.reason._tag === "RateLimited" ? error.reason.retryAfterMillis : -1, 2000)
    const upper = fromResponse(get, 503, { "Retry-After": "3" }, "")
    assert.strictEqual(upper?.reason._tag === "ServerError" ? upper.reason.retryAfterMillis : -1, 3000)
  })

  it("supports catchReason on the reason union", () =>
    Effect.gen(function* () {
      const result = yield* Effect.fail(
        throttled(get, 200, 1500, '{"errors":[{"message":"Throttled"}]}')
      ).pipe(
        Effect.catchReason("ApiError", "RateLimited", (reason) => Effect.succeed(reason.retryAfterMillis))
      )
      assert.strictEqual(result, 1500)
    }).pipe(Effect.runPromise))
})

describe("decodeError", () => {
  it("redacts values quoted in schema issues and in the excerpt", () => {
    const body = '{"access_token":"tok-very-secret-1","expires_in":"soon"}'
    const error = decodeError(
      get,
      'Expected number, got "soon" at ["expires_in"]; access_token=tok-very-secret-1',
      body
    )
    assert.notInclude(JSON.stringify(error), "tok-very-secret-1")
    assert.include(error.message, "expires_in")
  })
})

describe("parseRetryAfter", () => {
  it("reads seconds, decimals and HTTP dates; never milliseconds", () => {
    assert.strictEqual(parseRetryAfter("2", 0), 2000)
    assert.strictEqual(parseRetryAfter("2.0", 0), 2000)
    assert.strictEqual(parseRetryAfter(" 0.25 ", 0), 250)
    assert.strictEqual(parseRetryAfter("0.0001", 0), 1)
    const now = Date.parse("Wed, 21 Oct 2026 07:28:00 GMT")
    assert.strictEqual(parseRetryAfter("Wed, 21 Oct 2026 07:28:30 GMT", now), 30_000)
    assert.strictEqual(parseRetryAfter("Wed, 21 Oct 2026 07:27:00 GMT", now), 0)
    for (const bad of [undefined, null, "", "soon", "-1", "1e3"])
      assert.isNull(parseRetryAfter(bad, now), String(bad))
  })
})

describe("Redaction", () => {
  it("masks common secret shapes", () => {
    const text = [
      "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig",
      "X-Shopify-Access-Token: shpat_0123456789abcdef",
      "GET /x?access_token=tok123&limit=5",
      "Authorization: API KEY=stocky-key-999",
      '{"refresh_token":"rt-secret","ok":1}',
      "https://user:pa55word@host.test/path"
    ].join("\n")
    const out = redact(text)
    for (const secret of ["eyJhbGci", "shpat_0123", "tok123", "stocky-key-999", "rt-secret", "pa55word"]) {
      assert.notInclude(out, secret)
    }
    assert.include(out, "limit=5")
    assert.include(out, '"ok":1')
  })

  it("masks registered values anywhere", () => {
    registerSecret(Redacted.make("very-private-value"))
    assert.strictEqual(redact("token is very-private-value!"), "token is <redacted>!")
    clearRegisteredSecrets()
    assert.strictEqual(redact("very-private-value"), "very-private-value")
  })

  it("redacts URLs and headers", () => {
    assert.strictEqual(
      redactUrl("https://a.test/p?client_secret=s3cr3t&page=2"),
      "https://a.test/p?client_secret=<redacted>&page=2"
    )
    assert.deepStrictEqual(redactHeaders({ Authorization: "Bearer x", "X-Request-Id": "abc" }), {
      Authorization: "<redacted>",
      "X-Request-Id": "abc"
    })
  })
})
