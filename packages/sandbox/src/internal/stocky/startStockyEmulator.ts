/**
 * The Stocky emulator (`/api/v2/*.json`, read-only). Both auth headers are required. Lists are
 * wrapped in their plural root key; single records come back bare (optionally wrapped, as one
 * client expects). Only records from before Stocky's shutdown live here: later stock records are
 * Shopify-native and served by the Shopify emulator.
 *
 * Retired mode: Stocky shut down on 2026-08-31. With `retired`, every route answers
 * `410 Gone` with `{"errors":"Stocky has been discontinued …"}`, which is what a client of a
 * sunset API should expect to handle (a permanent, non-retryable failure).
 */
import { createHash } from "node:crypto"
import type { IncomingMessage, ServerResponse } from "node:http"
import type { EmulatorContext, EmulatorHandle } from "../contracts.js"
import { pickBodyFault, preResponseFaults, SLOW_RESPONSE_MS, sendJson } from "../faults/applyFault.js"
import { listen } from "../httpServer.js"
import { StockyRenderer } from "./StockyRenderer.js"

/** Knobs for the Stocky emulator (UNCONFIRMED behaviours are configurable). */
export interface StockyEmulatorOptions {
  /** The `Store-Name` header value; should match the Shopify shop domain. */
  readonly storeName?: string
  /** Serve `stock_transfers` (2026 exporters say the API no longer exposes them). Default true. */
  readonly transfersEnabled?: boolean
  /** Answer every request as the discontinued service does (410 Gone). Default false. */
  readonly retired?: boolean
  /** Wrap single records as `{ "purchase_order": {...} }` instead of the documented bare object. */
  readonly singleWrapper?: boolean
  /** Requests per real-world second and burst per API key; null (default) disables. */
  readonly rateLimit?: { readonly requestsPerSecond: number; readonly burst: number } | null
  /** Duration of a slow_response fault, real ms. */
  readonly slowResponseMs?: number
  /**
   * IANA zone in which the store's local, offset-less values are written: `purchase_items[].
   * updated_at` ("DD/MM/YYYY HH:MM") and the date-only PO fields. `startSandbox` passes the
   * store's zone (Asia/Tokyo); the bare emulator defaults to "UTC" for compatibility.
   */
  readonly timeZone?: string
}

/** What a client needs to connect. */
export interface StockyCredentials {
  readonly storeName: string
  readonly apiKey: string
}

/** The running emulator; `setRetired` flips the shutdown switch at runtime. */
export interface StockyEmulatorHandle extends EmulatorHandle<StockyCredentials> {
  setRetired(retired: boolean): void
}

/** The message of the retired service. */
export const STOCKY_RETIRED_MESSAGE =
  "Stocky has been discontinued. Stocky and the Stocky API stopped working on August 31, 2026; manage purchase orders, transfers and adjustments in Shopify admin."

type Resource =
  | "purchase_orders"
  | "stock_adjustments"
  | "stock_adjustment_items"
  | "stock_transfers"
  | "suppliers"
  | "tax_types"
const SINGULAR: Record<Resource, string> = {
  purchase_orders: "purchase_order",
  stock_adjustments: "stock_adjustment",
  stock_adjustment_items: "stock_adjustment_item",
  stock_transfers: "stock_transfer",
  suppliers: "supplier",
  tax_types: "tax_type"
}
const NOT_FOUND: Record<Resource, string> = {
  purchase_orders: "No purchase orders found",
  stock_adjustments: "No stock adjustments found",
  stock_adjustment_items: "No stock adjustment items found",
  stock_transfers: "Stock transfer not found.",
  suppliers: "No supplier found",
  tax_types: "No tax types found"
}

interface Row {
  readonly id: number
  readonly updatedAt: number
  readonly adjustedAt: number | null
  readonly render: () => Record<string, unknown>
  readonly extra?: { readonly status?: string; readonly archived?: boolean }
}

