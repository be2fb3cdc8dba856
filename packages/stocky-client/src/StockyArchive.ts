/**
 * Reading Stocky history that a merchant exported before the shutdown. Two layouts are read into
 * the same typed records as the live API:
 * - raw API pages: `raw/<resource>/page-0001.json`, each the page body as served (the
 *   stocky-rescue layout, also what `exportArchive` writes);
 * - CSV exports: `suppliers.csv`, `purchase_orders.csv` + `purchase_order_items.csv`,
 *   `stock_adjustments.csv`, `stock_adjustment_items.csv`, `tax_types.csv` (at the root or
 *   under `csv/`).
 * A bad row fails the stream with a `Decode` reason naming file, line (or record index) and field;
 * nothing is skipped silently. When `manifest.json` is present, every file read is checked
 * against its sha256 and every resource against its record count.
 */

import { createHash } from "node:crypto"
import { DeadLetterSink, type StoreError } from "@kura/core"
import { Clock, DateTime, Effect, Option, Schema, Stream } from "effect"
import { ArchiveManifest, manifestChecksums } from "./ArchiveManifest.js"
import type { ArchiveReader } from "./ArchiveStorage.js"
import { CsvParser, type CsvRow } from "./internal/csv.js"
import {
  type CsvObject,
  csvRowToWire,
  normaliseHeader,
  purchaseItemToWire,
  purchaseOrderIdOf
} from "./internal/csvRecords.js"
import { type InvalidRecords, toDeadLetter } from "./internal/deadLetters.js"
import { decodeRecord } from "./internal/decodeRecord.js"
import { Archive, Decode, InvalidConfig, StockyError } from "./StockyError.js"
import { type StockyRecords, type StockyResourceName, StockyResources } from "./StockyResource.js"
import { StockyTimeZone } from "./StockyTimeZone.js"

/** How to read a resource from an archive. */
export interface ReadArchiveOptions {
  /** "auto" (default) prefers raw pages and falls back to CSV. */
  readonly format?: "auto" | "raw" | "csv" | undefined
  /** Check files against the manifest's sha256 and counts when a manifest exists. Default true. */
  readonly verify?: boolean | undefined
  /**
   * IANA zone for offset-less timestamps. Default: the manifest's `time_zone`, else the
   * `StockyTimeZone` in context (UTC unless provided).
   */
  readonly timeZone?: string | undefined
  /**
   * A row that does not decode fails the stream ("fail", default) or is written to the
   * `DeadLetterSink` in context with its payload, field and file:line while the rest loads.
   */
  readonly invalidRecords?: InvalidRecords | undefined
  /** Account name for dead-letter keys. Default: the manifest's `store_name`, else the location. */
  readonly account?: string | undefined
}

/** What an archive holds for one resource. */
export interface ArchiveResourceSummary {
  readonly resource: StockyResourceName
  readonly rawPages: ReadonlyArray<string>
  readonly csvFile: string | null
}

const archiveError = (file: string, detail: string) =>
  new StockyError({ reason: new Archive({ file, detail }) })
const decodeError = (resource: string, source: string, line: number | null, field: string, detail: string) =>
  new StockyError({ reason: new Decode({ resource, source, line, index: null, field, detail }) })

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

/** Reads and decodes `manifest.json`; `None` when the archive has none. */
export const readManifest = (
  reader: ArchiveReader
): Effect.Effect<Option.Option<ArchiveManifest>, StockyError> =>
  Effect.gen(function* () {
    const bytes = yield* reader.read("manifest.json")
    if (bytes === null) return Option.none()
    const json = yield* Effect.try({
      try: () => JSON.parse(new TextDecoder().decode(bytes)) as unknown,
      catch: (e) =>
        archiveError("manifest.json", `not valid JSON: ${e instanceof Error ? e.message : String(e)}`)
    })
    const manifest = yield* Schema.decodeUnknownEffect(ArchiveManifest)(json).pipe(
      Effect.mapError((e) => archiveError("manifest.json", `unexpected shape: ${e.message}`))
    )
    return Option.some(manifest)
  })

