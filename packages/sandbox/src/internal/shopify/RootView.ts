/**
 * The GraphQL root values: `QueryRoot` and `Mutation` fields as methods, delegating to the views,
 * the order scanner, bulk operations and webhook subscriptions.
 */
import { GraphQLError, type GraphQLResolveInfo } from "graphql"
import type { Customer, Order, Product, PurchaseOrder, StockTransfer, Variant } from "../model.js"
import {
  connectionOf,
  decodeCursor,
  encodeCursor,
  type PageArgs,
  pageIndexed,
  pageSize
} from "./connection.js"
import { currencyExponent, gid, isoUtc, parseGid } from "./format.js"
import { countOrders, type OrderCursor, type OrderScanQuery, scanOrders } from "./OrderScan.js"
import { shopifyqlReport } from "./ShopifyqlReport.js"
import {
  compileSearch,
  dateRange,
  mayMatch,
  parseQuery,
  parseSearch,
  type SearchFields,
  SearchSyntaxError,
  type SearchTerm,
  type SearchWarning,
  type TimeRange
} from "./search.js"
import {
  accessDenied,
  CustomerView,
  InventoryItemView,
  InventoryLevelView,
  InventoryShipmentView,
  InventoryTransferView,
  LineItemView,
  LocationView,
  OrderView,
  ProductView,
  PurchaseOrderView,
  QUANTITY_NAMES,
  RefundView,
  type RequestContext,
  requireScope,
  transactionView,
  VariantView
} from "./views.js"

const DAY = 86_400_000

/** The window of orders visible without `read_all_orders`. */
export const ORDER_WINDOW_MS = 60 * DAY

const terms = (query: string | null | undefined): ReadonlyArray<SearchTerm> => {
  try {
    return parseSearch(query)
  } catch (e) {
    if (e instanceof SearchSyntaxError)
      throw new GraphQLError(e.message, { extensions: { code: "BAD_REQUEST" } })
    throw e
  }
}

const dates = (ts: ReadonlyArray<SearchTerm>, field: string): TimeRange | null => {
  try {
    return dateRange(ts, field)
  } catch (e) {
    if (e instanceof SearchSyntaxError)
      throw new GraphQLError(e.message, { extensions: { code: "BAD_REQUEST" } })
    throw e
  }
}

/**
 * Compiles a connection's `query:` into a record predicate; unknown fields become
 * `extensions.search` warnings (or a BAD_REQUEST error when configured).
 */
const matcher = <T>(
  ctx: RequestContext,
  field: string,
  query: string | null | undefined,
  spec: SearchFields<T>
): ((record: T) => boolean) => {
  const warnings: Array<SearchWarning> = []
  try {
    const p = compileSearch(query, spec, ctx.state.options.unknownSearchFields, warnings)
    if (warnings.length > 0 && query !== null && query !== undefined)
      ctx.search?.push({ path: [field], query, warnings })
    return p
  } catch (e) {
    if (e instanceof SearchSyntaxError)
      throw new GraphQLError(e.message, { extensions: { code: "BAD_REQUEST" } })
    throw e
  }
}

const financialStatus = (o: Order): string => {
  const refunded = o.refunds.reduce((a, r) => a + r.amount, 0)
  return refunded >= o.total && refunded > 0 ? "refunded" : refunded > 0 ? "partially_refunded" : "paid"
}

