/**
 * Static cost estimation of a GraphQL document, following Shopify's published model: scalars and
 * enums cost 0, objects 1, a connection (or list) sized by `first`/`last` costs 2 plus that many
 * times its node, nested connections multiply, typed fragments are summed (a safe over-estimate of Shopify's
 * most-expensive-branch rule), mutations cost 10. Estimates are pre-debited from the cost bucket before a request is
 * sent, so a good estimate is what keeps THROTTLED responses at zero.
 *
 * @since 0.1.0
 */
// From `graphql/language`, not the package root: the root loads the whole library (execution,
// validation, the type system), and estimating a cost only parses. Imported cold, without a
// compile cache, the root took 128–201 ms here and `graphql/language` 19–28 ms.
import {
  type DocumentNode,
  type FragmentDefinitionNode,
  Kind,
  parse,
  type SelectionSetNode,
  type ValueNode
} from "graphql/language"

/** Variables as sent with a query. */
type Variables = Readonly<Record<string, unknown>>

const documentCache = new Map<string, DocumentNode>()

const parseCached = (document: string): DocumentNode => {
  let doc = documentCache.get(document)
  if (doc === undefined) {
    doc = parse(document, { noLocation: true })
    if (documentCache.size > 500) documentCache.clear()
    documentCache.set(document, doc)
  }
  return doc
}

const intValue = (node: ValueNode, variables: Variables): number | undefined => {
  if (node.kind === Kind.INT) return Number.parseInt(node.value, 10)
  if (node.kind === Kind.VARIABLE) {
    const v = variables[node.name.value]
    return typeof v === "number" ? v : undefined
  }
  return undefined
}

const listLength = (node: ValueNode, variables: Variables): number | undefined => {
  if (node.kind === Kind.LIST) return node.values.length
  if (node.kind === Kind.VARIABLE) {
    const v = variables[node.name.value]
    return Array.isArray(v) ? v.length : undefined
  }
  return undefined
}

/** Fields that wrap a connection's nodes without costing anything themselves. */
const transparent = new Set(["edges", "node", "nodes"])
const free = new Set(["pageInfo", "cursor", "__typename"])

const selectionCost = (
  set: SelectionSetNode,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  variables: Variables,
  depth: number
): number => {
  if (depth > 20) return 0
  // Typed inline fragments are alternatives, so Shopify charges the most expensive; summing them
  // over-estimates slightly, which only ever makes pacing more conservative.
  let plain = 0
  for (const sel of set.selections) {
    if (sel.kind === Kind.FIELD) {
      if (sel.selectionSet === undefined || free.has(sel.name.value)) continue
      const inner = selectionCost(sel.selectionSet, fragments, variables, depth + 1)
      const name = sel.name.value
      // An edge is free; the node it wraps (or each item of `nodes`) is an object.
      if (name === "edges") {
        plain += inner
        continue
      }
      if (name === "node" || name === "nodes") {
        // `nodes(ids: [...])` reads one object per id.
        const ids = sel.arguments?.find((a) => a.name.value === "ids")
        plain += (ids === undefined ? 1 : (listLength(ids.value, variables) ?? 1)) * (1 + inner)
        continue
      }
      const isConnection = sel.selectionSet.selections.some(
        (s) => s.kind === Kind.FIELD && transparent.has(s.name.value)
      )
      const sizeArg = sel.arguments?.find((a) => a.name.value === "first" || a.name.value === "last")
      const n = sizeArg === undefined ? undefined : intValue(sizeArg.value, variables)
      if (isConnection) plain += 2 + (n ?? 0) * inner
      else plain += (n ?? 1) * (1 + inner)
    } else if (sel.kind === Kind.INLINE_FRAGMENT) {
      plain += selectionCost(sel.selectionSet, fragments, variables, depth + 1)
    } else {
      const frag = fragments.get(sel.name.value)
      if (frag !== undefined) plain += selectionCost(frag.selectionSet, fragments, variables, depth + 1)
    }
  }
  return plain
}

/**
 * Estimates the requested cost of `document` with `variables`, in Shopify cost points.
 *
 * @since 0.1.0
 * @category constructors
 */
export const estimateQueryCost = (document: string, variables: Variables = {}): number => {
  const doc = parseCached(document)
  const fragments = new Map<string, FragmentDefinitionNode>()
  for (const def of doc.definitions) {
    if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def)
  }
  let total = 0
  for (const def of doc.definitions) {
    if (def.kind !== Kind.OPERATION_DEFINITION) continue
    if (def.operation === "mutation") total += 10
    else total += selectionCost(def.selectionSet, fragments, variables, 0)
  }
  return Math.max(1, Math.ceil(total))
}

/**
 * The largest page size (≤ `max`) whose estimated cost stays within `budget`, found by bisection
 * on the variable `variable` (usually `first`). Returns at least 1.
 *
 * @since 0.1.0
 * @category constructors
 */
export const largestAffordablePage = (
  document: string,
  variables: Variables,
  options: { readonly variable?: string; readonly max: number; readonly budget: number }
): number => {
  const name = options.variable ?? "first"
  const cost = (n: number) => estimateQueryCost(document, { ...variables, [name]: n })
  if (cost(options.max) <= options.budget) return options.max
  let lo = 1
  let hi = options.max
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2)
    if (cost(mid) <= options.budget) lo = mid
    else hi = mid - 1
  }
  return lo
}
