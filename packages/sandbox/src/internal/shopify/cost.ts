/**
 * Shopify's GraphQL query cost: scalars and enums 0, objects 1, connections 2 + (items × the cost
 * of one item), nested connections multiplied, mutations 10 per root field, report-type root fields
 * a fixed price whatever they select (`FIXED_ROOT_COST`). `requestedQueryCost`
 * sizes connections from `first`/`last` before execution; `actualQueryCost` walks the returned
 * data with the same rules, so what was not returned is refunded.
 */
import {
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLNamedType,
  type GraphQLSchema,
  getNamedType,
  getNullableType,
  isCompositeType,
  isInterfaceType,
  isLeafType,
  isListType,
  isObjectType,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode
} from "graphql"

/**
 * Root fields priced as a whole (report-type calls): the price depends neither on the selection nor
 * on the answer, so requested = actual and a client's pacing is exact. Shopify
 * rates ShopifyQL by its own complexity (metrics, range, grouping); the emulator's flat 10 points is
 * an assumption (UNCONFIRMED). A failed field (null, e.g. ACCESS_DENIED) is refunded.
 */
export const FIXED_ROOT_COST: Readonly<Record<string, number>> = { shopifyqlQuery: 10 }

/** What the cost walk needs besides the schema. */
export interface CostContext {
  readonly schema: GraphQLSchema
  readonly fragments: Readonly<Record<string, FragmentDefinitionNode>>
  readonly variables: Readonly<Record<string, unknown>>
}

/** Reads an integer argument (literal or variable) from a field; undefined when absent. */
export const intArgument = (
  field: FieldNode,
  name: string,
  variables: Readonly<Record<string, unknown>>
): number | undefined => {
  const arg = field.arguments?.find((a) => a.name.value === name)
  if (arg === undefined) return undefined
  const v = arg.value
  if (v.kind === Kind.INT) return Number(v.value)
  if (v.kind === Kind.VARIABLE) {
    const value = variables[v.name.value]
    return typeof value === "number" ? value : undefined
  }
  return undefined
}

/** Whether a type is a Relay connection. */
export const isConnection = (type: GraphQLNamedType): boolean =>
  isObjectType(type) && type.name.endsWith("Connection") && "pageInfo" in type.getFields()

type Collected = ReadonlyArray<readonly [FieldNode, GraphQLCompositeType]>

const collectedCache = new WeakMap<SelectionSetNode, Map<GraphQLCompositeType, Collected>>()

/**
 * Flattens fragments: every field with the composite type it is selected on. Cached per selection
 * set and parent type, since the actual-cost walk asks again for every returned item.
 */
export const collectFields = (
  ctx: CostContext,
  parent: GraphQLCompositeType,
  set: SelectionSetNode | undefined
): Collected => {
  if (set === undefined) return []
  let byType = collectedCache.get(set)
  if (byType === undefined) {
    byType = new Map()
    collectedCache.set(set, byType)
  }
  const hit = byType.get(parent)
  if (hit !== undefined) return hit
  const fresh = collectUncached(ctx, parent, set)
  byType.set(parent, fresh)
  return fresh
}

const collectUncached = (
  ctx: CostContext,
  parent: GraphQLCompositeType,
  set: SelectionSetNode
): Collected => {
  const out: Array<readonly [FieldNode, GraphQLCompositeType]> = []
  const visit = (type: GraphQLCompositeType, s: SelectionSetNode): void => {
    for (const sel of s.selections) {
      if (sel.kind === Kind.FIELD) out.push([sel, type])
      else if (sel.kind === Kind.INLINE_FRAGMENT) {
        const cond = sel.typeCondition === undefined ? type : ctx.schema.getType(sel.typeCondition.name.value)
        if (cond !== undefined && isCompositeType(cond)) visit(cond, sel.selectionSet)
      } else {
        const frag = ctx.fragments[sel.name.value]
        const cond = frag === undefined ? undefined : ctx.schema.getType(frag.typeCondition.name.value)
        if (frag !== undefined && cond !== undefined && isCompositeType(cond)) visit(cond, frag.selectionSet)
      }
    }
  }
  if (set !== undefined) visit(parent, set)
  return out
}

const fieldDef = (type: GraphQLCompositeType, name: string) =>
  isObjectType(type) || isInterfaceType(type) ? type.getFields()[name] : undefined

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const record = (value: unknown): Record<string, unknown> | undefined => (isRecord(value) ? value : undefined)

const items = (value: unknown): ReadonlyArray<unknown> => (Array.isArray(value) ? value : [])

