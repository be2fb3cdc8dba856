/**
 * Pagination as `Stream`s of pages. Every page carries the cursor that fetched it and the cursor
 * of the next one, so a caller can commit a checkpoint after loading a page and resume exactly
 * there. Every helper has a repeated-cursor guard: a server that hands back a cursor it already
 * gave (a stuck `since_id`, a looping `page_info`) fails the stream loudly instead of looping
 * forever or silently stopping short.
 */
import { Effect, Option, Schema, Stream } from "effect"

/** One fetched page. */
export interface Page<A, C> {
  readonly items: ReadonlyArray<A>
  /** The cursor this page was fetched with (null for the first page). */
  readonly cursor: C | null
  /** The cursor of the next page, or null when this is the last page: checkpoint this after loading. */
  readonly nextCursor: C | null
  /** 0-based page number within this stream. */
  readonly index: number
}

/** Pagination stopped because the server misbehaved or a limit was reached. */
export class PaginationError extends Schema.TaggedError<PaginationError>()("PaginationError", {
  reason: Schema.Literals(["RepeatedCursor", "CursorNotAdvancing", "TooManyPages"]),
  /** The offending cursor, rendered as text. */
  cursor: Schema.String,
  /** The page at which it was detected (0-based). */
  page: Schema.Number,
  message: Schema.String
}) {}

/** Options shared by every helper. */
export interface PaginateOptions {
  /** Fail after this many pages (a runaway guard). Default unlimited. */
  readonly maxPages?: number | undefined
  /** What a repeated cursor does: fail the stream (default) or end it after the current page. */
  readonly onRepeatedCursor?: "fail" | "stop" | undefined
  /** Names the stream in error messages, e.g. "stocky/purchase_orders". */
  readonly label?: string | undefined
}

/** What a fetch returns to the generic paginator. */
export interface Fetched<A, C> {
  readonly items: ReadonlyArray<A>
  /** Null/undefined when there is no next page. */
  readonly next: C | null | undefined
}

interface PaginatorState<C> {
  readonly cursor: C | null
  readonly index: number
}

const render = (cursor: unknown): string => (typeof cursor === "string" ? cursor : JSON.stringify(cursor))

/**
 * The generic paginator all others are built on. `fetch(cursor)` returns a page and the next
 * cursor; the stream ends when there is none. Cursors are compared by their text (JSON for objects).
 */
export const paginate = <A, C, E, R>(
  fetch: (cursor: C | null) => Effect.Effect<Fetched<A, C>, E, R>,
  options: PaginateOptions & { readonly start?: C | null | undefined } = {}
): Stream.Stream<Page<A, C>, E | PaginationError, R> => {
  const label = options.label === undefined ? "" : ` in ${options.label}`
  const start: C | null = options.start ?? null
  // A fresh set per run: a Stream is a description and may be run again from the start.
  return Stream.suspend(() => {
    const seen = new Set<string>(start === null ? [] : [render(start)])
    const initial: PaginatorState<C> = { cursor: start, index: 0 }
    return Stream.paginate(initial, (state: PaginatorState<C>) =>
      Effect.gen(function* () {
        if (options.maxPages !== undefined && state.index >= options.maxPages) {
          return yield* new PaginationError({
            reason: "TooManyPages",
            cursor: render(state.cursor),
            page: state.index,
            message: `more than ${options.maxPages} pages${label}; raise maxPages if this is expected`
          })
        }
        const fetched = yield* fetch(state.cursor)
        let next: C | null = fetched.next ?? null
        if (next !== null && seen.has(render(next))) {
          if (options.onRepeatedCursor === "stop") {
            next = null
          } else {
            return yield* new PaginationError({
              reason: "RepeatedCursor",
              cursor: render(next),
              page: state.index,
              message: `the server returned cursor ${render(next)} twice${label}; stopping instead of looping`
            })
          }
        }
        if (next !== null) seen.add(render(next))
        const page: Page<A, C> = {
          items: fetched.items,
          cursor: state.cursor,
          nextCursor: next,
          index: state.index
        }
        const nextState: Option.Option<PaginatorState<C>> =
          next === null ? Option.none() : Option.some({ cursor: next, index: state.index + 1 })
        return [[page], nextState] as const
      })
    )
  })
}

/** Flattens a stream of pages into its items. */
export const items = <A, C, E, R>(pages: Stream.Stream<Page<A, C>, E, R>): Stream.Stream<A, E, R> =>
  Stream.flattenIterable(Stream.map(pages, (page) => page.items))

/** Relay `pageInfo` (Shopify GraphQL connections). */
export interface PageInfo {
  readonly hasNextPage: boolean
  readonly endCursor?: string | null | undefined
}

