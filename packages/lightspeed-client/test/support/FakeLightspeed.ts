/**
 * A small K-Series server on 127.0.0.1 that answers like the reference docs: V1 and V2 token
 * endpoints with single-use refresh tokens (reuse attempts counted), businesses, Financial V1
 * (HATEOAS paging with links on the legacy host) and V2 (nextPageToken), items, availability, and
 * optional faults. Used until (and alongside) the @kura/sandbox emulator.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

export interface FakeOptions {
  /** Fault probability per API request (429 with Retry-After, 500, truncated body), seeded. */
  readonly faultRate?: number
  readonly seed?: number
  /** Access-token lifetime in seconds. */
  readonly accessTtlSeconds?: number
  /** Days of sales per location (ending at `lastDate`). */
  readonly days?: number
  readonly lastDate?: string
  readonly salesPerDay?: number
  /** Dates whose dataComplete is false. */
  readonly incompleteDates?: ReadonlyArray<string>
  readonly itemsCount?: number
  /** Items `amount` ceiling (default 100) and what a larger one gets: clamped silently (default) or a 400. */
  readonly itemsMaxAmount?: number
  readonly itemsOverMax?: "clamp" | "refuse"
  /** Which sale index (per location) to render malformed, if any. */
  readonly malformedSale?: { readonly date: string; readonly index: number }
  /** The first N token requests fail before anything is processed: 503, truncated 200, garbled 200 in turn. */
  readonly tokenGlitches?: number
  /** A broken server: V2 always returns the first page's nextPageToken. */
  readonly stuckNextPageToken?: boolean
  /**
   * A refresh is handled at once (the old refresh token retired, the new pair issued) but its answer
   * is sent this many ms later: a slow network on the way back.
   */
  readonly refreshAnswerDelayMs?: number
}

export interface FakeServer {
  readonly baseUrl: string
  readonly clientId: string
  readonly clientSecret: string
  readonly stats: {
    refreshes: number
    reuseAttempts: number
    codeExchanges: number
    apiRequests: number
    faults: number
    unauthorized: number
    rejectedClientAuth: number
    lastTokenAuthHeader: string | null
    lastTokenBody: string | null
    maxRangeDaysSeen: number
    tokenGlitches: number
  }
  /** Issues a fresh token pair as if an operator had authorised (returns the refresh token). */
  readonly issue: () => { access: string; refresh: string }
  /** Makes a code valid for one exchange. */
  readonly addCode: (code: string) => void
  /**
   * Revokes every access token (the next API call gets 401); with `alsoNext`, that many tokens
   * issued afterwards are dead on arrival too (an early expiry striking again).
   */
  readonly revokeAccessTokens: (alsoNext?: number) => void
  readonly close: () => Promise<void>
  readonly locations: ReadonlyArray<{ readonly blID: string; readonly timezone: string }>
}

const BL_TOKYO = "141948669132802"
// Above 2^53 on purpose: the client must keep it exact.
const BL_CAFE = "45454565682155123"

