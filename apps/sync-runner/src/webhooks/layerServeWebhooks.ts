/**
 * The webhook intake `kura-sync serve` runs: by default the batching path (write-ahead log in
 * `<stateDir>/webhooks`, batches landed in the lake, `_kura_raw` and the canonical tables); the
 * per-delivery path (one lake object per delivery, no canonical upsert) remains as a baseline.
 */
import { join } from "node:path"
import type { RawLake, Warehouse } from "@kura/warehouse"
import { Config, Effect, Layer, Option } from "effect"
import type { ShopifyShopConfig } from "../AppConfig.js"
import { ConfigError, type ConfigProblem } from "../ConfigError.js"
import { layerLakeWebhookSink } from "../LakeWebhookSink.js"
import type { Metrics } from "../Metrics.js"
import { WebhookIntake, type WebhookIntakeOptions } from "../WebhookIntake.js"
import { ShopContext } from "./ShopContext.js"
import { layerWarehouseWebhookSink } from "./WarehouseWebhookSink.js"
import { WebhookBatcher, type WebhookBatcherOptions } from "./WebhookBatcher.js"

/** Which intake to run. */
export type WebhookMode = "batched" | "per-delivery"

/** Options of the serve intake. */
export interface ServeWebhooksOptions extends WebhookIntakeOptions {
  readonly mode?: WebhookMode
  readonly shops: ReadonlyArray<ShopifyShopConfig>
  /** The app's state directory; the write-ahead log lives in `<stateDir>/webhooks`. */
  readonly stateDir: string
  readonly sandbox?: boolean
  readonly batcher?: Partial<WebhookBatcherOptions>
}

/** Reads `KURA_WEBHOOK_MODE` (`batched`, the default, or `per-delivery`). */
export const webhookModeOf = (value: string | undefined): WebhookMode =>
  value?.trim().toLowerCase() === "per-delivery" ? "per-delivery" : "batched"

/** The intake layer for `serve`. */
export const layerServeWebhooks = (
  options: ServeWebhooksOptions
): Layer.Layer<WebhookIntake, never, Warehouse | RawLake | Metrics> => {
  if (options.mode === "per-delivery")
    return WebhookIntake.layer(options).pipe(Layer.provide(layerLakeWebhookSink))
  return WebhookIntake.layerBatched(options).pipe(
    Layer.provide(WebhookBatcher.layer({ dir: join(options.stateDir, "webhooks"), ...options.batcher })),
    Layer.provide(layerWarehouseWebhookSink()),
    Layer.provide(ShopContext.layerShopify(options.shops, { sandbox: options.sandbox ?? false }))
  )
}
