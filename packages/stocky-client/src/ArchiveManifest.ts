/**
 * The archive manifest (`manifest.json`): what was exported, how many records, and a sha256 per
 * file so an import can prove it read exactly what was written. Read leniently (stocky-rescue's
 * `files` list or a `checksums` map), written in one form.
 */
import { Schema } from "effect"

/** The schema id written into manifests (compatible with stocky-rescue's layout). */
export const ARCHIVE_SCHEMA = "stocky-rescue-archive/v1"

/** One file of the archive. */
export const ArchiveFileEntry = Schema.Struct({
  path: Schema.String,
  sha256: Schema.String,
  bytes: Schema.optionalKey(Schema.Number),
  records: Schema.optionalKey(Schema.Number)
})
/** One file of the archive. */
export type ArchiveFileEntry = typeof ArchiveFileEntry.Type

/** Per-resource totals. `served: false` records that the deployment answered 404 (transfers). */
export const ArchiveResourceEntry = Schema.Struct({
  pages: Schema.Number,
  records: Schema.Number,
  served: Schema.optionalKey(Schema.Boolean)
})
/** Per-resource totals. */
export type ArchiveResourceEntry = typeof ArchiveResourceEntry.Type

/** The manifest as read (only the parts an import checks are required). */
export const ArchiveManifest = Schema.Struct({
  schema: Schema.optionalKey(Schema.String),
  generator: Schema.optionalKey(Schema.String),
  created_at: Schema.optionalKey(Schema.String),
  store_name: Schema.optionalKey(Schema.String),
  time_zone: Schema.optionalKey(Schema.String),
  resources: Schema.optionalKey(Schema.Record(Schema.String, ArchiveResourceEntry)),
  files: Schema.optionalKey(Schema.Array(ArchiveFileEntry)),
  checksums: Schema.optionalKey(Schema.Record(Schema.String, Schema.String))
})
/** The manifest as read. */
export type ArchiveManifest = typeof ArchiveManifest.Type

/** The sha256 the manifest records for each file path. */
export const manifestChecksums = (manifest: ArchiveManifest): ReadonlyMap<string, string> => {
  const out = new Map<string, string>()
  for (const [path, sha] of Object.entries(manifest.checksums ?? {})) out.set(path, sha.toLowerCase())
  for (const f of manifest.files ?? []) out.set(f.path, f.sha256.toLowerCase())
  return out
}
