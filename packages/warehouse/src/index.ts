/**
 * @kura/warehouse: the canonical retail model, the raw lake, DuckDB and BigQuery loaders, sync
 * state and reconciliation.
 */

/** The package's semantic version. */
export const VERSION = "0.0.0"

export * as BigQueryWarehouse from "./BigQueryWarehouse.js"
export * as BulkLoader from "./BulkLoader.js"
export * from "./BusinessDate.js"
export * from "./Dialect.js"
export * as DuckDbWarehouse from "./DuckDbWarehouse.js"
export * as GcsObjectStore from "./GcsObjectStore.js"
export * from "./LakePath.js"
export * as LocalObjectStore from "./LocalObjectStore.js"
export * from "./LocalStores.js"
export * from "./LocationMap.js"
export * from "./Mapper.js"
export * from "./MigrationStatus.js"
export * from "./mappers/index.js"
export * from "./ObjectStore.js"
export * as RawFileLoader from "./RawFileLoader.js"
export * from "./RawLake.js"
export * as RawLoader from "./RawLoader.js"
export * from "./Reconciliation.js"
export * from "./Redaction.js"
export * from "./RunApiUsage.js"
export * from "./ShopifySalesByDay.js"
export * from "./SkuMap.js"
export * as Sql from "./Sql.js"
export * from "./TableDefinition.js"
export * from "./Tables.js"
export * from "./Views.js"
export * from "./Warehouse.js"
export * as WarehouseConfig from "./WarehouseConfig.js"
export * from "./WarehouseError.js"
export * as WarehouseStores from "./WarehouseStores.js"
export * as WarehouseTokenStore from "./WarehouseTokenStore.js"
