/**
 * The typed report `Warehouse.reconcile()` returns: daily sales, source-vs-loaded counts per run
 * and the inventory check, read from the reconciliation views.
 */
import type { RunApiUsage } from "./RunApiUsage.js"

/** One row of `v_daily_sales`. Money is a decimal string. */
export interface DailySalesRow {
  readonly businessDate: string
  readonly channel: string
  readonly locationId: string | null
  readonly currency: string | null
  readonly revenue: string
  readonly orders: number
  readonly units: number
  readonly tax: string
  readonly refunds: string
  readonly netRevenue: string
}

/** One row of `v_source_reconciliation`. */
export interface SourceReconciliationRow {
  readonly runId: string
  readonly source: string
  readonly sourceAccount: string
  readonly stream: string
  readonly status: string
  readonly cursorBefore: string | null
  readonly cursorAfter: string | null
  readonly reportedCount: number | null
  readonly rowsFetched: number | null
  readonly rowsLoaded: number | null
  readonly reportedTotal: string | null
  readonly loadedTotal: string | null
  readonly countMatches: boolean
  readonly totalMatches: boolean
  /** Why the run is incomplete or failed (the ledger's detail), else null. */
  readonly detail: string | null
  /** What the run cost the API, when the runner recorded it. */
  readonly apiUsage: RunApiUsage | null
}

/** One row of `v_inventory_reconciliation`. */
export interface InventoryReconciliationRow {
  readonly source: string
  readonly sourceAccount: string
  readonly sku: string
  readonly locationId: string
  readonly snapshotDate: string
  readonly previousQuantity: number | null
  readonly netMovement: number
  readonly expectedQuantity: number | null
  readonly observedQuantity: number
  readonly discrepancy: number | null
  /** baseline (no earlier snapshot), reconciled or discrepancy. */
  readonly status: "baseline" | "reconciled" | "discrepancy"
  readonly likelyCause: string | null
  /**
   * Shopify orders of this account that were deleted in this row's window before Kura read them
   * (`v_deleted_before_read`); a shortfall with any is labelled `deleted_before_read`.
   */
  readonly deletedBeforeRead: number
  /**
   * Lightspeed tickets open at one of this row's two snapshots: rung up (the movement's date,
   * `timeOfSale`) at or before it, closed after it. Which instant K-Series stock moves at is not
   * documented, so the row carries both expectations.
   */
  readonly openTickets: number
  /**
   * The expected on-hand with those tickets' lines dated when the ticket closed instead; a
   * discrepancy it matches exactly is labelled `open_ticket_at_snapshot`. Null on a baseline row.
   */
  readonly expectedQuantityAtClose: number | null
  /**
   * Lightspeed sales of this SKU voided in this row's window. Kura puts a void's goods back on
   * the shelf unless its reason says they were spoiled; K-Series does not document it, so a
   * discrepancy with any is labelled `voided_sale`.
   */
  readonly voidedSales: number
}

/** One row of `v_sku_ambiguities`: a SKU several variants of one account share by matching. */
export interface SkuAmbiguityRow {
  readonly source: string
  readonly sourceAccount: string
  readonly sku: string
  readonly variantCount: number
  /** The lowest and highest of the variant ids (enough to find them). */
  readonly firstVariantId: string
  readonly lastVariantId: string
}

/** The whole reconciliation, as of `generatedAt`. */
export interface ReconciliationReport {
  readonly generatedAt: number
  readonly dailySales: ReadonlyArray<DailySalesRow>
  readonly sourceReconciliation: ReadonlyArray<SourceReconciliationRow>
  /** Runs whose reported count or total did not match what was loaded. */
  readonly incompleteRuns: ReadonlyArray<SourceReconciliationRow>
  /** Runs that failed (their cursor did not move); `detail` says why. */
  readonly failedRuns: ReadonlyArray<SourceReconciliationRow>
  /**
   * One line per problem, naming the stream, account and run (or the SKU, location and day):
   * incomplete and failed runs, ambiguous SKUs, then inventory discrepancies. Empty when
   * everything ties out.
   */
  readonly problems: ReadonlyArray<string>
  readonly inventory: ReadonlyArray<InventoryReconciliationRow>
  /** Every discrepancy: the explained ones below and the unexplained ones. */
  readonly inventoryDiscrepancies: ReadonlyArray<InventoryReconciliationRow>
  /**
   * Discrepancies the warehouse's own evidence may explain (likely cause `deleted_before_read`): a
   * shortfall in a window in which Shopify orders Kura never read were deleted. Their lines are
   * unknown, so this is a possible explanation, kept apart from the unexplained ones.
   */
  readonly inventoryDeletedBeforeRead: ReadonlyArray<InventoryReconciliationRow>
  /**
   * Discrepancies that are a timing difference (likely cause `open_ticket_at_snapshot`): a
   * Lightspeed ticket was open at a snapshot, and with its lines dated when it closed the row
   * reconciles exactly. The neighbouring window shows the opposite difference, also labelled.
   */
  readonly inventoryOpenTickets: ReadonlyArray<InventoryReconciliationRow>
  /**
   * Discrepancies a Lightspeed void may explain (likely cause `voided_sale`): a sale of the SKU
   * was voided in the window, and whether its goods went back on the shelf is Kura's policy
   * (by void reason), not something K-Series reports.
   */
  readonly inventoryVoidedSales: ReadonlyArray<InventoryReconciliationRow>
  /** Discrepancies with no explanation in the warehouse: shrinkage, miscounts, missing syncs. */
  readonly inventoryUnexplained: ReadonlyArray<InventoryReconciliationRow>
  /**
   * SKUs that link nothing because several variants of one account share them: their stock is
   * checked per variant and no other channel's movements are placed on them until a manual
   * `sku_map` override says which variant is meant.
   */
  readonly ambiguousSkus: ReadonlyArray<SkuAmbiguityRow>
  /**
   * Share (0..1) of SKU-locations whose latest checked day reconciles; null when no SKU-location
   * has two snapshots yet.
   */
  readonly inventoryAccuracy: number | null
}
