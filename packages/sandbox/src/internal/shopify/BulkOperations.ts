/**
 * Bulk query operations: an asynchronous job per `bulkOperationRunQuery` that walks the whole
 * root connection, writes JSONL to a temp file and serves it from the sandbox. Status goes
 * CREATED → RUNNING → COMPLETED at a speed scaled by timeScale; counts are UnsignedInt64 strings.
 * Without grouping, parents come first and their children follow interleaved with other parents'
 * children, so clients must join on `__parentId`.
 */
import { randomBytes } from "node:crypto"
import fs from "node:fs"
import path from "node:path"
import { type DocumentNode, GraphQLError, type GraphQLResolveInfo, Kind, parse, validate } from "graphql"
import { BulkQueryError, type BulkRecord, type CompiledBulk, compileBulk } from "./BulkExecutor.js"
import { makeBulkTempDir } from "./bulkTempDir.js"
import { connectionOf, decodeCursor, encodeCursor, type PageArgs, pageSize } from "./connection.js"
import { gid, isoUtc, parseGid } from "./format.js"
import { QueryRootView } from "./RootView.js"
import type { ShopifyState } from "./ShopifyState.js"
import { bump } from "./ShopifyState.js"
import { buildShopifySchema } from "./schema.js"
import { versionAtLeast } from "./versions.js"
import type { RequestContext } from "./views.js"

type Status = "CREATED" | "RUNNING" | "COMPLETED" | "FAILED" | "CANCELING" | "CANCELED" | "EXPIRED"

/** One bulk operation. */
export interface BulkOp {
  readonly id: number
  status: Status
  errorCode: string | null
  readonly createdAt: number
  completedAt: number | null
  readonly query: string
  objectCount: number
  rootObjectCount: number
  fileSize: number
  file: string | null
  partialFile: string | null
  readonly token: string
  readonly startedAt: number
  cancelRequested: boolean
}

const ROOT_PAGE = 500
const CHUNK = 64
const SEVEN_DAYS = 7 * 86_400_000

/** Writes records in Shopify's order: grouped (parent, then its children) or interleaved. */
const linesOf = (records: ReadonlyArray<BulkRecord>, grouped: boolean, out: Array<string>): number => {
  let n = 0
  if (grouped) {
    const walk = (r: BulkRecord): void => {
      out.push(JSON.stringify(r.line))
      n++
      for (const c of r.children) walk(c)
    }
    for (const r of records) walk(r)
    return n
  }
  for (let start = 0; start < records.length; start += CHUNK) {
    const chunk = records.slice(start, start + CHUNK)
    for (const r of chunk) {
      out.push(JSON.stringify(r.line))
      n++
    }
    let level: Array<ReadonlyArray<BulkRecord>> = chunk.map((r) => r.children)
    while (level.length > 0) {
      const next: Array<ReadonlyArray<BulkRecord>> = []
      const longest = level.reduce((m, l) => Math.max(m, l.length), 0)
      for (let i = 0; i < longest; i++) {
        for (const list of level) {
          const c = list[i]
          if (c === undefined) continue
          out.push(JSON.stringify(c.line))
          n++
          if (c.children.length > 0) next.push(c.children)
        }
      }
      level = next
    }
  }
  return n
}

/** All bulk operations of the emulated app. */
export class BulkOperations {
  private readonly ops = new Map<number, BulkOp>()
  private nextId = 1
  private readonly dir: string
  private readonly timers = new Set<NodeJS.Timeout>()
  private closed = false

  constructor(private readonly state: () => ShopifyState) {
    this.dir = makeBulkTempDir()
  }

  private refresh(op: BulkOp): BulkOp {
    const st = this.state()
    if (
      (op.status === "COMPLETED" || op.status === "FAILED") &&
      op.completedAt !== null &&
      st.clock.now() > op.completedAt + st.clock.scale(SEVEN_DAYS)
    ) {
      op.status = "EXPIRED"
    }
    return op
  }

