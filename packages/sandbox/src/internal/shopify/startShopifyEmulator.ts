/**
 * Starts the Shopify Admin API emulator on 127.0.0.1: GraphQL and REST under
 * /admin/api/{version}/, the OAuth token endpoint, bulk result files, webhooks, and fault
 * injection that never leaves a trace on the server (no state change, no extra bucket debit).
 */
import { randomUUID } from "node:crypto"
import fs from "node:fs"
import http from "node:http"
import type { AddressInfo } from "node:net"
import type { EmulatorContext, EmulatorHandle, ShopifyPlan } from "../contracts.js"
import { BulkOperations } from "./BulkOperations.js"
import { retryAfterSeconds } from "./format.js"
import { type HandlerResponse, handleGraphql, throttledResponse } from "./GraphqlHandler.js"
import { LeakyBucket } from "./LeakyBucket.js"
import { Lookups } from "./Lookups.js"
import { handleRest } from "./RestHandler.js"
import { inventoryLevelJson, orderJson, refundJson } from "./RestRender.js"
import {
  DEFAULT_SCOPES,
  DEFAULT_WEBHOOK_RETRY_MS,
  type ShopifyEmulatorOptions
} from "./ShopifyEmulatorOptions.js"
import { bump, type ShopifyCredentials, type ShopifyState } from "./ShopifyState.js"
import { buildShopifySchema, locateAdminSchema } from "./schema.js"
import { type TokenResponse, Tokens } from "./Tokens.js"
import { DEFAULT_SUPPORTED_VERSIONS, resolveVersion } from "./versions.js"
import { Webhooks } from "./Webhooks.js"

/** The handle tests and the harness drive the emulator through. */
export interface ShopifyEmulatorHandle extends EmulatorHandle<ShopifyCredentials> {
  /** Fires orders/create|updated|delete (and refunds/create, inventory_levels/update) webhooks. */
  notifyOrdersChanged(orderIndexes: ReadonlyArray<number>, kind: "create" | "update" | "delete"): void
  /** Replaces the granted scopes (e.g. drop read_all_orders). */
  setScopes(scopes: ReadonlyArray<string>): void
  /** Issues an expiring offline token with a refresh token (as token exchange with expiring=1 would). */
  issueExpiringOfflineToken(): TokenResponse
  /** Resolves when no webhook delivery or retry is pending. */
  webhooksIdle(): Promise<void>
  /** Every webhook delivery attempt so far. */
  webhookDeliveries(): ReadonlyArray<{
    readonly topic: string
    readonly uri: string
    readonly attempt: number
    readonly status: number | "error"
  }>
}

const SERVER_ERRORS: ReadonlyArray<readonly [number, string]> = [
  [503, "Service Unavailable"],
  [500, "Internal Server Error"],
  [502, "Bad Gateway"],
  [504, "Gateway Timeout"]
]

const INVALID_TOKEN = {
  errors: "[API] Invalid API key or access token (unrecognized login or wrong password)"
}