/** Order search fields (Shopify's `orders(query:)` filters the emulator can answer). */
const ORDER_FIELDS: SearchFields<Order> = {
  fields: {
    id: { kind: "number", get: (o) => o.id },
    created_at: { kind: "date", get: (o) => o.createdAt },
    updated_at: { kind: "date", get: (o) => o.updatedAt },
    processed_at: { kind: "date", get: (o) => o.processedAt },
    name: { kind: "text", get: (o) => [o.name, o.name.replace(/^#/, "")] },
    financial_status: { kind: "text", get: financialStatus },
    customer_id: { kind: "number", get: (o) => o.customerId },
    sku: { kind: "text", get: (o) => o.lines.map((l) => l.sku) },
    discount_code: { kind: "text", get: (o) => o.discountCode },
    status: {
      kind: "text",
      get: (o) => (o.cancelledAt === null ? "open" : "cancelled"),
      // The model never closes (archives) an order: `closed` matches none, `not_closed` all.
      match: (o, v) => {
        const s = v.toLowerCase()
        if (s === "any" || s === "not_closed") return true
        if (s === "open") return o.cancelledAt === null
        if (s === "cancelled") return o.cancelledAt !== null
        return false
      }
    }
  },
  text: (o) => [o.name]
}

const customerFields = (ctx: RequestContext): SearchFields<Customer> => ({
  fields: {
    id: { kind: "number", get: (c) => c.id },
    created_at: { kind: "date", get: (c) => c.createdAt },
    updated_at: { kind: "date", get: (c) => c.updatedAt },
    email: { kind: "text", get: (c) => c.email },
    first_name: { kind: "text", get: (c) => c.firstName },
    last_name: { kind: "text", get: (c) => c.lastName },
    orders_count: { kind: "number", get: (c) => ctx.state.merchant.customerStats(c.id).orders },
    total_spent: {
      kind: "number",
      // Searched in major units ("total_spent:>5000" yen, ">50.5" euros).
      get: (c) =>
        ctx.state.merchant.customerStats(c.id).spent / 10 ** currencyExponent(ctx.state.shop.currency)
    }
  },
  text: (c) => [c.firstName, c.lastName, c.email]
})

const productFields = (ctx: RequestContext): SearchFields<Product> => ({
  fields: {
    id: { kind: "number", get: (p) => p.id },
    created_at: { kind: "date", get: (p) => p.createdAt },
    updated_at: { kind: "date", get: (p) => p.updatedAt },
    title: { kind: "text", get: (p) => p.title },
    product_type: { kind: "text", get: (p) => p.productType },
    vendor: { kind: "text", get: (p) => p.vendor },
    status: { kind: "text", get: () => "active" },
    sku: {
      kind: "text",
      get: (p) => p.variantIds.map((id) => ctx.state.lookups.variants.get(id)?.sku ?? "")
    }
  },
  text: (p) => [p.title]
})

const variantFields = (ctx: RequestContext): SearchFields<Variant> => ({
  fields: {
    id: { kind: "number", get: (v) => v.id },
    sku: { kind: "text", get: (v) => v.sku },
    title: { kind: "text", get: (v) => v.title },
    barcode: { kind: "text", get: (v) => v.barcode },
    product_id: { kind: "number", get: (v) => v.productId },
    updated_at: { kind: "date", get: (v) => ctx.state.lookups.products.get(v.productId)?.updatedAt ?? 0 },
    created_at: { kind: "date", get: (v) => ctx.state.lookups.products.get(v.productId)?.createdAt ?? 0 }
  },
  text: (v) => [v.title, v.sku]
})

const inventoryItemFields = (ctx: RequestContext): SearchFields<Variant> => ({
  fields: {
    id: { kind: "number", get: (v) => v.inventoryItemId },
    sku: { kind: "text", get: (v) => v.sku },
    updated_at: { kind: "date", get: (v) => ctx.state.lookups.products.get(v.productId)?.updatedAt ?? 0 },
    created_at: { kind: "date", get: (v) => ctx.state.lookups.products.get(v.productId)?.createdAt ?? 0 }
  },
  text: (v) => [v.sku]
})

const transferFields = (ctx: RequestContext): SearchFields<StockTransfer> => ({
  fields: {
    id: { kind: "number", get: (t) => t.id },
    created_at: { kind: "date", get: (t) => t.createdAt },
    status: { kind: "text", get: (t) => new InventoryTransferView(t, ctx.state).status },
    origin_id: { kind: "number", get: (t) => t.fromLocationId },
    destination_id: { kind: "number", get: (t) => t.toLocationId }
  }
})

const PURCHASE_ORDER_FIELDS: SearchFields<PurchaseOrder> = {
  fields: {
    id: { kind: "number", get: (p) => p.id },
    created_at: { kind: "date", get: (p) => p.createdAt },
    updated_at: { kind: "date", get: (p) => p.updatedAt },
    name: { kind: "text", get: (p) => p.number }
  }
}

/**
 * One entry of the shop's `events` feed. The feed is what a shop's admin records: each online
 * order's creation (`create`), each later change (`update`) and deletion (`destroy`), and each
 * product's creation and last update. REST-era verbs: which verbs GraphQL events carry is
 * UNCONFIRMED (see the reference), deletions have used `destroy` since REST.
 */
interface ShopEvent {
  readonly eventId: number
  readonly at: number
  readonly action: "create" | "update" | "destroy"
  readonly subjectType: "ORDER" | "PRODUCT"
  readonly subjectId: number
}

const EVENT_FIELDS: SearchFields<ShopEvent> = {
  fields: {
    id: { kind: "number", get: (e) => e.eventId },
    created_at: { kind: "date", get: (e) => e.at },
    action: { kind: "text", get: (e) => e.action },
    subject_type: { kind: "text", get: (e) => e.subjectType },
    subject_id: { kind: "number", get: (e) => e.subjectId }
  }
}

/**
 * Event ids, stable across requests without numbering the whole feed: a change is its position
 * in the merchant's change log (1, 2, …); a creation is 2 × the subject's id + 1 and a product's
 * update 2 × its id + 2 (subject ids are ≥ 8.1e9, so the ranges never meet, and stay below 2^53).
 */
const creationEventId = (subjectId: number) => 2 * subjectId + 1
const updateEventId = (subjectId: number) => 2 * subjectId + 2

const EVENT_MESSAGE: Readonly<Record<ShopEvent["action"], string>> = {
  create: "was created.",
  update: "was updated.",
  destroy: "was deleted."
}

/**
 * Builds the order scan for a search query, enforcing the 60-day window: without
 * `read_all_orders`, older orders are invisible and asking for them explicitly is ACCESS_DENIED.
 */
export const orderScanQuery = (
  ctx: RequestContext,
  query: string | null | undefined,
  sortKey: string | null | undefined,
  field: string
): OrderScanQuery => {
  const ts = terms(query)
  let created = dates(ts, "created_at")
  const updated = dates(ts, "updated_at")
  if (!ctx.state.scopes.has("read_all_orders")) {
    const windowStart = ctx.now - ORDER_WINDOW_MS
    if (
      created !== null &&
      ((created.from < windowStart - DAY && Number.isFinite(created.from)) || created.to <= windowStart)
    ) {
      throw accessDenied(field, "read_all_orders")
    }
    created = {
      from: Math.max(created?.from ?? windowStart, windowStart),
      to: created?.to ?? Number.POSITIVE_INFINITY
    }
  }
  const where = matcher(ctx, field, query, ORDER_FIELDS)
  return { created, updated, where, sort: sortKey === "UPDATED_AT" ? "updated" : "index", reverse: false }
}

/** The online order as this token may see it: not deleted, and inside the 60-day window unless `read_all_orders`. */
const visibleOrder = (o: Order | undefined, ctx: RequestContext): Order | undefined => {
  if (o === undefined || o.channel !== "online" || o.deletedAt !== null) return undefined
  if (!ctx.state.scopes.has("read_all_orders") && o.createdAt < ctx.now - ORDER_WINDOW_MS) return undefined
  return o
}

const orderCursor = (o: Order, sort: "index" | "updated"): string =>
  encodeCursor(
    sort === "updated"
      ? { last_id: o.index, last_value: o.updatedAt }
      : { last_id: o.index, last_value: o.id }
  )

const count = (n: number, exact: boolean) => ({ count: n, precision: exact ? "EXACT" : "AT_LEAST" })

const countIndexed = <T>(
  n: number,
  at: (i: number) => T | undefined,
  ok: (t: T) => boolean,
  limit: number | null | undefined
) => {
  const cap = limit ?? Number.MAX_SAFE_INTEGER
  let c = 0
  for (let i = 0; i < n; i++) {
    const t = at(i)
    if (t !== undefined && ok(t)) {
      c++
      if (c >= cap) return count(cap, false)
    }
  }
  return count(c, true)
}

/** `QueryRoot`. */
export class QueryRootView {
  readonly __typename = "QueryRoot"

  shop(_args: unknown, ctx: RequestContext) {
    const s = ctx.state.shop
    const offset = s.timeZone === "UTC" ? 0 : undefined
    return {
      __typename: "Shop",
      id: gid("Shop", 1),
      name: s.name,
      email: `owner@${s.domain}`,
      contactEmail: `owner@${s.domain}`,
      myshopifyDomain: s.domain,
      currencyCode: s.currency,
      ianaTimezone: s.timeZone,
      timezoneAbbreviation: offset === 0 ? "UTC" : s.timeZone,
      enabledPresentmentCurrencies: [s.currency],
      taxesIncluded: true,
      createdAt: isoUtc(Math.min(...ctx.state.merchant.locations.map((l) => l.createdAt))),
      updatedAt: isoUtc(ctx.now),
      url: `https://${s.domain}`
    }
  }

  /**
   * The calling app's installation: what a token can do is what the merchant granted, so
   * `accessScopes` lists exactly the granted scopes (the emulator's `scopes` option), in the
   * order they were granted. Needs no scope itself, as on Shopify.
   */
  currentAppInstallation(_args: unknown, ctx: RequestContext) {
    return {
      __typename: "AppInstallation",
      id: gid("AppInstallation", 1),
      accessScopes: [...ctx.state.scopes].map((handle) => ({
        __typename: "AccessScope",
        handle,
        description: `Grants ${handle.replace("_", " access to ").replaceAll("_", " ")}.`
      }))
    }
  }

  orders(args: PageArgs, ctx: RequestContext) {
    requireScope(ctx, "read_orders", "orders")
    const q = orderScanQuery(ctx, args.query, args.sortKey, "orders")
    const { backward, limit } = pageSize(args, ctx.bulk)
    const reverse = (args.reverse ?? false) !== backward
    const raw = backward ? args.before : args.after
    const decoded = raw === null || raw === undefined ? null : decodeCursor(raw)
    const cursor: OrderCursor | null =
      decoded === null
        ? null
        : q.sort === "updated"
          ? { index: decoded.last_id ?? 0, updatedAt: decoded.last_value ?? 0 }
          : { index: decoded.last_id ?? 0 }
    const page = scanOrders(ctx.state.merchant, { ...q, reverse }, cursor, limit)
    const orders = backward ? [...page.orders].reverse() : page.orders
    return connectionOf(
      orders.map((o) => new OrderView(o, ctx.state)),
      (v) => orderCursor(v.o, q.sort),
      backward ? cursor !== null : page.hasMore,
      backward ? page.hasMore : cursor !== null
    )
  }

  order(args: { id: string }, ctx: RequestContext) {
    requireScope(ctx, "read_orders", "order")
    return this.orderById(args.id, ctx)
  }

  private orderById(id: string, ctx: RequestContext) {
    const g = parseGid(id)
    if (g === null || g.type !== "Order") return null
    const o = visibleOrder(ctx.state.lookups.order(g.id), ctx)
    return o === undefined ? null : new OrderView(o, ctx.state)
  }

  ordersCount(args: { query?: string | null; limit?: number | null }, ctx: RequestContext) {
    requireScope(ctx, "read_orders", "ordersCount")
    const q = orderScanQuery(ctx, args.query, null, "ordersCount")
    const r = countOrders(ctx.state.merchant, q, args.limit ?? Number.MAX_SAFE_INTEGER)
    return count(r.count, r.exact)
  }

  /** ShopifyQL over the sales report (`read_reports`); see ShopifyqlReport.ts for the subset. */
  shopifyqlQuery(args: { query: string }, ctx: RequestContext) {
    return shopifyqlReport(args, ctx)
  }

  customers(args: PageArgs, ctx: RequestContext) {
    requireScope(ctx, "read_customers", "customers")
    const where = matcher(ctx, "customers", args.query, customerFields(ctx))
    const m = ctx.state.merchant
    return pageIndexed(
      m.customerCount,
      (i) => m.customerAt(i),
      where,
      (c) => new CustomerView(c.id, ctx.state),
      args,
      ctx.bulk
    )
  }

  customer(args: { id: string }, ctx: RequestContext) {
    requireScope(ctx, "read_customers", "customer")
    const g = parseGid(args.id)
    return g?.type === "Customer" && ctx.state.lookups.customer(g.id) !== undefined
      ? new CustomerView(g.id, ctx.state)
      : null
  }

  customersCount(args: { query?: string | null; limit?: number | null }, ctx: RequestContext) {
    requireScope(ctx, "read_customers", "customersCount")
    const where = matcher(ctx, "customersCount", args.query, customerFields(ctx))
    const m = ctx.state.merchant
    return countIndexed(m.customerCount, (i) => m.customerAt(i), where, args.limit)
  }

  products(args: PageArgs, ctx: RequestContext) {
    requireScope(ctx, "read_products", "products")
    const where = matcher(ctx, "products", args.query, productFields(ctx))
    const ps = ctx.state.merchant.products
    return pageIndexed(
      ps.length,
      (i) => ps[i],
      where,
      (p) => new ProductView(p.id, ctx.state),
      args,
      ctx.bulk
    )
  }

  product(args: { id: string }, ctx: RequestContext) {
    requireScope(ctx, "read_products", "product")
    const g = parseGid(args.id)
    return g?.type === "Product" && ctx.state.lookups.products.has(g.id)
      ? new ProductView(g.id, ctx.state)
      : null
  }

  productsCount(args: { query?: string | null; limit?: number | null }, ctx: RequestContext) {
    requireScope(ctx, "read_products", "productsCount")
    const where = matcher(ctx, "productsCount", args.query, productFields(ctx))
    const ps = ctx.state.merchant.products
    return countIndexed(ps.length, (i) => ps[i], where, args.limit)
  }

  productVariants(args: PageArgs, ctx: RequestContext) {
    requireScope(ctx, "read_products", "productVariants")
    const where = matcher(ctx, "productVariants", args.query, variantFields(ctx))
    const vs = ctx.state.merchant.variants
    return pageIndexed(
      vs.length,
      (i) => vs[i],
      where,
      (v) => new VariantView(v, ctx.state),
      args,
      ctx.bulk
    )
  }

  productVariant(args: { id: string }, ctx: RequestContext) {
    requireScope(ctx, "read_products", "productVariant")
    const g = parseGid(args.id)
    const v = g?.type === "ProductVariant" ? ctx.state.lookups.variants.get(g.id) : undefined
    return v === undefined ? null : new VariantView(v, ctx.state)
  }

  productVariantsCount(args: { query?: string | null; limit?: number | null }, ctx: RequestContext) {
    requireScope(ctx, "read_products", "productVariantsCount")
    const where = matcher(ctx, "productVariantsCount", args.query, variantFields(ctx))
    const vs = ctx.state.merchant.variants
    return countIndexed(vs.length, (i) => vs[i], where, args.limit)
  }

  locations(args: PageArgs & { includeInactive?: boolean | null }, ctx: RequestContext) {
    requireScope(ctx, "read_locations", "locations")
    const ls =
      (args.sortKey ?? "NAME") === "NAME"
        ? [...ctx.state.merchant.locations].sort((a, b) =>
            a.name < b.name ? -1 : a.name > b.name ? 1 : a.id - b.id
          )
        : ctx.state.merchant.locations
    return pageIndexed(
      ls.length,
      (i) => ls[i],
      () => true,
      (l) => new LocationView(l, ctx.state),
      args,
      ctx.bulk
    )
  }

  location(args: { id?: string | null }, ctx: RequestContext) {
    requireScope(ctx, "read_locations", "location")
    const g = args.id === null || args.id === undefined ? null : parseGid(args.id)
    const l =
      g === null
        ? ctx.state.merchant.locations.find((x) => x.kind === "warehouse")
        : ctx.state.lookups.locations.get(g.id)
    return l === undefined ? null : new LocationView(l, ctx.state)
  }

  locationsCount(_args: unknown, ctx: RequestContext) {
    requireScope(ctx, "read_locations", "locationsCount")
    return count(ctx.state.merchant.locations.length, true)
  }

  inventoryItems(args: PageArgs, ctx: RequestContext) {
    requireScope(ctx, "read_inventory", "inventoryItems")
    const where = matcher(ctx, "inventoryItems", args.query, inventoryItemFields(ctx))
    const vs = ctx.state.merchant.variants
    return pageIndexed(
      vs.length,
      (i) => vs[i],
      where,
      (v) => new InventoryItemView(v, ctx.state),
      args,
      ctx.bulk
    )
  }

  inventoryItem(args: { id: string }, ctx: RequestContext) {
    requireScope(ctx, "read_inventory", "inventoryItem")
    const g = parseGid(args.id)
    const v = g?.type === "InventoryItem" ? ctx.state.lookups.variantsByInventoryItem.get(g.id) : undefined
    return v === undefined ? null : new InventoryItemView(v, ctx.state)
  }

  inventoryLevel(args: { id: string }, ctx: RequestContext) {
    requireScope(ctx, "read_inventory", "inventoryLevel")
    return this.levelByGid(args.id, ctx)
  }

  private levelByGid(id: string, ctx: RequestContext) {
    const g = parseGid(id)
    const itemId =
      g === null ? Number.NaN : Number(new URLSearchParams(g.query.slice(1)).get("inventory_item_id"))
    const v = ctx.state.lookups.variantsByInventoryItem.get(itemId)
    const l = g === null ? undefined : ctx.state.lookups.locations.get(g.id)
    return v === undefined || l === undefined || !ctx.state.merchant.stocked(v.id, l.id)
      ? null
      : new InventoryLevelView(v, l, ctx.state)
  }

  inventoryTransfers(args: PageArgs, ctx: RequestContext) {
    requireScope(ctx, "read_inventory_transfers", "inventoryTransfers")
    const where = matcher(ctx, "inventoryTransfers", args.query, transferFields(ctx))
    const list = ctx.state.lookups.transfers
    return pageIndexed(
      list.length,
      (i) => list[i],
      where,
      (t) => new InventoryTransferView(t, ctx.state),
      args,
      ctx.bulk
    )
  }

  inventoryTransfer(args: { id: string }, ctx: RequestContext) {
    requireScope(ctx, "read_inventory_transfers", "inventoryTransfer")
    const g = parseGid(args.id)
    const t = g?.type === "InventoryTransfer" ? ctx.state.lookups.transfersById.get(g.id) : undefined
    return t === undefined ? null : new InventoryTransferView(t, ctx.state)
  }

  inventoryShipment(args: { id: string }, ctx: RequestContext) {
    requireScope(ctx, "read_inventory_shipments", "inventoryShipment")
    const g = parseGid(args.id)
    const t = g?.type === "InventoryShipment" ? ctx.state.lookups.transfersById.get(g.id) : undefined
    return t === undefined || t.sentAt === null ? null : new InventoryShipmentView(t, ctx.state)
  }

  inventoryPurchaseOrders(args: PageArgs, ctx: RequestContext) {
    requireScope(ctx, "read_purchase_orders", "inventoryPurchaseOrders")
    const where = matcher(ctx, "inventoryPurchaseOrders", args.query, PURCHASE_ORDER_FIELDS)
    const list = ctx.state.lookups.purchaseOrders
    return pageIndexed(
      list.length,
      (i) => list[i],
      where,
      (p) => new PurchaseOrderView(p, ctx.state),
      args,
      ctx.bulk
    )
  }

  inventoryPurchaseOrder(args: { id: string }, ctx: RequestContext) {
    requireScope(ctx, "read_purchase_orders", "inventoryPurchaseOrder")
    const g = parseGid(args.id)
    const p =
      g?.type === "InventoryPurchaseOrder" ? ctx.state.lookups.purchaseOrdersById.get(g.id) : undefined
    return p === undefined ? null : new PurchaseOrderView(p, ctx.state)
  }

  /**
   * The events the query selects, oldest first. Kinds of event the query rules out (by `action`
   * and `subject_type`) are never built, and orders are read only within its top-level
   * `created_at` range, so a filtered read of a large shop costs what it returns.
   */
  private shopEvents(ctx: RequestContext, query: string | null | undefined, field = "events") {
    const where = matcher(ctx, field, query, EVENT_FIELDS)
    const expr = parseQuery(query)
    const range = dates(parseSearch(query), "created_at")
    const from = range?.from ?? Number.NEGATIVE_INFINITY
    const to = range?.to ?? Number.POSITIVE_INFINITY
    const may = (action: ShopEvent["action"], subjectType: ShopEvent["subjectType"]) =>
      mayMatch(expr, { action, subject_type: subjectType })
    const m = ctx.state.merchant
    const out: Array<ShopEvent> = []
    if (may("create", "ORDER"))
      for (const c of m.orderCreations(from, to))
        out.push({
          eventId: creationEventId(c.orderId),
          at: c.at,
          action: "create",
          subjectType: "ORDER",
          subjectId: c.orderId
        })
    if (may("update", "ORDER") || may("destroy", "ORDER"))
      m.orderChanges().forEach((c, k) => {
        if (c.at >= from && c.at < to)
          out.push({ eventId: k + 1, at: c.at, action: c.action, subjectType: "ORDER", subjectId: c.orderId })
      })
    for (const p of m.products) {
      if (may("create", "PRODUCT"))
        out.push({
          eventId: creationEventId(p.id),
          at: p.createdAt,
          action: "create",
          subjectType: "PRODUCT",
          subjectId: p.id
        })
      if (p.updatedAt > p.createdAt && may("update", "PRODUCT"))
        out.push({
          eventId: updateEventId(p.id),
          at: p.updatedAt,
          action: "update",
          subjectType: "PRODUCT",
          subjectId: p.id
        })
    }
    return out.filter(where).sort((a, b) => a.at - b.at || a.eventId - b.eventId)
  }

  events(args: PageArgs, ctx: RequestContext) {
    const list = this.shopEvents(ctx, args.query)
    return pageIndexed(
      list.length,
      (i) => list[i],
      () => true,
      (e) => ({
        __typename: "BasicEvent",
        id: gid("BasicEvent", e.eventId),
        action: e.action,
        subjectType: e.subjectType,
        subjectId: gid(e.subjectType === "ORDER" ? "Order" : "Product", e.subjectId),
        createdAt: isoUtc(e.at),
        message: `${e.subjectType === "ORDER" ? "Order" : "Product"} ${EVENT_MESSAGE[e.action]}`,
        appTitle: null,
        attributeToApp: false,
        attributeToUser: true,
        criticalAlert: false,
        hasAdditionalContent: false,
        author: "Shop owner",
        subject: null
      }),
      args,
      ctx.bulk
    )
  }

  eventsCount(args: { query?: string | null }, ctx: RequestContext) {
    const n = this.shopEvents(ctx, args.query, "eventsCount").length
    return n > 10_000 ? count(10_000, false) : count(n, true)
  }

  node(args: { id: string }, ctx: RequestContext) {
    const g = parseGid(args.id)
    if (g === null)
      throw new GraphQLError(`Invalid global id '${args.id}'`, {
        extensions: { code: "argumentLiteralsIncompatible" }
      })
    switch (g.type) {
      case "Order":
        return this.order({ id: args.id }, ctx)
      case "LineItem": {
        requireScope(ctx, "read_orders", "node")
        const o = visibleOrder(ctx.state.lookups.orderOf("line", g.id), ctx)
        const line = o?.lines.find((l) => l.id === g.id)
        return o === undefined || line === undefined ? null : new LineItemView(o, line, ctx.state)
      }
      case "Refund": {
        requireScope(ctx, "read_orders", "node")
        const o = visibleOrder(ctx.state.lookups.orderOf("refund", g.id), ctx)
        const r = o?.refunds.find((x) => x.id === g.id)
        return o === undefined || r === undefined ? null : new RefundView(o, r, ctx.state)
      }
      case "OrderTransaction": {
        requireScope(ctx, "read_orders", "node")
        const o = visibleOrder(ctx.state.lookups.orderOf("transaction", g.id), ctx)
        const t = o?.transactions.find((x) => x.id === g.id)
        return o === undefined || t === undefined ? null : transactionView(o, t, ctx.state)
      }
      case "Shop":
        return g.id === 1 ? this.shop({}, ctx) : null
      case "BasicEvent":
        return this.events({ query: `id:${g.id}`, first: 1 }, ctx).nodes[0] ?? null
      case "InventoryQuantity": {
        requireScope(ctx, "read_inventory", "node")
        const name = new URLSearchParams(g.query.slice(1)).get("name")
        const level = this.levelByGid(args.id.replace("InventoryQuantity", "InventoryLevel"), ctx)
        return level === null || name === null || !(name in QUANTITY_NAMES)
          ? null
          : (level.quantities({ names: [name] })[0] ?? null)
      }
      case "InventoryTransferLineItem":
      case "InventoryShipmentLineItem": {
        requireScope(
          ctx,
          g.type === "InventoryTransferLineItem" ? "read_inventory_transfers" : "read_inventory_shipments",
          "node"
        )
        const t = ctx.state.lookups.transferOfItem(g.id)
        const item = t?.items.find((i) => i.id === g.id)
        if (t === undefined || item === undefined) return null
        if (g.type === "InventoryTransferLineItem")
          return new InventoryTransferView(t, ctx.state).lineItem(item)
        return t.sentAt === null ? null : new InventoryShipmentView(t, ctx.state).lineItem(item)
      }
      case "InventoryPurchaseOrderLineItem": {
        requireScope(ctx, "read_purchase_orders", "node")
        const p = ctx.state.lookups.purchaseOrderOfLine(g.id)
        const line = p?.lines.find((l) => l.id === g.id)
        return p === undefined || line === undefined
          ? null
          : new PurchaseOrderView(p, ctx.state).lineItem(line)
      }
      case "Customer":
        return this.customer({ id: args.id }, ctx)
      case "Product":
        return this.product({ id: args.id }, ctx)
      case "ProductVariant":
        return this.productVariant({ id: args.id }, ctx)
      case "Location":
        return this.location({ id: args.id }, ctx)
      case "InventoryItem":
        return this.inventoryItem({ id: args.id }, ctx)
      case "InventoryLevel":
        return this.inventoryLevel({ id: args.id }, ctx)
      case "InventoryTransfer":
        return this.inventoryTransfer({ id: args.id }, ctx)
      case "InventoryShipment":
        return this.inventoryShipment({ id: args.id }, ctx)
      case "InventoryPurchaseOrder":
        return this.inventoryPurchaseOrder({ id: args.id }, ctx)
      case "BulkOperation":
        return ctx.state.bulk.view(args.id, ctx)
      case "WebhookSubscription":
        return ctx.state.webhooks.view(args.id)
      default:
        return null
    }
  }

  nodes(args: { ids: ReadonlyArray<string> }, ctx: RequestContext) {
    if (args.ids.length > 250) throw new GraphQLError("The ids argument accepts at most 250 ids.")
    return args.ids.map((id) => this.node({ id }, ctx))
  }

  bulkOperation(args: { id: string }, ctx: RequestContext) {
    return ctx.state.bulk.view(args.id, ctx)
  }

  currentBulkOperation(args: { type?: string | null }, ctx: RequestContext) {
    return ctx.state.bulk.current(args.type ?? "QUERY", ctx)
  }

  bulkOperations(args: PageArgs, ctx: RequestContext) {
    return ctx.state.bulk.list(args, ctx)
  }

  webhookSubscriptions(args: PageArgs & { topics?: ReadonlyArray<string> | null }, ctx: RequestContext) {
    const subs = ctx.state.webhooks
      .list()
      .filter((s) => args.topics === null || args.topics === undefined || args.topics.includes(s.topic))
    return pageIndexed(
      subs.length,
      (i) => subs[i],
      () => true,
      (s) => ctx.state.webhooks.viewOf(s),
      args,
      ctx.bulk
    )
  }

  webhookSubscription(args: { id: string }, ctx: RequestContext) {
    return ctx.state.webhooks.view(args.id)
  }
}

/** `Mutation`. */
export class MutationRootView {
  readonly __typename = "Mutation"

  bulkOperationRunQuery(
    args: { query: string; groupObjects?: boolean | null },
    ctx: RequestContext,
    info?: GraphQLResolveInfo
  ) {
    return ctx.state.bulk.runQuery(args.query, args.groupObjects ?? null, ctx, info)
  }

  bulkOperationCancel(args: { id: string }, ctx: RequestContext) {
    return ctx.state.bulk.cancel(args.id, ctx)
  }

  bulkOperationRunMutation() {
    return {
      bulkOperation: null,
      userErrors: [
        { field: null, message: "Bulk mutations are not emulated by the Kura sandbox.", code: "INVALID" }
      ]
    }
  }

  webhookSubscriptionCreate(
    args: {
      topic: string
      webhookSubscription: { uri?: string | null; callbackUrl?: string | null; format?: string | null }
    },
    ctx: RequestContext
  ) {
    return ctx.state.webhooks.create(
      args.topic,
      args.webhookSubscription.uri ?? args.webhookSubscription.callbackUrl ?? null,
      ctx.version
    )
  }

  webhookSubscriptionUpdate(
    args: { id: string; webhookSubscription: { uri?: string | null; callbackUrl?: string | null } },
    ctx: RequestContext
  ) {
    return ctx.state.webhooks.update(
      args.id,
      args.webhookSubscription.uri ?? args.webhookSubscription.callbackUrl ?? null,
      ctx
    )
  }

  webhookSubscriptionDelete(args: { id: string }, ctx: RequestContext) {
    return ctx.state.webhooks.delete(args.id)
  }
}