  private viewOf(op: BulkOp) {
    const st = this.state()
    const o = this.refresh(op)
    const url = (file: string | null) =>
      file === null || o.status === "EXPIRED"
        ? null
        : `${st.baseUrl}/bulk-operation-outputs/${o.token}/${path.basename(file)}`
    return {
      __typename: "BulkOperation",
      id: gid("BulkOperation", o.id),
      status: o.status,
      errorCode: o.errorCode,
      createdAt: isoUtc(o.createdAt),
      completedAt: o.completedAt === null ? null : isoUtc(o.completedAt),
      objectCount: String(o.objectCount),
      rootObjectCount: String(o.rootObjectCount),
      fileSize: o.status === "COMPLETED" ? String(o.fileSize) : null,
      url: o.status === "COMPLETED" && o.objectCount > 0 ? url(o.file) : null,
      partialDataUrl: o.status === "FAILED" ? url(o.partialFile) : null,
      query: o.query,
      type: "QUERY"
    }
  }

  /** `bulkOperation(id:)`. */
  view(id: string, _ctx: RequestContext) {
    const g = parseGid(id)
    const op = g?.type === "BulkOperation" ? this.ops.get(g.id) : undefined
    return op === undefined ? null : this.viewOf(op)
  }

  /** `currentBulkOperation`: the most recent query operation. */
  current(type: string, _ctx: RequestContext) {
    if (type !== "QUERY") return null
    const last = [...this.ops.values()].pop()
    return last === undefined ? null : this.viewOf(last)
  }

  /** `bulkOperations` connection (newest last, CREATED_AT order). */
  list(args: PageArgs, ctx: RequestContext) {
    const { limit } = pageSize(args, ctx.bulk)
    const all = [...this.ops.values()]
    const ordered = args.reverse === true ? all.reverse() : all
    const after =
      args.after === null || args.after === undefined ? null : (decodeCursor(args.after).last_id ?? null)
    const start = after === null ? 0 : ordered.findIndex((o) => o.id === after) + 1
    const page = ordered.slice(start, start + limit)
    return connectionOf(
      page.map((o) => this.viewOf(o)),
      (v) => encodeCursor({ last_id: Number(parseGid(v.id)?.id ?? 0) }),
      start + limit < ordered.length,
      start > 0
    )
  }

  /** Files served at /bulk-operation-outputs/<token>/<file>. */
  fileFor(token: string, name: string): string | null {
    for (const op of this.ops.values()) {
      if (op.token !== token) continue
      this.refresh(op)
      if (op.status === "EXPIRED") return null
      for (const f of [op.file, op.partialFile]) if (f !== null && path.basename(f) === name) return f
    }
    return null
  }

