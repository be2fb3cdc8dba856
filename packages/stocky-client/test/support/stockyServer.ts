/**
 * A small Stocky v2 server on 127.0.0.1 for tests that the sandbox's emulator cannot drive
 * (retirement variants, a server that ignores since_id, exact request capture). It answers like
 * the reference notes describe: wrapped lists, bare show objects, PO ids descending with
 * since_id meaning "less than", string prices, "DD/MM/YYYY HH:MM" purchase item timestamps.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"

export type Resource =
  | "purchase_orders"
  | "stock_adjustments"
  | "stock_adjustment_items"
  | "stock_transfers"
  | "suppliers"
  | "tax_types"

export interface ServerOptions {
  readonly storeName?: string
  readonly apiKey?: string
  /** Records per resource (POs, adjustments, items, transfers, suppliers); tax types are 3. */
  readonly count?: number
  /** Serve stock_transfers (default true). */
  readonly transfers?: boolean
  /** Simulate the shutdown. */
  readonly retired?: "none" | "404-html" | "410" | "200-html" | "404-json-everywhere"
  /** Ignore since_id (and page) like a broken proxy; offset still works. */
  readonly ignoreSinceId?: boolean
  /** Ignore since_id AND offset: paging can never advance. */
  readonly ignoreAllPaging?: boolean
  /** Answer the first N list requests with 429 + Retry-After: 0.05. */
  readonly rateLimitFirst?: number
  /** Cut the body of the first N list responses in half. */
  readonly truncateFirst?: number
  /** Wrap show responses as {"<singular>": {...}} instead of the bare object. */
  readonly singularWrapper?: boolean
  /** Max limit the server honours (default 250). */
  readonly maxLimit?: number
}

export interface SeenRequest {
  readonly method: string
  readonly path: string
  readonly query: URLSearchParams
  readonly headers: http.IncomingHttpHeaders
}

export interface TestStockyServer {
  readonly baseUrl: string
  readonly storeName: string
  readonly apiKey: string
  readonly data: Record<Resource, Array<Record<string, unknown>>>
  readonly requests: Array<SeenRequest>
  close(): Promise<void>
}

const iso = (ms: number) => new Date(ms).toISOString()
const dmy = (ms: number) => {
  // Rendered in Asia/Tokyo (UTC+9, no DST), as a Tokyo store's Stocky would.
  const d = new Date(ms + 9 * 3600_000)
  const p = (n: number) => String(n).padStart(2, "0")
  return `${p(d.getUTCDate())}/${p(d.getUTCMonth() + 1)}/${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}`
}

