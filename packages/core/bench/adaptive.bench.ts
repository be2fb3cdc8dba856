/**
 * How the AdaptiveLimiter settles against a server with an unpublished limit: a local server
 * allows 5 requests/s (bucket of 5) and answers 429 + Retry-After beyond it. The limiter starts
 * at 10 req/s with a ceiling of 20. Reported: 429s, achieved rate, final rate. Not asserted.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { Effect } from "effect"
import { test } from "vitest"
import { makeAdaptiveLimiter } from "../src/AdaptiveLimiter.js"
import { HttpTransport } from "../src/HttpTransport.js"
import { withRetry } from "../src/RetryPolicy.js"

const LIMIT = 5

test("AdaptiveLimiter against an unpublished 5 req/s limit", { timeout: 60_000 }, async () => {
  let tokens = LIMIT
  let at = Date.now()
  const stats = { ok: 0, limited: 0 }
  const server = http.createServer((req, res) => {
    req.resume()
    const now = Date.now()
    tokens = Math.min(LIMIT, tokens + ((now - at) / 1000) * LIMIT)
    at = now
    if (tokens < 1) {
      stats.limited++
      res.writeHead(429, { "retry-after": "1" })
      res.end("{}")
      return
    }
    tokens -= 1
    stats.ok++
    res.writeHead(200, { "content-type": "application/json" })
    res.end("{}")
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/items`
  const limiter = makeAdaptiveLimiter({ maxRatePerSecond: 20, initialRatePerSecond: 10 })
  const seconds = 10
  const program = Effect.gen(function* () {
    const transport = yield* HttpTransport
    const start = Date.now()
    const worker = Effect.gen(function* () {
      while (Date.now() - start < seconds * 1000) {
        yield* withRetry({ baseDelayMillis: 50 }, (attempt) =>
          limiter.withLimit("account", transport.requestOk({ method: "GET", url, attempt }))
        )
      }
    })
    yield* Effect.all([worker, worker], { concurrency: "unbounded" })
    return (Date.now() - start) / 1000
  }).pipe(Effect.provide(HttpTransport.layer()))
  const elapsed = await Effect.runPromise(program)
  server.close()
  const state = await Effect.runPromise(limiter.state("account"))
  console.log(
    `429s=${stats.limited} ok=${stats.ok} achieved=${(stats.ok / elapsed).toFixed(2)} req/s ` +
      `(server limit ${LIMIT}) finalRate=${state.ratePerSecond.toFixed(2)} over ${elapsed.toFixed(1)} s`
  )
})