const PAGE_FILE = /(?:^|\/)page-(\d+)\.json$/

/** Lists the raw page files of a resource in page order. */
export const rawPageFiles = (
  reader: ArchiveReader,
  resource: StockyResourceName
): Effect.Effect<ReadonlyArray<string>, StockyError> =>
  Effect.map(reader.list(`raw/${resource}`), (paths) =>
    paths
      .flatMap((p) => {
        const m = PAGE_FILE.exec(p)
        return m && p.startsWith(`raw/${resource}/`) ? [{ p, n: Number(m[1]) }] : []
      })
      .sort((a, b) => a.n - b.n)
      .map((x) => x.p)
  )

const CSV_FILE_NAMES: Record<StockyResourceName, ReadonlyArray<string>> = {
  suppliers: ["suppliers.csv"],
  tax_types: ["tax_types.csv"],
  purchase_orders: ["purchase_orders.csv"],
  stock_adjustments: ["stock_adjustments.csv"],
  stock_adjustment_items: ["stock_adjustment_items.csv"],
  stock_transfers: ["stock_transfers.csv"]
}

const findCsv = (all: ReadonlyArray<string>, fileName: string): string | null =>
  all.find((p) => p === fileName) ??
  all.find((p) => p === `csv/${fileName}`) ??
  all.find((p) => p.endsWith(`/${fileName}`) && !p.startsWith("raw/")) ??
  null

/** Lists what the archive holds for every resource. */
export const inspectArchive = (
  reader: ArchiveReader
): Effect.Effect<ReadonlyArray<ArchiveResourceSummary>, StockyError> =>
  Effect.gen(function* () {
    const all = yield* reader.list("")
    const out: Array<ArchiveResourceSummary> = []
    for (const resource of Object.keys(StockyResources) as Array<StockyResourceName>) {
      const rawPages = yield* rawPageFiles(reader, resource)
      const names = CSV_FILE_NAMES[resource]
      let csvFile: string | null = null
      for (const n of names) csvFile ??= findCsv(all, n)
      out.push({ resource, rawPages, csvFile })
    }
    return out
  })

const PageEnvelope = (name: string) =>
  Schema.Union([
    Schema.Struct({ [name]: Schema.Array(Schema.Unknown) }),
    Schema.Array(Schema.Unknown),
    Schema.Struct({ body: Schema.Struct({ [name]: Schema.Array(Schema.Unknown) }) })
  ])

/** The records array of one raw page, whatever envelope the exporter used. */
const pageRecords = (
  resource: StockyResourceName,
  file: string,
  bytes: Uint8Array
): Effect.Effect<ReadonlyArray<unknown>, StockyError> =>
  Effect.gen(function* () {
    const json = yield* Effect.try({
      try: () => JSON.parse(new TextDecoder().decode(bytes)) as unknown,
      catch: (e) => archiveError(file, `not valid JSON: ${e instanceof Error ? e.message : String(e)}`)
    })
    const envelope = yield* Schema.decodeUnknownEffect(PageEnvelope(resource))(json).pipe(
      Effect.mapError(() =>
        archiveError(file, `expected {"${resource}": [...]} (the API page body) or a JSON array of records`)
      )
    )
    if (Array.isArray(envelope)) return envelope
    const direct = Reflect.get(envelope, resource)
    if (Array.isArray(direct)) return direct
    const body = Reflect.get(envelope, "body")
    const nested = body === undefined ? undefined : Reflect.get(Object(body), resource)
    return Array.isArray(nested) ? nested : []
  })

/** What to do with a record that does not decode; undefined = fail the stream. */
type OnInvalid = ((raw: unknown, error: StockyError) => Effect.Effect<void, StoreError>) | undefined

