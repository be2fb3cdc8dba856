/**
 * The registry of every warehouse table: the canonical model, the raw replay table and Kura's own
 * bookkeeping tables. Everything else (DDL for both dialects, MERGE statements, row types) is
 * generated from this file.
 */
import { type ColumnDef, defineTable, type RowOf, type TableDef } from "./TableDefinition.js"

const col =
  <const T extends ColumnDef["type"]>(type: T) =>
  <const N extends string, const Null extends boolean = true>(name: N, nullable?: Null) =>
    ({ name, type, nullable: (nullable ?? true) as Null }) as const
const str = col("string")
const int = col("int")
const bool = col("bool")
const money = col("decimal")
const ts = col("timestamp")
/** A nullable string column holding a customer's personal data. */
const pii = <const N extends string>(name: N, doc?: string) =>
  ({ name, type: "string", nullable: true, pii: true, ...(doc === undefined ? {} : { doc }) }) as const

/**
 * Columns every canonical row carries. `_deleted_at` turns deletions into soft deletes.
 */
const lineage = [
  { name: "source", type: "string", nullable: false, doc: "shopify | lightspeed | stocky" },
  { name: "source_account", type: "string", nullable: false, doc: "shop domain or business id" },
  { name: "source_id", type: "string", nullable: false, doc: "the record's id in its source" },
  { name: "updated_at", type: "timestamp", nullable: false, doc: "source's last-modified time (UTC)" },
  { name: "_synced_at", type: "timestamp", nullable: false, doc: "when Kura fetched it" },
  { name: "_batch_id", type: "string", nullable: false, doc: "lake batch the row came from" },
  { name: "_deleted_at", type: "timestamp", nullable: true, doc: "set when the source deleted it" }
] as const satisfies ReadonlyArray<ColumnDef>

const canonicalKey = ["source", "source_account", "source_id"] as const
const defaultCluster = ["source", "source_account"] as const

