import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeClock } from "../../src/internal/clock.js"
import type { FaultKind } from "../../src/internal/contracts.js"
import { pickBodyFault, preResponseFaults, sendJson } from "../../src/internal/faults/applyFault.js"
import { FAULT_KINDS, makeFaultInjector } from "../../src/internal/faults/FaultInjector.js"

const sequence = (seed: number, n: number) => {
  const f = makeFaultInjector({ profile: "chaos", seed })
  const out: Array<string> = []
  for (let i = 0; i < n; i++) {
    for (const kind of FAULT_KINDS)
      if (f.decide(i % 2 === 0 ? "shopify" : "lightspeed", kind)) out.push(`${i}:${kind}`)
  }
  return { out, report: f.report() }
}

describe("FaultInjector", () => {
  it("same seed gives the same fault sequence; another seed differs", () => {
    const a = sequence(1, 400)
    const b = sequence(1, 400)
    const c = sequence(2, 400)
    expect(a.out.length).toBeGreaterThan(20)
    expect(a.out).toEqual(b.out)
    expect(a.report).toEqual(b.report)
    expect(c.out).not.toEqual(a.out)
  })

  it("counts every injected fault per API and kind", () => {
    const f = makeFaultInjector({ profile: "flaky", seed: 9, overrides: { http_5xx: 1, http_429: 0 } })
    let hits = 0
    for (let i = 0; i < 50; i++) if (f.decide("stocky", "http_5xx")) hits++
    for (let i = 0; i < 50; i++) f.decide("stocky", "http_429")
    for (let i = 0; i < 1000; i++) f.decide("lightspeed", "throttled")
    const r = f.report()
    expect(hits).toBe(50)
    expect(r.stocky.http_5xx).toBe(50)
    expect(r.stocky.http_429).toBeUndefined()
    const throttled = r.lightspeed.throttled ?? 0
    expect(throttled).toBeGreaterThan(10) // flaky: 3%
    expect(throttled).toBeLessThan(60)
    expect(r.shopify).toEqual({})
  })

  it("profile none never injects and unknown profiles are rejected with a clear message", () => {
    const f = makeFaultInjector({ profile: "none", seed: 1 })
    for (let i = 0; i < 1000; i++)
      for (const k of FAULT_KINDS) expect(f.decide("shopify", k as FaultKind)).toBe(false)
    expect(() => makeFaultInjector({ profile: "wild" as "none", seed: 1 })).toThrow(/none, flaky, chaos/)
    expect(() => makeClock(0)).toThrow(/timeScale/)
    expect(makeClock(10).scale(3_600_000)).toBe(360_000)
  })
})

describe("applyFault helpers on a real node:http server", () => {
  let server: Server
  let base = ""
  let mode: "reset" | "truncated" | "malformed" | "ok" = "ok"
  beforeAll(async () => {
    server = createServer(async (_req, res) => {
      const faults = makeFaultInjector({
        profile: "none",
        seed: 1,
        overrides: {
          connection_reset: mode === "reset" ? 1 : 0,
          truncated_body: mode === "truncated" ? 1 : 0,
          malformed_json: mode === "malformed" ? 1 : 0
        }
      })
      if (await preResponseFaults(faults, "stocky", res)) return
      sendJson(
        res,
        200,
        { items: Array.from({ length: 50 }, (_, i) => ({ id: i, name: `item ${i}` })) },
        {},
        pickBodyFault(faults, "stocky")
      )
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

  it("serves clean JSON without faults", async () => {
    mode = "ok"
    const body = (await (await fetch(base)).json()) as { items: Array<unknown> }
    expect(body.items).toHaveLength(50)
  })
  it("connection_reset drops the socket", async () => {
    mode = "reset"
    await expect(fetch(base)).rejects.toThrow()
  })
  it("truncated_body ends the stream early", async () => {
    mode = "truncated"
    await expect(fetch(base).then((r) => r.text())).rejects.toThrow()
  })
  it("malformed_json returns a framed response whose JSON does not parse", async () => {
    mode = "malformed"
    const res = await fetch(base)
    expect(res.status).toBe(200)
    const text = await res.text()
    expect(() => JSON.parse(text)).toThrow()
  })
})