/** Decodes, or hands the failure to `onInvalid` (returning no record). */
const decodeOrDeadLetter = <A>(
  raw: unknown,
  decode: Effect.Effect<A, StockyError>,
  onInvalid: OnInvalid
): Effect.Effect<ReadonlyArray<A>, StockyError | StoreError> =>
  onInvalid === undefined
    ? Effect.map(decode, (r) => [r])
    : Effect.catch(
        Effect.map(decode, (r): ReadonlyArray<A> => [r]),
        (error) => Effect.as(onInvalid(raw, error), [])
      )

const idOf = (record: unknown): number | undefined => {
  const id = Reflect.get(Object(record), "id")
  return typeof id === "number" ? id : undefined
}

const readRaw = <R extends StockyResourceName>(
  reader: ArchiveReader,
  resource: R,
  files: ReadonlyArray<string>,
  checksums: ReadonlyMap<string, string>,
  expectedRecords: number | undefined,
  onInvalid: OnInvalid
): Stream.Stream<StockyRecords[R], StockyError | StoreError> =>
  Stream.suspend(() => {
    const seen = new Set<number>()
    let total = 0
    return Stream.fromIterable(files).pipe(
      Stream.mapEffect((file) =>
        Effect.gen(function* () {
          const bytes = yield* reader.read(file)
          if (bytes === null) return yield* archiveError(file, "listed but cannot be read")
          const expected = checksums.get(file)
          if (expected !== undefined && sha256(bytes) !== expected)
            return yield* archiveError(
              file,
              "sha256 does not match the manifest; the file was changed or truncated"
            )
          const raw = yield* pageRecords(resource, file, bytes)
          total += raw.length
          const out: Array<StockyRecords[R]> = []
          for (let index = 0; index < raw.length; index++) {
            const decoded = yield* decodeOrDeadLetter(
              raw[index],
              decodeRecord(resource, raw[index], { source: file, index }),
              onInvalid
            )
            for (const record of decoded) {
              const id = idOf(record)
              if (id !== undefined) {
                if (seen.has(id)) continue
                seen.add(id)
              }
              out.push(record)
            }
          }
          return out
        })
      ),
      Stream.flattenIterable,
      Stream.concat(
        Stream.fromEffectDrain(
          Effect.suspend(() =>
            expectedRecords !== undefined && expectedRecords !== total
              ? Effect.fail(
                  archiveError(
                    `raw/${resource}`,
                    `the manifest lists ${expectedRecords} records but the pages hold ${total}`
                  )
                )
              : Effect.void
          )
        )
      )
    )
  })

/** Streams the rows of one CSV file as header-keyed objects with their line numbers. */
export const csvObjects = (
  reader: ArchiveReader,
  resource: string,
  file: string,
  checksum: string | undefined
): Stream.Stream<{ readonly line: number; readonly row: CsvObject }, StockyError> =>
  Stream.suspend(() => {
    const parser = new CsvParser()
    const hash = createHash("sha256")
    let header: ReadonlyArray<string> | undefined
    const toObjects = (rows: ReadonlyArray<CsvRow>) =>
      Effect.gen(function* () {
        const out: Array<{ line: number; row: CsvObject }> = []
        for (const r of rows) {
          if (header === undefined) {
            header = r.cells.map(normaliseHeader)
            continue
          }
          if (r.cells.length > header.length)
            return yield* decodeError(
              resource,
              file,
              r.line,
              "",
              `the row has ${r.cells.length} cells but the header has ${header.length}; quote cells that contain commas`
            )
          const row: Record<string, string> = {}
          header.forEach((h, i) => {
            const cell = r.cells[i]
            if (cell !== undefined) row[h] = cell
          })
          out.push({ line: r.line, row })
        }
        if (parser.error)
          return yield* decodeError(
            resource,
            file,
            parser.error.line,
            "",
            `CSV syntax: ${parser.error.detail}`
          )
        return out
      })
    const decoder = new TextDecoder("utf-8")
    return reader.stream(file).pipe(
      Stream.mapEffect((chunk) => {
        hash.update(chunk)
        return toObjects(parser.push(decoder.decode(chunk, { stream: true })))
      }),
      Stream.concat(
        Stream.fromEffect(
          Effect.suspend(() => {
            const rows = parser.push(decoder.decode())
            return toObjects([...rows, ...parser.end()])
          })
        )
      ),
      Stream.flattenIterable,
      Stream.concat(
        Stream.fromEffectDrain(
          Effect.suspend(() => {
            if (header === undefined)
              return Effect.fail(archiveError(file, "empty file: a CSV export starts with a header row"))
            if (checksum !== undefined && hash.digest("hex") !== checksum)
              return Effect.fail(
                archiveError(file, "sha256 does not match the manifest; the file was changed or truncated")
              )
            return Effect.void
          })
        )
      )
    )
  })

