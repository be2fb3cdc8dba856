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

/** Returns a normalized copy of `value` and the truncated nested connections found in it. */
export const normalizeConnections = (
  value: unknown,
  truncations: Array<Truncation>,
  path = "",
  parentId: string | null = null
): unknown => {
  if (Array.isArray(value)) return value.map((v) => normalizeConnections(v, truncations, path, parentId))
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
  const out: Record<string, unknown> = {}
  for (const [key, v] of Object.entries(value)) {
    out[key] = normalizeConnections(v, truncations, path === "" ? key : `${path}.${key}`, id)
  }
  return out
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
