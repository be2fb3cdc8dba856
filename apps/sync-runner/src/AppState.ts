/**
 * The persistence a command runs on: the warehouse selected by `KURA_WAREHOUSE` (checkpoints in
 * `_kura_sync_state`, leases in `_kura_leases`), the raw lake selected by `KURA_LAKE`, the app's run
 * history and its metrics.
 */
import { join } from "node:path"
import { CheckpointStore } from "@kura/core"
import { Warehouse, WarehouseConfig } from "@kura/warehouse"
import { Effect, Layer } from "effect"
import type { AppConfig } from "./AppConfig.js"
import { LeaseManager } from "./LeaseManager.js"
import { Metrics } from "./Metrics.js"
import { RunLedger } from "./RunLedger.js"

/** Warehouse, lake, checkpoints, leases, run ledger and metrics for `config`. */
export const layerAppState = (config: AppConfig) =>
  Layer.mergeAll(
    Layer.effect(
      CheckpointStore,
      Effect.map(Effect.service(Warehouse), (w) => w.checkpoints)
    ),
    LeaseManager.layerWarehouse,
    RunLedger.layerFile(join(config.stateDir, "runs.json")),
    Metrics.layer
  ).pipe(Layer.provideMerge(WarehouseConfig.layerFromSettings(config.warehouseSettings)))
