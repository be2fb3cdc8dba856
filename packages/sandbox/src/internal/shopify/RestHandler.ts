/**
 * The legacy REST Admin API endpoints a data pipeline still meets: orders, inventory_levels,
 * locations and products, with `Link` page_info pagination (filters live inside the cursor, so
 * sending one alongside `page_info` is a 400), limit default 50 / max 250, and `status=open` as
 * the orders default.
 */
import type { Order } from "../model.js"
import type { HandlerResponse } from "./GraphqlHandler.js"
import { countOrders, type OrderCursor, type OrderScanQuery, scanOrders } from "./OrderScan.js"
import { inventoryLevelJson, locationJson, orderJson, productJson } from "./RestRender.js"
import { ORDER_WINDOW_MS } from "./RootView.js"
import type { ShopifyState } from "./ShopifyState.js"
import type { TimeRange } from "./search.js"

type Params = ReadonlyMap<string, string>

const ALLOWED_WITH_PAGE_INFO = new Set(["limit", "fields", "page_info"])

const json = (status: number, value: unknown, headers?: Record<string, string>): HandlerResponse => ({
  status,
  body: JSON.stringify(value),
  ...(headers === undefined ? {} : { headers })
})

const encode = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString("base64url")

const decode = (
  v: string
): { readonly f: Record<string, string>; readonly i: number; readonly d: "next" | "prev" } | null => {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(v, "base64url").toString("utf8"))
    if (typeof parsed !== "object" || parsed === null) return null
    const f = Reflect.get(parsed, "f")
    const i = Reflect.get(parsed, "i")
    const d = Reflect.get(parsed, "d")
    if (typeof f !== "object" || f === null || typeof i !== "number" || (d !== "next" && d !== "prev"))
      return null
    const filters: Record<string, string> = {}
    for (const [k, val] of Object.entries(f)) if (typeof val === "string") filters[k] = val
    return { f: filters, i, d }
  } catch {
    return null
  }
}

const timeParam = (params: Params, name: string): number | null | "invalid" => {
  const v = params.get(name)
  if (v === undefined) return null
  const t = Date.parse(v)
  return Number.isNaN(t) ? "invalid" : t
}

const rangeOf = (params: Params, prefix: string): TimeRange | null | string => {
  const min = timeParam(params, `${prefix}_min`)
  const max = timeParam(params, `${prefix}_max`)
  if (min === "invalid") return `${prefix}_min`
  if (max === "invalid") return `${prefix}_max`
  if (min === null && max === null) return null
  return { from: min ?? Number.NEGATIVE_INFINITY, to: max === null ? Number.POSITIVE_INFINITY : max + 1 }
}

interface Paged<T = unknown> {
  readonly items: ReadonlyArray<T>
  readonly first: number | null
  readonly last: number | null
  readonly hasNext: boolean
  readonly hasPrev: boolean
}

