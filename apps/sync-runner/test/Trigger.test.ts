import { incrementCounter, MetricNames } from "@kura/core"
import { DuckDbWarehouse, Warehouse, WarehouseError } from "@kura/warehouse"
import { Effect, Layer, Option, Redacted } from "effect"
import { OAuth2Client } from "google-auth-library"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { TriggerAuth } from "../src/TriggerAuth.js"
import {
  eventually,
  finishedRuns,
  gatedStream,
  listen,
  makeIdTokenSigner,
  slowStream,
  withServer
} from "./support.js"

const AUDIENCE = "https://kura-sync-abc123-an.a.run.app"
const SECRET = "trigger-secret-0123456789abcdef"
const SCHEDULER = "scheduler@kura-prod.iam.gserviceaccount.com"
const signer = makeIdTokenSigner()
let certs: Awaited<ReturnType<typeof listen>>
let client: OAuth2Client

beforeAll(async () => {
  certs = await listen((_req, res) => {
    res.writeHead(200, { "content-type": "application/json", "cache-control": "public, max-age=3600" })
    res.end(JSON.stringify({ [signer.kid]: signer.publicPem }))
  })
  client = new OAuth2Client({
    endpoints: { oauth2FederatedSignonPemCertsUrl: `${certs.url}/oauth2/v1/certs` }
  })
})
afterAll(() => certs.close())

const now = () => Math.floor(Date.now() / 1000)
const token = (claims: Record<string, unknown> = {}) =>
  signer.sign({
    iss: "https://accounts.google.com",
    aud: AUDIENCE,
    sub: "1234567890",
    email: "scheduler@kura-prod.iam.gserviceaccount.com",
    email_verified: true,
    iat: now() - 10,
    exp: now() + 3500,
    ...claims
  })

const authorize = (header: string | undefined, secret?: string) =>
  Effect.runPromise(
    Effect.flatMap(
      TriggerAuth.make({
        secret: secret === undefined ? Option.none() : Option.some(Redacted.make(secret)),
        audience: Option.some(AUDIENCE),
        allowedEmails: [SCHEDULER],
        client
      }),
      (auth) => auth.authorize(header)
    )
  )

describe("TriggerAuth", () => {
  it("accepts a Google-signed OIDC token for our audience", async () => {
    const outcome = await authorize(`Bearer ${token()}`)
    expect(outcome).toEqual({ _tag: "Accepted", principal: "scheduler@kura-prod.iam.gserviceaccount.com" })
  })

  it("refuses a token for another audience", async () => {
    const outcome = await authorize(`Bearer ${token({ aud: "https://someone-else.a.run.app" })}`)
    expect(outcome._tag).toBe("Refused")
    expect(outcome._tag === "Refused" && outcome.reason).toMatch(/Wrong recipient/)
  })

  it("refuses an expired token", async () => {
    const outcome = await authorize(`Bearer ${token({ iat: now() - 7200, exp: now() - 3600 })}`)
    expect(outcome._tag).toBe("Refused")
    expect(outcome._tag === "Refused" && outcome.reason).toMatch(/too late/)
  })

  it("refuses a token signed by another key and a non-Google issuer", async () => {
    const forged = makeIdTokenSigner().sign({
      iss: "https://accounts.google.com",
      aud: AUDIENCE,
      iat: now(),
      exp: now() + 60
    })
    expect((await authorize(`Bearer ${forged}`))._tag).toBe("Refused")
    expect((await authorize(`Bearer ${token({ iss: "https://evil.example" })}`))._tag).toBe("Refused")
  })

  it("refuses a valid Google token of a principal that is not an allowed invoker", async () => {
    const stranger = await authorize(
      `Bearer ${token({ email: "someone@other-project.iam.gserviceaccount.com" })}`
    )
    expect(stranger).toEqual({
      _tag: "Refused",
      reason: "OIDC token of someone@other-project.iam.gserviceaccount.com is not an allowed invoker"
    })
    expect((await authorize(`Bearer ${token({ email_verified: false })}`))._tag).toBe("Refused")
  })

  it("refuses a missing header and accepts the shared secret", async () => {
    expect((await authorize(undefined))._tag).toBe("Refused")
    expect(await authorize(`Bearer ${SECRET}`, SECRET)).toEqual({
      _tag: "Accepted",
      principal: "shared-secret"
    })
    expect((await authorize(`Bearer ${SECRET}x`, SECRET))._tag).toBe("Refused")
  })
})