const ITEM_FIELD = /^purchase_items\.(\d+)(?:\.(.*))?$/

const readPurchaseOrdersCsv = (
  reader: ArchiveReader,
  poFile: string,
  itemsFile: string | null,
  checksums: ReadonlyMap<string, string>,
  onInvalid: OnInvalid
): Stream.Stream<StockyRecords["purchase_orders"], StockyError | StoreError> =>
  Stream.unwrap(
    Effect.gen(function* () {
      // Items are grouped by PO first: the PO file can then stream, at the cost of holding the
      // items (a few hundred bytes each) in memory.
      const items = new Map<string, Array<{ line: number; wire: Record<string, unknown> }>>()
      if (itemsFile !== null) {
        yield* csvObjects(reader, "purchase_orders", itemsFile, checksums.get(itemsFile)).pipe(
          Stream.runForEach(({ line, row }) => {
            const po = purchaseOrderIdOf(row)?.trim()
            if (po === undefined || !/^\d+$/.test(po))
              return Effect.fail(
                decodeError(
                  "purchase_orders",
                  itemsFile,
                  line,
                  "purchase_order_id",
                  "Expected the id of the item's purchase order (digits)"
                )
              )
            const key = String(Number(po))
            const list = items.get(key) ?? []
            list.push({ line, wire: purchaseItemToWire(row) })
            items.set(key, list)
            return Effect.void
          })
        )
      }
      const used = new Set<string>()
      return csvObjects(reader, "purchase_orders", poFile, checksums.get(poFile)).pipe(
        Stream.mapEffect(({ line, row }) => {
          const idText = (row.id ?? "").trim()
          const key = /^\d+$/.test(idText) ? String(Number(idText)) : idText
          const own = items.get(key) ?? []
          used.add(key)
          const wire = { ...csvRowToWire("purchase_orders", row), purchase_items: own.map((i) => i.wire) }
          const decode = decodeRecord("purchase_orders", wire, { source: poFile, line }).pipe(
            Effect.mapError((e) => {
              if (e.reason._tag !== "Decode" || itemsFile === null) return e
              const m = ITEM_FIELD.exec(e.reason.field)
              const item = m ? own[Number(m[1])] : undefined
              return item === undefined
                ? e
                : decodeError(
                    "purchase_orders",
                    itemsFile,
                    item.line,
                    m?.[2] ?? "",
                    e.reason.detail.replace(/purchase_items\.\d+\./g, "")
                  )
            })
          )
          return decodeOrDeadLetter(wire, decode, onInvalid)
        }),
        Stream.flattenIterable,
        Stream.concat(
          Stream.fromEffectDrain(
            Effect.suspend(() => {
              for (const [po, list] of items) {
                if (!used.has(po) && itemsFile !== null) {
                  const first = list[0]
                  return Effect.fail(
                    decodeError(
                      "purchase_orders",
                      itemsFile,
                      first?.line ?? null,
                      "purchase_order_id",
                      `no purchase order ${po} in ${poFile}; the item would be lost`
                    )
                  )
                }
              }
              return Effect.void
            })
          )
        )
      )
    })
  )