  /** `bulkOperationRunQuery`. */
  runQuery(query: string, groupObjects: boolean | null, ctx: RequestContext, info?: GraphQLResolveInfo) {
    const st = ctx.state
    const invalid = (message: string) => ({
      bulkOperation: null,
      userErrors: [{ field: ["query"], message, code: "INVALID" }]
    })
    let document: DocumentNode
    try {
      document = parse(query)
    } catch (e) {
      return invalid(`Invalid bulk query: ${e instanceof GraphQLError ? e.message : String(e)}`)
    }
    const schema = buildShopifySchema(ctx.version, st.options.schemaPath)
    const errors = validate(schema, document)
    if (errors.length > 0) return invalid(`Invalid bulk query: ${errors.map((e) => e.message).join("; ")}`)
    let compiled: CompiledBulk
    try {
      compiled = compileBulk(schema, document)
    } catch (e) {
      if (e instanceof BulkQueryError) return invalid(e.message)
      throw e
    }
    const active = [...this.ops.values()].filter(
      (o) => o.status === "CREATED" || o.status === "RUNNING" || o.status === "CANCELING"
    )
    const modern = versionAtLeast(ctx.version, "2026-01")
    const limit = st.options.bulkConcurrency ?? (modern ? 5 : 1)
    if (active.length >= limit) {
      const running = active[active.length - 1]
      return modern
        ? {
            bulkOperation: null,
            userErrors: [
              {
                field: null,
                message: "Bulk operations limit reached. Please try again later.",
                code: "LIMIT_REACHED"
              }
            ]
          }
        : {
            bulkOperation: null,
            userErrors: [
              {
                field: null,
                message: `A bulk query operation for this app and shop is already in progress: ${gid("BulkOperation", running?.id ?? 0)}.`,
                code: "OPERATION_IN_PROGRESS"
              }
            ]
          }
    }
    const explicitGroup =
      info?.fieldNodes[0]?.arguments?.some(
        (a) => a.name.value === "groupObjects" && a.value.kind !== Kind.NULL
      ) ?? groupObjects !== null
    const grouped = explicitGroup ? groupObjects === true : !modern
    const now = st.clock.now()
    const op: BulkOp = {
      id: this.nextId++,
      status: "CREATED",
      errorCode: null,
      createdAt: now,
      completedAt: null,
      query,
      objectCount: 0,
      rootObjectCount: 0,
      fileSize: 0,
      file: null,
      partialFile: null,
      token: randomBytes(12).toString("hex"),
      startedAt: now,
      cancelRequested: false
    }
    this.ops.set(op.id, op)
    bump(st, "bulkOperations")
    const fail = st.faults.decide("shopify", "bulk_failure")
    const jobCtx: RequestContext = { state: st, version: ctx.version, bulk: true, now }
    setImmediate(() => void this.execute(op, compiled, grouped, fail, jobCtx))
    return { bulkOperation: this.viewOf(op), userErrors: [] }
  }

