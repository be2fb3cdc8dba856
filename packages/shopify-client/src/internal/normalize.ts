/**
 * Turns nested `{ pageInfo, nodes }` connections into plain arrays so that paged and bulk
 * records decode with the same schema, and reports nested connections that were cut short.
 */
import { Predicate } from "effect"

/** A nested connection that had more items than were fetched. */
export interface Truncation {
  readonly path: string
  readonly parentId: string | null
  readonly endCursor: string | null
}

/**
 * Returns `value` with its connections turned into arrays, and the truncated nested connections
 * found in it. Only the objects and arrays on the way to a connection are copied; a subtree
 * without one is returned as it is, so a bulk record (whose connections arrive as lines of
 * their own) costs a walk, not a deep copy: copying every node of every record was a large part
 * of decoding a bulk export on the event loop, where the warehouse's statements wait for it.
 * The input is never modified, and `appendTo` only writes into copied objects (the parent of a
 * connection always is one).
 */
export const normalizeConnections = (
  value: unknown,
  truncations: Array<Truncation>,
  path = "",
  parentId: string | null = null
): unknown => {
  if (Array.isArray(value)) {
    let out: Array<unknown> | undefined
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i]
      const normalized = normalizeConnections(item, truncations, path, parentId)
      if (out === undefined && normalized !== item) out = value.slice(0, i)
      out?.push(normalized)
    }
    return out ?? value
  }
  if (!Predicate.isObject(value)) return value
  const nodes = value.nodes
  const pageInfo = value.pageInfo
  if (Array.isArray(nodes) && Predicate.isObject(pageInfo)) {
    if (pageInfo.hasNextPage === true) {
      truncations.push({
        path,
        parentId,
        endCursor: typeof pageInfo.endCursor === "string" ? pageInfo.endCursor : null
      })
    }
    return nodes.map((n) => normalizeConnections(n, truncations, path, parentId))
  }
  const id = typeof value.id === "string" ? value.id : parentId
  let out: Record<string, unknown> | undefined
  for (const [key, v] of Object.entries(value)) {
    const normalized = normalizeConnections(v, truncations, path === "" ? key : `${path}.${key}`, id)
    if (out === undefined && normalized !== v) out = { ...value }
    if (out !== undefined) out[key] = normalized
  }
  return out ?? value
}

/** Appends `items` to the array `field` of the object with id `parentId` inside `value`. */
export const appendTo = (
  value: unknown,
  parentId: string,
  field: string,
  items: ReadonlyArray<unknown>
): boolean => {
  if (Array.isArray(value)) return value.some((v) => appendTo(v, parentId, field, items))
  if (!Predicate.isObject(value)) return false
  if (value.id === parentId && Array.isArray(value[field])) {
    value[field] = [...value[field], ...items]
    return true
  }
  return Object.values(value).some((v) => appendTo(v, parentId, field, items))
}
