/**
 * Helpers that render one resource selection two ways: for paged queries (nested connections
 * sized with `first`, read through `nodes` with `pageInfo`) and for bulk operations (nested
 * connections without sizes, through `edges { node }`, so Shopify emits them as child lines).
 */

/** How a selection is rendered. */
export type Mode = "page" | "bulk"

/** A MoneyBag selection (shop and presentment money). */
export const MONEY_BAG = "shopMoney { amount currencyCode } presentmentMoney { amount currencyCode }"

/** A tax-line selection. */
export const TAX_LINE = `title rate ratePercentage channelLiable priceSet { ${MONEY_BAG} }`

/** A nested connection. `first` only applies in page mode. */
export const connection = (mode: Mode, field: string, first: number, body: string): string =>
  mode === "page"
    ? `${field}(first: ${first}) { pageInfo { hasNextPage endCursor } nodes { __typename ${body} } }`
    : `${field} { edges { node { __typename ${body} } } }`

/** A connection nested inside a plain list: always read inline, even in bulk mode. */
export const inlineConnection = (field: string, first: number, body: string): string =>
  `${field}(first: ${first}) { pageInfo { hasNextPage endCursor } nodes { __typename ${body} } }`

/** A paged top-level query over `root` with `$first`, `$after` and `$query`. */
export const pageQuery = (
  operation: string,
  root: string,
  selection: string,
  sortKey: string | null
): string =>
  `query ${operation}($first: Int!, $after: String, $query: String) { ${root}(first: $first, after: $after, query: $query${
    sortKey === null ? "" : `, sortKey: ${sortKey}`
  }) { pageInfo { hasNextPage endCursor } nodes { ${selection} } } }`

/** A bulk query over `root` filtered by `search` (JSON string escaping is valid GraphQL). */
export const bulkQuery = (
  root: string,
  selection: string,
  sortKey: string | null,
  search: string | null
): string => {
  const args: Array<string> = []
  if (search !== null) args.push(`query: ${JSON.stringify(search)}`)
  if (sortKey !== null) args.push(`sortKey: ${sortKey}`)
  return `{ ${root}${args.length === 0 ? "" : `(${args.join(", ")})`} { edges { node { ${selection} } } } }`
}

/**
 * A query that reads the rest of a nested connection of one object (by id), for when a page's
 * nested connection had more items than were requested.
 */
export const followUp = (typeName: string, field: string, body: string): string =>
  `query KuraMore${typeName}${field.charAt(0).toUpperCase()}${field.slice(1)}($id: ID!, $first: Int!, $after: String) { node(id: $id) { ... on ${typeName} { ${field}(first: $first, after: $after) { pageInfo { hasNextPage endCursor } nodes { __typename ${body} } } } } }`

/** A paged and bulk document pair for one resource. */
export interface ResourceDocuments {
  /** Resource name, e.g. "orders". */
  readonly name: string
  /** The top-level connection field. */
  readonly root: string
  /** Paged query with `$first`, `$after`, `$query`. */
  readonly page: string
  /** Bulk query text for a search filter (null = everything). */
  readonly bulk: (search: string | null) => string
  /** Child connection fields emitted as separate JSONL lines in bulk mode. */
  readonly bulkChildFields: ReadonlyArray<string>
  /** Minimum API version, when newer than 2025-07. */
  readonly minVersion: string | null
  /** The search field incremental windows filter on. */
  readonly cursorField: string
  /** The sort key of paged and bulk queries (null: Shopify's default order). */
  readonly sortKey: string | null
  /** Follow-up queries per nested connection path (e.g. "lineItems", "refunds.refundLineItems"). */
  readonly followUps: Readonly<Record<string, string>>
  /**
   * Lists that paged queries select as ids only (`refunds { id }`) and read afterwards through a
   * `nodes(ids: $ids)` query, by field: keeps the page's price per record low so more records fit
   * under the 1000-point ceiling. Bulk queries select them whole.
   */
  readonly detached: Readonly<Record<string, string>>
}

/** A `nodes(ids:)` query reading objects of one type (detached lists of paged queries). */
export const nodesQuery = (typeName: string, body: string): string =>
  `query KuraNodes${typeName}($ids: [ID!]!) { nodes(ids: $ids) { __typename ... on ${typeName} { ${body} } } }`

/** Builds both documents from a selection renderer. */
export const resource = (options: {
  readonly name: string
  readonly operation: string
  readonly root: string
  readonly sortKey: string | null
  readonly selection: (mode: Mode) => string
  readonly bulkChildFields: ReadonlyArray<string>
  readonly minVersion?: string
  readonly cursorField?: string
  readonly followUps?: Readonly<Record<string, string>>
  readonly detached?: Readonly<Record<string, string>>
}): ResourceDocuments => ({
  name: options.name,
  root: options.root,
  page: pageQuery(options.operation, options.root, options.selection("page"), options.sortKey),
  bulk: (search) => bulkQuery(options.root, options.selection("bulk"), options.sortKey, search),
  bulkChildFields: options.bulkChildFields,
  minVersion: options.minVersion ?? null,
  cursorField: options.cursorField ?? "updated_at",
  sortKey: options.sortKey,
  followUps: options.followUps ?? {},
  detached: options.detached ?? {}
})
