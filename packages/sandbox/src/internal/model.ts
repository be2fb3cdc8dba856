/**
 * The sandbox's own model of one coherent merchant: the single source of truth that the three
 * emulators (Shopify, Lightspeed K-Series, Stocky) render into their own wire formats.
 *
 * Why a model of our own: the sandbox is the independent oracle. It must not share the clients'
 * understanding of the APIs, so it keeps plain facts (who bought what, where, when, for how much)
 * and each emulator decides how its API would show them.
 *
 * Conventions
 * - Money is an integer count of the currency's minor units (JPY: yen; EUR: cents). Never a float.
 * - Times are epoch milliseconds (UTC). Emulators format them as their API does.
 * - Ids are positive integers, unique per entity kind. Emulators build gids / string ids from them.
 * - Records are produced lazily and deterministically from (seed, index): memory must not grow with
 *   the number of orders. Only mutations and injected facts are kept in memory.
 */

/** A physical or virtual place that holds stock and/or sells. */
export interface Location {
  readonly id: number
  /** e.g. "Online warehouse", "Kyoto shop", "Kyoto café". */
  readonly name: string
  /** Which system sells here: the online store sells from the warehouse; the shop and café use Lightspeed. */
  readonly kind: "warehouse" | "shop" | "cafe"
  /** IANA time zone, e.g. "Asia/Tokyo". */
  readonly timeZone: string
  /** Lightspeed K-Series business location id (blID) when this location runs the POS; 14+ digits. */
  readonly lightspeedBlId: string | null
  /** Stocky's internal location id (Stocky also exposes the Shopify id). */
  readonly stockyLocationId: number
  readonly createdAt: number
}

/** A sellable variant. Its SKU is shared by every channel (Shopify, Lightspeed items, Stocky POs). */
export interface Variant {
  readonly id: number
  readonly productId: number
  /** Shopify InventoryItem id for this variant. */
  readonly inventoryItemId: number
  /** Lightspeed K-Series item id for the same SKU. */
  readonly lightspeedItemId: string
  /** Stocky's internal variant id. */
  readonly stockyVariantId: number
  readonly sku: string
  readonly title: string
  readonly barcode: string | null
  /** Selling price, tax included or not per the tax config, minor units. */
  readonly price: number
  /** Purchase cost from the supplier, minor units. */
  readonly unitCost: number
  /** Which tax rate applies (food vs standard). */
  readonly taxClass: "reduced" | "standard"
  readonly supplierId: number
}

/** A catalogue product grouping variants. */
export interface Product {
  readonly id: number
  readonly title: string
  /** matcha | miso | sake | rice | ramen | snacks | kitchenware */
  readonly productType: string
  readonly vendor: string
  readonly createdAt: number
  readonly updatedAt: number
  readonly variantIds: ReadonlyArray<number>
}

/** An online customer. */
export interface Customer {
  readonly id: number
  readonly firstName: string
  readonly lastName: string
  readonly email: string
  readonly createdAt: number
  readonly updatedAt: number
}

/** A tax line on an order line or shipping line. */
export interface TaxLine {
  readonly title: string
  /** Rate as a decimal string, e.g. "0.08" (emulators convert: Lightspeed multiplier "1.08", percent "8.00"). */
  readonly rate: string
  readonly amount: number
}

/** One line of an online order or a POS sale. */
export interface OrderLine {
  readonly id: number
  readonly variantId: number
  readonly sku: string
  readonly title: string
  readonly quantity: number
  readonly unitPrice: number
  /** Discount allocated to this line (total for the line), minor units. */
  readonly discount: number
  readonly taxLines: ReadonlyArray<TaxLine>
}

/** A refund of part of an order or sale. */
export interface Refund {
  readonly id: number
  readonly createdAt: number
  readonly note: string | null
  readonly lines: ReadonlyArray<{
    readonly id: number
    readonly orderLineId: number
    readonly quantity: number
    /** Whether stock went back on the shelf (refund_restock movement) and where. */
    readonly restock: boolean
    readonly locationId: number
    readonly subtotal: number
    readonly tax: number
  }>
  readonly shippingRefund: number
  /** Total money returned to the customer. */
  readonly amount: number
  /**
   * POS only: this refund is a K-Series VOID of the sale (a new account of type VOID linking back
   * to it), with this reason. Its lines go back on the shelf only when the reason is
   * "User Mistake" (rung up by mistake: the goods never left); any other reason (Broken,
   * Cooking, Taste, ...) means the goods were spoiled, and nothing comes back.
   */
  readonly voidReason?: string
}

/** A payment movement: sale, capture, refund. */
export interface Transaction {
  readonly id: number
  readonly kind: "sale" | "capture" | "authorization" | "refund"
  readonly status: "success" | "failure" | "pending"
  readonly gateway: string
  readonly amount: number
  readonly createdAt: number
  readonly parentId: number | null
}

/**
 * An online order (Shopify) or a POS sale (Lightspeed). One shape for both keeps the ground truth
 * simple; each emulator renders only what its API has.
 */
