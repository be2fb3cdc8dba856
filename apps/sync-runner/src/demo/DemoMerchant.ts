/**
 * Which merchant a demo data directory holds. The sandbox generates its history from a seed up to
 * an anchor (default: today, 00:00 UTC). A second `npm run demo` has to meet the same merchant
 * (with 1% of its orders changed), but on the next UTC day (09:00 in Tokyo) the default anchor
 * would generate a different history: the incremental run then synced it onto the first run's
 * warehouse, and the report said the orders and revenue did not match the ground truth. The first
 * run records its merchant beside the warehouse, and later runs take the anchor from there.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Schema } from "effect"

/** The file in the data directory. */
export const DEMO_MERCHANT_FILE = "demo-merchant.json"

/** What the first run of a data directory recorded. */
export const DemoMerchant = Schema.Struct({
  /** End of the generated history, epoch ms. */
  anchor: Schema.Number,
  seed: Schema.Number,
  orders: Schema.Number
})
/** What the first run of a data directory recorded. */
export type DemoMerchant = typeof DemoMerchant.Type

/** The merchant a run uses, and a line for the user when it is not the one they might expect. */
export interface DemoMerchantChoice {
  readonly merchant: DemoMerchant
  readonly note?: string
}

/**
 * The merchant of `dataDir` for a run asking for `wanted`: the recorded one when `resuming` (the
 * warehouse is there), else `wanted` anchored on `today`, recorded for the runs after it.
 */
export const demoMerchant = (
  dataDir: string,
  wanted: { readonly seed: number; readonly orders: number },
  today: number,
  resuming: boolean
): DemoMerchantChoice => {
  const file = join(dataDir, DEMO_MERCHANT_FILE)
  const fresh: DemoMerchant = { anchor: today, ...wanted }
  if (!resuming || !existsSync(file)) {
    mkdirSync(dataDir, { recursive: true })
    writeFileSync(file, `${JSON.stringify(fresh, null, 2)}\n`)
    return resuming
      ? {
          merchant: fresh,
          note: `${file} was missing, so this run generates the sandbox's history up to today; if the first run was on another day, its ground truth will differ: remove ${dataDir}/ to start over`
        }
      : { merchant: fresh }
  }
  let recorded: DemoMerchant | undefined
  try {
    recorded = Schema.decodeUnknownSync(DemoMerchant)(JSON.parse(readFileSync(file, "utf8")))
  } catch (e) {
    throw new Error(
      `${file} is not a demo merchant record (${e instanceof Error ? e.message.split("\n")[0] : String(e)}): remove ${dataDir}/ to start over`
    )
  }
  const differs = recorded.seed !== wanted.seed || recorded.orders !== wanted.orders
  return differs
    ? {
        merchant: { ...recorded, ...wanted },
        note: `${dataDir}/ holds the demo of --seed ${recorded.seed} --orders ${recorded.orders}; this run asks for --seed ${wanted.seed} --orders ${wanted.orders}, so its ground truth will differ from the warehouse: remove ${dataDir}/ to start over`
      }
    : { merchant: recorded }
}