/** Serves one REST call (already authenticated and rate-limited). */
export const handleRest = (
  st: ShopifyState,
  version: string,
  resource: string,
  raw: URLSearchParams
): HandlerResponse => {
  const params = new Map<string, string>()
  for (const [k, v] of raw) params.set(k.replace(/\[\]$/, ""), v)
  const pageInfo = params.get("page_info")
  let filters: Map<string, string> = params
  let cursor: { i: number; d: "next" | "prev" } | null = null
  if (pageInfo !== undefined) {
    for (const key of params.keys()) {
      if (!ALLOWED_WITH_PAGE_INFO.has(key)) {
        return json(400, {
          errors: {
            [key]: `${key} cannot be passed when page_info is present. See https://shopify.dev/api/usage/pagination-rest for more information.`
          }
        })
      }
    }
    const decoded = decode(pageInfo)
    if (decoded === null) return json(400, { errors: { page_info: "Invalid value." } })
    filters = new Map(Object.entries(decoded.f))
    cursor = { i: decoded.i, d: decoded.d }
  }
  const limitRaw = params.get("limit")
  const limit = limitRaw === undefined ? 50 : Math.min(250, Math.max(1, Number(limitRaw) || 50))
  const fields = params
    .get("fields")
    ?.split(",")
    .map((f) => f.trim())
    .filter((f) => f !== "")

  const respond = (root: string, paged: Paged): HandlerResponse => {
    const host = st.options.restLinkHost === "shop" ? `https://${st.shop.domain}` : st.baseUrl
    const base = `${host}/admin/api/${version}/${resource}.json`
    const links: Array<string> = []
    const f = Object.fromEntries(filters)
    const extra = fields === undefined ? "" : `&fields=${encodeURIComponent(fields.join(","))}`
    if (paged.hasPrev && paged.first !== null)
      links.push(
        `<${base}?limit=${limit}${extra}&page_info=${encode({ f, i: paged.first, d: "prev" })}>; rel="previous"`
      )
    if (paged.hasNext && paged.last !== null)
      links.push(
        `<${base}?limit=${limit}${extra}&page_info=${encode({ f, i: paged.last, d: "next" })}>; rel="next"`
      )
    const items =
      fields === undefined
        ? paged.items
        : paged.items.map((item) =>
            typeof item === "object" && item !== null
              ? Object.fromEntries(Object.entries(item).filter(([k]) => fields.includes(k)))
              : item
          )
    return json(200, { [root]: items }, links.length > 0 ? { Link: links.join(", ") } : undefined)
  }

  const pageArray = <T>(all: ReadonlyArray<T>): Paged<T> => {
    let start = 0
    let end = all.length
    if (cursor?.d === "next") start = cursor.i + 1
    if (cursor?.d === "prev") {
      end = cursor.i
      start = Math.max(0, end - limit)
    }
    const stop = Math.min(end, start + limit)
    return {
      items: all.slice(start, stop),
      first: start < stop ? start : null,
      last: start < stop ? stop - 1 : null,
      hasNext: stop < all.length,
      hasPrev: start > 0
    }
  }

  switch (resource) {
    case "orders":
    case "orders/count": {
      if (!st.scopes.has("read_orders"))
        return json(403, { errors: "[API] This action requires merchant approval for read_orders scope." })
      const q = restOrderQuery(st, filters)
      if (typeof q === "string") return json(400, { errors: { [q]: `${q} is not a valid date` } })
      if (resource === "orders/count")
        return json(200, { count: countOrders(st.merchant, q, Number.MAX_SAFE_INTEGER).count })
      const sinceId = filters.get("since_id")
      // Newest first by default; ascending when walking up from since_id.
      const reverse = sinceId === undefined
      const walkReverse = cursor?.d === "prev" ? !reverse : reverse
      const scanQ: OrderScanQuery = { ...q, reverse: walkReverse }
      const start: OrderCursor | null = cursor === null ? null : { index: cursor.i }
      const page = scanOrders(st.merchant, scanQ, start, limit)
      const orders: ReadonlyArray<Order> = cursor?.d === "prev" ? [...page.orders].reverse() : page.orders
      const firstOrder = orders[0]
      const lastOrder = orders[orders.length - 1]
      return respond("orders", {
        items: orders.map((o) => orderJson(st, o)),
        first: firstOrder?.index ?? null,
        last: lastOrder?.index ?? null,
        hasNext: cursor?.d === "prev" ? true : page.hasMore,
        hasPrev: cursor?.d === "prev" ? page.hasMore : cursor !== null
      })
    }
    case "locations": {
      if (!st.scopes.has("read_locations"))
        return json(403, { errors: "[API] This action requires merchant approval for read_locations scope." })
      return respond(
        "locations",
        pageArrayMap(pageArray(st.merchant.locations), (l) => locationJson(st, l))
      )
    }
    case "locations/count":
      return json(200, { count: st.merchant.locations.length })
    case "products": {
      if (!st.scopes.has("read_products"))
        return json(403, { errors: "[API] This action requires merchant approval for read_products scope." })
      const updated = rangeOf(filters, "updated_at")
      const created = rangeOf(filters, "created_at")
      if (typeof updated === "string" || typeof created === "string")
        return json(400, { errors: "Invalid date" })
      const sinceId = Number(filters.get("since_id") ?? 0)
      const all = st.merchant.products.filter(
        (p) =>
          p.id > sinceId &&
          (updated === null || (p.updatedAt >= updated.from && p.updatedAt < updated.to)) &&
          (created === null || (p.createdAt >= created.from && p.createdAt < created.to))
      )
      return respond(
        "products",
        pageArrayMap(pageArray(all), (p) => productJson(st, p))
      )
    }
    case "inventory_levels": {
      if (!st.scopes.has("read_inventory"))
        return json(403, { errors: "[API] This action requires merchant approval for read_inventory scope." })
      const items = filters.get("inventory_item_ids")?.split(",").map(Number)
      const locs = filters.get("location_ids")?.split(",").map(Number)
      if (items === undefined && locs === undefined) {
        return json(422, { errors: { base: ["inventory_item_ids or location_ids must be specified"] } })
      }
      const updated = timeParam(filters, "updated_at_min")
      if (updated === "invalid")
        return json(400, { errors: { updated_at_min: "updated_at_min is not a valid date" } })
      const variants = st.merchant.variants.filter(
        (v) => items === undefined || items.includes(v.inventoryItemId)
      )
      const locations = st.merchant.locations.filter((l) => locs === undefined || locs.includes(l.id))
      const pairs = variants.flatMap((v) =>
        locations
          .filter((l) => updated === null || st.merchant.inventory(v.id, l.id).updatedAt >= updated)
          .map((l) => [v, l] as const)
      )
      return respond(
        "inventory_levels",
        pageArrayMap(pageArray(pairs), ([v, l]) => inventoryLevelJson(st, v, l))
      )
    }
    default: {
      const single = /^orders\/(\d+)$/.exec(resource)
      if (single !== null) {
        const o = st.lookups.order(Number(single[1]))
        if (o === undefined || o.channel !== "online" || o.deletedAt !== null)
          return json(404, { errors: "Not Found" })
        return json(200, { order: orderJson(st, o) })
      }
      return json(404, { errors: "Not Found" })
    }
  }
}

