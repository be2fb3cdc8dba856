/**
 * Stocky's `since_id` lists on core's `Pagination.advanceSinceId`. Stocky gives no Link header or
 * total, so the client decides everything itself:
 * - direction per resource (POs newest first: next since_id = min id; others: max id);
 * - the end is a page shorter than the limit (or empty);
 * - ids already seen are dropped (servers that ignore since_id repeat pages);
 * - a cursor that repeats, or a full page of nothing new, switches to `offset` paging once;
 *   if offset paging stalls as well, paging fails instead of looping.
 * The generic state machine lives in core; this file only names it in Stocky's terms and renders
 * the position as Stocky's query parameters.
 */
import { Pagination } from "@kura/core"

/** Where the next request starts. */
export type PagePosition = Pagination.SinceIdPosition

/** Paging state between pages. */
export type PagingState = Pagination.SinceIdState

/** What to do after a page. */
export type PageStep = Pagination.SinceIdStep

/** Initial state; `sinceId` resumes from a saved cursor. */
export const initialPaging = (sinceId: number | null = null): PagingState => Pagination.sinceIdStart(sinceId)

/** Query parameters for the state's next request. */
export const pageQuery = (state: PagingState): Record<string, number> =>
  state.position.mode === "since_id"
    ? state.position.sinceId === null
      ? {}
      : { since_id: Number(state.position.sinceId) }
    : { offset: state.position.offset }

/**
 * Advances after a page whose record ids are `ids` (in page order; `undefined` for a record whose
 * id could not be read, which is always passed on and never moves the cursor). Returns the
 * indexes into `ids` of records to emit (first occurrence of each new id) and the next state.
 */
export const advancePaging = (
  state: PagingState,
  ids: ReadonlyArray<number | undefined>,
  limit: number,
  direction: "asc" | "desc"
): PageStep =>
  Pagination.advanceSinceId(state, ids, {
    limit,
    direction: direction === "asc" ? "ascending" : "descending"
  })

/** The `sinceId` a page's successor resumes from (a checkpoint), or null while paging by offset. */
export const resumeSinceId = (position: PagePosition): number | null =>
  position.mode === "since_id" && position.sinceId !== null ? Number(position.sinceId) : null
