/**
 * One GraphQL request, the way Shopify answers it: parse and validate against the real Admin
 * schema (Shopify-shaped errors), price the query, enforce the 1000-point ceiling and the leaky
 * bucket (THROTTLED with actualQueryCost null), execute, refund unused points, and always return
 * `extensions.cost` with `throttleStatus`.
 */
import {
  type DocumentNode,
  type ExecutionResult,
  execute,
  type FragmentDefinitionNode,
  GraphQLError,
  Kind,
  type OperationDefinitionNode,
  parse,
  validate
} from "graphql"
import { type CostContext, operationCost } from "./cost.js"
import { retryAfterSeconds } from "./format.js"
import type { LeakyBucket } from "./LeakyBucket.js"
import { MutationRootView, QueryRootView } from "./RootView.js"
import type { ShopifyState } from "./ShopifyState.js"
import { bump } from "./ShopifyState.js"
import { buildShopifySchema } from "./schema.js"
import type { RequestContext } from "./views.js"

/** An HTTP answer before it is written. */
export interface HandlerResponse {
  readonly status: number
  readonly body: string
  readonly headers?: Readonly<Record<string, string>>
  /** Whether server state changed (faults that corrupt a response must then be skipped). */
  readonly mutated?: boolean
}

const FLOAT = "\u0000float:"

/** Marks a number to be written with a decimal point (Shopify's `2000.0`). */
const float = (n: number): string => `${FLOAT}${Number.isInteger(n) ? n.toFixed(1) : String(n)}`

/**
 * JSON with `float()` markers rewritten to bare decimals. Only the small `extensions` block holds
 * markers, so the (possibly large) `data` is serialised untouched and spliced in.
 */
export const shopifyJson = (value: Readonly<Record<string, unknown>>): string => {
  const { data, ...rest } = value
  const small = JSON.stringify(rest).replace(/"\\u0000float:([0-9.eE+-]+)"/g, "$1")
  if (data === undefined) return small
  return small === "{}"
    ? `{"data":${JSON.stringify(data)}}`
    : `{"data":${JSON.stringify(data)},${small.slice(1)}`
}

const queryRoot = new QueryRootView()
const mutationRoot = new MutationRootView()

/** The throttle status block every response carries. */
export const throttleStatus = (st: ShopifyState, bucket: LeakyBucket) => ({
  maximumAvailable: float(bucket.capacity),
  currentlyAvailable: Math.floor(bucket.available(st.clock.elapsed())),
  restoreRate: float(bucket.perSecond)
})

const costBlock = (
  st: ShopifyState,
  bucket: LeakyBucket,
  requested: number | null,
  actual: number | null
) => ({
  cost: { requestedQueryCost: requested, actualQueryCost: actual, throttleStatus: throttleStatus(st, bucket) }
})

const shopifyValidationError = (e: GraphQLError) => {
  const base = { message: e.message, locations: e.locations ?? [], path: e.path }
  const undefinedField = /^Cannot query field "(\w+)" on type "(\w+)"\./.exec(e.message)
  if (undefinedField !== null) {
    return {
      ...base,
      message: `Field '${undefinedField[1]}' doesn't exist on type '${undefinedField[2]}'`,
      extensions: { code: "undefinedField", typeName: undefinedField[2], fieldName: undefinedField[1] }
    }
  }
  if (/argument .* of type .* is required, but it was not provided/.test(e.message)) {
    return { ...base, extensions: { code: "missingRequiredArguments" } }
  }
  if (/^Unknown argument/.test(e.message)) return { ...base, extensions: { code: "argumentNotAccepted" } }
  if (/^Variable/.test(e.message)) return { ...base, extensions: { code: "variableMismatch" } }
  return { ...base, extensions: { code: "validationError" } }
}

/** Inputs of one GraphQL call. */
export interface GraphqlCall {
  readonly state: ShopifyState
  readonly bucket: LeakyBucket
  readonly version: string
  readonly body: unknown
}

const bodyField = (body: unknown, name: string): unknown =>
  typeof body === "object" && body !== null && name in body ? Reflect.get(body, name) : undefined

