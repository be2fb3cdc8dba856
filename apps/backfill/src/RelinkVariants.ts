/**
 * After a Shopify backfill that loaded products: the purchase-order lines, receipts and transfers
 * that loaded before their variants (a Stocky archive backfilled first, or a product dead-lettered
 * then) name only an inventory item, and their own records are never read again (Stocky's history
 * is frozen), so they are linked to the variants now in the warehouse, as kura-sync does after a
 * products run.
 */
import { Warehouse } from "@kura/warehouse"
import { Effect } from "effect"
import type { ProgressOutput } from "./Progress.js"

/** Links `shop`'s lines still without a variant; says how many on `out`. A failure is logged, not raised. */
export const relinkAfterProducts = (
  shop: string,
  out: ProgressOutput
): Effect.Effect<void, never, Warehouse> =>
  Effect.gen(function* () {
    const warehouse = yield* Warehouse
    const linked = yield* warehouse.relinkVariants(shop)
    if (linked.purchase_order_lines + linked.inventory_movements > 0)
      out.write(
        `Linked ${linked.purchase_order_lines} purchase-order line(s) and ${linked.inventory_movements} stock movement(s) that loaded before their variants.\n`
      )
  }).pipe(
    Effect.catch((e) =>
      Effect.logWarning(
        `linking lines to the loaded variants of ${shop} failed (the next products run tries again): ${e.message}`
      )
    )
  )
