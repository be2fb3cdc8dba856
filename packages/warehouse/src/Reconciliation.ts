/**
 * The typed report `Warehouse.reconcile()` returns: daily sales, source-vs-loaded counts per run
 * and the inventory check, read from the reconciliation views.
 */

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
}

/** The whole reconciliation, as of `generatedAt`. */
export interface ReconciliationReport {
  readonly generatedAt: number
  readonly dailySales: ReadonlyArray<DailySalesRow>
  readonly sourceReconciliation: ReadonlyArray<SourceReconciliationRow>
  /** Runs whose reported count or total did not match what was loaded. */
  readonly incompleteRuns: ReadonlyArray<SourceReconciliationRow>
  readonly inventory: ReadonlyArray<InventoryReconciliationRow>
  readonly inventoryDiscrepancies: ReadonlyArray<InventoryReconciliationRow>
  /**
   * Share (0..1) of SKU-locations whose latest checked day reconciles; null when no SKU-location
   * has two snapshots yet.
   */
  readonly inventoryAccuracy: number | null
}
