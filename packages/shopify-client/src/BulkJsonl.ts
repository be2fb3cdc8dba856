/**
 * Incremental parsing and reassembly of bulk-operation JSONL output.
 *
 * Shopify writes every node of a nested connection as its own line with `__parentId`. This module
 * turns such lines back into parent records with child arrays, whatever order the lines arrive
 * in, while buffering only what is still unresolved:
 * - `grouped` output (children follow their parent): a root is emitted as soon as the next root
 *   starts, so memory stays flat however large the file.
 * - ungrouped output: a root is emitted once every expected child arrived (when the record says
 *   how many, via `expectedChildren`) or at the end of the file.
 * - children that arrive before their parent are parked until it arrives; any still parked at the
 *   end are reported as data loss, never dropped.
 *
 * @since 0.1.0
 */
import { Effect, Predicate, Stream } from "effect"
import { DataLoss, Decode, type ShopifyError, shopifyError } from "./ShopifyError.js"

/**
 * A parsed JSON object from one JSONL line.
 *
 * @since 0.1.0
 * @category models
 */
export type JsonObject = { [key: string]: unknown }

/**
 * How to rebuild records from lines.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReassemblyOptions {
  /** Children follow their parent (groupObjects: true): emit a root when the next root starts. */
  readonly grouped: boolean
  /**
   * The field of the parent a child line belongs under, e.g. `LineItem` → `lineItems`. Defaults
   * to the child's `__typename` with a lower-cased first letter and an `s`.
   */
  readonly childField?: (child: JsonObject) => string
  /** How many children of each field the parent will get, when the record says (e.g. a count field). */
  readonly expectedChildren?: (parent: JsonObject) => Readonly<Record<string, number>> | undefined
  /** Fields the parent must carry even when no child arrived, e.g. `["lineItems"]`. */
  readonly childFields?: ReadonlyArray<string>
  /**
   * Inline lists whose items parent child lines (a connection inside a list, such as an order's
   * `refunds` → `refundLineItems`), with the child fields each item must carry.
   */
  readonly inlineParents?: Readonly<Record<string, ReadonlyArray<string>>>
  /**
   * Partial output of a failed job: the last root may be missing children, so it is dropped
   * (and re-read by the next, smaller job) instead of emitted; stray children are ignored.
   */
  readonly partial?: boolean
}

/**
 * The type of a bulk child line: its `__typename`, else the type named by its global id
 * (`gid://shopify/ShippingLine/1` → `ShippingLine`), else null. Some shops and emulators emit
 * child lines with a null `__typename`; their id still says what they are.
 *
 * @since 0.2.0
 * @category constructors
 */
export const childTypeOf = (child: { readonly [k: string]: unknown }): string | null => {
  const t = child.__typename
  if (typeof t === "string" && t.length > 0) return t
  const id = child.id
  if (typeof id !== "string") return null
  const m = /^gid:\/\/shopify\/([A-Za-z]+)\//.exec(id)
  return m?.[1] ?? null
}

const defaultChildField = (child: JsonObject): string => {
  const t = childTypeOf(child)
  if (t === null) return "children"
  return `${t.charAt(0).toLowerCase()}${t.slice(1)}s`
}

interface Pending {
  readonly record: JsonObject
  readonly root: Pending | null
  /** Outstanding descendants (only tracked when counts are known). */
  expected: number | null
  received: number
  /** Ids registered under this root (roots only), so they can be forgotten in O(own size). */
  readonly ids: Array<string>
}

/**
 * A stateful reassembler. Feed it parsed lines with `push`, then call `end`. Exposed for callers
 * that read JSONL from somewhere other than a bulk URL (e.g. a lake replay).
 *
 * @since 0.1.0
 * @category constructors
 */
export class Reassembler {
  /** Lines seen so far (roots and children), compared with `objectCount`. */
  lines = 0
  private readonly byId = new Map<string, Pending>()
  private readonly orphans = new Map<string, Array<JsonObject>>()
  private orphanCount = 0
  private currentRoot: Pending | null = null
  private readonly openRoots = new Set<Pending>()
  private readonly childField: (child: JsonObject) => string

  constructor(private readonly options: ReassemblyOptions) {
    this.childField = options.childField ?? defaultChildField
  }

