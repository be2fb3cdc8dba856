/**
 * Source read knobs an operator (or a benchmark) sets from the environment, for the single-shop
 * case the environment configures:
 * - `KURA_SHOPIFY_BULK=off` reads every Shopify window by pages (never a bulk export): the same
 *   read path as an incremental run, so a full sync can be costed like-for-like.
 * - `KURA_SHOPIFY_INVENTORY_FULL_EVERY_MS` / `KURA_SHOPIFY_TRANSFERS_FULL_EVERY_MS`: the period of
 *   the whole stock-snapshot / transfers re-read (default a day; 0 reads whole every run).
 * - `KURA_LIGHTSPEED_FROM_DATE=YYYY-MM-DD`: the first business date a Lightspeed location is read
 *   from on its first run (default 400 days back): a merchant whose POS history starts later, or
 *   who wants less of it, does not walk the empty or unwanted days one by one.
 */
import type { SourceDeps } from "./SourceDeps.js"

/** Source read knobs (unset ones are absent, so the stream defaults apply). */
export type SourceTuning = Pick<
  SourceDeps,
  | "shopifyBulkThresholdMs"
  | "shopifyBulkMinRecords"
  | "shopifyInventoryFullEveryMs"
  | "shopifyTransfersFullEveryMs"
  | "lightspeedFromDate"
>

/** A knob that cannot be read, named with its fix (AppConfig reports it with the others). */
export interface SourceTuningProblem {
  readonly field: string
  readonly message: string
  readonly fix: string
}

/**
 * Reads the knobs from `env`. Only AppConfig calls it, at start, so a bad value stops the app
 * before any work with every problem named, like the rest of the configuration.
 */
export const parseSourceTuning = (
  env: Readonly<Record<string, string | undefined>>
): { readonly tuning: SourceTuning; readonly problems: ReadonlyArray<SourceTuningProblem> } => {
  const problems: Array<SourceTuningProblem> = []
  const millis = (name: string): number | undefined => {
    const raw = env[name]
    if (raw === undefined || raw.trim() === "") return undefined
    const n = Number(raw)
    if (Number.isFinite(n) && n >= 0) return n
    problems.push({
      field: name,
      message: `"${raw}" is not a non-negative number of milliseconds`,
      fix: "set milliseconds, e.g. 86400000 for a day (0 reads whole every run), or unset it"
    })
    return undefined
  }
  const bulkText = env.KURA_SHOPIFY_BULK
  const bulk = bulkText?.trim().toLowerCase()
  if (bulk !== undefined && bulk !== "" && bulk !== "on" && bulk !== "off")
    problems.push({
      field: "KURA_SHOPIFY_BULK",
      message: `"${bulkText}" is not on or off`,
      fix: "set KURA_SHOPIFY_BULK=off to read every window by pages, or unset it (bulk where it pays)"
    })
  const inventory = millis("KURA_SHOPIFY_INVENTORY_FULL_EVERY_MS")
  const transfers = millis("KURA_SHOPIFY_TRANSFERS_FULL_EVERY_MS")
  const fromText = env.KURA_LIGHTSPEED_FROM_DATE?.trim()
  const fromDate = fromText === undefined || fromText === "" ? undefined : fromText
  if (fromDate !== undefined && !isCalendarDate(fromDate))
    problems.push({
      field: "KURA_LIGHTSPEED_FROM_DATE",
      message: `"${fromText}" is not a date`,
      fix: "set the first business date to read, e.g. KURA_LIGHTSPEED_FROM_DATE=2025-01-01, or unset it (400 days back)"
    })
  return {
    tuning: {
      ...(bulk === "off"
        ? { shopifyBulkThresholdMs: Number.MAX_SAFE_INTEGER, shopifyBulkMinRecords: Number.MAX_SAFE_INTEGER }
        : {}),
      ...(inventory === undefined ? {} : { shopifyInventoryFullEveryMs: inventory }),
      ...(transfers === undefined ? {} : { shopifyTransfersFullEveryMs: transfers }),
      ...(fromDate === undefined || !isCalendarDate(fromDate) ? {} : { lightspeedFromDate: fromDate })
    },
    problems
  }
}

/** A real YYYY-MM-DD day (2025-02-30 is not). */
const isCalendarDate = (text: string): boolean =>
  /^\d{4}-\d{2}-\d{2}$/.test(text) && new Date(`${text}T00:00:00Z`).toISOString().slice(0, 10) === text
