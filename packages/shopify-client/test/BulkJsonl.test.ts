import { Effect, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { childTypeOf, jsonlLines, reassemble } from "../src/BulkJsonl.js"

const enc = new TextEncoder()
const bytes = (text: string, chunk: number) => {
  const all = enc.encode(text)
  const parts: Array<Uint8Array> = []
  for (let i = 0; i < all.length; i += chunk) parts.push(all.slice(i, i + chunk))
  return Stream.fromIterable(parts)
}
const run = <A, E>(s: Stream.Stream<A, E>) => Effect.runPromise(Stream.runCollect(s))
const runExit = <A, E>(s: Stream.Stream<A, E>) => Effect.runPromiseExit(Stream.runCollect(s))

const order = (n: number) => ({ __typename: "Order", id: `gid://shopify/Order/${n}`, name: `#${n}` })
const line = (n: number, p: number) => ({
  __typename: "LineItem",
  id: `gid://shopify/LineItem/${n}`,
  __parentId: `gid://shopify/Order/${p}`
})
const jsonl = (rows: ReadonlyArray<object>) => `${rows.map((r) => JSON.stringify(r)).join("\n")}\n`

const childField = (c: { [k: string]: unknown }) => (c.__typename === "LineItem" ? "lineItems" : "other")

describe("jsonlLines", () => {
  it("splits lines across arbitrary chunk boundaries, including inside multi-byte characters", async () => {
    const text = '{"a":"抹茶"}\n{"b":"日本酒"}\r\n\n{"c":1}'
    for (const size of [1, 2, 3, 5, 64]) {
      const lines = await run(jsonlLines(bytes(text, size)))
      expect(lines.map((l) => JSON.parse(l))).toEqual([{ a: "抹茶" }, { b: "日本酒" }, { c: 1 }])
    }
  })
})

describe("reassemble", () => {
  const rows = [order(1), line(11, 1), line(12, 1), order(2), order(3), line(31, 3)]

  it("grouped output: children follow their parent", async () => {
    const out = await run(
      jsonlLines(bytes(jsonl(rows), 7)).pipe(
        reassemble({ grouped: true, childField, childFields: ["lineItems"] })
      )
    )
    expect(out.map((o) => [o.id, (o.lineItems as Array<{ id: string }>).map((l) => l.id)])).toEqual([
      ["gid://shopify/Order/1", ["gid://shopify/LineItem/11", "gid://shopify/LineItem/12"]],
      ["gid://shopify/Order/2", []],
      ["gid://shopify/Order/3", ["gid://shopify/LineItem/31"]]
    ])
    expect(out[0]?.lineItems).toEqual([
      { __typename: "LineItem", id: "gid://shopify/LineItem/11" },
      { __typename: "LineItem", id: "gid://shopify/LineItem/12" }
    ])
  })

  it("interleaved and out-of-order output: children before, after and between parents", async () => {
    const shuffled = [line(31, 3), order(1), line(12, 1), order(3), order(2), line(11, 1)]
    const out = await run(
      Stream.fromIterable(shuffled.map((r) => JSON.stringify(r))).pipe(
        reassemble({ grouped: false, childField, childFields: ["lineItems"] })
      )
    )
    const byId = new Map(
      out.map((o) => [o.id, (o.lineItems as Array<{ id: string }>).map((l) => l.id).sort()])
    )
    expect(byId.get("gid://shopify/Order/1")).toEqual([
      "gid://shopify/LineItem/11",
      "gid://shopify/LineItem/12"
    ])
    expect(byId.get("gid://shopify/Order/2")).toEqual([])
    expect(byId.get("gid://shopify/Order/3")).toEqual(["gid://shopify/LineItem/31"])
    expect(out).toHaveLength(3)
  })

  it("emits a parent as soon as its expected children arrived (ungrouped, counts known)", async () => {
    const withCount = [{ ...order(1), n: 2 }, { ...order(2), n: 0 }, line(11, 1), line(12, 1)]
    const emittedAt: Array<string> = []
    await run(
      Stream.fromIterable(withCount.map((r) => JSON.stringify(r))).pipe(
        Stream.rechunk(1),
        reassemble({ grouped: false, childField, expectedChildren: (p) => ({ lineItems: Number(p.n) }) }),
        Stream.tap((o) => Effect.sync(() => emittedAt.push(String(o.id))))
      )
    )
    expect(emittedAt).toEqual(["gid://shopify/Order/2", "gid://shopify/Order/1"])
  })

  it("attaches children of inline list items (refund lines under an order's refunds)", async () => {
    const rows2 = [
      { ...order(1), refunds: [{ id: "gid://shopify/Refund/5" }] },
      {
        __typename: "RefundLineItem",
        id: "gid://shopify/RefundLineItem/7",
        __parentId: "gid://shopify/Refund/5"
      }
    ]
    const out = await run(
      Stream.fromIterable(rows2.map((r) => JSON.stringify(r))).pipe(
        reassemble({
          grouped: true,
          childField: (c) => (c.__typename === "RefundLineItem" ? "refundLineItems" : "other"),
          inlineParents: { refunds: ["refundLineItems", "transactions"] }
        })
      )
    )
    expect(out[0]?.refunds).toEqual([
      {
        id: "gid://shopify/Refund/5",
        transactions: [],
        refundLineItems: [{ __typename: "RefundLineItem", id: "gid://shopify/RefundLineItem/7" }]
      }
    ])
  })

  it("fails with DataLoss when a child's parent never appears", async () => {
    const exit = await runExit(
      Stream.fromIterable([order(1), line(99, 42)].map((r) => JSON.stringify(r))).pipe(
        reassemble({ grouped: false, childField })
      )
    )
    expect(exit._tag).toBe("Failure")
    expect(String(JSON.stringify(exit))).toContain("DataLoss")
  })

  it("fails with DataLoss when the line count differs from objectCount", async () => {
    const exit = await runExit(
      Stream.fromIterable(rows.map((r) => JSON.stringify(r))).pipe(
        reassemble({ grouped: true, childField, expectedLines: 7n, jobId: "j" })
      )
    )
    expect(exit._tag).toBe("Failure")
    expect(JSON.stringify(exit)).toContain("objectCount 7")
  })

  it("keeps memory flat on grouped output (only the current root is buffered)", async () => {
    let maxBuffered = 0
    const { Reassembler } = await import("../src/BulkJsonl.js")
    const r = new Reassembler({ grouped: true, childField })
    const out: Array<{ [k: string]: unknown }> = []
    for (let i = 0; i < 20_000; i++) {
      r.push(order(i), out)
      r.push(line(i * 10, i), out)
      r.push(line(i * 10 + 1, i), out)
      maxBuffered = Math.max(maxBuffered, r.buffered)
    }
    r.end(out)
    expect(out).toHaveLength(20_000)
    expect(maxBuffered).toBeLessThanOrEqual(3)
  })
})

describe("childTypeOf", () => {
  it("reads __typename, else the type in the global id, else null", () => {
    expect(childTypeOf({ __typename: "LineItem", id: "gid://shopify/ShippingLine/1" })).toBe("LineItem")
    expect(childTypeOf({ __typename: null, id: "gid://shopify/ShippingLine/5100" })).toBe("ShippingLine")
    expect(childTypeOf({ id: "gid://shopify/RefundLineItem/7?x=1" })).toBe("RefundLineItem")
    expect(childTypeOf({ __typename: null, id: null })).toBeNull()
    expect(childTypeOf({ id: "7" })).toBeNull()
  })

  it("places a child line without __typename by its id under the default reassembly", async () => {
    const rows = [
      order(1),
      { __typename: null, id: "gid://shopify/ShippingLine/9", __parentId: "gid://shopify/Order/1" }
    ]
    const [o] = await run(jsonlLines(bytes(jsonl(rows), 16)).pipe(reassemble({ grouped: true })))
    expect(o?.shippingLines).toMatchObject([{ id: "gid://shopify/ShippingLine/9" }])
    expect(o?.children).toBeUndefined()
  })
})