/** Handles one GraphQL request. */
export const handleGraphql = async (call: GraphqlCall): Promise<HandlerResponse> => {
  const { body, bucket, state: st, version } = call
  const query = bodyField(body, "query")
  if (typeof query !== "string" || query.trim() === "") {
    return {
      status: 400,
      body: JSON.stringify({ errors: { query: "Required parameter missing or invalid" } })
    }
  }
  const rawVariables = bodyField(body, "variables")
  const variables: Record<string, unknown> =
    typeof rawVariables === "object" && rawVariables !== null && !Array.isArray(rawVariables)
      ? { ...rawVariables }
      : {}
  const operationName = bodyField(body, "operationName")
  const noCost = (errors: ReadonlyArray<unknown>) => ({
    status: 200,
    body: shopifyJson({ errors, extensions: costBlock(st, bucket, 0, 0) })
  })

  let document: DocumentNode
  try {
    document = parse(query)
  } catch (e) {
    if (e instanceof GraphQLError) {
      return noCost([
        {
          message: `Parse error: ${e.message.replace(/^Syntax Error: /, "")}`,
          locations: e.locations ?? [],
          extensions: { code: "parseError" }
        }
      ])
    }
    throw e
  }
  const schema = buildShopifySchema(version, st.options.schemaPath)
  const errors = validate(schema, document)
  if (errors.length > 0) return noCost(errors.map(shopifyValidationError))

  const ops = document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION
  )
  const op =
    typeof operationName === "string"
      ? ops.find((o) => o.name?.value === operationName)
      : ops.length === 1
        ? ops[0]
        : undefined
  if (op === undefined) {
    return noCost([
      {
        message:
          typeof operationName === "string"
            ? `No operation named "${operationName}"`
            : "An operation name is required"
      }
    ])
  }
  const fragments: Record<string, FragmentDefinitionNode> = {}
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments[d.name.value] = d
  const cctx: CostContext = { schema, fragments, variables }
  const requested = operationCost(cctx, op, false)
  if (requested > st.options.maxQueryCost) {
    return {
      status: 200,
      body: shopifyJson({
        errors: [
          {
            message: `Query cost is ${requested}, which exceeds the single query max cost limit (${st.options.maxQueryCost}).\n\nSee https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\ncost of a query is calculated.\n\nTo query larger amounts of data with fewer limits, bulk operations should be used instead.\nSee https://shopify.dev/api/usage/bulk-operations/queries for usage details.\n`,
            extensions: { code: "MAX_COST_EXCEEDED", cost: requested, maxCost: st.options.maxQueryCost }
          }
        ],
        extensions: costBlock(st, bucket, requested, null)
      })
    }
  }
  const now = st.clock.now()
  if (!bucket.tryTake(requested, st.clock.elapsed())) {
    bump(st, "throttled")
    return throttledResponse(st, bucket, requested)
  }
  const ctx: RequestContext = { state: st, version, bulk: false, now, search: [] }
  const result: ExecutionResult = await execute({
    schema,
    document,
    rootValue: op.operation === "mutation" ? mutationRoot : queryRoot,
    contextValue: ctx,
    variableValues: variables,
    operationName: op.name?.value
  })
  const actual =
    result.data === undefined || result.data === null
      ? 0
      : Math.min(requested, operationCost(cctx, op, true, result.data))
  bucket.give(requested - actual, st.clock.elapsed())
  const out: Record<string, unknown> = {}
  if (result.errors !== undefined && result.errors.length > 0)
    out.errors = result.errors.map((e) => e.toJSON())
  if (result.data !== undefined) out.data = result.data
  out.extensions =
    ctx.search !== undefined && ctx.search.length > 0
      ? { search: ctx.search, ...costBlock(st, bucket, requested, actual) }
      : costBlock(st, bucket, requested, actual)
  return { status: 200, body: shopifyJson(out), mutated: op.operation === "mutation" }
}

/** Seconds until `requested` points are available again (at least 1 s of real time, scaled). */
const retryAfter = (st: ShopifyState, bucket: LeakyBucket, requested: number): string => {
  const missing = Math.max(0, requested - bucket.available(st.clock.elapsed()))
  const seconds = Math.max(missing / bucket.perSecond, 1 / st.clock.timeScale)
  return retryAfterSeconds(seconds)
}

/** The documented THROTTLED answer (status 200 by default, 429 when configured). */
export const throttledResponse = (
  st: ShopifyState,
  bucket: LeakyBucket,
  requested: number
): HandlerResponse => ({
  status: st.options.throttledStatus,
  body: shopifyJson({
    errors: [
      {
        message: "Throttled",
        extensions: { code: "THROTTLED", documentation: "https://shopify.dev/api/usage/rate-limits" }
      }
    ],
    extensions: costBlock(st, bucket, requested, null)
  }),
  ...(st.options.throttledStatus === 429
    ? { headers: { "Retry-After": retryAfter(st, bucket, requested) } }
    : {})
})
