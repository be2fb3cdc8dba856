import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, expect, it } from "@effect/vitest"
import { type DeadLetter, DeadLetterSink, type StoreError } from "@kura/core"
import { DateTime, Effect, Stream } from "effect"
import {
  type ArchiveReader,
  directoryReader,
  directoryWriter,
  exportArchive,
  inspectArchive,
  layerStockyTimeZone,
  memoryArchive,
  readArchive,
  STOCKY_RESOURCE_NAMES,
  StockyClient,
  type StockyError
} from "../src/index.js"
import { csvFiles } from "./support/csvExport.js"
import { withServer } from "./support/withServer.js"

const tempDir = Effect.acquireRelease(
  Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "stocky-archive-"))),
  (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
)

const encode = (s: string) => new TextEncoder().encode(s)
const archiveOf = (files: ReadonlyMap<string, string>) => {
  const a = memoryArchive()
  for (const [p, text] of files) a.files.set(p, encode(text))
  return a
}

const flipStocky = <A>(s: Stream.Stream<A, StockyError | StoreError>) =>
  Effect.flatMap(Effect.flip(Stream.runCollect(s)), (e) =>
    e._tag === "StockyError" ? Effect.succeed(e) : Effect.die(e)
  )

describe("exportArchive → readArchive", () => {
  it.live("round-trips every resource to exactly the live records, with manifest counts and checksums", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      yield* withServer({ count: 17 }, () =>
        Effect.gen(function* () {
          const manifest = yield* exportArchive(directoryWriter(dir), { limit: 5 })
          assert.strictEqual(manifest.resources.purchase_orders?.records, 17)
          assert.strictEqual(manifest.resources.purchase_orders?.pages, 4)
          assert.strictEqual(manifest.resources.tax_types?.records, 3)
          assert.strictEqual(manifest.time_zone, "Asia/Tokyo")
          const files = yield* Effect.promise(() => fs.readdir(path.join(dir, "raw", "suppliers")))
          assert.deepStrictEqual(files.sort(), [
            "page-0001.json",
            "page-0002.json",
            "page-0003.json",
            "page-0004.json"
          ])
          const client = yield* StockyClient
          const reader = directoryReader(dir)
          for (const resource of STOCKY_RESOURCE_NAMES) {
            const live = yield* Stream.runCollect(client.list(resource))
            // No zone given: the archive's manifest says Asia/Tokyo.
            const archived = yield* Stream.runCollect(readArchive(reader, resource))
            assert.deepStrictEqual(archived, live, resource)
          }
        })
      )
    })
  )

  it.live("records a transfers endpoint that is not served, and reads it back as empty", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      yield* withServer({ count: 4, transfers: false }, () =>
        Effect.gen(function* () {
          const manifest = yield* exportArchive(directoryWriter(dir))
          assert.deepStrictEqual(manifest.resources.stock_transfers, { pages: 0, records: 0, served: false })
          const transfers = yield* Stream.runCollect(readArchive(directoryReader(dir), "stock_transfers"))
          assert.strictEqual(transfers.length, 0)
        })
      )
    })
  )

  it.live("detects a changed page (sha256) and a missing page (record count)", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      yield* withServer({ count: 12 }, () => exportArchive(directoryWriter(dir), { limit: 5 }))
      const page = path.join(dir, "raw", "suppliers", "page-0002.json")
      const original = yield* Effect.promise(() => fs.readFile(page, "utf8"))
      yield* Effect.promise(() => fs.writeFile(page, original.replace("Supplier 6", "Supplier X")))
      const changed = yield* flipStocky(readArchive(directoryReader(dir), "suppliers"))
      expect(changed.message).toMatch(/page-0002\.json.*sha256/)
      yield* Effect.promise(() => fs.rm(page))
      const missing = yield* flipStocky(readArchive(directoryReader(dir), "suppliers"))
      expect(missing.message).toMatch(/manifest lists 12 records but the pages hold 7/)
      // verify: false reads what is there.
      const partial = yield* Stream.runCollect(
        readArchive(directoryReader(dir), "suppliers", { verify: false })
      )
      assert.strictEqual(partial.length, 7)
    })
  )

  it.live("inspectArchive lists raw pages and CSV files per resource", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      yield* withServer({ count: 6 }, () => exportArchive(directoryWriter(dir), { limit: 5 }))
      yield* Effect.promise(() =>
        fs.writeFile(path.join(dir, "purchase_order_items.csv"), "purchase_order_id,id\n")
      )
      const summary = yield* inspectArchive(directoryReader(dir))
      const po = summary.find((s) => s.resource === "purchase_orders")
      assert.deepStrictEqual(po?.rawPages, [
        "raw/purchase_orders/page-0001.json",
        "raw/purchase_orders/page-0002.json"
      ])
      assert.strictEqual(po?.csvFile, null)
      assert.strictEqual(summary.find((s) => s.resource === "tax_types")?.rawPages.length, 1)
    })
  )

  it.effect("accepts a bare array page and de-duplicates ids repeated across pages", () =>
    Effect.gen(function* () {
      const a = memoryArchive()
      const s = (id: number) => ({ id, name: `S${id}`, created_at: "2025-01-01T00:00:00Z", updated_at: null })
      a.files.set("raw/suppliers/page-0001.json", encode(JSON.stringify({ suppliers: [s(1), s(2)] })))
      a.files.set("raw/suppliers/page-0002.json", encode(JSON.stringify([s(2), s(3)])))
      a.files.set("raw/suppliers/page-0010.json", encode(JSON.stringify({ suppliers: [s(4)] })))
      const out = yield* Stream.runCollect(readArchive(a, "suppliers"))
      assert.deepStrictEqual(
        out.map((x) => x.id),
        [1, 2, 3, 4]
      )
    })
  )

  it.effect("names file and record index when a raw page record does not decode", () =>
    Effect.gen(function* () {
      const a = memoryArchive()
      a.files.set(
        "raw/tax_types/page-0001.json",
        encode(
          JSON.stringify({
            tax_types: [
              { id: 1, tax_rate: "10.0" },
              { id: 2, tax_rate: "ten" }
            ]
          })
        )
      )
      const error = yield* flipStocky(readArchive(a, "tax_types"))
      assert.strictEqual(error.reason._tag, "Decode")
      if (error.reason._tag === "Decode") {
        assert.strictEqual(error.reason.source, "raw/tax_types/page-0001.json")
        assert.strictEqual(error.reason.index, 1)
        assert.strictEqual(error.reason.field, "tax_rate")
      }
      const missing = yield* flipStocky(readArchive(memoryArchive(), "suppliers"))
      expect(missing.message).toMatch(/holds no suppliers/)
    })
  )
})

