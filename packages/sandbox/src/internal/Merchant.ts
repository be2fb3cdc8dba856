/**
 * The contract between the data generator and the emulators. The generator (`makeMerchant`)
 * implements it; the Shopify, Lightspeed and Stocky emulators only read through it.
 *
 * Everything an emulator pages over is addressed by a stable integer index so that pages are
 * O(page size), never O(history): orders are generated on demand from (seed, index).
 */
import type {
  Customer,
  InjectedDiscrepancy,
  InventoryQuantities,
  Location,
  Order,
  Product,
  PurchaseOrder,
  StockAdjustment,
  StockTransfer,
  Supplier,
  Variant
} from "./model.js"

/** Options that shape the generated merchant. */
export interface MerchantOptions {
  readonly seed: number
  /** Number of online (Shopify) orders; POS sales are generated in proportion. */
  readonly orders: number
  /** End of generated history (epoch ms). Same seed + same anchor = same data. */
  readonly anchor: number
  /** How many days of history to spread the orders over. */
  readonly historyDays: number
  /** "jp": 8% reduced / 10% standard consumption tax, JPY. "eu": EU VAT, EUR. */
  readonly tax: "jp" | "eu"
  /** How many inventory discrepancies (shrinkage, miscount) to inject. */
  readonly discrepancies: number
  /** How many records per source to render malformed (dead-letter tests). */
  readonly malformedPerSource: number
  /**
   * Stocky stock adjustments to render malformed (a non-integer `sequential_id`), spread over the
   * Stocky-era adjustments. Separate from `malformedPerSource` (orders, POS sales, purchase
   * orders) so tests counting those letters are unchanged. Default 0.
   */
  readonly malformedAdjustments?: number
  /**
   * Shopify customers to render malformed (an impossible `createdAt`), spread over all
   * customers. Opt-in and separate from `malformedPerSource`, like `malformedAdjustments`. Default 0.
   */
  readonly malformedCustomers?: number
  /**
   * Shopify products to render malformed (an impossible `createdAt` on the product itself; its
   * variants stay well-formed), spread over all products. Opt-in and separate from
   * `malformedPerSource`, like `malformedCustomers`. Default 0.
   */
  readonly malformedProducts?: number
  /** Hour (local) at which the POS business day rolls over, e.g. 5 for 05:00. */
  readonly cutoverHour: number
  /**
   * When a POS ticket's goods leave the stock Kura observes: `"close"` (default) when the account
   * closes (`timeClosed`), `"ringUp"` when its lines are rung up (`timeOfSale`). K-Series does not
   * document it (UNCONFIRMED); the ground truth's `posTickets` report the instant chosen.
   */
  readonly posStockMovesAt?: "close" | "ringUp"
}

/** What a correct pipeline must end with. */
export interface GroundTruth {
  readonly anchor: number
  readonly counts: {
    readonly onlineOrders: number
    readonly posSales: number
    readonly orderLines: number
    readonly refunds: number
    readonly customers: number
    readonly products: number
    readonly variants: number
    readonly locations: number
    readonly purchaseOrders: number
    readonly stockAdjustments: number
    readonly stockTransfers: number
    readonly suppliers: number
    readonly deletedOrders: number
    readonly malformed: { readonly shopify: number; readonly lightspeed: number; readonly stocky: number }
    /** Malformed Stocky stock adjustments (`malformedAdjustments`) and the items they hold. */
    readonly malformedAdjustments: { readonly adjustments: number; readonly items: number }
    /** Malformed Shopify customers (`malformedCustomers`); `customers` still counts them. */
    readonly malformedCustomers: number
    /** Malformed Shopify products (`malformedProducts`); `products` still counts them. */
    readonly malformedProducts: number
    /** Payment transactions (sale, authorization, capture, refund) of live, well-formed orders. */
    readonly transactions: number
    /** Stocked (variant, location) pairs: the inventory levels Shopify reports. */
    readonly inventoryLevels: number
    readonly purchaseOrderLines: number
    readonly stockAdjustmentItems: number
    readonly stockTransferItems: number
  }
  /** Revenue per business date, channel and location (minor units, tax included, after discounts, before refunds). */
  readonly revenueByDay: ReadonlyArray<{
    readonly businessDate: string
    readonly channel: "online" | "pos"
    readonly locationId: number
    readonly orders: number
    readonly units: number
    readonly gross: number
    readonly tax: number
    readonly refunds: number
  }>
  /**
   * Σ over customers of Shopify's `numberOfOrders` and `amountSpent` (minor units): every online
   * order still in Shopify (deleted ones excluded, malformed renderings included), spent = order
   * total − refunds.
   */
  readonly customerTotals: { readonly orders: number; readonly amountSpent: number }
  /** Expected on-hand per SKU and location from the movements alone. */
  readonly expectedStock: ReadonlyArray<{
    readonly sku: string
    readonly variantId: number
    readonly locationId: number
    readonly onHand: number
  }>
  readonly discrepancies: ReadonlyArray<InjectedDiscrepancy>
  /**
   * POS tickets left open a while (`createOrders` with `posTicketMs`): rung up at `rungUpAt`,
   * closed at `closedAt`, and the instant their goods left the stock (`stockMovedAt`, per
   * `posStockMovesAt`). A stock snapshot between the two instants sees them per `stockMovedAt`.
   */
  readonly posTickets: ReadonlyArray<{
    readonly orderId: number
    readonly locationId: number
    readonly rungUpAt: number
    readonly closedAt: number
    readonly stockMovedAt: number
    readonly lines: ReadonlyArray<{
      readonly variantId: number
      readonly sku: string
      readonly quantity: number
    }>
  }>
  /**
   * POS sales voided (`voidSales`): each void's reason and whether its goods went back on the
   * shelf (only "User Mistake"); `expectedStock` already holds the restocked ones.
   */
  readonly voids: ReadonlyArray<{
    readonly orderId: number
    readonly refundId: number
    readonly locationId: number
    readonly at: number
    readonly reason: string
    readonly restocked: boolean
    readonly lines: ReadonlyArray<{
      readonly variantId: number
      readonly sku: string
      readonly quantity: number
    }>
  }>
}

