/**
 * Steady-state pacing of the QueryCostBucket against a real local server that enforces a
 * Shopify-style cost bucket (reject with THROTTLED when the requested cost exceeds what is
 * available; refund requested − actual). Target: zero THROTTLED while using ≥ 95 % of the restore
 * rate. Reported, not asserted: it is a timing measurement.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { Effect, Schema } from "effect"
import { test } from "vitest"
import { HttpTransport } from "../src/HttpTransport.js"
import { makeQueryCostBucket, QueryCost } from "../src/QueryCostBucket.js"

const MAX = 200
const RATE = 100 // points per second
const REQUESTED = 20
const ACTUAL = 12

const startServer = () =>
  new Promise<{ url: string; close: () => void; stats: { ok: number; throttled: number; points: number } }>(
    (resolve) => {
      let available = MAX
      let at = Date.now()
      const stats = { ok: 0, throttled: 0, points: 0 }
      const server = http.createServer((req, res) => {
        req.resume()
        req.on("end", () => {
          const now = Date.now()
          available = Math.min(MAX, available + ((now - at) / 1000) * RATE)
          at = now
          let body: unknown
          if (available < REQUESTED) {
            stats.throttled++
            body = {
              errors: [{ message: "Throttled", extensions: { code: "THROTTLED" } }],
              extensions: {
                cost: {
                  requestedQueryCost: REQUESTED,
                  actualQueryCost: null,
                  throttleStatus: {
                    maximumAvailable: MAX,
                    currentlyAvailable: Math.floor(available),
                    restoreRate: RATE
                  }
                }
              }
            }
          } else {
            available -= ACTUAL
            stats.ok++
            stats.points += ACTUAL
            body = {
              data: { ok: true },
              extensions: {
                cost: {
                  requestedQueryCost: REQUESTED,
                  actualQueryCost: ACTUAL,
                  throttleStatus: {
                    maximumAvailable: MAX,
                    currentlyAvailable: Math.floor(available),
                    restoreRate: RATE
                  }
                }
              }
            }
          }
          res.writeHead(200, { "content-type": "application/json" })
          res.end(JSON.stringify(body))
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resolve({ url: `http://127.0.0.1:${port}/graphql`, close: () => server.close(), stats })
      })
    }
  )

const Envelope = Schema.Struct({
  extensions: Schema.optional(Schema.Struct({ cost: Schema.optional(QueryCost) }))
})

test("QueryCostBucket steady state: THROTTLED count and restore-rate utilisation", {
  timeout: 60_000
}, async () => {
  const server = await startServer()
  const bucket = makeQueryCostBucket({ maximumAvailable: MAX, restoreRate: RATE })
  const seconds = 6
  const program = Effect.gen(function* () {
    const transport = yield* HttpTransport
    const start = Date.now()
    const worker = Effect.gen(function* () {
      while (Date.now() - start < seconds * 1000) {
        yield* bucket.withCost(
          "shop",
          REQUESTED,
          transport.requestOk({
            method: "POST",
            url: server.url,
            json: { query: "{ ok }" },
            idempotent: true
          }),
          (response) => {
            const parsed = Schema.decodeUnknownOption(Envelope)(JSON.parse(response.body))
            return parsed._tag === "Some" ? (parsed.value.extensions?.cost ?? null) : null
          }
        )
      }
    })
    yield* Effect.all(
      Array.from({ length: 4 }, () => worker),
      { concurrency: "unbounded" }
    )
    return (Date.now() - start) / 1000
  }).pipe(Effect.provide(HttpTransport.layer()))
  const elapsed = await Effect.runPromise(program)
  server.close()
  // Points the server could restore in the run, on top of the full starting bucket.
  const budget = MAX + RATE * elapsed
  const utilisation = server.stats.points / budget
  console.log(
    `THROTTLED=${server.stats.throttled} ok=${server.stats.ok} points=${server.stats.points} ` +
      `budget=${budget.toFixed(0)} utilisation=${(utilisation * 100).toFixed(1)}% over ${elapsed.toFixed(2)} s`
  )
})
