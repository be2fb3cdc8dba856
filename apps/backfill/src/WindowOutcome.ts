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
  /**
   * Records of the window this batch did not load because `_kura_raw` already held them at the
   * same or a newer `updated_at` from another batch (an incremental sync, a webhook, an earlier
   * cut of the window). They are accounted for: the tie is `loaded + alreadyHeld` against the
   * reported count. Counted only when `loaded` falls short of the reported count.
   */
  readonly alreadyHeld?: number
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

/** Records the warehouse holds for the window: loaded by this batch or already held at >= the fetched version. */
export const accountedFor = (o: WindowOutcome): number => o.loaded + (o.alreadyHeld ?? 0)

/** Reported records neither loaded nor already held (0 without an exact count). */
export const missingOf = (o: WindowOutcome): number =>
  o.reportedCount === null ? 0 : Math.max(0, o.reportedCount - accountedFor(o))

/** The window's tie in words: reported = loaded + already held + missing. */
export const formatAccounting = (o: WindowOutcome): string =>
  `reported ${o.reportedCount ?? "n/a"} = ${o.loaded} loaded + ${o.alreadyHeld ?? 0} already held at the same or a newer version + ${missingOf(o)} missing`