const readBody = (req: http.IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    req.on("error", reject)
  })

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Starts the emulator. */
export const startShopifyEmulator = async (
  ctx: EmulatorContext & { readonly plan: ShopifyPlan; readonly options?: ShopifyEmulatorOptions }
): Promise<ShopifyEmulatorHandle> => {
  const o = ctx.options ?? {}
  const supportedVersions = o.supportedVersions ?? DEFAULT_SUPPORTED_VERSIONS
  const schemaPath = locateAdminSchema(o.schemaPath)
  // Build the schemas up front so the first request is not the slow one.
  for (const v of supportedVersions) buildShopifySchema(v, schemaPath)
  const m = ctx.merchant
  const warehouse = m.locations.find((l) => l.kind === "warehouse") ?? m.locations[0]
  const firstOrder = m.orderAt(0)
  const domain = o.shopDomain ?? "kura-sandbox.myshopify.com"
  let scopes: ReadonlyArray<string> = o.scopes ?? DEFAULT_SCOPES
  const tokens = new Tokens(ctx.clock, () => scopes)
  const latestStable = [...supportedVersions].filter((v) => /^\d{4}-\d{2}$/.test(v)).sort()
  const credentials: ShopifyCredentials = {
    shopDomain: domain,
    accessToken: tokens.staticToken,
    clientId: `sandbox-client-${m.options.seed}`,
    clientSecret: `shpss_sandbox_${m.options.seed}_${Math.random().toString(36).slice(2, 10)}`,
    webhookSecret: "",
    apiVersion: latestStable.filter((v) => v <= "2026-10").pop() ?? latestStable[0] ?? "2026-01",
    scopes
  }
  const creds: ShopifyCredentials = { ...credentials, webhookSecret: credentials.clientSecret }
  let serverErrors = 0
  const stats: Record<string, number> = {
    requests: 0,
    graphqlRequests: 0,
    restRequests: 0,
    throttled: 0,
    restThrottled: 0
  }
  let state: ShopifyState | null = null
  const getState = (): ShopifyState => {
    if (state === null) throw new Error("Shopify emulator state used before start")
    return state
  }
  const st: ShopifyState = {
    merchant: m,
    lookups: new Lookups(m),
    clock: ctx.clock,
    faults: ctx.faults,
    plan: ctx.plan,
    options: {
      throttledStatus: o.throttledStatus ?? 200,
      supportedVersions,
      schemaPath,
      bulkConcurrency: o.bulkConcurrency,
      bulkRowsPerSecond: o.bulkRowsPerSecond ?? 1_000_000,
      webhookRetryScheduleMs: o.webhookRetryScheduleMs ?? DEFAULT_WEBHOOK_RETRY_MS,
      webhookTimeoutMs: o.webhookTimeoutMs ?? 5_000,
      maxQueryCost: o.maxQueryCost ?? 1000,
      slowResponseMs: o.slowResponseMs ?? 3_000,
      restLinkHost: o.restLinkHost ?? "sandbox",
      unknownSearchFields: o.unknownSearchFields ?? "ignore"
    },
    shop: {
      name: "Kura Sandbox",
      domain,
      currency: firstOrder?.currency ?? (m.options.tax === "jp" ? "JPY" : "EUR"),
      timeZone: warehouse?.timeZone ?? "UTC"
    },
    credentials: creds,
    scopes: new Set(scopes),
    baseUrl: "",
    bulk: new BulkOperations(getState),
    webhooks: new Webhooks(getState),
    stats
  }
  state = st
  const now = ctx.clock.elapsed()
  const gqlBucket = new LeakyBucket(
    ctx.plan.graphqlBucket,
    ctx.plan.graphqlRestoreRate * ctx.clock.timeScale,
    now
  )
  const restBucket = new LeakyBucket(ctx.plan.restBucket, ctx.plan.restLeakRate * ctx.clock.timeScale, now)

  const send = (res: http.ServerResponse, r: HandlerResponse, version?: string): void => {
    const headers: Record<string, string> = {
      "Content-Type": "application/json; charset=utf-8",
      "X-Request-Id": randomUUID(),
      ...(r.headers ?? {})
    }
    if (version !== undefined) headers["X-Shopify-API-Version"] = version
    res.writeHead(r.status, headers)
    res.end(r.body)
  }

  /** Faults decided before any work; true when the response was already produced. */
  const preFaults = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    version: string,
    graphql: boolean
  ): Promise<boolean> => {
    const f = ctx.faults
    if (f.decide("shopify", "connection_reset")) {
      req.socket.destroy()
      return true
    }
    if (f.decide("shopify", "slow_response")) await sleep(ctx.clock.scale(st.options.slowResponseMs))
    if (f.decide("shopify", "http_5xx")) {
      // Rotate through the 5xx a client meets in the wild, not only the one it retries by default.
      const [status, text] = SERVER_ERRORS[serverErrors++ % SERVER_ERRORS.length] ?? [
        503,
        "Service Unavailable"
      ]
      send(res, { status, body: JSON.stringify({ errors: text }) }, version)
      return true
    }
    if (f.decide("shopify", "http_429")) {
      const retry = retryAfterSeconds(2 / ctx.clock.timeScale)
      send(
        res,
        {
          status: 429,
          headers: { "Retry-After": retry },
          body: JSON.stringify({
            errors:
              "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."
          })
        },
        version
      )
      return true
    }
    if (graphql && f.decide("shopify", "throttled")) {
      bump(st, "throttled")
      send(res, throttledResponse(st, gqlBucket, 1), version)
      return true
    }
    return false
  }

  /** Faults that corrupt a computed answer; the caller has already undone its bucket debit. */
  const corrupt = (
    res: http.ServerResponse,
    r: HandlerResponse,
    version: string,
    undo: () => void
  ): boolean => {
    if (r.mutated === true || r.status !== 200) return false
    const f = ctx.faults
    if (f.decide("shopify", "truncated_body")) {
      undo()
      const body = Buffer.from(r.body)
      res.writeHead(200, {
        "Content-Type": "application/json; charset=utf-8",
        "Content-Length": String(body.length),
        "X-Shopify-API-Version": version
      })
      res.write(body.subarray(0, Math.max(1, Math.floor(body.length / 2))))
      setImmediate(() => res.socket?.destroy())
      return true
    }
    if (f.decide("shopify", "malformed_json")) {
      undo()
      send(
        res,
        {
          status: 200,
          body: `${r.body.slice(0, Math.max(1, Math.floor(r.body.length / 3)))}<html>upstream error`
        },
        version
      )
      return true
    }
    return false
  }

  const authenticate = (req: http.IncomingMessage, res: http.ServerResponse, version: string): boolean => {
    const header = req.headers["x-shopify-access-token"]
    const token = Array.isArray(header) ? header[0] : header
    let check = tokens.check(token)
    if (
      check === "ok" &&
      token !== undefined &&
      tokens.expiring(token) &&
      ctx.faults.decide("shopify", "early_token_expiry")
    ) {
      tokens.expireNow(token)
      check = "expired"
    }
    if (check !== "ok") {
      bump(st, "unauthorized")
      send(res, { status: 401, body: JSON.stringify(INVALID_TOKEN) }, version)
      return false
    }
    return true
  }

  const tokenEndpoint = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const raw = await readBody(req)
    const type = req.headers["content-type"] ?? ""
    const params = new Map<string, string>()
    if (type.includes("json")) {
      try {
        const parsed: unknown = JSON.parse(raw)
        if (typeof parsed === "object" && parsed !== null) {
          for (const [k, v] of Object.entries(parsed))
            if (typeof v === "string" || typeof v === "number") params.set(k, String(v))
        }
      } catch {
        send(res, {
          status: 400,
          body: JSON.stringify({
            error: "invalid_request",
            error_description: "The request body is not valid JSON."
          })
        })
        return
      }
    } else for (const [k, v] of new URLSearchParams(raw)) params.set(k, v)
    if (params.get("client_id") !== creds.clientId || params.get("client_secret") !== creds.clientSecret) {
      send(res, {
        status: 400,
        body: JSON.stringify({
          error: "invalid_client",
          error_description:
            "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method."
        })
      })
      return
    }
    const grant = params.get("grant_type")
    bump(st, "tokenRequests")
    if (grant === "client_credentials") {
      send(res, { status: 200, body: JSON.stringify(tokens.clientCredentials()) })
    } else if (grant === "refresh_token") {
      const r = tokens.useRefreshToken(params.get("refresh_token") ?? "")
      if (r === null)
        send(res, {
          status: 400,
          body: JSON.stringify({
            error: "invalid_grant",
            error_description: "The refresh token is invalid, expired or revoked."
          })
        })
      else send(res, { status: 200, body: JSON.stringify(r) })
    } else if (
      grant === "urn:ietf:params:oauth:grant-type:token-exchange" &&
      (params.get("subject_token") ?? "") !== ""
    ) {
      send(res, {
        status: 200,
        body: JSON.stringify(
          params.get("expiring") === "1"
            ? tokens.expiringOffline()
            : { access_token: tokens.staticToken, scope: scopes.join(",") }
        )
      })
    } else {
      send(res, {
        status: 400,
        body: JSON.stringify({
          error: "unsupported_grant_type",
          error_description: `grant_type ${grant ?? "(missing)"} is not supported`
        })
      })
    }
  }

  const serveBulkFile = (res: http.ServerResponse, token: string, name: string): void => {
    const file = st.bulk.fileFor(token, name)
    if (file === null) {
      res.writeHead(403, { "Content-Type": "application/xml" })
      res.end(
        "<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied</Code><Message>Access denied.</Message></Error>"
      )
      return
    }
    const size = fs.statSync(file).size
    res.writeHead(200, {
      "Content-Type": "application/jsonl",
      "Content-Length": String(size),
      "Content-Disposition": `attachment; filename="${name}"`
    })
    fs.createReadStream(file, { highWaterMark: 1 << 20 }).pipe(res)
  }

  const route = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    stats.requests = (stats.requests ?? 0) + 1
    const url = new URL(req.url ?? "/", "http://localhost")
    // Shopify answers a shop it does not host with 404 Not Found on every path: a request addressed
    // to another *.myshopify.com (a mistyped shop) must fail here as it would in production, not
    // read this shop's data. Any other host (127.0.0.1, localhost, a proxy) is this shop.
    const host = (req.headers.host ?? "").replace(/:\d+$/, "").toLowerCase()
    if (host.endsWith(".myshopify.com") && host !== domain.toLowerCase()) {
      send(res, { status: 404, body: JSON.stringify({ errors: "Not Found" }) })
      return
    }
    if (url.pathname === "/admin/oauth/access_token" && req.method === "POST") return tokenEndpoint(req, res)
    const bulkFile = /^\/bulk-operation-outputs\/([0-9a-f]+)\/([\w.-]+)$/.exec(url.pathname)
    if (bulkFile !== null && req.method === "GET")
      return serveBulkFile(res, bulkFile[1] ?? "", bulkFile[2] ?? "")
    const api = /^\/admin\/api\/([^/]+)\/(.+)\.json$/.exec(url.pathname)
    if (api === null) {
      send(res, { status: 404, body: JSON.stringify({ errors: "Not Found" }) })
      return
    }
    const version = resolveVersion(api[1] ?? "", supportedVersions)
    const resource = api[2] ?? ""
    if (!authenticate(req, res, version)) return
    if (resource === "graphql") {
      if (req.method !== "POST") {
        send(res, { status: 405, body: JSON.stringify({ errors: "Method Not Allowed" }) }, version)
        return
      }
      stats.graphqlRequests = (stats.graphqlRequests ?? 0) + 1
      const raw = await readBody(req)
      if (await preFaults(req, res, version, true)) return
      let body: unknown
      try {
        body = JSON.parse(raw)
      } catch {
        send(
          res,
          {
            status: 400,
            body: JSON.stringify({ errors: { query: "Required parameter missing or invalid" } })
          },
          version
        )
        return
      }
      const snapshot = gqlBucket.snapshot()
      const r = await handleGraphql({ state: st, bucket: gqlBucket, version, body })
      if (corrupt(res, r, version, () => gqlBucket.restore(snapshot))) return
      send(res, r, version)
      return
    }
    if (req.method !== "GET") {
      send(res, { status: 405, body: JSON.stringify({ errors: "Method Not Allowed" }) }, version)
      return
    }
    stats.restRequests = (stats.restRequests ?? 0) + 1
    if (await preFaults(req, res, version, false)) return
    const snapshot = restBucket.snapshot()
    const callLimit = (): string =>
      `${Math.ceil(restBucket.capacity - restBucket.available(ctx.clock.elapsed()))}/${restBucket.capacity}`
    if (!restBucket.tryTake(1, ctx.clock.elapsed())) {
      stats.restThrottled = (stats.restThrottled ?? 0) + 1
      send(
        res,
        {
          status: 429,
          headers: {
            "Retry-After": retryAfterSeconds(2 / ctx.clock.timeScale),
            "X-Shopify-Shop-Api-Call-Limit": callLimit()
          },
          body: JSON.stringify({
            errors:
              "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."
          })
        },
        version
      )
      return
    }
    const r = handleRest(st, version, resource, url.searchParams)
    const withLimit: HandlerResponse = {
      ...r,
      headers: { ...(r.headers ?? {}), "X-Shopify-Shop-Api-Call-Limit": callLimit() }
    }
    if (corrupt(res, withLimit, version, () => restBucket.restore(snapshot))) return
    send(res, withLimit, version)
  }

  const server = http.createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      bump(st, "internalErrors")
      if (!res.headersSent) {
        res.writeHead(500, { "Content-Type": "application/json" })
        res.end(
          JSON.stringify({
            errors: [
              {
                message: "Internal error",
                extensions: { code: "INTERNAL_SERVER_ERROR", detail: String(error) }
              }
            ]
          })
        )
      } else res.destroy()
    })
  })
  server.keepAliveTimeout = 5_000
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(ctx.port, "127.0.0.1", () => resolve())
  })
  const address: string | AddressInfo | null = server.address()
  const baseUrl = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : ctx.port}`
  st.baseUrl = baseUrl
  const announced = new Set<number>()

  return {
    baseUrl,
    credentials: creds,
    stats: () => ({ ...stats }),
    async close() {
      st.webhooks.close()
      st.bulk.close()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
    setScopes(next) {
      scopes = [...next]
      st.scopes = new Set(next)
    },
    issueExpiringOfflineToken: () => tokens.expiringOffline(),
    webhooksIdle: () => st.webhooks.idle(),
    webhookDeliveries: () => st.webhooks.deliveries,
    notifyOrdersChanged(orderIndexes, kind) {
      for (const index of orderIndexes) {
        const order = m.orderAt(index)
        if (order === undefined || order.channel !== "online") continue
        if (kind === "delete") {
          st.webhooks.emit("orders/delete", { id: order.id })
          continue
        }
        if (order.deletedAt !== null) {
          st.webhooks.emit("orders/delete", { id: order.id })
          continue
        }
        st.webhooks.emit(kind === "create" ? "orders/create" : "orders/updated", orderJson(st, order))
        for (const refund of order.refunds) {
          // Only refunds added after generation (by a mutation) are news; historic ones are not.
          if (
            kind === "create" ||
            announced.has(refund.id) ||
            refund.createdAt <= order.createdAt + m.maxBaseUpdateLagMs
          )
            continue
          announced.add(refund.id)
          st.webhooks.emit("refunds/create", refundJson(st, order, refund))
          for (const line of refund.lines) {
            if (!line.restock) continue
            const v = st.lookups.variants.get(
              order.lines.find((l) => l.id === line.orderLineId)?.variantId ?? -1
            )
            const loc = st.lookups.locations.get(line.locationId)
            if (v !== undefined && loc !== undefined)
              st.webhooks.emit("inventory_levels/update", inventoryLevelJson(st, v, loc))
          }
        }
      }
    }
  }
}