/** GraphQL cursor pagination: `fetch(after)` returns the nodes and `pageInfo`. */
export const graphqlCursor = <A, E, R>(
  fetch: (
    after: string | null
  ) => Effect.Effect<{ readonly items: ReadonlyArray<A>; readonly pageInfo: PageInfo }, E, R>,
  options: PaginateOptions & { readonly after?: string | null | undefined } = {}
): Stream.Stream<Page<A, string>, E | PaginationError, R> =>
  paginate(
    (after: string | null) =>
      Effect.map(fetch(after), ({ items, pageInfo }) => ({
        items,
        next: pageInfo.hasNextPage ? (pageInfo.endCursor ?? null) : null
      })),
    { ...options, start: options.after ?? null }
  )

/**
 * Parses an RFC 8288 `Link` header into rel → URL (`<https://…page_info=x>; rel="next", <…>; rel="previous"`).
 */
export const parseLinkHeader = (header: string | null | undefined): Readonly<Record<string, string>> => {
  const out: Record<string, string> = {}
  if (!header) return out
  for (const match of header.matchAll(/<([^>]*)>\s*((?:;\s*[^;,]+)*)/g)) {
    const url = match[1]
    const params = match[2] ?? ""
    const rel = /rel\s*=\s*"?([^";]+)"?/i.exec(params)?.[1]
    if (url === undefined || rel === undefined) continue
    for (const name of rel.trim().split(/\s+/)) out[name.toLowerCase()] = url
  }
  return out
}

/**
 * `Link: rel="next"` pagination (Shopify REST). `fetch(url)` returns the items and the response's
 * `Link` header; the cursor is the next URL (its `page_info` is inside).
 */
export const linkHeader = <A, E, R>(
  firstUrl: string,
  fetch: (
    url: string
  ) => Effect.Effect<{ readonly items: ReadonlyArray<A>; readonly link: string | null | undefined }, E, R>,
  options: PaginateOptions = {}
): Stream.Stream<Page<A, string>, E | PaginationError, R> =>
  paginate(
    (url: string | null) =>
      Effect.map(fetch(url ?? firstUrl), ({ items, link }) => ({
        items,
        next: parseLinkHeader(link).next ?? null
      })),
    options
  )

/** Next-page-link pagination (Lightspeed K-Series `_links.nextPage.href`): `fetch(url)` returns items and the next URL. */
export const nextPageLink = <A, E, R>(
  firstUrl: string,
  fetch: (
    url: string
  ) => Effect.Effect<{ readonly items: ReadonlyArray<A>; readonly next: string | null | undefined }, E, R>,
  options: PaginateOptions = {}
): Stream.Stream<Page<A, string>, E | PaginationError, R> =>
  paginate((url: string | null) => fetch(url ?? firstUrl), options)

/** Page-token pagination (K-Series `nextPageToken`); an empty token means the end. */
export const pageToken = <A, E, R>(
  fetch: (
    token: string | null
  ) => Effect.Effect<
    { readonly items: ReadonlyArray<A>; readonly nextPageToken: string | null | undefined },
    E,
    R
  >,
  options: PaginateOptions & { readonly start?: string | null | undefined } = {}
): Stream.Stream<Page<A, string>, E | PaginationError, R> =>
  paginate(
    (token: string | null) =>
      Effect.map(fetch(token), ({ items, nextPageToken }) => ({
        items,
        next:
          nextPageToken === undefined || nextPageToken === null || nextPageToken === "" ? null : nextPageToken
      })),
    options
  )

/**
 * Offset/amount pagination (K-Series Items API `offset`/`amount`, Stocky `offset`). Ends on a page
 * shorter than `amount`; the cursor is the offset.
 */
export const offset = <A, E, R>(
  fetch: (offset: number, amount: number) => Effect.Effect<ReadonlyArray<A>, E, R>,
  options: PaginateOptions & { readonly amount: number; readonly start?: number | undefined }
): Stream.Stream<Page<A, number>, E | PaginationError, R> =>
  paginate(
    (cursor: number | null) => {
      const at = cursor ?? options.start ?? 0
      return Effect.map(fetch(at, options.amount), (items) => ({
        items,
        next: items.length < options.amount ? null : at + items.length
      }))
    },
    { ...options, start: options.start === undefined || options.start === 0 ? null : options.start }
  )

/** Page-number pagination (`page`/`size`; K-Series Staff starts at 1, others at 0). Ends on a short page. */
export const pageNumber = <A, E, R>(
  fetch: (page: number, size: number) => Effect.Effect<ReadonlyArray<A>, E, R>,
  options: PaginateOptions & { readonly size: number; readonly firstPage?: 0 | 1 | undefined }
): Stream.Stream<Page<A, number>, E | PaginationError, R> => {
  const first = options.firstPage ?? 0
  return paginate((cursor: number | null) => {
    const page = cursor ?? first
    return Effect.map(fetch(page, options.size), (items) => ({
      items,
      next: items.length < options.size ? null : page + 1
    }))
  }, options)
}

