import { describe, expect, it } from "vitest"
import type { FaultKind } from "../../src/internal/contracts.js"
import { makeFaultInjector } from "../../src/internal/faults/FaultInjector.js"
import { defaultMerchantOptions, makeMerchant } from "../../src/internal/generator/makeMerchant.js"
import { refresh, startEmulator } from "./harness.js"

const ANCHOR = Date.UTC(2026, 10, 26)
const merchant = makeMerchant({ ...defaultMerchantOptions(ANCHOR), orders: 300, historyDays: 30 })

const start = (overrides: Partial<Record<FaultKind, number>>, profile: "none" | "chaos" = "none") => {
  const faults = makeFaultInjector({ profile, seed: 11, overrides })
  return startEmulator(merchant, { faults, options: { rateLimit: null, slowResponseMs: 5 } }).then((em) => ({
    em,
    faults
  }))
}

describe("Lightspeed emulator under faults", () => {
  it("a faulted token response does not consume the refresh token: the retry succeeds", async () => {
    for (const kind of ["truncated_body", "malformed_json", "http_5xx", "connection_reset"] as const) {
      const { em, faults } = await start({ [kind]: 1 })
      try {
        const rt = em.credentials.refreshToken
        const first = await refresh(em, rt)
          .then((r) => r.text())
          .then(
            (t) => {
              try {
                return JSON.parse(t) as unknown
              } catch {
                return "unparseable"
              }
            },
            () => "network error"
          )
        expect(
          first === "unparseable" ||
            first === "network error" ||
            (typeof first === "object" && first !== null && "status" in first)
        ).toBe(true)
        expect(faults.report().lightspeed[kind]).toBe(1)
        faults.setPaused(true)
        const retry = await refresh(em, rt)
        expect(retry.status).toBe(200)
        expect(em.stats().refreshReuseAttempts).toBe(0)
      } finally {
        await em.close()
      }
    }
  })

  it("early_token_expiry answers 401 and kills the token; a refresh recovers", async () => {
    const { em, faults } = await start({ early_token_expiry: 1 })
    try {
      faults.setPaused(true)
      const tokens = (await (await refresh(em, em.credentials.refreshToken)).json()) as {
        access_token: string
        refresh_token: string
      }
      faults.setPaused(false)
      const call = (t: string) =>
        fetch(`${em.baseUrl}/f/data/businesses`, { headers: { authorization: `Bearer ${t}` } })
      expect((await call(tokens.access_token)).status).toBe(401)
      faults.setPaused(true)
      expect((await call(tokens.access_token)).status).toBe(401)
      const next = (await (await refresh(em, tokens.refresh_token)).json()) as { access_token: string }
      expect((await call(next.access_token)).status).toBe(200)
      expect(faults.report().lightspeed.early_token_expiry).toBe(1)
    } finally {
      await em.close()
    }
  })

  it("under chaos, a client that retries and re-authenticates reads exactly the clean data", async () => {
    const clean = await start({})
    const chaos = await start({}, "chaos")
    try {
      const day = merchant.orderAt(Math.floor(merchant.orderCount / 2))?.businessDate ?? ""
      const bl = clean.em.credentials.businessLocationIds[1] ?? ""
      const path = `/f/finance/${bl}/dailyFinancials?date=${day}&include=payments`
      const cleanTokens = (await (await refresh(clean.em, clean.em.credentials.refreshToken)).json()) as {
        access_token: string
      }
      const expected = await (
        await fetch(`${clean.em.baseUrl}${path}`, {
          headers: { authorization: `Bearer ${cleanTokens.access_token}` }
        })
      ).json()

      let rt = chaos.em.credentials.refreshToken
      let at = ""
      const login = async (): Promise<void> => {
        for (let i = 0; i < 50; i++) {
          try {
            const res = await refresh(chaos.em, rt)
            if (res.status !== 200) {
              await res.arrayBuffer()
              continue
            }
            const body = JSON.parse(await res.text()) as { access_token: string; refresh_token: string }
            at = body.access_token
            rt = body.refresh_token
            return
          } catch {
            // reset, truncated or malformed: the refresh token was not consumed, try again
          }
        }
        throw new Error("could not log in")
      }
      await login()
      const results: Array<unknown> = []
      for (let k = 0; k < 5; k++) {
        for (let i = 0; ; i++) {
          if (i > 80) throw new Error("gave up")
          try {
            const res = await fetch(`${chaos.em.baseUrl}${path}`, {
              headers: { authorization: `Bearer ${at}` }
            })
            const text = await res.text()
            if (res.status === 401) {
              await login()
              continue
            }
            if (res.status !== 200) continue
            results.push(JSON.parse(text))
            break
          } catch {
            // retry
          }
        }
      }
      // Same data; only the self link names the other server.
      const withoutLinks = (x: unknown) => ({ ...(x as Record<string, unknown>), _links: undefined })
      for (const r of results) expect(withoutLinks(r)).toEqual(withoutLinks(expected))
      expect(((expected as { sales: Array<unknown> }).sales ?? []).length).toBeGreaterThan(0)
      const injected = Object.values(chaos.faults.report().lightspeed).reduce((a, b) => a + (b ?? 0), 0)
      expect(injected).toBeGreaterThan(0)
      expect(chaos.em.stats().refreshReuseAttempts).toBe(0)
    } finally {
      await clean.em.close()
      await chaos.em.close()
    }
  })
})
