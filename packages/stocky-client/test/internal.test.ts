import { assert, describe, expect, it } from "@effect/vitest"
import { DateTime, Effect, Schema } from "effect"
import { PurchaseOrderItem, StockyTimeZone, Supplier } from "../src/index.js"
import { CsvParser, formatCsvRow, parseCsv } from "../src/internal/csv.js"
import { advancePaging, initialPaging, pageQuery } from "../src/internal/Paging.js"

describe("CsvParser", () => {
  const text =
    '\uFEFFid,name,note\r\n1,"a, b","line1\r\nline2"\r\n\r\n2,"say ""hi""",\n3,plain,"x"\r4,last,end'
  const expected = [
    { line: 1, cells: ["id", "name", "note"] },
    { line: 2, cells: ["1", "a, b", "line1\nline2"] },
    { line: 5, cells: ["2", 'say "hi"', ""] },
    { line: 6, cells: ["3", "plain", "x"] },
    { line: 7, cells: ["4", "last", "end"] }
  ]

  it("parses quotes, doubled quotes, embedded CRLF, blank lines, CR/LF/CRLF and a BOM", () => {
    const { rows, error } = parseCsv(text)
    assert.isUndefined(error)
    assert.deepStrictEqual(rows, expected)
  })

  it("gives the same rows whatever the chunk boundaries", () => {
    for (let cut = 0; cut <= text.length; cut++) {
      for (const size of [1, 2, 3, 7]) {
        const p = new CsvParser()
        const rows = [...p.push(text.slice(0, cut))]
        for (let i = cut; i < text.length; i += size) rows.push(...p.push(text.slice(i, i + size)))
        rows.push(...p.end())
        assert.deepStrictEqual(rows, expected, `cut ${cut} size ${size}`)
      }
    }
  })

  it("reports text after a closing quote and unterminated quotes with their line", () => {
    assert.deepStrictEqual(parseCsv('a\n"x"y,1\n').error, {
      line: 2,
      detail: 'unexpected "y" after a closing quote'
    })
    assert.deepStrictEqual(parseCsv('a\nb\n"open\n').error, {
      line: 3,
      detail: "a quoted field is never closed"
    })
  })

  it("formats cells so they parse back", () => {
    const cells = ["a,b", 'q"q', "multi\nline", " padded", "plain", ""]
    assert.deepStrictEqual(parseCsv(formatCsvRow(cells)).rows[0]?.cells, cells)
  })
})

describe("Paging", () => {
  it("moves since_id to the max id ascending and the min id descending", () => {
    const asc = advancePaging(initialPaging(), [1, 2, 3], 3, "asc")
    assert.strictEqual(asc._tag, "Continue")
    if (asc._tag === "Continue") assert.deepStrictEqual(pageQuery(asc.next), { since_id: 3 })
    const desc = advancePaging(initialPaging(), [30, 20, 10], 3, "desc")
    if (desc._tag === "Continue") assert.deepStrictEqual(pageQuery(desc.next), { since_id: 10 })
    else assert.fail("expected Continue")
  })

  it("ends on a short page and drops ids already seen", () => {
    const first = advancePaging(initialPaging(), [1, 2, 2], 3, "asc")
    assert.deepStrictEqual(first.fresh, [0, 1])
    if (first._tag !== "Continue") return assert.fail("expected Continue")
    const last = advancePaging(first.next, [2, 3], 3, "asc")
    assert.strictEqual(last._tag, "Done")
    assert.deepStrictEqual(last.fresh, [1])
  })

  it("falls back to offset on a repeated page, then reports a stall", () => {
    const s1 = advancePaging(initialPaging(), [1, 2], 2, "asc")
    if (s1._tag !== "Continue") return assert.fail("expected Continue")
    const s2 = advancePaging(s1.next, [1, 2], 2, "asc")
    if (s2._tag !== "Continue") return assert.fail("expected Continue")
    assert.deepStrictEqual(pageQuery(s2.next), { offset: 2 })
    const s3 = advancePaging(s2.next, [1, 2], 2, "asc")
    assert.strictEqual(s3._tag, "Stalled")
  })

  it("resumes from a saved cursor", () => {
    assert.deepStrictEqual(pageQuery(initialPaging(42)), { since_id: 42 })
  })
})

describe("record schemas", () => {
  const decodeItem = Schema.decodeUnknownEffect(PurchaseOrderItem)

  it.effect("read DD/MM/YYYY HH:MM in the StockyTimeZone, including across a DST change", () =>
    Effect.gen(function* () {
      const item = { id: 1, quantity: 1, updated_at: "29/03/2026 02:30" }
      const utc = yield* decodeItem(item)
      assert.strictEqual(utc.updated_at && DateTime.formatIso(utc.updated_at), "2026-03-29T02:30:00.000Z")
      const london = yield* decodeItem(item).pipe(
        Effect.provideService(StockyTimeZone, DateTime.zoneMakeNamedUnsafe("Europe/London"))
      )
      // 02:30 does not exist in London that night (clocks jump 01:00 → 02:00 UTC+1); it is read as 02:30 BST.
      assert.strictEqual(
        london.updated_at && DateTime.formatIso(london.updated_at),
        "2026-03-29T01:30:00.000Z"
      )
    })
  )

  it.effect("reject impossible dates, non-decimal prices and non-integer ids with the field path", () =>
    Effect.gen(function* () {
      const bad = yield* Effect.flip(decodeItem({ id: 1, quantity: 1, updated_at: "31/02/2026 10:00" }))
      expect(bad.message).toMatch(/updated_at/)
      const price = yield* Effect.flip(decodeItem({ id: 1, quantity: 1, retail_price: "$4" }))
      expect(price.message).toMatch(/retail_price/)
      const id = yield* Effect.flip(Schema.decodeUnknownEffect(Supplier)({ id: "1.5", name: "x" }))
      expect(id.message).toMatch(/id/)
      const big = yield* Effect.flip(decodeItem({ id: 1, quantity: 2 ** 60 }))
      expect(big.message).toMatch(/quantity/)
    })
  )

  it.effect("never route prices through floats", () =>
    Effect.gen(function* () {
      const item = yield* decodeItem({
        id: 1,
        quantity: 1,
        retail_price: "0.1",
        cost_price: 0.2,
        supplier_cost_price: "123456789012345678.99"
      })
      assert.strictEqual(item.retail_price?.add(item.cost_price ?? item.retail_price).toString(), "0.3")
      assert.strictEqual(item.supplier_cost_price?.toString(), "123456789012345678.99")
    })
  )
})
