/**
 * The backfill plan: the explicit windows a backfill is cut into, how they are fetched, what they
 * cost, and which Cloud Run task takes each. Pure, so every task of a job computes the same plan.
 */
import { splitWindows, type TimeWindow } from "@kura/core"

/** The sources a backfill can read. */
export type BackfillSource = "shopify" | "lightspeed" | "stocky"

/** How a window is fetched. */
export type FetchMode = "bulk" | "paged" | "archive" | "api"

/** One unit of work: a stream over a half-open [start, end) window. */
export interface PlannedWindow extends TimeWindow {
  /** Position in the whole plan (stable across tasks and resumes). */
  readonly index: number
  readonly source: BackfillSource
  readonly stream: string
  readonly mode: FetchMode
  /** Stable identity, used as checkpoint key and raw batch id. */
  readonly id: string
  /** Estimated API cost (query points for Shopify, requests elsewhere). */
  readonly estimatedCost: number
}

/** A whole plan. */
export interface Plan {
  readonly source: BackfillSource
  readonly streams: ReadonlyArray<string>
  readonly from: number
  readonly to: number
  readonly windowMillis: number
  readonly windows: ReadonlyArray<PlannedWindow>
}

const DAY = 86_400_000

/** Lightspeed Financials accepts at most 365 days per call. */
export const LIGHTSPEED_MAX_RANGE_MILLIS = 365 * DAY

/** Streams each source can backfill, with the fetch mode used. */
export const STREAMS: Readonly<Record<BackfillSource, Readonly<Record<string, FetchMode>>>> = {
  shopify: { orders: "bulk", customers: "bulk", products: "bulk" },
  lightspeed: { sales: "paged" },
  // Stocky has no time filter worth windowing on: one window per resource, from the live API
  // ("api") or, when an archive is given, from the archive.
  stocky: { suppliers: "api", purchase_orders: "api", stock_adjustments: "api", stock_transfers: "api" }
}

/** Default streams when none are named. */
export const DEFAULT_STREAMS: Readonly<Record<BackfillSource, ReadonlyArray<string>>> = {
  shopify: ["orders"],
  lightspeed: ["sales"],
  stocky: ["suppliers", "purchase_orders", "stock_adjustments", "stock_transfers"]
}

/**
 * Parses a window length such as `30d`, `12h`, `90m` or `1w`. Returns undefined when it is not
 * one (the caller names the flag in its error).
 */
export const parseWindowLength = (text: string): number | undefined => {
  const m = /^(\d+)\s*(m|h|d|w)$/.exec(text.trim())
  if (m === null) return undefined
  const n = Number(m[1])
  const unit = m[2] === "m" ? 60_000 : m[2] === "h" ? 3_600_000 : m[2] === "d" ? DAY : 7 * DAY
  return n > 0 ? n * unit : undefined
}

/**
 * Parses `--from`/`--to`: `now`, a date (`2019-01-01`, UTC midnight) or an ISO instant. Returns
 * undefined when it is not one.
 */
export const parseInstant = (text: string, now: number): number | undefined => {
  const t = text.trim()
  if (t === "now") return now
  if (/^\d{4}-\d{2}-\d{2}$/.test(t)) {
    const ms = Date.parse(`${t}T00:00:00Z`)
    return Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== t ? undefined : ms
  }
  if (!/^\d{4}-\d{2}-\d{2}T/.test(t)) return undefined
  const ms = Date.parse(t)
  return Number.isNaN(ms) ? undefined : ms
}

const COST: Readonly<Record<FetchMode, number>> = {
  // bulkOperationRunQuery (10) + ~10 polls (1 each) + the reconciliation count (1).
  bulk: 21,
  // Paged reads: about one request per day of data; counted as requests.
  paged: 0,
  archive: 0,
  // A full Stocky resource: a few pages of 250.
  api: 5
}

const iso = (ms: number) => new Date(ms).toISOString()

const formatLength = (ms: number) =>
  ms % DAY === 0
    ? `${ms / DAY}d`
    : ms % 3_600_000 === 0
      ? `${ms / 3_600_000}h`
      : `${Math.round(ms / 60_000)}m`

/**
 * Cuts [from, to) into windows per stream. Window edges are aligned on multiples of the window
 * length since the epoch, so a resumed run with a later `to` keeps every finished window's identity.
 */
export const makePlan = (input: {
  readonly source: BackfillSource
  readonly streams: ReadonlyArray<string>
  readonly from: number
  readonly to: number
  readonly windowMillis: number
  /** Stocky: read an archive instead of the live API. */
  readonly archive?: boolean
}): Plan => {
  const size =
    input.source === "lightspeed"
      ? Math.min(input.windowMillis, LIGHTSPEED_MAX_RANGE_MILLIS)
      : input.windowMillis
  const windows: Array<PlannedWindow> = []
  for (const stream of input.streams) {
    const listed = STREAMS[input.source][stream] ?? "paged"
    const mode: FetchMode = listed === "api" && input.archive === true ? "archive" : listed
    const ranges =
      mode === "archive" || mode === "api"
        ? [{ start: input.from, end: input.to }]
        : splitWindows(input.from, input.to, size, { align: true })
    for (const w of ranges) {
      windows.push({
        index: windows.length,
        source: input.source,
        stream,
        mode,
        start: w.start,
        end: w.end,
        id: `${input.source}/${stream}/${iso(w.start)}..${iso(w.end)}`,
        estimatedCost: mode === "paged" ? Math.max(1, Math.ceil((w.end - w.start) / DAY)) : COST[mode]
      })
    }
  }
  const { archive: _archive, ...rest } = input
  return { ...rest, windowMillis: size, windows }
}

/**
 * The windows one Cloud Run task takes: window i goes to task i mod count. Every task computes
 * the same plan, so the shares are disjoint and together cover the plan.
 */
export const shareOf = (
  windows: ReadonlyArray<PlannedWindow>,
  taskIndex: number,
  taskCount: number
): ReadonlyArray<PlannedWindow> => windows.filter((w) => w.index % taskCount === taskIndex)

/** The plan as printed before any work: windows, estimated API cost, bulk or paged. */
export const formatPlan = (
  plan: Plan,
  share: ReadonlyArray<PlannedWindow>,
  task: { readonly index: number; readonly count: number },
  done: ReadonlySet<string>
): string => {
  const lines: Array<string> = []
  const cost = share.reduce((n, w) => n + w.estimatedCost, 0)
  const unit = plan.source === "shopify" ? "query points" : "requests"
  lines.push(
    `Backfill plan: ${plan.source} [${plan.streams.join(", ")}] ${iso(plan.from)} .. ${iso(plan.to)}, window ${formatLength(plan.windowMillis)}`
  )
  lines.push(
    `  ${plan.windows.length} window(s) in the plan; task ${task.index + 1}/${task.count} takes ${share.length}, ${share.filter((w) => done.has(w.id)).length} already done`
  )
  lines.push(`  estimated API cost: ~${cost} ${unit}`)
  for (const w of share) {
    lines.push(
      `  #${w.index} ${w.stream} ${iso(w.start)} .. ${iso(w.end)} ${w.mode}${done.has(w.id) ? " (done, skipped)" : ""}`
    )
  }
  return lines.join("\n")
}
