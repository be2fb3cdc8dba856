import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import * as Pagination from "../src/Pagination.js"
import { failure } from "./support/exit.js"

const ids = (from: number, to: number) =>
  Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => ({ id: from + i }))

describe("Pagination", () => {
  it.effect("graphqlCursor exposes each page's cursor and next cursor", () =>
    Effect.gen(function* () {
      const pages: Record<string, { items: Array<number>; next: string | null }> = {
        start: { items: [1, 2], next: "c1" },
        c1: { items: [3, 4], next: "c2" },
        c2: { items: [5], next: null }
      }
      const result = yield* Pagination.graphqlCursor((after) => {
        const page = pages[after ?? "start"]!
        return Effect.succeed({
          items: page.items,
          pageInfo: { hasNextPage: page.next !== null, endCursor: page.next }
        })
      }).pipe(Stream.runCollect)
      assert.deepStrictEqual(
        result.map((p) => [p.cursor, p.nextCursor, p.items]),
        [
          [null, "c1", [1, 2]],
          ["c1", "c2", [3, 4]],
          ["c2", null, [5]]
        ]
      )
    })
  )

  it.effect("resumes from a checkpointed cursor", () =>
    Effect.gen(function* () {
      const seen: Array<string | null> = []
      const all = yield* Pagination.items(
        Pagination.graphqlCursor(
          (after) => {
            seen.push(after)
            return Effect.succeed({ items: [after], pageInfo: { hasNextPage: false, endCursor: null } })
          },
          { after: "c7" }
        )
      ).pipe(Stream.runCollect)
      assert.deepStrictEqual(seen, ["c7"])
      assert.deepStrictEqual(all, ["c7"])
    })
  )

  it.effect("a repeated cursor fails instead of looping forever", () =>
    Effect.gen(function* () {
      let calls = 0
      const exit = yield* Pagination.graphqlCursor(() => {
        calls++
        return Effect.succeed({
          items: [calls],
          pageInfo: { hasNextPage: true, endCursor: calls % 2 === 0 ? "a" : "b" }
        })
      }).pipe(Stream.runCollect, Effect.exit)
      assert.strictEqual(failure(exit).reason, "RepeatedCursor")
      assert.strictEqual(calls, 3)
      // or ends cleanly when asked to
      const stopped = yield* Pagination.pageToken(
        () => Effect.succeed({ items: [1], nextPageToken: "same" }),
        {
          onRepeatedCursor: "stop",
          start: "same"
        }
      ).pipe(Stream.runCollect)
      assert.strictEqual(stopped.length, 1)
    })
  )

  it("parses Link headers", () => {
    const links = Pagination.parseLinkHeader(
      '<https://s.myshopify.com/admin/api/2026-01/orders.json?limit=250&page_info=abc>; rel="previous", <https://s.myshopify.com/admin/api/2026-01/orders.json?limit=250&page_info=def>; rel="next"'
    )
    assert.strictEqual(
      links.next,
      "https://s.myshopify.com/admin/api/2026-01/orders.json?limit=250&page_info=def"
    )
    assert.strictEqual(
      links.previous,
      "https://s.myshopify.com/admin/api/2026-01/orders.json?limit=250&page_info=abc"
    )
    assert.deepStrictEqual(Pagination.parseLinkHeader(undefined), {})
  })

  it.effect("linkHeader follows rel=next until absent", () =>
    Effect.gen(function* () {
      const pages = yield* Pagination.linkHeader("https://x/p1", (url) =>
        Effect.succeed({
          items: [url],
          link: url === "https://x/p1" ? '<https://x/p2>; rel="next"' : '<https://x/p1>; rel="previous"'
        })
      ).pipe(Stream.runCollect)
      assert.deepStrictEqual(
        pages.map((p) => p.items[0]),
        ["https://x/p1", "https://x/p2"]
      )
      assert.strictEqual(pages[0]?.nextCursor, "https://x/p2")
    })
  )

  it.effect("since_id ascending uses the max id and stops on a short page", () =>
    Effect.gen(function* () {
      const data = ids(1, 7)
      const calls: Array<string | null> = []
      const pages = yield* Pagination.sinceId(
        (since) => {
          calls.push(since)
          return Effect.succeed(data.filter((r) => since === null || r.id > Number(since)).slice(0, 3))
        },
        { idOf: (r) => r.id, limit: 3, direction: "ascending" }
      ).pipe(Stream.runCollect)
      assert.deepStrictEqual(calls, [null, "3", "6"])
      assert.deepStrictEqual(
        pages.flatMap((p) => p.items.map((r) => r.id)),
        [1, 2, 3, 4, 5, 6, 7]
      )
    })
  )

  it.effect("since_id descending (Stocky purchase orders) uses the min id", () =>
    Effect.gen(function* () {
      const data = ids(1, 7).reverse()
      const calls: Array<string | null> = []
      const all = yield* Pagination.items(
        Pagination.sinceId(
          (since) => {
            calls.push(since)
            return Effect.succeed(data.filter((r) => since === null || r.id < Number(since)).slice(0, 3))
          },
          { idOf: (r) => String(r.id), limit: 3, direction: "descending" }
        )
      ).pipe(Stream.runCollect)
      assert.deepStrictEqual(calls, [null, "5", "2"])
      assert.deepStrictEqual(
        all.map((r) => r.id),
        [7, 6, 5, 4, 3, 2, 1]
      )
    })
  )

  it.effect("since_id ignored by the server fails instead of looping", () =>
    Effect.gen(function* () {
      const exit = yield* Pagination.sinceId(() => Effect.succeed(ids(1, 3)), {
        idOf: (r) => r.id,
        limit: 3,
        direction: "ascending",
        label: "stocky/suppliers"
      }).pipe(Stream.runCollect, Effect.exit)
      assert.strictEqual(failure(exit).reason, "CursorNotAdvancing")
    })
  )

  it.effect("offset/amount and page numbers stop on a short page", () =>
    Effect.gen(function* () {
      const data = ids(1, 250)
      const offsets: Array<number> = []
      const all = yield* Pagination.items(
        Pagination.offset(
          (at, amount) => {
            offsets.push(at)
            return Effect.succeed(data.slice(at, at + amount))
          },
          { amount: 100 }
        )
      ).pipe(Stream.runCollect)
      assert.deepStrictEqual(offsets, [0, 100, 200])
      assert.strictEqual(all.length, 250)
      const pagesSeen: Array<number> = []
      const staff = yield* Pagination.items(
        Pagination.pageNumber(
          (page, size) => {
            pagesSeen.push(page)
            return Effect.succeed(data.slice((page - 1) * size, page * size))
          },
          { size: 100, firstPage: 1 }
        )
      ).pipe(Stream.runCollect)
      assert.deepStrictEqual(pagesSeen, [1, 2, 3])
      assert.strictEqual(staff.length, 250)
    })
  )

  it.effect("a stream can be run twice (guard state is per run)", () =>
    Effect.gen(function* () {
      const stream = Pagination.pageToken((token) =>
        Effect.succeed({ items: [token], nextPageToken: token === null ? "a" : token === "a" ? "b" : null })
      )
      const first = yield* Pagination.items(stream).pipe(Stream.runCollect)
      const second = yield* Pagination.items(stream).pipe(Stream.runCollect)
      assert.deepStrictEqual(first, [null, "a", "b"])
      assert.deepStrictEqual(second, first)
    })
  )

  it.effect("maxPages guards against runaway streams", () =>
    Effect.gen(function* () {
      let n = 0
      const exit = yield* Pagination.pageToken(
        () => Effect.succeed({ items: [n], nextPageToken: `t${++n}` }),
        {
          maxPages: 5
        }
      ).pipe(Stream.runCollect, Effect.exit)
      assert.strictEqual(failure(exit).reason, "TooManyPages")
      assert.strictEqual(n, 5)
    })
  )
  describe("since_id with offset fallback", () => {
    const step = (
      state: Pagination.SinceIdState,
      page: ReadonlyArray<number | undefined>,
      limit: number,
      direction: "ascending" | "descending" = "ascending"
    ) => Pagination.advanceSinceId(state, page, { limit, direction })

    it("moves since_id to the max id ascending and the min id descending", () => {
      const asc = step(Pagination.sinceIdStart(), [1, 2, 3], 3)
      if (asc._tag !== "Continue") return assert.fail("expected Continue")
      assert.deepStrictEqual(asc.next.position, { mode: "since_id", sinceId: "3" })
      const desc = step(Pagination.sinceIdStart(), [30, 20, 10], 3, "descending")
      if (desc._tag !== "Continue") return assert.fail("expected Continue")
      assert.deepStrictEqual(desc.next.position, { mode: "since_id", sinceId: "10" })
    })

    it("ends on a short page, drops ids already seen and always emits unreadable ids", () => {
      const first = step(Pagination.sinceIdStart(), [1, 2, 2], 3)
      assert.deepStrictEqual(first.fresh, [0, 1])
      if (first._tag !== "Continue") return assert.fail("expected Continue")
      const last = step(first.next, [2, undefined, 3], 4)
      assert.strictEqual(last._tag, "Done")
      assert.deepStrictEqual(last.fresh, [1, 2])
    })

    it("falls back to offset on a repeated page, then reports a stall; or stalls at once with fail", () => {
      const s1 = step(Pagination.sinceIdStart(), [1, 2], 2)
      if (s1._tag !== "Continue") return assert.fail("expected Continue")
      const s2 = step(s1.next, [1, 2], 2)
      if (s2._tag !== "Continue") return assert.fail("expected Continue")
      assert.deepStrictEqual(s2.next.position, { mode: "offset", offset: 2 })
      assert.strictEqual(step(s2.next, [1, 2], 2)._tag, "Stalled")
      const strict = Pagination.advanceSinceId(s1.next, [1, 2], {
        limit: 2,
        direction: "ascending",
        onStalledCursor: "fail"
      })
      assert.strictEqual(strict._tag, "Stalled")
    })

    it("a resumed cursor counts as used", () => {
      const resumed = Pagination.sinceIdStart(42)
      assert.deepStrictEqual(resumed.position, { mode: "since_id", sinceId: "42" })
      const again = step(resumed, [40, 41, 42], 3)
      if (again._tag !== "Continue") return assert.fail("expected Continue")
      assert.deepStrictEqual(again.next.position, { mode: "offset", offset: 3 })
    })

    // A server of 7 records that answers since_id correctly until `brokenAfter` requests, then
    // ignores it (returns the first page again); offset works unless `offsetBroken`.
    const server = (brokenAfter: number, offsetBroken = false) => {
      const all = ids(1, 7)
      const asked: Array<Pagination.SinceIdPosition> = []
      const fetch = (position: Pagination.SinceIdPosition) =>
        Effect.sync(() => {
          asked.push(position)
          if (position.mode === "offset")
            return offsetBroken ? all.slice(0, 3) : all.slice(position.offset, position.offset + 3)
          const since = position.sinceId === null ? 0 : Number(position.sinceId)
          return asked.length > brokenAfter ? all.slice(0, 3) : all.filter((r) => r.id > since).slice(0, 3)
        })
      return { asked, fetch }
    }

    it.effect("sinceIdOrOffset reads every record once across a stalled cursor", () =>
      Effect.gen(function* () {
        const { asked, fetch } = server(1)
        const pages = yield* Pagination.sinceIdOrOffset(fetch, {
          idOf: (r) => r.id,
          limit: 3,
          direction: "ascending"
        }).pipe(Stream.runCollect)
        assert.deepStrictEqual(
          pages.flatMap((p) => p.items.map((r) => r.id)),
          [1, 2, 3, 4, 5, 6, 7]
        )
        assert.deepStrictEqual(asked, [
          { mode: "since_id", sinceId: null },
          { mode: "since_id", sinceId: "3" },
          { mode: "offset", offset: 3 },
          { mode: "offset", offset: 6 }
        ])
        assert.deepStrictEqual(pages[1]?.cursor, { mode: "since_id", sinceId: "3" })
      })
    )

    it.effect(
      "sinceIdOrOffset fails with CursorNotAdvancing when offset stalls too, or at once with fail",
      () =>
        Effect.gen(function* () {
          const both = failure(
            yield* Pagination.sinceIdOrOffset(server(1, true).fetch, {
              idOf: (r) => r.id,
              limit: 3,
              direction: "ascending",
              label: "test/records"
            }).pipe(Stream.runCollect, Effect.exit)
          )
          assert.strictEqual(both.reason, "CursorNotAdvancing")
          assert.match(both.message, /offset paging did not advance either in test\/records/)
          const strict = server(1)
          const fast = failure(
            yield* Pagination.sinceIdOrOffset(strict.fetch, {
              idOf: (r) => r.id,
              limit: 3,
              direction: "ascending",
              onStalledCursor: "fail"
            }).pipe(Stream.runCollect, Effect.exit)
          )
          assert.strictEqual(fast.reason, "CursorNotAdvancing")
          assert.strictEqual(strict.asked.length, 2)
        })
    )
  })
})
