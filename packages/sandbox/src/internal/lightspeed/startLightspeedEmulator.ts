/**
 * The Lightspeed K-Series emulator: OAuth V1 and V2 token endpoints, businesses, Financial API V1
 * and V2 (daily and range, with their paging), tax rates, payment methods, items and item
 * availability. node:http only; listens on 127.0.0.1.
 */
import { createHash } from "node:crypto"
import type { IncomingMessage, ServerResponse } from "node:http"
import type { EmulatorContext, EmulatorHandle } from "../contracts.js"
import { pickBodyFault, preResponseFaults, SLOW_RESPONSE_MS, sendJson } from "../faults/applyFault.js"
import { DAY_MS } from "../generator/calendar.js"
import { listen, readBody } from "../httpServer.js"
import type { Location } from "../model.js"
import {
  businessDateAt,
  businessDayStart,
  decimal,
  isDate,
  iso,
  isoTokyo,
  multiplier,
  parseDateTime,
  percent
} from "./format.js"
import { OAuthServer, parseBasic } from "./OAuthServer.js"
import {
  type FeedCursor,
  type FeedRecord,
  type FeedResume,
  type FinancialVersion,
  type LaterRefunds,
  SaleFeed
} from "./SaleFeed.js"

/** Knobs for the K-Series emulator; UNCONFIRMED behaviours are configurable here. */
export interface LightspeedEmulatorOptions {
  /** Whether sales carry `payments` when `include=payments` is absent (UNCONFIRMED; default false). */
  readonly includePaymentsByDefault?: boolean
  /** Requests per real-world second and burst per OAuth client; null disables. Default 10/s, burst 20. */
  readonly rateLimit?: { readonly requestsPerSecond: number; readonly burst: number } | null
  /** Access-token lifetime, real-world ms. Default 60 minutes. */
  readonly accessTokenTtlMs?: number
  /** V1 refresh-token idle expiry, real-world ms. Default 14 days. */
  readonly refreshIdleMs?: number
  /** V2 refresh lifetime (refresh_expires_in); 0 = offline token. Default 0. */
  readonly v2RefreshMs?: number
  /** Items API `amount` ceiling (docs say 100, a newer harvest 1000). Default 100. */
  readonly itemsMaxAmount?: number
  /** Duration of a slow_response fault, real ms. */
  readonly slowResponseMs?: number
  /**
   * Host that `_links` hrefs use. Production still answers with the legacy `https://api.ikentoo.com`
   * host; set that to check a client rebases links onto its own base URL. Default: the sandbox's URL.
   */
  readonly linksBaseUrl?: string
  /**
   * Which clock decides the current business day and `dataComplete`: `"scaled"` (default) follows
   * the sandbox calendar, so at timeScale 86400 a business day rolls over every real second;
   * `"wall"` keeps real time (days end at the real cutover whatever the scale).
   */
  readonly businessDayClock?: "scaled" | "wall"
  /**
   * How refunds added by `mutate` are dated. `"till"` (default): a new REFUND account closed when
   * made, in V1 and V2 alike (how a refund rung up at the till shows). `"backOffice"`: a
   * back-office edit, which V1 dates to the original business day and V2 to the modification
   * time. UNCONFIRMED which one K-Series applies to later refunds; the ground truth's revenue
   * rows date refunds when made, which V1 matches only under `"till"`.
   */
  readonly laterRefunds?: LaterRefunds
  /** Authorization-code lifetime, real-world ms (scaled). UNCONFIRMED upstream; default 10 minutes. */
  readonly authorizationCodeTtlMs?: number
}

/** What a client needs to connect. */
export interface LightspeedCredentials {
  /** V1 client (Basic authentication at /oauth/token). */
  readonly clientId: string
  readonly clientSecret: string
  readonly refreshToken: string
  readonly tokenUrl: string
  /** V2 client (body parameters at the Keycloak token endpoint). */
  readonly v2ClientId: string
  readonly v2ClientSecret: string
  readonly v2RefreshToken: string
  readonly v2TokenUrl: string
  /** V1 authorize endpoint (authorization-code flow; the sandbox approves at once and redirects). */
  readonly authorizeUrl: string
  /** V2 (Keycloak) authorize endpoint. */
  readonly v2AuthorizeUrl: string
  readonly businessId: number
  readonly businessLocationIds: ReadonlyArray<string>
}