const readCsv = <R extends StockyResourceName>(
  reader: ArchiveReader,
  resource: R,
  file: string,
  checksums: ReadonlyMap<string, string>,
  onInvalid: OnInvalid
): Stream.Stream<StockyRecords[R], StockyError | StoreError> =>
  csvObjects(reader, resource, file, checksums.get(file)).pipe(
    Stream.mapEffect(({ line, row }) => {
      const wire = csvRowToWire(resource, row)
      return decodeOrDeadLetter(wire, decodeRecord(resource, wire, { source: file, line }), onInvalid)
    }),
    Stream.flattenIterable
  )

/**
 * Streams one resource's records from an archive. Missing data is an error, except for
 * `stock_transfers`, which most archives lack (the API stopped exposing them).
 */
export const readArchive = <R extends StockyResourceName>(
  reader: ArchiveReader,
  resource: R,
  options: ReadArchiveOptions = {}
): Stream.Stream<StockyRecords[R], StockyError | StoreError> =>
  Stream.unwrap(
    Effect.gen(function* () {
      const format = options.format ?? "auto"
      const found = yield* readManifest(reader)
      let onInvalid: OnInvalid
      if (options.invalidRecords === "dead-letter") {
        const sink = yield* Effect.serviceOption(DeadLetterSink)
        if (Option.isNone(sink))
          return yield* new StockyError({
            reason: new InvalidConfig({
              field: "invalidRecords",
              detail: '"dead-letter" needs a DeadLetterSink in context; provide one or use "fail"'
            })
          })
        const key = {
          source: "stocky",
          account: options.account ?? Option.getOrUndefined(found)?.store_name ?? reader.location,
          stream: resource
        }
        onInvalid = (raw, error) =>
          Effect.flatMap(Clock.currentTimeMillis, (at) =>
            sink.value.write([toDeadLetter(key, raw, error, at)])
          )
      }
      const manifest = options.verify === false ? Option.none<ArchiveManifest>() : found
      const zoneId = options.timeZone ?? Option.getOrUndefined(found)?.time_zone
      const zone = zoneId === undefined ? Option.none() : DateTime.zoneMakeNamed(zoneId)
      if (zoneId !== undefined && Option.isNone(zone))
        return yield* archiveError(
          options.timeZone === undefined ? "manifest.json" : "",
          `time zone ${JSON.stringify(zoneId)} is not an IANA zone such as "Asia/Tokyo"`
        )
      const inZone = <A, E>(s: Stream.Stream<A, E>): Stream.Stream<A, E> =>
        Option.isSome(zone) ? Stream.provideService(s, StockyTimeZone, zone.value) : s
      const checksums = Option.match(manifest, {
        onNone: () => new Map<string, string>(),
        onSome: manifestChecksums
      })
      const expected = Option.getOrUndefined(manifest)?.resources?.[resource]?.records
      if (format !== "csv") {
        const pages = yield* rawPageFiles(reader, resource)
        if (pages.length > 0) return inZone(readRaw(reader, resource, pages, checksums, expected, onInvalid))
        if (format === "raw" && !StockyResources[resource].optional)
          return yield* archiveError(
            `raw/${resource}`,
            `no page files (expected raw/${resource}/page-0001.json ...)`
          )
      }
      if (format !== "raw") {
        const all = yield* reader.list("")
        const file = findCsv(all, CSV_FILE_NAMES[resource][0] ?? `${resource}.csv`)
        if (file !== null) {
          if (resource === "purchase_orders") {
            const items = findCsv(all, "purchase_order_items.csv")
            return inZone(readPurchaseOrdersCsv(reader, file, items, checksums, onInvalid)) as Stream.Stream<
              StockyRecords[R],
              StockyError | StoreError
            >
          }
          return inZone(readCsv(reader, resource, file, checksums, onInvalid))
        }
      }
      // An archive made by exportArchive from a deployment without transfers records that fact.
      if (StockyResources[resource].optional) return Stream.empty
      return yield* archiveError(
        "",
        `${reader.location} holds no ${resource}: expected raw/${resource}/page-0001.json or ${resource}.csv`
      )
    })
  )