  /** Number of children parked because their parent has not arrived (yet). */
  get parked(): number {
    return this.orphanCount
  }

  /** Number of records held in memory right now (roots not yet emitted and their descendants). */
  get buffered(): number {
    return this.byId.size
  }

  /** Adds one parsed line; returns the roots that became complete. */
  push(line: JsonObject, out: Array<JsonObject>): void {
    this.lines++
    const parentId = line.__parentId
    const id = typeof line.id === "string" ? line.id : null
    if (typeof parentId !== "string") {
      if (this.options.grouped && this.currentRoot !== null) this.emitRoot(this.currentRoot, out)
      this.initFields(line)
      const pending: Pending = { record: line, root: null, expected: null, received: 0, ids: [] }
      const counts = this.options.expectedChildren?.(line)
      if (counts !== undefined) pending.expected = Object.values(counts).reduce((a, b) => a + b, 0)
      this.currentRoot = pending
      this.openRoots.add(pending)
      if (id !== null) {
        this.byId.set(id, pending)
        pending.ids.push(id)
        this.adoptOrphans(id, pending, out)
      }
      this.registerInline(line, pending, out)
      this.maybeComplete(pending, out)
      return
    }
    delete line.__parentId
    const parent = this.byId.get(parentId)
    if (parent === undefined) {
      const list = this.orphans.get(parentId)
      if (list === undefined) this.orphans.set(parentId, [line])
      else list.push(line)
      this.orphanCount++
      return
    }
    this.attach(parent, line, out)
  }

  /** Flushes every remaining root; returns the number of children whose parent never arrived. */
  end(out: Array<JsonObject>): number {
    if (this.options.partial === true && this.currentRoot !== null) this.openRoots.delete(this.currentRoot)
    for (const root of this.openRoots) this.emitRoot(root, out)
    return this.options.partial === true ? 0 : this.orphanCount
  }

  private registerInline(record: JsonObject, root: Pending, out: Array<JsonObject>): void {
    const inline = this.options.inlineParents
    if (inline === undefined) return
    for (const [field, childFields] of Object.entries(inline)) {
      const items = record[field]
      if (!Array.isArray(items)) continue
      for (const item of items) {
        if (!Predicate.isObject(item) || typeof item.id !== "string") continue
        for (const f of childFields) if (!Array.isArray(item[f])) item[f] = []
        const pending: Pending = { record: item, root, expected: null, received: 0, ids: [] }
        this.byId.set(item.id, pending)
        root.ids.push(item.id)
        this.adoptOrphans(item.id, pending, out)
      }
    }
  }

  private initFields(record: JsonObject): void {
    for (const f of this.options.childFields ?? []) if (!Array.isArray(record[f])) record[f] = []
  }

  private attach(parent: Pending, child: JsonObject, out: Array<JsonObject>): void {
    const field = this.childField(child)
    const existing = parent.record[field]
    if (Array.isArray(existing)) existing.push(child)
    else parent.record[field] = [child]
    const root = parent.root ?? parent
    const id = typeof child.id === "string" ? child.id : null
    if (id !== null) {
      const pending: Pending = { record: child, root, expected: null, received: 0, ids: [] }
      this.byId.set(id, pending)
      root.ids.push(id)
      this.adoptOrphans(id, pending, out)
    }
    this.registerInline(child, root, out)
    root.received++
    this.maybeComplete(root, out)
  }

  private adoptOrphans(id: string, pending: Pending, out: Array<JsonObject>): void {
    const waiting = this.orphans.get(id)
    if (waiting === undefined) return
    this.orphans.delete(id)
    this.orphanCount -= waiting.length
    for (const child of waiting) this.attach(pending, child, out)
  }

  private maybeComplete(root: Pending, out: Array<JsonObject>): void {
    if (root.expected !== null && root.received >= root.expected && !this.options.grouped)
      this.emitRoot(root, out)
  }

  private emitRoot(root: Pending, out: Array<JsonObject>): void {
    if (!this.openRoots.delete(root)) return
    if (this.currentRoot === root) this.currentRoot = null
    // Forget the root and its descendants: in grouped output nothing can refer to them again,
    // and in ungrouped output they are complete.
    for (const id of root.ids) this.byId.delete(id)
    out.push(root.record)
  }
}

