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
})
