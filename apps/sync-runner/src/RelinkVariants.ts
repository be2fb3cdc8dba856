/**
 * Links the lines that loaded before their variants (Stocky purchase-order lines, receipts and
 * transfers; Shopify's native transfers and purchase orders name only an inventory item) once
 * variants arrived: a product that was dead-lettered and then fixed at the source, or replayed,
 * would otherwise leave them without a variant for good, since their own records may never be read
 * again (Stocky's history is frozen). Used after a products run that loaded rows and after a
 * dead-letter replay that loaded variants.
 */
import type { Warehouse, WarehouseError } from "@kura/warehouse"
import { Effect } from "effect"

/** `Warehouse.relinkVariants` for `shop`, with a log line when it linked anything. */
export const relinkVariants = (
  warehouse: Warehouse["Service"],
  shop: string
): Effect.Effect<void, WarehouseError> =>
  warehouse
    .relinkVariants(shop)
    .pipe(
      Effect.flatMap((linked) =>
        linked.purchase_order_lines + linked.inventory_movements === 0
          ? Effect.void
          : Effect.logInfo(
              `linked ${linked.purchase_order_lines} purchase-order line(s) and ${linked.inventory_movements} stock movement(s) of ${shop} to variants that arrived after them`
            )
      )
    )
