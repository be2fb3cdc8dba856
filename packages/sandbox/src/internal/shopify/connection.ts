/**
 * Relay connection plumbing: argument checks Shopify enforces (first or last required, at most
 * 250), opaque base64 cursors, and the edges/nodes/pageInfo shape.
 */
import { GraphQLError } from "graphql"

/** Paging arguments every Admin connection accepts. */
export interface PageArgs {
  readonly first?: number | null
  readonly last?: number | null
  readonly after?: string | null
  readonly before?: string | null
  readonly reverse?: boolean | null
  readonly query?: string | null
  readonly sortKey?: string | null
}

/** Maximum page size. */
export const MAX_PAGE = 250

/** The page size and direction; in bulk mode sizes are free and `first` is optional. */
export const pageSize = (
  args: PageArgs,
  bulk: boolean
): { readonly limit: number; readonly backward: boolean } => {
  const first = args.first ?? null
  const last = args.last ?? null
  if (bulk) return { limit: first ?? Number.MAX_SAFE_INTEGER, backward: false }
  if (first === null && last === null) throw new GraphQLError("you must provide one of first or last")
  if (first !== null && last !== null)
    throw new GraphQLError("providing both first and last is not supported")
  // Observed Shopify behaviour: backward paging needs a `before` cursor.
  if (last !== null && (args.before ?? null) === null) {
    throw new GraphQLError("using last without before is not supported")
  }
  const n = first ?? last ?? 0
  if (n > MAX_PAGE) {
    throw new GraphQLError(
      `The ${first !== null ? "first" : "last"} argument must be less than or equal to ${MAX_PAGE}.`,
      {
        extensions: { code: "BAD_REQUEST" }
      }
    )
  }
  if (n < 0)
    throw new GraphQLError(
      `The ${first !== null ? "first" : "last"} argument must be a non-negative integer.`
    )
  return { limit: n, backward: last !== null }
}

/** Encodes a cursor payload as Shopify-looking opaque base64. */
export const encodeCursor = (payload: Readonly<Record<string, number | string>>): string =>
  Buffer.from(JSON.stringify(payload)).toString("base64")

/** Decodes a cursor; a clear GraphQL error when it was not issued by us. */
export const decodeCursor = (cursor: string): Readonly<Record<string, number>> => {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, "base64").toString("utf8"))
    if (typeof parsed === "object" && parsed !== null) {
      const out: Record<string, number> = {}
      for (const [k, v] of Object.entries(parsed)) if (typeof v === "number") out[k] = v
      if (typeof out.last_id === "number") return out
    }
  } catch {
    // falls through to the error below
  }
  throw new GraphQLError(`Invalid cursor for request. Cursor: ${cursor}`, {
    extensions: { code: "BAD_REQUEST" }
  })
}

/** The connection object graph-js resolves `edges`, `nodes` and `pageInfo` from. */
export interface Connection<T> {
  readonly edges: ReadonlyArray<{ readonly cursor: string; readonly node: T }>
  readonly nodes: ReadonlyArray<T>
  readonly pageInfo: {
    readonly hasNextPage: boolean
    readonly hasPreviousPage: boolean
    readonly startCursor: string | null
    readonly endCursor: string | null
  }
}

/** A page whose edges and cursors are only built when selected (a class: cheaper than literal getters). */
class LazyConnection<T> implements Connection<T> {
  private built: ReadonlyArray<{ readonly cursor: string; readonly node: T }> | null = null
  constructor(
    readonly nodes: ReadonlyArray<T>,
    private readonly cursorOf: (node: T) => string,
    private readonly hasNext: boolean,
    private readonly hasPrevious: boolean
  ) {}
  get edges(): ReadonlyArray<{ readonly cursor: string; readonly node: T }> {
    this.built ??= this.nodes.map((node) => ({ cursor: this.cursorOf(node), node }))
    return this.built
  }
  get pageInfo(): Connection<T>["pageInfo"] {
    const first = this.nodes[0]
    const last = this.nodes[this.nodes.length - 1]
    return {
      hasNextPage: this.hasNext,
      hasPreviousPage: this.hasPrevious,
      startCursor: first === undefined ? null : this.cursorOf(first),
      endCursor: last === undefined ? null : this.cursorOf(last)
    }
  }
}

/** Builds a connection from one page; edges and cursors are only built when selected. */
export const connectionOf = <T>(
  nodes: ReadonlyArray<T>,
  cursorOf: (node: T) => string,
  hasNextPage: boolean,
  hasPreviousPage: boolean
): Connection<T> => new LazyConnection(nodes, cursorOf, hasNextPage, hasPreviousPage)

/**
 * Pages over an index-addressed collection (cursor = index), filtering as it goes: O(page) when
 * most items match. Backward paging (`last`/`before`) scans down from `before`.
 */
export const pageIndexed = <T, N>(
  count: number,
  at: (index: number) => T | undefined,
  matches: (item: T) => boolean,
  view: (item: T, index: number) => N,
  args: PageArgs,
  bulk: boolean
): Connection<N> => {
  const { backward, limit } = pageSize(args, bulk)
  const reverse = (args.reverse ?? false) !== backward
  const cursor = backward ? args.before : args.after
  const from = cursor === null || cursor === undefined ? null : (decodeCursor(cursor).last_id ?? 0)
  const found: Array<readonly [T, number]> = []
  if (!reverse) {
    for (let i = from === null ? 0 : from + 1; i < count && found.length <= limit; i++) {
      const item = at(i)
      if (item !== undefined && matches(item)) found.push([item, i])
    }
  } else {
    for (let i = from === null ? count - 1 : from - 1; i >= 0 && found.length <= limit; i--) {
      const item = at(i)
      if (item !== undefined && matches(item)) found.push([item, i])
    }
  }
  const more = found.length > limit
  const page = more ? found.slice(0, limit) : found
  if (backward) page.reverse()
  const nodes = page.map(([item, i]) => view(item, i))
  // Cursors are built only if `edges`/`pageInfo` are selected (never in bulk output).
  const cursorAt = (n: N): string => encodeCursor({ last_id: page[nodes.indexOf(n)]?.[1] ?? 0 })
  return connectionOf(nodes, cursorAt, backward ? from !== null : more, backward ? more : from !== null)
}
