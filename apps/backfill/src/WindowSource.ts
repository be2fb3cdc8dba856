/**
 * What the backfill runner needs from a source (Shopify, Lightspeed, Stocky): the account its
 * checkpoints are keyed by, a check made before any work, and the per-window fetch-and-load.
 */
import type { Effect } from "effect"
import type { BackfillError } from "./BackfillError.js"
import type { Plan, PlannedWindow } from "./Plan.js"
import type { WindowOutcome } from "./WindowOutcome.js"

/** Fetches one window into the lake, `_kura_raw` and the canonical tables. */
export type RunWindow<R> = (
  window: PlannedWindow,
  onRecords: (n: number) => Effect.Effect<void>
) => Effect.Effect<WindowOutcome, { readonly message: string }, R>

/** A source the backfill can run. */
export interface WindowSource<R> {
  /** The account checkpoints and raw rows are keyed by (shop domain, Lightspeed account, Stocky store). */
  readonly account: string
  /** Checks made before any work (scopes, a retired API); a failure stops the run with nothing loaded. */
  readonly preflight: (plan: Plan, now: number) => Effect.Effect<void, BackfillError, R>
  /** Reads what every window needs once (locations, time zones, catalogs) and returns the window runner. */
  readonly prepare: Effect.Effect<RunWindow<R>, { readonly message: string }, R>
}