/** Ids as Stocky and Shopify REST send them: numbers or numeric strings. */
export type Id = number | bigint | string

const toBigInt = (id: Id): bigint =>
  typeof id === "bigint" ? id : BigInt(typeof id === "number" ? Math.trunc(id) : id.trim())

/**
 * `since_id` pagination. Ascending (`id > since_id`, most APIs): the next cursor is the page's max
 * id. Descending (Stocky purchase orders: newest first, `since_id = min id` means `id < since_id`):
 * the next cursor is the page's min id. Ends on a page shorter than `limit`. A cursor that does not
 * move in the expected direction fails with `CursorNotAdvancing` (a server ignoring `since_id`).
 * For a server whose cursor is known to stall, `sinceIdOrOffset` falls back to `offset` instead.
 */
export const sinceId = <A, E, R>(
  fetch: (sinceId: string | null) => Effect.Effect<ReadonlyArray<A>, E, R>,
  options: PaginateOptions & {
    readonly idOf: (item: A) => Id
    readonly limit: number
    readonly direction: "ascending" | "descending"
    readonly start?: Id | null | undefined
  }
): Stream.Stream<Page<A, string>, E | PaginationError, R> => {
  const label = options.label === undefined ? "" : ` in ${options.label}`
  return paginate(
    (cursor: string | null) =>
      Effect.gen(function* () {
        const page = yield* fetch(cursor)
        if (page.length === 0) return { items: page, next: null }
        let edge = toBigInt(options.idOf(page[0]!))
        for (const item of page) {
          const id = toBigInt(options.idOf(item))
          if (options.direction === "ascending" ? id > edge : id < edge) edge = id
        }
        if (cursor !== null) {
          const previous = BigInt(cursor)
          const advanced = options.direction === "ascending" ? edge > previous : edge < previous
          if (!advanced) {
            return yield* new PaginationError({
              reason: "CursorNotAdvancing",
              cursor,
              page: -1,
              message: `since_id ${cursor} returned ids that do not move ${options.direction}${label}; the server may be ignoring since_id`
            })
          }
        }
        // Servers that include the since_id row itself (off by one) must not produce duplicates.
        const fresh =
          cursor === null
            ? page
            : page.filter((item) => {
                const id = toBigInt(options.idOf(item))
                const since = BigInt(cursor)
                return options.direction === "ascending" ? id > since : id < since
              })
        return { items: fresh, next: page.length < options.limit ? null : edge.toString() }
      }),
    {
      ...options,
      start: options.start === undefined || options.start === null ? null : toBigInt(options.start).toString()
    }
  )
}

/**
 * Where a `since_id` read with offset fallback asks next: by `since_id` (null: from the start) or,
 * once the cursor stalled, by `offset` (records emitted so far).
 */
export type SinceIdPosition =
  | { readonly mode: "since_id"; readonly sinceId: string | null }
  | { readonly mode: "offset"; readonly offset: number }

/**
 * State between pages of a `since_id` read with offset fallback. `seen` and `cursorsUsed` hold
 * canonical decimal ids and grow with the read (one entry per record), which is what lets a
 * server that ignores or repeats `since_id` be detected instead of looped on.
 */
export interface SinceIdState {
  readonly position: SinceIdPosition
  /** Pages consumed so far. */
  readonly page: number
  /** Records emitted so far (the offset to resume from when falling back). */
  readonly emitted: number
  readonly seen: Set<string>
  readonly cursorsUsed: Set<string>
}

/** What to do after a page: `fresh` indexes the page's records to emit (first sight of each id). */
export type SinceIdStep =
  | { readonly _tag: "Continue"; readonly fresh: ReadonlyArray<number>; readonly next: SinceIdState }
  | { readonly _tag: "Done"; readonly fresh: ReadonlyArray<number> }
  | { readonly _tag: "Stalled"; readonly fresh: ReadonlyArray<number>; readonly detail: string }

/** Options of `advanceSinceId` and `sinceIdOrOffset`. */
export interface SinceIdFallbackOptions {
  /** Page size asked for; a shorter page is the last. */
  readonly limit: number
  /** "ascending": next since_id = the page's max id; "descending" (newest first): its min id. */
  readonly direction: "ascending" | "descending"
  /**
   * What a stalled cursor does (a since_id already used, or a full page of records already seen,
   * as from a server that ignores since_id): switch to `offset` paging once (default) and only
   * fail if offset paging stalls too, or fail at once ("fail").
   */
  readonly onStalledCursor?: "offset" | "fail" | undefined
}