export interface Order {
  readonly id: number
  /** Position in the lazy sequence; stable, used as the emulators' natural cursor. */
  readonly index: number
  readonly channel: "online" | "pos"
  /** Where stock left from: the warehouse for online orders, the shop or café for POS sales. */
  readonly locationId: number
  /** "#1001" for Shopify, receipt id for POS. */
  readonly name: string
  readonly customerId: number | null
  readonly currency: string
  /** Presentment currency (online only; equals `currency` for POS). */
  readonly presentmentCurrency: string
  /** Presentment amount = shop amount × rate; a decimal string, e.g. "1" or "0.0064". */
  readonly presentmentRate: string
  readonly createdAt: number
  readonly processedAt: number
  /**
   * POS only: when the ticket's lines were rung up (K-Series `timeOfSale`), for a ticket left open
   * a while before it closed at `createdAt`; absent, they were rung up a minute before it closed.
   */
  readonly rungUpAt?: number
  readonly updatedAt: number
  readonly cancelledAt: number | null
  readonly cancelReason: string | null
  /** The business date (YYYY-MM-DD) in the location's zone, honouring the POS cutover hour. */
  readonly businessDate: string
  readonly lines: ReadonlyArray<OrderLine>
  readonly discountCode: string | null
  readonly shipping: number
  readonly shippingTax: ReadonlyArray<TaxLine>
  /** Σ(line quantity × unit price − line discount): Shopify's subtotal_price (after discounts). */
  readonly subtotal: number
  readonly totalDiscounts: number
  readonly totalTax: number
  /** subtotal + shipping (+ totalTax when taxes are not included). */
  readonly total: number
  /**
   * Whether prices already include tax (true for the generated JP and EU merchants). Refund line
   * `subtotal`s then include tax too, and Refund.amount = Σ subtotal + shippingRefund.
   */
  readonly taxesIncluded: boolean
  readonly refunds: ReadonlyArray<Refund>
  readonly transactions: ReadonlyArray<Transaction>
  /** POS only: how the sale was paid ("CASH", "CARD", "IC"). */
  readonly paymentMethod: string | null
  /** Soft-deleted (Shopify orders/delete); the emulator stops returning it and emits an event. */
  readonly deletedAt: number | null
  /**
   * True when the generator deliberately made this record malformed in its API rendering
   * (bad-record injection); counted in the ground truth so dead-letter tests can tie out.
   */
  readonly malformed: boolean
}

/** A supplier (Stocky). */
export interface Supplier {
  readonly id: number
  readonly name: string
  readonly createdAt: number
  readonly updatedAt: number
}

/** A purchase order and its lines; receipts add stock at the receiving location. */
export interface PurchaseOrder {
  readonly id: number
  readonly number: string
  readonly supplierId: number
  readonly locationId: number
  readonly currency: string
  readonly createdAt: number
  readonly updatedAt: number
  readonly orderedAt: number
  readonly receivedAt: number | null
  /** Which system holds it: Stocky before its shutdown, Shopify-native after. */
  readonly system: "stocky" | "shopify"
  readonly lines: ReadonlyArray<{
    readonly id: number
    readonly variantId: number
    readonly quantity: number
    readonly unitCost: number
    readonly received: boolean
  }>
  /** True when the Stocky emulator must render this record malformed (dead-letter tests). */
  readonly malformed: boolean
}

/** A manual stock adjustment (count correction, damage, shrinkage). */
export interface StockAdjustment {
  readonly id: number
  readonly locationId: number
  readonly reason: string
  readonly adjustedAt: number
  readonly createdAt: number
  readonly updatedAt: number
  readonly system: "stocky" | "shopify"
  /** True when the Stocky emulator must render this adjustment malformed (dead-letter tests). */
  readonly malformed?: boolean
  readonly items: ReadonlyArray<{
    readonly id: number
    readonly variantId: number
    /** Signed delta. */
    readonly quantity: number
  }>
}

/** A transfer of stock between two locations. */
export interface StockTransfer {
  readonly id: number
  readonly fromLocationId: number
  readonly toLocationId: number
  readonly createdAt: number
  readonly updatedAt: number
  readonly sentAt: number | null
  readonly receivedAt: number | null
  readonly system: "stocky" | "shopify"
  readonly items: ReadonlyArray<{
    readonly id: number
    readonly variantId: number
    readonly quantity: number
  }>
}

/** A discrepancy the generator injected on purpose: observed stock differs from the movements. */
export interface InjectedDiscrepancy {
  readonly variantId: number
  readonly sku: string
  readonly locationId: number
  readonly kind: "shrinkage" | "miscount"
  /** Observed − expected on-hand. */
  readonly delta: number
  readonly at: number
}

/** Named inventory quantities for one variant at one location, as Shopify reports them. */
export interface InventoryQuantities {
  readonly available: number
  readonly onHand: number
  readonly committed: number
  readonly incoming: number
  readonly reserved: number
  readonly damaged: number
  readonly safetyStock: number
  readonly qualityControl: number
  readonly updatedAt: number
}