const mulberry = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const addDays = (date: string, n: number) =>
  new Date(Date.parse(`${date}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10)

export const makeSale = (bl: string, date: string, index: number, v1: boolean) => {
  // Business day starts 05:00 +09:00 (= 20:00Z the day before).
  const closed = new Date(Date.parse(`${date}T05:00:00+09:00`) + (index + 1) * 60_000 * 7).toISOString()
  const price = 1000 + index * 10
  const tax = Math.round((price * 8) / 108)
  const line = {
    id: `S${bl.slice(-4)}${date.replaceAll("-", "")}.${index}`,
    sku: `SKU-${index % 5}`,
    name: `Item ${index % 5}`,
    quantity: "1.000",
    currency: "JPY",
    totalNetAmountWithTax: `${price}.00`,
    totalNetAmountWithoutTax: `${price - tax}.00`,
    taxCode: "JP8",
    taxAmount: `${tax}.000000`,
    taxRatePercentage: "8.00",
    taxLines: [
      {
        taxId: "41910290874374",
        taxCode: "JP8",
        taxRate: "1.08",
        taxAmount: `${tax}.000000`,
        taxIncluded: true
      }
    ],
    ...(v1 ? { timeofSale: closed } : { timeOfSale: closed })
  }
  return {
    accountReference: Buffer.from(`${bl}-${date}-${index}`).toString("base64"),
    accountFiscId: `A${bl.slice(-4)}${date.replaceAll("-", "")}.${index}`,
    receiptId: `R${index}`,
    type: "SALE",
    cancelled: false,
    ...(v1
      ? { timeofOpening: closed, timeofCloseAndPaid: closed }
      : { timeOfOpening: closed, timeClosed: closed }),
    salesLines: [line],
    payments: [
      {
        fiscId: `T${index}`,
        uuid: `u-${bl}-${date}-${index}`,
        code: "CASH",
        description: "Cash",
        netAmountWithTax: `${price}.00`,
        currency: "JPY",
        type: "NORMAL",
        deviceId: "7"
      }
    ]
  }
}

export const startFake = async (options: FakeOptions = {}): Promise<FakeServer> => {
  const clientId = "devp-kura_test"
  const clientSecret = "s3cr3t+/=value"
  const random = mulberry(options.seed ?? 7)
  const faultRate = options.faultRate ?? 0
  const accessTtl = options.accessTtlSeconds ?? 3600
  const days = options.days ?? 10
  const lastDate = options.lastDate ?? "2024-03-10"
  const perDay = options.salesPerDay ?? 7
  const incomplete = new Set(options.incompleteDates ?? [])
  const itemsCount = options.itemsCount ?? 230
  const firstDate = addDays(lastDate, -(days - 1))

  const access = new Map<string, number>() // token → expiry ms
  let deadOnArrival = 0
  const refresh = new Set<string>() // currently valid refresh tokens
  const used = new Set<string>()
  const codes = new Set<string>()
  let counter = 0
  let glitches = options.tokenGlitches ?? 0
  const stats: FakeServer["stats"] = {
    refreshes: 0,
    reuseAttempts: 0,
    codeExchanges: 0,
    apiRequests: 0,
    faults: 0,
    unauthorized: 0,
    rejectedClientAuth: 0,
    lastTokenAuthHeader: null,
    lastTokenBody: null,
    maxRangeDaysSeen: 0,
    tokenGlitches: 0
  }
  const issue = () => {
    counter++
    const a = `at-${counter}-${Math.floor(random() * 1e9)}`
    const r = `rt-${counter}-${Math.floor(random() * 1e9)}`
    if (deadOnArrival > 0) deadOnArrival--
    else access.set(a, Date.now() + accessTtl * 1000)
    refresh.add(r)
    return { access: a, refresh: r }
  }

  const locations = [
    { blID: BL_TOKYO, blName: "Shop", country: "JP", timezone: "Asia/Tokyo" },
    { blID: BL_CAFE, blName: "Café", country: "JP", timezone: "Asia/Tokyo" }
  ]

  const salesOf = (bl: string, date: string, v1: boolean): Array<unknown> => {
    if (date < firstDate || date > lastDate) return []
    const out: Array<unknown> = []
    for (let i = 0; i < perDay; i++) {
      const sale = makeSale(bl, date, i, v1)
      if (options.malformedSale && options.malformedSale.date === date && options.malformedSale.index === i) {
        out.push({ ...sale, payments: [{ ...sale.payments[0], netAmountWithTax: "twelve" }] })
      } else out.push(sale)
    }
    return out
  }
  const allSales = (bl: string, fromMs: number, toMs: number, v1: boolean) => {
    const out: Array<{ t: number; sale: unknown }> = []
    for (let d = firstDate; d <= lastDate; d = addDays(d, 1)) {
      for (const sale of salesOf(bl, d, v1)) {
        const closed = Reflect.get(Object(sale), v1 ? "timeofCloseAndPaid" : "timeClosed")
        const t = Date.parse(String(closed))
        if (t >= fromMs && t < toMs) out.push({ t, sale })
      }
    }
    return out.sort((a, b) => a.t - b.t)
  }

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "content-type": "application/json", ...headers })
    res.end(JSON.stringify(body))
  }

  /**
   * Answers a successful grant with a fresh token pair, issued (live on the server) at once and
   * sent after `delayMs`.
   */
  const issueTokens = (
    res: ServerResponse,
    scope: string,
    extra: Record<string, unknown> = {},
    delayMs = 0
  ) => {
    const pair = issue()
    const send = () =>
      json(res, 200, {
        access_token: pair.access,
        refresh_token: pair.refresh,
        token_type: "bearer",
        expires_in: accessTtl,
        scope,
        ...extra
      })
    if (delayMs === 0) return send()
    setTimeout(send, delayMs)
  }

  const readBody = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let data = ""
      req.on("data", (c) => {
        data += c
      })
      req.on("end", () => resolve(data))
    })

  const tokenEndpoint = async (req: IncomingMessage, res: ServerResponse, v2: boolean) => {
    const body = await readBody(req)
    if (glitches > 0) {
      const kind = glitches % 3
      glitches--
      stats.tokenGlitches++
      if (kind === 0) return json(res, 503, { error: "temporarily_unavailable" })
      res.writeHead(200, { "content-type": "application/json" })
      return res.end(kind === 1 ? '{"access_token":"x","refresh_tok' : "<html>oops</html>")
    }
    stats.lastTokenBody = body
    stats.lastTokenAuthHeader = req.headers.authorization ?? null
    const params = new URLSearchParams(body)
    const url = new URL(req.url ?? "/", "http://x")
    for (const [k, v] of url.searchParams) if (!params.has(k)) params.set(k, v)
    // V1: raw base64(id:secret) only (no URL-decoding of the halves); V2: credentials in the body.
    const okAuth = v2
      ? params.get("client_id") === clientId && params.get("client_secret") === clientSecret
      : req.headers.authorization === `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString("base64")}`
    if (!okAuth) {
      stats.rejectedClientAuth++
      return json(res, 401, { error: "invalid_client", error_description: "bad client credentials" })
    }
    const grant = params.get("grant_type")
    if (grant === "refresh_token") {
      const rt = params.get("refresh_token") ?? ""
      if (!refresh.has(rt)) {
        if (used.has(rt)) stats.reuseAttempts++
        return json(res, 400, {
          error: "invalid_grant",
          error_description: "Refresh token is invalid or was already used"
        })
      }
      refresh.delete(rt)
      used.add(rt)
      stats.refreshes++
      return issueTokens(
        res,
        "financial-api items orders-api",
        v2 ? { refresh_expires_in: 1800 } : {},
        options.refreshAnswerDelayMs ?? 0
      )
    }
    if (grant === "authorization_code") {
      const code = params.get("code") ?? ""
      if (!codes.has(code)) return json(res, 400, { error: "invalid_grant", error_description: "bad code" })
      codes.delete(code)
      stats.codeExchanges++
      return issueTokens(res, "financial-api items")
    }
    return json(res, 400, { error: "unsupported_grant_type" })
  }

  const api = (req: IncomingMessage, res: ServerResponse, url: URL) => {
    stats.apiRequests++
    const auth = req.headers.authorization ?? ""
    const token = auth.startsWith("Bearer ") ? auth.slice(7) : ""
    const exp = access.get(token)
    if (exp === undefined || exp < Date.now()) {
      stats.unauthorized++
      return json(res, 401, { status: "401", message: "Unauthorized" })
    }
    if (faultRate > 0 && random() < faultRate) {
      stats.faults++
      const kind = random()
      if (kind < 0.4) return json(res, 429, { error: "Too Many Requests" }, { "retry-after": "0.05" })
      if (kind < 0.7) return json(res, 503, { timestamp: "x", status: 503, error: "Unavailable" })
      res.writeHead(200, { "content-type": "application/json" })
      return res.end('{"sales": [{"accountRef')
    }
    const p = url.pathname
    const q = url.searchParams
    if (p === "/f/data/businesses") {
      const page = Number(q.get("page") ?? 0)
      return json(res, 200, {
        _embedded: {
          businessList:
            page === 0
              ? [
                  {
                    businessName: "Kura Matcha",
                    businessId: 45454565682155,
                    currencyCode: "JPY",
                    businessLocations: locations
                  }
                ]
              : []
        },
        _links: { self: { href: "https://api.ikentoo.com/f/data/businesses" } }
      })
    }
    const daily = /^\/f\/finance\/(\d+)\/dailyFinancials$/.exec(p)
    if (daily) {
      const m = daily
      const date = q.get("date") ?? lastDate
      if (q.get("include")?.includes("payments") !== true)
        return json(res, 400, { error: "test server wants include=payments" })
      return json(res, 200, {
        businessName: "Kura Matcha",
        businessLocationId: Number(m[1]) > Number.MAX_SAFE_INTEGER ? undefined : Number(m[1]),
        nextStartOfDayAsIso8601: `${addDays(date, 1)}T05:00:00+09:00`,
        dataComplete: !incomplete.has(date) && date <= lastDate,
        sales: salesOf(m[1]!, date, true)
      })
    }
    const range = /^\/f\/finance\/(\d+)\/financials\/([^/]+)\/([^/]+)$/.exec(p)
    if (range) {
      const m = range
      const from = Date.parse(decodeURIComponent(m[2]!))
      const to = Date.parse(decodeURIComponent(m[3]!))
      if (!Number.isFinite(from) || !Number.isFinite(to))
        return json(res, 400, { error: "Invalid date format" })
      const spanDays = (to - from) / 86_400_000
      stats.maxRangeDaysSeen = Math.max(stats.maxRangeDaysSeen, spanDays)
      if (spanDays > 365) return json(res, 400, { error: "range exceeds 365 days" })
      const size = Math.min(1000, Number(q.get("pageSize") ?? 1000))
      const all = allSales(m[1]!, from, to, true)
      const after = q.get("nextPageToken")
      const start =
        after === null ? 0 : all.findIndex((s) => Reflect.get(Object(s.sale), "accountFiscId") === after) + 1
      const page = all.slice(start, start + size)
      const self = `https://api.ikentoo.com${p}?include=payments&pageSize=${size}`
      const last = page[page.length - 1]
      return json(res, 200, {
        businessName: "Kura Matcha",
        sales: page.map((s) => s.sale),
        dataComplete: true,
        _links: {
          self: { href: self, templated: true },
          ...(start + size < all.length && last
            ? {
                nextPage: {
                  href: `${self}&nextPageToken=${Reflect.get(Object(last.sale), "accountFiscId")}`,
                  templated: true
                }
              }
            : {})
        }
      })
    }
    const v2daily = /^\/f\/v2\/business-location\/(\d+)\/sales-daily$/.exec(p)
    if (v2daily) {
      const m = v2daily
      const date = q.get("date")
      if (!date) return json(res, 400, { error: "Required request parameter 'date' is not present" })
      return json(res, 200, {
        sales: salesOf(m[1]!, date, false),
        nextStartOfDayAsIso8601: `${addDays(date, 1)}T05:00:00+09:00`,
        dataComplete: !incomplete.has(date) && date <= lastDate
      })
    }
    const v2sales = /^\/f\/v2\/business-location\/(\d+)\/sales$/.exec(p)
    if (v2sales) {
      const m = v2sales
      const fromText = q.get("from")
      if (!fromText)
        return json(res, 400, {
          error: "Required request parameter 'from' for method parameter type OffsetDateTime is not present"
        })
      const from = Date.parse(fromText)
      const to = Math.min(Date.parse(q.get("to") ?? new Date().toISOString()), Date.now())
      if ((to - from) / 86_400_000 > 365) return json(res, 400, { error: "range exceeds 365 days" })
      const size = Math.min(100, Number(q.get("pageSize") ?? 50))
      const tokenText = q.get("nextPageToken")
      const all = allSales(m[1]!, from, to, false)
      const start =
        tokenText === null || options.stuckNextPageToken
          ? 0
          : Number(Buffer.from(tokenText, "base64").toString("utf8"))
      const page = all.slice(start, start + size)
      return json(res, 200, {
        sales: page.map((s) => s.sale),
        ...(start + size < all.length
          ? { nextPageToken: Buffer.from(String(start + size)).toString("base64") }
          : {})
      })
    }
    if (p === "/items/v1/items") {
      const offset = Number(q.get("offset") ?? 0)
      const max = options.itemsMaxAmount ?? 100
      const askedAmount = Number(q.get("amount") ?? 100)
      if (askedAmount > max && options.itemsOverMax === "refuse")
        return json(res, 400, { status: "400", message: `amount must be between 1 and ${max}` })
      const amount = Math.min(max, askedAmount)
      const list = []
      for (let i = offset; i < Math.min(itemsCount, offset + amount); i++) {
        list.push({
          id: 9_000_000_000 + i,
          name: `Item ${i}`,
          sku: `SKU-${i}`,
          active: true,
          costPrice: "120.50",
          prices: [{ amount: "1100", name: "default" }],
          itemType: "ITEM"
        })
      }
      return json(res, 200, list)
    }
    if (p === "/o/op/1/itemAvailability") {
      const skus = (q.get("skus") ?? "").split(",").filter((s) => s !== "")
      if (skus.length > 50)
        return json(res, 400, { status: 400, error: "Bad Request", message: "at most 50 skus" })
      const page = Number(q.get("page") ?? 0)
      const size = Number(q.get("size") ?? 25)
      const data = skus
        .slice(page * size, page * size + size)
        .map((sku, i) => ({ sku, count: String(i + page * size), updatedAt: "2024-03-10T00:00:00Z" }))
      return json(res, 200, {
        data,
        metadata: {
          current: { page, pageSize: size },
          total: skus.length,
          totalPages: Math.ceil(skus.length / size),
          warnings: []
        }
      })
    }
    return json(res, 404, { status: "404", message: `no route ${p}` })
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1")
    if (req.method === "POST" && url.pathname === "/oauth/token") return void tokenEndpoint(req, res, false)
    if (req.method === "POST" && url.pathname === "/realms/k-series/protocol/openid-connect/token")
      return void tokenEndpoint(req, res, true)
    return api(req, res, url)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as AddressInfo).port
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    clientId,
    clientSecret,
    stats,
    issue,
    addCode: (code) => void codes.add(code),
    revokeAccessTokens: (alsoNext = 0) => {
      access.clear()
      deadOnArrival = alsoNext
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
    locations
  }
}

/** The connection part of a client config that points at `server` (plain http, so insecure allowed). */
export const fakeConnection = (server: FakeServer) => ({
  clientId: server.clientId,
  clientSecret: server.clientSecret,
  apiBaseUrl: server.baseUrl,
  tokenUrl: `${server.baseUrl}/oauth/token`,
  authorizeUrl: `${server.baseUrl}/oauth/authorize`,
  allowInsecureRequests: true
})