const pageArrayMap = <T>(p: Paged<T>, f: (t: T) => unknown): Paged => ({ ...p, items: p.items.map(f) })

const restOrderQuery = (st: ShopifyState, filters: ReadonlyMap<string, string>): OrderScanQuery | string => {
  const created = rangeOf(filters, "created_at")
  const updated = rangeOf(filters, "updated_at")
  const processed = rangeOf(filters, "processed_at")
  if (typeof created === "string") return created
  if (typeof updated === "string") return updated
  if (typeof processed === "string") return processed
  let effectiveCreated: TimeRange | null = created
  if (!st.scopes.has("read_all_orders")) {
    const windowStart = st.clock.now() - ORDER_WINDOW_MS
    effectiveCreated = {
      from: Math.max(created?.from ?? windowStart, windowStart),
      to: created?.to ?? Number.POSITIVE_INFINITY
    }
  }
  const status = filters.get("status") ?? "open"
  const financial = filters.get("financial_status")
  const sinceId = filters.get("since_id")
  const ids = filters.get("ids")?.split(",").map(Number)
  return {
    created: effectiveCreated,
    updated,
    sort: "index",
    reverse: false,
    where: (o) => {
      if (status === "open" && o.cancelledAt !== null) return false
      if (status === "cancelled" && o.cancelledAt === null) return false
      if (status === "closed") return false
      if (processed !== null && (o.processedAt < processed.from || o.processedAt >= processed.to))
        return false
      if (sinceId !== undefined && o.id <= Number(sinceId)) return false
      if (ids !== undefined && !ids.includes(o.id)) return false
      if (financial !== undefined && financial !== "any") {
        const refunded = o.refunds.reduce((a, r) => a + r.amount, 0)
        const s =
          refunded >= o.total && refunded > 0 ? "refunded" : refunded > 0 ? "partially_refunded" : "paid"
        if (s !== financial) return false
      }
      return true
    }
  }
}