/** Starts the emulator. */
export const startStockyEmulator = async (
  ctx: EmulatorContext & { readonly options?: StockyEmulatorOptions }
): Promise<StockyEmulatorHandle> => {
  const { merchant, faults, clock } = ctx
  const o = ctx.options ?? {}
  const storeName = o.storeName ?? "kura-sandbox.myshopify.com"
  const apiKey = createHash("sha256").update(`stocky:${merchant.options.seed}`).digest("hex").slice(0, 32)
  const transfersEnabled = o.transfersEnabled ?? true
  let retired = o.retired ?? false
  const slowMs = o.slowResponseMs ?? SLOW_RESPONSE_MS
  const r = new StockyRenderer(merchant, o.timeZone ?? "UTC")
  const now = () => clock.now()
  const stats = {
    requests: 0,
    unauthorized: 0,
    rateLimited: 0,
    retiredAnswers: 0,
    notFound: 0,
    recordsServed: 0
  }
  const bucket = o.rateLimit == null ? null : { tokens: o.rateLimit.burst, last: clock.elapsed() }

  const pos = merchant.purchaseOrders.filter((p) => p.system === "stocky")
  const adjustments = merchant.stockAdjustments.filter((a) => a.system === "stocky")
  const transfers = merchant.stockTransfers.filter((t) => t.system === "stocky")
  const taxRows =
    merchant.options.tax === "jp"
      ? [
          { id: 1, name: "Consumption tax (reduced)", code: "JCT", tax_rate: "8.0" },
          { id: 2, name: "Consumption tax", code: "JCT", tax_rate: "10.0" }
        ]
      : [
          { id: 1, name: "VAT reduced", code: "VAT", tax_rate: "7.0" },
          { id: 2, name: "VAT standard", code: "VAT", tax_rate: "19.0" }
        ]
  const setupAt = Math.min(...merchant.suppliers.map((s) => s.createdAt))

  const rows = (resource: Resource): ReadonlyArray<Row> => {
    switch (resource) {
      case "purchase_orders":
        return pos.map((p) => ({
          id: p.id,
          updatedAt: p.updatedAt,
          adjustedAt: null,
          render: () => r.purchaseOrder(p, now()),
          extra: r.poStatus(p, now())
        }))
      case "stock_adjustments":
        return adjustments.map((a) => ({
          id: a.id,
          updatedAt: a.updatedAt,
          adjustedAt: a.adjustedAt,
          render: () => r.stockAdjustment(a)
        }))
      case "stock_adjustment_items":
        return adjustments.flatMap((a) =>
          a.items.map((it) => ({
            id: it.id,
            updatedAt: a.updatedAt,
            adjustedAt: a.adjustedAt,
            render: () => r.stockAdjustmentItem(a, it),
            extra: { status: "adjusted" }
          }))
        )
      case "stock_transfers":
        return transfers.map((t) => ({
          id: t.id,
          updatedAt: t.updatedAt,
          adjustedAt: null,
          render: () => r.stockTransfer(t)
        }))
      case "suppliers":
        return merchant.suppliers.map((s) => ({
          id: s.id,
          updatedAt: s.updatedAt,
          adjustedAt: null,
          render: () => r.supplier(s)
        }))
      case "tax_types":
        return taxRows.map((t) => ({
          id: t.id,
          updatedAt: setupAt,
          adjustedAt: null,
          render: () => ({
            ...t,
            purpose: "purchase",
            accounting_tax_type: null,
            created_at: new Date(setupAt).toISOString(),
            updated_at: new Date(setupAt).toISOString()
          })
        }))
    }
  }

  const handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    stats.requests++
    if (await preResponseFaults(faults, "stocky", res, slowMs)) return
    const url = new URL(req.url ?? "/", "http://127.0.0.1")
    if (retired) {
      stats.retiredAnswers++
      return sendJson(res, 410, { errors: STOCKY_RETIRED_MESSAGE })
    }
    const auth = req.headers.authorization ?? ""
    const store = req.headers["store-name"]
    if (store !== storeName || auth !== `API KEY=${apiKey}`) {
      stats.unauthorized++
      const why =
        store === undefined
          ? "Missing Store-Name header"
          : store !== storeName
            ? "Unknown Store-Name"
            : auth === ""
              ? "Missing Authorization header"
              : "Invalid API key (expected Authorization: API KEY=<key>)"
      return sendJson(res, 401, { errors: why })
    }
    if (bucket !== null && o.rateLimit != null) {
      const t = clock.elapsed()
      const perMs = (o.rateLimit.requestsPerSecond / 1000) * clock.timeScale
      bucket.tokens = Math.min(o.rateLimit.burst, bucket.tokens + (t - bucket.last) * perMs)
      bucket.last = t
      if (bucket.tokens < 1) {
        stats.rateLimited++
        const wait = (1 - bucket.tokens) / perMs / 1000
        return sendJson(
          res,
          429,
          { errors: "Too many requests" },
          { "retry-after": (Math.ceil(wait * 100) / 100).toString() }
        )
      }
      bucket.tokens -= 1
    }
    if (faults.decide("stocky", "http_429"))
      return sendJson(
        res,
        429,
        { errors: "Too many requests" },
        // Two real-world seconds, scaled; rounded to ms and never "0" like every other Retry-After.
        { "retry-after": String(Math.max(0.001, Number((clock.scale(2000) / 1000).toFixed(3)))) }
      )
    if (faults.decide("stocky", "http_5xx")) return sendJson(res, 503, { errors: "Service Unavailable" })
    const m =
      /^\/api\/v2\/(purchase_orders|stock_adjustments|stock_adjustment_items|stock_transfers|suppliers|tax_types)(?:\/(\d+))?\.json$/.exec(
        url.pathname
      )
    if (m === null) {
      stats.notFound++
      return sendJson(res, 404, { errors: "Not Found" })
    }
    if (req.method !== "GET") return sendJson(res, 405, { errors: "Method Not Allowed" }, { allow: "GET" })
    const resource = m[1] as Resource
    if (resource === "stock_transfers" && !transfersEnabled) {
      stats.notFound++
      return sendJson(res, 404, { errors: "Not Found" })
    }
    const fault = pickBodyFault(faults, "stocky")
    const all = rows(resource)
    if (m[2] !== undefined) {
      const row = all.find((x) => x.id === Number(m[2]))
      if (row === undefined) {
        stats.notFound++
        return sendJson(res, 404, { errors: NOT_FOUND[resource] })
      }
      stats.recordsServed++
      return sendJson(
        res,
        200,
        o.singleWrapper === true ? { [SINGULAR[resource]]: row.render() } : row.render(),
        {},
        fault
      )
    }
    const q = url.searchParams
    const int = (name: string): number | null | "bad" => {
      const raw = q.get(name)
      if (raw === null || raw === "") return null
      return /^\d+$/.test(raw) ? Number(raw) : "bad"
    }
    const time = (name: string): number | null | "bad" => {
      const raw = q.get(name)
      if (raw === null || raw === "") return null
      const t = Date.parse(raw)
      return /^\d{4}-\d{2}-\d{2}/.test(raw) && !Number.isNaN(t) ? t : "bad"
    }
    const limitRaw = int("limit")
    const sinceId = int("since_id")
    const offset = int("offset")
    const updatedSince = time("updated_since")
    const adjustedSince = time("adjusted_since")
    for (const [name, v] of [
      ["limit", limitRaw],
      ["since_id", sinceId],
      ["offset", offset]
    ] as const) {
      if (v === "bad") return sendJson(res, 400, { errors: `${name} must be an Integer` })
    }
    for (const [name, v] of [
      ["updated_since", updatedSince],
      ["adjusted_since", adjustedSince]
    ] as const) {
      if (v === "bad")
        return sendJson(res, 400, {
          errors: `${name} must be a DateTime (ISO 8601, e.g. 2026-04-25T16:15:47-04:00)`
        })
    }
    // Documented default 50, maximum 250: larger values are clamped, not rejected.
    const limit = Math.max(1, Math.min(250, typeof limitRaw === "number" ? limitRaw : 50))
    const desc = resource === "purchase_orders"
    let list = [...all].sort((a, b) => (desc ? b.id - a.id : a.id - b.id))
    if (typeof updatedSince === "number") list = list.filter((x) => x.updatedAt >= updatedSince)
    if (
      typeof adjustedSince === "number" &&
      (resource === "stock_adjustments" || resource === "stock_adjustment_items")
    ) {
      list = list.filter((x) => x.adjustedAt !== null && x.adjustedAt >= adjustedSince)
    }
    const status = q.get("status")
    if (status !== null && resource === "stock_adjustment_items" && status !== "adjusted") list = []
    if (status !== null && resource === "purchase_orders") {
      const [state = "", unarchived] = status.split("-")
      list = list.filter(
        (x) => x.extra?.status === state && (unarchived === undefined || x.extra?.archived === false)
      )
    }
    // Purchase orders page downwards (since_id = "id less than"); everything else upwards.
    if (typeof sinceId === "number") list = list.filter((x) => (desc ? x.id < sinceId : x.id > sinceId))
    else if (typeof offset === "number") list = list.slice(offset)
    const page = list.slice(0, limit).map((x) => x.render())
    stats.recordsServed += page.length
    return sendJson(res, 200, { [resource]: page }, {}, fault)
  }

  const server = await listen(ctx.port, handler)
  return {
    baseUrl: server.baseUrl,
    credentials: { storeName, apiKey },
    setRetired: (value: boolean) => {
      retired = value
    },
    stats: () => ({ ...stats }),
    close: () => server.close()
  }
}
