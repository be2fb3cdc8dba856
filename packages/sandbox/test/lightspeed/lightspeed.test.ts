import * as oidc from "openid-client"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeClock } from "../../src/internal/clock.js"
import { businessDate } from "../../src/internal/generator/calendar.js"
import {
  defaultMerchantOptions,
  makeMerchant,
  todayUtcMidnight
} from "../../src/internal/generator/makeMerchant.js"
import type { LightspeedEmulatorHandle } from "../../src/internal/lightspeed/startLightspeedEmulator.js"
import type { Merchant } from "../../src/internal/Merchant.js"
import { accessToken, refresh as refreshGrant, startEmulator, tokenRequest } from "./harness.js"

const DAY = 86_400_000
const ANCHOR = todayUtcMidnight()

interface Sale {
  accountFiscId: string
  type: string
  timeofCloseAndPaid?: string
  timeClosed?: string
  salesLines: Array<{
    totalNetAmountWithTax: string
    taxLines: Array<{ taxRate: string; taxAmount: string }>
    quantity: string
    sku: string
  }>
  payments: Array<{ netAmountWithTax: string; code: string }>
}

describe("Lightspeed K-Series emulator", () => {
  let merchant: Merchant
  let ls: LightspeedEmulatorHandle
  let token = ""
  const bl = () => ls.credentials.businessLocationIds[0] ?? ""
  const cafe = () => ls.credentials.businessLocationIds[1] ?? ""
  const get = async (path: string, t = token) => {
    const res = await fetch(`${ls.baseUrl}${path}`, { headers: { authorization: `Bearer ${t}` } })
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> }
  }

  beforeAll(async () => {
    merchant = makeMerchant({
      ...defaultMerchantOptions(ANCHOR),
      orders: 600,
      historyDays: 60,
      malformedPerSource: 1
    })
    ls = await startEmulator(merchant)
    const res = await tokenRequest(ls, {
      grant_type: "refresh_token",
      refresh_token: ls.credentials.refreshToken
    })
    const body = (await res.json()) as { access_token: string; refresh_token: string; expires_in: number }
    expect(res.status).toBe(200)
    expect(body.expires_in).toBe(3600)
    token = body.access_token
  })
  afterAll(() => ls.close())

  describe("OAuth", () => {
    it("rotates refresh tokens; reusing one gives invalid_grant and is counted", async () => {
      const rt = ls.issueRefreshToken()
      const refresh = (t: string) => refreshGrant(ls, t)
      const first = await refresh(rt)
      const tokens = (await first.json()) as { refresh_token: string }
      expect(first.status).toBe(200)
      expect(tokens.refresh_token).not.toBe(rt)
      const before = ls.stats().refreshReuseAttempts ?? 0
      const reuse = await refresh(rt)
      expect(reuse.status).toBe(400)
      expect(await reuse.json()).toMatchObject({ error: "invalid_grant" })
      expect(ls.stats().refreshReuseAttempts).toBe(before + 1)
      expect((await refresh(tokens.refresh_token)).status).toBe(200)
      // Wrong secret: the client, not the grant, is rejected.
      const bad = await tokenRequest(
        ls,
        { grant_type: "refresh_token", refresh_token: tokens.refresh_token },
        "nope"
      )
      expect(bad.status).toBe(401)
    })

    it("openid-client refreshTokenGrant works against V1 (Basic, form-urlencoded id) and V2 (body)", async () => {
      const v1 = new oidc.Configuration(
        { issuer: ls.baseUrl, token_endpoint: ls.credentials.tokenUrl },
        ls.credentials.clientId,
        { client_secret: ls.credentials.clientSecret },
        oidc.ClientSecretBasic(ls.credentials.clientSecret)
      )
      oidc.allowInsecureRequests(v1)
      const rt = ls.issueRefreshToken("v1")
      const t1 = await oidc.refreshTokenGrant(v1, rt)
      expect(t1.access_token.length).toBeGreaterThan(20)
      expect(t1.expiresIn()).toBeGreaterThan(3500)
      expect((await get("/f/data/businesses", t1.access_token)).status).toBe(200)
      const reuse = await oidc.refreshTokenGrant(v1, rt).then(
        () => "accepted",
        (e: unknown) => (e instanceof oidc.ResponseBodyError ? e.error : String(e))
      )
      expect(reuse).toBe("invalid_grant")

      const v2 = new oidc.Configuration(
        { issuer: `${ls.baseUrl}/realms/k-series`, token_endpoint: ls.credentials.v2TokenUrl },
        ls.credentials.v2ClientId,
        { client_secret: ls.credentials.v2ClientSecret },
        oidc.ClientSecretPost(ls.credentials.v2ClientSecret)
      )
      oidc.allowInsecureRequests(v2)
      const t2 = await oidc.refreshTokenGrant(v2, ls.issueRefreshToken("v2"))
      expect(t2.refresh_token).toBeDefined()
      expect(t2.refresh_expires_in).toBe(0)
      const t3 = await oidc.refreshTokenGrant(v2, t2.refresh_token ?? "")
      expect(t3.access_token).not.toBe(t2.access_token)
    })

    it("access tokens expire after 60 scaled minutes; a V1 refresh token idles out after 14 scaled days", async () => {
      let now = Date.now()
      const clock = makeClock(60, () => now)
      const em = await startEmulator(merchant, { clock })
      try {
        const res = await tokenRequest(em, {
          grant_type: "refresh_token",
          refresh_token: em.credentials.refreshToken
        })
        const body = (await res.json()) as { access_token: string; refresh_token: string; expires_in: number }
        expect(body.expires_in).toBe(60) // 3600 s at timeScale 60
        const call = () =>
          fetch(`${em.baseUrl}/f/data/businesses`, {
            headers: { authorization: `Bearer ${body.access_token}` }
          })
        expect((await call()).status).toBe(200)
        now += 61_000
        expect((await call()).status).toBe(401)
        now += (14 * DAY) / 60
        const late = await tokenRequest(em, {
          grant_type: "refresh_token",
          refresh_token: body.refresh_token
        })
        expect(late.status).toBe(400)
      } finally {
        await em.close()
      }
    })

    it("rejects API calls without a valid bearer token", async () => {
      expect((await get("/f/data/businesses", "forged")).status).toBe(401)
    })
  })

  describe("data", () => {
    it("lists businesses with blID, timezone and currency", async () => {
      const { body } = await get("/f/data/businesses?page=0&size=1000")
      const list = (
        body._embedded as {
          businessList: Array<{
            currencyCode: string
            businessLocations: Array<{ blID: number; timezone: string }>
          }>
        }
      ).businessList
      expect(list[0]?.currencyCode).toBe("JPY")
      expect(list[0]?.businessLocations.map((l) => String(l.blID))).toEqual(
        ls.credentials.businessLocationIds
      )
      expect(list[0]?.businessLocations[0]?.timezone).toBe("Asia/Tokyo")
    })

    it("V1 range: follows _links.nextPage to the same set as one big page, each record once", async () => {
      const from = new Date(ANCHOR - 30 * DAY).toISOString()
      const to = new Date(ANCHOR).toISOString()
      const paged: Array<string> = []
      let next: string | undefined =
        `${ls.baseUrl}/f/finance/${bl()}/financials/${encodeURIComponent(from)}/${encodeURIComponent(to)}?pageSize=7`
      let pages = 0
      while (next !== undefined) {
        const res = await fetch(next, { headers: { authorization: `Bearer ${token}` } })
        const body = (await res.json()) as { sales: Array<Sale>; _links: { nextPage?: { href: string } } }
        expect(body.sales.length).toBeLessThanOrEqual(7)
        paged.push(...body.sales.map((s) => s.accountFiscId))
        next = body._links.nextPage?.href
        pages++
      }
      // A page token used without the server's continuation cache (a fresh emulator) gives the same page.
      const first = (await get(`/f/finance/${bl()}/financials/${from}/${to}?pageSize=7`)).body as {
        _links: { nextPage?: { href: string } }
      }
      const secondUrl = new URL(first._links.nextPage?.href ?? "")
      const warm = (await get(`${secondUrl.pathname}${secondUrl.search}`)).body.sales as Array<Sale>
      const fresh = await startEmulator(merchant)
      try {
        const tr = await tokenRequest(fresh, {
          grant_type: "refresh_token",
          refresh_token: fresh.credentials.refreshToken
        })
        const ft = ((await tr.json()) as { access_token: string }).access_token
        const cold = (await (
          await fetch(`${fresh.baseUrl}${secondUrl.pathname}${secondUrl.search}`, {
            headers: { authorization: `Bearer ${ft}` }
          })
        ).json()) as { sales: Array<Sale> }
        expect(cold.sales.map((s) => s.accountFiscId)).toEqual(warm.map((s) => s.accountFiscId))
        expect(warm.length).toBe(7)
      } finally {
        await fresh.close()
      }
      const all = (await get(`/f/finance/${bl()}/financials/${from}/${to}?pageSize=1000`)).body
        .sales as Array<Sale>
      expect(pages).toBeGreaterThan(3)
      expect(new Set(paged).size).toBe(paged.length)
      expect([...paged].sort()).toEqual(all.map((s) => s.accountFiscId).sort())
      // Independent count: POS sales at the shop in the window plus their till refunds in it.
      const loc = merchant.locations.find((l) => l.lightspeedBlId === bl())
      let expected = 0
      for (let i = 0; i < merchant.orderCount; i++) {
        const o = merchant.orderAt(i)
        if (o?.channel !== "pos" || o.locationId !== loc?.id) continue
        if (o.createdAt >= Date.parse(from) && o.createdAt < Date.parse(to)) expected++
        for (const r of o.refunds)
          if (r.createdAt >= Date.parse(from) && r.createdAt < Date.parse(to)) expected++
      }
      expect(all.length).toBe(expected)
    })

    it("can answer with the legacy api.ikentoo.com host in _links, as production does", async () => {
      const em = await startEmulator(merchant, {
        options: { rateLimit: null, linksBaseUrl: "https://api.ikentoo.com" }
      })
      try {
        const tr = await tokenRequest(em, {
          grant_type: "refresh_token",
          refresh_token: em.credentials.refreshToken
        })
        const at = ((await tr.json()) as { access_token: string }).access_token
        const from = new Date(ANCHOR - 10 * DAY).toISOString()
        const res = await fetch(
          `${em.baseUrl}/f/finance/${bl()}/financials/${from}/${new Date(ANCHOR).toISOString()}?pageSize=2`,
          { headers: { authorization: `Bearer ${at}` } }
        )
        const body = (await res.json()) as { _links: { self: { href: string }; nextPage?: { href: string } } }
        expect(body._links.self.href.startsWith("https://api.ikentoo.com/f/finance/")).toBe(true)
        const next = new URL(body._links.nextPage?.href ?? "")
        expect(next.host).toBe("api.ikentoo.com")
        // Rebased onto the sandbox, the link works.
        expect(
          (
            await fetch(`${em.baseUrl}${next.pathname}${next.search}`, {
              headers: { authorization: `Bearer ${at}` }
            })
          ).status
        ).toBe(200)
      } finally {
        await em.close()
      }
    })

    it("V2 range: nextPageToken paging, sorted by timeClosed, pageSize capped at 100", async () => {
      const from = new Date(ANCHOR - 20 * DAY).toISOString()
      const to = new Date(ANCHOR).toISOString()
      const seen: Array<Sale> = []
      let tok: string | undefined
      do {
        const qs = new URLSearchParams({ from, to, pageSize: "5" })
        if (tok !== undefined) qs.set("nextPageToken", tok)
        const { body } = await get(`/f/v2/business-location/${cafe()}/sales?${qs}`)
        const sales = body.sales as Array<Sale>
        expect(sales.length).toBeLessThanOrEqual(5)
        seen.push(...sales)
        tok = body.nextPageToken as string | undefined
      } while (tok !== undefined)
      expect(seen.length).toBeGreaterThan(10)
      const times = seen.map((s) => Date.parse(s.timeClosed ?? ""))
      expect([...times].sort((a, b) => a - b)).toEqual(times)
      expect(seen[0]?.timeofCloseAndPaid).toBeUndefined()
      expect(new Set(seen.map((s) => s.accountFiscId)).size).toBe(seen.length)
      expect((await get(`/f/v2/business-location/${cafe()}/sales?from=${from}&pageSize=101`)).status).toBe(
        400
      )
      expect(seen[0]?.salesLines[0]?.quantity).toMatch(/^-?\d+\.000$/)
    })

    it("rejects ranges over 365 days and bad dates with the documented error shapes", async () => {
      const v1 = await get(`/f/finance/${bl()}/financials/2024-01-01T00:00:00Z/2025-06-01T00:00:00Z`)
      expect(v1.status).toBe(400)
      expect(String(v1.body.message)).toMatch(/365 days/)
      const v2 = await get(
        `/f/v2/business-location/${bl()}/sales?from=2024-01-01T00:00:00Z&to=2025-06-01T00:00:00Z`
      )
      expect(v2.status).toBe(400)
      expect(String(v2.body.error)).toMatch(/365 days/)
      const missing = await get(`/f/v2/business-location/${bl()}/sales`)
      expect(missing.body.error).toBe(
        "Required request parameter 'from' for method parameter type OffsetDateTime is not present"
      )
      expect((await get(`/f/v2/business-location/${bl()}/sales-daily?date=12/12/2023`)).body.error).toBe(
        "Invalid date format: 12/12/2023"
      )
    })

    it("business days roll over at the cutover; today is not dataComplete", async () => {
      const loc = merchant.locations.find((l) => l.lightspeedBlId === cafe())
      // Find a café sale between 00:00 and 05:00 Tokyo time.
      let late: { date: string; localDate: string } | undefined
      for (let i = 0; i < merchant.orderCount && late === undefined; i++) {
        const o = merchant.orderAt(i)
        if (o?.channel !== "pos" || o.locationId !== loc?.id || o.refunds.length > 0) continue
        const local = new Date(o.createdAt + 9 * 3_600_000)
        if (local.getUTCHours() < 5)
          late = { date: o.businessDate, localDate: local.toISOString().slice(0, 10) }
      }
      if (late === undefined) throw new Error("no late-night sale generated")
      expect(late.date < late.localDate).toBe(true)
      const day = await get(`/f/finance/${cafe()}/dailyFinancials?date=${late.date}`)
      expect(day.body.nextStartOfDayAsIso8601).toBe(`${late.localDate}T05:00:00+09:00`)
      expect(day.body.dataComplete).toBe(true)
      const sales = day.body.sales as Array<Sale>
      const bd = (t: string) => new Date(Date.parse(t) + 4 * 3_600_000).toISOString().slice(0, 10)
      for (const s of sales.filter((x) => x.type === "SALE"))
        expect(bd(s.timeofCloseAndPaid ?? "")).toBe(late.date)
      const today = await get(`/f/finance/${cafe()}/dailyFinancials`)
      expect(today.body.dataComplete).toBe(false)
      const todayV2 = new Date(Date.now() + 4 * 3_600_000).toISOString().slice(0, 10)
      expect(
        (await get(`/f/v2/business-location/${cafe()}/sales-daily?date=${todayV2}`)).body.dataComplete
      ).toBe(false)
    })

    it("daily SALE totals tie out to the ground truth; rates are multipliers; payments only on request", async () => {
      const gt = merchant.groundTruth()
      const loc = merchant.locations.find((l) => l.lightspeedBlId === bl())
      const row = gt.revenueByDay.find((r) => r.channel === "pos" && r.locationId === loc?.id && r.orders > 3)
      if (row === undefined) throw new Error("no POS day")
      const plain = (await get(`/f/finance/${bl()}/dailyFinancials?date=${row.businessDate}`)).body
        .sales as Array<Sale>
      expect(plain.every((s) => s.payments.length === 0)).toBe(true)
      const withPay = (
        await get(`/f/finance/${bl()}/dailyFinancials?date=${row.businessDate}&include=payments`)
      ).body.sales as Array<Sale>
      const sales = withPay.filter(
        (s) => s.type === "SALE" && !s.salesLines.some((l) => l.totalNetAmountWithTax === "abc")
      )
      const toMinor = (s: string) => Math.round(Number(s))
      const gross = sales.reduce(
        (a, s) => a + s.salesLines.reduce((b, l) => b + toMinor(l.totalNetAmountWithTax), 0),
        0
      )
      expect(sales.length).toBe(row.orders)
      expect(gross).toBe(row.gross)
      for (const s of sales) {
        expect(s.payments.reduce((a, p) => a + toMinor(p.netAmountWithTax), 0)).toBe(
          s.salesLines.reduce((b, l) => b + toMinor(l.totalNetAmountWithTax), 0)
        )
        for (const l of s.salesLines) {
          expect(l.totalNetAmountWithTax).toMatch(/^-?\d+\.\d{2}$/)
          for (const t of l.taxLines) expect(["1.08", "1.10"]).toContain(t.taxRate)
        }
      }
    })

    it("later refunds: till (default) dated when made in V1 and V2; backOffice: V1 original day, V2 when made", async () => {
      const loc = merchant.locations.find((l) => l.lightspeedBlId === bl())
      const now = Date.now()
      const touched = merchant.mutate({ fraction: 0.3, now })
      const withLater = touched
        .map((i) => merchant.orderAt(i))
        .find(
          (o) =>
            o?.channel === "pos" &&
            o.locationId === loc?.id &&
            o.businessDate !== businessDate(now, merchant.options.cutoverHour) &&
            o.refunds.some((r) => r.createdAt === now)
        )
      if (withLater === undefined) throw new Error("no later refund at the shop")
      const seqs = withLater.refunds.map((_r, k) => withLater.index * 5 + k + 1)
      const refundId = `A${bl().slice(-5)}.${seqs[seqs.length - 1]}`
      const today = businessDate(now, merchant.options.cutoverHour)
      const has = (sales: unknown) =>
        (sales as Array<Sale>).some((s) => s.accountFiscId === refundId && s.type === "REFUND")
      const v2Range = `/f/v2/business-location/${bl()}/sales?from=${new Date(now - 1000).toISOString()}&pageSize=100`
      // Default "till": a new REFUND account on the day it is made, whatever the version.
      expect(has((await get(`/f/finance/${bl()}/dailyFinancials?date=${today}`)).body.sales)).toBe(true)
      expect(
        has((await get(`/f/finance/${bl()}/dailyFinancials?date=${withLater.businessDate}`)).body.sales)
      ).toBe(false)
      expect(has((await get(`/f/v2/business-location/${bl()}/sales-daily?date=${today}`)).body.sales)).toBe(
        true
      )
      expect(has((await get(v2Range)).body.sales)).toBe(true)
      const v1Range = `/f/finance/${bl()}/financials/${encodeURIComponent(new Date(now - 1000).toISOString())}/${encodeURIComponent(new Date(now + DAY).toISOString())}`
      expect(has((await get(v1Range)).body.sales)).toBe(true)
      // "backOffice": V1 dates the edit to the original business day, V2 to the modification time.
      const bo = await startEmulator(merchant, { options: { rateLimit: null, laterRefunds: "backOffice" } })
      try {
        const t = await accessToken(bo)
        const boGet = async (path: string) =>
          (await (
            await fetch(`${bo.baseUrl}${path}`, { headers: { authorization: `Bearer ${t}` } })
          ).json()) as {
            sales: unknown
          }
        expect(
          has((await boGet(`/f/finance/${bl()}/dailyFinancials?date=${withLater.businessDate}`)).sales)
        ).toBe(true)
        expect(has((await boGet(`/f/finance/${bl()}/dailyFinancials?date=${today}`)).sales)).toBe(false)
        expect(
          has(
            (await boGet(`/f/v2/business-location/${bl()}/sales-daily?date=${withLater.businessDate}`)).sales
          )
        ).toBe(false)
        expect(has((await boGet(v2Range)).sales)).toBe(true)
      } finally {
        await bo.close()
      }
    })

    it("items page by offset and amount; availability matches the merchant's inventory", async () => {
      const ids: Array<number> = []
      for (let offset = 0; ; offset += 4) {
        const res = await fetch(
          `${ls.baseUrl}/items/v1/items?businessLocationId=${cafe()}&offset=${offset}&amount=4`,
          { headers: { authorization: `Bearer ${token}` } }
        )
        const page = (await res.json()) as Array<{ id: number; sku: string }>
        ids.push(...page.map((p) => p.id))
        if (page.length < 4) break
      }
      const loc = merchant.locations.find((l) => l.lightspeedBlId === cafe())
      const stocked = merchant.variants.filter((v) => loc !== undefined && merchant.stocked(v.id, loc.id))
      expect(ids).toEqual(stocked.map((v) => Number(v.lightspeedItemId)))
      expect((await get(`/items/v1/items?businessLocationId=${cafe()}&amount=101`)).body.status).toBe("400")
      const first = stocked[0]
      if (first === undefined || loc === undefined) throw new Error("no items")
      const avail = await fetch(`${ls.baseUrl}/o/op/1/itemAvailability?businessLocationId=${cafe()}`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ skus: [first.sku] })
      })
      const body = (await avail.json()) as {
        data: Array<{ sku: string; count: number }>
        metadata: { total: number }
      }
      expect(body.data).toEqual([
        expect.objectContaining({ sku: first.sku, count: merchant.inventory(first.id, loc.id).available })
      ])
      expect(body.metadata.total).toBe(1)
    })

    it("answers 429 with a scaled Retry-After when the configured rate limit is hit", async () => {
      const em = await startEmulator(merchant, {
        options: { rateLimit: { requestsPerSecond: 0.5, burst: 3 } }
      })
      try {
        const res = await tokenRequest(em, {
          grant_type: "refresh_token",
          refresh_token: em.credentials.refreshToken
        })
        const { access_token } = (await res.json()) as { access_token: string }
        const statuses: Array<number> = []
        let retryAfter: string | null = null
        for (let i = 0; i < 5; i++) {
          const r = await fetch(`${em.baseUrl}/f/data/businesses`, {
            headers: { authorization: `Bearer ${access_token}` }
          })
          statuses.push(r.status)
          if (r.status === 429) retryAfter = r.headers.get("retry-after")
          await r.arrayBuffer()
        }
        expect(statuses.slice(0, 3)).toEqual([200, 200, 200])
        expect(statuses[3]).toBe(429)
        expect(Number(retryAfter)).toBeGreaterThan(0)
        expect(Number(retryAfter)).toBeLessThanOrEqual(2)
        expect(em.stats().rateLimited).toBeGreaterThanOrEqual(1)
      } finally {
        await em.close()
      }
    })
  })
})
