/**
 * Pure paging state for Stocky's `since_id` lists. Stocky gives no Link header or total, so the
 * client has to decide everything itself:
 * - direction per resource (POs newest first: next since_id = min id; others: max id);
 * - the end is a page shorter than the limit (or empty);
 * - ids already seen are dropped (servers that ignore since_id repeat pages);
 * - a cursor that repeats, or a full page of nothing new, switches to `offset` paging once;
 *   if offset paging stalls as well, paging fails instead of looping.
 */

/** Where the next request starts. */
export type PagePosition =
  | { readonly mode: "since_id"; readonly sinceId: number | null }
  | { readonly mode: "offset"; readonly offset: number }

/** Paging state between pages. */
export interface PagingState {
  readonly position: PagePosition
  readonly page: number
  /** Records emitted so far (the offset to resume from when falling back). */
  readonly emitted: number
  readonly seen: Set<number>
  readonly cursorsUsed: Set<number>
}

/** What to do after a page. */
export type PageStep =
  | { readonly _tag: "Continue"; readonly fresh: ReadonlyArray<number>; readonly next: PagingState }
  | { readonly _tag: "Done"; readonly fresh: ReadonlyArray<number> }
  | { readonly _tag: "Stalled"; readonly fresh: ReadonlyArray<number>; readonly detail: string }

/** Initial state; `sinceId` resumes from a saved cursor. */
export const initialPaging = (sinceId: number | null = null): PagingState => ({
  position: { mode: "since_id", sinceId },
  page: 0,
  emitted: 0,
  seen: new Set(),
  cursorsUsed: sinceId === null ? new Set() : new Set([sinceId])
})

/** Query parameters for the state's next request. */
export const pageQuery = (state: PagingState): Record<string, number> =>
  state.position.mode === "since_id"
    ? state.position.sinceId === null
      ? {}
      : { since_id: state.position.sinceId }
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
): PageStep => {
  const fresh: Array<number> = []
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]
    if (id === undefined) {
      fresh.push(i)
      continue
    }
    if (!state.seen.has(id)) {
      state.seen.add(id)
      fresh.push(i)
    }
  }
  const emitted = state.emitted + fresh.length
  if (ids.length < limit) return { _tag: "Done", fresh }

  const page = state.page + 1
  const fallBack = (why: string): PageStep =>
    state.position.mode === "offset"
      ? { _tag: "Stalled", fresh, detail: `${why}; offset paging did not advance either` }
      : {
          _tag: "Continue",
          fresh,
          next: { ...state, page, emitted, position: { mode: "offset", offset: emitted } }
        }

  if (fresh.length === 0) return fallBack("a full page held only records already seen")
  if (state.position.mode === "offset")
    return {
      _tag: "Continue",
      fresh,
      next: {
        ...state,
        page,
        emitted,
        position: { mode: "offset", offset: state.position.offset + ids.length }
      }
    }

  const known = ids.filter((id): id is number => id !== undefined)
  if (known.length === 0) return fallBack("a full page held no readable ids")
  let cursor = known[0] as number
  for (const id of known) cursor = direction === "asc" ? Math.max(cursor, id) : Math.min(cursor, id)
  if (state.cursorsUsed.has(cursor)) return fallBack(`since_id ${cursor} was already used`)
  state.cursorsUsed.add(cursor)
  return {
    _tag: "Continue",
    fresh,
    next: { ...state, page, emitted, position: { mode: "since_id", sinceId: cursor } }
  }
}
