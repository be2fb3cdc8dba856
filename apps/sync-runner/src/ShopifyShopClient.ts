/**
 * The Shopify client of one configured shop: its config, its auth (a static token or client
 * credentials) and a transport of its own. One-off commands (`check`, `tie-out`) use it as it is;
 * the sync streams add the bulk-job service on top (`shopifyClientLayer` in sources/ShopifyStreams.ts).
 */
import { HttpTransport } from "@kura/core"
import { ShopifyAuth, ShopifyClient, ShopifyConfig } from "@kura/shopify-client"
import { Layer, Option } from "effect"
import type { ShopifyShopConfig } from "./AppConfig.js"

/** The client (with its config and transport) for `shop`. */
export const shopifyShopClientLayer = (shop: ShopifyShopConfig) =>
  ShopifyClient.layer.pipe(
    Layer.provide(
      shop.auth._tag === "AccessToken"
        ? ShopifyAuth.layerStatic(shop.auth.accessToken)
        : ShopifyAuth.layerClientCredentials({
            clientId: shop.auth.clientId,
            clientSecret: shop.auth.clientSecret
          })
    ),
    Layer.provideMerge(
      ShopifyConfig.layer({
        shop: shop.shop,
        apiVersion: shop.apiVersion,
        ...Option.match(shop.apiBaseUrl, { onNone: () => ({}), onSome: (baseUrl) => ({ baseUrl }) })
      })
    ),
    // The transport stays in the output: the bulk service downloads through the same one.
    Layer.provideMerge(HttpTransport.layer())
  )
