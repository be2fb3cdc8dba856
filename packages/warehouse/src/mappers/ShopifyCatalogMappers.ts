/**
 * Shopify reference data → customers, products + variants (+ sku_map), locations.
 */
import type { Customer, Location, Product } from "@kura/shopify-client"
import { lineage, type Mapper } from "../Mapper.js"
import { buildSkuMap, type SkuOverride } from "../SkuMap.js"
import type { CanonicalRow } from "../Tables.js"
import { dec, refId, utc } from "./internal/values.js"

/** Shopify customer → customers. PII fields are null when the app lacks protected-data access. */
export const mapShopifyCustomer: Mapper<Customer> = (c, ctx) => ({
  customers: [
    {
      ...lineage(ctx, c.legacyResourceId, utc(c.updatedAt)),
      email: c.defaultEmailAddress?.emailAddress ?? null,
      first_name: c.firstName,
      last_name: c.lastName,
      phone: c.defaultPhoneNumber?.phoneNumber ?? null,
      created_at: utc(c.createdAt)
    }
  ]
})

/** Options of the product mapper. */
export interface ShopifyProductMapperOptions {
  /** The shop's currency (variant prices are in it; the Product type does not repeat it). */
  readonly currency?: string | null
  /** Manual SKU links that win over the variant's own SKU. */
  readonly skuOverrides?: ReadonlyArray<SkuOverride>
}

/** Builds the product mapper: products, variants and their sku_map rows. */
export const makeShopifyProductMapper =
  (options: ShopifyProductMapperOptions = {}): Mapper<Product> =>
  (p, ctx) => {
    const variants = p.variants.map(
      (v): CanonicalRow<"variants"> => ({
        ...lineage(ctx, v.legacyResourceId, utc(v.updatedAt)),
        product_id: p.legacyResourceId,
        sku: v.sku,
        barcode: v.barcode,
        title: v.title,
        inventory_item_id: refId(v.inventoryItem),
        currency: options.currency ?? null,
        price: dec(v.price),
        cost: null
      })
    )
    return {
      products: [
        {
          ...lineage(ctx, p.legacyResourceId, utc(p.updatedAt)),
          title: p.title,
          vendor: p.vendor,
          product_type: p.productType,
          status: p.status.toLowerCase(),
          created_at: utc(p.createdAt)
        }
      ],
      variants,
      sku_map: buildSkuMap(variants, options.skuOverrides ?? [], ctx)
    }
  }

/** The product mapper with default options. */
export const mapShopifyProduct: Mapper<Product> = makeShopifyProductMapper()

/**
 * Shopify location → locations. The Location type has no time zone (Shopify keeps one per shop),
 * so it comes from `ctx.timeZoneOf(id)`.
 */
export const mapShopifyLocation: Mapper<Location> = (l, ctx) => ({
  locations: [
    {
      ...lineage(ctx, l.legacyResourceId, utc(l.updatedAt)),
      name: l.name,
      time_zone: ctx.timeZoneOf(l.legacyResourceId),
      country_code: l.address.countryCode,
      active: l.isActive
    }
  ]
})
