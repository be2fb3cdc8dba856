/**
 * Descriptions for warehouse columns whose definition in packages/warehouse/src/Tables.ts carries
 * no `doc`, and for the views' output columns. A `doc` in the registry wins; data-dictionary.mjs
 * fails when a canonical or view column has neither, or when a note names a column that no longer
 * exists (so this file cannot drift from the tables).
 *
 * Keys: `table.column` for one table or view, or `*.column` for every table and view that has it.
 */

const shopMoney = (what) => `${what}, in the shop's (or POS account's) currency \`currency\``
const presentment = (what) =>
  `${what}, in the customer's presentment currency (Shopify only; NULL for POS and Stocky)`

/** @type {Readonly<Record<string, string>>} */
export const COLUMN_NOTES = {
  // Shared names.
  "*.order_id": "`source_id` of the order (join `orders` on source, source_account, source_id)",
  "*.variant_id": "`source_id` of the variant (`variants`); NULL when the source line names no variant",
  "*.product_id": "`source_id` of the product (`products`)",
  "*.sku":
    "the SKU as the source wrote it (not normalised; `sku_map` / `v_sku_links` give the canonical one)",
  "*.location_id": "`source_id` of the location (`locations`): the store, warehouse or online location",
  "*.currency": "ISO 4217 code of the money columns without a `_presentment` suffix",
  "*.presentment_currency": "ISO 4217 code of the `_presentment` columns (the customer's currency)",
  "*.created_at": "when the source created the record (UTC)",
  "*.processed_at": "when the source processed it (UTC); Shopify's processedAt, the sale time at a POS",
  "*.title": "display title as the source wrote it",
  "*.status": "the source's status, lower-case",
  "*.name": "display name",
  "*.email": "email address as the source holds it (personal data)",
  "*.inventory_item_id": "Shopify inventory item id (Stocky and inventory levels name items by it)",
  "*.note": "free-text note",

  // orders
  "purchase_order_lines.inventory_item_id":
    "the Shopify inventory item the line names (Stocky and Shopify purchase orders name no variant): a line loaded before its variant is linked once the variant arrives; NULL in rows written before it was kept",
  "inventory_movements.inventory_item_id":
    "the Shopify inventory item a receipt or transfer names (they name no variant): a movement loaded before its variant is linked once the variant arrives; NULL for movements whose source names the variant, and in rows written before it was kept",
  "orders.order_number": "the number a customer sees: Shopify's order name (#1001), the POS receipt id",
  "orders.customer_id": "`source_id` of the customer (`customers`); NULL for anonymous sales",
  "orders.subtotal": shopMoney(
    "Line items after discounts, before shipping (Shopify subtotalPriceSet; POS: tax-inclusive line totals)"
  ),
  "orders.discounts": shopMoney("Discounts on the order"),
  "orders.shipping": shopMoney("Shipping charged (0 at a POS)"),
  "orders.tax": shopMoney("Tax, included in or added to `total` as the shop's prices say"),
  "orders.total": shopMoney(
    "What the customer paid: the revenue `v_daily_sales` sums (cancelled orders excluded there)"
  ),
  "orders.refunded": shopMoney(
    "Total refunded on the order so far (Shopify only; POS refunds are separate `refunds` rows)"
  ),
  "orders.subtotal_presentment": presentment("`subtotal`"),
  "orders.discounts_presentment": presentment("`discounts`"),
  "orders.shipping_presentment": presentment("`shipping`"),
  "orders.tax_presentment": presentment("`tax`"),
  "orders.total_presentment": presentment("`total`"),
  "orders.refunded_presentment": presentment("`refunded`"),
  "orders.financial_status":
    "payment state in Shopify's displayFinancialStatus vocabulary for every channel (a POS sale is PAID; a POS ticket cancelled before it closed as a sale is VOIDED; a POS refund or a void of an earlier sale is a `refunds` row, not an order)",
  "orders.fulfillment_status":
    "in Shopify's displayFulfillmentStatus vocabulary for every channel (REST's null and partial read as UNFULFILLED and PARTIALLY_FULFILLED; a POS sale is FULFILLED)",
  "orders.status": "open | closed | cancelled for every channel (a POS sale is closed once rung up)",
  "orders.cancelled_at": "when the order was cancelled (UTC); NULL if it was not",

  // order_lines
  "order_lines.quantity": "units sold on the line",
  "order_lines.unit_price": shopMoney("Price of one unit before line discounts"),
  "order_lines.discount": shopMoney("Discount on the whole line"),
  "order_lines.tax": shopMoney("Tax on the whole line"),
  "order_lines.total": shopMoney("Line total after discounts"),
  "order_lines.unit_price_presentment": presentment("`unit_price`"),
  "order_lines.total_presentment": presentment("`total`"),

  // payments
  "payments.kind":
    "what the transaction did: Shopify's transaction kind, lower-case (a POS payment is a sale or a refund)",
  "payments.method": "payment method or gateway as the source names it",
  "payments.status": "Shopify's transaction status, lower-case (a POS payment is a success)",
  "payments.amount": shopMoney("Amount of the transaction"),
  "payments.amount_presentment": presentment("`amount`"),

  // refunds
  "refunds.channel": "online | pos",
  "refunds.amount": shopMoney(
    "Money returned to the customer; a Lightspeed void of an earlier sale is a refund of that sale (keyed by the void's account), so the sale's own day keeps its revenue and the void's day shows the reversal"
  ),
  "refunds.amount_presentment": presentment("`amount`"),
  "refunds.business_date": "trading day of the refund itself (not of its order), in the location's zone",

  // refund_lines
  "refund_lines.refund_id": "`source_id` of the refund (`refunds`)",
  "refund_lines.order_line_id": "`source_id` of the refunded order line (`order_lines`)",
  "refund_lines.quantity": "units refunded",
  "refund_lines.amount": shopMoney("Refunded amount of the line"),
  "refund_lines.restock":
    "whether the units went back to stock (K-Series does not say: a POS refund or void line counts as restocked unless its void reason says the goods were spoiled: Broken, Cooking, Taste, Unhappy Client, Waited too long)",

  // tax_lines
  "tax_lines.parent_type": "what the tax is on: order | line | shipping | refund_line",
  "tax_lines.parent_id": "`source_id` of that parent row",
  "tax_lines.rate": "tax rate as a fraction (0.08 is 8 %)",
  "tax_lines.amount": shopMoney("Tax amount"),
  "tax_lines.amount_presentment": presentment("`amount`"),

  // customers
  "customers.first_name": "first name (personal data)",
  "customers.last_name": "last name (personal data)",
  "customers.phone": "phone number (personal data)",

  // products and variants
  "products.vendor": "vendor or brand",
  "products.product_type": "the merchant's product type",
  "variants.barcode": "barcode (EAN/JAN/UPC) as the source holds it",
  "variants.price": shopMoney("Selling price"),
  "variants.cost": shopMoney("Unit cost, where the source keeps one"),

  // locations
  "locations.country_code": "ISO 3166-1 alpha-2 country, where the source gives one",
  "locations.active": "whether the location is active in its source",

  // sku_map
  "*.source_sku": "the SKU as the source wrote it, before normalisation",

  // inventory_movements
  "inventory_movements.location_id":
    "where the stock moved: the location's `source_id` in the row's own source, except a POS sale or refund at a location linked to a stock location (`location_map`, e.g. a Lightspeed store that sells Shopify stock), which moves stock at that stock location and carries its id (a Shopify location id on a `lightspeed` row), so movements and levels meet in `v_inventory_reconciliation`",

  // inventory_levels
  "inventory_levels.location_id": "`source_id` of the stock location (`locations`)",
  "inventory_levels.quantity_name":
    "which quantity: available | on_hand | committed | incoming | … (Shopify's names)",
  "inventory_levels.quantity": "units of that quantity at `observed_at`",
  "inventory_levels.observed_at": "when Kura read the level (UTC); the day's latest read wins",

  // inventory_movements
  "inventory_movements.kind": "why stock moved (one vocabulary for every source)",
  "inventory_movements.quantity":
    "signed change in units: negative leaves stock (sale, transfer_out), positive enters it",
  "inventory_movements.reason":
    "the source's reason for an adjustment, where it gives one; on a Lightspeed void or refund, its void reason (a spoilage reason: 0 units)",
  "inventory_movements.reference_type":
    "the record that caused it: order | refund | void (a Lightspeed VOID of an earlier sale, its goods back on the shelf unless spoiled: 0 units; the void's `refunds` row has the same id) | purchase_order | transfer | stock_adjustment | …",
  "inventory_movements.reference_id": "`source_id` of that record",
  "inventory_movements.occurred_at":
    "when the stock moved (UTC); a Lightspeed line's `timeOfSale` (rung up), which may be before its ticket closed",

  // purchase orders and suppliers
  "purchase_orders.supplier_id": "`source_id` of the supplier (`suppliers`)",
  "purchase_orders.number": "the purchase order's number as the source shows it",
  "purchase_orders.total": shopMoney("Order total at cost"),
  "purchase_orders.ordered_at": "when it was ordered (UTC)",
  "purchase_orders.expected_at": "expected arrival (UTC)",
  "purchase_orders.status":
    "Stocky's lifecycle for every source (Shopify's DRAFT / ORDERED refined from its lines and archivedAt)",
  "purchase_orders.received_at": "when it was received in full (UTC); NULL while open",
  "purchase_order_lines.purchase_order_id": "`source_id` of the purchase order (`purchase_orders`)",
  "purchase_order_lines.quantity_ordered": "units ordered",
  "purchase_order_lines.quantity_received": "units received so far",
  "purchase_order_lines.unit_cost": shopMoney("Cost of one unit"),

  // v_daily_sales
  "v_daily_sales.business_date": "trading day in the location's zone (refunds on their own day)",
  "v_daily_sales.channel": "online | pos",
  "v_daily_sales.revenue":
    "sum of `orders.total` of live, not cancelled orders (tax included as `total` includes it)",
  "v_daily_sales.orders": "count of those orders",
  "v_daily_sales.units": "sum of their order lines' `quantity`",
  "v_daily_sales.tax": "sum of their `orders.tax`",
  "v_daily_sales.refunds": "sum of `refunds.amount` dated on this business day",
  "v_daily_sales.net_revenue": "revenue − refunds",

  // v_source_reconciliation and v_api_usage
  "*.run_id": "the run's id (`_kura_sync_runs.run_id`)",
  "*.source": "shopify | lightspeed | stocky",
  "*.source_account": "shop domain, POS account name or Stocky store",
  "*.stream": "the stream (orders, customers, sales, …)",
  "*.started_at": "run start, epoch milliseconds",
  "*.finished_at": "run end, epoch milliseconds; NULL while running",
  "v_source_reconciliation.status": "running | complete | incomplete | failed",
  "v_api_usage.status": "running | complete | incomplete | failed",
  "*.cursor_before": "the stream's cursor when the run started (JSON or text, per stream)",
  "*.cursor_after": "the cursor the run committed; unchanged when incomplete",
  "*.reported_count": "how many records the API said the window holds (NULL where the API has no count)",
  "*.rows_fetched": "records the run read",
  "*.rows_loaded": "records the run loaded",
  "*.reported_total": "a money total the API reported, where it reports one",
  "*.loaded_total": "the same total over what was loaded",
  "v_source_reconciliation.count_matches":
    "reported_count equals rows_loaded (TRUE when nothing was reported)",
  "v_source_reconciliation.total_matches":
    "reported_total equals loaded_total (TRUE when nothing was reported)",
  "*.detail": "why a run failed or did not tie",
  "*.api_usage": "what the run cost the API (JSON; typed in v_api_usage)",
  "v_api_usage.api_calls": "HTTP requests made",
  "v_api_usage.cost_requested": "Shopify GraphQL cost points requested (requestedQueryCost)",
  "v_api_usage.cost_actual": "Shopify cost points charged (actualQueryCost)",
  "v_api_usage.throttled": "THROTTLED / 429 answers",
  "v_api_usage.throttle_waits": "waits the rate limiter imposed",
  "v_api_usage.throttle_wait_seconds": "seconds spent in those waits",
  "v_api_usage.retries": "retried requests",
  "v_api_usage.cost_per_row": "cost_actual / rows_loaded (NULL when nothing loaded)",

  // SKU and location links
  "*.match_method": "how the link was made: sku | barcode | manual (SKUs), manual | name (locations)",
  "v_sku_links.sku": "canonical SKU (normalised, or the manual override)",
  "v_sku_links.ambiguous": "several variants of one account share this SKU by matching",
  "v_sku_links.link_sku": "the SKU the stock views link by: `sku`, or `sku#variant_id` while ambiguous",
  "v_sku_ambiguities.sku": "the shared canonical SKU",
  "v_sku_ambiguities.variant_count": "how many variants of the account share it",
  "v_sku_ambiguities.first_variant_id": "the smallest of their ids",
  "v_sku_ambiguities.last_variant_id": "the largest of their ids",
  "v_location_links.location_id": "`source_id` of the non-Shopify location",
  "*.stock_source": "source of the stock location the movement or link lands in (shopify)",
  "*.stock_account": "account of that stock location",
  "*.stock_location_id": "`source_id` of that stock location",

  // v_stock_movements
  "v_stock_movements.source_id": "`inventory_movements.source_id`",
  "v_stock_movements.kind": "as `inventory_movements.kind`",
  "v_stock_movements.quantity": "signed units, as `inventory_movements.quantity`",
  "v_stock_movements.occurred_at": "when the stock moved (UTC); a Lightspeed line: when it was rung up",
  "v_stock_movements.ticket_closed_at":
    "a Lightspeed sale, void or refund movement: when its account (ticket) closed (`processed_at`, `timeClosed`); NULL for other sources (UTC)",
  "v_stock_movements.reference_type": "as `inventory_movements.reference_type`",
  "v_stock_movements.reference_id": "as `inventory_movements.reference_id`",
  "v_stock_movements.location_id": "the movement's own location (`source_id` in its source)",
  "v_stock_movements.source_sku": "the SKU as the movement's source wrote it",
  "v_stock_movements.sku": "canonical link SKU the movement counts against",
  "v_stock_movements.location_match": "how the stock location was found: manual | name | id | self",

  // v_deleted_before_read
  "v_deleted_before_read.source_id": "the deleted order's id (`orders.source_id` it would have had)",
  "v_deleted_before_read.deleted_at":
    "when Shopify deleted it (the event's time; for a webhook, when Kura received it) (UTC)",
  "v_deleted_before_read.evidence":
    "what Kura kept in `_kura_raw`: event (the deletions stream) | webhook (orders/delete)",

  // v_sync_runs, v_sync_state, v_dead_letters: the bookkeeping tables with timestamps
  "v_sync_runs.started_at": "run start (UTC)",
  "v_sync_runs.finished_at": "run end (UTC); NULL while running",
  "v_sync_runs.duration_seconds": "finished_at − started_at in seconds; NULL while running",
  "v_sync_runs.status": "running | complete | incomplete | failed",
  "v_sync_state.kind": "checkpoint (a stream's cursor) | bulk_job (a Shopify bulk operation)",
  "v_sync_state.id": "the stream key of a checkpoint, the job id of a bulk job",
  "v_sync_state.cursor": "the committed cursor (JSON or text, per stream)",
  "v_sync_state.window_start": "a bulk job's window start",
  "v_sync_state.window_end": "a bulk job's window end",
  "v_sync_state.state": "a bulk job's state in Kura",
  "v_sync_state.remote_status": "the bulk operation's status as Shopify last reported it",
  "v_sync_state.object_count": "objects the bulk operation reported",
  "v_sync_state.created_at": "when Kura first wrote the row (UTC)",
  "v_sync_state.updated_at": "when Kura last wrote the row (UTC)",
  "v_sync_state.age_seconds": "seconds since updated_at, at query time",
  "v_dead_letters.id": "the letter's id",
  "v_dead_letters.source_id": "the record's id in its source, when it could be read",
  "v_dead_letters.reason": "why it failed (decode, map, load, shop_facts, …)",
  "v_dead_letters.detail": "the error, naming the field",
  "v_dead_letters.origin": "where the record came from (a lake batch path or an API read)",
  "v_dead_letters.at": "when it was dead-lettered (UTC)",
  "v_dead_letters.attempts": "replay attempts so far",
  "v_dead_letters.replayed_at": "when a replay loaded it (UTC); NULL while waiting",
  "v_dead_letters.replayed": "TRUE once a replay loaded it",

  // v_inventory_reconciliation
  "v_inventory_reconciliation.sku": "canonical link SKU",
  "v_inventory_reconciliation.location_id": "`source_id` of the stock location",
  "v_inventory_reconciliation.snapshot_date": "UTC day of the observed snapshot",
  "v_inventory_reconciliation.observed_at": "when that snapshot was read (UTC)",
  "v_inventory_reconciliation.previous_observed_at": "when the previous snapshot was read (UTC)",
  "v_inventory_reconciliation.previous_quantity":
    "on-hand at the previous snapshot; NULL on the first day (status baseline)",
  "v_inventory_reconciliation.movement_count": "movements between the two snapshots",
  "v_inventory_reconciliation.net_movement": "their signed sum",
  "v_inventory_reconciliation.sold": "sum of sale movements (negative)",
  "v_inventory_reconciliation.restocked": "sum of refund_restock movements",
  "v_inventory_reconciliation.received": "sum of receipt movements",
  "v_inventory_reconciliation.adjusted": "sum of adjustment movements",
  "v_inventory_reconciliation.transferred_out": "sum of transfer_out movements (negative)",
  "v_inventory_reconciliation.transferred_in": "sum of transfer_in movements",
  "v_inventory_reconciliation.count_corrections": "sum of count_correction movements",
  "v_inventory_reconciliation.expected_quantity": "previous_quantity + net_movement",
  "v_inventory_reconciliation.observed_quantity": "on-hand in this snapshot",
  "v_inventory_reconciliation.discrepancy": "observed_quantity − expected_quantity",
  "v_inventory_reconciliation.deleted_before_read":
    "Shopify orders of this account deleted after the previous snapshot and by this one before Kura read them (`v_deleted_before_read`); a shortfall with any is labelled `deleted_before_read`",
  "v_inventory_reconciliation.voided_sales":
    "Lightspeed sales of this SKU voided in the window (void movements); a shortfall no larger than what they put back, or an excess where one was spoiled, is labelled `voided_sale`",
  "v_inventory_reconciliation.open_tickets":
    "Lightspeed tickets open at one of the two snapshots (lines rung up by it, account closed after it)",
  "v_inventory_reconciliation.expected_quantity_at_close":
    "expected_quantity with those tickets' lines dated when the ticket closed; a discrepancy it matches exactly is labelled `open_ticket_at_snapshot`",
  "v_inventory_reconciliation.status": "baseline | reconciled | discrepancy",
  "v_inventory_reconciliation.likely_cause": "for a discrepancy, the likeliest explanation and what to check"
}