/** Deterministic records with Stocky's wire quirks. */
export const makeData = (count: number): Record<Resource, Array<Record<string, unknown>>> => {
  const t0 = Date.UTC(2025, 0, 1)
  const hour = 3600_000
  const suppliers = Array.from({ length: count }, (_, i) => ({
    id: i + 1,
    name: `Supplier ${i + 1}`,
    created_at: iso(t0 + i * hour),
    updated_at: iso(t0 + i * hour + 60_000),
    company_name: i % 3 === 0 ? null : `Company ${i + 1}`,
    account_number: `AC-${i}`,
    contact_name: "Aiko",
    contact_email: `s${i}@example.com`,
    address1: "1-2-3 Gion",
    address2: null,
    city: "Kyoto",
    province_code: "26",
    country_name: "Japan",
    zip: "605-0001",
    phone: "075-000-0000",
    phone_toll_free: null,
    fax: null,
    is_hidden: i % 7 === 0
  }))
  const tax_types = [
    {
      id: 1,
      name: "Standard",
      code: "GST",
      tax_rate: "10.0",
      purpose: "purchase",
      accounting_tax_type: null,
      created_at: iso(t0),
      updated_at: iso(t0)
    },
    {
      id: 2,
      name: "Reduced",
      code: "GST",
      tax_rate: "8.0",
      purpose: "purchase",
      accounting_tax_type: "RED",
      created_at: iso(t0),
      updated_at: iso(t0)
    },
    {
      id: 3,
      name: "Zero",
      code: "VAT",
      tax_rate: "0",
      purpose: "purchase",
      accounting_tax_type: null,
      created_at: iso(t0),
      updated_at: iso(t0)
    }
  ]
  const purchase_orders = Array.from({ length: count }, (_, i) => {
    const id = 1000 + i * 3
    const created = t0 + i * 5 * hour
    return {
      id,
      number: i % 10 === 0 ? `${id}A` : id,
      sequential_id: i + 1,
      invoice_number: i % 2 === 0 ? `INV-${i}` : null,
      created_at: iso(created),
      updated_at: iso(created + 30 * 60_000),
      generated_at: iso(created),
      ordered_at: i % 4 === 0 ? null : iso(created + hour),
      expected_on: "2025-02-01",
      ship_on: null,
      payment_due_on: null,
      invoice_date: "2025-01-15",
      archived: false,
      paid: i % 2 === 1,
      supplier_name: `Supplier ${(i % count) + 1}`,
      supplier_id: String((i % count) + 1),
      currency: "JPY",
      shopify_receive_location_id: 61_234_567_890 + (i % 3),
      adjustments: 0,
      adjustments_local: 0,
      shipping: "1200.00",
      shipping_local: 1200,
      shipping_tax_type: 1,
      purchase_items: Array.from({ length: 1 + (i % 3) }, (_, j) => ({
        id: id * 10 + j,
        sku: j === 2 ? "" : `SKU-${i}-${j}`,
        inventory_item_id: 44_000_000_000 + i * 10 + j,
        product_title: "Matcha",
        variant_title: "100g",
        asin: "",
        quantity: 5 + j,
        status: j === 0 ? "delivered" : "not delivered",
        retail_price: "49.61",
        cost_price: j === 1 ? null : "12.345",
        supplier_cost_price: "12.30",
        account_code: "300",
        tax_type_id: j === 1 ? null : 2,
        accounting_tax_type: "HST",
        received_at: j === 0 ? iso(created + 48 * hour) : null,
        updated_at: dmy(created + 49 * hour)
      }))
    }
  })
  const stock_adjustments = Array.from({ length: count }, (_, i) => ({
    id: 500 + i,
    sequential_id: i + 1,
    adjusted_at: i % 5 === 4 ? null : iso(t0 + i * 2 * hour),
    created_at: iso(t0 + i * 2 * hour),
    updated_at: iso(t0 + i * 2 * hour + 1000),
    archived: false,
    stock_adjustment_reason: i % 6 === 0 ? null : { id: 7, reason: "Damaged Products" },
    location: { id: 3, shopify_id: 61_234_567_890 }
  }))
  const stock_adjustment_items = Array.from({ length: count }, (_, i) => ({
    id: 9000 + i,
    quantity: i % 2 === 0 ? -2 : 3,
    updated_at: iso(t0 + i * hour),
    status: "adjusted",
    previous_quantity: 10,
    new_quantity: i % 2 === 0 ? 8 : 13,
    stock_adjustment_id: 500 + (i % count),
    adjusted_at: iso(t0 + i * hour),
    variant: {
      id: 70 + i,
      shopify_id: 39_000_000_000 + i,
      title: "Matcha 100g",
      sku: i % 4 === 0 ? "" : `SKU-${i}`,
      barcode: null
    }
  }))
  const stock_transfers = Array.from({ length: count }, (_, i) => ({
    id: 300 + i,
    note: "",
    sequential_id: i + 1,
    transferred_by: "Ken",
    from_location_id: 61_234_567_890,
    to_location_id: 61_234_567_891,
    created_at: iso(t0 + i * hour),
    updated_at: iso(t0 + i * hour),
    sent_at: i % 2 === 0 ? iso(t0 + i * hour + 1000) : null,
    received_at: null,
    stock_transfer_reason: "Replenish stock",
    archived: false,
    forecast_type: "last_days",
    restock_for: null,
    tracking_number: "",
    stock_transfer_items: [
      {
        id: 3000 + i,
        inventory_item_id: 44_000_000_000 + i,
        product_title: "Matcha",
        variant_title: "100g",
        quantity: 4,
        status: "not_transferred",
        received_at: null,
        updated_at: iso(t0 + i * hour)
      }
    ]
  }))
  return { purchase_orders, stock_adjustments, stock_adjustment_items, stock_transfers, suppliers, tax_types }
}

