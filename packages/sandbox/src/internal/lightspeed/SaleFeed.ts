/**
 * Turns the merchant's POS sales into K-Series sale records: one SALE per sale and one REFUND per
 * refund (a VOID, with its `voidReason` on the account and every line, when the refund voids the
 * sale), each with a sequence number `seq = orderIndex × 5 + k` (k = 0 for the sale, 1..4 for
 * refunds) that doubles as the V1 `accountFiscId` cursor. A sale's lines are rung up
 * (`timeOfSale`) a minute before it closes, or at its `rungUpAt` when the ticket was left open.
 *
 * Dating: a K-Series refund is a new REFUND account (negative lines, `source` pointing at the
 * sale), closed when it is made. Refunds generated with the history are till refunds, dated when
 * they happened in both versions. Refunds added later by `mutate` follow `LaterRefunds`:
 * `"till"` (default) dates them when made in V1 and V2 alike, so an incremental read of the
 * current business day sees them; `"backOffice"` treats them as back-office edits, which the docs
 * say V1 dates to the original transaction (its original business day) and V2 to the
 * modification time. Whether K-Series back-office refunds are historically dated is UNCONFIRMED.
 */
import { createHash } from "node:crypto"
import type { Merchant } from "../Merchant.js"
import type { Location, Order, Refund, Variant } from "../model.js"
import { decimal, iso, multiplier, percent } from "./format.js"

/** A sale or refund record located in time. */
export interface FeedRecord {
  readonly order: Order
  /** Refund rendered by this record, or null for the sale itself. */
  readonly refund: Refund | null
  readonly seq: number
  /** The time the version filters and sorts on. */
  readonly effectiveAt: number
  /** When the record was closed (timeofCloseAndPaid / timeClosed). */
  readonly closedAt: number
}

/** Position after which a page continues. */
export interface FeedCursor {
  readonly effectiveAt: number
  readonly seq: number
}

/** Where a paged query stopped scanning, so its next page does not scan again. */
export interface FeedResume {
  readonly scanIndex: number
  readonly pending: ReadonlyArray<FeedRecord>
  readonly revision: number
}

/** API generation being served. */
export type FinancialVersion = "v1" | "v2"

/** How refunds added after generation (by `mutate`) are dated; see the module comment. */
export type LaterRefunds = "till" | "backOffice"

const after = (r: FeedRecord, c: FeedCursor | null) =>
  c === null || r.effectiveAt > c.effectiveAt || (r.effectiveAt === c.effectiveAt && r.seq > c.seq)
const byTime = (a: FeedRecord, b: FeedRecord) => a.effectiveAt - b.effectiveAt || a.seq - b.seq

/** Reads sale records for one business location. */
export class SaleFeed {
  private readonly variants: ReadonlyMap<number, Variant>
  private readonly productType: ReadonlyMap<number, string>

  constructor(
    private readonly merchant: Merchant,
    private readonly laterRefunds: LaterRefunds = "till"
  ) {
    this.variants = new Map(merchant.variants.map((v) => [v.id, v]))
    const types = new Map<number, string>()
    for (const p of merchant.products) for (const id of p.variantIds) types.set(id, p.productType)
    this.productType = types
  }

  /** Whether r was added after generation (it lies after the data anchor). */
  private isLater(r: Refund): boolean {
    return r.createdAt >= this.merchant.options.anchor
  }

  /** Whether the version dates this refund to its original sale (V1 back-office dating). */
  private datedToSale(r: Refund, version: FinancialVersion): boolean {
    return version === "v1" && this.laterRefunds === "backOffice" && this.isLater(r)
  }

  /**
   * Records of order o that the sale scan places in time: the sale, till refunds and refunds dated
   * to the sale. Later refunds dated when made are found through the merchant's mutated orders.
   */
  private recordsOf(o: Order, version: FinancialVersion, out: Array<FeedRecord>): void {
    out.push({ order: o, refund: null, seq: o.index * 5, effectiveAt: o.createdAt, closedAt: o.createdAt })
    o.refunds.forEach((r, k) => {
      const toSale = this.datedToSale(r, version)
      if (this.isLater(r) && !toSale) return
      out.push({
        order: o,
        refund: r,
        seq: o.index * 5 + k + 1,
        effectiveAt: toSale ? o.createdAt : r.createdAt,
        closedAt: r.createdAt
      })
    })
  }

