/**
 * A lean executor for bulk queries. graphql-js is right for interactive requests but too slow to
 * write millions of JSONL lines, so bulk output walks the validated selection directly over the
 * same views: connections become child lines carrying `__parentId`, everything else stays inline.
 */
import {
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLSchema,
  getArgumentValues,
  getNamedType,
  getNullableType,
  isAbstractType,
  isCompositeType,
  isInterfaceType,
  isLeafType,
  isListType,
  isObjectType,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode
} from "graphql"
import { type CostContext, collectFields, isConnection } from "./cost.js"

/** One JSONL record: its own line plus child records that reference it. */
export interface BulkRecord {
  readonly line: Record<string, unknown>
  readonly children: Array<BulkRecord>
}

type Source = Record<string, unknown>

const isSource = (v: unknown): v is Source => typeof v === "object" && v !== null

/** A compiled bulk query: which root connection, its arguments and the per-node projector. */
export interface CompiledBulk {
  readonly rootField: string
  readonly rootArgs: Record<string, unknown>
  /** Projects one root node into a record (with nested child records). */
  project(node: unknown, ctx: unknown): BulkRecord
}

/** Structural problems Shopify reports as INVALID user errors. */
export class BulkQueryError extends Error {}

/** Checks Shopify's bulk query rules and compiles the projector. */
export const compileBulk = (schema: GraphQLSchema, document: DocumentNode): CompiledBulk => {
  const ops = document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION
  )
  const op = ops[0]
  if (op === undefined || ops.length > 1)
    throw new BulkQueryError("Bulk queries must contain exactly one operation.")
  if (op.operation !== "query")
    throw new BulkQueryError(
      "Bulk query operations must be queries; use bulkOperationRunMutation for mutations."
    )
  const fragments: Record<string, FragmentDefinitionNode> = {}
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments[d.name.value] = d
  const cctx: CostContext = { schema, fragments, variables: {} }
  const queryType = schema.getQueryType()
  if (queryType === null || queryType === undefined) throw new BulkQueryError("Schema has no query type.")
  const roots = collectFields(cctx, queryType, op.selectionSet).filter(
    ([f]) => !f.name.value.startsWith("__")
  )
  const root = roots[0]
  if (root === undefined || roots.length > 1)
    throw new BulkQueryError("Bulk queries must contain exactly one top-level field.")
  const rootNode = root[0]
  const rootName = rootNode.name.value
  if (rootName === "node" || rootName === "nodes")
    throw new BulkQueryError("Bulk queries cannot contain a top-level `node` or `nodes` field.")
  const rootDef = queryType.getFields()[rootName]
  if (rootDef === undefined) throw new BulkQueryError(`Field '${rootName}' doesn't exist on type 'QueryRoot'`)
  const rootConn = getNamedType(rootDef.type)
  if (!isConnection(rootConn) || !isObjectType(rootConn))
    throw new BulkQueryError("Bulk queries must contain at least one connection.")

  let connections = 0
  let maxDepth = 0
  const argCache = new WeakMap<FieldNode, Record<string, unknown>>()
  const argsOf = (def: GraphQLField<unknown, unknown>, node: FieldNode): Record<string, unknown> => {
    let a = argCache.get(node)
    if (a === undefined) {
      a = { ...getArgumentValues(def, node) }
      delete a.first
      delete a.last
      argCache.set(node, a)
    }
    return a
  }

  type Plan = ReadonlyArray<{
    readonly key: string
    readonly name: string
    readonly node: FieldNode
    readonly def: GraphQLField<unknown, unknown> | null
    readonly cond: GraphQLCompositeType
    /** Concrete type name the field is conditional on, or null when it always applies. */
    readonly only: string | null
    readonly kind: "typename" | "leaf" | "connection" | "list" | "object"
    readonly child: Plan | null
    readonly childType: GraphQLCompositeType | null
  }>

  const planCache = new Map<string, Plan>()
  const nodeSelections = (
    conn: GraphQLCompositeType,
    field: FieldNode
  ): { type: GraphQLCompositeType; sets: Array<SelectionSetNode> } | null => {
    if (!isObjectType(conn)) return null
    const nodesDef = conn.getFields().nodes
    const type = nodesDef === undefined ? null : getNamedType(nodesDef.type)
    if (type === null || !isCompositeType(type)) return null
    const sets: Array<SelectionSetNode> = []
    for (const [f] of collectFields(cctx, conn, field.selectionSet)) {
      if (f.name.value === "nodes" && f.selectionSet !== undefined) sets.push(f.selectionSet)
      if (f.name.value === "edges" && isObjectType(getNamedType(conn.getFields().edges?.type ?? conn))) {
        const edgeType = getNamedType(conn.getFields().edges?.type ?? conn)
        if (isObjectType(edgeType))
          for (const [e] of collectFields(cctx, edgeType, f.selectionSet))
            if (e.name.value === "node" && e.selectionSet !== undefined) sets.push(e.selectionSet)
      }
    }
    return { type, sets }
  }

  const plan = (type: GraphQLCompositeType, sets: ReadonlyArray<SelectionSetNode>, depth: number): Plan => {
    const out: Array<Plan[number]> = []
    for (const set of sets) {
      for (const [node, cond] of collectFields(cctx, type, set)) {
        const name = node.name.value
        const key = node.alias?.value ?? name
        const only = isAbstractType(cond) || cond === type ? null : cond.name
        if (name === "__typename") {
          out.push({ key, name, node, def: null, cond, only, kind: "typename", child: null, childType: null })
          continue
        }
        const def = isObjectType(cond) || isInterfaceType(cond) ? (cond.getFields()[name] ?? null) : null
        if (def === null) continue
        const named = getNamedType(def.type)
        if (isLeafType(named) || !isCompositeType(named)) {
          out.push({ key, name, node, def, cond, only, kind: "leaf", child: null, childType: null })
        } else if (isConnection(named)) {
          connections++
          if (depth + 1 > 2)
            throw new BulkQueryError(
              "Bulk queries cannot contain connections with a nesting depth greater than 2."
            )
          maxDepth = Math.max(maxDepth, depth + 1)
          const ns = nodeSelections(named, node)
          if (ns === null) continue
          out.push({
            key,
            name,
            node,
            def,
            cond,
            only,
            kind: "connection",
            child: plan(ns.type, ns.sets, depth + 1),
            childType: ns.type
          })
        } else {
          const kind = isListType(getNullableType(def.type)) ? "list" : "object"
          out.push({
            key,
            name,
            node,
            def,
            cond,
            only,
            kind,
            child: node.selectionSet === undefined ? [] : plan(named, [node.selectionSet], depth),
            childType: named
          })
        }
      }
    }
    return out
  }

  const rootSets = nodeSelections(rootConn, rootNode)
  if (rootSets === null)
    throw new BulkQueryError("Bulk queries must select `edges { node }` or `nodes` on the connection.")
  connections++
  const rootPlan = plan(rootSets.type, rootSets.sets, 1)
  if (connections > 5) throw new BulkQueryError("Bulk queries cannot contain more than 5 connections.")
  void planCache
  void maxDepth

  const read = (
    source: Source,
    name: string,
    def: GraphQLField<unknown, unknown> | null,
    node: FieldNode,
    ctx: unknown
  ): unknown => {
    const raw = source[name]
    if (typeof raw === "function") return raw.call(source, def === null ? {} : argsOf(def, node), ctx)
    return raw
  }

  const projectPlan = (
    source: Source,
    p: Plan,
    ctx: unknown,
    children: Array<BulkRecord>,
    ownerId: unknown
  ): Record<string, unknown> => {
    const line: Record<string, unknown> = {}
    const myId = typeof source.id === "string" ? source.id : ownerId
    for (const f of p) {
      if (f.only !== null && typeof source.__typename === "string" && source.__typename !== f.only) continue
      if (f.kind === "typename") {
        // Real Shopify answers __typename on every line that selects it (ShippingLine included);
        // views without their own __typename are named by the concrete type of the field.
        line[f.key] = source.__typename ?? (isObjectType(f.cond) ? f.cond.name : null)
        continue
      }
      const value = read(source, f.name, f.def, f.node, ctx)
      switch (f.kind) {
        case "leaf":
          line[f.key] = value === undefined ? null : value
          break
        case "connection": {
          const nodes = isSource(value) && Array.isArray(value.nodes) ? value.nodes : []
          for (const n of nodes) {
            if (!isSource(n)) continue
            const grand: Array<BulkRecord> = []
            const childLine = projectPlan(n, f.child ?? [], ctx, grand, myId)
            childLine.__parentId = myId
            children.push({ line: childLine, children: grand })
          }
          break
        }
        case "list":
          line[f.key] = Array.isArray(value)
            ? value.map((item) =>
                isSource(item) ? projectPlan(item, f.child ?? [], ctx, children, myId) : item
              )
            : null
          break
        case "object":
          line[f.key] = isSource(value) ? projectPlan(value, f.child ?? [], ctx, children, myId) : null
          break
      }
    }
    return line
  }

  return {
    rootField: rootName,
    rootArgs: argsOf(rootDef, rootNode),
    project(node, ctx) {
      const children: Array<BulkRecord> = []
      const line = isSource(node) ? projectPlan(node, rootPlan, ctx, children, null) : {}
      return { line, children }
    }
  }
}