describe("POST /sync[/:source[/:stream]]", () => {
  it("answers 202 with the bearer secret, 409 while the lease is held, 202 again after", () => {
    // Gated, not timed: a 400 ms run once ended between two requests on a loaded box.
    const stream = gatedStream("orders")
    return withServer({ streams: [stream], triggerSecret: SECRET }, async ({ url }) => {
      const auth = { authorization: `Bearer ${SECRET}` }
      const first = await fetch(`${url}/sync/demo/orders`, { method: "POST", headers: auth })
      expect(first.status).toBe(202)
      expect(await first.json()).toMatchObject({
        ok: true,
        runs: [{ stream: "demo/test/orders", outcome: "Started" }]
      })
      const second = await fetch(`${url}/sync/demo/orders`, { method: "POST", headers: auth })
      expect(second.status).toBe(409)
      expect(await second.json()).toMatchObject({ runs: [{ outcome: "Busy" }] })
      stream.release()
      await eventually(() => finishedRuns(url, "orders").then((n) => n === 1))
      // The lease is freed just after the run is counted: busy until then, never a second run.
      let third: Response | undefined
      await eventually(async () => {
        third = await fetch(`${url}/sync/demo`, { method: "POST", headers: auth })
        return third.status !== 409
      })
      expect(third?.status).toBe(202)
      await eventually(() => stream.finished === 2)
      // At most once at a time: two runs started, never overlapping.
      expect(stream.runs).toBe(2)
    })
  })

  it("runs a stream at most once under a burst of concurrent triggers", () => {
    const stream = gatedStream("orders")
    return withServer({ streams: [stream], triggerSecret: SECRET }, async ({ url }) => {
      const answers = await Promise.all(
        Array.from({ length: 10 }, () =>
          fetch(`${url}/sync/demo/orders`, { method: "POST", headers: { authorization: `Bearer ${SECRET}` } })
        )
      )
      const codes = answers.map((a) => a.status).toSorted()
      expect(codes).toEqual([202, 409, 409, 409, 409, 409, 409, 409, 409, 409])
      stream.release()
      await eventually(() => stream.finished === 1)
      expect(stream.runs).toBe(1)
    })
  })

  it("POST /sync starts every configured stream of every source, in one pass", () => {
    const orders = gatedStream("orders")
    const items = gatedStream("items", 7, "stocky")
    const gated = [orders, items]
    return withServer({ streams: gated, triggerSecret: SECRET }, async ({ url }) => {
      const auth = { authorization: `Bearer ${SECRET}` }
      const all = await fetch(`${url}/sync`, { method: "POST", headers: auth })
      expect(all.status).toBe(202)
      const body = (await all.json()) as { runs: ReadonlyArray<{ stream: string; outcome: string }> }
      expect(body.runs.map((r) => `${r.stream} ${r.outcome}`).toSorted()).toEqual([
        "demo/test/orders Started",
        "stocky/test/items Started"
      ])
      // Both leases are held by that one pass: a per-source trigger now finds each stream busy.
      expect((await fetch(`${url}/sync/stocky`, { method: "POST", headers: auth })).status).toBe(409)
      expect((await fetch(`${url}/sync`, { method: "POST", headers: auth })).status).toBe(409)
      for (const s of gated) s.release()
      await eventually(() => gated.every((s) => s.finished === 1))
      expect(gated.map((s) => s.runs)).toEqual([1, 1])
    })
  })

  it("accepts an OIDC token and refuses a wrong secret, a wrong audience and no credentials", () =>
    withServer(
      {
        streams: [slowStream("orders", 10)],
        triggerSecret: SECRET,
        audience: AUDIENCE,
        allowedEmails: [SCHEDULER],
        oauthClient: client
      },
      async ({ url }) => {
        const call = (authorization?: string) =>
          fetch(`${url}/sync/demo/orders`, {
            method: "POST",
            headers: authorization === undefined ? {} : { authorization }
          }).then((r) => r.status)
        expect(await call(`Bearer ${token()}`)).toBe(202)
        expect(await call("Bearer not-the-secret-at-all")).toBe(401)
        expect(await call(`Bearer ${token({ aud: "https://other" })}`)).toBe(401)
        expect(await call()).toBe(401)
      }
    ))

  it("answers 404 for an unknown stream and 405 for GET", () =>
    withServer({ streams: [slowStream("orders", 10)], triggerSecret: SECRET }, async ({ url }) => {
      const auth = { authorization: `Bearer ${SECRET}` }
      expect((await fetch(`${url}/sync/demo/nope`, { method: "POST", headers: auth })).status).toBe(404)
      expect((await fetch(`${url}/sync/shopify`, { method: "POST", headers: auth })).status).toBe(404)
      expect((await fetch(`${url}/sync?account=nobody`, { method: "POST", headers: auth })).status).toBe(404)
      expect((await fetch(`${url}/sync/demo/orders`, { headers: auth })).status).toBe(405)
    }))

  it("protects the status page, status.json and metrics when asked to (public Cloud Run URL)", () =>
    withServer(
      { streams: [slowStream("orders", 10)], triggerSecret: SECRET, protectStatus: true },
      async ({ url }) => {
        for (const path of ["/", "/status.json", "/metrics"]) {
          expect((await fetch(`${url}${path}`)).status).toBe(401)
          expect(
            (await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${SECRET}` } })).status
          ).toBe(200)
        }
        // Probes stay open: Cloud Run and load balancers call them without credentials.
        expect((await fetch(`${url}/healthz`)).status).toBe(200)
        expect((await fetch(`${url}/readyz`)).status).toBe(200)
      }
    ))

  it("serves /healthz, /readyz and Prometheus /metrics", () =>
    withServer({ streams: [slowStream("orders", 10, 42)], triggerSecret: SECRET }, async ({ url }) => {
      expect((await fetch(`${url}/healthz`)).status).toBe(200)
      expect((await fetch(`${url}/readyz`)).status).toBe(200)
      const empty = (await (await fetch(`${url}/status.json`)).json()) as { streams: unknown }
      expect(empty.streams).toEqual([
        expect.objectContaining({ stream: "demo/test/orders", lastStatus: null, cursor: null })
      ])
      await fetch(`${url}/sync/demo/orders`, {
        method: "POST",
        headers: { authorization: `Bearer ${SECRET}` }
      })
      await eventually(() => finishedRuns(url, "orders").then((n) => n === 1))
      const metrics = await fetch(`${url}/metrics`)
      expect(metrics.headers.get("content-type")).toMatch(/^text\/plain; version=0.0.4/)
      const text = await metrics.text()
      expect(text).toContain("# TYPE kura_sync_rows_total counter")
      expect(text).toContain('kura_sync_rows_total{source="demo",account="test",stream="orders"} 42')
      expect(text).toContain(
        'kura_sync_runs_total{source="demo",account="test",stream="orders",status="succeeded"} 1'
      )
      expect(text).toMatch(/kura_sync_lag_seconds\{source="demo",account="test",stream="orders"\} \d/)
      // The event loop's own delay (what a webhook answer waits before its handler runs).
      const loop = /kura_event_loop_delay_seconds\{quantile="0.99"\} ([\d.e-]+)/.exec(text)
      expect(Number(loop?.[1])).toBeGreaterThan(0)
      expect(Number(loop?.[1])).toBeLessThan(10)
      expect(text).toMatch(/kura_event_loop_delay_seconds\{quantile="1"\} [\d.e-]+/)
      // The process's memory as the scrape found it: resident above the V8 heap in use.
      const gauge = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, "m").exec(text)?.[1])
      expect(text).toContain("# TYPE process_resident_memory_bytes gauge")
      expect(gauge("process_resident_memory_bytes")).toBeGreaterThan(gauge("nodejs_heap_size_used_bytes"))
      expect(gauge("nodejs_heap_size_used_bytes")).toBeGreaterThan(0)
      expect(gauge("nodejs_external_memory_bytes")).toBeGreaterThan(0)
      // No warehouse in this service: no engine memory to report.
      expect(text).not.toContain("kura_warehouse_engine_memory_bytes")
      // Metrics the clients record in @kura/core's registry are served in the same scrape.
      Effect.runSync(incrementCounter(MetricNames.throttled, { host: "kura-matcha.myshopify.com" }, 3))
      const again = await (await fetch(`${url}/metrics`)).text()
      expect(again).toContain('kura_throttled_total{host="kura-matcha.myshopify.com"} 3')
    }))
  it("reports the warehouse engine's own memory by tag on /metrics", () =>
    withServer(
      { streams: [slowStream("orders", 10)], triggerSecret: SECRET, warehouse: true },
      async ({ url }) => {
        const text = await (await fetch(`${url}/metrics`)).text()
        expect(text).toContain("# TYPE kura_warehouse_engine_memory_bytes gauge")
        const byTag = (name: string) =>
          new Map(
            [...text.matchAll(new RegExp(`^${name}\\{tag="([A-Z_]+)"\\} ([\\d.e+]+)$`, "gm"))].map((m) => [
              m[1],
              Number(m[2])
            ])
          )
        const memory = byTag("kura_warehouse_engine_memory_bytes")
        // The migrated tables and views live in DuckDB's memory (":memory:" database).
        expect(memory.get("BASE_TABLE")).toBeGreaterThan(0)
        expect(byTag("kura_warehouse_engine_temporary_bytes").size).toBe(memory.size)
        // Below the whole process's resident memory, of which it is a part.
        const rss = Number(/^process_resident_memory_bytes (\d+)$/m.exec(text)?.[1])
        expect([...memory.values()].reduce((a, b) => a + b, 0)).toBeLessThan(rss)
      }
    ))
  it("a failed read of the engine's memory leaves its gauges out of that scrape, not the scrape", async () => {
    let failing = true
    const flaky = Layer.effect(
      Warehouse,
      Effect.map(Effect.service(Warehouse), (w) =>
        Warehouse.of({
          ...w,
          engineMemory: Effect.suspend(() =>
            failing
              ? Effect.fail(new WarehouseError({ reason: "Query", operation: "memory", message: "closing" }))
              : w.engineMemory
          )
        })
      )
    ).pipe(Layer.provide(DuckDbWarehouse.layerMemory))
    await withServer(
      { streams: [slowStream("orders", 10)], triggerSecret: SECRET, warehouse: flaky },
      async ({ url }) => {
        for (let i = 0; i < 2; i++) {
          const res = await fetch(`${url}/metrics`)
          expect(res.status).toBe(200)
          const text = await res.text()
          expect(text).toContain("process_resident_memory_bytes")
          expect(text).not.toContain("kura_warehouse_engine_memory_bytes{")
        }
        failing = false
        expect(await (await fetch(`${url}/metrics`)).text()).toMatch(
          /^kura_warehouse_engine_memory_bytes\{tag="BASE_TABLE"\} /m
        )
      }
    )
  })
})