const canonicalId = (id: Id): string => toBigInt(id).toString()

/** The first state of a `since_id` read; `sinceId` resumes from a saved cursor. */
export const sinceIdStart = (sinceId: Id | null = null): SinceIdState => {
  const start = sinceId === null ? null : canonicalId(sinceId)
  return {
    position: { mode: "since_id", sinceId: start },
    page: 0,
    emitted: 0,
    seen: new Set(),
    cursorsUsed: start === null ? new Set() : new Set([start])
  }
}

/**
 * The pure step of a `since_id` read with offset fallback, for clients that need the page itself
 * (raw bodies, per-record decode results) and so cannot use `sinceIdOrOffset` directly. `ids` are
 * the page's record ids in order; `undefined` marks a record whose id could not be read: it is
 * always emitted and never moves the cursor. Mutates `state.seen`/`cursorsUsed` (the sets are
 * shared along one read).
 */
export const advanceSinceId = (
  state: SinceIdState,
  ids: ReadonlyArray<Id | undefined>,
  options: SinceIdFallbackOptions
): SinceIdStep => {
  const fresh: Array<number> = []
  const known: Array<bigint> = []
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]
    if (id === undefined) {
      fresh.push(i)
      continue
    }
    const value = toBigInt(id)
    known.push(value)
    const key = value.toString()
    if (!state.seen.has(key)) {
      state.seen.add(key)
      fresh.push(i)
    }
  }
  const emitted = state.emitted + fresh.length
  if (ids.length < options.limit) return { _tag: "Done", fresh }

  const page = state.page + 1
  const stalled = (why: string): SinceIdStep =>
    state.position.mode === "offset"
      ? { _tag: "Stalled", fresh, detail: `${why}; offset paging did not advance either` }
      : options.onStalledCursor === "fail"
        ? { _tag: "Stalled", fresh, detail: why }
        : {
            _tag: "Continue",
            fresh,
            next: { ...state, page, emitted, position: { mode: "offset", offset: emitted } }
          }

  if (fresh.length === 0) return stalled("a full page held only records already seen")
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
  const first = known[0]
  if (first === undefined) return stalled("a full page held no readable ids")
  let edge = first
  for (const id of known) if (options.direction === "ascending" ? id > edge : id < edge) edge = id
  const cursor = edge.toString()
  if (state.cursorsUsed.has(cursor)) return stalled(`since_id ${cursor} was already used`)
  state.cursorsUsed.add(cursor)
  return {
    _tag: "Continue",
    fresh,
    next: { ...state, page, emitted, position: { mode: "since_id", sinceId: cursor } }
  }
}

/**
 * `since_id` pagination for servers whose cursor may stall (Stocky): records already seen are
 * dropped, and a stalled cursor switches to `offset` paging (see `onStalledCursor`) instead of
 * looping or failing. `fetch(position)` asks by since_id or by offset. Pages carry the position
 * they were read at; only a `since_id` position is a checkpoint worth saving. A stall that cannot
 * be recovered fails with `CursorNotAdvancing`.
 */
export const sinceIdOrOffset = <A, E, R>(
  fetch: (position: SinceIdPosition) => Effect.Effect<ReadonlyArray<A>, E, R>,
  options: PaginateOptions &
    SinceIdFallbackOptions & {
      /** The record's id; return undefined when it cannot be read (the record is still emitted). */
      readonly idOf: (item: A) => Id | undefined
      readonly start?: Id | null | undefined
    }
): Stream.Stream<Page<A, SinceIdPosition>, E | PaginationError, R> => {
  const label = options.label === undefined ? "" : ` in ${options.label}`
  return Stream.suspend(() => {
    let state = sinceIdStart(options.start ?? null)
    return paginate(
      (_: SinceIdPosition | null) =>
        Effect.gen(function* () {
          const at = state.position
          const page = yield* fetch(at)
          const step = advanceSinceId(state, page.map(options.idOf), options)
          const items = step.fresh.flatMap((i) => {
            const item = page[i]
            return item === undefined ? [] : [item]
          })
          if (step._tag === "Stalled")
            return yield* new PaginationError({
              reason: "CursorNotAdvancing",
              cursor: render(at),
              page: state.page,
              message: `${step.detail}${label}`
            })
          if (step._tag === "Done") return { items, next: null }
          state = step.next
          return { items, next: state.position }
        }),
      // A resumed read's first page reports the position it was asked at.
      { ...options, start: options.start === undefined || options.start === null ? null : state.position }
    )
  })
}
