/**
 * The persistence a command runs on: the warehouse selected by `KURA_WAREHOUSE` (checkpoints in
 * `_kura_sync_state`, leases in `_kura_leases`, run history in `_kura_sync_runs`), the raw lake
 * selected by `KURA_LAKE`, and the app's metrics.
 */
import { CheckpointStore } from "@kura/core"
import { Warehouse, WarehouseConfig } from "@kura/warehouse"
import { Effect, Layer } from "effect"
import type { AppConfig } from "./AppConfig.js"
import { LeaseManager } from "./LeaseManager.js"
import { Metrics } from "./Metrics.js"
import { layerWarehouseLedger } from "./RunLedger.js"

/**
 * Warehouse, lake, checkpoints, leases, run ledger and metrics for `config`. `retention: false`
 * for commands that only read (status): lake retention belongs to run and serve.
 */
export const layerAppState = (config: AppConfig, options: { readonly retention?: boolean } = {}) =>
  Layer.mergeAll(
    Layer.effect(
      CheckpointStore,
      Effect.map(Effect.service(Warehouse), (w) => w.checkpoints)
    ),
    LeaseManager.layerWarehouse,
    layerWarehouseLedger,
    Metrics.layer
  ).pipe(Layer.provideMerge(WarehouseConfig.layerFromSettings(config.warehouseSettings, options)))
