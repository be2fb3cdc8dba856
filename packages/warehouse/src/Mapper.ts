/**
 * The shape of source → canonical mappers. Mappers are pure functions from one decoded source
 * record (the clients' types, wave 2) to the canonical rows it produces, so they are unit-tested
 * without any I/O and can re-model the raw lake at any time.
 */
import type { CanonicalRow, CanonicalTableName, Source } from "./Tables.js"

/** Rows produced by a mapper, per canonical table. */
export type CanonicalRows = {
  readonly [T in CanonicalTableName]?: ReadonlyArray<CanonicalRow<T>>
}

/** What a mapper knows besides the record: where it came from and when it was fetched. */
export interface MapContext {
  readonly source: Source
  readonly sourceAccount: string
  /** When the batch was fetched (ISO-8601 UTC). */
  readonly syncedAt: string
  readonly batchId: string
  /** The IANA time zone of a location (the account's zone when unknown). */
  readonly timeZoneOf: (locationId: string | null) => string
}

/** A source-to-canonical mapper. It must not throw for valid input; bad input is dead-lettered. */
export type Mapper<In> = (record: In, ctx: MapContext) => CanonicalRows

/** The lineage columns every canonical row carries. */
export interface Lineage {
  readonly source: Source
  readonly source_account: string
  readonly source_id: string
  readonly updated_at: string
  readonly _synced_at: string
  readonly _batch_id: string
  readonly _deleted_at: string | null
}

/** Builds a row's lineage columns from the context. */
export const lineage = (
  ctx: MapContext,
  sourceId: string,
  updatedAt: string,
  deletedAt: string | null = null
): Lineage => ({
  source: ctx.source,
  source_account: ctx.sourceAccount,
  source_id: sourceId,
  updated_at: updatedAt,
  _synced_at: ctx.syncedAt,
  _batch_id: ctx.batchId,
  _deleted_at: deletedAt
})

/** Concatenates the rows of several mapper results. */
export const mergeRows = (...parts: ReadonlyArray<CanonicalRows>): CanonicalRows => {
  const out: Partial<Record<CanonicalTableName, Array<unknown>>> = {}
  for (const part of parts) {
    for (const [table, rows] of Object.entries(part) as Array<[CanonicalTableName, ReadonlyArray<unknown>]>) {
      const list = out[table] ?? []
      for (const row of rows) list.push(row)
      out[table] = list
    }
  }
  return out as CanonicalRows
}
