/** Report queries: ShopifyQL (`shopifyqlQuery`, Admin API 2025-10 and later). */

/** Runs one ShopifyQL query; `rows` is JSON keyed by column name. */
export const SHOPIFYQL_QUERY =
  "query KuraShopifyql($query: String!) { shopifyqlQuery(query: $query) { parseErrors tableData { columns { name dataType displayName } rows } } }"
