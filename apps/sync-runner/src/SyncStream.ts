/**
 * The seam between this app and the connectors: every stream (Shopify orders, Lightspeed sales,
 * Stocky purchase orders, the demo source …) is a `SyncStream`, so the runner, scheduler, HTTP
 * trigger and CLI never need to know which client or warehouse adapter sits behind it.
 */
import { type Checkpoint, type StoreError, type StreamKey, streamKeyToString } from "@kura/core"
import type { CommitRunInput } from "@kura/warehouse"
import type { Effect, Option } from "effect"
import { Schema } from "effect"
import type { ApiUsage } from "./ApiUsage.js"
import type { SourceName } from "./AppConfig.js"

/** What a stream may use during one run. */
export interface RunContext {
  readonly runId: string
  /** The last committed checkpoint, if any: resume from here. */
  readonly checkpoint: Option.Option<Checkpoint>
  /** Commits a checkpoint durably. Call after the rows it covers are safely landed. */
  readonly commit: (
    cursor: string,
    meta?: Readonly<Record<string, unknown>>
  ) => Effect.Effect<void, StoreError>
  /**
   * True once shutdown has begun (SIGTERM). A stream should stop at its next safe point, after
   * committing, so the run ends cleanly inside Cloud Run's grace period.
   */
  readonly draining: Effect.Effect<boolean>
  /**
   * Where a run that fails reports what it cost the API so far: the ledger keeps the cost of
   * failed runs too (a run that burnt its budget and then failed is exactly the one to explain).
   */
  readonly reportApiUsage?: (usage: ApiUsage) => void
  /**
   * Set when the runner already opened this run's ledger entry (a pass opens them all in one
   * write): the ingest loop uses it instead of opening another.
   */
  readonly opened?: { readonly startedAt: number; readonly cursorBefore: string | null }
  /**
   * Offered by a pass: a small run whose commit cannot be a mismatch (nothing to reconcile, or
   * its count is what landed) may hand its commit here instead of writing it; the pass commits
   * all of them in one transaction when it ends. A crash before that leaves their cursors where
   * they were (the window is read again; its records are upserted again).
   */
  readonly deferCommit?: (commit: CommitRunInput) => void
}

/** How a run's totals compared with the source. */
export type Reconciliation = "ok" | "mismatch" | "not-checked"

/** The outcome of a successful run. */
export interface RunResult {
  readonly rows: number
  readonly reconciliation: Reconciliation
  /** True when the run stopped early because of a drain; the next run resumes from the checkpoint. */
  readonly stoppedEarly?: boolean
  readonly detail?: string
  /** What the run cost the API (source streams measure it; absent for streams that call none). */
  readonly api?: ApiUsage
  /**
   * The stream opened and closed its own ledger entry (the ingest loop's `commitRun`), so the
   * runner has no status left to write for it, only the API cost.
   */
  readonly ledgerCommitted?: boolean
}

/** A run failed. `reason` tells operators where to look. */
export class SyncError extends Schema.TaggedError<SyncError>()("SyncError", {
  reason: Schema.Literals(["Upstream", "Warehouse", "Checkpoint", "Config", "Internal"]),
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

/** One stream of one account of one source. */
export interface SyncStream {
  readonly key: StreamKey & { readonly source: SourceName }
  /** How often the internal scheduler runs it (ms). */
  readonly intervalMs: number
  /**
   * Feeds other streams' joins (a shop's locations and products): a pass runs these before the
   * rest, so purchase-order lines and stock movements resolve their variants whatever the timing.
   */
  readonly catalogue?: boolean
  readonly run: (ctx: RunContext) => Effect.Effect<RunResult, SyncError | StoreError>
}

/** Selects streams by source and, optionally, stream name. */
export interface StreamSelector {
  readonly account?: string | undefined
  readonly source?: string | undefined
  readonly stream?: string | undefined
  /** Only these streams (`source/account/stream`), e.g. the ones that are due. */
  readonly only?: ReadonlySet<string> | undefined
}

/**
 * True when a stream should run in a `run` pass: it never succeeded, its last run did not succeed,
 * or its interval has passed since its last success.
 */
export const isDue = (
  stream: SyncStream,
  last: { readonly lastSuccessAt: number | undefined; readonly lastRunSucceeded: boolean },
  now: number
): boolean =>
  last.lastSuccessAt === undefined || !last.lastRunSucceeded || now - last.lastSuccessAt >= stream.intervalMs

/** True when `stream` matches `selector`. */
export const matches = (selector: StreamSelector, stream: SyncStream): boolean =>
  (selector.source === undefined || selector.source === stream.key.source) &&
  (selector.account === undefined || selector.account === stream.key.account) &&
  (selector.stream === undefined || selector.stream === stream.key.stream) &&
  (selector.only === undefined || selector.only.has(streamKeyToString(stream.key)))

/**
 * Checkpoints whose stream starts with this are an account's own state (e.g. Shopify's stored
 * `shop` answer), kept beside its streams so that `shop/redact` erases them with the account; no
 * stream is ever named so, and status lists none of them.
 */
export const ACCOUNT_STATE_PREFIX = "meta:"

/** Whether a checkpoint key holds an account's state rather than a stream's cursor. */
export const isAccountState = (key: StreamKey): boolean => key.stream.startsWith(ACCOUNT_STATE_PREFIX)
