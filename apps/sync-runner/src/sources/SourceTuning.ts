/**
 * Source read knobs an operator (or a benchmark) sets from the environment, for the single-shop
 * case the environment configures:
 * - `KURA_SHOPIFY_BULK=off` reads every Shopify window by pages (never a bulk export): the same
 *   read path as an incremental run, so a full sync can be costed like-for-like.
 * - `KURA_SHOPIFY_INVENTORY_FULL_EVERY_MS` / `KURA_SHOPIFY_TRANSFERS_FULL_EVERY_MS`: the period of
 *   the whole stock-snapshot / transfers re-read (default a day; 0 reads whole every run).
 */
import type { SourceDeps } from "./SourceDeps.js"

type Tuning = Pick<
  SourceDeps,
  | "shopifyBulkThresholdMs"
  | "shopifyBulkMinRecords"
  | "shopifyInventoryFullEveryMs"
  | "shopifyTransfersFullEveryMs"
>

const millis = (name: string, raw: string | undefined): number | undefined => {
  if (raw === undefined || raw.trim() === "") return undefined
  const n = Number(raw)
  if (!Number.isFinite(n) || n < 0)
    throw new Error(`${name} must be a non-negative number of milliseconds (e.g. 86400000); got '${raw}'`)
  return n
}

/** The knobs set in `env`; unset ones are absent (the stream defaults apply). */
export const sourceTuningFromEnv = (env: Readonly<Record<string, string | undefined>>): Tuning => {
  const bulk = env.KURA_SHOPIFY_BULK?.trim().toLowerCase()
  if (bulk !== undefined && bulk !== "" && bulk !== "on" && bulk !== "off")
    throw new Error(`KURA_SHOPIFY_BULK must be 'on' or 'off'; got '${env.KURA_SHOPIFY_BULK}'`)
  const inventory = millis("KURA_SHOPIFY_INVENTORY_FULL_EVERY_MS", env.KURA_SHOPIFY_INVENTORY_FULL_EVERY_MS)
  const transfers = millis("KURA_SHOPIFY_TRANSFERS_FULL_EVERY_MS", env.KURA_SHOPIFY_TRANSFERS_FULL_EVERY_MS)
  return {
    ...(bulk === "off"
      ? { shopifyBulkThresholdMs: Number.MAX_SAFE_INTEGER, shopifyBulkMinRecords: Number.MAX_SAFE_INTEGER }
      : {}),
    ...(inventory === undefined ? {} : { shopifyInventoryFullEveryMs: inventory }),
    ...(transfers === undefined ? {} : { shopifyTransfersFullEveryMs: transfers })
  }
}