/** A non-leaf field of a selection set, classified once per (type, selection set). */
interface CostField {
  readonly key: string
  readonly node: FieldNode
  readonly named: GraphQLCompositeType
  readonly kind: "connection" | "list" | "object" | "fixed"
  /** The price of a `fixed` field. */
  readonly fixed?: number
}

const preparedCache = new WeakMap<SelectionSetNode, Map<GraphQLCompositeType, ReadonlyArray<CostField>>>()

/** The fields that cost anything (leaves are free), so walking returned data skips the rest. */
const prepared = (
  ctx: CostContext,
  parent: GraphQLCompositeType,
  set: SelectionSetNode | undefined
): ReadonlyArray<CostField> => {
  if (set === undefined) return []
  let byType = preparedCache.get(set)
  if (byType === undefined) {
    byType = new Map()
    preparedCache.set(set, byType)
  }
  const hit = byType.get(parent)
  if (hit !== undefined) return hit
  const out: Array<CostField> = []
  for (const [node, type] of collectFields(ctx, parent, set)) {
    const name = node.name.value
    if (name.startsWith("__")) continue
    const def = fieldDef(type, name)
    if (def === undefined) continue
    const named = getNamedType(def.type)
    if (isLeafType(named) || !isCompositeType(named)) continue
    const fixed = parent === ctx.schema.getQueryType() ? FIXED_ROOT_COST[name] : undefined
    if (fixed !== undefined) {
      out.push({ key: node.alias?.value ?? name, node, named, kind: "fixed", fixed })
      continue
    }
    const kind = isConnection(named)
      ? "connection"
      : isListType(getNullableType(def.type))
        ? "list"
        : "object"
    out.push({ key: node.alias?.value ?? name, node, named, kind })
  }
  byType.set(parent, out)
  return out
}

/** Cost of a selection set on `parent`; with `data` (actual mode) only what was returned counts. */
const selectionCost = (
  ctx: CostContext,
  parent: GraphQLCompositeType,
  set: SelectionSetNode | undefined,
  actual: boolean,
  data: unknown
): number => {
  let total = 0
  const obj = actual ? record(data) : undefined
  for (const f of prepared(ctx, parent, set)) {
    const value = actual ? obj?.[f.key] : undefined
    if (actual && (value === undefined || value === null)) continue
    if (f.kind === "fixed") total += f.fixed ?? 0
    else if (f.kind === "connection") total += connectionCost(ctx, f.named, f.node, actual, value)
    else if (f.kind === "list") {
      if (actual)
        for (const item of items(value))
          total += 1 + selectionCost(ctx, f.named, f.node.selectionSet, true, item)
      else {
        const n = intArgument(f.node, "first", ctx.variables) ?? 1
        total += n * (1 + selectionCost(ctx, f.named, f.node.selectionSet, false, undefined))
      }
    } else total += 1 + selectionCost(ctx, f.named, f.node.selectionSet, actual, value)
  }
  return total
}

const connectionCost = (
  ctx: CostContext,
  conn: GraphQLCompositeType,
  field: FieldNode,
  actual: boolean,
  value: unknown
): number => {
  const n = intArgument(field, "first", ctx.variables) ?? intArgument(field, "last", ctx.variables) ?? 0
  const obj = record(value)
  let total = 2
  for (const [node, type] of collectFields(ctx, conn, field.selectionSet)) {
    const name = node.name.value
    const def = fieldDef(type, name)
    if (def === undefined || (name !== "edges" && name !== "nodes")) continue
    const named = getNamedType(def.type)
    if (!isCompositeType(named)) continue
    const per = (item: unknown): number =>
      name === "edges"
        ? selectionCost(ctx, named, node.selectionSet, actual, item)
        : 1 + selectionCost(ctx, named, node.selectionSet, actual, item)
    if (actual) for (const item of items(obj?.[node.alias?.value ?? name])) total += per(item)
    else total += n * per(undefined)
  }
  return total
}

/** Requested (actual === false) or actual cost of an operation. */
export const operationCost = (
  ctx: CostContext,
  operation: OperationDefinitionNode,
  actual: boolean,
  data?: unknown
): number => {
  if (operation.operation === "mutation") {
    return (
      collectFields(
        ctx,
        ctx.schema.getMutationType() ?? ctx.schema.getQueryType()!,
        operation.selectionSet
      ).filter(([f]) => !f.name.value.startsWith("__")).length * 10
    )
  }
  const root = ctx.schema.getQueryType()
  if (root === undefined || root === null) return 0
  return selectionCost(ctx, root, operation.selectionSet, actual, data)
}