const parseLine = (line: string): JsonObject | Decode => {
  try {
    const value: unknown = JSON.parse(line)
    if (Predicate.isObject(value)) return value
    return new Decode({ message: "a JSONL line is not a JSON object", excerpt: line.slice(0, 200) })
  } catch {
    return new Decode({ message: "a JSONL line is not valid JSON", excerpt: line.slice(0, 200) })
  }
}

/**
 * Splits a byte stream into JSONL lines, incrementally (a line may span chunks; UTF-8 sequences
 * split across chunks are decoded correctly). Empty lines are skipped.
 *
 * @since 0.1.0
 * @category combinators
 */
export const jsonlLines = <E, R>(bytes: Stream.Stream<Uint8Array, E, R>): Stream.Stream<string, E, R> =>
  Stream.suspend(() => {
    const decoder = new TextDecoder()
    const cut = (line: string) => (line.endsWith("\r") ? line.slice(0, -1) : line)
    return bytes.pipe(
      Stream.mapAccumArray(
        () => "",
        (rest, chunks) => {
          let buffer = rest
          const out: Array<string> = []
          for (const chunk of chunks) {
            buffer += decoder.decode(chunk, { stream: true })
            let from = 0
            for (let at = buffer.indexOf("\n"); at >= 0; at = buffer.indexOf("\n", from)) {
              const line = cut(buffer.slice(from, at))
              if (line.length > 0) out.push(line)
              from = at + 1
            }
            buffer = buffer.slice(from)
          }
          return [buffer, out] as const
        },
        {
          onHalt: (rest) => {
            const tail = cut(rest + decoder.decode())
            return tail.length > 0 ? [tail] : []
          }
        }
      )
    )
  })

/**
 * Parses JSONL lines and reassembles children under their parents. Fails with `DataLoss` when
 * children remain whose parent never appeared, or when `expectedLines` is given and differs
 * from the number of lines read.
 *
 * @since 0.1.0
 * @category combinators
 */
export const reassemble =
  (options: ReassemblyOptions & { readonly expectedLines?: bigint; readonly jobId?: string }) =>
  <E, R>(lines: Stream.Stream<string, E, R>): Stream.Stream<JsonObject, E | ShopifyError, R> =>
    Stream.suspend(() => {
      const r = new Reassembler(options)
      let decodeError: Decode | null = null
      const records = lines.pipe(
        Stream.mapAccumArray(
          () => r,
          (state, chunk) => {
            const out: Array<JsonObject> = []
            for (const line of chunk) {
              if (decodeError !== null) break
              const parsed = parseLine(line)
              if (parsed instanceof Decode) decodeError = parsed
              else state.push(parsed, out)
            }
            return [state, out] as const
          },
          { onHalt: (state) => (decodeError !== null ? [] : flush(state)) }
        )
      )
      let parked = 0
      const flush = (state: Reassembler): Array<JsonObject> => {
        const out: Array<JsonObject> = []
        parked = state.end(out)
        return out
      }
      const check = Effect.suspend((): Effect.Effect<void, ShopifyError> => {
        const op = "bulk JSONL"
        if (decodeError !== null) return Effect.fail(shopifyError(op, decodeError))
        if (parked > 0) {
          return Effect.fail(
            shopifyError(
              op,
              new DataLoss({
                jobId: options.jobId ?? null,
                expected: null,
                actual: String(parked),
                message: `${parked} child line(s) reference a parent that never appeared in the file`
              })
            )
          )
        }
        if (
          options.partial !== true &&
          options.expectedLines !== undefined &&
          BigInt(r.lines) !== options.expectedLines
        ) {
          return Effect.fail(
            shopifyError(
              op,
              new DataLoss({
                jobId: options.jobId ?? null,
                expected: String(options.expectedLines),
                actual: String(r.lines),
                message: `the result file has ${r.lines} line(s) but Shopify reported objectCount ${options.expectedLines}`
              })
            )
          )
        }
        return Effect.void
      })
      return records.pipe(Stream.concat(Stream.fromEffectDrain(check)))
    })
