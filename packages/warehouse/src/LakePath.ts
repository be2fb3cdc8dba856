/**
 * The raw lake's layout: `source=…/account=…/stream=…/dt=YYYY-MM-DD/<batch>.ndjson.gz`
 * (Hive-style, so BigQuery external tables and DuckDB's hive partitioning read it directly).
 */
import type { StreamKey } from "@kura/core"

/** A parsed lake object path. */
export interface LakeLocation {
  readonly key: StreamKey
  /** Partition date, YYYY-MM-DD (the UTC day the batch was fetched). */
  readonly dt: string
  readonly batchId: string
}

const enc = (s: string) => encodeURIComponent(s)
const BATCH = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/

/** The path of a batch; throws naming the field when a part cannot be used. */
export const lakePath = (loc: LakeLocation): string => {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(loc.dt)) throw new Error(`dt must be YYYY-MM-DD, got "${loc.dt}"`)
  if (!BATCH.test(loc.batchId)) {
    throw new Error(`batchId "${loc.batchId}" must be 1-200 letters, digits, '.', '_' or '-'`)
  }
  for (const [field, v] of Object.entries(loc.key)) {
    if (v.length === 0) throw new Error(`stream key field "${field}" is empty`)
  }
  return `${partitionPrefix(loc.key)}dt=${loc.dt}/${loc.batchId}.ndjson.gz`
}

/** The prefix holding every partition of one stream. */
export const partitionPrefix = (key: StreamKey): string =>
  `source=${enc(key.source)}/account=${enc(key.account)}/stream=${enc(key.stream)}/`

/** Parses a lake path back into its parts (undefined for anything else, e.g. staging files). */
export const parseLakePath = (path: string): LakeLocation | undefined => {
  const m =
    /^source=([^/]+)\/account=([^/]+)\/stream=([^/]+)\/dt=(\d{4}-\d{2}-\d{2})\/([^/]+)\.ndjson\.gz$/.exec(
      path
    )
  if (!m) return undefined
  return {
    key: {
      source: decodeURIComponent(m[1]!),
      account: decodeURIComponent(m[2]!),
      stream: decodeURIComponent(m[3]!)
    },
    dt: m[4]!,
    batchId: m[5]!
  }
}

/** The UTC date (YYYY-MM-DD) of an epoch-ms instant. */
export const utcDay = (epochMillis: number): string => new Date(epochMillis).toISOString().slice(0, 10)