/** The running emulator. */
export interface LightspeedEmulatorHandle extends EmulatorHandle<LightspeedCredentials> {
  /** Issues a fresh V1 refresh token (e.g. for a second test client); it is single-use like any other. */
  issueRefreshToken(version?: "v1" | "v2"): string
}

class Bucket {
  private tokens: number
  private last: number
  constructor(
    private readonly capacity: number,
    private readonly perMs: number,
    now: number
  ) {
    this.tokens = capacity
    this.last = now
  }
  /** 0 when a request may pass now, else ms until one token is available; `now` is `clock.elapsed()`. */
  take(now: number): number {
    this.tokens = Math.min(this.capacity, this.tokens + (now - this.last) * this.perMs)
    this.last = now
    if (this.tokens >= 1) {
      this.tokens -= 1
      return 0
    }
    return (1 - this.tokens) / this.perMs
  }
}

const seconds = (ms: number): string => (Math.ceil(ms / 10) / 100).toFixed(2).replace(/\.?0+$/, "") || "0.01"

/** Starts the emulator. */
export const startLightspeedEmulator = async (
  ctx: EmulatorContext & { readonly options?: LightspeedEmulatorOptions }
): Promise<LightspeedEmulatorHandle> => {
  const { merchant, faults, clock } = ctx
  const o = ctx.options ?? {}
  const includeDefault = o.includePaymentsByDefault ?? false
  const rateLimit = o.rateLimit === undefined ? { requestsPerSecond: 10, burst: 20 } : o.rateLimit
  const itemsMax = o.itemsMaxAmount ?? 100
  const slowMs = o.slowResponseMs ?? SLOW_RESPONSE_MS
  const cutover = merchant.options.cutoverHour
  // Timestamps stay wall-clock; only the calendar (which day is current and complete) is scaled.
  const calendarNow =
    (o.businessDayClock ?? "scaled") === "scaled" && clock.calendarNow !== undefined
      ? () => clock.calendarNow?.() ?? clock.now()
      : () => clock.now()
  const seedHex = createHash("sha256").update(`lightspeed:${merchant.options.seed}`).digest("hex")
  const clientId = "devp-kura-sandbox"
  const clientSecret = `ls-${seedHex.slice(0, 32)}`
  const v2ClientId = "devp-v2-kura-sandbox"
  const v2ClientSecret = `ls2-${seedHex.slice(32, 64)}`
  const oauth = new OAuthServer(
    [
      { clientId, clientSecret, version: "v1" },
      { clientId: v2ClientId, clientSecret: v2ClientSecret, version: "v2" }
    ],
    clock,
    {
      accessTokenMs: o.accessTokenTtlMs ?? 3_600_000,
      refreshIdleMs: o.refreshIdleMs ?? 14 * DAY_MS,
      authorizationCodeMs: o.authorizationCodeTtlMs ?? 600_000,
      v2RefreshMs: o.v2RefreshMs ?? 0
    }
  )
  let issued = 0
  const issueRefreshToken = (version: "v1" | "v2" = "v1"): string => {
    issued++
    const token = `rt-${version}-${createHash("sha256").update(`${seedHex}:${version}:${issued}:${clock.now()}`).digest("base64url").slice(0, 32)}`
    oauth.seedRefreshToken(version === "v1" ? clientId : v2ClientId, token)
    return token
  }
  const refreshToken = issueRefreshToken("v1")
  const v2RefreshToken = issueRefreshToken("v2")

  const feed = new SaleFeed(merchant, o.laterRefunds ?? "till")
  const posLocations = merchant.locations.filter((l) => l.lightspeedBlId !== null)
  const byBl = new Map(posLocations.map((l) => [l.lightspeedBlId ?? "", l]))
  const codeOf = (l: Location) => (l.lightspeedBlId ?? "").slice(-5)
  const businessId = 987654321
  const businessName = "Kura Foods Kyoto"
  const buckets = new Map<string, Bucket>()
  // Continuations of paged range queries, keyed by query + page token (bounded, oldest evicted).
  const resumes = new Map<string, FeedResume>()
  const remember = (key: string, state: FeedResume | null) => {
    if (state === null) return
    resumes.set(key, state)
    if (resumes.size > 256) {
      const oldest = resumes.keys().next().value
      if (oldest !== undefined) resumes.delete(oldest)
    }
  }
  /**
   * One page of a V1 or V2 sales range. The page after token `tok` resumes where the page that
   * issued it stopped (same query only), and the next page's token is remembered the same way.
   */
  const salesPage = (
    loc: Location,
    version: FinancialVersion,
    from: number,
    to: number,
    pageSize: number,
    cursor: FeedCursor | null,
    tok: string | null,
    tokenOf: (last: FeedRecord) => string
  ): { readonly records: ReadonlyArray<FeedRecord>; readonly nextToken: string | null } => {
    const queryKey = `${version}|${loc.id}|${from}|${to}|${pageSize}|`
    const { records, more, resume } = feed.page(
      loc,
      version,
      from,
      to,
      cursor,
      pageSize,
      resumes.get(`${queryKey}${tok ?? ""}`) ?? null
    )
    stats.salesServed += records.length
    const last = records[records.length - 1]
    if (!more || last === undefined) return { records, nextToken: null }
    const nextToken = tokenOf(last)
    remember(`${queryKey}${nextToken}`, resume)
    return { records, nextToken }
  }

  const stats = {
    requests: 0,
    tokenRequests: 0,
    tokenRefreshes: 0,
    refreshReuseAttempts: 0,
    invalidClient: 0,
    unauthorized: 0,
    rateLimited: 0,
    badRequests: 0,
    salesServed: 0
  }

  let baseUrl = ""
  const linksBase = () => (o.linksBaseUrl ?? baseUrl).replace(/\/+$/, "")

  const handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    stats.requests++
    const url = new URL(req.url ?? "/", "http://127.0.0.1")
    const path = url.pathname
    const q = url.searchParams
    // Faults are decided before any state changes, so a faulted request leaves everything as it was.
    if (await preResponseFaults(faults, "lightspeed", res, slowMs)) return

    if (
      req.method === "GET" &&
      (path === "/oauth/authorize" || path === "/realms/k-series/protocol/openid-connect/auth")
    ) {
      const result = oauth.authorize({
        version: path === "/oauth/authorize" ? "v1" : "v2",
        clientId: q.get("client_id"),
        redirectUri: q.get("redirect_uri"),
        responseType: q.get("response_type"),
        scope: q.get("scope"),
        codeChallenge: q.get("code_challenge"),
        codeChallengeMethod: q.get("code_challenge_method")
      })
      if (!result.ok && !result.redirect)
        return sendJson(res, 400, { error: result.error, error_description: result.description })
      const target = new URL(q.get("redirect_uri") ?? "")
      if (result.ok) target.searchParams.set("code", result.code)
      else {
        target.searchParams.set("error", result.error)
        target.searchParams.set("error_description", result.description)
      }
      const st = q.get("state")
      if (st !== null) target.searchParams.set("state", st)
      res.writeHead(302, { location: target.toString(), "content-length": "0" })
      res.end()
      return
    }

    if (
      req.method === "POST" &&
      (path === "/oauth/token" || path === "/realms/k-series/protocol/openid-connect/token")
    ) {
      stats.tokenRequests++
      const v2 = path !== "/oauth/token"
      const text = await readBody(req)
      const form = new URLSearchParams(text)
      // V1 documents "POST with URL parameters"; community code sends a form body. Accept both.
      const param = (k: string) => form.get(k) ?? (v2 ? null : q.get(k)) ?? undefined
      if (faults.decide("lightspeed", "http_5xx")) return serverError(res, path)
      const basic = parseBasic(req.headers.authorization)
      const id = basic?.id ?? (v2 ? param("client_id") : undefined)
      const secret = basic?.secret ?? (v2 ? param("client_secret") : undefined)
      const client = id !== undefined && secret !== undefined ? oauth.authenticate(id, secret) : undefined
      if (client === undefined || (client.version === "v2") !== v2) {
        stats.invalidClient++
        return sendJson(res, 401, {
          error: "invalid_client",
          error_description: v2 ? "Invalid client or Invalid client credentials" : "Bad client credentials"
        })
      }
      const grant = param("grant_type")
      if (grant !== "refresh_token" && grant !== "authorization_code") {
        return sendJson(res, 400, {
          error: "unsupported_grant_type",
          error_description: `Unsupported grant_type: ${grant ?? "(missing)"}`
        })
      }
      const fault = pickBodyFault(faults, "lightspeed")
      if (fault !== null) {
        // The corrupted answer carries no real token, and the refresh token stays unused: a retry works.
        return sendJson(
          res,
          200,
          { access_token: "x".repeat(64), refresh_token: "y".repeat(40), expires_in: 3600 },
          {},
          fault
        )
      }
      const result =
        grant === "authorization_code"
          ? oauth.codeGrant(client, param("code"), param("redirect_uri"), param("code_verifier"))
          : oauth.refreshGrant(client, param("refresh_token"))
      stats.tokenRefreshes = oauth.refreshes
      stats.refreshReuseAttempts = oauth.refreshReuseAttempts
      if (!result.ok) return sendJson(res, result.status, result.body, { "cache-control": "no-store" })
      return sendJson(res, 200, result.body, { "cache-control": "no-store", pragma: "no-cache" })
    }

    // Everything else needs a bearer token.
    const auth = req.headers.authorization ?? ""
    const token = /^bearer /i.test(auth) ? auth.slice(7).trim() : ""
    const client = oauth.verify(token)
    if (client === undefined) {
      stats.unauthorized++
      return sendJson(
        res,
        401,
        { error: "invalid_token", error_description: "Access token expired or invalid" },
        { "www-authenticate": 'Bearer error="invalid_token"' }
      )
    }
    if (faults.decide("lightspeed", "early_token_expiry")) {
      oauth.expire(token)
      stats.unauthorized++
      return sendJson(
        res,
        401,
        { error: "invalid_token", error_description: "Access token expired" },
        { "www-authenticate": 'Bearer error="invalid_token"' }
      )
    }
    if (rateLimit !== null) {
      let bucket = buckets.get(client)
      if (bucket === undefined) {
        bucket = new Bucket(
          rateLimit.burst,
          (rateLimit.requestsPerSecond / 1000) * clock.timeScale,
          clock.elapsed()
        )
        buckets.set(client, bucket)
      }
      const wait = bucket.take(clock.elapsed())
      if (wait > 0) {
        stats.rateLimited++
        return sendJson(
          res,
          429,
          { error: "Too Many Requests", message: "Rate limit exceeded" },
          { "retry-after": seconds(wait) }
        )
      }
    }
    if (faults.decide("lightspeed", "http_429")) {
      return sendJson(
        res,
        429,
        { error: "Too Many Requests", message: "Rate limit exceeded" },
        { "retry-after": seconds(clock.scale(1000)) }
      )
    }
    if (faults.decide("lightspeed", "http_5xx")) return serverError(res, path)
    const fault = pickBodyFault(faults, "lightspeed")

    if (req.method === "GET" && path === "/f/data/businesses") {
      const page = Number(q.get("page") ?? "0")
      const list =
        page === 0
          ? [
              {
                businessName,
                businessId,
                currencyCode: merchant.options.tax === "jp" ? "JPY" : "EUR",
                businessLocations: posLocations.map((l) => ({
                  blName: l.name,
                  blID: Number(l.lightspeedBlId),
                  country: "JP",
                  timezone: l.timeZone
                }))
              }
            ]
          : []
      return sendJson(
        res,
        200,
        {
          _embedded: { businessList: list },
          _links: { self: { href: `${linksBase()}${path}${url.search}` } }
        },
        {},
        fault
      )
    }

    let m =
      /^\/f\/finance\/(\d+)\/(dailyFinancials|tax-rates|paymentMethods|financials\/([^/]+)\/([^/]+))$/.exec(
        path
      )
    if (req.method === "GET" && m !== null) {
      const loc = byBl.get(m[1] ?? "")
      if (loc === undefined) return notFoundV1(res, m[1] ?? "")
      const include = (q.get("include") ?? "").split(",").includes("payments") || includeDefault
      if (m[2] === "tax-rates") return sendJson(res, 200, taxRates(), {}, fault)
      if (m[2] === "paymentMethods") return sendJson(res, 200, paymentMethods(), {}, fault)
      if (m[2] === "dailyFinancials") {
        const date = q.get("date") ?? businessDateAt(calendarNow(), cutover)
        if (!isDate(date))
          return badRequest(res, { message: `Invalid date format: ${date}. Expected YYYY-MM-DD` })
        const from = businessDayStart(date, cutover)
        const to = from + DAY_MS
        const { records } = feed.page(loc, "v1", from, to, null, Number.MAX_SAFE_INTEGER)
        stats.salesServed += records.length
        return sendJson(
          res,
          200,
          {
            businessName,
            nextStartOfDayAsIso8601: isoTokyo(to),
            businessLocationId: Number(loc.lightspeedBlId),
            sales: records.map((r) => feed.render(r, "v1", include, loc, codeOf(loc))),
            dataComplete: calendarNow() >= to,
            _links: { self: { href: `${linksBase()}${path}${url.search}`, templated: true } }
          },
          {},
          fault
        )
      }
      // V1 range: path date-times, at most 365 days, HATEOAS nextPage.
      const fromRaw = decodeURIComponent(m[3] ?? "")
      const toRaw = decodeURIComponent(m[4] ?? "")
      const from = parseDateTime(fromRaw)
      const to = parseDateTime(toRaw)
      if (from === null || to === null)
        return badRequest(res, {
          message: `Invalid date format: ${from === null ? fromRaw : toRaw}. Expected ISO-8601 date-time, e.g. 2026-11-01T00:00:00Z`
        })
      if (from > to)
        return badRequest(res, {
          message: `Invalid date range: 'from' date ${fromRaw} should not be after 'to' date ${toRaw}`
        })
      if (to - from > 365 * DAY_MS)
        return badRequest(res, { message: "Invalid date range: the range must not exceed 365 days" })
      const pageSize = clampInt(q.get("pageSize"), 1000, 1, 1000)
      if (pageSize === null)
        return badRequest(res, { message: "pageSize must be an integer between 1 and 1000" })
      let cursor: FeedCursor | null = null
      const tok = q.get("nextPageToken")
      if (tok !== null) {
        const seq = /^A\d+\.(\d+)$/.exec(tok)
        const rec = seq === null ? undefined : feed.recordAt(loc, Number(seq[1]), "v1")
        if (rec === undefined) return badRequest(res, { message: `Invalid nextPageToken: ${tok}` })
        cursor = { effectiveAt: rec.effectiveAt, seq: rec.seq }
      }
      const { records, nextToken } = salesPage(
        loc,
        "v1",
        from,
        to,
        pageSize,
        cursor,
        tok,
        (last) => `A${codeOf(loc)}.${last.seq}`
      )
      const self = `${linksBase()}${path}${url.search}`
      const links: Record<string, unknown> = { self: { href: self, templated: true } }
      if (nextToken !== null) {
        const next = new URL(self)
        next.searchParams.set("nextPageToken", nextToken)
        links.nextPage = { href: next.toString(), templated: true }
      }
      return sendJson(
        res,
        200,
        {
          businessName,
          nextStartOfDayAsIso8601: isoTokyo(businessDayStart(businessDateAt(to, cutover), cutover) + DAY_MS),
          businessLocationId: Number(loc.lightspeedBlId),
          sales: records.map((r) => feed.render(r, "v1", include, loc, codeOf(loc))),
          dataComplete: calendarNow() >= businessDayStart(businessDateAt(to, cutover), cutover) + DAY_MS,
          _links: links
        },
        {},
        fault
      )
    }

    m = /^\/f\/v2\/business-location\/(\d+)\/(sales|sales-daily)$/.exec(path)
    if (req.method === "GET" && m !== null) {
      const loc = byBl.get(m[1] ?? "")
      if (loc === undefined) return sendJson(res, 404, { error: `Business location ${m[1]} not found` })
      const include = (q.get("include") ?? "").split(",").includes("payments") || includeDefault
      if (m[2] === "sales-daily") {
        const date = q.get("date")
        if (date === null)
          return badRequest(res, {
            error: "Required request parameter 'date' for method parameter type LocalDate is not present"
          })
        if (!isDate(date)) return badRequest(res, { error: `Invalid date format: ${date}` })
        const from = businessDayStart(date, cutover)
        if (from + DAY_MS <= loc.createdAt)
          return badRequest(res, {
            error: `Business location was not operational on ${date}; earliest available date is ${businessDateAt(loc.createdAt, cutover)}`
          })
        const { records } = feed.page(loc, "v2", from, from + DAY_MS, null, Number.MAX_SAFE_INTEGER)
        stats.salesServed += records.length
        return sendJson(
          res,
          200,
          {
            sales: records.map((r) => feed.render(r, "v2", include, loc, codeOf(loc))),
            nextStartOfDayAsIso8601: isoTokyo(from + DAY_MS),
            dataComplete: calendarNow() >= from + DAY_MS
          },
          {},
          fault
        )
      }
      const fromRaw = q.get("from")
      if (fromRaw === null)
        return badRequest(res, {
          error: "Required request parameter 'from' for method parameter type OffsetDateTime is not present"
        })
      const from = parseDateTime(fromRaw)
      if (from === null) return badRequest(res, { error: `Invalid date format: ${fromRaw}` })
      const toRaw = q.get("to")
      let to = toRaw === null ? clock.now() : parseDateTime(toRaw)
      if (to === null) return badRequest(res, { error: `Invalid date format: ${toRaw}` })
      to = Math.min(to, clock.now())
      if (from > to)
        return badRequest(res, {
          error: `Invalid date range: 'from' date ${fromRaw} should not be after 'to' date ${toRaw ?? iso(to)}`
        })
      if (to - from > 365 * DAY_MS)
        return badRequest(res, { error: "Invalid date range: the range must not exceed 365 days" })
      const pageSize = clampInt(q.get("pageSize"), 50, 1, 100)
      if (pageSize === null)
        return badRequest(res, { error: "pageSize must be an integer between 1 and 100" })
      let cursor: FeedCursor | null = null
      const tok = q.get("nextPageToken")
      if (tok !== null) {
        const decoded = /^(.+)#(\d+)$/.exec(Buffer.from(tok, "base64").toString("utf8"))
        const t = decoded === null ? null : parseDateTime(decoded[1] ?? "")
        if (decoded === null || t === null) return badRequest(res, { error: `Invalid nextPageToken: ${tok}` })
        cursor = { effectiveAt: t, seq: Number(decoded[2]) }
      }
      // `to` defaults to now, so open-ended queries get a new key per request (no stale resume).
      const { records, nextToken } = salesPage(loc, "v2", from, to, pageSize, cursor, tok, (last) =>
        Buffer.from(`${iso(last.effectiveAt)}#${last.seq}`).toString("base64")
      )
      const body: Record<string, unknown> = {
        sales: records.map((r) => feed.render(r, "v2", include, loc, codeOf(loc)))
      }
      if (nextToken !== null) body.nextPageToken = nextToken
      return sendJson(res, 200, body, {}, fault)
    }

    m = /^\/items\/v1\/items(?:\/(\d+))?$/.exec(path)
    if (req.method === "GET" && m !== null) {
      const loc = byBl.get(q.get("businessLocationId") ?? "")
      if (loc === undefined)
        return itemsError(
          res,
          400,
          "businessLocationId is required and must be a business location you can access",
          "businessLocationId",
          q.get("businessLocationId")
        )
      const items = merchant.variants.filter((v) => merchant.stocked(v.id, loc.id))
      if (m[1] !== undefined) {
        const item = items.find((v) => v.lightspeedItemId === m?.[1])
        if (item === undefined) return itemsError(res, 404, `Item ${m[1]} not found`, "id", m[1])
        return sendJson(res, 200, renderItem(item), {}, fault)
      }
      const offset = clampInt(q.get("offset"), 0, 0, Number.MAX_SAFE_INTEGER)
      const amount = clampInt(q.get("amount"), 100, 1, itemsMax)
      if (offset === null)
        return itemsError(res, 400, "offset must be a non-negative integer", "offset", q.get("offset"))
      if (amount === null)
        return itemsError(res, 400, `amount must be between 1 and ${itemsMax}`, "amount", q.get("amount"))
      let list = items
      const sku = q.get("sku")
      if (sku !== null) list = list.filter((v) => v.sku === sku)
      const ids = q.get("itemIds")
      if (ids !== null) {
        const wanted = new Set(ids.split(","))
        return sendJson(
          res,
          200,
          list.filter((v) => wanted.has(v.lightspeedItemId)).map(renderItem),
          {},
          fault
        )
      }
      return sendJson(res, 200, list.slice(offset, offset + amount).map(renderItem), {}, fault)
    }

    if (path === "/o/op/1/itemAvailability" && (req.method === "GET" || req.method === "POST")) {
      const loc = byBl.get(q.get("businessLocationId") ?? "")
      if (loc === undefined) return springError(res, 400, "businessLocationId is required", path)
      let skus: Array<string> | null = null
      if (req.method === "POST") {
        try {
          const body: unknown = JSON.parse(await readBody(req))
          const raw = typeof body === "object" && body !== null && "skus" in body ? body.skus : undefined
          if (!Array.isArray(raw) || raw.some((s) => typeof s !== "string"))
            return springError(res, 400, "skus must be an array of strings", path)
          skus = raw
        } catch {
          return springError(res, 400, "Malformed JSON body", path)
        }
      } else if (q.get("skus") !== null) skus = (q.get("skus") ?? "").split(",").filter((s) => s !== "")
      if (skus !== null && skus.length > 50) return springError(res, 400, "At most 50 skus per request", path)
      const page = clampInt(q.get("page"), 0, 0, Number.MAX_SAFE_INTEGER)
      const size = clampInt(q.get("size"), 25, 1, 100)
      if (page === null || size === null)
        return springError(res, 400, "page must be >= 0 and size between 1 and 100", path)
      const wanted = skus === null ? null : new Set(skus)
      const rows = merchant.variants
        .filter((v) => merchant.stocked(v.id, loc.id) && (wanted === null || wanted.has(v.sku)))
        .map((v) => {
          const inv = merchant.inventory(v.id, loc.id)
          return { sku: v.sku, count: inv.available, updatedAt: iso(inv.updatedAt) }
        })
      return sendJson(
        res,
        200,
        {
          data: rows.slice(page * size, page * size + size),
          metadata: {
            current: { page, pageSize: size },
            total: rows.length,
            totalPages: Math.ceil(rows.length / size),
            warnings: []
          }
        },
        {},
        fault
      )
    }

    return sendJson(res, 404, {
      status: "404",
      timestamp: iso(clock.now()),
      message: `No route for ${req.method} ${path}`,
      apiSubExceptions: []
    })
  }

  const renderItem = (v: (typeof merchant.variants)[number]) => {
    const product = merchant.products.find((p) => p.id === v.productId)
    const cur = merchant.options.tax === "jp" ? "JPY" : "EUR"
    return {
      id: Number(v.lightspeedItemId),
      name: `${product?.title ?? "Item"} ${v.title}`,
      docketName: v.sku,
      sku: v.sku,
      active: true,
      barcode: v.barcode,
      barcodes: v.barcode === null ? [] : [v.barcode],
      accountingGroup: {
        id: 5000 + ((product?.productType.length ?? 0) % 7),
        name: product?.productType ?? "other"
      },
      statisticGroups: [{ category: "Type", value: product?.productType ?? "other" }],
      costPrice: decimal(v.unitCost, cur),
      prices: [{ amount: decimal(v.price, cur), name: "Default" }],
      priceMode: "AMOUNT",
      sharingType: "GLOBAL",
      inventorySource: "PURCHASED",
      disabled: false,
      contentDimension: "DIMENSION_LESS",
      contentUom: null,
      contentValue: null,
      itemType: "ITEM"
    }
  }

  const taxRates = () => {
    const eu = merchant.options.tax === "eu"
    const rows = eu
      ? [
          ["RED7", "0.07"],
          ["STD19", "0.19"]
        ]
      : [
          ["RED8", "0.08"],
          ["STD10", "0.1"]
        ]
    return {
      _embedded: {
        taxRateList: rows.map(([code = "", rate = "0"]) => ({
          code,
          description: `${eu ? "VAT" : "Consumption tax"} ${percent(rate)}%`,
          rate: multiplier(rate),
          taxIncluded: true,
          accountingReference: code
        }))
      }
    }
  }
  const paymentMethods = () => ({
    _embedded: {
      paymentMethodList: [
        { name: "Cash", code: "CASH", accountingReference: "1000", pmId: 1 },
        { name: "Credit card", code: "CARD", accountingReference: "1100", pmId: 2 },
        { name: "IC card (Suica)", code: "IC", accountingReference: "1110", pmId: 3 }
      ]
    }
  })
  const badRequest = (res: ServerResponse, body: Record<string, unknown>) => {
    stats.badRequests++
    sendJson(res, 400, body)
  }
  const notFoundV1 = (res: ServerResponse, bl: string) =>
    sendJson(res, 404, { message: `Business location ${bl} not found or not accessible with this token` })
  const serverError = (res: ServerResponse, path: string) =>
    sendJson(res, 500, {
      timestamp: iso(clock.now()),
      path,
      status: 500,
      error: "Internal Server Error",
      requestId: createHash("md5").update(`${clock.now()}:${stats.requests}`).digest("hex").slice(0, 16)
    })
  const itemsError = (res: ServerResponse, status: number, message: string, field: string, value: unknown) =>
    sendJson(res, status, {
      status: String(status),
      timestamp: isoTokyo(clock.now()),
      message,
      apiSubExceptions: [{ field, rejectedValue: value, message }]
    })
  const springError = (res: ServerResponse, status: number, message: string, path: string) =>
    sendJson(res, status, { timestamp: iso(clock.now()), status, error: "Bad Request", message, path })

  const server = await listen(ctx.port, handler)
  baseUrl = server.baseUrl
  return {
    baseUrl,
    credentials: {
      clientId,
      clientSecret,
      refreshToken,
      tokenUrl: `${baseUrl}/oauth/token`,
      v2ClientId,
      v2ClientSecret,
      v2RefreshToken,
      v2TokenUrl: `${baseUrl}/realms/k-series/protocol/openid-connect/token`,
      authorizeUrl: `${baseUrl}/oauth/authorize`,
      v2AuthorizeUrl: `${baseUrl}/realms/k-series/protocol/openid-connect/auth`,
      businessId,
      businessLocationIds: posLocations.map((l) => l.lightspeedBlId ?? "")
    },
    issueRefreshToken,
    stats: () => ({
      ...stats,
      tokenRefreshes: oauth.refreshes,
      refreshReuseAttempts: oauth.refreshReuseAttempts,
      authorizationCodesIssued: oauth.codesIssued,
      authorizationCodeExchanges: oauth.codeExchanges,
      authorizationCodeReuseAttempts: oauth.codeReuseAttempts
    }),
    close: () => server.close()
  }
}

/** Parses an optional integer query parameter; null when present but out of [min, max]. */
const clampInt = (raw: string | null, fallback: number, min: number, max: number): number | null => {
  if (raw === null || raw === "") return fallback
  if (!/^-?\d+$/.test(raw)) return null
  const n = Number(raw)
  return n < min || n > max ? null : n
}
