/** What one window did: the numbers the summary ledger and the reconciliation are built from. */
import type { PlannedWindow } from "./Plan.js"

/** The result of fetching and loading one window. */
export interface WindowOutcome {
  readonly window: PlannedWindow
  /** What the API said the window holds, or null when it reports no exact count. */
  readonly reportedCount: number | null
  /** Records streamed from the API. */
  readonly fetched: number
  /** Distinct records in the warehouse for the window's batch. */
  readonly loaded: number
  /** Canonical rows written (0 until the canonical step is wired). */
  readonly canonicalRows: number
  /** API budget used (query points; estimated where the API hides it). */
  readonly points: number
  readonly lakePath: string
  /**
   * What `reportedCount` is: the API's own count, or (no count endpoint: Lightspeed K-Series, or
   * Stocky merged with its API) the distinct record ids fetched. Default "api".
   */
  readonly countBasis?: "api" | "distinct-ids"
  /** Records the API returned more than once in the window (stored once). */
  readonly duplicatesFetched?: number
  /** DuckDB's own memory (`duckdb_memory()`) sampled right after the window's load, where measured. */
  readonly duckDbBytes?: number
}

/** A window's final status in the summary. */
export interface LedgerEntry {
  readonly window: PlannedWindow
  readonly status: "complete" | "incomplete" | "failed" | "skipped"
  readonly outcome: WindowOutcome | null
  readonly detail: string | null
}