/** Every canonical table, keyed by name. */
export const CanonicalTables = {
  orders: defineTable({
    name: "orders",
    doc: "One row per online order or POS sale.",
    columns: [
      ...lineage,
      { name: "channel", type: "string", nullable: false, doc: "online | pos" },
      str("location_id"),
      str("order_number"),
      str("customer_id"),
      str("currency"),
      money("subtotal"),
      money("discounts"),
      money("shipping"),
      money("tax"),
      money("total"),
      money("refunded"),
      str("presentment_currency"),
      money("subtotal_presentment"),
      money("discounts_presentment"),
      money("shipping_presentment"),
      money("tax_presentment"),
      money("total_presentment"),
      money("refunded_presentment"),
      str("financial_status"),
      str("fulfillment_status"),
      str("status"),
      ts("created_at", false),
      ts("processed_at"),
      { name: "business_date", type: "date", nullable: false, doc: "trading day in the location's zone" },
      ts("cancelled_at")
    ],
    primaryKey: canonicalKey,
    versionColumn: "updated_at",
    partitionBy: "created_at",
    clusterBy: ["source", "source_account", "channel", "location_id"]
  }),
  order_lines: defineTable({
    name: "order_lines",
    doc: "Line items of orders and sales.",
    columns: [
      ...lineage,
      str("order_id", false),
      str("product_id"),
      str("variant_id"),
      str("sku"),
      str("title"),
      int("quantity", false),
      money("unit_price"),
      money("discount"),
      money("tax"),
      money("total"),
      money("unit_price_presentment"),
      money("total_presentment")
    ],
    primaryKey: canonicalKey,
    versionColumn: "updated_at",
    partitionBy: "updated_at",
    clusterBy: [...defaultCluster, "order_id"]
  }),
  payments: defineTable({
    name: "payments",
    doc: "Payment transactions (captures, sales, refunds) against orders.",
    columns: [
      ...lineage,
      str("order_id", false),
      str("kind"),
      str("method"),
      str("status"),
      str("currency"),
      money("amount"),
      str("presentment_currency"),
      money("amount_presentment"),
      ts("processed_at")
    ],
    primaryKey: canonicalKey,
    versionColumn: "updated_at",
    partitionBy: "updated_at",
    clusterBy: [...defaultCluster, "order_id"]
  }),
  refunds: defineTable({
    name: "refunds",
    doc: "Refunds and returns, dated on their own business day.",
    columns: [
      ...lineage,
      str("order_id", false),
      { name: "channel", type: "string", nullable: false },
      str("location_id"),
      str("currency"),
      money("amount"),
      money("amount_presentment"),
      pii("note"),
      ts("created_at", false),
      ts("processed_at"),
      { name: "business_date", type: "date", nullable: false }
    ],
    primaryKey: canonicalKey,
    versionColumn: "updated_at",
    partitionBy: "created_at",
    clusterBy: [...defaultCluster, "order_id"]
  }),
  refund_lines: defineTable({
    name: "refund_lines",
    doc: "Refunded line items, and whether stock was restocked.",
    columns: [
      ...lineage,
      str("refund_id", false),
      str("order_id", false),
      str("order_line_id"),
      str("variant_id"),
      str("sku"),
      int("quantity", false),
      money("amount"),
      bool("restock"),
      str("location_id")
    ],
    primaryKey: canonicalKey,
    versionColumn: "updated_at",
    partitionBy: "updated_at",
    clusterBy: [...defaultCluster, "order_id"]
  }),
  tax_lines: defineTable({
    name: "tax_lines",
    doc: "Tax detail attached to an order, line, shipping line or refund line.",
    columns: [
      ...lineage,
      str("order_id", false),
      str("parent_type", false),
      str("parent_id", false),
      str("title"),
      money("rate"),
      money("amount"),
      money("amount_presentment")
    ],
    primaryKey: canonicalKey,
    versionColumn: "updated_at",
    partitionBy: "updated_at",
    clusterBy: [...defaultCluster, "order_id"]
  }),
  customers: defineTable({
    name: "customers",
    doc: "Customers of every channel.",
    columns: [...lineage, pii("email"), pii("first_name"), pii("last_name"), pii("phone"), ts("created_at")],
    primaryKey: canonicalKey,
    versionColumn: "updated_at",
    partitionBy: "updated_at",
    clusterBy: defaultCluster
  }),
  products: defineTable({
    name: "products",
    doc: "Products (the item a customer sees).",
    columns: [...lineage, str("title"), str("vendor"), str("product_type"), str("status"), ts("created_at")],
    primaryKey: canonicalKey,
    versionColumn: "updated_at",
    partitionBy: "updated_at",
    clusterBy: defaultCluster
  }),
  variants: defineTable({
    name: "variants",
    doc: "Sellable variants (what a SKU names).",
    columns: [
      ...lineage,
      str("product_id"),
      str("sku"),
      str("barcode"),
      str("title"),
      str("inventory_item_id"),
      str("currency"),
      money("price"),
      money("cost")
    ],
    primaryKey: canonicalKey,
    versionColumn: "updated_at",
    partitionBy: "updated_at",
    clusterBy: [...defaultCluster, "sku"]
  }),
  locations: defineTable({
    name: "locations",
    doc: "Stores, warehouses and the online store; each keeps its own time zone.",
    columns: [
      ...lineage,
      str("name"),
      { name: "time_zone", type: "string", nullable: false, doc: "IANA zone, e.g. Asia/Tokyo" },
      str("country_code"),
      bool("active")
    ],
    primaryKey: canonicalKey,
    versionColumn: "updated_at",
    partitionBy: "updated_at",
    clusterBy: defaultCluster
  }),
  sku_map: defineTable({
    name: "sku_map",
    doc: "Links one item across channels: a source variant to its canonical SKU.",
    columns: [
      ...lineage,
      str("variant_id", false),
      { name: "sku", type: "string", nullable: false, doc: "canonical (normalised or overridden) SKU" },
      str("source_sku"),
      { name: "match_method", type: "string", nullable: false, doc: "sku | barcode | manual" }
    ],
    primaryKey: canonicalKey,
    versionColumn: "updated_at",
    partitionBy: "updated_at",
    clusterBy: [...defaultCluster, "sku"]
  }),
  inventory_levels: defineTable({
    name: "inventory_levels",
    doc: "Daily snapshots of a quantity (available, on_hand, …) per variant and location: history accumulates, one row per day, the latest observation of the day wins.",
    columns: [
      ...lineage,
      str("variant_id"),
      str("inventory_item_id"),
      str("sku"),
      str("location_id", false),
      str("quantity_name", false),
      int("quantity", false),
      ts("observed_at", false),
      {
        name: "snapshot_date",
        type: "date",
        nullable: false,
        doc: "UTC date of observed_at; part of the key, so each day keeps its own snapshot",
        utcDateOf: "observed_at"
      }
    ],
    // source_id names the level (item:location:quantity name); the day makes it a snapshot.
    primaryKey: [...canonicalKey, "snapshot_date"],
    versionColumn: "observed_at",
    partitionBy: "observed_at",
    clusterBy: [...defaultCluster, "location_id", "sku"]
  }),
  location_map: defineTable({
    name: "location_map",
    doc: "Manual links from a source's location (a POS business location, a Stocky location) to the stock location whose snapshots it moves: they win over matching by name.",
    columns: [
      ...lineage,
      { name: "location_id", type: "string", nullable: false, doc: "the location's id in its source" },
      {
        name: "stock_source",
        type: "string",
        nullable: false,
        doc: "source of the linked location (shopify)"
      },
      { name: "stock_account", type: "string", nullable: false, doc: "account of the linked location" },
      { name: "stock_location_id", type: "string", nullable: false, doc: "the linked location's id" },
      str("note")
    ],
    primaryKey: canonicalKey,
    versionColumn: "updated_at",
    partitionBy: "updated_at",
    clusterBy: defaultCluster
  }),
  inventory_movements: defineTable({
    name: "inventory_movements",
    doc: "Signed quantity changes: sale, refund_restock, receipt, adjustment, transfer_out, transfer_in, count_correction.",
    columns: [
      ...lineage,
      str("variant_id"),
      str("sku"),
      // What the source named when it named no variant: a row loaded before its variant reached the
      // warehouse is linked once it does (Warehouse.relinkVariants).
      str("inventory_item_id"),
      str("location_id", false),
      str("kind", false),
      int("quantity", false),
      str("reason"),
      str("reference_type"),
      str("reference_id"),
      ts("occurred_at", false)
    ],
    primaryKey: canonicalKey,
    versionColumn: "updated_at",
    partitionBy: "occurred_at",
    clusterBy: [...defaultCluster, "location_id", "sku"]
  }),
  purchase_orders: defineTable({
    name: "purchase_orders",
    doc: "Purchase orders to suppliers.",
    columns: [
      ...lineage,
      str("supplier_id"),
      str("number"),
      str("status"),
      str("location_id"),
      str("currency"),
      money("total"),
      ts("ordered_at"),
      ts("expected_at"),
      ts("received_at")
    ],
    primaryKey: canonicalKey,
    versionColumn: "updated_at",
    partitionBy: "updated_at",
    clusterBy: defaultCluster
  }),
  purchase_order_lines: defineTable({
    name: "purchase_order_lines",
    doc: "Lines of purchase orders.",
    columns: [
      ...lineage,
      str("purchase_order_id", false),
      str("variant_id"),
      str("sku"),
      str("inventory_item_id"),
      int("quantity_ordered"),
      int("quantity_received"),
      money("unit_cost")
    ],
    primaryKey: canonicalKey,
    versionColumn: "updated_at",
    partitionBy: "updated_at",
    clusterBy: [...defaultCluster, "purchase_order_id"]
  }),
  suppliers: defineTable({
    name: "suppliers",
    doc: "Suppliers.",
    columns: [...lineage, str("name"), pii("email"), str("currency")],
    primaryKey: canonicalKey,
    versionColumn: "updated_at",
    partitionBy: "updated_at",
    clusterBy: defaultCluster
  })
} as const

