/**
 * Deletions from Shopify `events` (action destroy/delete) and `orders/delete` webhooks. They
 * become soft deletes (`Warehouse.markDeleted`, which sets `_deleted_at`), never row drops, so the
 * mapper yields keys rather than rows (a tombstone row would blank the record's other columns).
 */
import type { ShopifyEvent } from "@kura/shopify-client"
import type { MapContext } from "../Mapper.js"
import type { CanonicalTableName } from "../Tables.js"
import { gidToId, utc } from "./internal/values.js"

/** One soft delete to apply: `markDeleted(table, [key], deletedAt)`. */
export interface Deletion {
  readonly table: CanonicalTableName
  readonly key: { readonly source: "shopify"; readonly source_account: string; readonly source_id: string }
  readonly deletedAt: string
}

const TABLE_OF_SUBJECT: Readonly<Record<string, CanonicalTableName>> = {
  ORDER: "orders",
  Order: "orders",
  PRODUCT: "products",
  Product: "products",
  PRODUCT_VARIANT: "variants",
  ProductVariant: "variants",
  CUSTOMER: "customers",
  Customer: "customers",
  LOCATION: "locations",
  Location: "locations"
}

/** The soft delete an event records, if it is a deletion of a subject Kura models. */
export const shopifyEventDeletion = (
  event: ShopifyEvent,
  ctx: Pick<MapContext, "sourceAccount">
): ReadonlyArray<Deletion> => {
  if (event.action !== "destroy" && event.action !== "delete") return []
  const table = event.subjectType === undefined ? undefined : TABLE_OF_SUBJECT[event.subjectType]
  if (table === undefined || event.subjectId === undefined) return []
  return [
    {
      table,
      key: { source: "shopify", source_account: ctx.sourceAccount, source_id: gidToId(event.subjectId) },
      deletedAt: utc(event.createdAt)
    }
  ]
}

/**
 * The soft delete of an `orders/delete` webhook. Its payload carries only the id, so the time is
 * the delivery's `triggeredAt` (falling back to when Kura received it).
 */
export const shopifyOrderDeletedWebhook = (
  payload: { readonly id: number },
  meta: { readonly triggeredAt: string | null },
  ctx: Pick<MapContext, "sourceAccount" | "syncedAt">
): ReadonlyArray<Deletion> => [
  {
    table: "orders",
    key: { source: "shopify", source_account: ctx.sourceAccount, source_id: String(payload.id) },
    deletedAt: meta.triggeredAt === null ? ctx.syncedAt : utc(meta.triggeredAt)
  }
]
