/**
 * Saves a live Stocky account as an archive in the raw-page layout (`raw/<resource>/page-0001.json`,
 * each file the page body exactly as Stocky sent it) plus `manifest.json` with per-resource counts
 * and a sha256 per file. Run it while the API still answers; `readArchive` reads the result back
 * into the same records.
 */

import { createHash } from "node:crypto"
import { Clock, DateTime, Effect, Stream } from "effect"
import { ARCHIVE_SCHEMA, type ArchiveFileEntry, type ArchiveResourceEntry } from "./ArchiveManifest.js"
import type { ArchiveWriter } from "./ArchiveStorage.js"
import { StockyClient, type StockyClientError } from "./StockyClient.js"
import { STOCKY_RESOURCE_NAMES, type StockyResourceName } from "./StockyResource.js"

/** What to export. */
export interface ExportArchiveOptions {
  /** Resources to export, default all six (transfers are recorded as not served when absent). */
  readonly resources?: ReadonlyArray<StockyResourceName> | undefined
  /** Records per page, 1–250 (default the client's page size). */
  readonly limit?: number | undefined
}

/** The manifest `exportArchive` wrote. */
export interface ExportedManifest {
  readonly schema: string
  readonly generator: string
  readonly created_at: string
  readonly store_name: string
  readonly time_zone: string
  readonly resources: Readonly<Record<string, ArchiveResourceEntry>>
  readonly files: ReadonlyArray<ArchiveFileEntry>
}

const pageFile = (resource: string, page: number) =>
  `raw/${resource}/page-${String(page).padStart(4, "0")}.json`

/** Exports the account behind `StockyClient` into `writer`; returns the manifest it wrote last. */
export const exportArchive = Effect.fn("exportArchive")(function* (
  writer: ArchiveWriter,
  options: ExportArchiveOptions = {}
): Effect.fn.Return<ExportedManifest, StockyClientError, StockyClient> {
  const client = yield* StockyClient
  const encoder = new TextEncoder()
  const files: Array<ArchiveFileEntry> = []
  const resources: Record<string, ArchiveResourceEntry> = {}
  for (const resource of options.resources ?? STOCKY_RESOURCE_NAMES) {
    let pages = 0
    let records = 0
    let served = true
    yield* client.pages(resource, { limit: options.limit }).pipe(
      Stream.runForEach((page) =>
        Effect.gen(function* () {
          if (!page.served) {
            served = false
            return
          }
          pages++
          records += page.rawCount
          const path = pageFile(resource, page.page)
          const bytes = encoder.encode(page.body)
          yield* writer.write(path, bytes)
          files.push({
            path,
            sha256: createHash("sha256").update(bytes).digest("hex"),
            bytes: bytes.length,
            records: page.rawCount
          })
        })
      )
    )
    resources[resource] = served ? { pages, records } : { pages, records, served }
  }
  const now = yield* Clock.currentTimeMillis
  const manifest: ExportedManifest = {
    schema: ARCHIVE_SCHEMA,
    generator: "@kura/stocky-client",
    created_at: DateTime.formatIso(DateTime.makeUnsafe(now)),
    store_name: client.config.storeName,
    time_zone: DateTime.zoneToString(client.config.timeZone),
    resources,
    files
  }
  yield* writer.write("manifest.json", encoder.encode(`${JSON.stringify(manifest, null, 2)}\n`))
  return manifest
})
