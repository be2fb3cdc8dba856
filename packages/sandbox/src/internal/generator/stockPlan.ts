/**
 * Stock movements that are not sales: opening counts, purchase orders (received at the warehouse),
 * weekly transfers to the shop and café, and monthly adjustments. Quantities follow the expected
 * demand of the order factory so stock stays plausible at any scale, and the whole plan is a few
 * hundred records regardless of the number of orders.
 */
import type { InjectedDiscrepancy, PurchaseOrder, StockAdjustment, StockTransfer } from "../model.js"
import { DAY_MS, HOUR_MS, STOCKY_SHUTDOWN_MS, shareOfHours } from "./calendar.js"
import { keyOf, Rng } from "./random.js"
import { CAFE, SHOP, WAREHOUSE, type World } from "./world.js"

/** The non-sales side of the inventory, plus per-cell aggregates (cell = variant × location). */
export interface StockPlan {
  readonly purchaseOrders: ReadonlyArray<PurchaseOrder>
  readonly stockAdjustments: ReadonlyArray<StockAdjustment>
  readonly stockTransfers: ReadonlyArray<StockTransfer>
  readonly discrepancies: ReadonlyArray<InjectedDiscrepancy>
  /** Net on-hand change from the plan's movements, per cell. */
  readonly movements: Float64Array
  /** Ordered-but-unreceived PO units plus in-transit transfer units, per cell. */
  readonly incoming: Float64Array
  /** Sum of injected discrepancy deltas, per cell. */
  readonly injected: Float64Array
  /** Latest movement time per cell. */
  readonly lastChange: Float64Array
  /** 1 when the variant is stocked at the location. */
  readonly stocked: Uint8Array
}

/** Cell index of (variant index, location index). */
export const cellOf = (variantIdx: number, locationIdx: number, locations: number): number =>
  variantIdx * locations + locationIdx

const E_QTY = 0.7 + 0.2 * 2 + 0.07 * 3 + 0.03 * 5
const E_LINES_ONLINE = 0.4 + 0.3 * 2 + 0.18 * 3 + 0.12 * 4
const E_LINES_CAFE = 0.5 + 0.3 * 2 + 0.2 * 3

