/**
 * The Shopify client of one configured shop for one-off commands (`check`, `tie-out`): its
 * config, its auth (a static token or client credentials) and a transport of its own, without the
 * bulk-job service the sync streams add (`shopifyClientLayer` in sources/ShopifyStreams.ts).
 */
import { HttpTransport } from "@kura/core"
import { ShopifyAuth, ShopifyClient, ShopifyConfig } from "@kura/shopify-client"
import { Layer, Option } from "effect"
import type { ShopifyShopConfig } from "./AppConfig.js"

/** The client (and its config) for `shop`. */
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
    Layer.provide(HttpTransport.layer())
  )