  private async execute(
    op: BulkOp,
    compiled: ReturnType<typeof compileBulk>,
    grouped: boolean,
    fail: boolean,
    ctx: RequestContext
  ): Promise<void> {
    const st = this.state()
    if (this.closed) return
    if (op.cancelRequested) {
      this.finish(op, "CANCELED", null)
      return
    }
    op.status = "RUNNING"
    const file = path.join(this.dir, `bulk-${op.id}.jsonl`)
    const fd = fs.openSync(file, "w")
    let bytes = 0
    let objects = 0
    // (lines, bytes) at each page boundary: a failed job's partial file is a byte prefix.
    const checkpoints: Array<readonly [number, number]> = []
    let roots = 0
    const root = new QueryRootView()
    const resolver: unknown = Reflect.get(root, compiled.rootField)
    let error: unknown = null
    try {
      if (typeof resolver !== "function")
        throw new Error(`Bulk root field ${compiled.rootField} is not emulated`)
      let after: string | null = null
      for (;;) {
        if (op.cancelRequested || this.closed) break
        const conn: unknown = resolver.call(root, { ...compiled.rootArgs, first: ROOT_PAGE, after }, ctx)
        const nodes: ReadonlyArray<unknown> =
          typeof conn === "object" && conn !== null && "nodes" in conn && Array.isArray(conn.nodes)
            ? conn.nodes
            : []
        const records = nodes.map((n) => compiled.project(n, ctx))
        const out: Array<string> = []
        objects += linesOf(records, grouped, out)
        roots += records.length
        if (out.length > 0) {
          const chunk = `${out.join("\n")}\n`
          bytes += fs.writeSync(fd, chunk)
          checkpoints.push([objects, bytes])
        }
        op.rootObjectCount = roots
        op.objectCount = Math.min(objects, this.simulated(op))
        const pageInfo =
          typeof conn === "object" && conn !== null && "pageInfo" in conn ? conn.pageInfo : null
        const hasNext =
          typeof pageInfo === "object" &&
          pageInfo !== null &&
          "hasNextPage" in pageInfo &&
          pageInfo.hasNextPage === true
        const end =
          typeof pageInfo === "object" && pageInfo !== null && "endCursor" in pageInfo
            ? pageInfo.endCursor
            : null
        if (!hasNext || typeof end !== "string") break
        after = end
        await new Promise((r) => setImmediate(r))
      }
    } catch (e) {
      error = e
    } finally {
      fs.closeSync(fd)
    }
    // Shopify's own speed: never finish sooner than objects / (rows per second × timeScale).
    const remaining = objects / this.rate() - (st.clock.now() - op.startedAt)
    const until = st.clock.now() + remaining
    while (!op.cancelRequested && !this.closed && st.clock.now() < until) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(
          () => {
            this.timers.delete(t)
            resolve()
          },
          Math.min(25, until - st.clock.now())
        )
        this.timers.add(t)
      })
      op.objectCount = Math.min(objects, this.simulated(op))
    }
    if (this.closed) return
    op.file = file
    op.completedAt = st.clock.now()
    if (op.cancelRequested) {
      op.status = "CANCELED"
      op.objectCount = objects
      op.file = null
    } else if (error !== null) {
      op.status = "FAILED"
      op.errorCode = "INTERNAL_SERVER_ERROR"
      op.file = null
    } else if (fail) {
      const partial = path.join(this.dir, `bulk-${op.id}-partial.jsonl`)
      const half = checkpoints.find(([n]) => n >= objects / 2 && n < objects)
      let keep: number
      if (half !== undefined) {
        // Large outputs: cut at a page boundary without reading the file back.
        fs.copyFileSync(file, partial)
        fs.truncateSync(partial, half[1])
        keep = half[0]
      } else {
        const lines = fs
          .readFileSync(file, "utf8")
          .split("\n")
          .filter((l) => l !== "")
        keep = Math.floor(lines.length / 2)
        fs.writeFileSync(
          partial,
          lines
            .slice(0, keep)
            .map((l) => `${l}\n`)
            .join("")
        )
      }
      op.partialFile = partial
      op.status = "FAILED"
      op.errorCode = "INTERNAL_SERVER_ERROR"
      op.objectCount = keep
      op.file = null
    } else {
      op.status = "COMPLETED"
      op.objectCount = objects
      op.rootObjectCount = roots
      op.fileSize = bytes
    }
    this.finish(op, op.status, op.errorCode)
  }

  private finish(op: BulkOp, status: Status, errorCode: string | null): void {
    const st = this.state()
    op.status = status
    op.errorCode = errorCode
    op.completedAt ??= st.clock.now()
    bump(st, `bulk${op.status.charAt(0)}${op.status.slice(1).toLowerCase()}`)
    st.webhooks.emit("bulk_operations/finish", {
      admin_graphql_api_id: gid("BulkOperation", op.id),
      completed_at: isoUtc(op.completedAt ?? st.clock.now()),
      created_at: isoUtc(op.createdAt),
      error_code: op.errorCode === null ? null : op.errorCode.toLowerCase(),
      status: op.status.toLowerCase(),
      type: "query"
    })
  }

  private rate(): number {
    const st = this.state()
    return (st.options.bulkRowsPerSecond * st.clock.timeScale) / 1000
  }

  private simulated(op: BulkOp): number {
    return Math.floor((this.state().clock.now() - op.startedAt) * this.rate())
  }

  /** `bulkOperationCancel`. */
  cancel(id: string, _ctx: RequestContext) {
    const g = parseGid(id)
    const op = g?.type === "BulkOperation" ? this.ops.get(g.id) : undefined
    if (op === undefined)
      return {
        bulkOperation: null,
        userErrors: [{ field: ["id"], message: "Bulk operation does not exist" }]
      }
    if (op.status !== "CREATED" && op.status !== "RUNNING") {
      return {
        bulkOperation: this.viewOf(op),
        userErrors: [
          {
            field: null,
            message: `A bulk operation cannot be canceled when it is ${op.status.toLowerCase()}`
          }
        ]
      }
    }
    op.cancelRequested = true
    op.status = "CANCELING"
    return { bulkOperation: this.viewOf(op), userErrors: [] }
  }

  /** Stops jobs and removes the temp files. */
  close(): void {
    this.closed = true
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    fs.rmSync(this.dir, { recursive: true, force: true })
  }
}