describe("CSV archives", () => {
  it.live("decode to the same records as the live API (generated from the same data, CRLF + BOM)", () =>
    withServer({ count: 13 }, (server) =>
      Effect.gen(function* () {
        const client = yield* StockyClient
        const archive = archiveOf(csvFiles(server.data, { crlf: true, bom: true }))
        for (const resource of STOCKY_RESOURCE_NAMES) {
          if (resource === "stock_transfers") continue
          const live = yield* Stream.runCollect(client.list(resource))
          const fromCsv = yield* Stream.runCollect(readArchive(archive, resource, { timeZone: "Asia/Tokyo" }))
          const byId = <T extends { id: number }>(xs: ReadonlyArray<T>) => [...xs].sort((a, b) => a.id - b.id)
          assert.deepStrictEqual(byId(fromCsv), byId(live), resource)
        }
      })
    )
  )

  const quirkyFiles = () =>
    new Map<string, string>([
      [
        "csv/suppliers.csv",
        [
          "\uFEFFID,Name,Created At,Updated At,Address1,Is Hidden,Phone",
          '7,"Uji Tea, Ltd.",2024-03-01T09:00:00+09:00,01/04/2024 10:30,"1-2 Uji\nKyoto",TRUE,',
          "",
          '8,"The ""Best"" Miso",2024-03-02T00:00:00Z,2024-03-02 12:00,,0,075-1'
        ].join("\r\n")
      ],
      [
        "csv/purchase_orders.csv",
        [
          "id,number,created_at,updated_at,supplier_id,currency,shipping,paid,archived,expected_on,shopify_receive_location_id",
          '42,1000A,2024-05-01T00:00:00Z,2024-05-02T00:00:00Z,"7",JPY,"1,200",false,false,15/06/2024,gid://shopify/Location/61234567890',
          "43,1001,2024-05-03T00:00:00Z,2024-05-03T00:00:00Z,,JPY,0.5,true,,,"
        ].join("\n")
      ],
      [
        "csv/purchase_order_items.csv",
        [
          "purchase_order_id,id,sku,quantity,retail_price,cost_price,updated_at,inventory_item_id,status",
          '42,1,,3,49.61,12.30,"09/02/2021 00:23",44000000000,not delivered',
          "42,2,MISO-1,-1,1e2,,,,delivered",
          "43,3,X,1,0.10,0.05,2024-05-03T10:00:00+09:00,,"
        ].join("\n")
      ]
    ])

  it.effect(
    "reads quirky CSV: headers with spaces, quoted commas and line breaks, booleans, local times, gids",
    () =>
      Effect.gen(function* () {
        const files = quirkyFiles()
        // "1,200" is not a decimal; fix it to see everything else decode.
        files.set(
          "csv/purchase_orders.csv",
          (files.get("csv/purchase_orders.csv") ?? "").replace('"1,200"', "1200")
        )
        const archive = archiveOf(files)
        const suppliers = yield* Stream.runCollect(readArchive(archive, "suppliers"))
        assert.strictEqual(suppliers.length, 2)
        assert.strictEqual(suppliers[0]?.name, "Uji Tea, Ltd.")
        assert.strictEqual(suppliers[0]?.address1, "1-2 Uji\nKyoto")
        assert.strictEqual(suppliers[0]?.is_hidden, true)
        assert.strictEqual(suppliers[0]?.phone, null)
        assert.strictEqual(suppliers[1]?.name, 'The "Best" Miso')
        assert.strictEqual(suppliers[1]?.is_hidden, false)
        // No zone given and no manifest: offset-less times are read in the StockyTimeZone in context.
        const inTokyo = yield* Stream.runCollect(readArchive(archive, "suppliers")).pipe(
          Effect.provide(layerStockyTimeZone("Asia/Tokyo"))
        )
        const badZone = yield* Effect.flip(
          Stream.runCollect(readArchive(archive, "suppliers")).pipe(
            Effect.provide(layerStockyTimeZone("Kyoto"))
          )
        )
        expect(badZone.message).toMatch(/timeZone.*IANA/)
        assert.strictEqual(
          inTokyo[0]?.updated_at && DateTime.formatIso(inTokyo[0].updated_at),
          "2024-04-01T01:30:00.000Z"
        )
        assert.strictEqual(
          suppliers[0]?.updated_at && DateTime.formatIso(suppliers[0].updated_at),
          "2024-04-01T10:30:00.000Z"
        )
        assert.strictEqual(
          suppliers[0]?.created_at && DateTime.formatIso(suppliers[0].created_at),
          "2024-03-01T00:00:00.000Z"
        )

        const pos = yield* Stream.runCollect(
          readArchive(archive, "purchase_orders", { timeZone: "Asia/Tokyo" })
        )
        const [po42, po43] = pos
        assert.strictEqual(po42?.number, "1000A")
        assert.strictEqual(po42?.supplier_id, 7)
        assert.strictEqual(po42?.expected_on, "2024-06-15")
        assert.strictEqual(po42?.shopify_receive_location_id, 61234567890n)
        assert.strictEqual(po42?.purchase_items.length, 2)
        const [i1, i2] = po42?.purchase_items ?? []
        assert.strictEqual(i1?.sku, "")
        assert.strictEqual(i1?.retail_price?.toString(), "49.61")
        assert.strictEqual(i1?.updated_at && DateTime.formatIso(i1.updated_at), "2021-02-08T15:23:00.000Z")
        assert.strictEqual(i2?.quantity, -1)
        assert.strictEqual(i2?.retail_price?.toString(), "100")
        assert.strictEqual(i2?.cost_price, null)
        assert.strictEqual(po43?.paid, true)
        assert.strictEqual(po43?.supplier_id, null)
        assert.strictEqual(po43?.purchase_items[0]?.cost_price?.toString(), "0.05")
      })
  )

  it.effect("a bad value fails with file, line and field (line counts quoted line breaks)", () =>
    Effect.gen(function* () {
      const archive = archiveOf(quirkyFiles())
      const error = yield* flipStocky(readArchive(archive, "purchase_orders"))
      assert.strictEqual(error.reason._tag, "Decode")
      if (error.reason._tag === "Decode") {
        assert.strictEqual(error.reason.source, "csv/purchase_orders.csv")
        assert.strictEqual(error.reason.line, 2)
        assert.strictEqual(error.reason.field, "shipping")
      }
      expect(error.message).toContain("csv/purchase_orders.csv:2")

      const files = quirkyFiles()
      files.set(
        "csv/purchase_orders.csv",
        (files.get("csv/purchase_orders.csv") ?? "").replace('"1,200"', "1200")
      )
      files.set(
        "csv/purchase_order_items.csv",
        (files.get("csv/purchase_order_items.csv") ?? "").replace("43,3,X,1,0.10", "43,3,X,one,0.10")
      )
      const itemError = yield* flipStocky(readArchive(archiveOf(files), "purchase_orders"))
      assert.strictEqual(itemError.reason._tag, "Decode")
      if (itemError.reason._tag === "Decode") {
        assert.strictEqual(itemError.reason.source, "csv/purchase_order_items.csv")
        assert.strictEqual(itemError.reason.line, 4)
        assert.strictEqual(itemError.reason.field, "quantity")
      }

      const supplierFile = quirkyFiles().get("csv/suppliers.csv") ?? ""
      const badDate = archiveOf(
        new Map([["suppliers.csv", supplierFile.replace("2024-03-02 12:00", "31/02/2024 12:00")]])
      )
      const dateError = yield* flipStocky(readArchive(badDate, "suppliers"))
      assert.strictEqual(dateError.reason._tag, "Decode")
      if (dateError.reason._tag === "Decode") {
        // Line 1 header, lines 2-3 the quoted multi-line row, line 4 blank, line 5 the bad row.
        assert.strictEqual(dateError.reason.line, 5)
        assert.strictEqual(dateError.reason.field, "updated_at")
      }
    })
  )

  it.effect("refuses to lose data: orphan PO items, ragged rows and unterminated quotes are errors", () =>
    Effect.gen(function* () {
      const files = quirkyFiles()
      files.set(
        "csv/purchase_orders.csv",
        (files.get("csv/purchase_orders.csv") ?? "").replace('"1,200"', "1200")
      )
      files.set(
        "csv/purchase_order_items.csv",
        `${files.get("csv/purchase_order_items.csv")}\n99,4,Y,1,1,1,,,`
      )
      const orphan = yield* flipStocky(readArchive(archiveOf(files), "purchase_orders"))
      expect(orphan.message).toMatch(/purchase_order_items\.csv:5.*no purchase order 99/)

      const ragged = archiveOf(new Map([["tax_types.csv", "id,name\n1,GST,extra\n"]]))
      const raggedError = yield* flipStocky(readArchive(ragged, "tax_types"))
      expect(raggedError.message).toMatch(/tax_types\.csv:2.*3 cells but the header has 2/)

      const open = archiveOf(new Map([["tax_types.csv", 'id,name\n1,"GST\n']]))
      const openError = yield* flipStocky(readArchive(open, "tax_types"))
      expect(openError.message).toMatch(/tax_types\.csv:2.*never closed/)
    })
  )

  it.effect("dead-letter mode keeps loading and records the bad row with file:line and payload", () =>
    Effect.gen(function* () {
      const letters: Array<DeadLetter> = []
      const archive = archiveOf(quirkyFiles())
      const pos = yield* Stream.runCollect(
        readArchive(archive, "purchase_orders", {
          invalidRecords: "dead-letter",
          account: "kyoto-tea.myshopify.com"
        })
      ).pipe(Effect.provide(DeadLetterSink.layerMemoryWith(letters)))
      assert.deepStrictEqual(
        pos.map((p) => p.id),
        [43]
      )
      assert.strictEqual(letters.length, 1)
      assert.strictEqual(letters[0]?.sourceId, "42")
      assert.strictEqual(letters[0]?.origin, "csv/purchase_orders.csv:2")
      assert.deepStrictEqual(letters[0]?.key, {
        source: "stocky",
        account: "kyoto-tea.myshopify.com",
        stream: "purchase_orders"
      })
      expect(letters[0]?.detail).toMatch(/shipping/)
      expect(letters[0]?.payload).toContain('"shipping":"1,200"')
      const refused = yield* flipStocky(readArchive(archive, "suppliers", { invalidRecords: "dead-letter" }))
      expect(refused.message).toMatch(/DeadLetterSink/)
    })
  )

  it.live("streams CSV from a directory, verified against a manifest checksum", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const text = "id,name,tax_rate\n1,GST,10.0\n2,Reduced,8\n"
      yield* Effect.promise(() => fs.writeFile(path.join(dir, "tax_types.csv"), text))
      const { createHash } = yield* Effect.promise(() => import("node:crypto"))
      const sha = createHash("sha256").update(text).digest("hex")
      const manifest = { schema: "stocky-rescue-archive/v1", checksums: { "tax_types.csv": sha } }
      yield* Effect.promise(() => fs.writeFile(path.join(dir, "manifest.json"), JSON.stringify(manifest)))
      const reader: ArchiveReader = directoryReader(dir)
      const rows = yield* Stream.runCollect(readArchive(reader, "tax_types"))
      assert.deepStrictEqual(
        rows.map((r) => r.tax_rate?.toString()),
        ["10.0", "8"]
      )
      yield* Effect.promise(() => fs.writeFile(path.join(dir, "tax_types.csv"), text.replace("8", "9")))
      const error = yield* flipStocky(readArchive(reader, "tax_types"))
      expect(error.message).toMatch(/tax_types\.csv.*sha256/)
    })
  )
})