/** The raw replay table: every landed record, verbatim, with where and when it came from. */
export const RawTable = defineTable({
  name: "_kura_raw",
  doc: "Every fetched record as received; the source for re-modelling without the APIs.",
  columns: [
    str("source", false),
    str("source_account", false),
    str("stream", false),
    str("source_id", false),
    ts("updated_at"),
    // zstd, not DuckDB's own pick (FSST): compressing a checkpoint's new JSON payloads with FSST
    // held 150–250 MiB of native memory beyond memory_limit (a backfill's peak RSS 621–649 →
    // 446 MiB in bench/window-memory.mjs, 12 × 5k orders) and the file is 3× smaller (55 vs
    // 170 MiB there).
    { name: "payload", type: "json", nullable: false, compression: "zstd" },
    ts("fetched_at", false),
    str("_batch_id", false),
    str("lake_path"),
    // Last, so a table an older Kura made (the column added by migration) has the declared order.
    {
      name: "payload_hash",
      type: "string",
      nullable: true,
      doc: "md5 hex of the payload text as stored; NULL (written before it existed) counts as changed"
    }
  ],
  // One row per record version: a re-cut window or a re-landed batch holding the same record at
  // the same updated_at is the same row (the first batch that landed it stays in _batch_id), so
  // reloads are idempotent. updated_at may be NULL (a record without one); the MERGE matches
  // NULLs as equal.
  primaryKey: ["source", "source_account", "stream", "source_id", "updated_at"],
  // A record without an updated_at (Lightspeed items) has no version to key a change by: its row
  // takes the latest copy fetched whose payload differs, or a changed item would never reach this
  // table (the lake keeps every copy). Payloads are compared by their stored hash, so a re-read
  // of unchanged records reads 32 characters a row, not the payloads.
  latestWhenUnversioned: {
    nullKey: "updated_at",
    content: "payload",
    newer: "fetched_at",
    contentHash: "payload_hash"
  },
  partitionBy: "fetched_at",
  clusterBy: ["source", "source_account", "stream"]
})

