/**
 * Ties the mapped warehouse out against the sandbox's ground truth: records pulled by the REAL
 * clients from the REAL emulators, mapped, then compared per table, per business date × channel
 * × location, and per SKU × location for stock.
 */
import { Decimal, toMinorUnits } from "@kura/core"
import type { GroundTruth } from "@kura/sandbox"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { CanonicalRows } from "../../src/Mapper.js"
import { StatusVocabulary } from "../../src/mappers/StatusVocabulary.js"
import type { CanonicalRow, CanonicalTableName } from "../../src/Tables.js"
import { type Mapped, mapAll, type Pulled, pull } from "./sandboxPull.js"

const count = <T>(rows: ReadonlyArray<T> | undefined, keep: (row: T) => boolean = () => true): number =>
  (rows ?? []).filter(keep).length

describe.each([
  { tax: "jp" as const, currency: "JPY" },
  { tax: "eu" as const, currency: "EUR" }
])("mapped sandbox data ($currency) ties out to the ground truth", ({ tax, currency }) => {
  let pulled: Pulled
  let mapped: Mapped
  let truth: GroundTruth

  beforeAll(async () => {
    pulled = await pull(tax)
    mapped = mapAll(pulled)
    truth = pulled.sandbox.groundTruth()
  }, 240_000)

  afterAll(async () => {
    await pulled?.sandbox.close()
  })

  /** Minor units (yen, cents) of an exact decimal amount, as the ground truth counts money. */
  const minor = (value: string | null): number =>
    value === null ? 0 : Number(toMinorUnits(Decimal.unsafeFrom(value), currency))

  it("row counts per table match", () => {
    const { shopify, lightspeed, stocky } = mapped
    const c = truth.counts
    expect(c.onlineOrders).toBeGreaterThan(100)
    expect(c.posSales).toBeGreaterThan(50)
    expect(pulled.orders[0]?.currencyCode).toBe(currency)
    expect(count(shopify.orders)).toBe(c.onlineOrders)
    expect(count(lightspeed.orders)).toBe(c.posSales)
    expect(count(shopify.order_lines) + count(lightspeed.order_lines)).toBe(c.orderLines)
    expect(count(shopify.refunds) + count(lightspeed.refunds)).toBe(c.refunds)
    expect(count(shopify.customers)).toBe(c.customers)
    expect(count(shopify.products)).toBe(c.products)
    expect(count(shopify.variants)).toBe(c.variants)
    expect(count(shopify.sku_map)).toBe(c.variants)
    expect(count(shopify.locations)).toBe(c.locations)
    expect(count(lightspeed.locations)).toBe(mapped.shopifyLocationOfBl.size)
    expect(count(stocky.purchase_orders)).toBe(c.purchaseOrders)
    expect(count(stocky.purchase_order_lines)).toBe(c.purchaseOrderLines)
    expect(count(stocky.suppliers)).toBe(c.suppliers)
    expect(count(shopify.payments) + count(lightspeed.payments)).toBe(c.transactions)
    const levels = new Set(
      (shopify.inventory_levels ?? []).map((r) => `${r.inventory_item_id}|${r.location_id}`)
    )
    expect(levels.size).toBe(c.inventoryLevels)
    expect(count(stocky.inventory_movements, (m) => m.reference_type === "stock_adjustment")).toBe(
      c.stockAdjustmentItems
    )
    // Every transfer line leaves one place; received ones arrive at another.
    expect(count(stocky.inventory_movements, (m) => m.kind === "transfer_out")).toBe(c.stockTransferItems)
  })

  it("every key is unique per table (no two rows collide on the primary key)", () => {
    for (const rows of [mapped.shopify, mapped.lightspeed, mapped.stocky]) {
      for (const [table, list] of Object.entries(rows)) {
        const keys = new Set(
          (list as ReadonlyArray<CanonicalRow<"orders">>).map(
            (r) => `${r.source}|${r.source_account}|${r.source_id}`
          )
        )
        expect(keys.size, table).toBe(list.length)
      }
    }
  })

  it("revenue, tax and refunds per business date × channel × location match exactly", () => {
    const locOf = (channel: string, location: string | null): string =>
      channel === "online" ? mapped.onlineLocationId : (mapped.shopifyLocationOfBl.get(location ?? "") ?? "?")
    const got = new Map<string, { orders: number; gross: number; tax: number; refunds: number }>()
    const row = (date: string, channel: string, location: string) => {
      const key = `${date}|${channel}|${location}`
      let r = got.get(key)
      if (r === undefined) {
        r = { orders: 0, gross: 0, tax: 0, refunds: 0 }
        got.set(key, r)
      }
      return r
    }
    const orders = [...(mapped.shopify.orders ?? []), ...(mapped.lightspeed.orders ?? [])]
    for (const o of orders) {
      const r = row(o.business_date, o.channel, locOf(o.channel, o.location_id))
      r.orders += 1
      r.gross += minor(o.total)
      r.tax += minor(o.tax)
    }
    for (const f of [...(mapped.shopify.refunds ?? []), ...(mapped.lightspeed.refunds ?? [])]) {
      row(f.business_date, f.channel, locOf(f.channel, f.location_id)).refunds += minor(f.amount)
    }
    const want = new Map(
      truth.revenueByDay.map((r) => [
        `${r.businessDate}|${r.channel}|${r.locationId}`,
        { orders: r.orders, gross: r.gross, tax: r.tax, refunds: r.refunds }
      ])
    )
    expect(truth.revenueByDay.length).toBeGreaterThan(40)
    expect(Object.fromEntries(got)).toEqual(Object.fromEntries(want))
  })

  it("stock derived from mapped movements equals the ground truth; injected discrepancies are the only differences against observed levels", () => {
    const movements = [
      ...(mapped.shopify.inventory_movements ?? []),
      ...(mapped.lightspeed.inventory_movements ?? []),
      ...(mapped.stocky.inventory_movements ?? [])
    ]
    for (const m of movements) expect(m.sku, `${m.source}:${m.source_id} has no SKU`).not.toBeNull()
    const derived = new Map<string, number>()
    for (const m of movements) {
      const key = `${m.sku}|${m.location_id}`
      derived.set(key, (derived.get(key) ?? 0) + m.quantity)
    }
    // K-Series does not say whether a refunded item went back on the shelf; the mapper restocks it
    // unless its line gives a spoilage reason, and the sandbox marks the goods that did not come
    // back "Broken". So nothing is unobservable: stock from movements is the ground truth's.
    const unobservable = new Map<string, number>()
    const spoiled = (mapped.lightspeed.inventory_movements ?? []).filter(
      (m) => m.kind === "refund_restock" && m.quantity === 0 && m.reason === "Broken"
    )
    const m = pulled.sandbox.merchant
    let notRestocked = 0
    for (let i = 0; i < m.orderCount; i++) {
      const o = m.orderAt(i)
      if (o === undefined || o.channel !== "pos") continue
      for (const r of o.refunds) for (const rl of r.lines) if (!rl.restock) notRestocked++
    }
    // (This merchant may have none; SandboxLightspeedVoids checks a merchant that has some.)
    expect(spoiled.length).toBe(notRestocked)
    const expected = new Map<string, number>()
    for (const e of truth.expectedStock) expected.set(`${e.sku}|${e.locationId}`, e.onHand)
    const diff: Record<string, number> = {}
    for (const key of new Set([...expected.keys(), ...derived.keys()])) {
      const d = (derived.get(key) ?? 0) - (expected.get(key) ?? 0)
      if (d !== 0) diff[key] = d
    }
    expect(diff).toEqual(Object.fromEntries(unobservable))

    // Observed on_hand (Shopify's inventory levels) minus stock from movements = injected discrepancies.
    const onHand = new Map<string, number>()
    for (const l of mapped.shopify.inventory_levels ?? [])
      if (l.quantity_name === "on_hand") onHand.set(`${l.sku}|${l.location_id}`, l.quantity)
    const observedDiff: Record<string, number> = {}
    for (const [key, qty] of onHand) {
      const d = qty - ((derived.get(key) ?? 0) - (unobservable.get(key) ?? 0))
      if (d !== 0) observedDiff[key] = d
    }
    const injected: Record<string, number> = {}
    for (const d of truth.discrepancies) {
      const key = `${d.sku}|${d.locationId}`
      injected[key] = (injected[key] ?? 0) + d.delta
    }
    expect(truth.discrepancies.length).toBeGreaterThan(0)
    expect(observedDiff).toEqual(injected)
  })

  it("every status column speaks one vocabulary across sources: a status is one group, whatever the channel", () => {
    const outside: Array<string> = []
    const groups = new Map<string, Set<string>>()
    for (const [name, rows] of Object.entries(mapped).filter(
      ([k]) => k !== "shopifyLocationOfBl" && k !== "onlineLocationId"
    ))
      for (const [key, bySource] of Object.entries(StatusVocabulary)) {
        const [table, column] = key.split(".") as [CanonicalTableName, string]
        for (const row of ((rows as CanonicalRows)[table] ?? []) as ReadonlyArray<
          Readonly<Record<string, unknown>>
        >) {
          const value = row[column]
          if (value === null || value === undefined) continue
          const source = String(row.source) as keyof typeof bySource
          if (!(bySource[source] ?? []).includes(String(value)))
            outside.push(`${name}: ${key} = ${String(value)}`)
          const g = groups.get(`${key}=${String(value)}`) ?? new Set<string>()
          groups.set(`${key}=${String(value)}`, g.add(String(row.source)))
        }
      }
    expect([...new Set(outside)].sort()).toEqual([])
    // The paid orders of both channels land in ONE financial_status group.
    expect([...(groups.get("orders.financial_status=PAID") ?? [])].sort()).toEqual(["lightspeed", "shopify"])
    expect([...(groups.get("orders.status=closed") ?? [])]).toContain("lightspeed")
    expect([...(groups.get("payments.kind=sale") ?? [])].sort()).toEqual(["lightspeed", "shopify"])
  })

  it("the REST / webhook order form maps to the same rows as the GraphQL form", () => {
    const LINEAGE = new Set(["updated_at", "_synced_at", "_batch_id", "_deleted_at"])
    // Fields only one API has: GraphQL display statuses and presentment refunds, refund updatedAt.
    const ONLY_ONE: Partial<Record<CanonicalTableName, ReadonlySet<string>>> = {
      orders: new Set(["refunded_presentment"]),
      refunds: new Set(["amount_presentment"]),
      order_lines: new Set(["total_presentment"])
    }
    const project = (rows: CanonicalRows, table: CanonicalTableName) =>
      Object.fromEntries(
        ((rows[table] ?? []) as ReadonlyArray<Readonly<Record<string, unknown>>>).map((r) => [
          String(r.source_id),
          Object.fromEntries(
            Object.entries(r)
              .filter(([k]) => !LINEAGE.has(k) && !(ONLY_ONE[table]?.has(k) ?? false))
              .map(([k, v]) => [
                k,
                typeof v === "string" && /^-?\d+\.\d+$/.test(v)
                  ? Decimal.unsafeFrom(v).normalize().toString()
                  : v
              ])
          )
        ])
      )
    expect(pulled.restOrders.length).toBe(pulled.orders.length)
    for (const table of [
      "orders",
      "order_lines",
      "refunds",
      "refund_lines",
      "tax_lines",
      "inventory_movements"
    ] as const) {
      const graphql = project(mapped.shopify, table)
      expect(Object.keys(graphql).length, table).toBeGreaterThan(0)
      const rest = project(mapped.shopifyRest, table)
      expect(rest, table).toEqual(graphql)
    }
  })
})
