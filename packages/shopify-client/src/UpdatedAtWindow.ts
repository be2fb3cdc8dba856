/**
 * Search-query builders for incremental extraction by `updated_at` windows.
 *
 * Why a look-back overlap: Shopify's `>` behaves like `>=`, records are indexed a little after
 * they change, and a record updated while a window is being read can fall between two runs. Each
 * run therefore starts `overlap` before the previous high-water mark and the warehouse dedups by
 * id + updated_at.
 *
 * @since 0.1.0
 */
import { Duration } from "effect"

/**
 * A half-open time window `[start, end)` (epoch ms).
 *
 * @since 0.1.0
 * @category models
 */
export interface TimeWindow {
  readonly start: number
  readonly end: number
}

/**
 * Renders an instant as Shopify search syntax expects: ISO-8601 UTC, without milliseconds.
 *
 * @since 0.1.0
 * @category constructors
 */
export const formatSearchDate = (epochMs: number): string =>
  new Date(epochMs).toISOString().replace(/\.\d{3}Z$/, "Z")

/**
 * Search dates have whole seconds: the start is rounded down and the end up, so rounding can only
 * widen a window (re-reading a record is harmless, skipping one is not).
 */
const ceilSecond = (epochMs: number): number => Math.ceil(epochMs / 1000) * 1000

/**
 * `updated_at:>='start' AND updated_at:<'end'` (dates quoted, as Shopify requires), optionally
 * AND-ed with extra terms (keep them AND-only: OR would bind across the window bounds).
 *
 * @since 0.1.0
 * @category constructors
 */
export const updatedAtQuery = (window: TimeWindow, extra?: string, field = "updated_at"): string => {
  const parts = [
    `${field}:>='${formatSearchDate(window.start)}'`,
    `${field}:<'${formatSearchDate(ceilSecond(window.end))}'`
  ]
  if (extra !== undefined && extra.trim() !== "") parts.push(extra.trim())
  return parts.join(" AND ")
}

/**
 * The window an incremental run should read: from `since − overlap` (or `floor` when there is
 * no checkpoint yet) up to `now − settle` (records younger than `settle` may not be indexed yet).
 *
 * @since 0.1.0
 * @category constructors
 */
export const incrementalWindow = (options: {
  readonly since: number | null
  readonly floor: number
  readonly now: number
  readonly overlap?: Duration.Input
  readonly settle?: Duration.Input
}): TimeWindow => {
  const overlap = Duration.toMillis(Duration.fromInputUnsafe(options.overlap ?? "5 minutes"))
  const settle = Duration.toMillis(Duration.fromInputUnsafe(options.settle ?? "0 millis"))
  const start = options.since === null ? options.floor : Math.max(options.floor, options.since - overlap)
  const end = Math.max(start, options.now - settle)
  return { start, end }
}

/**
 * Splits a window into consecutive slices of at most `sliceMs`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const splitWindow = (window: TimeWindow, sliceMs: number): ReadonlyArray<TimeWindow> => {
  const out: Array<TimeWindow> = []
  const step = Math.max(1000, Math.floor(sliceMs))
  for (let s = window.start; s < window.end; s += step)
    out.push({ start: s, end: Math.min(window.end, s + step) })
  return out
}
