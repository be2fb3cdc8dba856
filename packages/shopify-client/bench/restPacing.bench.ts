/**
 * REST pacing against Shopify's leaky bucket (40 requests burst, 2 per second; the sandbox runs at
 * timeScale 10, so 20 per second), on the same paginated extraction (orders, `limit` small so
 * there are many pages):
 * - Kura's `ShopifyRest.list` (core LeakyBucket, corrected by `X-Shopify-Shop-Api-Call-Limit`),
 * - a naive loop that follows `Link` as fast as it can and sleeps `Retry-After` on 429.
 * Reports requests/s after the burst as a share of the leak rate, and the 429 answers (counted by
 * a proxy in front of the emulator). KURA_BENCH_QUICK=1: 60 requests instead of 400.
 * A measurement, not an assertion.
 */
import { HttpTransport, LeakyBucket, makeLeakyBucket } from "@kura/core"
import { Effect, Layer, Schema, Stream } from "effect"
import { test } from "vitest"
import { ShopifyAuth } from "../src/ShopifyAuth.js"
import { ShopifyRest } from "../src/ShopifyRest.js"
import { startProxy } from "../test/proxy.js"
import { configLayer, type Sandbox, startSandbox } from "../test/sandbox.js"

const QUICK = process.env.KURA_BENCH_QUICK === "1"
const REQUESTS = QUICK ? 60 : 400
const LIMIT = 5
const TIME_SCALE = 10
const BURST = 40
const LEAK = 2 * TIME_SCALE

const Order = Schema.Struct({ id: Schema.Number })

// A quick run is a smoke test: its few requests are dominated by start-up, so it claims no target.
const result = (figure: string, value: number | string, extra: Record<string, unknown> = {}) => {
  const { target: _target, met: _met, ...rest } = extra
  const fields = QUICK
    ? { ...rest, note: `quick smoke run, not a measurement${rest.note ? `; ${String(rest.note)}` : ""}` }
    : extra
  console.log(`KURA_BENCH_RESULT ${JSON.stringify({ figure, value, ...fields })}`)
}

const report = (name: string, requests: number, seconds: number, limited: number) => {
  // The first BURST requests are the full bucket, spent at once: not leak-rate work.
  const steady = Math.max(0, requests - BURST) / seconds
  const perSecond = steady / TIME_SCALE
  console.log(
    `REST ${name.padEnd(22)} requests=${requests} seconds=${seconds.toFixed(2)} steady requests/s=${perSecond.toFixed(2)} of 2.0 (shop time) share=${((100 * steady) / LEAK).toFixed(1)}% 429=${limited}`
  )
  return { perSecond, limited }
}

const withProxy = async <A>(sb: Sandbox, f: (baseUrl: string, limited: () => number) => Promise<A>) => {
  let limited = 0
  const proxy = await startProxy(
    sb.handle.baseUrl,
    () => ({ _tag: "forward" }),
    (status) => {
      if (status === 429) limited++
    }
  )
  try {
    return await f(proxy.baseUrl, () => limited)
  } finally {
    await proxy.close()
  }
}

test("REST pacing: Kura vs a naive Link-following loop", async () => {
  const orders = REQUESTS * LIMIT
  // `sentAt: false` is the session-2 behaviour kept as a same-run baseline: the call-limit reading
  // re-bases the bucket as of the answer's arrival (one round trip late).
  const runKura = async (name: string, sentAt: boolean) => {
    const sb = await startSandbox({ orders, historyDays: 120, timeScale: TIME_SCALE, fresh: true })
    try {
      return await withProxy(sb, async (baseUrl, limited) => {
        const layer = ShopifyRest.layer.pipe(
          Layer.provideMerge(ShopifyAuth.layerStatic(sb.handle.credentials.accessToken)),
          Layer.provideMerge(configLayer(sb, { apiVersion: "2026-01", baseUrl })),
          Layer.provideMerge(HttpTransport.layer()),
          // The client's bucket at the emulator's time scale (Shopify's 40 / 2 per s, ×10).
          Layer.provideMerge(
            Layer.sync(LeakyBucket, () => {
              const b = makeLeakyBucket({ capacity: BURST, leakPerSecond: LEAK })
              return sentAt ? b : LeakyBucket.of({ ...b, observe: (k, h, c) => b.observe(k, h, c) })
            })
          )
        )
        const started = Date.now()
        const pages = await Effect.runPromise(
          Effect.provide(
            Effect.gen(function* () {
              const rest = yield* ShopifyRest
              return yield* Stream.runCount(
                rest
                  .list("orders", "orders", Order, { status: "any", limit: LIMIT })
                  .pipe(Stream.take(REQUESTS))
              )
            }),
            layer
          ).pipe(Effect.orDie)
        )
        return report(name, pages, (Date.now() - started) / 1000, limited())
      })
    } finally {
      await sb.close()
    }
  }
  const before = await runKura("kura, reading on arrival", false)
  const kura = await runKura("kura ShopifyRest", true)

  const naive = await (async () => {
    const sb = await startSandbox({ orders, historyDays: 120, timeScale: TIME_SCALE, fresh: true })
    try {
      return await withProxy(sb, async (baseUrl, limited) => {
        const started = Date.now()
        let url: string | null = `${baseUrl}/admin/api/2026-01/orders.json?status=any&limit=${LIMIT}`
        let pages = 0
        while (url !== null && pages < REQUESTS) {
          const r: Response = await fetch(url, {
            headers: { "x-shopify-access-token": sb.handle.credentials.accessToken }
          })
          if (r.status === 429) {
            await r.arrayBuffer()
            await new Promise((res) => setTimeout(res, Number(r.headers.get("retry-after") ?? "1") * 1000))
            continue
          }
          await r.arrayBuffer()
          pages++
          const next = /<([^>]+)>;\s*rel="next"/.exec(r.headers.get("link") ?? "")?.[1] ?? null
          url = next === null ? null : next.replace(/^https?:\/\/[^/]+/, baseUrl)
        }
        return report("naive loop", pages, (Date.now() - started) / 1000, limited())
      })
    } finally {
      await sb.close()
    }
  })()

  result("Shopify REST pacing (kura): requests/s vs 2.0", Number(kura.perSecond.toFixed(2)), {
    unit: "req/s",
    target: "≈ 2.0, 0 × 429",
    met: kura.limited === 0 && kura.perSecond >= 1.9,
    note: `429s kura ${kura.limited}; same run before the sent-at correction ${before.perSecond.toFixed(2)} req/s with ${before.limited} × 429; naive loop ${naive.perSecond.toFixed(2)} req/s with ${naive.limited} × 429`
  })
})