/** Builds the stock plan. */
export const buildStockPlan = (w: World): StockPlan => {
  const L = w.locations.length
  const V = w.variants.length
  const cells = V * L
  const movements = new Float64Array(cells)
  const incoming = new Float64Array(cells)
  const injected = new Float64Array(cells)
  const lastChange = new Float64Array(cells)
  const stocked = new Uint8Array(cells)
  const anchor = w.options.anchor
  const rng = new Rng(keyOf(w.options.seed, 10, 0))
  const tl = w.timeline
  const total = tl.total

  const isCafe = new Uint8Array(V)
  for (const k of w.cafeVariants) isCafe[k] = 1
  for (let k = 0; k < V; k++) {
    stocked[cellOf(k, WAREHOUSE, L)] = 1
    stocked[cellOf(k, SHOP, L)] = 1
    if (isCafe[k] === 1) stocked[cellOf(k, CAFE, L)] = 1
  }

  const onlineTotal = w.onlineCum[w.onlineCum.length - 1] ?? 1
  const cafeTotal = w.cafeCum[w.cafeCum.length - 1] ?? 1
  const cafeWeight = new Float64Array(V)
  w.cafeVariants.forEach((k, j) => {
    cafeWeight[k] = (w.cafeCum[j] ?? 0) - (j === 0 ? 0 : (w.cafeCum[j - 1] ?? 0))
  })
  const weightOf = (k: number) => (w.onlineCum[k] ?? 0) - (k === 0 ? 0 : (w.onlineCum[k - 1] ?? 0))
  const shopShare = 0.6 * shareOfHours(10, 20)
  /** Expected units of variant k sold at location l over trading days [d0, d1). */
  const demand = (k: number, l: number, d0: number, d1: number): number => {
    const orders = total * tl.shareOfDays(Math.max(0, d0), Math.min(tl.days, d1))
    const online = total === 0 ? 0 : w.onlineCount / total
    if (l === WAREHOUSE) return orders * online * E_LINES_ONLINE * (weightOf(k) / onlineTotal) * E_QTY
    if (l === SHOP)
      return orders * (1 - online) * shopShare * E_LINES_ONLINE * (weightOf(k) / onlineTotal) * E_QTY
    return orders * (1 - online) * (1 - shopShare) * E_LINES_CAFE * ((cafeWeight[k] ?? 0) / cafeTotal) * E_QTY
  }

  const move = (k: number, l: number, qty: number, at: number) => {
    const c = cellOf(k, l, L)
    movements[c] = (movements[c] ?? 0) + qty
    if (at > (lastChange[c] ?? 0)) lastChange[c] = at
  }
  const system = (at: number): "stocky" | "shopify" => (at < STOCKY_SHUTDOWN_MS ? "stocky" : "shopify")
  const clampPast = (t: number): number | null => (t < anchor ? t : null)

  // Quantities cover expected demand plus a safety margin for the randomness of small volumes
  // (about three standard deviations), so stock does not go negative at any scale.
  const cover = (d: number): number => Math.ceil(d * 1.15 + 3 * Math.sqrt(2 * d))

  // Opening counts, two days before trading starts.
  const adjustments: Array<Omit<StockAdjustment, "id">> = []
  const openAt = tl.windowStart(0) - 2 * DAY_MS
  for (let l = 0; l < L; l++) {
    const items: Array<{ id: number; variantId: number; quantity: number }> = []
    for (let k = 0; k < V; k++) {
      if (stocked[cellOf(k, l, L)] !== 1) continue
      const own = demand(k, l, 0, l === WAREHOUSE ? 21 : 14)
      const qty = cover(own) + (l === WAREHOUSE ? 10 : 5)
      items.push({ id: 0, variantId: w.variants[k]?.id ?? 0, quantity: qty })
    }
    adjustments.push({
      locationId: w.locations[l]?.id ?? 0,
      reason: "initial count",
      adjustedAt: openAt,
      createdAt: openAt,
      updatedAt: openAt,
      system: system(openAt),
      items
    })
  }

  // Weekly: purchase orders per supplier into the warehouse (received before the week starts),
  // then transfers from the warehouse to the shop and café for the following week. Each week's
  // purchase orders fund that week's transfers exactly, plus the warehouse's own online demand.
  const pos: Array<Omit<PurchaseOrder, "id" | "number" | "malformed">> = []
  const transfers: Array<Omit<StockTransfer, "id">> = []
  for (let week = 0; ; week++) {
    const d0 = week * 7
    const weekStart = tl.windowStart(d0)
    const orderedBase = weekStart - 6 * DAY_MS + 2 * HOUR_MS
    if (orderedBase >= anchor) break
    const transferQty = (k: number, to: number): number =>
      stocked[cellOf(k, to, L)] === 1 ? cover(demand(k, to, d0 + 7, d0 + 14)) + 1 : 0
    for (const supplier of w.suppliers) {
      const orderedAt = orderedBase + supplier.id * 17 * 60_000
      if (orderedAt >= anchor) continue
      const receivedAt = clampPast(orderedAt + rng.range(3 * 24, 5 * 24) * HOUR_MS)
      const lines: Array<PurchaseOrder["lines"][number]> = []
      for (let k = 0; k < V; k++) {
        const variant = w.variants[k]
        if (variant === undefined || variant.supplierId !== supplier.id) continue
        const qty = cover(demand(k, WAREHOUSE, d0, d0 + 7)) + 1 + transferQty(k, SHOP) + transferQty(k, CAFE)
        lines.push({
          id: 0,
          variantId: variant.id,
          quantity: qty,
          unitCost: variant.unitCost,
          received: receivedAt !== null
        })
        if (receivedAt !== null) move(k, WAREHOUSE, qty, receivedAt)
        else incoming[cellOf(k, WAREHOUSE, L)] = (incoming[cellOf(k, WAREHOUSE, L)] ?? 0) + qty
      }
      pos.push({
        supplierId: supplier.id,
        locationId: w.locations[WAREHOUSE]?.id ?? 0,
        currency: w.currency,
        createdAt: orderedAt - 30 * 60_000,
        updatedAt: receivedAt ?? orderedAt,
        orderedAt,
        receivedAt,
        system: system(orderedAt - 30 * 60_000),
        lines
      })
    }
    // Transfers for the next week, sent the day before it starts.
    const sentBase = tl.windowStart(d0 + 6) + HOUR_MS
    if (sentBase >= anchor) continue
    for (const to of [SHOP, CAFE]) {
      const sentAt = sentBase + (to === CAFE ? 20 * 60_000 : 0)
      const receivedAt = clampPast(sentAt + 6 * HOUR_MS)
      const items: Array<{ id: number; variantId: number; quantity: number }> = []
      for (let k = 0; k < V; k++) {
        const qty = transferQty(k, to)
        if (qty === 0) continue
        items.push({ id: 0, variantId: w.variants[k]?.id ?? 0, quantity: qty })
        move(k, WAREHOUSE, -qty, sentAt)
        if (receivedAt !== null) move(k, to, qty, receivedAt)
        else incoming[cellOf(k, to, L)] = (incoming[cellOf(k, to, L)] ?? 0) + qty
      }
      transfers.push({
        fromLocationId: w.locations[WAREHOUSE]?.id ?? 0,
        toLocationId: w.locations[to]?.id ?? 0,
        createdAt: sentAt - HOUR_MS,
        updatedAt: receivedAt ?? sentAt,
        sentAt,
        receivedAt,
        system: system(sentAt - HOUR_MS),
        items
      })
    }
  }

  // Monthly recorded adjustments: breakage and stocktake corrections.
  for (let d = 15; d < tl.days; d += 30) {
    for (let l = 0; l < L; l++) {
      const at = tl.windowStart(d) + (l + 1) * HOUR_MS
      if (at >= anchor) continue
      const candidates: Array<number> = []
      for (let k = 0; k < V; k++) if (stocked[cellOf(k, l, L)] === 1) candidates.push(k)
      const damaged = candidates[rng.int(candidates.length)] ?? 0
      const q1 = -rng.range(1, 2)
      adjustments.push({
        locationId: w.locations[l]?.id ?? 0,
        reason: "damaged",
        adjustedAt: at,
        createdAt: at,
        updatedAt: at,
        system: system(at),
        items: [{ id: 0, variantId: w.variants[damaged]?.id ?? 0, quantity: q1 }]
      })
      const a = candidates[rng.int(candidates.length)] ?? 0
      let b = candidates[rng.int(candidates.length)] ?? 0
      if (b === a) b = candidates[(candidates.indexOf(a) + 1) % candidates.length] ?? a
      const qa = rng.chance(0.5) ? rng.range(1, 3) : -rng.range(1, 3)
      const qb = rng.chance(0.5) ? rng.range(1, 3) : -rng.range(1, 3)
      const at2 = at + 30 * 60_000
      adjustments.push({
        locationId: w.locations[l]?.id ?? 0,
        reason: "stocktake",
        adjustedAt: at2,
        createdAt: at2,
        updatedAt: at2 + 5 * 60_000,
        system: system(at2),
        items:
          a === b
            ? [{ id: 0, variantId: w.variants[a]?.id ?? 0, quantity: qa }]
            : [
                { id: 0, variantId: w.variants[a]?.id ?? 0, quantity: qa },
                { id: 0, variantId: w.variants[b]?.id ?? 0, quantity: qb }
              ]
      })
    }
  }

  // Ids follow creation order, as in a real database.
  let itemId = 1
  const sortedAdj = adjustments
    .sort((x, y) => x.createdAt - y.createdAt)
    .map(
      (a, i): StockAdjustment => ({ ...a, id: i + 1, items: a.items.map((it) => ({ ...it, id: itemId++ })) })
    )
  // Malformed Stocky adjustments (opt-in) are spread over the Stocky-era ones, like the POs below.
  const stockyAdj = sortedAdj.flatMap((a, i) => (a.system === "stocky" ? [i] : []))
  const badAdj = Math.min(w.options.malformedAdjustments ?? 0, stockyAdj.length)
  for (let j = 0; j < badAdj; j++) {
    const i = stockyAdj[Math.floor(((j + 0.5) * stockyAdj.length) / badAdj)] ?? 0
    const a = sortedAdj[i]
    if (a !== undefined) sortedAdj[i] = { ...a, malformed: true }
  }
  for (const a of sortedAdj) {
    const l = w.locationIndex.get(a.locationId) ?? 0
    for (const it of a.items) move(w.variantIndex.get(it.variantId) ?? 0, l, it.quantity, a.adjustedAt)
  }
  let poLineId = 1
  const sortedPos = pos
    .sort((x, y) => x.createdAt - y.createdAt)
    .map(
      (p, i): PurchaseOrder => ({
        ...p,
        id: i + 1,
        number: `PO-${String(i + 1).padStart(5, "0")}`,
        malformed: false,
        lines: p.lines.map((line) => ({ ...line, id: poLineId++ }))
      })
    )
  // Malformed Stocky records are spread over the Stocky-era purchase orders.
  const stockyIdx = sortedPos.flatMap((p, i) => (p.system === "stocky" ? [i] : []))
  const bad = Math.min(w.options.malformedPerSource, stockyIdx.length)
  for (let j = 0; j < bad; j++) {
    const i = stockyIdx[Math.floor(((j + 0.5) * stockyIdx.length) / bad)] ?? 0
    const p = sortedPos[i]
    if (p !== undefined) sortedPos[i] = { ...p, malformed: true }
  }
  let transferItemId = 1
  const sortedTransfers = transfers
    .sort((x, y) => x.createdAt - y.createdAt)
    .map(
      (t, i): StockTransfer => ({
        ...t,
        id: i + 1,
        items: t.items.map((it) => ({ ...it, id: transferItemId++ }))
      })
    )

  // Injected discrepancies: stock that changed without any record (theft, miscounts).
  const discrepancies: Array<InjectedDiscrepancy> = []
  const drng = new Rng(keyOf(w.options.seed, 11, 0))
  for (let j = 0; j < w.options.discrepancies; j++) {
    let k = drng.int(V)
    const l = drng.int(L)
    if (stocked[cellOf(k, l, L)] !== 1) k = w.cafeVariants[drng.int(w.cafeVariants.length)] ?? 0
    const shrink = drng.chance(0.6)
    const delta = shrink ? -drng.range(1, 4) : (drng.chance(0.5) ? 1 : -1) * drng.range(1, 6)
    const at = Math.max(w.historyStart, anchor - drng.range(1, 60 * 24) * HOUR_MS)
    const variant = w.variants[k]
    discrepancies.push({
      variantId: variant?.id ?? 0,
      sku: variant?.sku ?? "",
      locationId: w.locations[l]?.id ?? 0,
      kind: shrink ? "shrinkage" : "miscount",
      delta,
      at
    })
    const c = cellOf(k, l, L)
    injected[c] = (injected[c] ?? 0) + delta
    if (at > (lastChange[c] ?? 0)) lastChange[c] = at
  }

  return {
    purchaseOrders: sortedPos,
    stockAdjustments: sortedAdj,
    stockTransfers: sortedTransfers,
    discrepancies,
    movements,
    incoming,
    injected,
    lastChange,
    stocked
  }
}
