/**
 * The rare path of the SQL bulk load: DuckDB keeps no raw text, so when lines were rejected this
 * re-reads the file once to put each rejected order's exact lines (and each unparseable line)
 * into its dead letter. A clean file never comes here.
 */
import { createReadStream } from "node:fs"
import { createInterface } from "node:readline"
import { createGunzip } from "node:zlib"

/** What to collect: the gid of each line's order, for the orders (and refunds) that were rejected. */
export interface RawLineQuery {
  /** gid (order, refund or orphan line) → the key its lines are grouped under. */
  readonly owners: ReadonlyMap<string, string>
  /** Whether to parse every line to find the ones that are not JSON objects. */
  readonly findUnparseable: boolean
  /** Lines longer than this (in UTF-16 units, a lower bound of their bytes) were not read. */
  readonly maxLineBytes: number
}

/** The lines found: per owner key, and the unparseable ones with their 1-based line number. */
export interface RawLines {
  readonly byOwner: Map<string, Array<string>>
  readonly unparseable: Array<{ readonly line: number; readonly text: string; readonly why: string }>
}

const ID = /"id"\s*:\s*"([^"]+)"/
const PARENT = /"__parentId"\s*:\s*"([^"]+)"/

const why = (text: string): string | null => {
  try {
    const v: unknown = JSON.parse(text)
    if (typeof v !== "object" || v === null || Array.isArray(v)) return "a JSONL line is not a JSON object"
    return !("id" in v && typeof v.id === "string") &&
      !("__parentId" in v && typeof v.__parentId === "string")
      ? "a JSONL line has neither an id nor a __parentId"
      : null
  } catch (e) {
    return `a JSONL line is not valid JSON: ${e instanceof Error ? e.message : String(e)}`
  }
}

/** Streams `file` (gzip when it ends in .gz) and collects the rejected lines. */
export const collectRawLines = async (file: string, query: RawLineQuery): Promise<RawLines> => {
  const byOwner = new Map<string, Array<string>>()
  const unparseable: Array<{ line: number; text: string; why: string }> = []
  const raw = createReadStream(file, { highWaterMark: 1 << 20 })
  const input = file.endsWith(".gz") ? raw.pipe(createGunzip()) : raw
  const rl = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })
  let n = 0
  for await (const text of rl) {
    n++
    if (text.trim().length === 0) continue
    if (query.findUnparseable) {
      const problem =
        text.length > query.maxLineBytes
          ? `the line is longer than ${query.maxLineBytes} bytes, the most the SQL path reads`
          : why(text)
      if (problem !== null) {
        unparseable.push({ line: n, text, why: problem })
        continue
      }
    }
    if (query.owners.size === 0) continue
    const parent = PARENT.exec(text)?.[1]
    const owner =
      (parent === undefined ? undefined : query.owners.get(parent)) ??
      (() => {
        const id = ID.exec(text)?.[1]
        return id === undefined ? undefined : query.owners.get(id)
      })()
    if (owner === undefined) continue
    const list = byOwner.get(owner)
    if (list === undefined) byOwner.set(owner, [text])
    else list.push(text)
  }
  return { byOwner, unparseable }
}