  /** The record with this seq, if it exists at this location. */
  recordAt(location: Location, seq: number, version: FinancialVersion): FeedRecord | undefined {
    const o = this.merchant.orderAt(Math.floor(seq / 5))
    if (o === undefined || o.channel !== "pos" || o.locationId !== location.id) return undefined
    const k = seq % 5
    if (k === 0) return { order: o, refund: null, seq, effectiveAt: o.createdAt, closedAt: o.createdAt }
    const r = o.refunds[k - 1]
    if (r === undefined) return undefined
    const effectiveAt = this.datedToSale(r, version) ? o.createdAt : r.createdAt
    return { order: o, refund: r, seq, effectiveAt, closedAt: r.createdAt }
  }

  /**
   * Up to `limit` records with effective time in [from, to) after `cursor`, sorted by time then
   * seq. Work is bounded by the page, not by history: the scan starts one refund-lag before the
   * cursor and stops as soon as no later sale can produce an earlier record. `resume` (returned by
   * the previous page of the same query) skips that look-back: scanning continues where it
   * stopped, with the records already found beyond the page.
   */
  page(
    location: Location,
    version: FinancialVersion,
    from: number,
    to: number,
    cursor: FeedCursor | null,
    limit: number,
    resume: FeedResume | null = null
  ): {
    readonly records: ReadonlyArray<FeedRecord>
    readonly more: boolean
    readonly resume: FeedResume | null
  } {
    const m = this.merchant
    const start = Math.max(from, cursor?.effectiveAt ?? from)
    const valid = resume !== null && resume.revision === m.revision
    const found: Array<FeedRecord> = valid ? resume.pending.filter((r) => after(r, cursor)) : []
    const local: Array<FeedRecord> = []
    const n = m.orderCount
    let stoppedEarly = false
    let i = valid ? resume.scanIndex : m.orderIndexAtOrAfter(start)
    if (!valid) {
      // Sales before the window can only contribute till refunds dated inside it: look those up
      // cheaply and generate just the sales that have one.
      for (let j = m.orderIndexAtOrAfter(start - m.maxBasePosUpdateLagMs); j < i; j++) {
        if (m.orderChannelAt(j) !== "pos") continue
        const t = m.baseRefundAt(j)
        if (t === null || t < start || t >= to) continue
        const o = m.orderAt(j)
        if (o === undefined || o.locationId !== location.id) continue
        local.length = 0
        this.recordsOf(o, version, local)
        for (const r of local)
          if (r.effectiveAt >= from && r.effectiveAt < to && after(r, cursor)) found.push(r)
      }
    }
    for (let step = 0; i < n; i++, step++) {
      if (m.orderChannelAt(i) !== "pos") continue
      const o = m.orderAt(i)
      if (o === undefined) break
      if (o.createdAt >= to) break
      if (step % 128 === 0 && found.length > limit) {
        found.sort(byTime)
        if (o.createdAt > (found[limit]?.effectiveAt ?? Infinity)) {
          stoppedEarly = true
          break
        }
      }
      if (o.locationId !== location.id) continue
      local.length = 0
      this.recordsOf(o, version, local)
      for (const r of local)
        if (r.effectiveAt >= from && r.effectiveAt < to && after(r, cursor)) found.push(r)
    }
    // Later refunds dated when made: their sale may be arbitrarily old, so they come from the
    // merchant's list of mutated orders (a refund is never later than its order's updatedAt).
    if (version === "v2" || this.laterRefunds === "till") {
      const seen = new Set(found.map((r) => r.seq))
      for (const idx of m.mutatedOrderIndexes(from, Infinity)) {
        const o = m.orderAt(idx)
        if (o === undefined || o.channel !== "pos" || o.locationId !== location.id) continue
        o.refunds.forEach((r, k) => {
          if (!this.isLater(r) || this.datedToSale(r, version)) return
          const rec: FeedRecord = {
            order: o,
            refund: r,
            seq: o.index * 5 + k + 1,
            effectiveAt: r.createdAt,
            closedAt: r.createdAt
          }
          if (rec.effectiveAt >= from && rec.effectiveAt < to && after(rec, cursor) && !seen.has(rec.seq))
            found.push(rec)
        })
      }
    }
    found.sort(byTime)
    const records = found.slice(0, limit)
    const pending = found.slice(limit)
    const more = stoppedEarly || pending.length > 0
    return { records, more, resume: more ? { scanIndex: i, pending, revision: m.revision } : null }
  }

