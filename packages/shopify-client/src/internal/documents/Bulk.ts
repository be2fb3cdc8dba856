/** Bulk-operation mutations and polling queries. */

const BULK_FIELDS =
  "id status errorCode createdAt completedAt objectCount rootObjectCount fileSize url partialDataUrl type"

/** Starts a bulk query. `groupObjects` is required from 2026-01 and defaults differ by version. */
export const BULK_RUN_QUERY = `mutation KuraBulkRunQuery($query: String!, $groupObjects: Boolean!) { bulkOperationRunQuery(query: $query, groupObjects: $groupObjects) { bulkOperation { ${BULK_FIELDS} } userErrors { field message code } } }`

/** Reads one bulk operation by id (several may run at once from 2026-01). */
export const BULK_OPERATION = `query KuraBulkOperation($id: ID!) { bulkOperation(id: $id) { ${BULK_FIELDS} } }`

/**
 * Recent bulk operations, newest first, with their query text: after a start whose answer was
 * lost, the client looks here for the job it may have created before starting another.
 */
export const BULK_RECENT = `query KuraBulkRecent($first: Int!) { bulkOperations(first: $first, reverse: true) { nodes { ${BULK_FIELDS} query } } }`

/** The app's latest query bulk operation (API versions without `bulkOperations`). */
export const BULK_CURRENT = `query KuraBulkCurrent { currentBulkOperation(type: QUERY) { ${BULK_FIELDS} query } }`

/** Cancels a bulk operation (stray jobs after a crash, or jobs that run too long). */
export const BULK_CANCEL = `mutation KuraBulkCancel($id: ID!) { bulkOperationCancel(id: $id) { bulkOperation { ${BULK_FIELDS} } userErrors { field message } } }`

/** A cheap query used to learn the bucket and the served API version. */
export const SHOP_PING = "query KuraShopPing { shop { id name currencyCode ianaTimezone } }"