/** One change to an online order after generation, as Shopify's `events` feed records it. */
export interface OrderChange {
  readonly orderId: number
  readonly at: number
  readonly action: "update" | "destroy"
}

/** The lazily generated merchant. */
export interface Merchant {
  readonly options: MerchantOptions
  readonly locations: ReadonlyArray<Location>
  readonly products: ReadonlyArray<Product>
  readonly variants: ReadonlyArray<Variant>
  readonly suppliers: ReadonlyArray<Supplier>

  /** Number of customers; `customerAt(i)` for 0 <= i < customerCount. */
  readonly customerCount: number
  customerAt(index: number): Customer
  /** Ids of the customers the Shopify emulator renders malformed (`malformedCustomers`). */
  readonly malformedCustomerIds: ReadonlySet<number>
  /** Ids of the products the Shopify emulator renders malformed (`malformedProducts`). */
  readonly malformedProductIds: ReadonlySet<number>

  /** Number of orders of both channels; indexes are ordered by createdAt ascending. */
  readonly orderCount: number
  /** The order at this index, with mutations applied; undefined if out of range. */
  orderAt(index: number): Order | undefined
  /** First index whose createdAt >= t (binary search over the lazy sequence). */
  orderIndexAtOrAfter(t: number): number
  /**
   * Indexes of orders mutated since generation whose updatedAt lies in [from, to), ascending.
   * Emulators merge these with the base sequence for updated_at filters, because a mutated
   * order's updatedAt is far newer than its createdAt.
   */
  mutatedOrderIndexes(from: number, to: number): ReadonlyArray<number>
  /** Upper bound on (updatedAt − createdAt) for orders that were never mutated. */
  readonly maxBaseUpdateLagMs: number
  /** The same bound for POS sales only (till refunds happen within days, not weeks). */
  readonly maxBasePosUpdateLagMs: number

  readonly purchaseOrders: ReadonlyArray<PurchaseOrder>
  readonly stockAdjustments: ReadonlyArray<StockAdjustment>
  readonly stockTransfers: ReadonlyArray<StockTransfer>

  /** The observed inventory (what Shopify reports), including injected discrepancies. */
  inventory(variantId: number, locationId: number): InventoryQuantities

  /** Deletion events (order ids and when), for Shopify `events` and `orders/delete` webhooks. */
  deletions(): ReadonlyArray<{ readonly orderId: number; readonly at: number }>

  /**
   * Online orders created in [from, to) (ids and times, ascending), without generating them: the
   * `create` events of Shopify's `events` feed.
   */
  orderCreations(from: number, to: number): ReadonlyArray<{ readonly orderId: number; readonly at: number }>

  /**
   * Changes to online orders since generation, oldest first: each order `mutate` touched
   * (`update`) and each deletion (`destroy`), for Shopify's `events` feed.
   */
  orderChanges(): ReadonlyArray<OrderChange>

  /**
   * Change a deterministic fraction of orders now: bump updatedAt, add refunds (with restocks),
   * cancel some. Returns the touched order indexes so emulators can fire webhooks.
   */
  mutate(options: { readonly fraction: number; readonly now: number }): ReadonlyArray<number>

  /**
   * New orders arriving now (appended after the generated history, createdAt >= now); both
   * channels. Returns their indexes so emulators can fire orders/create webhooks. With
   * `posTicketMs`, each new POS sale is a ticket that was open that long: its lines were rung up
   * `posTicketMs` before it closes (at its createdAt), and `groundTruth().posTickets` lists it.
   */
  createOrders(options: {
    readonly count: number
    readonly now: number
    readonly posTicketMs?: number
  }): ReadonlyArray<number>

  /**
   * Voids `count` live POS sales now (K-Series VOID accounts linking back to each sale), chosen
   * deterministically, alternating the reason "User Mistake" (restocked) with a spoilage reason
   * (not restocked). A void refunds the whole remaining sale. Returns the voided sales' indexes.
   */
  voidSales(options: { readonly count: number; readonly now: number }): ReadonlyArray<number>

  /**
   * Deletes `count` live online orders now (Shopify orders/delete), chosen deterministically.
   * Returns their indexes (ascending) so the Shopify emulator can emit events and webhooks.
   */
  deleteOrders(options: { readonly count: number; readonly now: number }): ReadonlyArray<number>

  /**
   * When the refund or cancellation generated with order `index` happened (null if none), without
   * generating the order: lets emulators find till refunds in a time window cheaply. Refunds added
   * later by `mutate` are not included (use `mutatedOrderIndexes`).
   */
  baseRefundAt(index: number): number | null

  /** Channel of the order at this index without generating it; undefined if out of range. */
  orderChannelAt(index: number): "online" | "pos" | undefined

  /** Whether the variant is stocked at the location (the café stocks only café items). */
  stocked(variantId: number, locationId: number): boolean

  /** Increases whenever mutate, createOrders or deleteOrders changes anything (cache key for emulators). */
  readonly revision: number

  /**
   * Shopify's lifetime figures of a customer (`numberOfOrders`, `amountSpent` in minor units),
   * from the same incremental pass as the ground truth (the first call costs one pass).
   */
  customerStats(customerId: number): { readonly orders: number; readonly spent: number }

  /** What a correct pipeline must end with, given all mutations so far. */
  groundTruth(): GroundTruth
}