const SINGULAR: Record<Resource, string> = {
  purchase_orders: "purchase_order",
  stock_adjustments: "stock_adjustment",
  stock_adjustment_items: "stock_adjustment_item",
  stock_transfers: "stock_transfer",
  suppliers: "supplier",
  tax_types: "tax_type"
}

const RETIRED_HTML =
  "<!DOCTYPE html><html><body><h1>Stocky has been discontinued</h1><p>Stocky is no longer available.</p></body></html>"

export const startStockyServer = async (options: ServerOptions = {}): Promise<TestStockyServer> => {
  const storeName = options.storeName ?? "kyoto-tea.myshopify.com"
  const apiKey = options.apiKey ?? "0123456789abcdef0123456789abcdef"
  const data = makeData(options.count ?? 23)
  const requests: Array<SeenRequest> = []
  let listCalls = 0
  const maxLimit = options.maxLimit ?? 250

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost")
    requests.push({
      method: req.method ?? "",
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers
    })
    const send = (
      status: number,
      body: string,
      type = "application/json",
      extra: Record<string, string> = {}
    ) => {
      res.writeHead(status, { "content-type": type, ...extra })
      res.end(body)
    }
    const retired = options.retired ?? "none"
    if (retired === "404-html") return send(404, RETIRED_HTML, "text/html")
    if (retired === "410") return send(410, JSON.stringify({ errors: "Gone" }))
    if (retired === "200-html") return send(200, RETIRED_HTML, "text/html")
    if (retired === "404-json-everywhere") return send(404, JSON.stringify({ errors: "Not Found" }))

    if (req.headers["store-name"] !== storeName || req.headers.authorization !== `API KEY=${apiKey}`)
      return send(401, JSON.stringify({ errors: "Invalid API key or store name" }))
    const m = /^\/api\/v2\/([a-z_]+)(?:\/(\d+))?\.json$/.exec(url.pathname)
    const resource = m?.[1] as Resource | undefined
    if (!m || resource === undefined || !(resource in data))
      return send(404, JSON.stringify({ errors: "Not Found" }))
    if (resource === "stock_transfers" && options.transfers === false)
      return send(404, JSON.stringify({ errors: "Not Found" }))
    const rows = data[resource]
    if (m[2] !== undefined) {
      const row = rows.find((r) => r.id === Number(m[2]))
      if (!row) return send(404, JSON.stringify({ errors: `No ${resource.replace(/_/g, " ")} found` }))
      return send(200, JSON.stringify(options.singularWrapper ? { [SINGULAR[resource]]: row } : row))
    }
    listCalls++
    if (listCalls <= (options.rateLimitFirst ?? 0))
      return send(429, JSON.stringify({ errors: "Too many requests" }), "application/json", {
        "retry-after": "0.05"
      })
    const limit = Math.min(Number(url.searchParams.get("limit") ?? 50), maxLimit)
    const desc = resource === "purchase_orders"
    let list = [...rows].sort((a, b) => (desc ? Number(b.id) - Number(a.id) : Number(a.id) - Number(b.id)))
    const updatedSince = url.searchParams.get("updated_since")
    if (updatedSince) list = list.filter((r) => Date.parse(String(r.updated_at)) >= Date.parse(updatedSince))
    const adjustedSince = url.searchParams.get("adjusted_since")
    if (adjustedSince)
      list = list.filter(
        (r) => r.adjusted_at !== null && Date.parse(String(r.adjusted_at)) >= Date.parse(adjustedSince)
      )
    const sinceId = url.searchParams.get("since_id")
    const offset = Number(url.searchParams.get("offset") ?? 0)
    if (!options.ignoreAllPaging) {
      if (sinceId !== null && !options.ignoreSinceId)
        list = list.filter((r) => (desc ? Number(r.id) < Number(sinceId) : Number(r.id) > Number(sinceId)))
      else if (offset > 0) list = list.slice(offset)
    }
    let body = JSON.stringify({ [resource]: list.slice(0, limit) })
    if (listCalls <= (options.rateLimitFirst ?? 0) + (options.truncateFirst ?? 0))
      body = body.slice(0, body.length / 2)
    return send(200, body)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    baseUrl: `http://127.0.0.1:${port}/api/v2`,
    storeName,
    apiKey,
    data,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections()
        server.close((e) => (e ? reject(e) : resolve()))
      })
  }
}