/** Kura's bookkeeping tables (not loaded through MERGE of canonical rows). */
export const StateTables = {
  syncState: defineTable({
    name: "_kura_sync_state",
    doc: "Per-stream cursors (kind=checkpoint) and bulk jobs (kind=bulk_job). A checkpoint whose stream starts with `meta:` is an account's own state, not a stream: kura-sync keeps a shop's last `shop` answer as `meta:shop-info` (reused for 10 minutes, by later processes too).",
    columns: [
      str("kind", false),
      str("id", false),
      str("source", false),
      str("source_account", false),
      str("stream", false),
      str("cursor"),
      str("meta"),
      str("window_start"),
      str("window_end"),
      str("state"),
      str("remote_status"),
      str("object_count"),
      int("created_at", false),
      int("updated_at", false)
    ],
    primaryKey: ["kind", "id"],
    clusterBy: ["kind", "source", "source_account", "stream"]
  }),
  syncRuns: defineTable({
    name: "_kura_sync_runs",
    doc: "Ledger of every run and stream: cursors, API-reported counts and what was loaded.",
    columns: [
      str("run_id", false),
      str("source", false),
      str("source_account", false),
      str("stream", false),
      int("started_at", false),
      int("finished_at"),
      str("cursor_before"),
      str("cursor_after"),
      int("reported_count"),
      money("reported_total"),
      int("rows_fetched"),
      int("rows_loaded"),
      money("loaded_total"),
      str("status", false),
      str("detail"),
      {
        name: "api_usage",
        type: "json",
        nullable: true,
        doc: "what the run cost the API (RunApiUsage JSON: calls, cost points, throttles, waits, retries); added to older ledgers as a nullable column"
      }
    ],
    primaryKey: ["run_id", "source", "source_account", "stream"],
    clusterBy: ["source", "source_account", "stream"]
  }),
  deadLetters: defineTable({
    name: "_kura_dead_letters",
    doc: "Records that failed to decode or load, with payload, reason and origin; replayable.",
    columns: [
      str("id", false),
      str("source", false),
      str("source_account", false),
      str("stream", false),
      str("source_id"),
      str("payload", false),
      str("reason", false),
      str("detail"),
      str("origin"),
      int("at", false),
      int("attempts", false),
      int("replayed_at")
    ],
    primaryKey: ["id"],
    clusterBy: ["source", "source_account", "stream", "reason"]
  }),
  tokens: defineTable({
    name: "_kura_tokens",
    doc: "OAuth token sets for WarehouseTokenStore: a sealed record per credential and a fingerprint of its refresh token for compare-and-set.",
    columns: [
      str("key", false),
      {
        name: "sealed",
        type: "string",
        nullable: false,
        doc: "the token set, AES-256-GCM sealed when a key is set"
      },
      {
        name: "refresh_fingerprint",
        type: "string",
        nullable: true,
        doc: "HMAC/SHA-256 of the refresh token"
      },
      int("updated_at", false)
    ],
    primaryKey: ["key"]
  }),
  redactions: defineTable({
    name: "_kura_redactions",
    doc: "Ledger of erasure requests (GDPR/CCPA, Shopify compliance webhooks): what was asked, by which trigger, what was changed, and when it was last re-applied.",
    columns: [
      {
        name: "id",
        type: "string",
        nullable: false,
        doc: "kind:source:account:subject; one row per request subject"
      },
      { name: "kind", type: "string", nullable: false, doc: "customer | shop | data_request" },
      { name: "trigger", type: "string", nullable: false, doc: "cli | webhook | api" },
      str("source", false),
      str("source_account", false),
      { name: "customer_id", type: "string", nullable: true, doc: "the customer's id in its source" },
      {
        name: "email_sha256",
        type: "string",
        nullable: true,
        doc: "SHA-256 of the lower-cased e-mail asked for (the address itself is not kept)"
      },
      {
        name: "order_ids",
        type: "string",
        nullable: true,
        doc: "JSON list of order ids named by the request"
      },
      {
        name: "request_id",
        type: "string",
        nullable: true,
        doc: "the webhook's event id or data request id"
      },
      { name: "requested_at", type: "int", nullable: false, doc: "when the request was made (epoch ms)" },
      {
        name: "applied_at",
        type: "int",
        nullable: true,
        doc: "last time it was applied or re-applied (epoch ms)"
      },
      { name: "status", type: "string", nullable: false, doc: "pending | done | failed | recorded" },
      {
        name: "rows_changed",
        type: "int",
        nullable: true,
        doc: "warehouse rows changed or deleted, all passes"
      },
      {
        name: "files_changed",
        type: "int",
        nullable: true,
        doc: "lake files rewritten or deleted, all passes"
      },
      str("detail"),
      int("created_at", false),
      int("updated_at", false)
    ],
    primaryKey: ["id"],
    clusterBy: ["kind", "source", "source_account"]
  }),
  leases: defineTable({
    name: "_kura_leases",
    doc: "Which runner holds a stream, until when.",
    columns: [
      str("stream_key", false),
      str("holder", false),
      int("acquired_at", false),
      int("expires_at", false)
    ],
    primaryKey: ["stream_key"]
  })
} as const

/** Names of the canonical tables. */
export type CanonicalTableName = keyof typeof CanonicalTables

/** The row type of each canonical table. */
export type CanonicalRow<T extends CanonicalTableName> = RowOf<(typeof CanonicalTables)[T]>

/** The raw table's row type. */
export type RawRow = RowOf<typeof RawTable>

/** Every table definition, canonical first, in creation order. */
export const AllTables: ReadonlyArray<TableDef> = [
  ...Object.values(CanonicalTables),
  RawTable,
  ...Object.values(StateTables)
]

/** Names of the tables `Warehouse.load` accepts (canonical tables and the raw table). */
export type LoadableTableName = CanonicalTableName | typeof RawTable.name

/** Looks up a loadable table definition by name. */
export const loadableTable = (name: LoadableTableName): TableDef =>
  name === RawTable.name ? RawTable : CanonicalTables[name]

/** The sources a canonical row may come from. */
export const Sources = ["shopify", "lightspeed", "stocky"] as const

/** A canonical row's `source`. */
export type Source = (typeof Sources)[number]