  /** Renders a record in the version's field names. */
  render(
    rec: FeedRecord,
    version: FinancialVersion,
    includePayments: boolean,
    location: Location,
    code: string
  ): Record<string, unknown> {
    const o = rec.order
    const cur = o.currency
    const v2 = version === "v2"
    const refund = rec.refund
    const sign = refund === null ? 1 : -1
    const cafe = location.kind === "cafe"
    const h = hash(`${o.id}`)
    const staffId = 1000 + (h % 4)
    const staffName = ["Aiko", "Daichi", "Kenji", "Mari"][h % 4] ?? "Aiko"
    const deviceId = cafe ? 2 : 1
    const deviceName = cafe ? "Café iPad" : "Shop iPad"
    const openedAt = Math.min(
      o.createdAt - (cafe ? 20 + (h % 40) : 2 + (h % 4)) * 60_000,
      o.rungUpAt ?? Number.POSITIVE_INFINITY
    )
    // A line is rung up a minute before its account closes, or, on a ticket left open, when the
    // ticket's lines were (`rungUpAt`).
    const rungUpAt = refund === null && o.rungUpAt !== undefined ? o.rungUpAt : rec.closedAt - 60_000
    const voidReason = refund?.voidReason ?? null
    const qty = (q: number) => (v2 ? `${q}.000` : String(q))
    const lines: Array<Record<string, unknown>> = []
    const source =
      refund === null
        ? o.lines.map((l) => ({
            line: l,
            quantity: l.quantity,
            gross: l.unitPrice * l.quantity - l.discount,
            tax: l.taxLines.reduce((a, t) => a + t.amount, 0),
            restock: true
          }))
        : refund.lines.flatMap((rl) => {
            const line = o.lines.find((l) => l.id === rl.orderLineId)
            return line === undefined
              ? []
              : [{ line, quantity: rl.quantity, gross: rl.subtotal, tax: rl.tax, restock: rl.restock }]
          })
    source.forEach((s, j) => {
      const variant = this.variants.get(s.line.variantId)
      const rate = s.line.taxLines[0]?.rate ?? "0"
      const taxCode = `${rate === "0.08" || rate === "0.07" ? "RED" : "STD"}${percent(rate).replace(".00", "")}`
      const type = this.productType.get(s.line.variantId) ?? "other"
      const line: Record<string, unknown> = {
        id: `S${code}.${rec.seq * 8 + j}`,
        parentLineId: null,
        totalNetAmountWithTax: decimal(sign * s.gross, cur),
        totalNetAmountWithoutTax: decimal(sign * (s.gross - s.tax), cur),
        menuListPrice: decimal(s.line.unitPrice, cur),
        unitCostPrice: decimal(variant?.unitCost ?? 0, cur),
        serviceCharge: decimal(0, cur),
        serviceChargeType: "NO_SERVICE_CHARGE",
        serviceChargeRate: "0.00",
        discountAmount: decimal(refund === null ? s.line.discount : 0, cur),
        discountType: refund === null && s.line.discount > 0 ? "PERCENTAGE" : null,
        discountCode: refund === null && s.line.discount > 0 ? "STAFF10" : null,
        discountName: refund === null && s.line.discount > 0 ? "Staff 10%" : null,
        accountDiscountAmount: decimal(0, cur),
        accountDiscountType: null,
        accountDiscountCode: null,
        accountDiscountName: null,
        totalDiscountAmount: decimal(refund === null ? s.line.discount : 0, cur),
        taxCode,
        taxAmount: decimal(sign * s.tax, cur, v2 ? 6 : 4),
        taxRatePercentage: percent(rate),
        taxLines: [
          {
            taxId: String(41910290874370 + (rate === "0.08" || rate === "0.07" ? 1 : 2)),
            taxCode,
            taxRate: multiplier(rate),
            taxAmount: decimal(sign * s.tax, cur, 6),
            taxIncluded: o.taxesIncluded
          }
        ],
        sku: s.line.sku,
        name: s.line.title,
        nameOverride: null,
        statisticGroup: `[{"category":"Type","value":"${type}"}]`,
        quantity: qty(sign * s.quantity),
        accountingGroup: {
          accountingGroupId: 5000 + (type.length % 7),
          name: type,
          statisticGroup: "",
          code: type.toUpperCase().slice(0, 4)
        },
        currency: cur,
        tags: [],
        revenueCenter: location.name,
        revenueCenterId: location.stockyLocationId,
        categories: [{ category: "Type", value: type }],
        [v2 ? "timeOfSale" : "timeofSale"]: iso(rungUpAt),
        staffId,
        staffName,
        deviceId,
        deviceName,
        // Refunded goods that did not go back on the shelf carry a reason (sandbox convention:
        // "Broken"), so a client can tie stock out; restocked returns carry none. A void's lines
        // carry the void's reason ("User Mistake" restocked, a spoilage reason not).
        voidReason: voidReason ?? (s.restock ? null : "Broken"),
        accountProfileCode: cafe ? "eat-in" : "takeaway"
      }
      lines.push(line)
    })
    // Bad-record injection: one field with the wrong type, as a broken upstream would send.
    if (o.malformed && refund === null && lines[0] !== undefined) lines[0].totalNetAmountWithTax = "abc"

    const amount = refund === null ? o.total : -refund.amount
    const method = o.paymentMethod ?? "CARD"
    const payments = includePayments
      ? [
          {
            code: method,
            description: method === "CASH" ? "Cash" : method === "IC" ? "IC card (Suica)" : "Credit card",
            paymentMethodId: method === "CASH" ? 1 : method === "IC" ? 3 : 2,
            netAmountWithTax: decimal(amount, cur),
            currency: cur,
            tip: decimal(0, cur),
            surcharge: decimal(0, cur),
            type: "NORMAL",
            deviceId: String(deviceId),
            deviceName,
            staffId,
            staffName,
            authorization: method === "CARD" ? `AUTH${h % 1_000_000}` : null,
            externalReference: null,
            revenueCenter: location.name,
            revenueCenterId: location.stockyLocationId,
            fiscId: `T${code}.${rec.seq}`,
            uuid: createHash("sha256").update(`pay:${rec.seq}`).digest("base64url").slice(0, 22),
            fiscDate: iso(rec.closedAt),
            consumer: null
          }
        ]
      : []
    const sale: Record<string, unknown> = {
      accountReference: accountReference(o.id, rec.seq % 5),
      accountFiscId: `A${code}.${rec.seq}`,
      receiptId: `R${code}.${rec.seq}`,
      source:
        refund === null
          ? { initialAccountId: accountReference(o.id, 0) }
          : { initialAccountId: accountReference(o.id, 0), previousAccountId: accountReference(o.id, 0) },
      salesLines: lines,
      payments,
      [v2 ? "timeOfOpening" : "timeofOpening"]: iso(refund === null ? openedAt : rec.closedAt - 60_000),
      [v2 ? "timeClosed" : "timeofCloseAndPaid"]: iso(rec.closedAt),
      cancelled: false,
      externalFiscalNumber: null,
      tableNumber: cafe ? String(1 + (h % 12)) : null,
      tableName: cafe ? `Table ${1 + (h % 12)}` : null,
      accountProfileCode: cafe ? "eat-in" : "takeaway",
      ownerName: staffName,
      ownerId: staffId,
      type: refund === null ? "SALE" : voidReason !== null ? "VOID" : "REFUND",
      externalReferences: [],
      nbCovers: cafe ? 1 + (h % 4) : 0,
      dineIn: cafe,
      deviceId,
      deviceName,
      voidReason
    }
    return sale
  }
}

const hash = (s: string): number => createHash("md5").update(s).digest().readUInt32BE(0)

/** base64 of a 16-byte id, like K-Series' accountReference. */
export const accountReference = (orderId: number, k: number): string =>
  createHash("md5").update(`account:${orderId}:${k}`).digest("base64")
